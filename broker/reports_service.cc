#include "broker/reports_service.h"

#include "broker/service_calls.h"
#include "broker/tls.h"
#include "common/status_macros.h"

namespace mir::broker {
namespace {

// The public form's calls: the node's console by itself (authorization.h,
// kPublicReport), carrying no person's sign-in proof.
absl::Status CheckPublicCaller(const grpc::CallbackServerContext& context, const Node& node) {
  ASSIGN_OR_RETURN(Identity peer, PeerIdentity(context));
  return node.authorization().Check(peer, Action::kPublicReport);
}

}  // namespace

grpc::ServerUnaryReactor* ReportsService::Record(grpc::CallbackServerContext* context,
                                                 const v1::RecordReportRequest* request,
                                                 v1::ReportView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kReports));
    ASSIGN_OR_RETURN(*response, node_->RecordReport(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReportsService::Triage(grpc::CallbackServerContext* context,
                                                 const v1::TriageReportRequest* request,
                                                 v1::ReportView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kReports));
    ASSIGN_OR_RETURN(*response, node_->TriageReport(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReportsService::Link(grpc::CallbackServerContext* context,
                                               const v1::LinkReportRequest* request,
                                               v1::ReportView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kReports));
    ASSIGN_OR_RETURN(*response, node_->LinkReport(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReportsService::List(grpc::CallbackServerContext* context,
                                               const v1::ListReportsRequest* request,
                                               v1::ListReportsResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    RETURN_IF_ERROR(Caller(*context, *node_, Action::kReports).status());
    ASSIGN_OR_RETURN(*response, node_->ListReports(*request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReportsService::Get(grpc::CallbackServerContext* context,
                                              const v1::GetReportRequest* request,
                                              v1::ReportView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kReports));
    ASSIGN_OR_RETURN(*response, node_->GetReport(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReportsService::RecordPublic(grpc::CallbackServerContext* context,
                                                       const v1::PublicReportRequest* request,
                                                       v1::PublicReportResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    RETURN_IF_ERROR(CheckPublicCaller(*context, *node_));
    ASSIGN_OR_RETURN(*response, node_->RecordPublicReport(*request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReportsService::FollowUp(grpc::CallbackServerContext* context,
                                                   const v1::FollowUpRequest* request,
                                                   v1::FollowUpResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    RETURN_IF_ERROR(CheckPublicCaller(*context, *node_));
    ASSIGN_OR_RETURN(*response, node_->FollowUpReport(*request));
    return absl::OkStatus();
  });
}

}  // namespace mir::broker
