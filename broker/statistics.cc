#include "broker/statistics.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "broker/contact_statistics.h"
#include "broker/service_statistics.h"
#include "common/errors.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "stats/csv.h"
#include "stats/suppression.h"

namespace mir::broker {
namespace {

constexpr char kClosedPositive[] = "closed positive";
constexpr char kClosedNegative[] = "closed negative";
constexpr char kPending[] = "pending";

absl::Status BadPeriod(absl::string_view message) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD, message);
}

bool IsClosedNegative(v1::ReferralState state) {
  return state == v1::REJECTED || state == v1::CLOSED_NEGATIVE || state == v1::WITHDRAWN;
}

absl::CivilMonth LastMonth(const StatisticsPeriod& period, const absl::TimeZone& zone) {
  return absl::ToCivilMonth(period.to - absl::Microseconds(1), zone);
}

absl::StatusOr<NamedTable> ByMonth(const std::vector<storage::ReferralFact>& facts,
                                   const StatisticsPeriod& period, absl::Time cutoff,
                                   const absl::TimeZone& zone, bool outbound,
                                   const std::string& node) {
  std::vector<std::string> months;
  for (absl::CivilMonth m = absl::ToCivilMonth(period.from, zone); m <= LastMonth(period, zone);
       ++m) {
    months.push_back(absl::FormatCivilTime(m));
  }
  ASSIGN_OR_RETURN(
      stats::CountTable table,
      stats::CountTable::Create(std::move(months), {kClosedPositive, kClosedNegative, kPending}));
  for (const storage::ReferralFact& f : facts) {
    const bool mine =
        outbound ? f.origin_node == node : f.destination_node == node && f.origin_node != node;
    if (!mine) continue;
    RETURN_IF_ERROR(table.Add(absl::FormatCivilTime(absl::ToCivilMonth(f.created_at, zone)),
                              OutcomeAt(f, cutoff), 1));
  }
  const char* direction = outbound ? "outbound" : "inbound";
  return NamedTable{
      absl::StrCat("mir_by_month_", direction),
      absl::StrCat("MIR ", direction, " by month opened and outcome"),
      absl::StrCat("Referrals ", outbound ? "this node sent (origin here)" : "sent to this node",
                   ", by the month (", kStatisticsTimeZone,
                   ") they were opened (SUBMITTED) and their outcome at the end of the period: "
                   "closed positive = PLACEMENT_CONFIRMED or CLOSED_POSITIVE, closed negative = "
                   "REJECTED, CLOSED_NEGATIVE or WITHDRAWN, pending = still open. A row's total "
                   "is the MIR opened that month."),
      std::move(table)};
}

absl::StatusOr<NamedTable> OriginDestination(const std::vector<storage::ReferralFact>& facts) {
  std::set<std::string> origins;
  std::set<std::string> destinations;
  for (const storage::ReferralFact& f : facts) {
    origins.insert(f.origin_node);
    destinations.insert(f.destination_node);
  }
  ASSIGN_OR_RETURN(stats::CountTable table,
                   stats::CountTable::Create({origins.begin(), origins.end()},
                                             {destinations.begin(), destinations.end()}));
  for (const storage::ReferralFact& f : facts) {
    RETURN_IF_ERROR(table.Add(f.origin_node, f.destination_node, 1));
  }
  return NamedTable{"origin_destination", "MIR by origin and destination node",
                    "Referrals opened in the period that this node holds (sent, received or "
                    "routed), rows the origin node, columns the destination node as this node "
                    "knows it (routed on: the new destination).",
                    std::move(table)};
}

absl::StatusOr<NamedTable> RejectionReasons(const std::vector<storage::ReferralFact>& facts,
                                            absl::Time cutoff) {
  std::vector<std::string> reasons;
  for (int r = v1::RejectionReason_MIN; r <= v1::RejectionReason_MAX; ++r) {
    if (r == v1::REJECTION_REASON_UNSPECIFIED || !v1::RejectionReason_IsValid(r)) continue;
    reasons.push_back(v1::RejectionReason_Name(static_cast<v1::RejectionReason>(r)));
  }
  ASSIGN_OR_RETURN(stats::CountTable table,
                   stats::CountTable::CreateOneDimensional(std::move(reasons)));
  for (const storage::ReferralFact& f : facts) {
    if (f.state != v1::REJECTED || !f.closed_at.has_value() || *f.closed_at >= cutoff) continue;
    // A reason this build cannot read counts as OTHER rather than vanishing.
    const v1::RejectionReason reason = f.rejection_reason == v1::REJECTION_REASON_UNSPECIFIED
                                           ? v1::REJECTION_OTHER
                                           : f.rejection_reason;
    RETURN_IF_ERROR(table.Add(v1::RejectionReason_Name(reason), "count", 1));
  }
  return NamedTable{"rejection_reasons", "MIR rejected, by reason",
                    "Referrals opened in the period and REJECTED by the end of it, by the "
                    "rejection reason code of the REJECTED status change (never its text).",
                    std::move(table)};
}

