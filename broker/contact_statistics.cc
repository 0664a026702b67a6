#include "broker/contact_statistics.h"

#include <functional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace mir::broker {
namespace {

// The outcome columns: the triage, or not triaged yet.
std::vector<std::string> OutcomeLabels() {
  return {"pertinent", "qualified", "not pertinent", "nuisance", "not triaged"};
}

std::string OutcomeOf(const storage::ReportRecord& r) {
  switch (r.triage) {
    case v1::TRIAGE_PERTINENT:
      return "pertinent";
    case v1::TRIAGE_QUALIFIED:
      return "qualified";
    case v1::TRIAGE_NOT_PERTINENT:
      return "not pertinent";
    case v1::TRIAGE_NUISANCE:
      return "nuisance";
    default:
      return "not triaged";
  }
}

// "CHANNEL_WEB_FORM" -> "web form": the enum's name without its prefix.
std::string Label(const std::string& name, absl::string_view prefix) {
  std::string label(absl::StripPrefix(name, prefix));
  absl::AsciiStrToLower(&label);
  return absl::StrReplaceAll(label, {{"_", " "}});
}

// Every defined value of an enum but UNSPECIFIED, as labels.
template <typename Descriptor>
std::vector<std::string> Labels(const Descriptor* descriptor, absl::string_view prefix) {
  std::vector<std::string> labels;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    if (descriptor->value(i)->number() == 0) continue;
    labels.push_back(Label(descriptor->value(i)->name(), prefix));
  }
  return labels;
}

constexpr char kNoProvince[] = "not given";

// The Italian province codes the reports name, in order, then "not given".
std::vector<std::string> ProvincesOf(const std::vector<storage::ReportRecord>& reports) {
  std::set<std::string> codes;
  for (const storage::ReportRecord& r : reports) {
    if (!r.facts.province().empty()) codes.insert(r.facts.province());
  }
  std::vector<std::string> rows(codes.begin(), codes.end());
  rows.push_back(kNoProvince);
  return rows;
}

struct Dimension {
  const char* name;
  const char* title;
  std::vector<std::string> rows;
  std::function<std::string(const storage::ReportRecord&)> row_of;
};

absl::StatusOr<NamedTable> CountBy(const Dimension& d,
                                   const std::vector<storage::ReportRecord>& taken) {
  ASSIGN_OR_RETURN(stats::CountTable table, stats::CountTable::Create(d.rows, OutcomeLabels()));
  for (const storage::ReportRecord& r : taken) {
    RETURN_IF_ERROR(table.Add(d.row_of(r), OutcomeOf(r), 1));
  }
  return NamedTable{
      d.name, absl::StrCat("Contacts by ", d.title, " and triage"),
      absl::StrCat("Contacts this node took itself (phone calls, web-form reports, e-mails, "
                   "visits), by ",
                   d.title,
                   " and their triage at the time of the query; reports sent here by another "
                   "node are counted by the node that took them. A row's total is its contacts."),
      std::move(table)};
}

}  // namespace

absl::StatusOr<std::vector<NamedTable>> BuildContactTables(
    const std::vector<storage::ReportRecord>& reports, const std::string& node,
    const StatisticsPeriod& period, const absl::TimeZone& zone) {
  std::vector<storage::ReportRecord> taken;
  for (const storage::ReportRecord& r : reports) {
    if (r.origin_node == node && r.recorded_at >= period.from && r.recorded_at < period.to) {
      taken.push_back(r);
    }
  }
  std::vector<std::string> months;
  for (absl::CivilMonth m = absl::ToCivilMonth(period.from, zone);
       m <= absl::ToCivilMonth(period.to - absl::Microseconds(1), zone); ++m) {
    months.push_back(absl::FormatCivilTime(m));
  }
  const std::vector<Dimension> dimensions = {
      {"contacts_by_month", "month", months,
       [&zone](const storage::ReportRecord& r) {
         return absl::FormatCivilTime(absl::ToCivilMonth(r.recorded_at, zone));
       }},
      {"contacts_by_channel", "channel", Labels(v1::ContactChannel_descriptor(), "CHANNEL_"),
       [](const storage::ReportRecord& r) {
         return Label(v1::ContactChannel_Name(r.facts.channel()), "CHANNEL_");
       }},
      {"contacts_by_reporter_type", "reporter type",
       Labels(v1::ReporterType_descriptor(), "REPORTER_"),
       [](const storage::ReportRecord& r) {
         return Label(v1::ReporterType_Name(r.facts.reporter_type()), "REPORTER_");
       }},
      {"contacts_by_reason", "reason", Labels(v1::ContactReason_descriptor(), "REASON_"),
       [](const storage::ReportRecord& r) {
         return Label(v1::ContactReason_Name(r.facts.reason()), "REASON_");
       }},
      {"contacts_by_province", "province", ProvincesOf(taken),
       [](const storage::ReportRecord& r) {
         return r.facts.province().empty() ? std::string(kNoProvince) : r.facts.province();
       }},
  };
  std::vector<NamedTable> tables;
  for (const Dimension& d : dimensions) {
    ASSIGN_OR_RETURN(NamedTable t, CountBy(d, taken));
    tables.push_back(std::move(t));
  }
  return tables;
}

}  // namespace mir::broker
