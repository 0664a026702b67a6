#ifndef MIR_BROKER_REPORTS_SERVICE_H_
#define MIR_BROKER_REPORTS_SERVICE_H_

#include "broker/node.h"
#include "broker/work_pool.h"
#include "mir/v1/report.grpc.pb.h"

namespace mir::broker {

// mir.v1.Reports (PROTOCOL.md §14): citizen reports. The node's operators
// (directly, or through the console as the person signed in) record,
// triage, link, list and read them; the node's console by itself, for the
// public form it serves, records a public report and answers a follow-up.
// Unary calls run on `pool`. Thread-safe.
class ReportsService final : public v1::Reports::CallbackService {
 public:
  // Both must outlive the service.
  ReportsService(Node* node, WorkPool* pool) : node_(node), pool_(pool) {}

  grpc::ServerUnaryReactor* Record(grpc::CallbackServerContext* context,
                                   const v1::RecordReportRequest* request,
                                   v1::ReportView* response) override;
  grpc::ServerUnaryReactor* Triage(grpc::CallbackServerContext* context,
                                   const v1::TriageReportRequest* request,
                                   v1::ReportView* response) override;
  grpc::ServerUnaryReactor* Link(grpc::CallbackServerContext* context,
                                 const v1::LinkReportRequest* request,
                                 v1::ReportView* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListReportsRequest* request,
                                 v1::ListReportsResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetReportRequest* request,
                                v1::ReportView* response) override;
  grpc::ServerUnaryReactor* RecordPublic(grpc::CallbackServerContext* context,
                                         const v1::PublicReportRequest* request,
                                         v1::PublicReportResponse* response) override;
  grpc::ServerUnaryReactor* FollowUp(grpc::CallbackServerContext* context,
                                     const v1::FollowUpRequest* request,
                                     v1::FollowUpResponse* response) override;

 private:
  Node* const node_;
  WorkPool* const pool_;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_REPORTS_SERVICE_H_
