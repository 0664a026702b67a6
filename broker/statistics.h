#ifndef MIR_BROKER_STATISTICS_H_
#define MIR_BROKER_STATISTICS_H_

// The MIR statistics of one node (Referrals.GetStatistics): count tables
// built from the per-referral facts its store holds (Store::ReferralFacts),
// then suppressed with stats::Suppress unless the caller asked for raw
// counts. What each table counts is docs/STATISTICS.md, "What is counted".
// Pure functions, no I/O: testable without a store or gRPC. Thread-safe.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mir/v1/referrals.pb.h"
#include "stats/table.h"
#include "storage/store.h"

namespace mir::broker {

// The longest period one request may cover.
inline constexpr int kMaxStatisticsMonths = 120;

// Months and hours are counted in this zone.
inline constexpr char kStatisticsTimeZone[] = "Europe/Rome";

// The zone of kStatisticsTimeZone; FAILED_PRECONDITION if it cannot be
// loaded (tzdata missing): counting in UTC instead would silently move
// referrals between months and hours.
absl::StatusOr<absl::TimeZone> StatisticsTimeZone();

struct StatisticsPeriod {
  absl::Time from;  // inclusive
  absl::Time to;    // exclusive
};

// The period `request` asks for, its defaults filled in (referrals.proto
// StatisticsRequest): `to` unset is the start of the month after `now`'s,
// `from` unset the first of January of the year holding the period's last
// instant. INVALID_ARGUMENT INVALID_FIELD unless from < to and the period
// spans at most kMaxStatisticsMonths months.
absl::StatusOr<StatisticsPeriod> StatisticsPeriodOf(const v1::StatisticsRequest& request,
                                                    absl::Time now, const absl::TimeZone& zone);

// The outcome of a referral as it stood at `cutoff`: "closed positive",
// "closed negative" or "pending" (docs/STATISTICS.md, "Outcome").
const char* OutcomeAt(const storage::ReferralFact& f, absl::Time cutoff);
// Those three, in that order: the columns of the MIR tables.
std::vector<std::string> OutcomeColumns();

// One table's true counts and how it is shown.
struct NamedTable {
  std::string name;  // stable id, e.g. "mir_by_month_outbound"
  std::string title;
  std::string description;
  stats::CountTable table;
};

// The tables of docs/STATISTICS.md, in this order: mir_by_month_outbound,
// mir_by_month_inbound, origin_destination, rejection_reasons,
// emergencies_by_hour. `facts` are the referrals created in `period`;
// outcomes are as of min(period.to, now). `node` is this node's id.
absl::StatusOr<std::vector<NamedTable>> BuildStatisticsTables(
    const std::vector<storage::ReferralFact>& facts, const std::string& node,
    const StatisticsPeriod& period, absl::Time now, const absl::TimeZone& zone);

// Hours from SUBMITTED to PLACEMENT_CONFIRMED of the facts confirmed before
// min(period.to, now), ascending.
std::vector<double> HoursToPlacement(const std::vector<storage::ReferralFact>& facts,
                                     const StatisticsPeriod& period, absl::Time now);

// `named` as it is answered: through stats::Suppress (k = 11) when
// `suppressed`, a hidden entry carrying no value, with its published CSV.
v1::StatisticsTable PublishedTable(const NamedTable& named, bool suppressed);

// The answer to GetStatistics: every table through stats::Suppress (k = 11)
// when `suppressed`, a hidden entry carrying no value; the time to placement
// published only for n >= 11 when `suppressed` (median and p90 by nearest
// rank). `suppressed` false: the true counts, for this node's operators
// only, internal, not for publication.
// `contacts`, the citizen reports recorded in `period`, add the contact
// tables (broker/contact_statistics.h) after the MIR ones; `services`, this
// node's service requests, the mediator table (broker/service_statistics.h);
// `person_tables` (broker/referral_demographics.h, built from `facts`)
// come last.
absl::StatusOr<v1::Statistics> BuildStatistics(
    const std::vector<storage::ReferralFact>& facts, const std::string& node,
    const StatisticsPeriod& period, absl::Time now, const absl::TimeZone& zone, bool suppressed,
    const std::vector<storage::ReportRecord>& contacts = {},
    const std::vector<storage::ServiceRequestRecord>& services = {},
    std::vector<NamedTable> person_tables = {});

}  // namespace mir::broker

#endif  // MIR_BROKER_STATISTICS_H_
