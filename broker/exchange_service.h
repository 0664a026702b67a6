#ifndef MIR_BROKER_EXCHANGE_SERVICE_H_
#define MIR_BROKER_EXCHANGE_SERVICE_H_

#include <functional>

#include "broker/metrics.h"
#include "broker/node.h"
#include "broker/work_pool.h"
#include "mir/v1/exchange.grpc.pb.h"

namespace mir::broker {

// mir.v1.Exchange: node to node. The caller's identity comes from its TLS
// client certificate; everything else is Node::Deliver, run on `pool` so that
// deliveries wait for their commit together (broker/work_pool.h).
//
// Deliver and DeliverBatch take the request's raw bytes and parse them
// themselves, so that a request that does not parse is refused like any other
// bad input (INVALID_ARGUMENT, MALFORMED_ENVELOPE) instead of with gRPC's
// bare status. DeliverBatch is Node::DeliverBatch (PROTOCOL.md §6.2.1); a
// node built with `serve_delivery_batches` off answers it UNIMPLEMENTED, as
// a node from before it does.
//
// GetRegistry hands a calling node the signed node registry this node holds
// (PROTOCOL.md §12); only node certificates may call it.
class ExchangeService final
    : public v1::Exchange::WithCallbackMethod_GetRegistry<
          v1::Exchange::WithRawCallbackMethod_DeliverBatch<
              v1::Exchange::WithRawCallbackMethod_Deliver<v1::Exchange::Service>>> {
 public:
  // `metrics` counts calls, refusals and peers' certificates; all three
  // must outlive the service.
  ExchangeService(Node* node, WorkPool* pool, Metrics* metrics)
      : node_(node), pool_(pool), metrics_(metrics) {}

  grpc::ServerUnaryReactor* Deliver(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeliverBatch(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetRegistry(grpc::CallbackServerContext* context,
                                        const v1::GetRegistryRequest* request,
                                        v1::GetRegistryResponse* response) override;

 private:
  // Runs `work` for the calling node on the pool: its refusal counted, its
  // time observed, the call finished; NODE_BUSY when the pool is full.
  grpc::ServerUnaryReactor* OnPool(grpc::CallbackServerContext& context,
                                   std::function<absl::Status(const Identity&)> work);

  Node* const node_;
  WorkPool* const pool_;
  Metrics* const metrics_;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_EXCHANGE_SERVICE_H_
