#ifndef MIR_STATS_TABLE_H_
#define MIR_STATS_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace mir::stats {

// A two-dimensional table of counts (persons, referrals, calls) with labelled
// rows and columns, and its margins: row totals, column totals and the grand
// total. A one-dimensional table is a table with one column.
//
// These are the true counts: a CountTable is never published as it is. What
// leaves a node goes through Suppress (stats/suppression.h) first, and only
// CountTables can be summed, so suppressed tables are never added up.
//
// Cells are never negative and the grand total always fits in int64_t, so
// every margin does too. A value type; not thread-safe for writes.
class CountTable {
 public:
  // A table of zeros. InvalidArgument if a label is empty or repeats within
  // its dimension. Zero rows or zero columns make a table with no cells.
  static absl::StatusOr<CountTable> Create(std::vector<std::string> row_labels,
                                           std::vector<std::string> column_labels);
  // A one-dimensional table: one row per label, one column `column_label`.
  static absl::StatusOr<CountTable> CreateOneDimensional(std::vector<std::string> labels,
                                                         std::string column_label = "count");

  size_t rows() const { return row_labels_.size(); }
  size_t cols() const { return column_labels_.size(); }
  const std::vector<std::string>& row_labels() const { return row_labels_; }
  const std::vector<std::string>& column_labels() const { return column_labels_; }
  std::optional<size_t> RowIndex(absl::string_view label) const;
  std::optional<size_t> ColumnIndex(absl::string_view label) const;

  // Requires row < rows() and col < cols().
  int64_t cell(size_t row, size_t col) const { return cells_[row * cols() + col]; }
  int64_t RowTotal(size_t row) const { return row_totals_[row]; }
  int64_t ColumnTotal(size_t col) const { return column_totals_[col]; }
  int64_t GrandTotal() const { return grand_total_; }

  // Sets one cell. InvalidArgument for a negative count or a position
  // outside the table; OutOfRange if the grand total would overflow. On
  // error the table is unchanged.
  absl::Status Set(size_t row, size_t col, int64_t count);
  // Adds `count` (>= 0) to the cell at (row label, column label). NotFound
  // for an unknown label; otherwise as Set.
  absl::Status Add(absl::string_view row_label, absl::string_view column_label, int64_t count);

 private:
  CountTable(std::vector<std::string> row_labels, std::vector<std::string> column_labels);

  std::vector<std::string> row_labels_;
  std::vector<std::string> column_labels_;
  std::vector<int64_t> cells_;  // row-major
  std::vector<int64_t> row_totals_;
  std::vector<int64_t> column_totals_;
  int64_t grand_total_ = 0;
};

// The cell-by-cell sum of `tables` (e.g. the national table from the regional
// ones). Labels are united: a row or column missing from one table counts as
// zeros there. Labels keep their order of first appearance, tables taken in
// order. InvalidArgument for no tables; OutOfRange if a count overflows.
// Sum the true counts and suppress the sum: suppressed inputs would lose
// cells and could be differenced against the published sum.
absl::StatusOr<CountTable> Sum(absl::Span<const CountTable> tables);

}  // namespace mir::stats

#endif  // MIR_STATS_TABLE_H_
