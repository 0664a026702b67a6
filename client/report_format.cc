#include "client/report_format.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "client/format.h"
#include "client/values.h"

namespace mir::client {
namespace {

using Rows = std::vector<std::pair<std::string, std::string>>;

std::string Plural(size_t n, absl::string_view one, absl::string_view many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// Enum values the node left unset print as "-", not as their full name.
template <typename E>
std::string Short(E value) {
  return static_cast<int>(value) == 0 ? "-" : ShortName(value);
}

std::string Flags(const v1::ReportSummary& s) {
  std::vector<std::string> flags;
  if (s.immediate_danger()) flags.push_back("DANGER");
  if (s.minors_suspected()) flags.push_back("MINORS");
  if (s.has_contact()) flags.push_back("CONTACT");
  return flags.empty() ? "-" : absl::StrJoin(flags, ",");
}

// Free text as typed by a stranger: newlines and tabs kept, every other
// control character (an escape sequence, a carriage return that rewrites
// the line) shown as '?'.
std::string Printable(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) c = '?';
  }
  return out;
}

// "  label   value" lines, labels aligned; a multi-line value's later lines
// indented under its first.
std::string Aligned(const Rows& rows) {
  size_t width = 0;
  for (const auto& [label, value] : rows) width = std::max(width, label.size());
  std::string out;
  for (const auto& [label, value] : rows) {
    const std::string indent(width + 4, ' ');
    absl::StrAppend(&out, "  ", label, std::string(width - label.size() + 2, ' '),
                    absl::StrReplaceAll(value, {{"\n", "\n" + indent}}), "\n");
  }
  return out;
}

// Routed here by another node, which kept the reporter's contact.
bool ArrivedFromElsewhere(const v1::ReportView& view) {
  for (const v1::ReportEvent& e : view.events()) {
    if (e.kind() == v1::ReportEvent::ARRIVED) return true;
  }
  return false;
}

std::string StateLine(const v1::ReportSummary& s) {
  switch (s.state()) {
    case v1::REPORT_RECEIVED:
      return "RECEIVED, awaiting triage";
    case v1::REPORT_TRIAGED:
      return "TRIAGED, kept at this node";
    case v1::REPORT_ROUTED:
      return absl::StrCat("ROUTED to ", OrDash(s.routed_to()));
    default:
      return ShortName(s.state());
  }
}

}  // namespace

v1::ReportView WithoutSealedParts(v1::ReportView view) {
  view.mutable_report()->clear_municipality();
  view.mutable_report()->clear_description();
  view.mutable_report()->clear_contact();
  return view;
}

std::string FormatReportSummaries(const v1::ListReportsResponse& list) {
  if (list.reports().empty()) return "no reports match\n";
  Table table({"ID", "STATE", "TRIAGE", "CHANNEL", "REPORTER", "REASON", "PROVINCE", "FLAGS",
               "RECORDED", "ORIGIN", "ROUTED TO", "REFERRAL"});
  size_t received = 0, danger = 0;
  for (const v1::ReportSummary& s : list.reports()) {
    table.AddRow({s.report_id(), Short(s.state()), Short(s.triage()), Short(s.channel()),
                  Short(s.reporter_type()), Short(s.reason()), OrDash(s.province()), Flags(s),
                  FormatMinute(s.recorded_at()), OrDash(s.origin_node()), OrDash(s.routed_to()),
                  OrDash(s.referral_id())});
    if (s.state() == v1::REPORT_RECEIVED) ++received;
    if (s.immediate_danger()) ++danger;
  }
  std::string out = table.Render();
  absl::StrAppend(&out, Plural(list.reports_size(), "report", "reports"));
  if (received > 0) absl::StrAppend(&out, ", ", received, " awaiting triage");
  if (danger > 0) absl::StrAppend(&out, ", ", danger, " in immediate danger");
  out.push_back('\n');
  return out;
}

