// `mirctl service ...`: staff commands for service requests (the
// ServiceRequests service, PROTOCOL.md §15): a mediator or an identification
// interview asked of the node's roster, its steps, and the roster itself.
// Everything a person can get wrong on the command line is refused here,
// before connecting; what only the node knows (the request's state, whether
// a roster entry fits, who may do it) comes back as its refusal.
//
// Nothing printed here quotes a request's sealed parts (requester, notes)
// except `service show`, whose purpose it is.

#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/command_internal.h"
#include "client/format.h"
#include "client/json_input.h"
#include "client/service_format.h"
#include "client/values.h"
#include "common/codes.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"

namespace mir::client {
namespace {

using Kind = FlagSpec::Kind;

// The node's limits (broker/service_request_rules.h), in bytes of UTF-8.
constexpr size_t kMaxRequesterBytes = 200;
constexpr size_t kMaxNotesBytes = 2000;
constexpr size_t kMaxRosterCodeBytes = 32;
constexpr size_t kMaxRosterLanguages = 32;
constexpr size_t kMaxRosterProvinces = 120;
constexpr uint32_t kMaxListLimit = 1000;

constexpr char kExampleId[] = "0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f";
constexpr char kExampleReferral[] = "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44";

absl::StatusOr<std::string> RequestIdArg(const ParsedFlags& flags) {
  return UuidArg(flags.positional().front(), "a service request id", kExampleId);
}

absl::StatusOr<std::string> Language(const std::string& text, const std::string& flag) {
  const std::string language = absl::AsciiStrToLower(text);
  if (!IsIso639_3(language)) {
    return UsageError(absl::StrCat("--", flag,
                                   " must be an ISO 639-3 code such as ita, eng or pcm ('", text,
                                   "' is not one)"));
  }
  return language;
}

absl::StatusOr<std::string> Province(const std::string& text, const std::string& flag) {
  const std::string province = absl::AsciiStrToUpper(text);
  if (!IsItalianProvince(province)) {
    return UsageError(absl::StrCat("--", flag,
                                   " must be an Italian province code such as FI or MI ('", text,
                                   "' is not one)"));
  }
  return province;
}

absl::StatusOr<absl::Time> TimeArg(const ParsedFlags& flags, const std::string& flag) {
  if (!flags.Has(flag)) {
    return UsageError(absl::StrCat(
        "--", flag,
        " is required: a date such as 2025-03-01 or a time such as 2025-03-01T09:30:00+01:00"));
  }
  auto t = ParseTimeFlag(flags.Get(flag), "--" + flag);
  if (!t.ok()) return UsageError(t.status().message());
  return *t;
}

// Free text, checked as the node checks it and without quoting it: valid
// UTF-8, no control characters but newline and tab, at most `max` bytes.
absl::Status CheckText(const std::string& text, const std::string& what, size_t max) {
  if (Utf8Length(text) < 0) return UsageError(absl::StrCat(what, " is not valid UTF-8 text"));
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) {
      return UsageError(
          absl::StrCat(what, " holds a control character (only line breaks and tabs are allowed)"));
    }
  }
  if (text.size() > max) {
    return UsageError(absl::StrCat(what, " is ", text.size(), " bytes long, more than the ",
                                   max == kMaxNotesBytes ? "2,000" : absl::StrCat(max),
                                   " allowed"));
  }
  return absl::OkStatus();
}

// A roster code: 1-32 of A-Z, 0-9 and '-' (taken in any case, sent in
// upper case); an opaque code, never a name.
absl::StatusOr<std::string> RosterCode(const std::string& text, absl::string_view what) {
  const std::string code = absl::AsciiStrToUpper(text);
  bool ok = !code.empty() && code.size() <= kMaxRosterCodeBytes;
  for (const char c : code)
    ok = ok && (absl::ascii_isupper(c) || absl::ascii_isdigit(c) || c == '-');
  if (!ok) {
    return UsageError(absl::StrCat(what,
                                   " must be a roster code of 1 to 32 letters, digits and "
                                   "'-', such as MED-0007"));
  }
  return code;
}

