#include "stats/table.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace mir::stats {
namespace {

absl::Status CheckLabels(const std::vector<std::string>& labels, absl::string_view dimension) {
  absl::flat_hash_map<absl::string_view, size_t> seen;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("empty ", dimension, " label at ", i));
    }
    if (!seen.emplace(labels[i], i).second) {
      // Two rows with one label could not be told apart, nor summed.
      return absl::InvalidArgumentError(
          absl::StrCat("repeated ", dimension, " label \"", labels[i], "\""));
    }
  }
  return absl::OkStatus();
}

std::optional<size_t> IndexOf(const std::vector<std::string>& labels, absl::string_view label) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == label) return i;
  }
  return std::nullopt;
}

// Labels of `into`, then those of `from` it lacks, in order.
void Unite(std::vector<std::string>& into, const std::vector<std::string>& from) {
  for (const std::string& label : from) {
    if (!IndexOf(into, label).has_value()) into.push_back(label);
  }
}

}  // namespace

CountTable::CountTable(std::vector<std::string> row_labels, std::vector<std::string> column_labels)
    : row_labels_(std::move(row_labels)),
      column_labels_(std::move(column_labels)),
      cells_(row_labels_.size() * column_labels_.size(), 0),
      row_totals_(row_labels_.size(), 0),
      column_totals_(column_labels_.size(), 0) {}

absl::StatusOr<CountTable> CountTable::Create(std::vector<std::string> row_labels,
                                              std::vector<std::string> column_labels) {
  if (absl::Status s = CheckLabels(row_labels, "row"); !s.ok()) return s;
  if (absl::Status s = CheckLabels(column_labels, "column"); !s.ok()) return s;
  return CountTable(std::move(row_labels), std::move(column_labels));
}

absl::StatusOr<CountTable> CountTable::CreateOneDimensional(std::vector<std::string> labels,
                                                            std::string column_label) {
  return Create(std::move(labels), {std::move(column_label)});
}

std::optional<size_t> CountTable::RowIndex(absl::string_view label) const {
  return IndexOf(row_labels_, label);
}

std::optional<size_t> CountTable::ColumnIndex(absl::string_view label) const {
  return IndexOf(column_labels_, label);
}

absl::Status CountTable::Set(size_t row, size_t col, int64_t count) {
  if (row >= rows() || col >= cols()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cell (", row, ", ", col, ") outside a ", rows(), "x", cols(), " table"));
  }
  if (count < 0) return absl::InvalidArgumentError("a count cannot be negative");
  int64_t& cell = cells_[row * cols() + col];
  // Every margin is at most the grand total, so checking it is enough.
  int64_t grand = 0;
  if (__builtin_add_overflow(grand_total_ - cell, count, &grand)) {
    return absl::OutOfRangeError("the grand total would overflow");
  }
  const int64_t delta = count - cell;
  cell = count;
  row_totals_[row] += delta;
  column_totals_[col] += delta;
  grand_total_ = grand;
  return absl::OkStatus();
}

absl::Status CountTable::Add(absl::string_view row_label, absl::string_view column_label,
                             int64_t count) {
  const std::optional<size_t> row = RowIndex(row_label);
  const std::optional<size_t> col = ColumnIndex(column_label);
  if (!row.has_value() || !col.has_value()) {
    return absl::NotFoundError(absl::StrCat("no cell (", row_label, ", ", column_label, ")"));
  }
  if (count < 0) return absl::InvalidArgumentError("a count cannot be negative");
  int64_t sum = 0;
  if (__builtin_add_overflow(cell(*row, *col), count, &sum)) {
    return absl::OutOfRangeError("the count would overflow");
  }
  return Set(*row, *col, sum);
}

absl::StatusOr<CountTable> Sum(absl::Span<const CountTable> tables) {
  if (tables.empty()) return absl::InvalidArgumentError("no tables to sum");
  std::vector<std::string> row_labels;
  std::vector<std::string> column_labels;
  for (const CountTable& t : tables) {
    Unite(row_labels, t.row_labels());
    Unite(column_labels, t.column_labels());
  }
  absl::StatusOr<CountTable> sum = CountTable::Create(row_labels, column_labels);
  if (!sum.ok()) return sum.status();
  for (const CountTable& t : tables) {
    for (size_t r = 0; r < t.rows(); ++r) {
      for (size_t c = 0; c < t.cols(); ++c) {
        if (t.cell(r, c) == 0) continue;
        if (absl::Status s = sum->Add(t.row_labels()[r], t.column_labels()[c], t.cell(r, c));
            !s.ok()) {
          return s;
        }
      }
    }
  }
  return sum;
}

}  // namespace mir::stats