absl::StatusOr<NamedTable> EmergenciesByHour(const std::vector<storage::ReferralFact>& facts,
                                             const absl::TimeZone& zone) {
  std::vector<std::string> hours;
  for (int h = 0; h < 24; ++h) hours.push_back(absl::StrFormat("%02d", h));
  ASSIGN_OR_RETURN(stats::CountTable table,
                   stats::CountTable::CreateOneDimensional(std::move(hours)));
  for (const storage::ReferralFact& f : facts) {
    if (f.urgency != v1::URGENCY_EMERGENCY_24H) continue;
    const int hour = absl::ToCivilHour(f.created_at, zone).hour();
    RETURN_IF_ERROR(table.Add(absl::StrFormat("%02d", hour), "count", 1));
  }
  return NamedTable{"emergencies_by_hour", "Emergency activations by hour of day",
                    absl::StrCat("URGENCY_EMERGENCY_24H referrals opened in the period, by the "
                                 "hour of day (",
                                 kStatisticsTimeZone, ") they were opened."),
                    std::move(table)};
}

v1::StatisticsCell CellOf(const stats::SuppressedTable& t, stats::Position p) {
  v1::StatisticsCell cell;
  // A hidden entry carries no value: the client could not be trusted to hide it.
  if (t.hidden(p)) {
    cell.set_hidden(true);
  } else {
    cell.set_value(t.value(p));
  }
  return cell;
}

v1::StatisticsTable TableOf(const NamedTable& named, const stats::SuppressedTable& t) {
  v1::StatisticsTable out;
  out.set_name(named.name);
  out.set_title(named.title);
  out.set_description(named.description);
  const stats::CountTable& table = t.table();
  for (const std::string& label : table.column_labels()) out.add_column_labels(label);
  for (size_t r = 0; r < table.rows(); ++r) {
    v1::StatisticsRow* row = out.add_rows();
    row->set_label(table.row_labels()[r]);
    for (size_t c = 0; c < table.cols(); ++c) *row->add_cells() = CellOf(t, {r, c});
    *row->mutable_total() = CellOf(t, {r, table.cols()});
  }
  for (size_t c = 0; c < table.cols(); ++c) {
    *out.add_column_totals() = CellOf(t, {table.rows(), c});
  }
  *out.mutable_grand_total() = CellOf(t, {table.rows(), table.cols()});
  out.set_csv(stats::ToCsv(t));
  return out;
}

// Nearest rank: the smallest value with at least `percent` % of the values
// at or below it. Requires a sorted, non-empty `values`. Integer arithmetic:
// 0.9 * n in floating point may round up past a whole rank.
double Percentile(const std::vector<double>& values, size_t percent) {
  const size_t rank = (percent * values.size() + 99) / 100;
  return values[std::max<size_t>(rank, 1) - 1];
}

}  // namespace

// Terminal states are final, so a referral in one reached it at
// `closed_at`; a confirmed placement withdrawn later counts as positive
// until then.
const char* OutcomeAt(const storage::ReferralFact& f, absl::Time cutoff) {
  const bool closed = f.closed_at.has_value() && *f.closed_at < cutoff;
  if (closed && IsClosedNegative(f.state)) return kClosedNegative;
  if (f.confirmed_at.has_value() && *f.confirmed_at < cutoff) return kClosedPositive;
  if (closed && f.state == v1::CLOSED_POSITIVE) return kClosedPositive;
  return kPending;
}

std::vector<std::string> OutcomeColumns() { return {kClosedPositive, kClosedNegative, kPending}; }

absl::StatusOr<absl::TimeZone> StatisticsTimeZone() {
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(kStatisticsTimeZone, &zone)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load the time zone ", kStatisticsTimeZone,
                     " that statistics are counted in (is the tzdata package installed?)"));
  }
  return zone;
}

