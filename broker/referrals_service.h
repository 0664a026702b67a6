#ifndef MIR_BROKER_REFERRALS_SERVICE_H_
#define MIR_BROKER_REFERRALS_SERVICE_H_

#include "broker/metrics.h"
#include "broker/node.h"
#include "broker/work_pool.h"
#include "mir/v1/referrals.grpc.pb.h"

namespace mir::broker {

// mir.v1.Referrals: a node's own staff and partners, authenticated by their
// personal TLS certificate (mir://<this node>/operator|partner/<name>).
// Operators see all of the node's referrals; a partner sees only those
// circulated to it, with the placement fields only. Unary calls run on
// `pool`, off gRPC's few callback threads (broker/work_pool.h). Thread-safe.
class ReferralsService final : public v1::Referrals::CallbackService {
 public:
  // `metrics` times Submit; all three must outlive the service.
  ReferralsService(Node* node, WorkPool* pool, Metrics* metrics)
      : node_(node), pool_(pool), metrics_(metrics) {}

  grpc::ServerUnaryReactor* Prepare(grpc::CallbackServerContext* context,
                                    const v1::PrepareRequest* request,
                                    v1::PrepareResponse* response) override;
  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* context,
                                   const v1::SubmitRequest* request,
                                   v1::SubmitResponse* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context, const v1::GetRequest* request,
                                v1::ReferralView* response) override;
  grpc::ServerUnaryReactor* Circulate(grpc::CallbackServerContext* context,
                                      const v1::CirculateRequest* request,
                                      v1::CirculateResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchEvent>* Watch(grpc::CallbackServerContext* context,
                                                  const v1::WatchRequest* request) override;
  grpc::ServerUnaryReactor* ListDeadLetters(grpc::CallbackServerContext* context,
                                            const v1::ListDeadLettersRequest* request,
                                            v1::ListDeadLettersResponse* response) override;
  grpc::ServerUnaryReactor* Requeue(grpc::CallbackServerContext* context,
                                    const v1::RequeueRequest* request,
                                    v1::RequeueResponse* response) override;
  grpc::ServerUnaryReactor* Erase(grpc::CallbackServerContext* context,
                                  const v1::EraseRequest* request,
                                  v1::EraseResponse* response) override;
  grpc::ServerUnaryReactor* SetLegalHold(grpc::CallbackServerContext* context,
                                         const v1::LegalHoldRequest* request,
                                         v1::LegalHoldResponse* response) override;
  grpc::ServerUnaryReactor* GetNodeStatus(grpc::CallbackServerContext* context,
                                          const v1::NodeStatusRequest* request,
                                          v1::NodeStatus* response) override;
  grpc::ServerUnaryReactor* GetStatistics(grpc::CallbackServerContext* context,
                                          const v1::StatisticsRequest* request,
                                          v1::Statistics* response) override;

 private:
  Node* const node_;
  WorkPool* const pool_;
  Metrics* const metrics_;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_REFERRALS_SERVICE_H_
