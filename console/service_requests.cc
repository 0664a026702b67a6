// ConsoleService's service-request and roster calls (docs/CONSOLE-API.md,
// "Service requests"): operators only, relayed as the person. What can be
// checked without the node's state is checked here with the node's own rules
// (broker/service_request_rules.h), so that a request the node would refuse
// never leaves the console; the node stays the authority (the state of a
// request, the roster's fit). Refusals name the field as mir.v1 spells it
// (language, window_end, roster_code, at, ...). The requester and the notes
// are never logged.

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "broker/authorization.h"
#include "broker/service_request_rules.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "console/errors.h"
#include "console/json.h"
#include "console/list_filters.h"
#include "console/service.h"
#include "crypto/envelope_bytes.h"
#include "crypto/identity.h"

namespace mir::console {
namespace {

// A refusal naming a field keeps it for the page: the console's own, else
// the one the node's INVALID_FIELD message starts with ("field language
// must ..."), without a message prefix ("request.language" -> "language").
absl::Status WithServiceField(absl::Status status) {
  if (!FieldOf(status).empty()) return status;
  absl::string_view message = status.message();
  if (!absl::ConsumePrefix(&message, "field ")) return status;
  absl::string_view field = message.substr(0, message.find(' '));
  absl::ConsumePrefix(&field, "request.");
  absl::ConsumePrefix(&field, "entry.");
  return field.empty() ? status : WithField(std::move(status), field);
}

absl::Status CheckRequestId(const std::string& id) {
  if (!IsCanonicalUuid(id))
    return BadField("id", "must be a service request id (a lowercase UUID)");
  return absl::OkStatus();
}

std::string Trimmed(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

}  // namespace

absl::StatusOr<std::string> ConsoleService::ListServiceRequests(
    const Session& session, const std::multimap<std::string, std::string>& query) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kServiceRequests)));
  v1::ListServiceRequestsRequest request;
  RETURN_IF_ERROR(ReadListFilters<v1::ServiceRequestState>(query, "SERVICE_", request));
  auto listed = relay_->ListServiceRequests(session, request);
  if (!listed.ok()) return Relayed(session, listed.status());
  return ToJson(*listed);
}

absl::StatusOr<std::string> ConsoleService::CreateServiceRequest(const Session& session,
                                                                 absl::string_view body) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kServiceRequests)));
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string id, MemberString(object, "requestId"));
  ASSIGN_OR_RETURN(std::string json, MemberJson(object, "request"));
  if (json.empty()) return BadField("request", "is required");
  v1::CreateServiceRequestRequest request;
  RETURN_IF_ERROR(FromJson(json, request.mutable_request(), "request"));
  // The page chooses the id, so that sending again after a lost answer
  // creates the request once; without one the console chooses.
  if (id.empty()) id = NewUuid();
  if (!IsCanonicalUuid(id)) return BadField("requestId", "must be a lowercase UUID");
  request.set_request_id(id);
  v1::ServiceRequest* r = request.mutable_request();
  r->set_language(absl::AsciiStrToLower(Trimmed(r->language())));
  r->set_province(absl::AsciiStrToUpper(Trimmed(r->province())));
  r->set_referral_id(absl::AsciiStrToLower(Trimmed(r->referral_id())));
  RETURN_IF_ERROR(WithServiceField(broker::CheckServiceRequest(*r, clock_->Now())));
  auto created = relay_->CreateServiceRequest(session, request);
  if (!created.ok()) return WithServiceField(Relayed(session, created.status()));
  MIR_LOG(INFO) << "console service request " << id << " (" << v1::ServiceKind_Name(r->kind())
                << ") created by " << session.person.Uri();
  return ToJson(*created);
}

absl::StatusOr<std::string> ConsoleService::GetServiceRequest(const Session& session,
                                                              const std::string& id) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kServiceRequests)));
  RETURN_IF_ERROR(CheckRequestId(id));
  v1::GetServiceRequestRequest request;
  request.set_request_id(id);
  auto view = relay_->GetServiceRequest(session, request);
  if (!view.ok()) return Relayed(session, view.status());
  return ToJson(*view);
}

absl::StatusOr<std::string> ConsoleService::AssignServiceRequest(const Session& session,
                                                                 const std::string& id,
                                                                 absl::string_view body) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kServiceRequests)));
  RETURN_IF_ERROR(CheckRequestId(id));
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string code, MemberString(object, "rosterCode"));
  code = absl::AsciiStrToUpper(Trimmed(code));
  const bool well_formed = !code.empty() && code.size() <= broker::kMaxRosterCodeBytes &&
                           absl::c_all_of(code, [](char c) {
                             return absl::ascii_isupper(c) || absl::ascii_isdigit(c) || c == '-';
                           });
  if (!well_formed) return BadField("roster_code", "must be a roster code such as MED-0007");
  v1::AssignServiceRequestRequest request;
  request.set_request_id(id);
  request.set_roster_code(code);
  auto view = relay_->AssignServiceRequest(session, request);
  if (!view.ok()) return WithServiceField(Relayed(session, view.status()));
  MIR_LOG(INFO) << "console service request " << id << " assigned to " << code << " by "
                << session.person.Uri();
  return ToJson(*view);
}

