#ifndef MIR_BROKER_NATIONAL_STATISTICS_H_
#define MIR_BROKER_NATIONAL_STATISTICS_H_

// The national picture (PROTOCOL.md §16, docs/STATISTICS.md "National
// statistics"): each node counts one calendar month of what it opened and
// took into a StatisticsReport (counts only, never rows) and sends it to the
// national node, which sums the reports table by table and suppresses the
// sum, never the parts. Pure functions, no I/O. Thread-safe.

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "broker/referral_demographics.h"
#include "broker/statistics.h"
#include "mir/v1/referrals.pb.h"
#include "storage/store.h"

namespace mir::broker {

// How many calendar months a node reports, this one included: a year back,
// so that a late event still reaches the national table of its month.
inline constexpr int kStatisticsReportMonths = 13;

// Limits of a report a node takes in.
inline constexpr int kMaxReportTables = 32;
// Per dimension of one table: above the 249 ISO 3166-1 codes, so that a
// nationality table always fits.
inline constexpr int kMaxReportLabels = 300;
inline constexpr size_t kMaxReportLabelBytes = 64;

// The report of `node` for `month` (one calendar month in `zone`): each
// referral counted by the node that opened it (origin == node), each
// contact by the node that took it, each mediator intervention by the node
// that served it; outcomes as of min(month.to, now). `facts`, `contacts`
// and `services` may hold other months and origins; only the month's and
// the node's own are counted. Tables, in order: mir_by_month,
// origin_destination, rejection_reasons, emergencies_by_hour,
// contacts_by_month, contacts_by_channel, contacts_by_reporter_type,
// contacts_by_reason, mediator_interventions_by_language, mir_by_gender,
// mir_by_age_band, mir_by_nationality, mir_by_exploitation (`demographics`
// of the facts, by referral id: broker/referral_demographics.h).
absl::StatusOr<v1::StatisticsReport> BuildStatisticsReport(
    const std::vector<storage::ReferralFact>& facts,
    const std::vector<storage::ReportRecord>& contacts,
    const std::vector<storage::ServiceRequestRecord>& services,
    const std::map<std::string, ReferralDemographics>& demographics, const std::string& node,
    const StatisticsPeriod& month, absl::Time now, const absl::TimeZone& zone);

// Whether two reports count the same (their counted_at aside): a node sends
// a month again only when its counts changed.
bool SameCounts(const v1::StatisticsReport& a, const v1::StatisticsReport& b);

// A received report, checked (INVALID_ARGUMENT INVALID_FIELD naming what is
// wrong): sent by `sender` about itself; month_start the first instant of a
// month in `zone` and month_end the first of the next; counted_at set; at
// most kMaxReportTables tables with the names BuildStatisticsReport makes,
// once each; labels non-empty, unique within their dimension, at most
// kMaxReportLabels of at most kMaxReportLabelBytes bytes; one count per
// cell, none negative, their sum within int64.
absl::Status CheckStatisticsReport(const v1::StatisticsReport& report, const std::string& sender,
                                   const absl::TimeZone& zone);

// The national statistics of `period`: for each table name, the cell-by-cell
// sum (stats::Sum) of that table in every report in `reports`, taken by
// month then node, suppressed (k = 11) when `suppressed`. `node` is the
// national node's id. Each summed report is listed in `reports` of the
// answer. No time to placement: a report carries no durations.
absl::StatusOr<v1::Statistics> BuildNationalStatistics(
    const std::vector<v1::StatisticsReport>& reports, const std::string& node,
    const StatisticsPeriod& period, absl::Time now, bool suppressed);

}  // namespace mir::broker

#endif  // MIR_BROKER_NATIONAL_STATISTICS_H_
