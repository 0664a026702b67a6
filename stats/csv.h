#ifndef MIR_STATS_CSV_H_
#define MIR_STATS_CSV_H_

#include <string>

#include "absl/strings/string_view.h"
#include "stats/suppression.h"

namespace mir::stats {

// What a hidden entry prints as. The same for primary and complementary
// suppressions, and no "<11": the marker must not tell a reader which
// hidden entries are the small ones.
inline constexpr absl::string_view kSuppressedMarker = "*";
// The label of the totals row and the totals column.
inline constexpr absl::string_view kTotalLabel = "total";

// The published table as CSV (RFC 4180, "\n" line ends): a header row of an
// empty corner, the column labels and kTotalLabel; one row per table row,
// its label, its cells and its total; then the totals row. Hidden entries
// print as kSuppressedMarker, never their value. A one-column table has no
// totals column and a one-row table no totals row (they would repeat the
// cells; suppression hides them together). Labels that a spreadsheet would
// run as a formula (leading = + - @) are prefixed with '.
std::string ToCsv(const SuppressedTable& table);

}  // namespace mir::stats

#endif  // MIR_STATS_CSV_H_
