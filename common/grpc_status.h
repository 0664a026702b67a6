#ifndef MIR_COMMON_GRPC_STATUS_H_
#define MIR_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace mir {

// The one mapping between absl::Status and grpc::Status, used at every RPC
// edge. The reason from MirError travels as google.rpc.ErrorInfo
// (domain kErrorDomain) inside google.rpc.Status in the status details, so
// any gRPC client can read it.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The inverse, for clients: keeps the code, message and ErrorInfo reason.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace mir

#endif  // MIR_COMMON_GRPC_STATUS_H_
