#include "stats/csv.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace mir::stats {
namespace {

std::string Field(absl::string_view text) {
  // A spreadsheet runs a cell starting with one of these as a formula.
  const bool formula =
      !text.empty() && absl::string_view("=+-@").find(text[0]) != absl::string_view::npos;
  // StrCat, not std::string::insert: g++ 12 reports a false -Wrestrict there.
  std::string out = absl::StrCat(formula ? "'" : "", text);
  if (out.find_first_of(",\"\r\n") != std::string::npos) {
    out = absl::StrCat("\"", absl::StrReplaceAll(out, {{"\"", "\"\""}}), "\"");
  }
  return out;
}

std::string Entry(const SuppressedTable& t, Position p) {
  return t.hidden(p) ? std::string(kSuppressedMarker) : absl::StrCat(t.value(p));
}

}  // namespace

std::string ToCsv(const SuppressedTable& t) {
  const CountTable& table = t.table();
  const bool totals_column = table.cols() != 1;
  const bool totals_row = table.rows() != 1;
  const size_t last_col = totals_column ? table.cols() : table.cols() - 1;
  std::string out;
  std::vector<std::string> fields = {""};
  for (const std::string& label : table.column_labels()) fields.push_back(Field(label));
  if (totals_column) fields.push_back(std::string(kTotalLabel));
  absl::StrAppend(&out, absl::StrJoin(fields, ","), "\n");
  for (size_t r = 0; r <= table.rows(); ++r) {
    if (r == table.rows() && !totals_row) break;
    fields = {r < table.rows() ? Field(table.row_labels()[r]) : std::string(kTotalLabel)};
    for (size_t c = 0; c <= last_col; ++c) fields.push_back(Entry(t, {r, c}));
    absl::StrAppend(&out, absl::StrJoin(fields, ","), "\n");
  }
  return out;
}

}  // namespace mir::stats
