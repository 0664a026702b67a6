#ifndef MIR_BROKER_SERVICE_CALLS_H_
#define MIR_BROKER_SERVICE_CALLS_H_

// What every staff-facing service (Referrals, Reports) does with a call:
// who it acts for, checking ids from outside, and running it off gRPC's
// callback threads. Thread-safe.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "broker/authorization.h"
#include "broker/node.h"
#include "broker/work_pool.h"
#include "crypto/identity.h"

namespace mir::broker {

// Who a call acts for, and until when: the TLS peer, or for this node's
// console the person its sign-in proof names (PROTOCOL.md §13), never the
// console itself.
struct Acting {
  Identity identity;
  absl::Time until = absl::InfiniteFuture();
  std::string certificate;  // through a console: the person's, DER
};

// The acting identity of the call, if it may take `action` here
// (broker/authorization.h).
absl::StatusOr<Acting> ActingFor(const grpc::CallbackServerContext& context, const Node& node,
                                 Action action);

// The caller (the TLS peer, or the person a console acts for), if it may
// take `action` here.
absl::StatusOr<Identity> Caller(const grpc::CallbackServerContext& context, const Node& node,
                                Action action);

// Ids arrive from outside: checked before they reach a query, a message or
// a log line (PROTOCOL.md: lowercase canonical UUIDs only).
absl::Status CheckId(absl::string_view field, const std::string& id);

// Runs `body` on `pool` and finishes the unary call with its status. The
// body may use the call's context, request and response: they stay valid
// until Finish.
grpc::ServerUnaryReactor* Respond(WorkPool& pool, grpc::CallbackServerContext* context,
                                  std::function<absl::Status()> body);

}  // namespace mir::broker

#endif  // MIR_BROKER_SERVICE_CALLS_H_
