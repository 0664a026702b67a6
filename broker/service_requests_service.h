#ifndef MIR_BROKER_SERVICE_REQUESTS_SERVICE_H_
#define MIR_BROKER_SERVICE_REQUESTS_SERVICE_H_

#include "broker/node.h"
#include "broker/work_pool.h"
#include "mir/v1/service_request.grpc.pb.h"

namespace mir::broker {

// mir.v1.ServiceRequests (PROTOCOL.md §15): mediator and identification
// interview requests, and this node's roster. The node's operators
// (directly, or through the console as the person signed in) make, step,
// list and read them, and keep the roster. Unary calls run on `pool`.
// Thread-safe.
class ServiceRequestsService final : public v1::ServiceRequests::CallbackService {
 public:
  // Both must outlive the service.
  ServiceRequestsService(Node* node, WorkPool* pool) : node_(node), pool_(pool) {}

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* context,
                                   const v1::CreateServiceRequestRequest* request,
                                   v1::ServiceRequestView* response) override;
  grpc::ServerUnaryReactor* Assign(grpc::CallbackServerContext* context,
                                   const v1::AssignServiceRequestRequest* request,
                                   v1::ServiceRequestView* response) override;
  grpc::ServerUnaryReactor* Schedule(grpc::CallbackServerContext* context,
                                     const v1::ScheduleServiceRequestRequest* request,
                                     v1::ServiceRequestView* response) override;
  grpc::ServerUnaryReactor* Complete(grpc::CallbackServerContext* context,
                                     const v1::CompleteServiceRequestRequest* request,
                                     v1::ServiceRequestView* response) override;
  grpc::ServerUnaryReactor* Place(grpc::CallbackServerContext* context,
                                  const v1::PlaceServiceRequestRequest* request,
                                  v1::ServiceRequestView* response) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const v1::CancelServiceRequestRequest* request,
                                   v1::ServiceRequestView* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListServiceRequestsRequest* request,
                                 v1::ListServiceRequestsResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetServiceRequestRequest* request,
                                v1::ServiceRequestView* response) override;
  grpc::ServerUnaryReactor* PutRosterEntry(grpc::CallbackServerContext* context,
                                           const v1::PutRosterEntryRequest* request,
                                           v1::RosterEntry* response) override;
  grpc::ServerUnaryReactor* ListRoster(grpc::CallbackServerContext* context,
                                       const v1::ListRosterRequest* request,
                                       v1::ListRosterResponse* response) override;

 private:
  Node* const node_;
  WorkPool* const pool_;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_SERVICE_REQUESTS_SERVICE_H_