absl::StatusOr<std::string> ConsoleService::ScheduleServiceRequest(const Session& session,
                                                                   const std::string& id,
                                                                   absl::string_view body) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kServiceRequests)));
  RETURN_IF_ERROR(CheckRequestId(id));
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string at_text, MemberString(object, "at"));
  absl::Time at;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, Trimmed(at_text), &at, &error)) {
    return BadField("at", "must be a time such as 2026-03-01T10:00:00Z");
  }
  v1::ScheduleServiceRequestRequest request;
  request.set_request_id(id);
  *request.mutable_at() = ToProtoTime(at);
  auto view = relay_->ScheduleServiceRequest(session, request);
  if (!view.ok()) return WithServiceField(Relayed(session, view.status()));
  MIR_LOG(INFO) << "console service request " << id << " scheduled by " << session.person.Uri();
  return ToJson(*view);
}

absl::StatusOr<std::string> ConsoleService::CompleteServiceRequest(const Session& session,
                                                                   const std::string& id,
                                                                   absl::string_view body) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kServiceRequests)));
  RETURN_IF_ERROR(CheckRequestId(id));
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string outcome, MemberString(object, "outcome"));
  v1::ServiceOutcome value;
  if (!EnumOf(v1::ServiceOutcome_descriptor(), "OUTCOME_", outcome, &value)) {
    return BadField("outcome", "must be HELD, PERSON_ABSENT, INTERRUPTED or OTHER");
  }
  v1::CompleteServiceRequestRequest request;
  request.set_request_id(id);
  request.set_outcome(value);
  auto view = relay_->CompleteServiceRequest(session, request);
  if (!view.ok()) return WithServiceField(Relayed(session, view.status()));
  MIR_LOG(INFO) << "console service request " << id << " completed "
                << v1::ServiceOutcome_Name(value) << " by " << session.person.Uri();
  return ToJson(*view);
}

absl::StatusOr<std::string> ConsoleService::CancelServiceRequest(const Session& session,
                                                                 const std::string& id,
                                                                 absl::string_view body) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kServiceRequests)));
  RETURN_IF_ERROR(CheckRequestId(id));
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string reason, MemberString(object, "reason"));
  v1::ServiceCancelReason value;
  if (!EnumOf(v1::ServiceCancelReason_descriptor(), "CANCEL_", reason, &value)) {
    return BadField("reason",
                    "must be NO_LONGER_NEEDED, NO_ONE_AVAILABLE, PERSON_UNREACHABLE, "
                    "REQUESTER_WITHDREW or OTHER");
  }
  v1::CancelServiceRequestRequest request;
  request.set_request_id(id);
  request.set_reason(value);
  auto view = relay_->CancelServiceRequest(session, request);
  if (!view.ok()) return WithServiceField(Relayed(session, view.status()));
  const std::string& serving = view->summary().placed_with();
  MIR_LOG(INFO) << "console service request " << id
                << (serving.empty() ? " cancelled " : " recalled from " + serving + " ")
                << v1::ServiceCancelReason_Name(value) << " by " << session.person.Uri();
  return ToJson(*view);
}

absl::StatusOr<std::string> ConsoleService::PlaceServiceRequest(const Session& session,
                                                                const std::string& id,
                                                                absl::string_view body) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kServiceRequests)));
  RETURN_IF_ERROR(CheckRequestId(id));
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string node, MemberString(object, "node"));
  node = absl::AsciiStrToLower(Trimmed(node));
  if (!IsValidNodeId(node)) return BadField("node", "must be a node id such as nvn or lombardia");
  if (node == options_.node_id) return BadField("node", "names this node: assign it here instead");
  v1::PlaceServiceRequestRequest request;
  request.set_request_id(id);
  request.set_node(node);
  auto view = relay_->PlaceServiceRequest(session, request);
  if (!view.ok()) return WithServiceField(Relayed(session, view.status()));
  MIR_LOG(INFO) << "console service request " << id << " placed with " << node << " by "
                << session.person.Uri();
  return ToJson(*view);
}

absl::StatusOr<std::string> ConsoleService::ListRoster(const Session& session) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kServiceRequests)));
  auto listed = relay_->ListRoster(session, v1::ListRosterRequest());
  if (!listed.ok()) return Relayed(session, listed.status());
  return ToJson(*listed);
}

absl::StatusOr<std::string> ConsoleService::PutRosterEntry(const Session& session,
                                                           absl::string_view body) {
  RETURN_IF_ERROR(OperatorsOnly(session, static_cast<int>(broker::Action::kServiceRequests)));
  ASSIGN_OR_RETURN(google::protobuf::Struct object, ParseObject(body));
  ASSIGN_OR_RETURN(std::string json, MemberJson(object, "entry"));
  if (json.empty()) return BadField("entry", "is required");
  v1::PutRosterEntryRequest request;
  v1::RosterEntry* entry = request.mutable_entry();
  RETURN_IF_ERROR(FromJson(json, entry, "entry"));
  entry->set_code(absl::AsciiStrToUpper(Trimmed(entry->code())));
  for (std::string& language : *entry->mutable_languages()) {
    language = absl::AsciiStrToLower(Trimmed(language));
  }
  for (std::string& province : *entry->mutable_provinces()) {
    province = absl::AsciiStrToUpper(Trimmed(province));
  }
  RETURN_IF_ERROR(WithServiceField(broker::CheckRosterEntry(*entry)));
  auto put = relay_->PutRosterEntry(session, request);
  if (!put.ok()) return WithServiceField(Relayed(session, put.status()));
  MIR_LOG(INFO) << "console roster entry " << entry->code() << " put by " << session.person.Uri();
  return ToJson(*put);
}

}  // namespace mir::console
