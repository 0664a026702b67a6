#include "client/service_format.h"

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

// Free text typed by staff: newlines and tabs kept, every other control
// character shown as '?', so that it cannot drive the terminal.
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

std::string StateLine(const v1::ServiceRequestSummary& s) {
  // Placed elsewhere: the state is the serving node's, as it last reported.
  if (!s.placed_with().empty() && s.state() != v1::SERVICE_PLACED) {
    v1::ServiceRequestSummary there = s;
    there.clear_placed_with();
    return absl::StrCat("at ", s.placed_with(), ": ", StateLine(there));
  }
  switch (s.state()) {
    case v1::SERVICE_REQUESTED:
      return "REQUESTED, awaiting a roster entry";
    case v1::SERVICE_ASSIGNED:
      return absl::StrCat("ASSIGNED to ", OrDash(s.roster_code()), ", to be scheduled");
    case v1::SERVICE_SCHEDULED:
      return absl::StrCat("SCHEDULED at ", FormatMinute(s.scheduled_at()), " with ",
                          OrDash(s.roster_code()));
    case v1::SERVICE_DONE:
      return absl::StrCat("DONE, ", Short(s.outcome()));
    case v1::SERVICE_CANCELLED:
      return absl::StrCat("CANCELLED, ", Short(s.cancel_reason()));
    case v1::SERVICE_PLACED:
      return absl::StrCat("PLACED with ", OrDash(s.placed_with()), ", which takes its steps");
    default:
      return ShortName(s.state());
  }
}

std::string Window(const google::protobuf::Timestamp& from, const google::protobuf::Timestamp& to) {
  return absl::StrCat(FormatMinute(from), " to ", FormatMinute(to));
}

}  // namespace

v1::ServiceRequestView WithoutSealedParts(v1::ServiceRequestView view) {
  view.mutable_request()->clear_requester();
  view.mutable_request()->clear_notes();
  return view;
}

std::string FormatServiceSummaries(const v1::ListServiceRequestsResponse& list) {
  if (list.requests().empty()) return "no service requests match\n";
  Table table({"ID", "STATE", "KIND", "LANGUAGE", "ATTENDANCE", "PROVINCE", "FROM", "TO", "ROSTER",
               "SCHEDULED", "CREATED"});
  size_t requested = 0;
  for (const v1::ServiceRequestSummary& s : list.requests()) {
    table.AddRow({s.request_id(), Short(s.state()), Short(s.kind()), OrDash(s.language()),
                  Short(s.attendance()), OrDash(s.province()), FormatMinute(s.window_start()),
                  FormatMinute(s.window_end()), OrDash(s.roster_code()),
                  FormatMinute(s.scheduled_at()), FormatMinute(s.created_at())});
    if (s.state() == v1::SERVICE_REQUESTED) ++requested;
  }
  std::string out = table.Render();
  absl::StrAppend(&out, Plural(list.requests_size(), "service request", "service requests"));
  if (requested > 0) absl::StrAppend(&out, ", ", requested, " awaiting a roster entry");
  out.push_back('\n');
  return out;
}

std::string FormatServiceCreated(const v1::ServiceRequestView& view) {
  const v1::ServiceRequestSummary& s = view.summary();
  return absl::StrCat("service request ", s.request_id(), " created: ", StateLine(s), "\n");
}

std::string FormatServiceStep(const v1::ServiceRequestView& view) {
  const v1::ServiceRequestSummary& s = view.summary();
  std::string out = absl::StrCat("service request ", s.request_id(), ": ", StateLine(s));
  // A recall: the state changes when the serving node answers.
  if (!view.events().empty() && view.events().rbegin()->kind() == v1::ServiceEvent::CANCEL_ASKED) {
    absl::StrAppend(&out, "; cancellation asked of ", view.events().rbegin()->node());
  }
  out.push_back('\n');
  return out;
}

