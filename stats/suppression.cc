#include "stats/suppression.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mir::stats {
namespace {

// One published equation: sum of coefficient * entry = 0.
using Equation = std::vector<std::pair<Position, int>>;

// Grid row r: its cells add up to its total, and likewise for each grid
// column. The totals row and column are lines like the others (the column
// totals add up to the grand total).
std::vector<Equation> Equations(const SuppressedTable& t) {
  const size_t last_row = t.grid_rows() - 1;
  const size_t last_col = t.grid_cols() - 1;
  std::vector<Equation> equations;
  for (size_t r = 0; r <= last_row; ++r) {
    Equation e;
    for (size_t c = 0; c < last_col; ++c) e.push_back({{r, c}, 1});
    e.push_back({{r, last_col}, -1});
    equations.push_back(std::move(e));
  }
  for (size_t c = 0; c <= last_col; ++c) {
    Equation e;
    for (size_t r = 0; r < last_row; ++r) e.push_back({{r, c}, 1});
    e.push_back({{last_row, c}, -1});
    equations.push_back(std::move(e));
  }
  return equations;
}

// What hiding an entry costs, compared in this order: the grand total is the
// figure most wanted, totals next, then the count hidden.
struct Cost {
  int64_t grand = 0;
  int64_t totals = 0;
  int64_t count = 0;
  friend auto operator<=>(const Cost&, const Cost&) = default;
};

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<int64_t>::max() : sum;
}

Cost Plus(const Cost& a, const Cost& b) {
  return {a.grand + b.grand, a.totals + b.totals, SaturatingAdd(a.count, b.count)};
}

// How far a reader must be left free to move an entry: down by `down` and
// up by `up`. Zero and zero ask only that it not be determined.
struct Protection {
  int64_t down = 0;
  int64_t up = 0;
};

// The grid as a bipartite graph: one node per grid row (0..rows-1 of the
// grid), one per grid column (after them); entry (r, c) is the edge between
// row node r and column node c. An entry is determined by the equations iff
// it lies on no cycle of hidden entries, so hiding the published entries of
// the cheapest cycle through `p` protects `p` and everything hidden for it.
// Only entries > 0 may be used (see the header).
//
// Moving +t, -t, +t, ... around a cycle (totals the other way round: a cell
// going up takes its total up) changes no published entry. The cycle lets p
// move down by `need.down` if every entry moving with p is at least that, and
// up by `need.up` if every entry moving against it is. Returns false if no
// cycle meets `need`; with need {0, 0} a table whose hidden entries are all
// > 0 always has one.
bool ProtectOnCheapestCycle(SuppressedTable& t, Position p, Protection need) {
  const size_t rows = t.grid_rows();
  const size_t nodes = rows + t.grid_cols();
  auto entry = [&](size_t a, size_t b) -> Position {
    return a < rows ? Position{a, b - rows} : Position{b, a - rows};
  };
  auto sign = [&](Position e) {
    const bool total_row = e.row == rows - 1;
    const bool total_col = e.col == t.grid_cols() - 1;
    return total_row != total_col ? -1 : 1;
  };
  // Leaving a row node the entry moves like p (which closes the cycle from
  // its row to its column), leaving a column node against it.
  auto admissible = [&](size_t from, Position e) {
    if (e == p || !(t.hidden(e) || t.value(e) > 0)) return false;
    const bool with_p = (from < rows ? 1 : -1) * sign(e) == sign(p);
    return t.value(e) >= (with_p ? need.down : need.up);
  };
  auto cost_of = [&](Position e) -> Cost {
    if (t.hidden(e)) return {};
    const bool grand = e.row == rows - 1 && e.col == t.grid_cols() - 1;
    return {grand ? 1 : 0, t.IsTotal(e) ? 1 : 0, t.value(e)};
  };

  // Dijkstra on a dense graph: tables have tens of lines, not thousands.
  const size_t source = rows + p.col;
  const size_t target = p.row;
  std::vector<std::optional<Cost>> best(nodes);
  std::vector<size_t> previous(nodes, nodes);
  std::vector<bool> done(nodes, false);
  best[source] = Cost{};
  for (;;) {
    size_t u = nodes;
    for (size_t v = 0; v < nodes; ++v) {
      if (!done[v] && best[v].has_value() && (u == nodes || *best[v] < *best[u])) u = v;
    }
    if (u == nodes) return false;
    if (u == target) break;
    done[u] = true;
    const size_t first = u < rows ? rows : 0;
    const size_t last = u < rows ? nodes : rows;
    for (size_t v = first; v < last; ++v) {
      const Position e = entry(u, v);
      if (done[v] || !admissible(u, e)) continue;
      const Cost c = Plus(*best[u], cost_of(e));
      if (!best[v].has_value() || c < *best[v]) {
        best[v] = c;
        previous[v] = u;
      }
    }
  }
  for (size_t v = target; v != source; v = previous[v]) {
    const Position e = entry(previous[v], v);
    if (!t.hidden(e)) t.Hide(e, Suppression::kComplementary).IgnoreError();  // e is in the grid
  }
  return true;
}

