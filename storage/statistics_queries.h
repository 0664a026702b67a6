#ifndef MIR_STORAGE_STATISTICS_QUERIES_H_
#define MIR_STORAGE_STATISTICS_QUERIES_H_

// Internal to storage/: the per-referral facts that statistics are counted
// from (Store::ReferralFacts, docs/STATISTICS.md "What is counted"), on the
// caller's connection. One SELECT, so one snapshot. And the monthly reports
// the national statistics are summed from (PROTOCOL.md §16).

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage::statistics {

// The referrals created in [from, to), oldest first.
absl::StatusOr<std::vector<ReferralFact>> Facts(Db& db, absl::Time from, absl::Time to);

// The rejection code at the start of an event's reason ("REJECTION_NO_PLACES"
// or "REJECTION_OTHER: text"); UNSPECIFIED if it names none. Never returns
// the free text.
v1::RejectionReason RejectionReasonOf(const std::string& event_reason);

// statistics_reports (schema v13), as Store and Txn describe them.
absl::StatusOr<std::optional<StatisticsReportRecord>> GetReport(Db& db, const std::string& node_id,
                                                                absl::Time month_start);
absl::StatusOr<bool> PutReport(Db& db, const StatisticsReportRecord& record);
absl::StatusOr<std::vector<StatisticsReportRecord>> Reports(Db& db, absl::Time from, absl::Time to);

}  // namespace mir::storage::statistics

#endif  // MIR_STORAGE_STATISTICS_QUERIES_H_