std::string FormatServiceEvents(const v1::ServiceRequestView& view) {
  if (view.events().empty()) return "  (no events)\n";
  size_t width = 0;
  for (const v1::ServiceEvent& e : view.events()) width = std::max(width, Short(e.kind()).size());
  std::string out;
  for (const v1::ServiceEvent& e : view.events()) {
    const std::string kind = Short(e.kind());
    absl::StrAppend(&out, "  ", FormatSecond(e.at()), "  ", kind,
                    std::string(width - kind.size(), ' '), "  by ", OrDash(e.actor()));
    if (!e.node().empty()) absl::StrAppend(&out, "  node ", e.node());
    if (e.state() != v1::SERVICE_REQUEST_STATE_UNSPECIFIED) {
      absl::StrAppend(&out, "  now ", Short(e.state()));
    }
    if (!e.roster_code().empty()) absl::StrAppend(&out, "  to ", e.roster_code());
    if (e.has_scheduled_at()) absl::StrAppend(&out, "  at ", FormatMinute(e.scheduled_at()));
    if (e.outcome() != v1::SERVICE_OUTCOME_UNSPECIFIED) {
      absl::StrAppend(&out, "  outcome ", Short(e.outcome()));
    }
    if (e.cancel_reason() != v1::SERVICE_CANCEL_REASON_UNSPECIFIED) {
      absl::StrAppend(&out, "  reason ", Short(e.cancel_reason()));
    }
    out.push_back('\n');
  }
  return out;
}

std::string FormatServiceView(const v1::ServiceRequestView& view) {
  const v1::ServiceRequestSummary& s = view.summary();
  const v1::ServiceRequest& r = view.request();
  Rows summary = {
      {"state", StateLine(s)},
      {"created", FormatMinute(s.created_at())},
      {"origin", OrDash(s.origin_node())},
  };
  if (!s.placed_from().empty()) summary.push_back({"placed here by", s.placed_from()});
  if (!s.placed_with().empty()) summary.push_back({"placed with", s.placed_with()});
  std::string out = absl::StrCat("Service request ", s.request_id(), "\n", Aligned(summary));
  Rows fields = {
      {"kind", Short(r.kind())},
      {"language", OrDash(r.language())},
      {"same gender", r.same_gender_wanted() ? absl::StrCat("wanted: ", Short(r.gender())) : "no"},
      {"attendance", Short(r.attendance())},
      {"province", OrDash(r.province())},
      {"window", Window(r.window_start(), r.window_end())},
      {"venue", Short(r.venue())},
      {"referral", OrDash(r.referral_id())},
      {"requester", r.requester().empty() ? "-" : Printable(r.requester())},
      {"notes", r.notes().empty() ? "-" : Printable(r.notes())},
  };
  absl::StrAppend(&out, "\nRequest (personal: do not copy it elsewhere)\n", Aligned(fields));
  absl::StrAppend(&out, "\nEvents\n", FormatServiceEvents(view));
  return out;
}

std::string FormatRoster(const v1::ListRosterResponse& roster) {
  if (roster.entries().empty()) return "the roster is empty\n";
  Table table({"CODE", "TYPE", "LANGUAGES", "PROVINCES", "GENDER", "AVAILABLE"});
  size_t available = 0;
  for (const v1::RosterEntry& e : roster.entries()) {
    table.AddRow({e.code(), Short(e.kind()),
                  e.languages().empty() ? "-" : absl::StrJoin(e.languages(), ","),
                  e.provinces().empty() ? "-" : absl::StrJoin(e.provinces(), ","),
                  Short(e.gender()), e.available() ? "yes" : "no"});
    if (e.available()) ++available;
  }
  std::string out = table.Render();
  absl::StrAppend(&out, Plural(roster.entries_size(), "roster entry", "roster entries"), ", ",
                  available, " available\n");
  return out;
}

std::string FormatRosterSaved(const v1::RosterEntry& entry) {
  return absl::StrCat("roster entry ", entry.code(), " saved: ", Short(entry.kind()), ", ",
                      entry.available() ? "available" : "not available", "\n");
}

}  // namespace mir::client
