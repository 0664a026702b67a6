#include "broker/service_request_rules.h"

#include <google/protobuf/stubs/common.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/codes.h"
#include "common/errors.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/identity.h"

namespace mir::broker {
namespace {

absl::Status BadField(absl::string_view field, absl::string_view why) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                  absl::StrCat("field ", field, " ", why));
}

absl::Status BadState(const storage::ServiceRequestRecord& request, absl::string_view what) {
  return MirError(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION,
                  absl::StrCat("service request ", request.request_id, " is ",
                               v1::ServiceRequestState_Name(request.state), ": ", what));
}

absl::Status Unfit(absl::string_view why) {
  return MirError(absl::StatusCode::kFailedPrecondition, v1::INVALID_FIELD,
                  absl::StrCat("field roster_code ", why));
}

// Valid UTF-8 (protobuf's own check, as proto3 parsing applies to strings
// arriving over gRPC; a direct caller gets the same answer) of at most
// `limit` bytes, without control characters other than newline and tab.
absl::Status CheckText(absl::string_view field, const std::string& text, size_t limit) {
  if (text.size() > limit) return BadField(field, absl::StrCat("is longer than ", limit, " bytes"));
  if (!google::protobuf::internal::IsStructurallyValidUTF8(text.data(),
                                                           static_cast<int>(text.size()))) {
    return BadField(field, "is not valid UTF-8");
  }
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      return BadField(field, "holds a control character");
    }
  }
  return absl::OkStatus();
}

template <typename IsValid>
absl::Status CheckEnum(absl::string_view field, int value, IsValid is_valid, bool required) {
  if (!is_valid(value)) return BadField(field, "is not a value the protocol defines");
  if (required && value == 0) return BadField(field, "is required");
  return absl::OkStatus();
}