absl::StatusOr<uint32_t> Limit(const ParsedFlags& flags) {
  if (!flags.Has("limit")) return 100;
  uint32_t n;
  if (!absl::SimpleAtoi(flags.Get("limit"), &n) || n == 0 || n > kMaxListLimit) {
    return UsageError("--limit must be a whole number from 1 to 1000");
  }
  return n;
}

// ---- run functions ----

absl::Status RunRequest(const Invocation& inv) {
  ASSIGN_OR_RETURN(v1::CreateServiceRequestRequest request,
                   CreateServiceRequestFromFlags(inv.flags, inv.env));
  ASSIGN_OR_RETURN(auto client, inv.ConnectServices());
  ASSIGN_OR_RETURN(v1::ServiceRequestView view, client->Create(request));
  inv.out << (inv.json ? ToJson(WithoutSealedParts(view)) : FormatServiceCreated(view));
  return absl::OkStatus();
}

absl::Status RunList(const Invocation& inv) {
  ASSIGN_OR_RETURN(v1::ListServiceRequestsRequest request,
                   ListServiceRequestsRequestFromFlags(inv.flags));
  ASSIGN_OR_RETURN(auto client, inv.ConnectServices());
  ASSIGN_OR_RETURN(v1::ListServiceRequestsResponse response, client->List(request));
  inv.out << (inv.json ? ToJson(response) : FormatServiceSummaries(response));
  return absl::OkStatus();
}

absl::Status RunShow(const Invocation& inv) {
  v1::GetServiceRequestRequest request;
  ASSIGN_OR_RETURN(*request.mutable_request_id(), RequestIdArg(inv.flags));
  ASSIGN_OR_RETURN(auto client, inv.ConnectServices());
  ASSIGN_OR_RETURN(v1::ServiceRequestView view, client->Get(request));
  inv.out << (inv.json ? ToJson(view) : FormatServiceView(view));
  return absl::OkStatus();
}

// A step's answer: one line, or the view without its sealed parts.
void PrintStep(const Invocation& inv, const v1::ServiceRequestView& view) {
  inv.out << (inv.json ? ToJson(WithoutSealedParts(view)) : FormatServiceStep(view));
}

absl::Status RunAssign(const Invocation& inv) {
  v1::AssignServiceRequestRequest request;
  ASSIGN_OR_RETURN(*request.mutable_request_id(), RequestIdArg(inv.flags));
  if (!inv.flags.Has("roster")) {
    return UsageError("--roster is required: the code of the roster entry, such as MED-0007");
  }
  ASSIGN_OR_RETURN(*request.mutable_roster_code(), RosterCode(inv.flags.Get("roster"), "--roster"));
  ASSIGN_OR_RETURN(auto client, inv.ConnectServices());
  ASSIGN_OR_RETURN(v1::ServiceRequestView view, client->Assign(request));
  PrintStep(inv, view);
  return absl::OkStatus();
}

absl::Status RunSchedule(const Invocation& inv) {
  v1::ScheduleServiceRequestRequest request;
  ASSIGN_OR_RETURN(*request.mutable_request_id(), RequestIdArg(inv.flags));
  ASSIGN_OR_RETURN(absl::Time at, TimeArg(inv.flags, "at"));
  *request.mutable_at() = ToTimestamp(at);
  ASSIGN_OR_RETURN(auto client, inv.ConnectServices());
  ASSIGN_OR_RETURN(v1::ServiceRequestView view, client->Schedule(request));
  PrintStep(inv, view);
  return absl::OkStatus();
}

absl::Status RunDone(const Invocation& inv) {
  v1::CompleteServiceRequestRequest request;
  ASSIGN_OR_RETURN(*request.mutable_request_id(), RequestIdArg(inv.flags));
  ASSIGN_OR_RETURN(auto outcome, RequiredEnum<v1::ServiceOutcome>(inv.flags, "outcome"));
  request.set_outcome(outcome);
  ASSIGN_OR_RETURN(auto client, inv.ConnectServices());
  ASSIGN_OR_RETURN(v1::ServiceRequestView view, client->Complete(request));
  PrintStep(inv, view);
  return absl::OkStatus();
}

