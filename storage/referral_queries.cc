#include "storage/referral_queries.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <queue>
#include <utility>

#include "common/status_macros.h"
#include "storage/rows.h"
#include "storage/store_internal.h"

namespace mir::storage {

// The filters of Store::QueryReferrals other than state and time; an unset
// filter binds NULL and matches all. ?1 origin, ?2 not origin, ?3
// counterpart, ?4 urgency, ?6 partner.
#define MIR_REFERRAL_FILTERS                                       \
  "(?1 IS NULL OR origin_node = ?1) AND "                          \
  "(?2 IS NULL OR origin_node <> ?2) AND "                         \
  "(?3 IS NULL OR origin_node = ?3 OR destination_node = ?3) AND " \
  "(?4 IS NULL OR urgency = ?4) AND "                              \
  "(?6 IS NULL OR referral_id IN "                                 \
  "  (SELECT referral_id FROM partner_access WHERE partner = ?6)) "

// QueryReferrals with one state (?7): referrals_by_state_recent walked in
// list order, so `state = ? ... ORDER BY updated_at_us DESC, referral_id
// LIMIT n` reads n matching index entries (and those the other filters
// reject) and sorts nothing. INDEXED BY: without statistics the planner
// might prefer another index, and if the index is gone the statement fails
// to prepare instead of silently scanning. ?5 is a lower bound on
// updated_at_us (INT64_MIN when unset), so it narrows the walk.
const char kReferralsInStateSql[] =
    "SELECT " MIR_REFERRAL_COLUMNS
    " FROM referrals INDEXED BY referrals_by_state_recent "
    "WHERE state = ?7 AND updated_at_us >= ?5 AND " MIR_REFERRAL_FILTERS
    "ORDER BY updated_at_us DESC, referral_id LIMIT ?8";
// The same walk, keys only (merging several states).
const char kReferralKeysInStateSql[] =
    "SELECT rowid, updated_at_us, referral_id FROM referrals "
    "INDEXED BY referrals_by_state_recent "
    "WHERE state = ?7 AND updated_at_us >= ?5 AND " MIR_REFERRAL_FILTERS
    "ORDER BY updated_at_us DESC, referral_id LIMIT ?8";

// Store::EmergenciesAwaitingAck, by the partial index of schema version 8.
// INDEXED BY: the statement fails to prepare rather than scan if the WHERE
// stops implying the index's (urgency = 1 AND state IN (1, 2)).
const char kAwaitingAckSql[] =
    "SELECT " MIR_REFERRAL_COLUMNS
    " FROM referrals INDEXED BY referrals_awaiting_ack "
    "WHERE urgency = 1 AND state IN (1, 2) ORDER BY updated_at_us DESC, referral_id";
static_assert(v1::URGENCY_EMERGENCY_24H == 1 && v1::SUBMITTED == 1 && v1::RECEIVED == 2);

namespace referrals {
namespace {

absl::Status Collect(Statement& s, std::vector<ReferralRecord>& out) {
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::OkStatus();
    out.push_back(ReferralFrom(s));
  }
}

// A referral's place in list order: newest updated_at_us first, then
// referral_id ascending (SQLite's BINARY collation is memcmp, as is
// std::string's operator<).
struct ReferralKey {
  int64_t updated_at_us = 0;
  std::string referral_id;
  int64_t rowid = 0;
};

bool ListedBefore(const ReferralKey& a, const ReferralKey& b) {
  if (a.updated_at_us != b.updated_at_us) return a.updated_at_us > b.updated_at_us;
  return a.referral_id < b.referral_id;
}

// Several states: per state, the keys of its newest `limit` matches; a
// k-way merge of those lists in list order (the first `limit` of the union
// are among them, the states being disjoint); then the rows of the first
// `limit`. Runs inside the caller's read transaction.
template <typename BindFilters>
absl::Status MergeStates(Db& db, const std::vector<int64_t>& states, BindFilters& bind_filters,
                         int64_t since, int limit, std::vector<ReferralRecord>& out) {
  std::vector<std::vector<ReferralKey>> lists(states.size());
  for (size_t i = 0; i < states.size(); ++i) {
    ASSIGN_OR_RETURN(Statement s,
                     db.Prepare(kReferralKeysInStateSql, "query referral keys in state"));
    bind_filters(s);
    s.BindInt(5, since).BindInt(7, states[i]);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      lists[i].push_back(ReferralKey{s.Int(1), s.Text(2), s.Int(0)});
    }
  }
  // Heap of (list, position), the list-order first on top.
  using Cursor = std::pair<size_t, size_t>;
  auto after = [&](const Cursor& a, const Cursor& b) {
    return ListedBefore(lists[b.first][b.second], lists[a.first][a.second]);
  };
  std::priority_queue<Cursor, std::vector<Cursor>, decltype(after)> heap(after);
  for (size_t i = 0; i < lists.size(); ++i) {
    if (!lists[i].empty()) heap.push({i, 0});
  }
  const size_t max = limit <= 0 ? std::numeric_limits<size_t>::max() : static_cast<size_t>(limit);
  while (!heap.empty() && out.size() < max) {
    const auto [list, pos] = heap.top();
    heap.pop();
    if (pos + 1 < lists[list].size()) heap.push({list, pos + 1});
    ASSIGN_OR_RETURN(Statement s,
                     db.Prepare("SELECT " MIR_REFERRAL_COLUMNS " FROM referrals WHERE rowid = ?1",
                                "read listed referral"));
    s.BindInt(1, lists[list][pos].rowid);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::InternalError("a listed referral vanished inside one snapshot");
    out.push_back(ReferralFrom(s));
  }
  return absl::OkStatus();
}

// Every lifecycle state. A list without a state filter merges one walk of
// referrals_by_state_recent per state: schema v17 dropped the index by time
// alone, which every state change rewrote for the plain list only.
std::vector<int64_t> EveryState() {
  std::vector<int64_t> states;
  for (int s = v1::ReferralState_MIN; s <= v1::ReferralState_MAX; ++s) {
    if (s != v1::REFERRAL_STATE_UNSPECIFIED && v1::ReferralState_IsValid(s)) states.push_back(s);
  }
  return states;
}

}  // namespace

