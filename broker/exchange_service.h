#ifndef MIR_BROKER_EXCHANGE_SERVICE_H_
#define MIR_BROKER_EXCHANGE_SERVICE_H_

#include "broker/metrics.h"
#include "broker/node.h"
#include "broker/work_pool.h"
#include "mir/v1/exchange.grpc.pb.h"

namespace mir::broker {

// mir.v1.Exchange: node to node. The caller's identity comes from its TLS
// client certificate; everything else is Node::Deliver, run on `pool` so that
// deliveries wait for their commit together (broker/work_pool.h).
//
// Deliver takes the request's raw bytes and parses them itself, so that a
// request that is not a DeliverRequest is refused like any other bad input
// (INVALID_ARGUMENT, MALFORMED_ENVELOPE) instead of with gRPC's bare status.
//
// GetRegistry hands a calling node the signed node registry this node holds
// (PROTOCOL.md §12); only node certificates may call it.
class ExchangeService final
    : public v1::Exchange::WithCallbackMethod_GetRegistry<
          v1::Exchange::WithRawCallbackMethod_Deliver<v1::Exchange::Service>> {
 public:
  // `metrics` counts calls, refusals and peers' certificates; all three
  // must outlive the service.
  ExchangeService(Node* node, WorkPool* pool, Metrics* metrics)
      : node_(node), pool_(pool), metrics_(metrics) {}

  grpc::ServerUnaryReactor* Deliver(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetRegistry(grpc::CallbackServerContext* context,
                                        const v1::GetRegistryRequest* request,
                                        v1::GetRegistryResponse* response) override;

 private:
  Node* const node_;
  WorkPool* const pool_;
  Metrics* const metrics_;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_EXCHANGE_SERVICE_H_