absl::Status RunCancel(const Invocation& inv) {
  v1::CancelServiceRequestRequest request;
  ASSIGN_OR_RETURN(*request.mutable_request_id(), RequestIdArg(inv.flags));
  ASSIGN_OR_RETURN(auto reason, RequiredEnum<v1::ServiceCancelReason>(inv.flags, "reason"));
  request.set_reason(reason);
  ASSIGN_OR_RETURN(auto client, inv.ConnectServices());
  ASSIGN_OR_RETURN(v1::ServiceRequestView view, client->Cancel(request));
  PrintStep(inv, view);
  return absl::OkStatus();
}

absl::Status RunPlace(const Invocation& inv) {
  v1::PlaceServiceRequestRequest request;
  ASSIGN_OR_RETURN(*request.mutable_request_id(), RequestIdArg(inv.flags));
  // --to, not --node: --node is the address of your own node.
  if (!inv.flags.Has("to")) return UsageError("--to NODE is required, e.g. --to nvn");
  request.set_node(inv.flags.Get("to"));
  ASSIGN_OR_RETURN(auto client, inv.ConnectServices());
  ASSIGN_OR_RETURN(v1::ServiceRequestView view, client->Place(request));
  PrintStep(inv, view);
  return absl::OkStatus();
}

absl::Status RunRosterList(const Invocation& inv) {
  ASSIGN_OR_RETURN(auto client, inv.ConnectServices());
  ASSIGN_OR_RETURN(v1::ListRosterResponse roster, client->ListRoster(v1::ListRosterRequest()));
  inv.out << (inv.json ? ToJson(roster) : FormatRoster(roster));
  return absl::OkStatus();
}

absl::Status RunRosterPut(const Invocation& inv) {
  ASSIGN_OR_RETURN(v1::PutRosterEntryRequest request, PutRosterEntryRequestFromFlags(inv.flags));
  ASSIGN_OR_RETURN(auto client, inv.ConnectServices());
  ASSIGN_OR_RETURN(v1::RosterEntry entry, client->PutRosterEntry(request));
  inv.out << (inv.json ? ToJson(entry) : FormatRosterSaved(entry));
  return absl::OkStatus();
}

std::vector<FlagSpec> RequestFlags() {
  return {
      {"kind", Kind::kValue, "KIND",
       absl::StrCat("what is asked (required): ", Alternatives<v1::ServiceKind>())},
      {"language", Kind::kValue, "LANG", "ISO 639-3 language, e.g. pcm (required for a mediator)"},
      {"same-gender", Kind::kBool, "", "someone of the gender given with --gender is wanted"},
      {"gender", Kind::kValue, "GENDER",
       absl::StrCat("the gender wanted, with --same-gender: ", Alternatives<v1::Gender>())},
      {"attendance", Kind::kValue, "HOW",
       absl::StrCat("how (required): ", Alternatives<v1::Attendance>())},
      {"province", Kind::kValue, "CODE", "Italian province code, e.g. FI (required in person)"},
      {"from", Kind::kValue, "TIME", "start of the window (required): YYYY-MM-DD or RFC 3339"},
      {"to", Kind::kValue, "TIME", "end of the window (required), after --from and not past"},
      {"venue", Kind::kValue, "VENUE",
       absl::StrCat("where an interview is held (required for one): ",
                    Alternatives<v1::InterviewVenue>())},
      {"referral", Kind::kValue, "ID", "the referral it serves, held at your node"},
      {"requester", Kind::kValue, "TEXT", "who asks, at most 200 bytes (sealed)"},
      {"notes", Kind::kValue, "TEXT", "notes, at most 2,000 bytes (sealed)"},
      {"id", Kind::kValue, "UUID",
       "the request id to use (default: a new one); the same id again gives the same answer"},
  };
}

std::vector<FlagSpec> RosterPutFlags() {
  return {
      {"type", Kind::kValue, "TYPE",
       absl::StrCat("the entry's type (required): ", Alternatives<v1::RosterKind>())},
      {"language", Kind::kRepeated, "LANG",
       "ISO 639-3 language spoken, repeatable (at least one for a mediator)"},
      {"province", Kind::kRepeated, "CODE", "Italian province served in person, repeatable"},
      {"gender", Kind::kValue, "GENDER",
       absl::StrCat("for same-gender requests: ", Alternatives<v1::Gender>())},
      {"unavailable", Kind::kBool, "", "the entry is not available for assignment"},
  };
}

}  // namespace

