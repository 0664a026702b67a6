#include "client/statistics_format.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "client/format.h"
#include "client/values.h"

namespace mir::client {
namespace {

constexpr char kZone[] = "Europe/Rome";
constexpr char kHidden[] = "*";
constexpr char kPlacementTitle[] = "Time from SUBMITTED to PLACEMENT_CONFIRMED, hours";

std::string CellText(const v1::StatisticsCell& cell) {
  return cell.hidden() ? kHidden : absl::StrCat(cell.value());
}

std::string Day(const google::protobuf::Timestamp& ts) {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(kZone, &zone)) zone = absl::UTCTimeZone();
  return absl::FormatTime("%Y-%m-%d %H:%M %Z", FromTimestamp(ts), zone);
}

std::string Hours(double h) { return absl::StrFormat("%.1f", h); }

std::string FormatTable(const v1::StatisticsTable& t) {
  // A one-column table's row totals are its cells: not repeated.
  const bool one_column = t.column_labels_size() == 1;
  std::vector<std::string> header{""};
  for (const std::string& label : t.column_labels()) header.push_back(label);
  if (!one_column) header.push_back("total");
  Table table(std::move(header));
  for (const v1::StatisticsRow& row : t.rows()) {
    std::vector<std::string> cells{row.label()};
    for (const v1::StatisticsCell& cell : row.cells()) cells.push_back(CellText(cell));
    if (!one_column) cells.push_back(CellText(row.total()));
    table.AddRow(std::move(cells));
  }
  std::vector<std::string> totals{"total"};
  if (!one_column) {
    for (const v1::StatisticsCell& cell : t.column_totals()) totals.push_back(CellText(cell));
  }
  totals.push_back(CellText(t.grand_total()));
  table.AddRow(std::move(totals));
  return absl::StrCat(t.title(), "\n", table.Render(), t.description(), "\n");
}

// " (lombardia 12 months, toscana 13 months)": whose months were summed.
std::string ReportedNodes(const v1::Statistics& s) {
  std::map<std::string, int> months;
  for (const v1::StatisticsReportCoverage& r : s.reports()) ++months[r.node_id()];
  std::vector<std::string> parts;
  for (const auto& [node, n] : months) {
    parts.push_back(absl::StrCat(node, " ", n, n == 1 ? " month" : " months"));
  }
  return parts.empty() ? "" : absl::StrCat(" (", absl::StrJoin(parts, ", "), ")");
}

}  // namespace

std::string FormatStatistics(const v1::Statistics& s) {
  std::string out =
      s.national()
          ? absl::StrCat("National MIR statistics at ", s.node_id(), ", months from ",
                         Day(s.from()), " to ", Day(s.to()), " (exclusive), summed from ",
                         s.reports_size(), " monthly reports", ReportedNodes(s), "\n")
          : absl::StrCat("MIR statistics of node ", s.node_id(), ", referrals opened from ",
                         Day(s.from()), " to ", Day(s.to()), " (exclusive)\n");
  absl::StrAppend(&out, s.suppressed()
                            ? absl::StrCat("counts from 1 to ", s.k() - 1,
                                           " hidden as * with complementary suppression\n")
                            : "RAW COUNTS: internal, not for publication\n");
  for (const v1::StatisticsTable& t : s.tables()) absl::StrAppend(&out, "\n", FormatTable(t));
  if (s.national()) return out;  // a monthly report carries no durations
  const v1::TimeToPlacement& p = s.time_to_placement();
  absl::StrAppend(&out, "\n", kPlacementTitle, ": ");
  if (p.published()) {
    absl::StrAppend(&out, "n ", p.n(), ", median ", Hours(p.median_hours()), ", p90 ",
                    Hours(p.p90_hours()), "\n");
  } else if (p.n_hidden()) {
    absl::StrAppend(&out, "fewer than ", s.k(), " placements, not published\n");
  } else {
    absl::StrAppend(&out, "no placements\n");
  }
  return out;
}

std::string StatisticsCsv(const v1::Statistics& s) {
  std::vector<std::string> blocks;
  for (const v1::StatisticsTable& t : s.tables()) {
    blocks.push_back(absl::StrCat("# ", t.title(), "\n", t.csv()));
  }
  const v1::TimeToPlacement& p = s.time_to_placement();
  if (s.national()) {
    return absl::StrCat(s.suppressed() ? "" : "# internal, not for publication\n",
                        absl::StrJoin(blocks, "\n"));
  }
  const std::string n = p.n_hidden() ? kHidden : absl::StrCat(p.n());
  blocks.push_back(
      absl::StrCat("# ", kPlacementTitle, "\n,n,median,p90\nplacement,", n, ",",
                   p.published() ? absl::StrCat(Hours(p.median_hours()), ",", Hours(p.p90_hours()))
                                 : absl::StrCat(kHidden, ",", kHidden),
                   "\n"));
  return absl::StrCat(s.suppressed() ? "" : "# internal, not for publication\n",
                      absl::StrJoin(blocks, "\n"));
}

absl::StatusOr<absl::Time> ParseStatisticsDate(const std::string& text, const std::string& what) {
  absl::CivilDay day;
  if (text.size() != 10 || !absl::ParseCivilTime(text, &day)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be a date such as 2026-03-01, not '", text, "'"));
  }
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(kZone, &zone)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load the time zone ", kZone, " (is tzdata installed?)"));
  }
  return absl::FromCivil(day, zone);
}

}  // namespace mir::client
