// Small-cell suppression proven on tables built to leak: what is hidden,
// that the published cells and totals cannot give it back, and that the
// audit which says so is itself right (checked against an independent
// argument, and by building a second true table that publishes the same).

#include "stats/suppression.h"

#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <tuple>

#include "stats/csv.h"
#include "stats/table.h"
#include "tests/testing/test_env.h"

namespace mir::stats {
namespace {

using ::absl::StatusCode;
using ::mir::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

CountTable Make(const std::vector<std::vector<int64_t>>& cells) {
  std::vector<std::string> rows;
  std::vector<std::string> cols;
  for (size_t r = 0; r < cells.size(); ++r) rows.push_back("r" + std::to_string(r));
  for (size_t c = 0; c < (cells.empty() ? 0 : cells[0].size()); ++c) {
    cols.push_back("c" + std::to_string(c));
  }
  absl::StatusOr<CountTable> t = CountTable::Create(rows, cols);
  EXPECT_OK(t);
  for (size_t r = 0; r < cells.size(); ++r) {
    for (size_t c = 0; c < cells[r].size(); ++c) EXPECT_OK(t->Set(r, c, cells[r][c]));
  }
  return *std::move(t);
}

std::vector<Position> HiddenAs(const SuppressedTable& t, Suppression why) {
  std::vector<Position> out;
  for (const Position& p : t.Hidden()) {
    if (t.state(p) == why) out.push_back(p);
  }
  return out;
}

// The independent argument. Entries are edges of a bipartite graph between
// grid rows and grid columns; an entry is determined by the equations iff no
// cycle of hidden entries passes through it. This finds a path of hidden
// entries from e's column back to e's row without e, in order, if any.
// `usable(from_row, entry)` says whether the path may take `entry`, leaving
// a row node (from_row) or a column node.
std::optional<std::vector<Position>> PathAround(
    const SuppressedTable& t, Position e,
    const std::function<bool(bool from_row, Position entry)>& usable) {
  const size_t rows = t.grid_rows();
  const size_t nodes = rows + t.grid_cols();
  auto edge = [&](size_t u, size_t v) {
    return u < rows ? Position{u, v - rows} : Position{v, u - rows};
  };
  std::vector<size_t> previous(nodes, nodes);
  std::vector<bool> seen(nodes, false);
  const size_t source = rows + e.col;
  std::deque<size_t> queue = {source};
  seen[source] = true;
  while (!queue.empty()) {
    const size_t u = queue.front();
    queue.pop_front();
    const size_t first = u < rows ? rows : 0;
    const size_t last = u < rows ? nodes : rows;
    for (size_t v = first; v < last; ++v) {
      const Position p = edge(u, v);
      if (seen[v] || p == e || !usable(u < rows, p)) continue;
      seen[v] = true;
      previous[v] = u;
      queue.push_back(v);
    }
  }
  if (!seen[e.row]) return std::nullopt;
  std::vector<Position> path;
  for (size_t v = e.row; v != source; v = previous[v])
    path.insert(path.begin(), edge(previous[v], v));
  return path;
}

std::optional<std::vector<Position>> HiddenPathAround(const SuppressedTable& t, Position e) {
  return PathAround(t, e, [&](bool, Position p) { return t.hidden(p); });
}

// Whether the table has a cycle through p, hidden or not, along which p can
// move down to 0 and up to k: entries moving with p at least p, entries
// moving against it at least k - p. Going around, entries alternate (+ from
// a row node, - from a column node) and totals count the other way round.
bool TableHasFullCycle(const SuppressedTable& t, Position p) {
  auto sign = [&](Position e) {
    return (e.row == t.grid_rows() - 1) != (e.col == t.grid_cols() - 1) ? -1 : 1;
  };
  const int64_t down = t.value(p);
  const int64_t up = t.k() - t.value(p);
  return PathAround(t, p,
                    [&](bool from_row, Position e) {
                      if (t.value(e) <= 0) return false;
                      const bool with_p = (from_row ? 1 : -1) * sign(e) == sign(p);
                      return t.value(e) >= (with_p ? down : up);
                    })
      .has_value();
}

std::vector<Position> Bridges(const SuppressedTable& t) {
  std::vector<Position> out;
  for (const Position& p : t.Hidden()) {
    if (!HiddenPathAround(t, p).has_value()) out.push_back(p);
  }
  return out;
}

// A second true table that publishes exactly the same CSV but differs at e:
// move +1, -1, +1, ... around a cycle of hidden entries through e (row and
// column totals take the opposite sign: a cell going up takes its total up).
// Every hidden entry is >= 1, so no count goes negative.
CountTable AlternativeTable(const SuppressedTable& t, Position e) {
  std::optional<std::vector<Position>> path = HiddenPathAround(t, e);
  EXPECT_TRUE(path.has_value());
  if (!path.has_value()) return t.table();
  std::vector<Position> cycle = {e};
  cycle.insert(cycle.end(), path->begin(), path->end());
  CountTable alternative = t.table();
  const size_t last_row = t.grid_rows() - 1;
  const size_t last_col = t.grid_cols() - 1;
  for (size_t i = 0; i < cycle.size(); ++i) {
    const Position p = cycle[i];
    const bool single_total = (p.row == last_row) != (p.col == last_col);
    const int step = (i % 2 == 0 ? 1 : -1) * (single_total ? -1 : 1);
    if (!t.IsTotal(p)) {
      EXPECT_OK(alternative.Set(p.row, p.col, t.value(p) + step));
    }
  }
  const SuppressedTable moved(alternative, t.k());
  for (size_t i = 0; i < cycle.size(); ++i) {
    const Position p = cycle[i];
    const bool single_total = (p.row == last_row) != (p.col == last_col);
    const int step = (i % 2 == 0 ? 1 : -1) * (single_total ? -1 : 1);
    EXPECT_EQ(moved.value(p), t.value(p) + step) << "(" << p.row << ", " << p.col << ")";
  }
  return alternative;
}

// What a reader of the published table cannot tell apart from the truth.
SuppressedTable SamePattern(const SuppressedTable& t, const CountTable& other) {
  SuppressedTable out(other, t.k());
  for (const Position& p : t.Hidden()) EXPECT_OK(out.Hide(p, t.state(p)));
  return out;
}

// For every hidden entry: the audit agrees it is not recoverable, and a
// different true table publishes the same bytes.
void ExpectNothingRecoverable(const SuppressedTable& t) {
  EXPECT_THAT(AuditRecoverable(t), IsEmpty());
  EXPECT_THAT(Bridges(t), IsEmpty());
  const std::string published = ToCsv(t);
  for (const Position& p : t.Hidden()) {
    SCOPED_TRACE(::testing::Message() << "hidden (" << p.row << ", " << p.col << ")");
    EXPECT_GE(t.value(p), 1);
    const CountTable other = AlternativeTable(t, p);
    const SuppressedTable other_published = SamePattern(t, other);
    EXPECT_NE(other_published.value(p), t.value(p));
    EXPECT_EQ(ToCsv(other_published), published);
  }
}

// A reader of t cannot rule out `value` for p: here is a table with it that
// publishes the same bytes.
void ExpectCannotRuleOut(const SuppressedTable& t, Position p, int64_t value) {
  SCOPED_TRACE(::testing::Message() << "(" << p.row << ", " << p.col << ") = " << value);
  std::optional<CountTable> other = ConsistentTableWith(t, p, value);
  ASSERT_TRUE(other.has_value());
  const SuppressedTable other_published = SamePattern(t, *other);
  EXPECT_EQ(other_published.value(p), value);
  EXPECT_EQ(ToCsv(other_published), ToCsv(t));
}

// Every grid row and column with a hidden entry has at least two.
bool TwoPerLine(const SuppressedTable& t) {
  for (size_t r = 0; r < t.grid_rows(); ++r) {
    int n = 0;
    for (size_t c = 0; c < t.grid_cols(); ++c) n += t.hidden({r, c}) ? 1 : 0;
    if (n == 1) return false;
  }
  for (size_t c = 0; c < t.grid_cols(); ++c) {
    int n = 0;
    for (size_t r = 0; r < t.grid_rows(); ++r) n += t.hidden({r, c}) ? 1 : 0;
    if (n == 1) return false;
  }
  return true;
}

// A cell of 3 among large cells, its row, column and grand totals published.
TEST(SuppressTest, TableBuiltToLeakHidesTheThreeAndCannotGiveItBack) {
  const CountTable table = Make({{3, 40, 25}, {30, 12, 50}, {60, 70, 80}});
  const SuppressedTable t = Suppress(table);

  EXPECT_THAT(HiddenAs(t, Suppression::kPrimary), ElementsAre(Position{0, 0}));
  // The cheapest rectangle through (0, 0): 30 + 12 + 40 = 82.
  EXPECT_THAT(HiddenAs(t, Suppression::kComplementary),
              UnorderedElementsAre(Position{0, 1}, Position{1, 0}, Position{1, 1}));
  for (size_t i = 0; i <= 3; ++i) {  // every total is published
    EXPECT_FALSE(t.hidden({i, 3}));
    EXPECT_FALSE(t.hidden({3, i}));
  }
  EXPECT_EQ(ToCsv(t),
            ",c0,c1,c2,total\n"
            "r0,*,*,25,68\n"
            "r1,*,*,50,92\n"
            "r2,60,70,80,210\n"
            "total,93,122,155,370\n");
  ExpectNothingRecoverable(t);

  // The complementary cells are the smallest that do the job: no other set
  // of published entries protecting the 3 costs less (totals count as dearer
  // than any cell, the grand total dearest).
  using Cost = std::tuple<int, int, int64_t>;
  const std::vector<Position> candidates = [&] {
    std::vector<Position> out;
    for (size_t r = 0; r < 4; ++r) {
      for (size_t c = 0; c < 4; ++c) {
        if (!(r == 0 && c == 0)) out.push_back({r, c});
      }
    }
    return out;
  }();
  std::optional<Cost> cheapest;
  for (uint32_t mask = 0; mask < (1u << candidates.size()); ++mask) {
    SuppressedTable trial = SuppressPrimaryOnly(table);
    Cost cost = {0, 0, 0};
    for (size_t i = 0; i < candidates.size(); ++i) {
      if ((mask & (1u << i)) == 0) continue;
      const Position p = candidates[i];
      ASSERT_OK(trial.Hide(p, Suppression::kComplementary));
      std::get<0>(cost) += (p.row == 3 && p.col == 3) ? 1 : 0;
      std::get<1>(cost) += trial.IsTotal(p) ? 1 : 0;
      std::get<2>(cost) += trial.value(p);
    }
    if (AuditRecoverable(trial).empty() && (!cheapest || cost < *cheapest)) cheapest = cost;
  }
  ASSERT_TRUE(cheapest.has_value());
  EXPECT_EQ(*cheapest, Cost(0, 0, 82));
}

// Without complementary suppression the 5 is its row total minus the
// published cells; the audit says so, and Suppress closes it.
TEST(SuppressTest, LoneSmallCellUnderAPublishedTotalIsCaughtByTheAudit) {
  const CountTable table = Make({{20, 5, 30}, {40, 50, 60}, {70, 80, 90}});
  const SuppressedTable naive = SuppressPrimaryOnly(table);
  EXPECT_THAT(naive.Hidden(), ElementsAre(Position{0, 1}));
  EXPECT_THAT(AuditRecoverable(naive), ElementsAre(Position{0, 1}));
  // What a reader does: 55 - 20 - 30.
  EXPECT_EQ(naive.value({0, 3}) - naive.value({0, 0}) - naive.value({0, 2}), 5);
  EXPECT_EQ(ToCsv(naive),
            ",c0,c1,c2,total\n"
            "r0,20,*,30,55\n"
            "r1,40,50,60,150\n"
            "r2,70,80,90,240\n"
            "total,130,135,180,445\n");

  const SuppressedTable t = Suppress(table);
  EXPECT_TRUE(t.hidden({0, 1}));
  EXPECT_TRUE(TwoPerLine(t));
  ExpectNothingRecoverable(t);
}

// A row total of 9 is as telling as a cell of 9: hidden, and protected like
// a cell (its line is the column of row totals).
TEST(SuppressTest, MarginsBelowKAreHiddenAndProtected) {
  const CountTable table = Make({{0, 4, 5}, {30, 40, 50}, {20, 25, 35}});
  const SuppressedTable t = Suppress(table);
  EXPECT_THAT(HiddenAs(t, Suppression::kPrimary),
              ElementsAre(Position{0, 1}, Position{0, 2}, Position{0, 3}));
  EXPECT_FALSE(t.hidden({0, 0}));  // a zero is published
  EXPECT_TRUE(TwoPerLine(t));
  ExpectNothingRecoverable(t);

  // A column total below k, in a one-row table: the column totals row is
  // the row itself and is not printed.
  const CountTable one_row = Make({{3, 40, 50}});
  const SuppressedTable s = Suppress(one_row);
  EXPECT_EQ(s.state({1, 0}), Suppression::kPrimary);
  EXPECT_EQ(ToCsv(s), ",c0,c1,c2,total\nr0,*,*,50,93\n");
  ExpectNothingRecoverable(s);
}

// Tables so small that even the grand total is below k publish only zeros.
TEST(SuppressTest, GrandTotalBelowKHidesEverythingButZeros) {
  const CountTable table = Make({{3, 0}, {0, 2}});
  const SuppressedTable t = Suppress(table);
  EXPECT_EQ(t.state({2, 2}), Suppression::kPrimary);
  EXPECT_EQ(ToCsv(t),
            ",c0,c1,total\n"
            "r0,*,0,*\n"
            "r1,0,*,*\n"
            "total,*,*,*\n");
  ExpectNothingRecoverable(t);
}

TEST(SuppressTest, AllZeroRowsArePublishedAndNeverUsedAsComplements) {
  const CountTable table = Make({{0, 0, 0}, {7, 30, 40}, {0, 0, 0}, {50, 60, 70}});
  const SuppressedTable t = Suppress(table);
  for (const Position& p : t.Hidden()) EXPECT_GT(t.value(p), 0);
  EXPECT_EQ(ToCsv(t),
            ",c0,c1,c2,total\n"
            "r0,0,0,0,0\n"
            "r1,*,*,40,77\n"
            "r2,0,0,0,0\n"
            "r3,*,*,70,180\n"
            "total,57,90,110,257\n");
  ExpectNothingRecoverable(t);
}

TEST(SuppressTest, TableWithNothingBelowKIsPublishedUnchanged) {
  const CountTable table = Make({{11, 0, 25}, {12, 300, 0}});
  const SuppressedTable t = Suppress(table);
  EXPECT_THAT(t.Hidden(), IsEmpty());
  EXPECT_EQ(ToCsv(t),
            ",c0,c1,c2,total\n"
            "r0,11,0,25,36\n"
            "r1,12,300,0,312\n"
            "total,23,300,25,348\n");
}

// One column: the grand total is published under the column, so a single
// hidden cell would be the grand total minus the others; a second is hidden.
TEST(SuppressTest, OneDimensionalTableHidesASecondCell) {
  absl::StatusOr<CountTable> table = CountTable::CreateOneDimensional(
      {"FEMALE", "MALE", "TRANSGENDER", "NON_BINARY_OTHER", "UNKNOWN"}, "persons");
  ASSERT_OK(table);
  const std::vector<int64_t> counts = {40, 4, 0, 15, 25};
  for (size_t row = 0; row < counts.size(); ++row) ASSERT_OK(table->Set(row, 0, counts[row]));
  const SuppressedTable naive = SuppressPrimaryOnly(*table);
  EXPECT_THAT(AuditRecoverable(naive), Not(IsEmpty()));

  const SuppressedTable t = Suppress(*table);
  EXPECT_EQ(ToCsv(t),
            ",persons\n"
            "FEMALE,40\n"
            "MALE,*\n"
            "TRANSGENDER,0\n"
            "NON_BINARY_OTHER,*\n"  // the smallest other count, 15
            "UNKNOWN,25\n"
            "total,84\n");
  EXPECT_EQ(t.state({3, 0}), Suppression::kComplementary);
  ExpectNothingRecoverable(t);

  absl::StatusOr<CountTable> tiny = CountTable::CreateOneDimensional({"a", "b", "c"});
  ASSERT_OK(tiny);
  ASSERT_OK(tiny->Set(0, 0, 3));
  const SuppressedTable s = Suppress(*tiny);
  EXPECT_EQ(ToCsv(s), ",count\na,*\nb,0\nc,0\ntotal,*\n");
  ExpectNothingRecoverable(s);
}

// Two per line is not enough. Two 2x2 blocks of hidden cells are each safe
// (a rectangle can be shifted by +1/-1 around its corners), but one hidden
// cell joining them, (0, 2), is determined although every line holding a
// hidden entry holds two or more: add the equations of rows 0 and 1 and
// subtract those of columns 0 and 1, and every unknown but (0, 2) cancels.
// In the second table the other block is made of cells and of row totals
// below k (the staircase runs through the margins): the same happens.
TEST(SuppressTest, AuditCatchesWhatTwoPerLineMisses) {
  const std::vector<std::pair<std::string, CountTable>> cases = {
      {"two blocks of cells", Make({{2, 3, 4, 40, 50, 60},
                                    {5, 6, 41, 42, 51, 61},
                                    {43, 44, 7, 8, 52, 62},
                                    {45, 46, 9, 1, 53, 63},
                                    {70, 71, 72, 73, 74, 75},
                                    {80, 81, 82, 83, 84, 85}})},
      {"a block through the row totals", Make({{2, 3, 4, 40, 50, 60},
                                               {5, 6, 41, 42, 51, 61},
                                               {0, 0, 7, 0, 0, 0},
                                               {0, 0, 9, 0, 0, 0},
                                               {70, 71, 72, 73, 74, 75},
                                               {80, 81, 82, 83, 84, 85}})},
  };
  for (const auto& [name, table] : cases) {
    SCOPED_TRACE(name);
    const SuppressedTable naive = SuppressPrimaryOnly(table);
    EXPECT_TRUE(TwoPerLine(naive));
    EXPECT_THAT(AuditRecoverable(naive), ElementsAre(Position{0, 2}));
    // The reader's sum: rows 0 and 1 minus columns 0 and 1 (published parts).
    int64_t known = 0;
    for (size_t r : {0, 1}) {
      known += table.RowTotal(r);
      for (size_t c = 3; c < 6; ++c) known -= table.cell(r, c);
    }
    for (size_t c : {0, 1}) {
      known -= table.ColumnTotal(c);
      for (size_t r = 2; r < 6; ++r) known += table.cell(r, c);
    }
    EXPECT_EQ(known - table.cell(1, 2), 4);  // (1, 2) = 41 is published

    const SuppressedTable t = Suppress(table);
    EXPECT_TRUE(t.hidden({0, 2}));
    ExpectNothingRecoverable(t);
  }
}

TEST(SuppressTest, ZeroIsNeverHiddenAndMarkersDoNotTellPrimaryFromComplementary) {
  const CountTable table = Make({{3, 40, 25}, {30, 12, 50}, {60, 70, 80}});
  const SuppressedTable t = Suppress(table);
  ASSERT_EQ(t.state({0, 0}), Suppression::kPrimary);
  ASSERT_EQ(t.state({1, 0}), Suppression::kComplementary);
  const std::string csv = ToCsv(t);
  EXPECT_EQ(csv.find('<'), std::string::npos);
  EXPECT_EQ(csv.find("11"), std::string::npos);
  EXPECT_NE(csv.find("r1,*,*,"), std::string::npos);
}

TEST(SuppressTest, KOfOneOrLessHidesNothing) {
  const CountTable table = Make({{1, 2}, {3, 0}});
  EXPECT_THAT(Suppress(table, 1).Hidden(), IsEmpty());
  EXPECT_THAT(Suppress(table, 0).Hidden(), IsEmpty());
  EXPECT_THAT(Suppress(table, 3).Hidden(), Not(IsEmpty()));
}

TEST(SuppressedTableTest, HideRefusesOutsideTheGridAndPublished) {
  SuppressedTable t(Make({{1, 2}}), kMinPublishedCount);
  EXPECT_THAT(t.Hide({2, 0}, Suppression::kPrimary), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(t.Hide({0, 3}, Suppression::kPrimary), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(t.Hide({0, 0}, Suppression::kPublished), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_OK(t.Hide({1, 2}, Suppression::kComplementary));  // the grand total
}

TEST(CsvTest, LabelsAreQuotedAndNeverRunAsFormulas) {
  absl::StatusOr<CountTable> table =
      CountTable::Create({"a,b", "say \"x\"", "=SUM(A1)", "-1"}, {"+x"});
  ASSERT_OK(table);
  for (size_t r = 0; r < 4; ++r) ASSERT_OK(table->Set(r, 0, 20));
  EXPECT_EQ(ToCsv(Suppress(*table)),
            ",'+x\n"
            "\"a,b\",20\n"
            "\"say \"\"x\"\"\",20\n"
            "'=SUM(A1),20\n"
            "'-1,20\n"
            "total,80\n");
}

// Not being determined is not enough: here the hidden 3 is only "between 0
// and 4" to a reader, since the two cells of 1 it trades with cannot go below
// 0. Suppress chooses its cycle so that the 3 could be 0 or 11.
TEST(SuppressTest, ReaderCannotTellAPrimaryFromZeroOrFromK) {
  const CountTable table = Make({{3, 1, 40}, {1, 5, 50}, {60, 70, 80}});
  const SuppressedTable naive = SuppressPrimaryOnly(table);
  EXPECT_THAT(AuditRecoverable(naive), IsEmpty());  // nothing determined, yet:
  ExpectCannotRuleOut(naive, {0, 0}, 0);
  ExpectCannotRuleOut(naive, {0, 0}, 4);
  EXPECT_FALSE(ConsistentTableWith(naive, {0, 0}, 5).has_value());

  const SuppressedTable t = Suppress(table);
  for (const Position& p : HiddenAs(t, Suppression::kPrimary)) {
    ExpectCannotRuleOut(t, p, 0);
    ExpectCannotRuleOut(t, p, kMinPublishedCount);
  }
  ExpectNothingRecoverable(t);
}

// Several hidden cells together can cover each other: 8 + 8 + 1 under a
// published 17 leaves each anywhere from 0 to 17, with no cycle alone doing
// it; the total stays published.
TEST(SuppressTest, ProtectionCountsWhatHiddenCellsDoTogether) {
  absl::StatusOr<CountTable> table = CountTable::CreateOneDimensional({"a", "b", "c"});
  ASSERT_OK(table);
  ASSERT_OK(table->Set(0, 0, 8));
  ASSERT_OK(table->Set(1, 0, 8));
  ASSERT_OK(table->Set(2, 0, 1));
  const SuppressedTable t = Suppress(*table);
  EXPECT_EQ(ToCsv(t), ",count\na,*\nb,*\nc,*\ntotal,17\n");
  ExpectCannotRuleOut(t, {2, 0}, 0);
  ExpectCannotRuleOut(t, {2, 0}, 17);
  EXPECT_FALSE(ConsistentTableWith(t, {2, 0}, 18).has_value());
}

TEST(ConsistentTableWithTest, PublishedEntriesAndImpossibleValues) {
  const CountTable table = Make({{20, 5, 30}, {40, 50, 60}, {70, 80, 90}});
  const SuppressedTable naive = SuppressPrimaryOnly(table);
  ExpectCannotRuleOut(naive, {0, 1}, 5);                            // the truth
  EXPECT_FALSE(ConsistentTableWith(naive, {0, 1}, 4).has_value());  // determined
  EXPECT_FALSE(ConsistentTableWith(naive, {0, 1}, -1).has_value());
  EXPECT_FALSE(ConsistentTableWith(naive, {0, 0}, 21).has_value());  // published
  EXPECT_TRUE(ConsistentTableWith(naive, {0, 0}, 20).has_value());
  EXPECT_FALSE(ConsistentTableWith(naive, {4, 0}, 0).has_value());  // outside
}

// A few hundred random tables of every shape: zeros, small and large counts.
TEST(SuppressPropertyTest, RandomTablesKeepEveryPromise) {
  std::mt19937 rng(20261205);
  std::uniform_int_distribution<size_t> dim(1, 7);
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_int_distribution<int64_t> small(1, 10);
  std::uniform_int_distribution<int64_t> large(11, 300);
  size_t protected_cells = 0;
  size_t fully_protected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    SCOPED_TRACE(trial);
    std::vector<std::vector<int64_t>> cells(dim(rng));
    const size_t cols = dim(rng);
    for (auto& row : cells) {
      for (size_t c = 0; c < cols; ++c) {
        const int k = kind(rng);
        row.push_back(k < 3 ? 0 : k < 6 ? small(rng) : large(rng));
      }
    }
    const CountTable table = Make(cells);

    // The audit is right on the naive patterns, which do leak.
    const SuppressedTable naive = SuppressPrimaryOnly(table);
    EXPECT_EQ(AuditRecoverable(naive), Bridges(naive));

    const SuppressedTable t = Suppress(table);
    for (size_t r = 0; r < t.grid_rows(); ++r) {
      for (size_t c = 0; c < t.grid_cols(); ++c) {
        const int64_t v = t.value({r, c});
        if (v > 0 && v < kMinPublishedCount) {
          EXPECT_EQ(t.state({r, c}), Suppression::kPrimary) << r << ", " << c;
        }
        if (v == 0) {
          EXPECT_FALSE(t.hidden({r, c})) << r << ", " << c;
        }
      }
    }
    EXPECT_TRUE(TwoPerLine(t));
    ExpectNothingRecoverable(t);
    // Only what protection needs: a grand total that may be published is.
    if (table.GrandTotal() >= kMinPublishedCount) {
      EXPECT_FALSE(t.hidden({table.rows(), table.cols()}));
    }
    for (const Position& p : HiddenAs(t, Suppression::kPrimary)) {
      ++protected_cells;
      // Where the table allows it, a reader cannot tell p from 0 nor from k.
      if (TableHasFullCycle(t, p)) {
        ++fully_protected;
        ExpectCannotRuleOut(t, p, 0);
        ExpectCannotRuleOut(t, p, kMinPublishedCount);
      }
    }
  }
  EXPECT_GT(protected_cells, 1000u);  // the tables did have small cells
  EXPECT_GT(fully_protected, protected_cells * 3 / 4);
}

// The audit against the independent argument on arbitrary hidden patterns,
// not only those Suppress makes.
TEST(AuditPropertyTest, AgreesWithTheCycleArgumentOnRandomPatterns) {
  std::mt19937 rng(17);
  std::uniform_int_distribution<size_t> dim(1, 6);
  std::bernoulli_distribution hide(0.35);
  for (int trial = 0; trial < 300; ++trial) {
    SCOPED_TRACE(trial);
    std::vector<std::vector<int64_t>> cells(dim(rng), std::vector<int64_t>(dim(rng), 20));
    SuppressedTable t(Make(cells), kMinPublishedCount);
    for (size_t r = 0; r < t.grid_rows(); ++r) {
      for (size_t c = 0; c < t.grid_cols(); ++c) {
        if (hide(rng)) {
          ASSERT_OK(t.Hide({r, c}, Suppression::kPrimary));
        }
      }
    }
    EXPECT_EQ(AuditRecoverable(t), Bridges(t));
  }
}

}  // namespace
}  // namespace mir::stats