absl::StatusOr<v1::CreateServiceRequestRequest> CreateServiceRequestFromFlags(
    const ParsedFlags& f, const Environment& env) {
  v1::CreateServiceRequestRequest request;
  v1::ServiceRequest& r = *request.mutable_request();
  ASSIGN_OR_RETURN(auto kind, RequiredEnum<v1::ServiceKind>(f, "kind"));
  r.set_kind(kind);
  if (f.Has("language")) {
    ASSIGN_OR_RETURN(*r.mutable_language(), Language(f.Get("language"), "language"));
  } else if (kind == v1::SERVICE_KIND_MEDIATOR) {
    return UsageError("--language is required for a mediator: an ISO 639-3 code such as pcm");
  }
  if (f.Has("same-gender")) {
    if (!f.Has("gender")) {
      return UsageError(absl::StrCat("--same-gender needs --gender: ", Alternatives<v1::Gender>()));
    }
    r.set_same_gender_wanted(true);
  }
  if (f.Has("gender")) {
    if (!f.Has("same-gender")) {
      return UsageError("--gender goes only with --same-gender");
    }
    ASSIGN_OR_RETURN(auto gender, EnumFlag<v1::Gender>(f.Get("gender"), "gender"));
    r.set_gender(gender);
  }
  ASSIGN_OR_RETURN(auto attendance, RequiredEnum<v1::Attendance>(f, "attendance"));
  r.set_attendance(attendance);
  if (f.Has("province")) {
    ASSIGN_OR_RETURN(*r.mutable_province(), Province(f.Get("province"), "province"));
  } else if (attendance == v1::ATTENDANCE_IN_PERSON) {
    return UsageError("--province is required in person: an Italian province code such as FI");
  }
  ASSIGN_OR_RETURN(absl::Time from, TimeArg(f, "from"));
  ASSIGN_OR_RETURN(absl::Time to, TimeArg(f, "to"));
  if (to <= from) return UsageError("--to must be after --from");
  if (to < env.clock->Now()) return UsageError("--to is in the past: the window has ended");
  *r.mutable_window_start() = ToTimestamp(from);
  *r.mutable_window_end() = ToTimestamp(to);
  if (f.Has("venue")) {
    ASSIGN_OR_RETURN(auto venue, EnumFlag<v1::InterviewVenue>(f.Get("venue"), "venue"));
    r.set_venue(venue);
  } else if (kind == v1::SERVICE_KIND_IDENTIFICATION_INTERVIEW) {
    return UsageError(absl::StrCat("--venue is required for an identification interview: ",
                                   Alternatives<v1::InterviewVenue>()));
  }
  if (f.Has("referral")) {
    ASSIGN_OR_RETURN(*r.mutable_referral_id(),
                     UuidArg(f.Get("referral"), "a referral id", kExampleReferral));
  }
  if (f.Has("requester")) {
    RETURN_IF_ERROR(CheckText(f.Get("requester"), "--requester", kMaxRequesterBytes));
    r.set_requester(f.Get("requester"));
  }
  if (f.Has("notes")) {
    RETURN_IF_ERROR(CheckText(f.Get("notes"), "--notes", kMaxNotesBytes));
    r.set_notes(f.Get("notes"));
  }
  if (f.Has("id")) {
    ASSIGN_OR_RETURN(*request.mutable_request_id(), UuidArg(f.Get("id"), "a UUID", kExampleId));
  } else {
    request.set_request_id(NewUuid());
  }
  return request;
}

absl::StatusOr<v1::ListServiceRequestsRequest> ListServiceRequestsRequestFromFlags(
    const ParsedFlags& f) {
  v1::ListServiceRequestsRequest request;
  for (const std::string& s : f.GetAll("state")) {
    auto state = ParseEnum<v1::ServiceRequestState>(s, "--state");
    if (!state.ok()) return UsageError(state.status().message());
    request.add_states(*state);
  }
  ASSIGN_OR_RETURN(uint32_t limit, Limit(f));
  request.set_limit(static_cast<int32_t>(limit));
  return request;
}