bool Lists(const google::protobuf::RepeatedPtrField<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool IsRosterCode(const std::string& code) {
  if (code.empty() || code.size() > kMaxRosterCodeBytes) return false;
  return std::all_of(code.begin(), code.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace

absl::Status CheckServiceRequest(const v1::ServiceRequest& r, absl::Time now) {
  RETURN_IF_ERROR(CheckEnum("kind", r.kind(), v1::ServiceKind_IsValid, true));
  if (r.kind() == v1::SERVICE_KIND_MEDIATOR && r.language().empty()) {
    return BadField("language", "is required for a mediator");
  }
  if (!r.language().empty() && !IsIso639_3(r.language())) {
    return BadField("language", "must be an ISO 639-3 language code such as ita or pcm");
  }
  RETURN_IF_ERROR(CheckEnum("gender", r.gender(), v1::Gender_IsValid, false));
  if (r.same_gender_wanted() &&
      (r.gender() == v1::GENDER_UNSPECIFIED || r.gender() == v1::GENDER_UNKNOWN)) {
    return BadField("gender", "is required when the same gender is wanted");
  }
  RETURN_IF_ERROR(CheckEnum("attendance", r.attendance(), v1::Attendance_IsValid, true));
  if (r.attendance() == v1::ATTENDANCE_IN_PERSON && r.province().empty()) {
    return BadField("province", "is required in person");
  }
  if (!r.province().empty() && !IsItalianProvince(r.province())) {
    return BadField("province", "must be an Italian province code such as FI");
  }
  if (!r.has_window_start()) return BadField("window_start", "is required");
  if (!r.has_window_end()) return BadField("window_end", "is required");
  const absl::Time start = FromProtoTime(r.window_start());
  const absl::Time end = FromProtoTime(r.window_end());
  if (end <= start) return BadField("window_end", "must be after window_start");
  if (end <= now) return BadField("window_end", "is in the past");
  RETURN_IF_ERROR(CheckEnum("venue", r.venue(), v1::InterviewVenue_IsValid, false));
  if (r.kind() == v1::SERVICE_KIND_IDENTIFICATION_INTERVIEW &&
      r.venue() == v1::INTERVIEW_VENUE_UNSPECIFIED) {
    return BadField("venue", "is required for an identification interview");
  }
  if (!r.referral_id().empty() && !IsCanonicalUuid(r.referral_id())) {
    return BadField("referral_id", "must be a lowercase UUID (8-4-4-4-12 hex digits)");
  }
  RETURN_IF_ERROR(CheckText("requester", r.requester(), kMaxServiceRequesterBytes));
  RETURN_IF_ERROR(CheckText("notes", r.notes(), kMaxServiceNotesBytes));
  return absl::OkStatus();
}

v1::ServiceRequest ClearServiceFacts(const v1::ServiceRequest& request) {
  v1::ServiceRequest clear = request;
  clear.clear_requester();
  clear.clear_notes();
  return clear;
}

absl::Status CheckRosterEntry(const v1::RosterEntry& e) {
  if (!IsRosterCode(e.code())) {
    return BadField("code", "must be 1-32 of A-Z, 0-9 and '-', like MED-0007 (never a name)");
  }
  RETURN_IF_ERROR(CheckEnum("kind", e.kind(), v1::RosterKind_IsValid, true));
  if (e.languages_size() > kMaxRosterLanguages) {
    return BadField("languages", absl::StrCat("lists more than ", kMaxRosterLanguages));
  }
  if (e.kind() == v1::ROSTER_MEDIATOR && e.languages_size() == 0) {
    return BadField("languages", "needs at least one language for a mediator");
  }
  for (int i = 0; i < e.languages_size(); ++i) {
    if (!IsIso639_3(e.languages(i))) {
      return BadField(absl::StrCat("languages[", i, "]"),
                      "must be an ISO 639-3 language code such as ita or pcm");
    }
  }
  if (e.provinces_size() > kMaxRosterProvinces) {
    return BadField("provinces", absl::StrCat("lists more than ", kMaxRosterProvinces));
  }
  for (int i = 0; i < e.provinces_size(); ++i) {
    if (!IsItalianProvince(e.provinces(i))) {
      return BadField(absl::StrCat("provinces[", i, "]"),
                      "must be an Italian province code such as FI");
    }
  }
  return CheckEnum("gender", e.gender(), v1::Gender_IsValid, false);
}

absl::Status CheckAssign(const storage::ServiceRequestRecord& request, const std::string& code,
                         const std::optional<v1::RosterEntry>& entry) {
  if (request.state != v1::SERVICE_REQUESTED) {
    return BadState(request, "only a request still REQUESTED is assigned");
  }
  if (!IsRosterCode(code)) {
    return BadField("roster_code", "must be 1-32 of A-Z, 0-9 and '-', like MED-0007");
  }
  if (!entry.has_value()) {
    return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_ROSTER_ENTRY,
                    absl::StrCat("no roster entry ", code, " at this node"));
  }
  if (!entry->available()) return Unfit(absl::StrCat("names entry ", code, ", not available"));
  const v1::ServiceRequest& facts = request.facts;
  if (facts.kind() != v1::SERVICE_KIND_MEDIATOR) return absl::OkStatus();
  if (entry->kind() != v1::ROSTER_MEDIATOR) {
    return Unfit(absl::StrCat("names entry ", code, ", not a mediator"));
  }
  if (!Lists(entry->languages(), facts.language())) {
    return Unfit(absl::StrCat("names entry ", code, ", who does not speak the request's language"));
  }
  if (facts.attendance() == v1::ATTENDANCE_IN_PERSON &&
      !Lists(entry->provinces(), facts.province())) {
    return Unfit(absl::StrCat("names entry ", code, ", who does not serve the request's province"));
  }
  if (facts.same_gender_wanted() && entry->gender() != facts.gender()) {
    return Unfit(absl::StrCat("names entry ", code, ", not of the gender wanted"));
  }
  return absl::OkStatus();
}

absl::Status CheckSchedule(const storage::ServiceRequestRecord& request,
                           const std::optional<absl::Time>& at) {
  if (request.state != v1::SERVICE_ASSIGNED) {
    return BadState(request, "only an ASSIGNED request is scheduled");
  }
  if (!at.has_value()) return BadField("at", "is required");
  if (*at < FromProtoTime(request.facts.window_start()) ||
      *at > FromProtoTime(request.facts.window_end())) {
    return BadField("at", "must lie within the request's window");
  }
  return absl::OkStatus();
}

absl::Status CheckComplete(const storage::ServiceRequestRecord& request,
                           v1::ServiceOutcome outcome) {
  RETURN_IF_ERROR(CheckEnum("outcome", outcome, v1::ServiceOutcome_IsValid, true));
  if (request.state != v1::SERVICE_SCHEDULED) {
    return BadState(request, "only a SCHEDULED request is completed");
  }
  return absl::OkStatus();
}

absl::Status CheckCancel(const storage::ServiceRequestRecord& request,
                         v1::ServiceCancelReason reason) {
  RETURN_IF_ERROR(CheckEnum("reason", reason, v1::ServiceCancelReason_IsValid, true));
  if (request.state != v1::SERVICE_REQUESTED && request.state != v1::SERVICE_ASSIGNED &&
      request.state != v1::SERVICE_SCHEDULED) {
    return BadState(request, "only an open request is cancelled");
  }
  return absl::OkStatus();
}

absl::Status CheckRecall(const storage::ServiceRequestRecord& request,
                         v1::ServiceCancelReason reason) {
  RETURN_IF_ERROR(CheckEnum("reason", reason, v1::ServiceCancelReason_IsValid, true));
  if (request.placed_with.empty()) return BadState(request, "the request was not placed");
  if (request.state == v1::SERVICE_DONE || request.state == v1::SERVICE_CANCELLED) {
    return BadState(request, "a done or cancelled request is not recalled");
  }
  return absl::OkStatus();
}

std::string ServiceKeyOwner(absl::string_view request_id) {
  return absl::StrCat("service:", request_id);
}

absl::Status CheckPlace(const storage::ServiceRequestRecord& request, const std::string& node,
                        const std::string& self) {
  if (request.state != v1::SERVICE_REQUESTED) {
    return BadState(request, "only a request still REQUESTED is placed with another node");
  }
  if (!IsValidNodeId(node)) return BadField("node", "must be a node id such as nvn");
  if (node == self) return BadField("node", "names this node: assign it here instead");
  return absl::OkStatus();
}

namespace {

// How far along a request is: an update moves it only forward.
int Progress(v1::ServiceRequestState state) {
  switch (state) {
    case v1::SERVICE_ASSIGNED:
      return 1;
    case v1::SERVICE_SCHEDULED:
      return 2;
    case v1::SERVICE_DONE:
    case v1::SERVICE_CANCELLED:
      return 3;
    default:
      return 0;
  }
}

// What an update's state needs beside it (INVALID_FIELD when missing).
absl::Status CheckUpdateCarries(const v1::ServiceRequestUpdate& update) {
  switch (update.state()) {
    case v1::SERVICE_ASSIGNED:
      if (!IsRosterCode(update.roster_code())) return BadField("roster_code", "is required");
      break;
    case v1::SERVICE_SCHEDULED:
      if (!update.has_scheduled_at()) return BadField("scheduled_at", "is required");
      break;
    case v1::SERVICE_DONE:
      if (!v1::ServiceOutcome_IsValid(update.outcome()) ||
          update.outcome() == v1::SERVICE_OUTCOME_UNSPECIFIED) {
        return BadField("outcome", "is required");
      }
      break;
    case v1::SERVICE_CANCELLED:
      if (!v1::ServiceCancelReason_IsValid(update.cancel_reason()) ||
          update.cancel_reason() == v1::SERVICE_CANCEL_REASON_UNSPECIFIED) {
        return BadField("cancel_reason", "is required");
      }
      break;
    default:
      return BadField("state", "must be ASSIGNED, SCHEDULED, DONE or CANCELLED");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<bool> CheckUpdate(const storage::ServiceRequestRecord& request,
                                 const std::string& sender,
                                 const v1::ServiceRequestUpdate& update) {
  if (request.placed_with.empty() || request.placed_with != sender) {
    return MirError(
        absl::StatusCode::kPermissionDenied, v1::NOT_A_HOLDER,
        absl::StrCat("service request ", request.request_id, " was not placed with node ", sender));
  }
  RETURN_IF_ERROR(CheckUpdateCarries(update));
  if (request.state == v1::SERVICE_DONE || request.state == v1::SERVICE_CANCELLED) return false;
  return Progress(update.state()) > Progress(request.state);
}

absl::StatusOr<bool> CheckCancelAsked(const storage::ServiceRequestRecord& request,
                                      const v1::ServiceRequestUpdate& update) {
  if (update.state() != v1::SERVICE_CANCELLED) {
    return BadField("state", "from the node that placed the request, only CANCELLED");
  }
  RETURN_IF_ERROR(CheckUpdateCarries(update));
  return request.state != v1::SERVICE_DONE && request.state != v1::SERVICE_CANCELLED;
}

}  // namespace mir::broker