absl::StatusOr<StatisticsPeriod> StatisticsPeriodOf(const v1::StatisticsRequest& request,
                                                    absl::Time now, const absl::TimeZone& zone) {
  StatisticsPeriod period;
  period.to = request.has_to() ? FromProtoTime(request.to())
                               : absl::FromCivil(absl::ToCivilMonth(now, zone) + 1, zone);
  period.from =
      request.has_from()
          ? FromProtoTime(request.from())
          : absl::FromCivil(absl::ToCivilYear(period.to - absl::Microseconds(1), zone), zone);
  if (period.from >= period.to) return BadPeriod("the period's from must be before its to");
  const int64_t months = LastMonth(period, zone) - absl::ToCivilMonth(period.from, zone) + 1;
  if (months > kMaxStatisticsMonths) {
    return BadPeriod(absl::StrCat("the period spans ", months, " months; at most ",
                                  kMaxStatisticsMonths, " may be asked for at once"));
  }
  return period;
}

absl::StatusOr<std::vector<NamedTable>> BuildStatisticsTables(
    const std::vector<storage::ReferralFact>& facts, const std::string& node,
    const StatisticsPeriod& period, absl::Time now, const absl::TimeZone& zone) {
  const absl::Time cutoff = std::min(period.to, now);
  std::vector<NamedTable> tables;
  for (bool outbound : {true, false}) {
    ASSIGN_OR_RETURN(NamedTable t, ByMonth(facts, period, cutoff, zone, outbound, node));
    tables.push_back(std::move(t));
  }
  ASSIGN_OR_RETURN(NamedTable matrix, OriginDestination(facts));
  tables.push_back(std::move(matrix));
  ASSIGN_OR_RETURN(NamedTable reasons, RejectionReasons(facts, cutoff));
  tables.push_back(std::move(reasons));
  ASSIGN_OR_RETURN(NamedTable hours, EmergenciesByHour(facts, zone));
  tables.push_back(std::move(hours));
  return tables;
}

std::vector<double> HoursToPlacement(const std::vector<storage::ReferralFact>& facts,
                                     const StatisticsPeriod& period, absl::Time now) {
  const absl::Time cutoff = std::min(period.to, now);
  std::vector<double> hours;
  for (const storage::ReferralFact& f : facts) {
    if (!f.confirmed_at.has_value() || *f.confirmed_at >= cutoff) continue;
    hours.push_back(absl::ToDoubleHours(*f.confirmed_at - f.created_at));
  }
  std::sort(hours.begin(), hours.end());
  return hours;
}

v1::StatisticsTable PublishedTable(const NamedTable& named, bool suppressed) {
  const stats::SuppressedTable shown =
      suppressed ? stats::Suppress(named.table)
                 : stats::SuppressedTable(named.table, stats::kMinPublishedCount);
  return TableOf(named, shown);
}

absl::StatusOr<v1::Statistics> BuildStatistics(
    const std::vector<storage::ReferralFact>& facts, const std::string& node,
    const StatisticsPeriod& period, absl::Time now, const absl::TimeZone& zone, bool suppressed,
    const std::vector<storage::ReportRecord>& contacts,
    const std::vector<storage::ServiceRequestRecord>& services,
    std::vector<NamedTable> person_tables) {
  ASSIGN_OR_RETURN(std::vector<NamedTable> tables,
                   BuildStatisticsTables(facts, node, period, now, zone));
  ASSIGN_OR_RETURN(std::vector<NamedTable> contact_tables,
                   BuildContactTables(contacts, node, period, zone));
  for (NamedTable& t : contact_tables) tables.push_back(std::move(t));
  ASSIGN_OR_RETURN(NamedTable mediators, BuildMediatorTable(services, period));
  tables.push_back(std::move(mediators));
  for (NamedTable& t : person_tables) tables.push_back(std::move(t));
  v1::Statistics out;
  out.set_node_id(node);
  *out.mutable_from() = ToProtoTime(period.from);
  *out.mutable_to() = ToProtoTime(period.to);
  *out.mutable_at() = ToProtoTime(now);
  out.set_suppressed(suppressed);
  out.set_k(stats::kMinPublishedCount);
  for (const NamedTable& named : tables) {
    *out.add_tables() = PublishedTable(named, suppressed);
  }
  const std::vector<double> hours = HoursToPlacement(facts, period, now);
  const auto n = static_cast<int64_t>(hours.size());
  v1::TimeToPlacement* placement = out.mutable_time_to_placement();
  if (suppressed && n > 0 && n < stats::kMinPublishedCount) {
    placement->set_n_hidden(true);
  } else {
    placement->set_n(n);
  }
  if (n > 0 && (!suppressed || n >= stats::kMinPublishedCount)) {
    placement->set_published(true);
    placement->set_median_hours(Percentile(hours, 50));
    placement->set_p90_hours(Percentile(hours, 90));
  }
  return out;
}

}  // namespace mir::broker