absl::StatusOr<v1::PutRosterEntryRequest> PutRosterEntryRequestFromFlags(const ParsedFlags& f) {
  v1::PutRosterEntryRequest request;
  v1::RosterEntry& e = *request.mutable_entry();
  ASSIGN_OR_RETURN(*e.mutable_code(), RosterCode(f.positional().front(), "the code"));
  ASSIGN_OR_RETURN(auto kind, RequiredEnum<v1::RosterKind>(f, "type"));
  e.set_kind(kind);
  if (f.GetAll("language").size() > kMaxRosterLanguages) {
    return UsageError("--language may be given at most 32 times");
  }
  for (const std::string& text : f.GetAll("language")) {
    ASSIGN_OR_RETURN(*e.add_languages(), Language(text, "language"));
  }
  if (kind == v1::ROSTER_MEDIATOR && e.languages().empty()) {
    return UsageError("--language is required for a mediator: the ISO 639-3 codes they speak");
  }
  if (f.GetAll("province").size() > kMaxRosterProvinces) {
    return UsageError("--province may be given at most 120 times");
  }
  for (const std::string& text : f.GetAll("province")) {
    ASSIGN_OR_RETURN(*e.add_provinces(), Province(text, "province"));
  }
  if (f.Has("gender")) {
    ASSIGN_OR_RETURN(auto gender, EnumFlag<v1::Gender>(f.Get("gender"), "gender"));
    e.set_gender(gender);
  }
  e.set_available(!f.Has("unavailable"));
  return request;
}

std::vector<CommandGroup> ServiceGroups() {
  return {{"service",
           "Service requests: a linguistic-cultural mediator, or an identification\n"
           "interview at a Territorial Commission or a CAS, asked of your node's roster.\n"
           "Create one, assign it to a roster entry that fits, schedule it within its\n"
           "window, then record it done with its outcome, or cancel it with a reason.\n"
           "Operators of your node only; requests and the roster stay at your node.\n\n"
           "The requester and notes are sealed at your node; only 'mirctl service show'\n"
           "prints them. The roster names people by an opaque code only.\n"
           "See docs/MIRCTL.md, \"Service requests\"."},
          {"service roster",
           "Your node's roster of mediators and consultants, by opaque code only (no\n"
           "names, no contacts): list it, or add or replace an entry."}};
}

