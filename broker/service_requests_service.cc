#include "broker/service_requests_service.h"

#include "broker/service_calls.h"
#include "common/status_macros.h"

namespace mir::broker {

grpc::ServerUnaryReactor* ServiceRequestsService::Create(
    grpc::CallbackServerContext* context, const v1::CreateServiceRequestRequest* request,
    v1::ServiceRequestView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kServiceRequests));
    ASSIGN_OR_RETURN(*response, node_->CreateServiceRequest(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ServiceRequestsService::Assign(
    grpc::CallbackServerContext* context, const v1::AssignServiceRequestRequest* request,
    v1::ServiceRequestView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kServiceRequests));
    ASSIGN_OR_RETURN(*response, node_->AssignServiceRequest(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ServiceRequestsService::Schedule(
    grpc::CallbackServerContext* context, const v1::ScheduleServiceRequestRequest* request,
    v1::ServiceRequestView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kServiceRequests));
    ASSIGN_OR_RETURN(*response, node_->ScheduleServiceRequest(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ServiceRequestsService::Complete(
    grpc::CallbackServerContext* context, const v1::CompleteServiceRequestRequest* request,
    v1::ServiceRequestView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kServiceRequests));
    ASSIGN_OR_RETURN(*response, node_->CompleteServiceRequest(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ServiceRequestsService::Cancel(
    grpc::CallbackServerContext* context, const v1::CancelServiceRequestRequest* request,
    v1::ServiceRequestView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kServiceRequests));
    ASSIGN_OR_RETURN(*response, node_->CancelServiceRequest(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ServiceRequestsService::Place(
    grpc::CallbackServerContext* context, const v1::PlaceServiceRequestRequest* request,
    v1::ServiceRequestView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kServiceRequests));
    ASSIGN_OR_RETURN(*response, node_->PlaceServiceRequest(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ServiceRequestsService::List(
    grpc::CallbackServerContext* context, const v1::ListServiceRequestsRequest* request,
    v1::ListServiceRequestsResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    RETURN_IF_ERROR(Caller(*context, *node_, Action::kServiceRequests).status());
    ASSIGN_OR_RETURN(*response, node_->ListServiceRequests(*request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ServiceRequestsService::Get(grpc::CallbackServerContext* context,
                                                      const v1::GetServiceRequestRequest* request,
                                                      v1::ServiceRequestView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    RETURN_IF_ERROR(Caller(*context, *node_, Action::kServiceRequests).status());
    ASSIGN_OR_RETURN(*response, node_->GetServiceRequest(*request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ServiceRequestsService::PutRosterEntry(
    grpc::CallbackServerContext* context, const v1::PutRosterEntryRequest* request,
    v1::RosterEntry* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kServiceRequests));
    ASSIGN_OR_RETURN(*response, node_->PutRosterEntry(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ServiceRequestsService::ListRoster(
    grpc::CallbackServerContext* context, const v1::ListRosterRequest* /*request*/,
    v1::ListRosterResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    RETURN_IF_ERROR(Caller(*context, *node_, Action::kServiceRequests).status());
    ASSIGN_OR_RETURN(*response, node_->ListRoster());
    return absl::OkStatus();
  });
}

}  // namespace mir::broker
