#ifndef MIR_CLIENT_STATISTICS_FORMAT_H_
#define MIR_CLIENT_STATISTICS_FORMAT_H_

// What `mirctl stats` prints (docs/MIRCTL.md): the node's statistics as
// aligned text tables, or as CSV. Hidden entries print as `*`, never a value
// (the node sends none). Pure; thread-safe.

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mir/v1/referrals.pb.h"

namespace mir::client {

// A heading (node, period, whether suppressed), then each table with its
// totals, its description, then the time to placement.
std::string FormatStatistics(const v1::Statistics& statistics);

// Each table as `# <title>` and the CSV the node rendered (stats::ToCsv),
// tables separated by a blank line; the time to placement last, as a table
// of its own. Raw counts carry a `# internal, not for publication` line first.
std::string StatisticsCsv(const v1::Statistics& statistics);

// "2026-03-01" as the start of that day in Europe/Rome. InvalidArgument
// naming `what` for another form; FAILED_PRECONDITION if the zone cannot be
// loaded.
absl::StatusOr<absl::Time> ParseStatisticsDate(const std::string& text, const std::string& what);

}  // namespace mir::client

#endif  // MIR_CLIENT_STATISTICS_FORMAT_H_
