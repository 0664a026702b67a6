#include "broker/exchange_service.h"

#include "broker/tls.h"
#include "common/grpc_status.h"

namespace mir::broker {

grpc::ServerUnaryReactor* ExchangeService::Deliver(grpc::CallbackServerContext* context,
                                                   const v1::DeliverRequest* request,
                                                   v1::DeliverResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto peer = PeerIdentity(*context);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  // request and response stay valid until Finish.
  pool_->Post([this, reactor, peer = *std::move(peer), request, response] {
    auto receipt = node_->Deliver(peer, request->envelope());
    if (!receipt.ok()) {
      reactor->Finish(ToGrpcStatus(receipt.status()));
      return;
    }
    response->set_receipt(*std::move(receipt));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace mir::broker