absl::StatusOr<std::vector<ReferralRecord>> List(Db& db, int limit) {
  ReferralQuery every;
  every.limit = limit;
  return Query(db, every);
}

absl::StatusOr<std::vector<ReferralRecord>> Query(Db& db, const ReferralQuery& q) {
  // Each requested state once (a state filter is a set).
  std::vector<int64_t> states(q.states.begin(), q.states.end());
  std::sort(states.begin(), states.end());
  states.erase(std::unique(states.begin(), states.end()), states.end());
  auto opt_text = [](const std::string& v) {
    return v.empty() ? std::nullopt : std::optional<std::string>(v);
  };
  // The filters shared by every statement below (MIR_REFERRAL_FILTERS).
  auto bind_filters = [&](Statement& s) {
    s.BindOptText(1, opt_text(q.origin_node))
        .BindOptText(2, opt_text(q.not_origin_node))
        .BindOptText(3, opt_text(q.counterpart_node))
        .BindOptInt(4, q.urgency == v1::URGENCY_UNSPECIFIED ? std::nullopt
                                                            : std::optional<int64_t>(q.urgency))
        .BindOptText(6, opt_text(q.partner))
        .BindInt(8, SqlLimit(q.limit));
  };
  std::vector<ReferralRecord> out;
  if (states.empty()) states = EveryState();
  // In the per-state statements ?5 is a range on the index, never NULL.
  const int64_t since =
      q.updated_since.has_value() ? Micros(*q.updated_since) : std::numeric_limits<int64_t>::min();
  if (states.size() == 1) {
    // One walk of referrals_by_state_recent: `limit` index entries.
    ASSIGN_OR_RETURN(Statement s, db.Prepare(kReferralsInStateSql, "query referrals in state"));
    bind_filters(s);
    s.BindInt(5, since).BindInt(7, states[0]);
    RETURN_IF_ERROR(Collect(s, out));
    return out;
  }
  // Several states: the newest `limit` keys of each state (one index walk
  // each), merged newest first in the order of the SQL above, then the rows
  // of the first `limit` of them, all in one snapshot.
  RETURN_IF_ERROR(db.Exec("BEGIN", "begin referral query"));
  absl::Status status = MergeStates(db, states, bind_filters, since, q.limit, out);
  // A read transaction left open would pin this snapshot for every later
  // read on the connection.
  if (!db.Exec("COMMIT", "end referral query").ok() && !sqlite3_get_autocommit(db.raw()))
    (void)db.Exec("ROLLBACK", "end referral query");
  RETURN_IF_ERROR(status);
  return out;
}

absl::StatusOr<std::vector<ReferralRecord>> AwaitingAck(Db& db) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare(kAwaitingAckSql, "list emergencies awaiting ack"));
  std::vector<ReferralRecord> out;
  RETURN_IF_ERROR(Collect(s, out));
  return out;
}

absl::StatusOr<bool> PartnerHasAccess(Db& db, const std::string& referral_id,
                                      const std::string& partner) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT 1 FROM partner_access WHERE referral_id = ?1 "
                                           "AND partner = ?2",
                                           "read partner access"));
  s.BindText(1, referral_id).BindText(2, partner);
  return s.Step();
}

}  // namespace referrals
}  // namespace mir::storage
