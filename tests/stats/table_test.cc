// Count tables: margins, validation, and the national table as the sum of
// regional ones with their labels united.

#include "stats/table.h"

#include <functional>
#include <limits>
#include <type_traits>

#include "stats/csv.h"
#include "stats/suppression.h"
#include "tests/testing/test_env.h"

namespace mir::stats {
namespace {

using ::absl::StatusCode;
using ::mir::testing::StatusIs;
using ::testing::ElementsAre;

CountTable Make(std::vector<std::string> rows, std::vector<std::string> cols,
                const std::vector<std::vector<int64_t>>& cells) {
  absl::StatusOr<CountTable> t = CountTable::Create(std::move(rows), std::move(cols));
  EXPECT_OK(t);
  for (size_t r = 0; r < cells.size(); ++r) {
    for (size_t c = 0; c < cells[r].size(); ++c) EXPECT_OK(t->Set(r, c, cells[r][c]));
  }
  return *std::move(t);
}

TEST(CountTableTest, MarginsFollowTheCells) {
  CountTable t = Make({"a", "b"}, {"x", "y", "z"}, {{1, 2, 3}, {10, 20, 30}});
  EXPECT_EQ(t.RowTotal(0), 6);
  EXPECT_EQ(t.RowTotal(1), 60);
  EXPECT_EQ(t.ColumnTotal(0), 11);
  EXPECT_EQ(t.ColumnTotal(2), 33);
  EXPECT_EQ(t.GrandTotal(), 66);
  ASSERT_OK(t.Set(1, 2, 0));  // overwrite, not add
  EXPECT_EQ(t.RowTotal(1), 30);
  EXPECT_EQ(t.ColumnTotal(2), 3);
  EXPECT_EQ(t.GrandTotal(), 36);
  ASSERT_OK(t.Add("a", "x", 4));
  EXPECT_EQ(t.cell(0, 0), 5);
  EXPECT_EQ(t.GrandTotal(), 40);
}

TEST(CountTableTest, OneDimensionalIsOneColumn) {
  absl::StatusOr<CountTable> t = CountTable::CreateOneDimensional({"FEMALE", "MALE"}, "persons");
  ASSERT_OK(t);
  EXPECT_EQ(t->cols(), 1u);
  EXPECT_THAT(t->column_labels(), ElementsAre("persons"));
  ASSERT_OK(t->Set(0, 0, 7));
  ASSERT_OK(t->Set(1, 0, 5));
  EXPECT_EQ(t->RowTotal(0), 7);  // a row total is its one cell
  EXPECT_EQ(t->ColumnTotal(0), 12);
  EXPECT_EQ(t->GrandTotal(), 12);
}

TEST(CountTableTest, MalformedInputIsRefusedAndLeavesTheTableAsItWas) {
  struct Case {
    std::string name;
    std::function<absl::Status(CountTable&)> mutation;
    StatusCode code;
  };
  const std::vector<Case> cases = {
      {"negative count", [](CountTable& t) { return t.Set(0, 0, -1); },
       StatusCode::kInvalidArgument},
      {"negative add", [](CountTable& t) { return t.Add("a", "x", -2); },
       StatusCode::kInvalidArgument},
      {"row outside", [](CountTable& t) { return t.Set(2, 0, 1); }, StatusCode::kInvalidArgument},
      {"column outside", [](CountTable& t) { return t.Set(0, 2, 1); },
       StatusCode::kInvalidArgument},
      {"unknown row label", [](CountTable& t) { return t.Add("c", "x", 1); },
       StatusCode::kNotFound},
      {"unknown column label", [](CountTable& t) { return t.Add("a", "w", 1); },
       StatusCode::kNotFound},
      {"grand total overflows",
       [](CountTable& t) { return t.Set(1, 1, std::numeric_limits<int64_t>::max()); },
       StatusCode::kOutOfRange},
      {"cell overflows",
       [](CountTable& t) { return t.Add("a", "x", std::numeric_limits<int64_t>::max()); },
       StatusCode::kOutOfRange},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CountTable t = Make({"a", "b"}, {"x", "y"}, {{1, 2}, {3, 4}});
    EXPECT_THAT(c.mutation(t), StatusIs(c.code));
    EXPECT_EQ(t.cell(0, 0), 1);
    EXPECT_EQ(t.cell(1, 1), 4);
    EXPECT_EQ(t.GrandTotal(), 10);
  }
}

TEST(CountTableTest, BadLabelsAreRefused) {
  EXPECT_THAT(MIR_STATUS(CountTable::Create({"a", "a"}, {"x"})),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MIR_STATUS(CountTable::Create({"a"}, {"x", "x"})),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MIR_STATUS(CountTable::Create({"a", ""}, {"x"})),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MIR_STATUS(CountTable::CreateOneDimensional({"a"}, "")),
              StatusIs(StatusCode::kInvalidArgument));
  // One label may name a row and a column.
  EXPECT_OK(CountTable::Create({"a"}, {"a"}));
}

// Three regions count referrals by exploitation type (rows) and gender
// (columns), each with only the labels it saw: the national table has every
// label, and each cell is the sum of the regions' cells (0 where a region
// lacks the label).
TEST(SumTest, NationalTableIsTheCellBySumOfTheRegionalReports) {
  const CountTable toscana =
      Make({"SEXUAL_STREET", "LABOUR"}, {"FEMALE", "MALE"}, {{40, 3}, {5, 22}});
  const CountTable lombardia =
      Make({"LABOUR", "FORCED_BEGGING"}, {"MALE", "TRANSGENDER"}, {{30, 0}, {4, 2}});
  const CountTable veneto = Make({"SEXUAL_STREET", "FORCED_BEGGING", "DOMESTIC_SERVITUDE"},
                                 {"FEMALE", "MALE"}, {{25, 1}, {6, 5}, {9, 0}});
  const std::vector<CountTable> regions = {toscana, lombardia, veneto};
  absl::StatusOr<CountTable> national = Sum(regions);
  ASSERT_OK(national);
  EXPECT_THAT(national->row_labels(),
              ElementsAre("SEXUAL_STREET", "LABOUR", "FORCED_BEGGING", "DOMESTIC_SERVITUDE"));
  EXPECT_THAT(national->column_labels(), ElementsAre("FEMALE", "MALE", "TRANSGENDER"));

  for (size_t r = 0; r < national->rows(); ++r) {
    for (size_t c = 0; c < national->cols(); ++c) {
      int64_t expected = 0;
      for (const CountTable& region : regions) {
        const auto row = region.RowIndex(national->row_labels()[r]);
        const auto col = region.ColumnIndex(national->column_labels()[c]);
        if (row.has_value() && col.has_value()) expected += region.cell(*row, *col);
      }
      SCOPED_TRACE(national->row_labels()[r] + " x " + national->column_labels()[c]);
      EXPECT_EQ(national->cell(r, c), expected);
    }
  }
  EXPECT_EQ(national->GrandTotal(),
            toscana.GrandTotal() + lombardia.GrandTotal() + veneto.GrandTotal());
  EXPECT_EQ(national->cell(0, 0), 65);  // SEXUAL_STREET x FEMALE: 40 + 25
  EXPECT_EQ(national->cell(2, 1), 9);   // FORCED_BEGGING x MALE: 4 + 5
  EXPECT_EQ(national->cell(3, 2), 0);   // nobody reported it
}

// Suppression comes after the sum, on the true counts: three regional cells
// of 3, 4 and 5 each would be hidden, their national sum of 12 is published.
// Summing suppressed tables is not even expressible: Sum takes CountTables,
// and a SuppressedTable does not turn into one.
TEST(SumTest, SuppressionIsAppliedToTheSumNotToTheInputs) {
  static_assert(!std::is_convertible_v<SuppressedTable, CountTable>);
  static_assert(!std::is_invocable_v<decltype(&Sum), std::vector<SuppressedTable>>);
  const CountTable a = Make({"LABOUR", "SEXUAL_INDOOR"}, {"FEMALE", "MALE"}, {{3, 30}, {20, 15}});
  const CountTable b = Make({"LABOUR", "SEXUAL_INDOOR"}, {"FEMALE", "MALE"}, {{4, 31}, {21, 16}});
  const CountTable c = Make({"LABOUR", "SEXUAL_INDOOR"}, {"FEMALE", "MALE"}, {{5, 32}, {22, 17}});
  for (const CountTable* region : {&a, &b, &c}) {
    EXPECT_TRUE(Suppress(*region).hidden({0, 0}));
  }
  absl::StatusOr<CountTable> national = Sum(std::vector<CountTable>{a, b, c});
  ASSERT_OK(national);
  const SuppressedTable published = Suppress(*national);
  EXPECT_TRUE(published.Hidden().empty());
  EXPECT_EQ(ToCsv(published),
            ",FEMALE,MALE,total\n"
            "LABOUR,12,93,105\n"
            "SEXUAL_INDOOR,63,48,111\n"
            "total,75,141,216\n");
}

TEST(SumTest, RefusesNothingToSumAndOverflow) {
  EXPECT_THAT(MIR_STATUS(Sum({})), StatusIs(StatusCode::kInvalidArgument));
  const CountTable big = Make({"a"}, {"x"}, {{std::numeric_limits<int64_t>::max() - 1}});
  const CountTable two = Make({"a"}, {"x"}, {{2}});
  EXPECT_THAT(MIR_STATUS(Sum(std::vector<CountTable>{big, two})),
              StatusIs(StatusCode::kOutOfRange));
}

TEST(SumTest, TablesWithNoCellsAddNothing) {
  absl::StatusOr<CountTable> empty = CountTable::Create({}, {});
  ASSERT_OK(empty);
  const CountTable t = Make({"a"}, {"x"}, {{7}});
  absl::StatusOr<CountTable> sum = Sum(std::vector<CountTable>{*empty, t});
  ASSERT_OK(sum);
  EXPECT_THAT(sum->row_labels(), ElementsAre("a"));
  EXPECT_EQ(sum->GrandTotal(), 7);
}

}  // namespace
}  // namespace mir::stats
