// ConsoleService's citizen-report calls (docs/CONSOLE-API.md, "Citizen
// reports"): the staff's, relayed as the person, and the public form's, as
// the console itself.

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "console/errors.h"
#include "console/json.h"
#include "console/list_filters.h"
#include "console/reports.h"
#include "console/service.h"
#include "crypto/envelope_bytes.h"

namespace mir::console {
namespace {

// A node's refusal naming a field keeps the field for the page.
absl::Status WithReportField(absl::Status status) {
  if (!FieldOf(status).empty()) return status;
  const std::string field = ReportFieldOf(status);
  return field.empty() ? status : WithField(std::move(status), field);
}

}  // namespace

absl::StatusOr<std::string> ConsoleService::ListReports(
    const Session& session, const std::multimap<std::string, std::string>& query) {
  v1::ListReportsRequest request;
  RETURN_IF_ERROR(ReadListFilters<v1::ReportState>(query, "REPORT_", request));
  auto listed = relay_->ListReports(session, request);
  if (!listed.ok()) return Relayed(session, listed.status());
  return ToJson(*listed);
}

absl::StatusOr<std::string> ConsoleService::RecordReport(const Session& session,
                                                         absl::string_view body) {
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string id, MemberString(object, "reportId"));
  ASSIGN_OR_RETURN(std::string json, MemberJson(object, "report"));
  if (json.empty()) return BadField("report", "is required");
  v1::RecordReportRequest request;
  RETURN_IF_ERROR(FromJson(json, request.mutable_report(), "report"));
  // The page chooses the id, so that sending again after a lost answer
  // records the report once; without one the console chooses.
  if (id.empty()) id = NewUuid();
  if (!IsCanonicalUuid(id)) return BadField("reportId", "must be a lowercase UUID");
  request.set_report_id(id);
  RETURN_IF_ERROR(ValidateReport(request.report()));
  auto recorded = relay_->RecordReport(session, request);
  if (!recorded.ok()) return WithReportField(Relayed(session, recorded.status()));
  MIR_LOG(INFO) << "console report " << id << " recorded by " << session.person.Uri();
  return ToJson(*recorded);
}

absl::StatusOr<std::string> ConsoleService::GetReport(const Session& session, const std::string& id,
                                                      bool include_contact) {
  v1::GetReportRequest request;
  request.set_report_id(id);
  request.set_include_contact(include_contact);
  auto view = relay_->GetReport(session, request);
  if (!view.ok()) return Relayed(session, view.status());
  if (include_contact) {
    MIR_LOG(INFO) << "console: contact of report " << id << " shown to " << session.person.Uri();
  }
  return ToJson(*view);
}

absl::StatusOr<std::string> ConsoleService::TriageReport(const Session& session,
                                                         const std::string& id,
                                                         absl::string_view body) {
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string triage, MemberString(object, "triage"));
  ASSIGN_OR_RETURN(std::string route_to, MemberString(object, "routeTo"));
  v1::TriageReportRequest request;
  request.set_report_id(id);
  v1::Triage value;
  if (!EnumOf(v1::Triage_descriptor(), "TRIAGE_", triage, &value)) {
    return BadField("triage", "must be PERTINENT, QUALIFIED, NOT_PERTINENT or NUISANCE");
  }
  request.set_triage(value);
  request.set_route_to(std::string(absl::StripAsciiWhitespace(route_to)));
  auto view = relay_->TriageReport(session, request);
  if (!view.ok()) return WithReportField(Relayed(session, view.status()));
  MIR_LOG(INFO) << "console report " << id << " triaged " << v1::Triage_Name(value) << " by "
                << session.person.Uri();
  return ToJson(*view);
}

absl::StatusOr<std::string> ConsoleService::LinkReport(const Session& session,
                                                       const std::string& id,
                                                       absl::string_view body) {
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string referral, MemberString(object, "referralId"));
  referral = absl::AsciiStrToLower(absl::StripAsciiWhitespace(referral));
  if (!IsCanonicalUuid(referral)) return BadField("referralId", "must be a referral id (a UUID)");
  v1::LinkReportRequest request;
  request.set_report_id(id);
  request.set_referral_id(referral);
  auto view = relay_->LinkReport(session, request);
  if (!view.ok()) return WithReportField(Relayed(session, view.status()));
  MIR_LOG(INFO) << "console report " << id << " linked to referral " << referral << " by "
                << session.person.Uri();
  return ToJson(*view);
}

absl::StatusOr<v1::PublicReportResponse> ConsoleService::RecordPublic(
    const v1::CitizenReport& report) {
  v1::PublicReportRequest request;
  *request.mutable_report() = report;
  request.mutable_report()->set_channel(v1::CHANNEL_WEB_FORM);
  RETURN_IF_ERROR(ValidateReport(request.report()));
  auto answer = relay_->RecordPublic(request);
  if (!answer.ok()) return WithReportField(answer.status());
  return answer;
}

absl::StatusOr<v1::FollowUpResponse> ConsoleService::FollowUp(const std::string& receipt_code,
                                                              const std::string& passphrase) {
  v1::FollowUpRequest request;
  request.set_receipt_code(receipt_code);
  request.set_passphrase(passphrase);
  return relay_->FollowUp(request);
}

}  // namespace mir::console