std::vector<Command> ServiceCommands() {
  return {
      {"service request",
       "--kind KIND [--language L] --attendance HOW [--province P] --from TIME --to TIME ...",
       "operators: ask your node's roster for a mediator or an interview",
       "Creates a service request at your node and prints its id. A mediator needs\n"
       "--language; in person needs --province; an identification interview needs\n"
       "--venue. The window (--from, --to) is when it may take place: a date\n"
       "(YYYY-MM-DD, 00:00 UTC) or an RFC 3339 time. Values are written without\n"
       "prefixes and in any case (mediator, in-person, cas). If the answer is lost,\n"
       "mirctl sends the same request again under the same id, which the node records\n"
       "once; give --id to repeat a creation by hand. Nothing of the requester or\n"
       "notes is printed.\n\n"
       "examples:\n"
       "  mirctl service request --kind mediator --language pcm --same-gender \\\n"
       "      --gender female --attendance in-person --province FI \\\n"
       "      --from 2026-03-02T09:00:00+01:00 --to 2026-03-06T18:00:00+01:00\n"
       "  mirctl service request --kind identification-interview --attendance remote \\\n"
       "      --venue territorial-commission --from 2026-03-02 --to 2026-03-20",
       RequestFlags(), 0, 0, RunRequest},
      {"service list",
       "[--state STATE]... [--limit N]",
       "operators: list the service requests at your node",
       "Lists the service requests your node holds, as a table without their sealed\n"
       "parts (requester, notes). FROM and TO are the window; ROSTER the entry\n"
       "assigned.\n\n"
       "example: mirctl service list --state requested",
       {{"state", Kind::kRepeated, "STATE",
         absl::StrCat("only these states, repeatable: ", Alternatives<v1::ServiceRequestState>())},
        {"limit", Kind::kValue, "N", "at most N rows, up to 1000 (default 100)"}},
       0,
       0,
       RunList},
      {"service show",
       "ID",
       "operators: show one service request, its requester, notes and events",
       "Shows one service request: its state, the request with its requester and\n"
       "notes, and its events (requested, assigned, scheduled, done, cancelled; who and\n"
       "when). This prints personal data: use it only where it may be seen.\n\n"
       "example: mirctl service show 0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f",
       {},
       1,
       1,
       RunShow},
      {"service assign",
       "ID --roster CODE",
       "operators: assign a REQUESTED request to a roster entry that fits",
       "Assigns a request still REQUESTED to an available entry of your node's\n"
       "roster. For a mediator the node checks that the entry is a mediator who speaks\n"
       "the language, serves the province when in person, and is of the gender wanted\n"
       "when the same gender is; a refusal says which.\n\n"
       "example: mirctl service assign 0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f --roster MED-0007",
       {{"roster", Kind::kValue, "CODE", "the roster entry's code (required)"}},
       1,
       1,
       RunAssign},
      {"service schedule",
       "ID --at TIME",
       "operators: schedule an ASSIGNED request within its window",
       "Sets when an ASSIGNED request takes place: a time within its window, as a date\n"
       "(YYYY-MM-DD, 00:00 UTC) or an RFC 3339 time.\n\n"
       "example: mirctl service schedule 0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f "
       "--at 2026-03-03T10:00:00+01:00",
       {{"at", Kind::kValue, "TIME", "when (required), within the window"}},
       1,
       1,
       RunSchedule},
      {"service done",
       "ID --outcome OUTCOME",
       "operators: record a SCHEDULED request as held, with its outcome",
       "Records that a SCHEDULED request took place (or was meant to), with its\n"
       "outcome. DONE is final.\n\n"
       "example: mirctl service done 0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f --outcome held",
       {{"outcome", Kind::kValue, "OUTCOME",
         absl::StrCat("the outcome (required): ", Alternatives<v1::ServiceOutcome>())}},
       1,
       1,
       RunDone},
      {"service cancel",
       "ID --reason REASON",
       "operators: cancel a request not yet done, with a reason",
       "Cancels a request that is REQUESTED, ASSIGNED or SCHEDULED. CANCELLED is final.\n"
       "A request placed with another node is recalled: that node is asked to cancel it,\n"
       "and cancels it unless it was done already; the state here changes when it answers.\n\n"
       "example: mirctl service cancel 0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f "
       "--reason no-one-available",
       {{"reason", Kind::kValue, "REASON",
         absl::StrCat("why (required): ", Alternatives<v1::ServiceCancelReason>())}},
       1,
       1,
       RunCancel},
      {"service place",
       "ID --to NODE",
       "operators: place a request you cannot serve with another node",
       "Sends a REQUESTED request to another node — the national node, or a region —\n"
       "which serves it as its own (or places it on). Requester and notes travel sealed\n"
       "to that node. The request becomes PLACED here, its steps are taken there, and\n"
       "each one comes back: 'mirctl service show' follows it (PROTOCOL.md §15.5).\n\n"
       "example: mirctl service place 0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f --to nvn",
       {{"to", Kind::kValue, "NODE", "the node to place it with (required), e.g. nvn"}},
       1,
       1,
       RunPlace},
      {"service roster list",
       "",
       "operators: list your node's roster",
       "Lists your node's roster by code: type, languages, provinces served in\n"
       "person, gender (for same-gender requests) and whether available.\n\n"
       "example: mirctl service roster list",
       {},
       0,
       0,
       RunRosterList},
      {"service roster put",
       "CODE --type TYPE [--language L]... [--province P]... [--gender G] [--unavailable]",
       "operators: add a roster entry, or replace the one with its code",
       "Adds an entry to your node's roster, or replaces the entry with that code\n"
       "entirely (give every language and province again). The code is opaque, 1 to 32\n"
       "of A-Z, 0-9 and '-': never a name. A mediator needs at least one --language.\n\n"
       "example: mirctl service roster put MED-0007 --type mediator --language pcm \\\n"
       "      --language eng --province FI --province PO --gender female",
       RosterPutFlags(), 1, 1, RunRosterPut},
  };
}

}  // namespace mir::client
