// `mirctl report ...`: staff commands for citizen reports (the Reports
// service). Everything a person can get wrong on the command line is refused
// here, before connecting; what only the node knows (the report's state, the
// referral, who may do it) comes back as its refusal.
//
// Nothing printed here quotes a report's free text (municipality,
// description, contact) except `report show`, whose purpose it is.

#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/command_internal.h"
#include "client/format.h"
#include "client/json_input.h"
#include "client/report_format.h"
#include "client/values.h"
#include "common/codes.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/identity.h"

namespace mir::client {
namespace {

using Kind = FlagSpec::Kind;

// The node's limits (broker/reports_service), in bytes of UTF-8.
constexpr size_t kMaxDescriptionBytes = 4000;
constexpr size_t kMaxMunicipalityBytes = 100;
constexpr size_t kMaxContactBytes = 200;
constexpr uint32_t kMaxPersons = 1000;
constexpr size_t kMaxExploitationTypes = 16;
constexpr uint32_t kMaxListLimit = 1000;

constexpr char kExampleId[] = "0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f";
constexpr char kExampleReferral[] = "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44";

absl::StatusOr<std::string> ReportIdArg(const ParsedFlags& flags) {
  return UuidArg(flags.positional().front(), "a report id", kExampleId);
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
                                   max == kMaxDescriptionBytes ? "4,000" : absl::StrCat(max),
                                   " allowed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Description(const ParsedFlags& flags, const Environment& env) {
  if (flags.Has("description") && flags.Has("description-file")) {
    return UsageError("use either --description or --description-file, not both");
  }
  if (flags.Has("description")) {
    const std::string text = flags.Get("description");
    RETURN_IF_ERROR(CheckText(text, "--description", kMaxDescriptionBytes));
    return text;
  }
  if (!flags.Has("description-file")) return std::string();
  const std::string path = flags.Get("description-file");
  if (!env.read_file) return UsageError(absl::StrCat("cannot read the file ", path));
  auto text = env.read_file(path);
  if (!text.ok()) return UsageError(text.status().message());
  // Line breaks as the node keeps them (a file saved on Windows ends lines
  // with CR LF), and an editor's final newline is not part of what the
  // reporter said.
  std::string description = absl::StrReplaceAll(*text, {{"\r\n", "\n"}});
  while (!description.empty() && description.back() == '\n') description.pop_back();
  RETURN_IF_ERROR(
      CheckText(description, absl::StrCat("--description-file ", path), kMaxDescriptionBytes));
  return description;
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

absl::Status RunRecord(const Invocation& inv) {
  ASSIGN_OR_RETURN(v1::RecordReportRequest request, RecordRequestFromFlags(inv.flags, inv.env));
  ASSIGN_OR_RETURN(auto client, inv.ConnectReports());
  ASSIGN_OR_RETURN(v1::ReportView view, client->Record(request));
  if (inv.json) {
    inv.out << ToJson(WithoutSealedParts(view));
  } else {
    inv.out << FormatRecorded(view);
  }
  return absl::OkStatus();
}

absl::Status RunList(const Invocation& inv) {
  ASSIGN_OR_RETURN(v1::ListReportsRequest request, ListReportsRequestFromFlags(inv.flags));
  ASSIGN_OR_RETURN(auto client, inv.ConnectReports());
  ASSIGN_OR_RETURN(v1::ListReportsResponse response, client->List(request));
  inv.out << (inv.json ? ToJson(response) : FormatReportSummaries(response));
  return absl::OkStatus();
}

absl::Status RunShow(const Invocation& inv) {
  v1::GetReportRequest request;
  ASSIGN_OR_RETURN(*request.mutable_report_id(), ReportIdArg(inv.flags));
  request.set_include_contact(inv.flags.Has("contact"));
  ASSIGN_OR_RETURN(auto client, inv.ConnectReports());
  ASSIGN_OR_RETURN(v1::ReportView view, client->Get(request));
  inv.out << (inv.json ? ToJson(view) : FormatReportView(view));
  return absl::OkStatus();
}

absl::Status RunTriage(const Invocation& inv) {
  ASSIGN_OR_RETURN(v1::TriageReportRequest request, TriageRequestFromFlags(inv.flags));
  ASSIGN_OR_RETURN(auto client, inv.ConnectReports());
  ASSIGN_OR_RETURN(v1::ReportView view, client->Triage(request));
  inv.out << (inv.json ? ToJson(WithoutSealedParts(view)) : FormatTriaged(view));
  return absl::OkStatus();
}

absl::Status RunLink(const Invocation& inv) {
  v1::LinkReportRequest request;
  ASSIGN_OR_RETURN(*request.mutable_report_id(), ReportIdArg(inv.flags));
  ASSIGN_OR_RETURN(*request.mutable_referral_id(),
                   UuidArg(inv.flags.positional()[1], "a referral id", kExampleReferral));
  ASSIGN_OR_RETURN(auto client, inv.ConnectReports());
  ASSIGN_OR_RETURN(v1::ReportView view, client->Link(request));
  inv.out << (inv.json ? ToJson(WithoutSealedParts(view)) : FormatLinked(view));
  return absl::OkStatus();
}

std::vector<FlagSpec> RecordFlags() {
  return {
      {"channel", Kind::kValue, "CHANNEL",
       absl::StrCat("how the report came (required): ", Alternatives<v1::ContactChannel>())},
      {"reporter", Kind::kValue, "TYPE",
       absl::StrCat("who reported (required): ", Alternatives<v1::ReporterType>())},
      {"reason", Kind::kValue, "REASON",
       absl::StrCat("why they called (required): ", Alternatives<v1::ContactReason>())},
      {"province", Kind::kValue, "CODE", "Italian province code, e.g. FI"},
      {"municipality", Kind::kValue, "TEXT", "municipality, at most 100 bytes (sealed)"},
      {"exploitation", Kind::kRepeated, "TYPE",
       absl::StrCat("suspected exploitation, repeatable: ", Alternatives<v1::ExploitationType>())},
      {"persons", Kind::kValue, "N", "persons concerned, 1 to 1000 (default: unknown)"},
      {"minors", Kind::kBool, "", "minors are suspected among them"},
      {"danger", Kind::kBool, "", "immediate danger: the reporter was told to call 112"},
      {"language", Kind::kValue, "LANG", "ISO 639-3 language of the contact, e.g. ita"},
      {"description", Kind::kValue, "TEXT", "what was reported, at most 4,000 bytes (sealed)"},
      {"description-file", Kind::kValue, "FILE", "the description from a UTF-8 text file"},
      {"contact", Kind::kValue, "TEXT",
       "how to reach the reporter, at most 200 bytes (sealed apart; omit: anonymous)"},
      {"id", Kind::kValue, "UUID",
       "the report id to use (default: a new one); the same id again gives the same answer"},
  };
}

}  // namespace

absl::StatusOr<v1::RecordReportRequest> RecordRequestFromFlags(const ParsedFlags& f,
                                                               const Environment& env) {
  v1::RecordReportRequest request;
  v1::CitizenReport& r = *request.mutable_report();
  ASSIGN_OR_RETURN(auto channel, RequiredEnum<v1::ContactChannel>(f, "channel"));
  r.set_channel(channel);
  ASSIGN_OR_RETURN(auto reporter, RequiredEnum<v1::ReporterType>(f, "reporter"));
  r.set_reporter_type(reporter);
  ASSIGN_OR_RETURN(auto reason, RequiredEnum<v1::ContactReason>(f, "reason"));
  r.set_reason(reason);
  if (f.Has("province")) {
    const std::string province = absl::AsciiStrToUpper(f.Get("province"));
    if (!IsItalianProvince(province)) {
      return UsageError(
          absl::StrCat("--province must be an Italian province code such as FI or MI ('",
                       f.Get("province"), "' is not one)"));
    }
    r.set_province(province);
  }
  if (f.Has("municipality")) {
    RETURN_IF_ERROR(CheckText(f.Get("municipality"), "--municipality", kMaxMunicipalityBytes));
    r.set_municipality(f.Get("municipality"));
  }
  if (f.GetAll("exploitation").size() > kMaxExploitationTypes) {
    return UsageError("--exploitation may be given at most 16 times");
  }
  for (const std::string& text : f.GetAll("exploitation")) {
    auto type = ParseEnum<v1::ExploitationType>(text, "--exploitation");
    if (!type.ok()) return UsageError(type.status().message());
    r.add_suspected_exploitation(*type);
  }
  if (f.Has("persons")) {
    uint32_t n;
    if (!absl::SimpleAtoi(f.Get("persons"), &n) || n == 0 || n > kMaxPersons) {
      return UsageError("--persons must be a whole number from 1 to 1000");
    }
    r.set_persons(n);
  }
  r.set_minors_suspected(f.Has("minors"));
  r.set_immediate_danger(f.Has("danger"));
  if (f.Has("language")) {
    const std::string language = absl::AsciiStrToLower(f.Get("language"));
    if (!IsIso639_3(language)) {
      return UsageError(
          absl::StrCat("--language must be an ISO 639-3 code such as ita, eng or pcm ('",
                       f.Get("language"), "' is not one)"));
    }
    r.set_language(language);
  }
  ASSIGN_OR_RETURN(*r.mutable_description(), Description(f, env));
  if (f.Has("contact")) {
    RETURN_IF_ERROR(CheckText(f.Get("contact"), "--contact", kMaxContactBytes));
    r.set_contact(f.Get("contact"));
  }
  if (f.Has("id")) {
    ASSIGN_OR_RETURN(*request.mutable_report_id(), UuidArg(f.Get("id"), "a UUID", kExampleId));
  } else {
    request.set_report_id(NewUuid());
  }
  return request;
}

absl::StatusOr<v1::ListReportsRequest> ListReportsRequestFromFlags(const ParsedFlags& f) {
  v1::ListReportsRequest request;
  for (const std::string& s : f.GetAll("state")) {
    auto state = ParseEnum<v1::ReportState>(s, "--state");
    if (!state.ok()) return UsageError(state.status().message());
    request.add_states(*state);
  }
  ASSIGN_OR_RETURN(uint32_t limit, Limit(f));
  request.set_limit(static_cast<int32_t>(limit));
  return request;
}

absl::StatusOr<v1::TriageReportRequest> TriageRequestFromFlags(const ParsedFlags& f) {
  v1::TriageReportRequest request;
  ASSIGN_OR_RETURN(*request.mutable_report_id(), ReportIdArg(f));
  ASSIGN_OR_RETURN(auto triage, RequiredEnum<v1::Triage>(f, "triage"));
  request.set_triage(triage);
  if (f.Has("route-to")) {
    if (triage != v1::TRIAGE_PERTINENT && triage != v1::TRIAGE_QUALIFIED) {
      return UsageError(
          "--route-to goes only with --triage PERTINENT or QUALIFIED: a report that is not "
          "pertinent stays here");
    }
    const std::string node = f.Get("route-to");
    if (!IsValidNodeId(node)) {
      return UsageError("--route-to must be a node id such as lombardia");
    }
    request.set_route_to(node);
  }
  return request;
}

CommandGroup ReportGroup() {
  return {"report",
          "Citizen reports (\"Segnala\"): every contact your hotline takes about suspected\n"
          "trafficking, by phone, e-mail, in person or through the public web form. Record\n"
          "it, triage it once (and send a pertinent one on to the node of its territory),\n"
          "link it to the referral it became. Operators of your node only.\n\n"
          "The municipality, description and contact are sealed at your node; only\n"
          "'mirctl report show' prints them, and the contact only with --contact (the\n"
          "reading is recorded). See docs/MIRCTL.md, \"Citizen reports\"."};
}

std::vector<Command> ReportCommands() {
  return {
      {"report record",
       "--channel C --reporter T --reason R [--province P] [--description TEXT] ...",
       "operators: record a citizen report taken by your hotline",
       "Records one contact about suspected trafficking at your node and prints its id.\n"
       "Nothing identifying is required: leave out --contact for an anonymous report.\n"
       "Values are written without prefixes and in any case (phone, citizen, report).\n"
       "If the answer is lost, mirctl sends the same report again under the same id,\n"
       "which the node records once; give --id to repeat a recording by hand. With\n"
       "--danger, mirctl reminds you that the reporter was to be told to call 112.\n"
       "Nothing of the description or contact is printed.\n\n"
       "examples:\n"
       "  mirctl report record --channel phone --reporter citizen --reason report \\\n"
       "      --province FI --exploitation sexual-street --persons 2 --language ita \\\n"
       "      --description-file call.txt\n"
       "  mirctl report record --channel in-person --reporter self --reason help --danger",
       RecordFlags(), 0, 0, RunRecord},
      {"report list",
       "[--state STATE]... [--limit N]",
       "operators: list the citizen reports at your node, most recent first",
       "Lists the reports your node holds, most recent first, as a table without their\n"
       "sealed parts. FLAGS: DANGER (immediate danger), MINORS (minors suspected),\n"
       "CONTACT (the reporter left a contact). ORIGIN is the node that took the report;\n"
       "another node's means it was routed here.\n\n"
       "example: mirctl report list --state received",
       {{"state", Kind::kRepeated, "STATE",
         absl::StrCat("only these states, repeatable: ", Alternatives<v1::ReportState>())},
        {"limit", Kind::kValue, "N", "at most N rows, up to 1000 (default 100)"}},
       0,
       0,
       RunList},
      {"report show",
       "ID [--contact]",
       "operators: show one citizen report, its description and its events",
       "Shows one report: its state, the report itself with its municipality and\n"
       "description, and its events (recorded, triaged, routed, arrived, linked; who\n"
       "and when). This prints personal data: use it only where it may be seen. The\n"
       "reporter's contact is printed only with --contact, and the node records that you\n"
       "read it (never what it says).\n\n"
       "example: mirctl report show 0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f --contact",
       {{"contact", Kind::kBool, "",
         "also print the reporter's contact (the reading is recorded)"}},
       1,
       1,
       RunShow},
      {"report triage",
       "ID --triage T [--route-to NODE]",
       "operators: triage a received report, once; optionally send it on",
       "Triages a report that awaits it (RECEIVED), once: PERTINENT, QUALIFIED\n"
       "(pertinent and detailed enough to act on), NOT_PERTINENT or NUISANCE. With\n"
       "--route-to, a PERTINENT or QUALIFIED report is sent on to that node (ROUTED),\n"
       "its description sealed to it; the contact never leaves your node. Without it the\n"
       "report stays here (TRIAGED).\n\n"
       "examples:\n"
       "  mirctl report triage 0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f --triage qualified\n"
       "  mirctl report triage 0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f --triage pertinent "
       "--route-to lombardia",
       {{"triage", Kind::kValue, "T",
         absl::StrCat("the triage (required): ", Alternatives<v1::Triage>())},
        {"route-to", Kind::kValue, "NODE",
         "send it on to this node (PERTINENT or QUALIFIED only)"}},
       1,
       1,
       RunTriage},
      {"report link",
       "ID REFERRAL_ID",
       "operators: link a pertinent report to the referral it became, once",
       "Records that a report triaged PERTINENT or QUALIFIED and kept at your node\n"
       "(TRIAGED, not ROUTED) became, or joined, a referral your node holds. Once per\n"
       "report.\n\n"
       "example: mirctl report link 0193e0a4-5b7c-7d2e-8f90-1a2b3c4d5e6f "
       "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44",
       {},
       2,
       2,
       RunLink},
  };
}

}  // namespace mir::client