std::string FormatRecorded(const v1::ReportView& view) {
  const v1::ReportSummary& s = view.summary();
  std::string out = absl::StrCat("report ", s.report_id(), " recorded: ", StateLine(s), "\n");
  if (s.immediate_danger() || view.report().immediate_danger()) {
    absl::StrAppend(&out,
                    "immediate danger: the reporter was to be told to call 112 now; if they "
                    "were not, call them back\n");
  }
  return out;
}

std::string FormatTriaged(const v1::ReportView& view) {
  const v1::ReportSummary& s = view.summary();
  return absl::StrCat("report ", s.report_id(), " triaged ", Short(s.triage()), ": ", StateLine(s),
                      "\n");
}

std::string FormatLinked(const v1::ReportView& view) {
  const v1::ReportSummary& s = view.summary();
  return absl::StrCat("report ", s.report_id(), " linked to referral ", OrDash(s.referral_id()),
                      "\n");
}

std::string FormatReportEvents(const v1::ReportView& view) {
  if (view.events().empty()) return "  (no events)\n";
  size_t width = 0;
  for (const v1::ReportEvent& e : view.events()) width = std::max(width, Short(e.kind()).size());
  std::string out;
  for (const v1::ReportEvent& e : view.events()) {
    const std::string kind = Short(e.kind());
    absl::StrAppend(&out, "  ", FormatSecond(e.at()), "  ", kind,
                    std::string(width - kind.size(), ' '), "  by ", OrDash(e.actor()));
    if (e.triage() != v1::TRIAGE_UNSPECIFIED) absl::StrAppend(&out, "  as ", Short(e.triage()));
    if (!e.node().empty()) {
      absl::StrAppend(&out, e.kind() == v1::ReportEvent::ARRIVED ? "  from " : "  to ", e.node());
    }
    if (!e.referral_id().empty()) absl::StrAppend(&out, "  referral ", e.referral_id());
    out.push_back('\n');
  }
  return out;
}

std::string FormatReportView(const v1::ReportView& view) {
  const v1::ReportSummary& s = view.summary();
  const v1::CitizenReport& r = view.report();
  Rows summary = {
      {"state", StateLine(s)},
      {"triage", Short(s.triage())},
      {"recorded", FormatMinute(s.recorded_at())},
      {"origin", OrDash(s.origin_node())},
  };
  if (!s.referral_id().empty()) summary.push_back({"referral", s.referral_id()});
  std::string out = absl::StrCat("Report ", s.report_id(), "\n", Aligned(summary));

  std::vector<std::string> exploitation;
  for (int e : r.suspected_exploitation()) {
    exploitation.push_back(ShortName(static_cast<v1::ExploitationType>(e)));
  }
  std::string contact;
  if (!r.contact().empty()) {
    contact = Printable(r.contact());
  } else if (s.has_contact()) {
    contact = "(given; add --contact to see it, and the reading is recorded)";
  } else if (ArrivedFromElsewhere(view)) {
    contact = absl::StrCat("(if any, kept at ", OrDash(s.origin_node()),
                           ": a contact never leaves the node that took the report)");
  } else {
    contact = "(anonymous)";
  }
  Rows fields = {
      {"channel", Short(r.channel())},
      {"reporter", Short(r.reporter_type())},
      {"reason", Short(r.reason())},
      {"province", OrDash(r.province())},
      {"municipality", r.municipality().empty() ? "-" : Printable(r.municipality())},
      {"exploitation", exploitation.empty() ? "-" : absl::StrJoin(exploitation, ", ")},
      {"persons", r.persons() == 0 ? "unknown" : absl::StrCat(r.persons())},
      {"minors", r.minors_suspected() ? "suspected" : "no"},
      {"danger", r.immediate_danger() ? "IMMEDIATE (the reporter was told to call 112)" : "no"},
      {"language", OrDash(r.language())},
      {"contact", contact},
      {"description", r.description().empty() ? "-" : Printable(r.description())},
  };
  absl::StrAppend(&out, "\nReport (personal: do not copy it elsewhere)\n", Aligned(fields));
  absl::StrAppend(&out, "\nEvents\n", FormatReportEvents(view));
  return out;
}

}  // namespace mir::client