// The last resort: with every entry > 0 hidden the published equations are
// homogeneous (0 = sum of unknowns), and doubling every hidden entry is as
// valid a table as the true one, so nothing can be determined.
void HideEveryPositive(SuppressedTable& t) {
  for (size_t r = 0; r < t.grid_rows(); ++r) {
    for (size_t c = 0; c < t.grid_cols(); ++c) {
      if (!t.hidden({r, c}) && t.value({r, c}) > 0) {
        t.Hide({r, c}, Suppression::kComplementary).IgnoreError();  // inside the grid
      }
    }
  }
}

}  // namespace

SuppressedTable::SuppressedTable(CountTable table, int k)
    : table_(std::move(table)),
      k_(k),
      states_((table_.rows() + 1) * (table_.cols() + 1), Suppression::kPublished) {}

int64_t SuppressedTable::value(Position p) const {
  const bool total_row = p.row == table_.rows();
  const bool total_col = p.col == table_.cols();
  if (total_row && total_col) return table_.GrandTotal();
  if (total_row) return table_.ColumnTotal(p.col);
  if (total_col) return table_.RowTotal(p.row);
  return table_.cell(p.row, p.col);
}

std::vector<Position> SuppressedTable::Hidden() const {
  std::vector<Position> hidden;
  for (size_t r = 0; r < grid_rows(); ++r) {
    for (size_t c = 0; c < grid_cols(); ++c) {
      if (this->hidden({r, c})) hidden.push_back({r, c});
    }
  }
  return hidden;
}

absl::Status SuppressedTable::Hide(Position p, Suppression why) {
  if (p.row >= grid_rows() || p.col >= grid_cols()) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry (", p.row, ", ", p.col, ") outside the grid"));
  }
  if (why == Suppression::kPublished) {
    return absl::InvalidArgumentError("an entry is hidden for a reason");
  }
  states_[p.row * grid_cols() + p.col] = why;
  return absl::OkStatus();
}

SuppressedTable SuppressPrimaryOnly(const CountTable& table, int k) {
  SuppressedTable t(table, k);
  for (size_t r = 0; r < t.grid_rows(); ++r) {
    for (size_t c = 0; c < t.grid_cols(); ++c) {
      const int64_t v = t.value({r, c});
      if (v > 0 && v < k) t.Hide({r, c}, Suppression::kPrimary).IgnoreError();  // inside
    }
  }
  return t;
}

std::optional<CountTable> ConsistentTableWith(const SuppressedTable& t, Position p, int64_t value) {
  if (p.row >= t.grid_rows() || p.col >= t.grid_cols() || value < 0) return std::nullopt;
  if (!t.hidden(p)) {
    return value == t.value(p) ? std::optional<CountTable>(t.table()) : std::nullopt;
  }
  // In the signed variables y (x, totals negated) every grid line sums to 0,
  // so a change g that keeps the published entries is a circulation on the
  // hidden entries, each read as an arc from its row node to its column
  // node. Keeping x = x + sign * g >= 0 bounds g one way by x; the other way
  // is free. Moving p by `delta` is then a flow of |delta| between p's ends
  // through the other hidden entries: a max-flow, exact and whole-numbered.
  const size_t rows = t.grid_rows();
  const size_t nodes = rows + t.grid_cols();
  auto sign = [&](Position e) {
    return (e.row == rows - 1) != (e.col == t.grid_cols() - 1) ? -1 : 1;
  };
  const int64_t delta = value - t.value(p);
  const int64_t need = delta < 0 ? -delta : delta;  // |delta|; value, x >= 0
  std::vector<std::vector<int64_t>> capacity(nodes, std::vector<int64_t>(nodes, 0));
  for (const Position& e : t.Hidden()) {
    if (e == p) continue;
    const size_t r = e.row;
    const size_t c = rows + e.col;
    capacity[r][c] = sign(e) > 0 ? need : t.value(e);  // "need" stands for unbounded
    capacity[c][r] = sign(e) > 0 ? t.value(e) : need;
  }
  // p carries sign(p) * delta from its row to its column; the rest returns it.
  const bool forward = sign(p) * delta > 0;
  const size_t source = forward ? rows + p.col : p.row;
  const size_t sink = forward ? p.row : rows + p.col;
  std::vector<std::vector<int64_t>> flow(nodes, std::vector<int64_t>(nodes, 0));
  int64_t pushed = 0;
  while (pushed < need) {  // Edmonds-Karp: shortest augmenting paths
    std::vector<size_t> previous(nodes, nodes);
    std::vector<size_t> queue = {source};
    previous[source] = source;
    for (size_t i = 0; i < queue.size() && previous[sink] == nodes; ++i) {
      const size_t u = queue[i];
      for (size_t v = 0; v < nodes; ++v) {
        if (previous[v] == nodes && capacity[u][v] - flow[u][v] > 0) {
          previous[v] = u;
          queue.push_back(v);
        }
      }
    }
    if (previous[sink] == nodes) return std::nullopt;
    int64_t step = need - pushed;
    for (size_t v = sink; v != source; v = previous[v]) {
      step = std::min(step, capacity[previous[v]][v] - flow[previous[v]][v]);
    }
    for (size_t v = sink; v != source; v = previous[v]) {
      flow[previous[v]][v] += step;
      flow[v][previous[v]] -= step;
    }
    pushed += step;
  }
  CountTable other = t.table();
  for (const Position& e : t.Hidden()) {
    if (t.IsTotal(e)) continue;  // totals follow from the cells
    const int64_t x = e == p ? value : t.value(e) + flow[e.row][rows + e.col];
    if (!other.Set(e.row, e.col, x).ok()) return std::nullopt;  // cannot happen: x >= 0
  }
  return other;
}

