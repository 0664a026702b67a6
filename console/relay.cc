#include "console/relay.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "crypto/console_login.h"
#include "crypto/identity.h"
#include "grpcpp/create_channel.h"

namespace mir::console {

WatchStream::WatchStream(std::unique_ptr<grpc::ClientContext> context,
                         std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader)
    : context_(std::move(context)), reader_(std::move(reader)) {}

WatchStream::~WatchStream() {
  if (!finished_) {
    context_->TryCancel();
    reader_->Finish().ok();
  }
}

bool WatchStream::Read(v1::WatchEvent* event) { return reader_->Read(event); }

void WatchStream::Cancel() { context_->TryCancel(); }

absl::Status WatchStream::Finish() {
  finished_ = true;
  return FromGrpcStatus(reader_->Finish());
}

absl::StatusOr<std::unique_ptr<Relay>> Relay::Create(const ConsoleOptions& options) {
  auto ca = ReadFile(options.ca_certificate);
  if (!ca.ok()) return absl::FailedPreconditionError("cannot read caCertificate");
  auto cert = ReadFile(options.certificate);
  if (!cert.ok()) return absl::FailedPreconditionError("cannot read console.certificate");
  auto key = ReadFile(options.key);
  if (!key.ok()) return absl::FailedPreconditionError("cannot read console.key");
  const std::string server = Identity{options.node_id, Role::kNode, ""}.Uri();
  ClientTls tls = MutualTlsClient(*ca, *cert, *key, server);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(options.broker_address, tls.credentials, args);
  return std::unique_ptr<Relay>(new Relay(options.broker_address, options.rpc_timeout,
                                          std::move(tls.refusals), std::move(channel)));
}

Relay::Relay(std::string address, absl::Duration timeout,
             std::shared_ptr<const ServerIdentityRefusals> refusals,
             std::shared_ptr<grpc::Channel> channel)
    : address_(std::move(address)),
      timeout_(timeout),
      refusals_(std::move(refusals)),
      channel_(std::move(channel)),
      stub_(v1::Referrals::NewStub(channel_)),
      reports_(v1::Reports::NewStub(channel_)),
      services_(v1::ServiceRequests::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Relay::Context(const Session& s, bool deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (deadline) context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  context->AddMetadata(std::string(kConsoleLoginMetadata), s.proof);
  return context;
}

absl::Status Relay::Error(const grpc::Status& status) const {
  const absl::Status from_node = FromGrpcStatus(status);
  if (ReasonOf(from_node) != v1::ERROR_REASON_UNSPECIFIED) return from_node;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (refusals_ != nullptr && refusals_->Count() > 0) {
        return absl::UnavailableError(
            absl::StrCat("the server at ", address_, " is not this console's node"));
      }
      return absl::UnavailableError("the node does not answer: is mir-broker running?");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError("the node did not answer in time");
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::UnimplementedError("the node does not offer this call: is it up to date?");
    default:
      return from_node;
  }
}

template <typename Response, typename Request, typename Method>
absl::StatusOr<Response> Relay::Call(const Session& s, Method method, const Request& request) {
  auto context = Context(s, /*deadline=*/true);
  Response response;
  grpc::Status status = (stub_.get()->*method)(context.get(), request, &response);
  if (!status.ok()) return Error(status);
  return response;
}

template <typename Response, typename Stub, typename Request, typename Method>
absl::StatusOr<Response> Relay::CallOn(Stub* stub, const Session* s, Method method,
                                       const Request& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  if (s != nullptr) context.AddMetadata(std::string(kConsoleLoginMetadata), s->proof);
  Response response;
  grpc::Status status = (stub->*method)(&context, request, &response);
  if (!status.ok()) return Error(status);
  return response;
}

template <typename Response, typename Request, typename Method>
absl::StatusOr<Response> Relay::CallReports(const Session* s, Method method,
                                            const Request& request) {
  return CallOn<Response>(reports_.get(), s, method, request);
}

absl::StatusOr<v1::ServiceRequestView> Relay::CreateServiceRequest(
    const Session& s, const v1::CreateServiceRequestRequest& r) {
  return CallOn<v1::ServiceRequestView>(services_.get(), &s, &v1::ServiceRequests::Stub::Create, r);
}
absl::StatusOr<v1::ServiceRequestView> Relay::AssignServiceRequest(
    const Session& s, const v1::AssignServiceRequestRequest& r) {
  return CallOn<v1::ServiceRequestView>(services_.get(), &s, &v1::ServiceRequests::Stub::Assign, r);
}
absl::StatusOr<v1::ServiceRequestView> Relay::ScheduleServiceRequest(
    const Session& s, const v1::ScheduleServiceRequestRequest& r) {
  return CallOn<v1::ServiceRequestView>(services_.get(), &s, &v1::ServiceRequests::Stub::Schedule,
                                        r);
}
absl::StatusOr<v1::ServiceRequestView> Relay::CompleteServiceRequest(
    const Session& s, const v1::CompleteServiceRequestRequest& r) {
  return CallOn<v1::ServiceRequestView>(services_.get(), &s, &v1::ServiceRequests::Stub::Complete,
                                        r);
}
absl::StatusOr<v1::ServiceRequestView> Relay::CancelServiceRequest(
    const Session& s, const v1::CancelServiceRequestRequest& r) {
  return CallOn<v1::ServiceRequestView>(services_.get(), &s, &v1::ServiceRequests::Stub::Cancel, r);
}
absl::StatusOr<v1::ServiceRequestView> Relay::PlaceServiceRequest(
    const Session& s, const v1::PlaceServiceRequestRequest& r) {
  return CallOn<v1::ServiceRequestView>(services_.get(), &s, &v1::ServiceRequests::Stub::Place, r);
}
absl::StatusOr<v1::ListServiceRequestsResponse> Relay::ListServiceRequests(
    const Session& s, const v1::ListServiceRequestsRequest& r) {
  return CallOn<v1::ListServiceRequestsResponse>(services_.get(), &s,
                                                 &v1::ServiceRequests::Stub::List, r);
}
absl::StatusOr<v1::ServiceRequestView> Relay::GetServiceRequest(
    const Session& s, const v1::GetServiceRequestRequest& r) {
  return CallOn<v1::ServiceRequestView>(services_.get(), &s, &v1::ServiceRequests::Stub::Get, r);
}
absl::StatusOr<v1::RosterEntry> Relay::PutRosterEntry(const Session& s,
                                                      const v1::PutRosterEntryRequest& r) {
  return CallOn<v1::RosterEntry>(services_.get(), &s, &v1::ServiceRequests::Stub::PutRosterEntry,
                                 r);
}
absl::StatusOr<v1::ListRosterResponse> Relay::ListRoster(const Session& s,
                                                         const v1::ListRosterRequest& r) {
  return CallOn<v1::ListRosterResponse>(services_.get(), &s, &v1::ServiceRequests::Stub::ListRoster,
                                        r);
}

absl::StatusOr<v1::ReportView> Relay::RecordReport(const Session& s,
                                                   const v1::RecordReportRequest& r) {
  return CallReports<v1::ReportView>(&s, &v1::Reports::Stub::Record, r);
}
absl::StatusOr<v1::ReportView> Relay::TriageReport(const Session& s,
                                                   const v1::TriageReportRequest& r) {
  return CallReports<v1::ReportView>(&s, &v1::Reports::Stub::Triage, r);
}
absl::StatusOr<v1::ReportView> Relay::LinkReport(const Session& s, const v1::LinkReportRequest& r) {
  return CallReports<v1::ReportView>(&s, &v1::Reports::Stub::Link, r);
}
absl::StatusOr<v1::ListReportsResponse> Relay::ListReports(const Session& s,
                                                           const v1::ListReportsRequest& r) {
  return CallReports<v1::ListReportsResponse>(&s, &v1::Reports::Stub::List, r);
}
absl::StatusOr<v1::ReportView> Relay::GetReport(const Session& s, const v1::GetReportRequest& r) {
  return CallReports<v1::ReportView>(&s, &v1::Reports::Stub::Get, r);
}
absl::StatusOr<v1::PublicReportResponse> Relay::RecordPublic(const v1::PublicReportRequest& r) {
  return CallReports<v1::PublicReportResponse>(nullptr, &v1::Reports::Stub::RecordPublic, r);
}
absl::StatusOr<v1::FollowUpResponse> Relay::FollowUp(const v1::FollowUpRequest& r) {
  return CallReports<v1::FollowUpResponse>(nullptr, &v1::Reports::Stub::FollowUp, r);
}

absl::StatusOr<v1::PrepareResponse> Relay::Prepare(const Session& s, const v1::PrepareRequest& r) {
  return Call<v1::PrepareResponse>(s, &v1::Referrals::Stub::Prepare, r);
}
absl::StatusOr<v1::SubmitResponse> Relay::Submit(const Session& s, const v1::SubmitRequest& r) {
  return Call<v1::SubmitResponse>(s, &v1::Referrals::Stub::Submit, r);
}
absl::StatusOr<v1::ListResponse> Relay::List(const Session& s, const v1::ListRequest& r) {
  return Call<v1::ListResponse>(s, &v1::Referrals::Stub::List, r);
}
absl::StatusOr<v1::ReferralView> Relay::Get(const Session& s, const v1::GetRequest& r) {
  return Call<v1::ReferralView>(s, &v1::Referrals::Stub::Get, r);
}
absl::StatusOr<v1::CirculateResponse> Relay::Circulate(const Session& s,
                                                       const v1::CirculateRequest& r) {
  return Call<v1::CirculateResponse>(s, &v1::Referrals::Stub::Circulate, r);
}
absl::StatusOr<v1::ListDeadLettersResponse> Relay::ListDeadLetters(
    const Session& s, const v1::ListDeadLettersRequest& r) {
  return Call<v1::ListDeadLettersResponse>(s, &v1::Referrals::Stub::ListDeadLetters, r);
}
absl::StatusOr<v1::RequeueResponse> Relay::Requeue(const Session& s, const v1::RequeueRequest& r) {
  return Call<v1::RequeueResponse>(s, &v1::Referrals::Stub::Requeue, r);
}
absl::StatusOr<v1::NodeStatus> Relay::GetNodeStatus(const Session& s,
                                                    const v1::NodeStatusRequest& r) {
  return Call<v1::NodeStatus>(s, &v1::Referrals::Stub::GetNodeStatus, r);
}

absl::StatusOr<v1::Statistics> Relay::GetStatistics(const Session& s,
                                                    const v1::StatisticsRequest& r) {
  return Call<v1::Statistics>(s, &v1::Referrals::Stub::GetStatistics, r);
}

absl::StatusOr<std::unique_ptr<WatchStream>> Relay::Watch(const Session& s) {
  auto context = Context(s, /*deadline=*/false);
  v1::WatchRequest request;
  auto reader = stub_->Watch(context.get(), request);
  // The node sends its initial metadata once the subscription is in place; a
  // refusal ends the stream at once.
  reader->WaitForInitialMetadata();
  auto stream = std::make_unique<WatchStream>(std::move(context), std::move(reader));
  return stream;
}

}  // namespace mir::console
