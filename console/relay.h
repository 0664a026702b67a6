#ifndef MIR_CONSOLE_RELAY_H_
#define MIR_CONSOLE_RELAY_H_

// The console's connection to its broker (docs/CONSOLE-API.md, "Processes"):
// a Referrals stub over mutual TLS as mir://<node>/console that accepts only
// the server mir://<node>/node (common/tls_client.h, as mirctl), and adds the
// signed-in person's proof as metadata mir-console-login-bin to every call,
// so that the broker acts as that person. Refusals come back as absl::Status
// with the broker's ErrorInfo reason. Thread-safe.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls_client.h"
#include "console/config.h"
#include "console/sessions.h"
#include "grpcpp/channel.h"
#include "mir/v1/referrals.grpc.pb.h"
#include "mir/v1/report.grpc.pb.h"
#include "mir/v1/service_request.grpc.pb.h"

namespace mir::console {

// One Watch stream as the person of a session.
class WatchStream {
 public:
  WatchStream(std::unique_ptr<grpc::ClientContext> context,
              std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader);
  ~WatchStream();
  // Blocks for the next event; false when the stream ended.
  bool Read(v1::WatchEvent* event);
  // Ends the stream from any thread; Read returns false soon after.
  void Cancel();
  absl::Status Finish();

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  bool finished_ = false;
};

class Relay {
 public:
  // Reads the CA, the console's certificate and key (PEM files named in
  // `options`) and prepares a channel to options.broker_address. Does not
  // connect yet.
  static absl::StatusOr<std::unique_ptr<Relay>> Create(const ConsoleOptions& options);

  absl::StatusOr<v1::PrepareResponse> Prepare(const Session& s, const v1::PrepareRequest& r);
  absl::StatusOr<v1::SubmitResponse> Submit(const Session& s, const v1::SubmitRequest& r);
  absl::StatusOr<v1::ListResponse> List(const Session& s, const v1::ListRequest& r);
  absl::StatusOr<v1::ReferralView> Get(const Session& s, const v1::GetRequest& r);
  absl::StatusOr<v1::CirculateResponse> Circulate(const Session& s, const v1::CirculateRequest& r);
  absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(const Session& s,
                                                              const v1::ListDeadLettersRequest& r);
  absl::StatusOr<v1::RequeueResponse> Requeue(const Session& s, const v1::RequeueRequest& r);
  absl::StatusOr<v1::NodeStatus> GetNodeStatus(const Session& s, const v1::NodeStatusRequest& r);
  absl::StatusOr<v1::Statistics> GetStatistics(const Session& s, const v1::StatisticsRequest& r);
  // A Watch stream, open once the broker accepted it (its initial metadata
  // arrived); the refusal otherwise.
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const Session& s);

  // Citizen reports (mir.v1.Reports), as the person of the session.
  absl::StatusOr<v1::ReportView> RecordReport(const Session& s, const v1::RecordReportRequest& r);
  absl::StatusOr<v1::ReportView> TriageReport(const Session& s, const v1::TriageReportRequest& r);
  absl::StatusOr<v1::ReportView> LinkReport(const Session& s, const v1::LinkReportRequest& r);
  absl::StatusOr<v1::ListReportsResponse> ListReports(const Session& s,
                                                      const v1::ListReportsRequest& r);
  absl::StatusOr<v1::ReportView> GetReport(const Session& s, const v1::GetReportRequest& r);
  // The public form's calls, as the console itself: no person's proof.
  absl::StatusOr<v1::PublicReportResponse> RecordPublic(const v1::PublicReportRequest& r);
  absl::StatusOr<v1::FollowUpResponse> FollowUp(const v1::FollowUpRequest& r);

  // Service requests and the roster (mir.v1.ServiceRequests), as the person.
  absl::StatusOr<v1::ServiceRequestView> CreateServiceRequest(
      const Session& s, const v1::CreateServiceRequestRequest& r);
  absl::StatusOr<v1::ServiceRequestView> AssignServiceRequest(
      const Session& s, const v1::AssignServiceRequestRequest& r);
  absl::StatusOr<v1::ServiceRequestView> ScheduleServiceRequest(
      const Session& s, const v1::ScheduleServiceRequestRequest& r);
  absl::StatusOr<v1::ServiceRequestView> CompleteServiceRequest(
      const Session& s, const v1::CompleteServiceRequestRequest& r);
  absl::StatusOr<v1::ServiceRequestView> CancelServiceRequest(
      const Session& s, const v1::CancelServiceRequestRequest& r);
  absl::StatusOr<v1::ServiceRequestView> PlaceServiceRequest(
      const Session& s, const v1::PlaceServiceRequestRequest& r);
  absl::StatusOr<v1::ListServiceRequestsResponse> ListServiceRequests(
      const Session& s, const v1::ListServiceRequestsRequest& r);
  absl::StatusOr<v1::ServiceRequestView> GetServiceRequest(const Session& s,
                                                           const v1::GetServiceRequestRequest& r);
  absl::StatusOr<v1::RosterEntry> PutRosterEntry(const Session& s,
                                                 const v1::PutRosterEntryRequest& r);
  absl::StatusOr<v1::ListRosterResponse> ListRoster(const Session& s,
                                                    const v1::ListRosterRequest& r);

 private:
  Relay(std::string address, absl::Duration timeout,
        std::shared_ptr<const ServerIdentityRefusals> refusals,
        std::shared_ptr<grpc::Channel> channel);
  std::unique_ptr<grpc::ClientContext> Context(const Session& s, bool deadline) const;
  absl::Status Error(const grpc::Status& status) const;
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Call(const Session& s, Method method, const Request& request);
  // A Reports call; `s` null: as the console itself.
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> CallReports(const Session* s, Method method, const Request& request);
  // A call on `stub` (Reports or ServiceRequests); `s` null: as the console.
  template <typename Response, typename Stub, typename Request, typename Method>
  absl::StatusOr<Response> CallOn(Stub* stub, const Session* s, Method method,
                                  const Request& request);

  const std::string address_;
  const absl::Duration timeout_;
  const std::shared_ptr<const ServerIdentityRefusals> refusals_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::Referrals::Stub> stub_;
  const std::unique_ptr<v1::Reports::Stub> reports_;
  const std::unique_ptr<v1::ServiceRequests::Stub> services_;
};

}  // namespace mir::console

#endif  // MIR_CONSOLE_RELAY_H_
