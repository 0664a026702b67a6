#include "client/reports_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace mir::client {

absl::StatusOr<std::unique_ptr<ReportsClient>> ReportsClient::Connect(
    const ConnectionOptions& options) {
  ASSIGN_OR_RETURN(NodeChannel node, OpenNodeChannel(options));
  return std::unique_ptr<ReportsClient>(new ReportsClient(options, std::move(node)));
}

ReportsClient::ReportsClient(ConnectionOptions options, NodeChannel node)
    : options_(std::move(options)),
      node_(std::move(node)),
      stub_(v1::Reports::NewStub(node_.channel)) {}

template <typename Response, typename Rpc>
absl::StatusOr<Response> ReportsClient::Call(Rpc rpc, absl::Duration wait, grpc::Status* raw) {
  grpc::ClientContext context;
  // gRPC measures its deadline on the wall clock, whatever options_.clock says.
  context.set_deadline(absl::ToChronoTime(absl::Now() + wait));
  Response response;
  grpc::Status status = rpc(&context, &response);
  if (raw != nullptr) *raw = status;
  if (!status.ok()) return NodeCallError(status, options_, node_, "Reports");
  return response;
}

absl::StatusOr<v1::ReportView> ReportsClient::Record(const v1::RecordReportRequest& request) {
  if (request.report_id().empty()) {
    return absl::InvalidArgumentError("field report_id is required: a UUID made by the client");
  }
  const int attempts = std::max(1, options_.submit_attempts);
  absl::Duration backoff = options_.resend_backoff;
  // The sends share the command's timeout (wall clock, as gRPC's deadlines).
  const absl::Time give_up = absl::Now() + options_.timeout;
  for (int attempt = 1;; ++attempt) {
    grpc::Status raw;
    auto answer = Call<v1::ReportView>(
        [&](grpc::ClientContext* c, v1::ReportView* r) { return stub_->Record(c, request, r); },
        (give_up - absl::Now()) / (attempts - attempt + 1), &raw);
    if (answer.ok() || !AnswerLost(raw)) return answer;
    if (attempt == attempts || absl::Now() + backoff >= give_up) {
      return WithMore(answer.status(),
                      absl::StrCat("; whether the node recorded report ", request.report_id(),
                                   " is unknown: check with 'mirctl report show ",
                                   request.report_id(), "' before recording it again"));
    }
    if (options_.on_resend) {
      options_.on_resend(absl::StrCat("no answer about report ", request.report_id(),
                                      ": sending the same report again (", attempt + 1, " of ",
                                      attempts, ")"));
    }
    absl::SleepFor(backoff);
    backoff *= 2;
  }
}

namespace {
// A change sent once whose answer was lost: say how to find out.
absl::StatusOr<v1::ReportView> IfLost(absl::StatusOr<v1::ReportView> answer,
                                      const grpc::Status& raw, absl::string_view done,
                                      const std::string& report_id) {
  if (answer.ok() || !AnswerLost(raw)) return answer;
  return WithMore(answer.status(),
                  absl::StrCat("; whether the node ", done, " report ", report_id,
                               " is unknown: check with 'mirctl report show ", report_id, "'"));
}
}  // namespace

absl::StatusOr<v1::ReportView> ReportsClient::Triage(const v1::TriageReportRequest& request) {
  grpc::Status raw;
  auto answer = Call<v1::ReportView>(
      [&](grpc::ClientContext* c, v1::ReportView* r) { return stub_->Triage(c, request, r); },
      options_.timeout, &raw);
  return IfLost(std::move(answer), raw, "triaged", request.report_id());
}

absl::StatusOr<v1::ReportView> ReportsClient::Link(const v1::LinkReportRequest& request) {
  grpc::Status raw;
  auto answer = Call<v1::ReportView>(
      [&](grpc::ClientContext* c, v1::ReportView* r) { return stub_->Link(c, request, r); },
      options_.timeout, &raw);
  return IfLost(std::move(answer), raw, "linked", request.report_id());
}

absl::StatusOr<v1::ListReportsResponse> ReportsClient::List(const v1::ListReportsRequest& request) {
  return Call<v1::ListReportsResponse>(
      [&](grpc::ClientContext* c, v1::ListReportsResponse* r) {
        return stub_->List(c, request, r);
      },
      options_.timeout);
}

absl::StatusOr<v1::ReportView> ReportsClient::Get(const v1::GetReportRequest& request) {
  return Call<v1::ReportView>(
      [&](grpc::ClientContext* c, v1::ReportView* r) { return stub_->Get(c, request, r); },
      options_.timeout);
}

}  // namespace mir::client
