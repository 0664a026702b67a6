#include "broker/exchange_service.h"

#include "broker/tls.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "grpcpp/support/byte_buffer.h"

namespace mir::broker {

namespace {

// DeliverRequest from the call's bytes, or MALFORMED_ENVELOPE.
absl::StatusOr<v1::DeliverRequest> ParseRequest(const grpc::ByteBuffer& bytes) {
  std::vector<grpc::Slice> slices;
  v1::DeliverRequest request;
  if (bytes.Dump(&slices).ok()) {
    std::string joined;
    joined.reserve(bytes.Length());
    for (const grpc::Slice& slice : slices) {
      joined.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    if (request.ParseFromString(joined)) return request;
  }
  return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                  "the request does not parse as a DeliverRequest");
}

}  // namespace

grpc::ServerUnaryReactor* ExchangeService::Deliver(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto peer = PeerIdentity(*context);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  // request and response stay valid until Finish.
  const bool accepted = pool_->Post([this, reactor, peer = *std::move(peer), request, response] {
    auto parsed = ParseRequest(*request);
    if (!parsed.ok()) {
      reactor->Finish(ToGrpcStatus(parsed.status()));
      return;
    }
    auto receipt = node_->Deliver(peer, parsed->envelope());
    if (!receipt.ok()) {
      reactor->Finish(ToGrpcStatus(receipt.status()));
      return;
    }
    v1::DeliverResponse answer;
    answer.set_receipt(*std::move(receipt));
    grpc::Slice slice(answer.SerializeAsString());
    *response = grpc::ByteBuffer(&slice, 1);
    reactor->Finish(grpc::Status::OK);
  });
  if (!accepted) reactor->Finish(ToGrpcStatus(NodeBusy()));
  return reactor;
}

}  // namespace mir::broker
