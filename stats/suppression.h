#ifndef MIR_STATS_SUPPRESSION_H_
#define MIR_STATS_SUPPRESSION_H_

// Small-cell suppression for tables that leave a node or are published
// (docs/STATISTICS.md, "Suppression").
//
// A table is seen with its margins as an (rows + 1) x (cols + 1) grid: grid
// row `rows` holds the column totals, grid column `cols` the row totals, and
// (rows, cols) the grand total. Every grid row and every grid column is one
// published equation ("the cells add up to the total"), so margins are
// protected by the same rules as cells.
//
//  1. Primary: every entry, cell or margin, with 0 < count < k is hidden.
//     Zeros are published: a zero describes nobody, hiding zeros would hide
//     most of a sparse table, and a hidden zero protects nothing (see 2).
//  2. Complementary, for each primary entry in turn:
//     a. if the entries hidden so far already leave a reader unable to tell
//        it from 0 and from k (ConsistentTableWith, exact), nothing;
//     b. else the published entries of the cheapest cycle of entries (row,
//        column, row, ... back to it) along which it can move to 0 and to k
//        are hidden;
//     c. else (tiny tables) those of the cheapest cycle through it at all,
//        which leaves it undetermined but perhaps narrowly bounded.
//     Cheapest: cells before totals, the grand total last, then least total
//     count. Only entries > 0 are ever hidden, because nonnegativity lets a
//     reader pin down hidden entries of a line whose hidden part sums to 0.
//     Consequence: every grid row and column holding a hidden entry holds at
//     least two ("two per line"), the rule usually quoted.
//  3. Audit: AuditRecoverable solves the published equations exactly; while
//     it finds an entry, Suppress hides a cycle through it. Two per line
//     alone is not enough: linked lines can still determine an entry.
//
// What this does NOT protect against (docs/STATISTICS.md says more):
//  - bounds, in tables too small for 2b: a reader may narrow a hidden entry
//    to an interval (e.g. a 3 to "between 0 and 4") without naming it;
//  - differencing across tables: two tables of overlapping populations
//    (successive months, a total and a subtotal) are suppressed independently
//    and may reveal a cell together;
//  - group disclosure: a published 0 beside one large cell says that all of
//    that row share the column's attribute.
// Nor is it minimal: cycles are chosen one primary at a time, so a table may
// lose more than the least it could.

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "stats/table.h"

namespace mir::stats {

// Counts below this and above zero are never published (the threshold of the
// Counter-Trafficking Data Collaborative).
inline constexpr int kMinPublishedCount = 11;

// An entry of a table's grid with margins (see above).
struct Position {
  size_t row = 0;
  size_t col = 0;
  friend auto operator<=>(const Position&, const Position&) = default;
};

enum class Suppression {
  kPublished,
  kPrimary,        // 0 < count < k
  kComplementary,  // hidden so that a primary cannot be recovered
};

// A table and, for every entry of its grid, whether it is published. Holds
// the true counts: render it with ToCsv (stats/csv.h), which prints only what
// is published. Only Suppress's result is safe to publish; the other
// constructors exist to build and audit patterns.
class SuppressedTable {
 public:
  // Every entry published.
  SuppressedTable(CountTable table, int k);

  const CountTable& table() const { return table_; }
  int k() const { return k_; }
  size_t grid_rows() const { return table_.rows() + 1; }
  size_t grid_cols() const { return table_.cols() + 1; }
  bool IsTotal(Position p) const { return p.row == table_.rows() || p.col == table_.cols(); }

  // The true count at `p`, margins included. Requires p inside the grid.
  int64_t value(Position p) const;
  // Requires p inside the grid.
  Suppression state(Position p) const { return states_[p.row * grid_cols() + p.col]; }
  bool hidden(Position p) const { return state(p) != Suppression::kPublished; }
  // Hidden entries, row by row.
  std::vector<Position> Hidden() const;

  // Hides `p` for `why`. InvalidArgument if p is outside the grid or `why`
  // is kPublished (nothing is ever unhidden).
  absl::Status Hide(Position p, Suppression why);

 private:
  CountTable table_;
  int k_;
  std::vector<Suppression> states_;  // grid row-major
};

// Step 1 alone: every entry with 0 < count < k hidden, nothing else. NOT safe
// to publish; exists to show (and test) why step 2 is needed.
SuppressedTable SuppressPrimaryOnly(const CountTable& table, int k = kMinPublishedCount);

// Steps 1 to 3. Promises: every entry with 0 < count < k is hidden, no zero
// is hidden, AuditRecoverable finds nothing, and every primary entry that
// lies on some cycle of the table along which it could move to 0 and to k
// cannot be told from 0 nor from k by a reader. k <= 1 hides nothing.
SuppressedTable Suppress(const CountTable& table, int k = kMinPublishedCount);

// The hidden entries whose exact value follows from the published entries
// by the table's equations, row by row. Exact (Gaussian elimination over the
// integers; an entry is determined iff its unit vector lies in the row space
// of the equations restricted to the hidden entries). When every hidden entry
// is > 0, as Suppress ensures, knowing that counts are whole and nonnegative
// determines nothing more: the equations are totally unimodular, so every
// undetermined entry can move by +-1 along a cycle of hidden entries and stay
// a valid table (docs/STATISTICS.md, "The audit").
std::vector<Position> AuditRecoverable(const SuppressedTable& table);

// A true table that publishes exactly what `table` publishes and has `value`
// at entry `p`, or nullopt if there is none, i.e. if a reader of the
// published table can rule `value` out for p. Exact (a max-flow over the
// hidden entries): the values for which a table exists are the whole numbers
// of one interval, the most a reader can learn about p. The table returned
// is a witness anyone can check by publishing it the same way.
std::optional<CountTable> ConsistentTableWith(const SuppressedTable& table, Position p,
                                              int64_t value);

}  // namespace mir::stats

#endif  // MIR_STATS_SUPPRESSION_H_
