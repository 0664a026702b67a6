#include "broker/national_statistics.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/contact_statistics.h"
#include "broker/service_statistics.h"
#include "common/errors.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "stats/suppression.h"
#include "stats/table.h"

namespace mir::broker {
namespace {

struct TableText {
  const char* name;
  const char* title;
  const char* description;
};

// The tables of a report, in order, as the national statistics show them.
constexpr TableText kReportTables[] = {
    {"mir_by_month", "MIR opened in the network, by month and outcome",
     "Referrals opened in the month, each counted once by the node that opened it, by its "
     "outcome at the end of that month (or when it was counted, for the current month)."},
    {"origin_destination", "MIR by origin and destination node",
     "Referrals opened in the period, rows the origin node, columns the destination as the "
     "origin knows it."},
    {"rejection_reasons", "MIR rejected, by reason",
     "Referrals opened and REJECTED within the same month, by the rejection reason code."},
    {"emergencies_by_hour", "Emergency activations by hour of day",
     "URGENCY_EMERGENCY_24H referrals opened in the period, by the hour of day (Europe/Rome)."},
    {"contacts_by_month", "Contacts by month and triage",
     "Citizen reports recorded in the period, each counted by the node that took it."},
    {"contacts_by_channel", "Contacts by channel and triage",
     "Citizen reports recorded in the period, by channel."},
    {"contacts_by_reporter_type", "Contacts by reporter type and triage",
     "Citizen reports recorded in the period, by who reported."},
    {"contacts_by_reason", "Contacts by reason and triage",
     "Citizen reports recorded in the period, by the reason of the contact."},
    {"contacts_by_province", "Contacts by province and triage",
     "Citizen reports recorded in the period, by the Italian province they name."},
    {"mediator_interventions_by_language", "Mediator interventions by language and outcome",
     "Mediator requests DONE, scheduled in the period, each counted by the node that served it, "
     "by ISO 639-3 language and outcome."},
    {"mir_by_gender", "MIR by gender and outcome",
     "Referrals opened in the period, each counted by the node that opened it, by gender."},
    {"mir_by_age_band", "MIR by age band and outcome",
     "Referrals opened in the period, each counted by the node that opened it, by age band."},
    {"mir_by_nationality", "MIR by nationality and outcome",
     "Referrals opened in the period, each counted by the node that opened it (which holds its "
     "key), by nationality (ISO 3166-1 alpha-2)."},
    {"mir_by_exploitation", "MIR by exploitation type and outcome",
     "Referrals opened in the period, each counted by the node that opened it, by exploitation "
     "type; a referral with several types counts in each of their rows."},
};

const TableText* TextOf(const std::string& name) {
  for (const TableText& t : kReportTables) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

absl::Status BadReport(absl::string_view message) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                  absl::StrCat("statistics report: ", message));
}

v1::CountTableData DataOf(const std::string& name, const stats::CountTable& table) {
  v1::CountTableData data;
  data.set_name(name);
  for (const std::string& label : table.row_labels()) data.add_row_labels(label);
  for (const std::string& label : table.column_labels()) data.add_column_labels(label);
  for (size_t r = 0; r < table.rows(); ++r) {
    for (size_t c = 0; c < table.cols(); ++c) data.add_counts(table.cell(r, c));
  }
  return data;
}

absl::StatusOr<stats::CountTable> TableFrom(const v1::CountTableData& data) {
  ASSIGN_OR_RETURN(
      stats::CountTable table,
      stats::CountTable::Create({data.row_labels().begin(), data.row_labels().end()},
                                {data.column_labels().begin(), data.column_labels().end()}));
  const size_t cols = table.cols();
  if (cols == 0) return table;  // no cells (CheckStatisticsReport: no counts either)
  for (int i = 0; i < data.counts_size(); ++i) {
    RETURN_IF_ERROR(table.Set(i / cols, i % cols, data.counts(i)));
  }
  return table;
}

absl::Status CheckLabels(const google::protobuf::RepeatedPtrField<std::string>& labels,
                         absl::string_view table, absl::string_view dimension) {
  if (labels.size() > kMaxReportLabels) {
    return BadReport(absl::StrCat("table ", table, " has more than ", kMaxReportLabels, " ",
                                  dimension, " labels"));
  }
  std::set<std::string> seen;
  for (const std::string& label : labels) {
    if (label.empty() || label.size() > kMaxReportLabelBytes || !seen.insert(label).second) {
      return BadReport(absl::StrCat("table ", table, " has an empty, oversized or repeated ",
                                    dimension, " label"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::StatisticsReport> BuildStatisticsReport(
    const std::vector<storage::ReferralFact>& facts,
    const std::vector<storage::ReportRecord>& contacts,
    const std::vector<storage::ServiceRequestRecord>& services,
    const std::map<std::string, ReferralDemographics>& demographics, const std::string& node,
    const StatisticsPeriod& month, absl::Time now, const absl::TimeZone& zone) {
  std::vector<storage::ReferralFact> opened_here;
  for (const storage::ReferralFact& f : facts) {
    if (f.origin_node == node && f.created_at >= month.from && f.created_at < month.to) {
      opened_here.push_back(f);
    }
  }
  std::vector<storage::ReportRecord> taken;
  for (const storage::ReportRecord& r : contacts) {
    if (r.recorded_at >= month.from && r.recorded_at < month.to) taken.push_back(r);
  }
  ASSIGN_OR_RETURN(std::vector<NamedTable> tables,
                   BuildStatisticsTables(opened_here, node, month, now, zone));
  ASSIGN_OR_RETURN(std::vector<NamedTable> contact_tables,
                   BuildContactTables(taken, node, month, zone));
  v1::StatisticsReport report;
  report.set_node_id(node);
  *report.mutable_month_start() = ToProtoTime(month.from);
  *report.mutable_month_end() = ToProtoTime(month.to);
  *report.mutable_counted_at() = ToProtoTime(now);
  for (const NamedTable& t : tables) {
    // Inbound is every other node's outbound: the sum counts it there.
    if (t.name == "mir_by_month_inbound") continue;
    *report.add_tables() =
        DataOf(t.name == "mir_by_month_outbound" ? std::string("mir_by_month") : t.name, t.table);
  }
  for (const NamedTable& t : contact_tables) *report.add_tables() = DataOf(t.name, t.table);
  ASSIGN_OR_RETURN(NamedTable mediators, BuildMediatorTable(services, month));
  *report.add_tables() = DataOf(mediators.name, mediators.table);
  ASSIGN_OR_RETURN(std::vector<NamedTable> person_tables,
                   BuildDemographicTables(opened_here, demographics, month, now));
  for (const NamedTable& t : person_tables) *report.add_tables() = DataOf(t.name, t.table);
  return report;
}

bool SameCounts(const v1::StatisticsReport& a, const v1::StatisticsReport& b) {
  v1::StatisticsReport x = a;
  v1::StatisticsReport y = b;
  x.clear_counted_at();
  y.clear_counted_at();
  return x.SerializeAsString() == y.SerializeAsString();
}

absl::Status CheckStatisticsReport(const v1::StatisticsReport& report, const std::string& sender,
                                   const absl::TimeZone& zone) {
  if (report.node_id() != sender) {
    return BadReport(absl::StrCat("node_id must be the sender, ", sender));
  }
  if (!report.has_month_start() || !report.has_month_end() || !report.has_counted_at()) {
    return BadReport("month_start, month_end and counted_at are required");
  }
  const absl::Time start = FromProtoTime(report.month_start());
  const absl::CivilMonth month = absl::ToCivilMonth(start, zone);
  if (absl::FromCivil(month, zone) != start ||
      absl::FromCivil(month + 1, zone) != FromProtoTime(report.month_end())) {
    return BadReport("month_start and month_end must bound one calendar month (Europe/Rome)");
  }
  if (report.tables_size() > kMaxReportTables) {
    return BadReport(absl::StrCat("at most ", kMaxReportTables, " tables"));
  }
  std::set<std::string> names;
  int64_t sum = 0;
  for (const v1::CountTableData& t : report.tables()) {
    if (TextOf(t.name()) == nullptr || !names.insert(t.name()).second) {
      return BadReport("a table's name is unknown or repeated");
    }
    RETURN_IF_ERROR(CheckLabels(t.row_labels(), t.name(), "row"));
    RETURN_IF_ERROR(CheckLabels(t.column_labels(), t.name(), "column"));
    if (static_cast<int64_t>(t.counts_size()) !=
        static_cast<int64_t>(t.row_labels_size()) * t.column_labels_size()) {
      return BadReport(absl::StrCat("table ", t.name(), " needs one count per cell"));
    }
    for (int64_t count : t.counts()) {
      if (count < 0 || count > INT64_MAX - sum) {
        return BadReport(absl::StrCat("table ", t.name(), " has a negative or overflowing count"));
      }
      sum += count;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Statistics> BuildNationalStatistics(
    const std::vector<v1::StatisticsReport>& reports, const std::string& node,
    const StatisticsPeriod& period, absl::Time now, bool suppressed) {
  std::vector<const v1::StatisticsReport*> ordered;
  for (const v1::StatisticsReport& r : reports) ordered.push_back(&r);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    const absl::Time ma = FromProtoTime(a->month_start());
    const absl::Time mb = FromProtoTime(b->month_start());
    return ma != mb ? ma < mb : a->node_id() < b->node_id();
  });
  std::map<std::string, std::vector<stats::CountTable>> parts;
  v1::Statistics out;
  for (const v1::StatisticsReport* r : ordered) {
    for (const v1::CountTableData& data : r->tables()) {
      if (TextOf(data.name()) == nullptr) continue;
      ASSIGN_OR_RETURN(stats::CountTable table, TableFrom(data));
      parts[data.name()].push_back(std::move(table));
    }
    v1::StatisticsReportCoverage* coverage = out.add_reports();
    coverage->set_node_id(r->node_id());
    *coverage->mutable_month_start() = r->month_start();
    *coverage->mutable_counted_at() = r->counted_at();
  }
  out.set_node_id(node);
  out.set_national(true);
  *out.mutable_from() = ToProtoTime(period.from);
  *out.mutable_to() = ToProtoTime(period.to);
  *out.mutable_at() = ToProtoTime(now);
  out.set_suppressed(suppressed);
  out.set_k(stats::kMinPublishedCount);
  for (const TableText& text : kReportTables) {
    auto it = parts.find(text.name);
    if (it == parts.end()) continue;
    ASSIGN_OR_RETURN(stats::CountTable sum, stats::Sum(it->second));
    *out.add_tables() = PublishedTable(
        NamedTable{text.name, text.title, text.description, std::move(sum)}, suppressed);
  }
  return out;
}

}  // namespace mir::broker