SuppressedTable Suppress(const CountTable& table, int k) {
  SuppressedTable t = SuppressPrimaryOnly(table, k);
  for (const Position& p : t.Hidden()) {
    // Best: the reader cannot tell p from 0 nor from k, by the entries hidden
    // so far or by one more cycle. Else at least: p is not determined.
    if (ConsistentTableWith(t, p, 0).has_value() && ConsistentTableWith(t, p, k).has_value()) {
      continue;
    }
    const Protection full = {t.value(p), k - t.value(p)};
    if (!ProtectOnCheapestCycle(t, p, full) && !ProtectOnCheapestCycle(t, p, {})) {
      HideEveryPositive(t);
      return t;
    }
  }
  // Every hidden entry now lies on a hidden cycle, so the audit should find
  // nothing; it is the independent check, and the loop what it asks for.
  for (;;) {
    const std::vector<Position> recoverable = AuditRecoverable(t);
    if (recoverable.empty()) return t;
    const size_t hidden_before = t.Hidden().size();
    bool protected_all = true;
    for (const Position& p : recoverable) protected_all &= ProtectOnCheapestCycle(t, p, {});
    if (!protected_all || t.Hidden().size() == hidden_before) {
      HideEveryPositive(t);
      return t;
    }
  }
}

std::vector<Position> AuditRecoverable(const SuppressedTable& t) {
  const std::vector<Position> unknowns = t.Hidden();
  if (unknowns.empty()) return {};
  std::vector<size_t> column_of(t.grid_rows() * t.grid_cols(), 0);
  for (size_t i = 0; i < unknowns.size(); ++i) {
    column_of[unknowns[i].row * t.grid_cols() + unknowns[i].col] = i;
  }
  // Published entries only move the right-hand side, which does not decide
  // whether an unknown is determined; the matrix alone does.
  std::vector<std::vector<int64_t>> m;
  for (const Equation& e : Equations(t)) {
    std::vector<int64_t> row(unknowns.size(), 0);
    for (const auto& [p, coefficient] : e) {
      if (t.hidden(p)) row[column_of[p.row * t.grid_cols() + p.col]] += coefficient;
    }
    m.push_back(std::move(row));
  }

  // Reduced row echelon form, fraction-free: row_i = pivot * row_i - a * row_pivot
  // is exact over the integers. The matrix is totally unimodular (each
  // unknown is in one row and one column equation; negate the totals to see
  // an incidence matrix of a bipartite graph), so pivots are +-1 and entries
  // stay in {-1, 0, 1}.
  size_t rank = 0;
  for (size_t col = 0; col < unknowns.size() && rank < m.size(); ++col) {
    size_t pivot = rank;
    while (pivot < m.size() && m[pivot][col] == 0) ++pivot;
    if (pivot == m.size()) continue;
    std::swap(m[rank], m[pivot]);
    const int64_t p = m[rank][col];
    for (size_t i = 0; i < m.size(); ++i) {
      const int64_t a = m[i][col];
      if (i == rank || a == 0) continue;
      for (size_t j = 0; j < unknowns.size(); ++j) m[i][j] = p * m[i][j] - a * m[rank][j];
    }
    ++rank;
  }
  // An unknown is determined iff a reduced row names it alone.
  std::vector<bool> determined(unknowns.size(), false);
  for (size_t i = 0; i < rank; ++i) {
    size_t nonzero = 0;
    size_t at = 0;
    for (size_t j = 0; j < unknowns.size(); ++j) {
      if (m[i][j] != 0) {
        ++nonzero;
        at = j;
      }
    }
    if (nonzero == 1) determined[at] = true;
  }
  std::vector<Position> recoverable;
  for (size_t i = 0; i < unknowns.size(); ++i) {
    if (determined[i]) recoverable.push_back(unknowns[i]);
  }
  return recoverable;
}

}  // namespace mir::stats
