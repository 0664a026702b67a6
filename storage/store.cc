#include "crypto/envelope_bytes.h"
#include "storage/store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <limits>
#include <queue>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "mir/v1/envelope.pb.h"
#include "storage/audit_chain.h"
#include "storage/lifecycle.h"
#include "storage/schema.h"
#include "storage/sqlite_util.h"
#include "storage/store_internal.h"

namespace mir::storage {
namespace {

// Checkpoint (copy the WAL into the database file) once the WAL holds this
// many pages. SQLite's automatic checkpoint is disabled so that a failed
// checkpoint sync is seen and fail-stops the store instead of being ignored.
constexpr int kCheckpointPages = 1000;
constexpr size_t kMaxIdBytes = 128;
constexpr size_t kMaxReasonBytes = 1024;
constexpr size_t kMaxErrorBytes = 256;

constexpr int kOutboxPending = 0;
constexpr int kOutboxDelivered = 1;
constexpr int kOutboxDead = 2;

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

absl::Status InvalidField(absl::string_view what) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD, what);
}

absl::Status FailStoppedError() {
  return MirError(absl::StatusCode::kUnavailable, v1::STORE_UNAVAILABLE,
                  "store is fail-stopped after a failed write, sync or commit; it refuses writes "
                  "until it is reopened (restart the node)");
}

const char* RoleText(Role role) {
  switch (role) {
    case Role::kNode:
      return "node";
    case Role::kOperator:
      return "operator";
    case Role::kPartner:
      return "partner";
  }
  return "unknown";
}

Role RoleFromText(absl::string_view text) {
  if (text == "operator") return Role::kOperator;
  if (text == "partner") return Role::kPartner;
  return Role::kNode;
}

OutboxState OutboxStateOf(int64_t n) {
  if (n == kOutboxDelivered) return OutboxState::kDelivered;
  if (n == kOutboxDead) return OutboxState::kDead;
  return OutboxState::kPending;
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string Truncate(absl::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

int SqlLimit(int limit) { return limit <= 0 ? -1 : limit; }

absl::Status ValidateEvent(const Event& e) {
  if (e.referral_id.empty() || e.referral_id.size() > kMaxIdBytes) {
    return InvalidField("event needs a referral id of 1-128 bytes");
  }
  if (e.message_id.empty() || e.message_id.size() > kMaxIdBytes) {
    return InvalidField("event needs a message id of 1-128 bytes");
  }
  if (!IsValidNodeId(e.sender_node))
    return InvalidField("event sender node is not a valid node id");
  if (!IsValidNodeId(e.actor.node)) return InvalidField("event actor node is not a valid node id");
  if (e.sequence == 0 || e.sequence > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidField("event sequence must be 1 or more");
  }
  if (e.to_state == v1::REFERRAL_STATE_UNSPECIFIED || !v1::ReferralState_IsValid(e.to_state)) {
    return InvalidField("event target state is not a lifecycle state");
  }
  if (e.reason.size() > kMaxReasonBytes)
    return InvalidField("event reason is longer than 1024 bytes");
  if (e.envelope.empty()) return InvalidField("event carries no envelope bytes");
  return absl::OkStatus();
}

AuditRow RowOf(int64_t id, const Event& e, int64_t applied_at_us) {
  AuditRow r;
  r.id = id;
  r.referral_id = e.referral_id;
  r.sender_node = e.sender_node;
  r.sequence = static_cast<int64_t>(e.sequence);
  r.message_id = e.message_id;
  r.to_state = e.to_state;
  r.actor_node = e.actor.node;
  r.actor_role = RoleText(e.actor.role);
  r.actor_name = e.actor.name;
  r.at_us = Micros(e.at);
  r.reason = e.reason;
  r.envelope_sha256 = Sha256(e.envelope);
  if (e.referral.has_value()) {
    r.origin_node = e.referral->origin_node;
    r.destination_node = e.referral->destination_node;
    r.urgency = e.referral->urgency;
    if (e.referral->ack_deadline.has_value()) r.ack_deadline_us = Micros(*e.referral->ack_deadline);
  }
  r.applied_at_us = applied_at_us;
  return r;
}

// Columns 0..14 of an event-shaped SELECT (events and held_events share them):
// referral_id, sender_node, sequence, message_id, to_state, actor_node,
// actor_role, actor_name, at_us, reason, envelope, origin_node,
// destination_node, urgency, ack_deadline_us.
#define MIR_EVENT_COLUMNS                                                              \
  "referral_id, sender_node, sequence, message_id, to_state, actor_node, actor_role, " \
  "actor_name, at_us, reason, envelope, origin_node, destination_node, urgency, "      \
  "ack_deadline_us"

Event EventFromRow(const Statement& s) {
  Event e;
  e.referral_id = s.Text(0);
  e.sender_node = s.Text(1);
  e.sequence = static_cast<uint64_t>(s.Int(2));
  e.message_id = s.Text(3);
  e.to_state = static_cast<v1::ReferralState>(s.Int(4));
  e.actor.node = s.Text(5);
  e.actor.role = RoleFromText(s.Text(6));
  e.actor.name = s.Text(7);
  e.at = FromMicros(s.Int(8));
  e.reason = s.Text(9);
  e.envelope = s.Text(10);
  if (!s.IsNull(11)) {
    ReferralMeta meta;
    meta.referral_id = e.referral_id;
    meta.origin_node = s.Text(11);
    meta.destination_node = s.Text(12);
    meta.urgency = static_cast<v1::Urgency>(s.Int(13));
    if (!s.IsNull(14)) meta.ack_deadline = FromMicros(s.Int(14));
    e.referral = std::move(meta);
  }
  return e;
}

#define MIR_REFERRAL_COLUMNS                                                      \
  "referral_id, origin_node, destination_node, urgency, ack_deadline_us, state, " \
  "created_at_us, updated_at_us, referral_envelope"

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

}  // namespace

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

namespace {

ReferralRecord ReferralFromRow(const Statement& s) {
  ReferralRecord r;
  r.meta.referral_id = s.Text(0);
  r.meta.origin_node = s.Text(1);
  r.meta.destination_node = s.Text(2);
  r.meta.urgency = static_cast<v1::Urgency>(s.Int(3));
  if (!s.IsNull(4)) r.meta.ack_deadline = FromMicros(s.Int(4));
  r.state = static_cast<v1::ReferralState>(s.Int(5));
  r.created_at = FromMicros(s.Int(6));
  r.updated_at = FromMicros(s.Int(7));
  r.referral_envelope = s.Text(8);
  return r;
}

#define MIR_OUTBOX_COLUMNS                                                         \
  "id, message_id, peer, envelope, attempts, enqueued_at_us, next_attempt_at_us, " \
  "state, last_error, receipt, urgency"

OutboxEntry OutboxFromRow(const Statement& s) {
  OutboxEntry o;
  o.id = s.Int(0);
  o.message_id = s.Text(1);
  o.peer = s.Text(2);
  o.envelope = s.Text(3);
  o.attempts = static_cast<int>(s.Int(4));
  o.enqueued_at = FromMicros(s.Int(5));
  o.next_attempt_at = FromMicros(s.Int(6));
  o.state = OutboxStateOf(s.Int(7));
  o.last_error = s.Text(8);
  o.receipt = s.Text(9);
  o.urgency = static_cast<v1::Urgency>(s.Int(10));
  return o;
}

absl::StatusOr<std::optional<ReferralRecord>> ReadReferral(Db& db, const std::string& referral_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT " MIR_REFERRAL_COLUMNS
                                           " FROM referrals WHERE referral_id = ?1",
                                           "read referral"));
  s.BindText(1, referral_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::nullopt;
  return ReferralFromRow(s);
}

absl::StatusOr<std::vector<OutboxEntry>> CollectOutbox(Statement& s) {
  std::vector<OutboxEntry> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(OutboxFromRow(s));
  }
  return out;
}

// Runs `fn` inside a savepoint: all of its writes or none, even when the
// caller of a Txn method carries on after an error.
absl::Status InSavepoint(Db& db, absl::FunctionRef<absl::Status()> fn) {
  RETURN_IF_ERROR(db.Exec("SAVEPOINT mir_op", "open a savepoint"));
  absl::Status status = fn();
  if (!status.ok()) {
    (void)db.Exec("ROLLBACK TO mir_op", "roll back a savepoint");
  }
  absl::Status released = db.Exec("RELEASE mir_op", "release a savepoint");
  return status.ok() ? released : status;
}

// ---------------------------------------------------------------------------

absl::StatusOr<std::optional<InboxRecord>> FindInboxIn(Db& db, const std::string& message_id) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT message_id, sender_node, envelope_sha256, receipt, "
                              "received_at_us FROM inbox WHERE message_id = ?1",
                              "read inbox"));
  s.BindText(1, message_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::nullopt;
  InboxRecord r;
  r.message_id = s.Text(0);
  r.sender_node = s.Text(1);
  r.envelope_sha256 = s.Text(2);
  r.receipt = s.Text(3);
  r.received_at = FromMicros(s.Int(4));
  return r;
}

// What the outbox needs to know of an envelope it queues: the referral it is
// about, and the urgency a REFERRAL carries. Empty if the bytes are no envelope.
struct QueuedAbout {
  std::optional<std::string> referral_id;
  std::optional<v1::Urgency> carried_urgency;
};

QueuedAbout AboutOf(const std::string& envelope_bytes) {
  v1::Envelope envelope;
  v1::EnvelopeHeader header;
  QueuedAbout about;
  if (!envelope.ParseFromString(envelope_bytes) || !header.ParseFromString(envelope.header()) ||
      header.referral_id().empty()) {
    return about;
  }
  about.referral_id = header.referral_id();
  v1::Referral referral;
  if (header.kind() == v1::REFERRAL && referral.ParseFromString(envelope.body())) {
    about.carried_urgency = referral.urgency();
  }
  return about;
}

// The outbox orders by urgency number: the most urgent is the lowest.
static_assert(v1::URGENCY_EMERGENCY_24H < v1::URGENCY_URGENT &&
              v1::URGENCY_URGENT < v1::URGENCY_ORDINARY);
int64_t QueueRank(int64_t urgency) {
  if (urgency == v1::URGENCY_EMERGENCY_24H || urgency == v1::URGENCY_URGENT) return urgency;
  return v1::URGENCY_ORDINARY;
}

// The urgency an outgoing envelope queues with (Txn::Enqueue): the
// referral's at this node, else the one a REFERRAL carries, else that of the
// referral's earlier entries (a relay keeps what it learnt from the referral
// it relayed), else ORDINARY.
absl::StatusOr<int64_t> QueueUrgency(Db& db, const QueuedAbout& about) {
  constexpr int64_t kOrdinary = v1::URGENCY_ORDINARY;
  if (!about.referral_id.has_value()) return kOrdinary;
  {
    ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT urgency FROM referrals WHERE referral_id = ?1",
                                             "read the referral's urgency"));
    s.BindText(1, *about.referral_id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) return QueueRank(s.Int(0));
  }
  if (about.carried_urgency.has_value()) return QueueRank(*about.carried_urgency);
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT urgency FROM outbox WHERE referral_id = ?1 LIMIT 1",
                              "read the urgency of the referral's queued envelopes"));
  s.BindText(1, *about.referral_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? QueueRank(s.Int(0)) : kOrdinary;
}

absl::Status CollectReferrals(Statement& s, std::vector<ReferralRecord>& out) {
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::OkStatus();
    out.push_back(ReferralFromRow(s));
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

// QueryReferrals with several states: per state, the keys of its newest
// `limit` matches; a k-way merge of those lists in list order (the first
// `limit` of the union are among them, the states being disjoint); then the
// rows of the first `limit`. Runs inside the caller's read transaction.
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
    out.push_back(ReferralFromRow(s));
  }
  return absl::OkStatus();
}

class TxnImpl final : public Txn {
 public:
  TxnImpl(Db& db, const Clock& clock, const std::string& national_node)
      : db_(db), clock_(clock), national_node_(national_node) {}

  absl::StatusOr<std::optional<InboxRecord>> FindInbox(const std::string& message_id) override {
    return FindInboxIn(db_, message_id);
  }

  absl::StatusOr<std::optional<OutboxEntry>> FindOutbox(const std::string& message_id) override {
    ASSIGN_OR_RETURN(Statement s,
                     db_.Prepare("SELECT " MIR_OUTBOX_COLUMNS " FROM outbox WHERE message_id = ?1",
                                 "find outbox entry"));
    s.BindText(1, message_id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<OutboxEntry>();
    return std::optional<OutboxEntry>(OutboxFromRow(s));
  }

  absl::Status InsertInbox(const InboxRecord& record) override {
    if (record.message_id.empty() || record.message_id.size() > kMaxIdBytes) {
      return InvalidField("inbox record needs a message id of 1-128 bytes");
    }
    ASSIGN_OR_RETURN(std::optional<InboxRecord> existing, FindInbox(record.message_id));
    if (existing.has_value()) {
      if (existing->envelope_sha256 != record.envelope_sha256) {
        return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                        absl::StrCat("message ", record.message_id,
                                     " was already received with different bytes"));
      }
      return absl::AlreadyExistsError(
          absl::StrCat("message ", record.message_id, " was already received"));
    }
    ASSIGN_OR_RETURN(Statement s,
                     db_.Prepare("INSERT INTO inbox (message_id, sender_node, envelope_sha256, "
                                 "receipt, received_at_us) VALUES (?1, ?2, ?3, ?4, ?5)",
                                 "write inbox"));
    s.BindText(1, record.message_id)
        .BindText(2, record.sender_node)
        .BindBlob(3, record.envelope_sha256)
        .BindBlob(4, record.receipt)
        .BindInt(5, Micros(record.received_at));
    return s.Run();
  }

  absl::StatusOr<ApplyResult> ApplyEvent(const Event& event) override {
    RETURN_IF_ERROR(ValidateEvent(event));
    ApplyResult result;
    RETURN_IF_ERROR(InSavepoint(db_, [&] { return ApplyInSavepoint(event, result); }));
    return result;
  }

  absl::StatusOr<std::optional<ReferralRecord>> GetReferral(
      const std::string& referral_id) override {
    return ReadReferral(db_, referral_id);
  }

  absl::StatusOr<uint64_t> NextSequence(const std::string& referral_id,
                                        const std::string& node) override {
    ASSIGN_OR_RETURN(uint64_t last, LastSequence(referral_id, node));
    return last + 1;
  }

  absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> StreamPositions(
      const std::string& referral_id) override {
    ASSIGN_OR_RETURN(Statement s,
                     db_.Prepare("SELECT sender_node, last_sequence FROM streams "
                                 "WHERE referral_id = ?1 ORDER BY sender_node",
                                 "read stream positions"));
    s.BindText(1, referral_id);
    std::vector<std::pair<std::string, uint64_t>> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.emplace_back(s.Text(0), static_cast<uint64_t>(s.Int(1)));
    }
    return out;
  }

  absl::Status Enqueue(const OutgoingEnvelope& envelope) override {
    if (envelope.message_id.empty() || envelope.message_id.size() > kMaxIdBytes) {
      return InvalidField("outgoing envelope needs a message id of 1-128 bytes");
    }
    if (!IsValidNodeId(envelope.peer)) return InvalidField("outgoing peer is not a valid node id");
    if (envelope.envelope.empty()) return InvalidField("outgoing envelope has no bytes");
    {
      ASSIGN_OR_RETURN(
          Statement s,
          db_.Prepare("SELECT peer, envelope FROM outbox WHERE message_id = ?1", "read outbox"));
      s.BindText(1, envelope.message_id);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) {
        if (s.Text(0) != envelope.peer || s.Text(1) != envelope.envelope) {
          return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                          absl::StrCat("message ", envelope.message_id,
                                       " is already queued with different bytes or peer"));
        }
        return absl::AlreadyExistsError(
            absl::StrCat("message ", envelope.message_id, " is already queued"));
      }
    }
    const int64_t now = Micros(clock_.Now());
    const QueuedAbout about = AboutOf(envelope.envelope);
    ASSIGN_OR_RETURN(int64_t urgency, QueueUrgency(db_, about));
    ASSIGN_OR_RETURN(Statement s,
                     db_.Prepare("INSERT INTO outbox (message_id, peer, envelope, attempts, "
                                 "enqueued_at_us, next_attempt_at_us, state, referral_id, urgency) "
                                 "VALUES (?1, ?2, ?3, 0, ?4, ?4, 0, ?5, ?6)",
                                 "enqueue outgoing envelope"));
    s.BindText(1, envelope.message_id)
        .BindText(2, envelope.peer)
        .BindBlob(3, envelope.envelope)
        .BindInt(4, now)
        .BindOptText(5, about.referral_id)
        .BindInt(6, urgency);
    return s.Run();
  }

  absl::Status GrantPartnerAccess(const std::string& referral_id,
                                  const std::string& partner) override {
    ASSIGN_OR_RETURN(Statement s,
                     db_.Prepare("INSERT INTO partner_access (referral_id, partner, granted_at_us) "
                                 "VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                                 "grant partner access"));
    s.BindText(1, referral_id).BindText(2, partner).BindInt(3, Micros(clock_.Now()));
    return s.Run();
  }

  absl::Time Now() const override { return clock_.Now(); }

  absl::Status Atomically(absl::FunctionRef<absl::Status()> fn) override {
    return InSavepoint(db_, fn);
  }

 private:
  absl::Status ApplyInSavepoint(const Event& event, ApplyResult& result) {
    if (!event.join_streams.empty()) RETURN_IF_ERROR(JoinStreams(event));
    ASSIGN_OR_RETURN(uint64_t last, LastSequence(event.referral_id, event.sender_node));
    if (event.sequence <= last) return AlreadyApplied(event);
    if (event.sequence > last + 1) {
      RETURN_IF_ERROR(Hold(event));
      result.outcome = ApplyOutcome::kHeld;
      return absl::OkStatus();
    }

    ASSIGN_OR_RETURN(std::optional<ReferralRecord> current, ReadReferral(db_, event.referral_id));
    RETURN_IF_ERROR(
        CheckTransition(current.has_value() ? &*current : nullptr, event, national_node_));
    RETURN_IF_ERROR(Append(event, current.has_value()));
    result.applied.push_back(event);

    // Release held successors of the same stream, in order, in this
    // transaction. A refused one is dropped (and its number consumed) rather
    // than failing the arrival that released it: that arrival was valid, and
    // the sender already holds our receipt for the refused one.
    uint64_t seq = event.sequence;
    while (true) {
      ASSIGN_OR_RETURN(std::optional<Event> held,
                       TakeHeld(event.referral_id, event.sender_node, seq + 1));
      if (!held.has_value()) break;
      ++seq;
      ASSIGN_OR_RETURN(current, ReadReferral(db_, held->referral_id));
      absl::Status check =
          CheckTransition(current.has_value() ? &*current : nullptr, *held, national_node_);
      if (check.ok()) {
        RETURN_IF_ERROR(Append(*held, current.has_value()));
        result.applied.push_back(*std::move(held));
      } else {
        RETURN_IF_ERROR(RecordDropped(*held, check));
        result.dropped.push_back(DroppedEvent{held->referral_id, held->sender_node, held->sequence,
                                              held->message_id, check});
      }
    }
    return SetLastSequence(event.referral_id, event.sender_node, seq);
  }

  // A node joining a referral (routed on to it) starts each stream where the
  // router says it stood; streams it already follows are left alone.
  absl::Status JoinStreams(const Event& event) {
    ASSIGN_OR_RETURN(std::optional<ReferralRecord> current, ReadReferral(db_, event.referral_id));
    if (current.has_value()) return absl::OkStatus();
    for (const auto& [node, last] : event.join_streams) {
      if (!IsValidNodeId(node)) return InvalidField("join stream names an invalid node id");
      ASSIGN_OR_RETURN(uint64_t known, LastSequence(event.referral_id, node));
      if (known == 0) RETURN_IF_ERROR(SetLastSequence(event.referral_id, node, last));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> LastSequence(const std::string& referral_id, const std::string& node) {
    ASSIGN_OR_RETURN(
        Statement s,
        db_.Prepare("SELECT last_sequence FROM streams WHERE referral_id = ?1 AND sender_node = ?2",
                    "read stream position"));
    s.BindText(1, referral_id).BindText(2, node);
    ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? static_cast<uint64_t>(s.Int(0)) : 0;
  }

  absl::Status SetLastSequence(const std::string& referral_id, const std::string& node,
                               uint64_t seq) {
    ASSIGN_OR_RETURN(Statement s,
                     db_.Prepare("INSERT INTO streams (referral_id, sender_node, last_sequence) "
                                 "VALUES (?1, ?2, ?3) ON CONFLICT (referral_id, sender_node) "
                                 "DO UPDATE SET last_sequence = excluded.last_sequence",
                                 "write stream position"));
    s.BindText(1, referral_id).BindText(2, node).BindInt(3, static_cast<int64_t>(seq));
    return s.Run();
  }

  absl::Status AlreadyApplied(const Event& event) {
    ASSIGN_OR_RETURN(Statement s,
                     db_.Prepare("SELECT message_id FROM events WHERE referral_id = ?1 AND "
                                 "sender_node = ?2 AND sequence = ?3",
                                 "read applied event"));
    s.BindText(1, event.referral_id)
        .BindText(2, event.sender_node)
        .BindInt(3, static_cast<int64_t>(event.sequence));
    ASSIGN_OR_RETURN(bool row, s.Step());
    return SequenceTaken(event, row && s.Text(0) == event.message_id, "was already applied",
                         "was already used by another message");
  }

  // ALREADY_EXISTS for an event whose sequence number is taken: without a
  // reason when by this same message (a repeat), DUPLICATE_CONFLICT otherwise.
  static absl::Status SequenceTaken(const Event& e, bool same_message, absl::string_view repeat,
                                    absl::string_view conflict) {
    const std::string what = absl::StrCat("sequence ", e.sequence, " of node ", e.sender_node,
                                          " on referral ", e.referral_id, " ");
    if (same_message) return absl::AlreadyExistsError(absl::StrCat(what, repeat));
    return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                    absl::StrCat(what, conflict));
  }

  absl::Status Hold(const Event& e) {
    {
      // Early messages cost storage until their predecessors come: a sender
      // may run ahead by a bounded number only (it retries the rest later).
      ASSIGN_OR_RETURN(Statement s,
                       db_.Prepare("SELECT COUNT(*) FROM held_events WHERE referral_id = ?1 AND "
                                   "sender_node = ?2",
                                   "count held events"));
      s.BindText(1, e.referral_id).BindText(2, e.sender_node);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row && s.Int(0) >= kMaxHeldPerStream) {
        return MirError(absl::StatusCode::kResourceExhausted, v1::TOO_MANY_HELD,
                        absl::StrCat(kMaxHeldPerStream, " early messages from ", e.sender_node,
                                     " on referral ", e.referral_id,
                                     " already wait for their predecessors; send those first"));
      }
    }
    {
      ASSIGN_OR_RETURN(Statement s,
                       db_.Prepare("SELECT message_id FROM held_events WHERE referral_id = ?1 AND "
                                   "sender_node = ?2 AND sequence = ?3",
                                   "read held event"));
      s.BindText(1, e.referral_id)
          .BindText(2, e.sender_node)
          .BindInt(3, static_cast<int64_t>(e.sequence));
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) {
        return SequenceTaken(e, s.Text(0) == e.message_id, "is already held",
                             "is already held for another message");
      }
    }
    const AuditRow r = RowOf(0, e, 0);  // the column values; no hash needed
    ASSIGN_OR_RETURN(
        Statement s,
        db_.Prepare("INSERT INTO held_events (" MIR_EVENT_COLUMNS ", held_at_us) VALUES "
                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                    "hold early event"));
    BindEventColumns(s, r, e.envelope);
    s.BindInt(16, Micros(clock_.Now()));
    return s.Run();
  }

  absl::StatusOr<std::optional<Event>> TakeHeld(const std::string& referral_id,
                                                const std::string& node, uint64_t seq) {
    std::optional<Event> held;
    {
      ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT " MIR_EVENT_COLUMNS
                                                " FROM held_events WHERE referral_id = ?1 "
                                                "AND sender_node = ?2 AND sequence = ?3",
                                                "read held event"));
      s.BindText(1, referral_id).BindText(2, node).BindInt(3, static_cast<int64_t>(seq));
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return std::nullopt;
      held = EventFromRow(s);
    }
    ASSIGN_OR_RETURN(
        Statement del,
        db_.Prepare("DELETE FROM held_events WHERE referral_id = ?1 AND sender_node = ?2 "
                    "AND sequence = ?3",
                    "release held event"));
    del.BindText(1, referral_id).BindText(2, node).BindInt(3, static_cast<int64_t>(seq));
    RETURN_IF_ERROR(del.Run());
    return held;
  }

  absl::Status RecordDropped(const Event& e, const absl::Status& why) {
    ASSIGN_OR_RETURN(Statement s,
                     db_.Prepare("INSERT INTO dropped_events (referral_id, sender_node, sequence, "
                                 "message_id, to_state, actor_node, actor_role, status_code, "
                                 "status_reason, status_text, dropped_at_us) VALUES "
                                 "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                                 "record dropped event"));
    s.BindText(1, e.referral_id)
        .BindText(2, e.sender_node)
        .BindInt(3, static_cast<int64_t>(e.sequence))
        .BindText(4, e.message_id)
        .BindInt(5, e.to_state)
        .BindText(6, e.actor.node)
        .BindText(7, RoleText(e.actor.role))
        .BindInt(8, static_cast<int>(why.code()))
        .BindText(9, ReasonName(why))
        .BindText(10, Truncate(why.message(), kMaxErrorBytes))
        .BindInt(11, Micros(clock_.Now()));
    return s.Run();
  }

  // Binds the 15 event columns of `r` (with `envelope`) to parameters 1..15.
  static void BindEventColumns(Statement& s, const AuditRow& r, const std::string& envelope) {
    s.BindText(1, r.referral_id)
        .BindText(2, r.sender_node)
        .BindInt(3, r.sequence)
        .BindText(4, r.message_id)
        .BindInt(5, r.to_state)
        .BindText(6, r.actor_node)
        .BindText(7, r.actor_role)
        .BindText(8, r.actor_name)
        .BindInt(9, r.at_us)
        .BindText(10, r.reason)
        .BindBlob(11, envelope)
        .BindOptText(12, r.origin_node)
        .BindOptText(13, r.destination_node)
        .BindOptInt(14, r.urgency)
        .BindOptInt(15, r.ack_deadline_us);
  }

  // Appends `e` to the chain and folds it into the projection. The lifecycle
  // check has passed.
  absl::Status Append(const Event& e, bool referral_exists) {
    const int64_t now = Micros(clock_.Now());
    if (e.to_state == v1::SUBMITTED && !referral_exists) {
      const ReferralMeta& meta = *e.referral;  // CheckTransition required it
      ASSIGN_OR_RETURN(Statement s,
                       db_.Prepare("INSERT INTO referrals (" MIR_REFERRAL_COLUMNS ") VALUES "
                                   "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
                                   "create referral"));
      s.BindText(1, e.referral_id)
          .BindText(2, meta.origin_node)
          .BindText(3, meta.destination_node)
          .BindInt(4, meta.urgency)
          .BindOptInt(5, meta.ack_deadline.has_value()
                             ? std::optional<int64_t>(Micros(*meta.ack_deadline))
                             : std::nullopt)
          .BindInt(6, e.to_state)
          .BindInt(7, Micros(e.at))
          .BindBlob(8, e.referral_envelope.empty() ? e.envelope : e.referral_envelope);
      RETURN_IF_ERROR(s.Run());
    } else if (e.to_state == v1::SUBMITTED) {
      // Routed on: the referral now goes to a new destination.
      ASSIGN_OR_RETURN(
          Statement s,
          db_.Prepare("UPDATE referrals SET state = ?2, destination_node = ?3, "
                      "updated_at_us = MAX(updated_at_us, ?4), "
                      "ack_deadline_us = COALESCE(?5, ack_deadline_us) WHERE referral_id = ?1",
                      "route referral on"));
      s.BindText(1, e.referral_id)
          .BindInt(2, e.to_state)
          .BindText(3, e.referral->destination_node)
          .BindInt(4, Micros(e.at))
          .BindOptInt(5, e.referral->ack_deadline.has_value()
                             ? std::optional<int64_t>(Micros(*e.referral->ack_deadline))
                             : std::nullopt);
      RETURN_IF_ERROR(s.Run());
    } else {
      ASSIGN_OR_RETURN(
          Statement s,
          db_.Prepare("UPDATE referrals SET state = ?2, updated_at_us = MAX(updated_at_us, ?3) "
                      "WHERE referral_id = ?1",
                      "update referral"));
      s.BindText(1, e.referral_id).BindInt(2, e.to_state).BindInt(3, Micros(e.at));
      RETURN_IF_ERROR(s.Run());
    }

    // Link to the chain head, not to whatever row is last: if rows were
    // deleted at the end, the gap stays visible to VerifyAuditChain.
    std::string prev = GenesisHash();
    int64_t last_id = 0;
    int64_t count = 0;
    {
      ASSIGN_OR_RETURN(
          Statement s,
          db_.Prepare("SELECT last_event_id, last_hash, row_count FROM audit_head WHERE id = 1",
                      "read audit chain head"));
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) {
        last_id = s.Int(0);
        prev = s.Text(1);
        count = s.Int(2);
      }
    }
    {
      ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT COALESCE(MAX(id), 0) FROM events",
                                                "read last event id"));
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (row && s.Int(0) > last_id) last_id = s.Int(0);
    }
    const AuditRow r = RowOf(last_id + 1, e, now);
    const std::string hash = ChainHash(prev, r);
    if (hash.size() != kHashBytes)
      return absl::InternalError("SHA-256 failed while appending an event");
    {
      ASSIGN_OR_RETURN(
          Statement s,
          db_.Prepare("INSERT INTO events (" MIR_EVENT_COLUMNS ", applied_at_us, id, "
                      "envelope_sha256, prev_hash, row_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                      "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
                      "append event"));
      BindEventColumns(s, r, e.envelope);
      s.BindInt(16, r.applied_at_us)
          .BindInt(17, r.id)
          .BindBlob(18, r.envelope_sha256)
          .BindBlob(19, prev)
          .BindBlob(20, hash);
      RETURN_IF_ERROR(s.Run());
    }
    ASSIGN_OR_RETURN(
        Statement s,
        db_.Prepare("INSERT INTO audit_head (id, last_event_id, last_hash, row_count) "
                    "VALUES (1, ?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET "
                    "last_event_id = excluded.last_event_id, last_hash = excluded.last_hash, "
                    "row_count = excluded.row_count",
                    "write audit chain head"));
    s.BindInt(1, r.id).BindBlob(2, hash).BindInt(3, count + 1);
    return s.Run();
  }

  Db& db_;
  const Clock& clock_;
  const std::string& national_node_;
};

// ---------------------------------------------------------------------------

class StoreImpl final : public Store {
 public:
  StoreImpl(const StoreOptions& options, const Clock& clock) : options_(options), clock_(clock) {}

  ~StoreImpl() override {
    // After a failure, do not let close-time checkpoints write to a disk that
    // has already lost a sync; the WAL is replayed on the next open.
    absl::MutexLock wlock(&write_mu_);
    absl::MutexLock rlock(&read_mu_);
    if (failed_.load()) {
      for (Db* db : {writer_.get(), reader_.get()}) {
        if (db != nullptr)
          sqlite3_db_config(db->raw(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
      }
    }
    reader_.reset();
    writer_.reset();
  }

  absl::Status Init() {
    constexpr int kFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    absl::MutexLock wlock(&write_mu_);
    // Made 0600 before SQLite opens it: SQLite gives the WAL and shm files
    // it creates the database file's mode. Files of older versions are
    // tightened too.
    RETURN_IF_ERROR(MakePrivateFile(options_.path));
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      const std::string companion = options_.path + suffix;
      if (access(companion.c_str(), F_OK) == 0) RETURN_IF_ERROR(MakePrivateFile(companion));
    }
    ASSIGN_OR_RETURN(writer_, Db::Open(options_.path, kFlags, options_.vfs_name));
    sqlite3* raw = writer_->raw();
    sqlite3_busy_timeout(raw, static_cast<int>(absl::ToInt64Milliseconds(options_.busy_timeout)));

    RETURN_IF_ERROR(QuickCheck(*writer_));
    RETURN_IF_ERROR(CheckSchemaVersion(*writer_));
    ASSIGN_OR_RETURN(std::string mode,
                     writer_->QueryText("PRAGMA journal_mode = WAL", "enable WAL"));
    if (mode != "wal") {
      return absl::FailedPreconditionError(
          absl::StrCat("the database refused WAL mode (journal_mode is ", mode, ")"));
    }
    RETURN_IF_ERROR(
        writer_->Exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
                      "PRAGMA secure_delete = ON;",
                      "set durability pragmas"));
    // Each write of a group commit runs in a SAVEPOINT, whose statement
    // journal SQLite spills from memory to a temp file (/var/tmp/etilqs_*)
    // beyond 64 KiB: files created, written and deleted on every busy commit.
    // Kept in memory they cost a group's changes in RAM, and measured 15 %
    // less CPU and 20 % fewer bytes written per referral
    // (docs/PERFORMANCE.md, "Bytes written per referral"). Nothing durable
    // lives there; the WAL is unaffected. Writer only: the reader's sorts
    // stay free to spill.
    RETURN_IF_ERROR(writer_->Exec("PRAGMA temp_store = MEMORY", "keep temp files in memory"));
    // Replaces SQLite's automatic checkpointing (see kCheckpointPages).
    sqlite3_wal_hook(raw, &StoreImpl::WalHook, this);
    RETURN_IF_ERROR(Migrate(*writer_));

    absl::MutexLock rlock(&read_mu_);
    ASSIGN_OR_RETURN(reader_, Db::Open(options_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                       options_.vfs_name));
    sqlite3_busy_timeout(reader_->raw(),
                         static_cast<int>(absl::ToInt64Milliseconds(options_.busy_timeout)));
    return reader_->Exec("PRAGMA query_only = ON", "make the read connection read-only");
  }

  absl::Status Transact(absl::FunctionRef<absl::Status(Txn&)> fn) override {
    return RunWrite([&](Db& db) {
      TxnImpl txn(db, clock_, options_.national_node);
      return fn(txn);
    });
  }

  absl::StatusOr<ApplyResult> RecordAndEnqueue(
      const Event& event, const std::vector<OutgoingEnvelope>& outgoing) override {
    ApplyResult result;
    RETURN_IF_ERROR(Transact([&](Txn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(result, txn.ApplyEvent(event));
      for (const OutgoingEnvelope& o : outgoing) RETURN_IF_ERROR(txn.Enqueue(o));
      return absl::OkStatus();
    }));
    return result;
  }

  absl::StatusOr<std::vector<OutboxEntry>> DuePending(const std::string& peer, absl::Time now,
                                                      int limit) override {
    return Read([&](Db& db) -> absl::StatusOr<std::vector<OutboxEntry>> {
      ASSIGN_OR_RETURN(
          Statement s,
          // INDEXED BY: without statistics the planner may pick another
          // index and filter every peer's rows.
          db.Prepare(
              "SELECT " MIR_OUTBOX_COLUMNS " FROM outbox INDEXED BY outbox_due "
              "WHERE peer = ?1 AND state = 0 AND next_attempt_at_us <= ?2 "
              "ORDER BY urgency, id LIMIT ?3",
              "read due outbox entries"));
      s.BindText(1, peer).BindInt(2, Micros(now)).BindInt(3, SqlLimit(limit));
      return CollectOutbox(s);
    });
  }

  absl::StatusOr<std::optional<absl::Time>> NextDue(const std::string& peer,
                                                    absl::Time after) override {
    return Read([&](Db& db) -> absl::StatusOr<std::optional<absl::Time>> {
      ASSIGN_OR_RETURN(
          Statement s,
          db.Prepare("SELECT MIN(next_attempt_at_us) FROM outbox INDEXED BY outbox_due "
                     "WHERE peer = ?1 AND state = 0 AND next_attempt_at_us > ?2",
                     "read next due time"));
      s.BindText(1, peer);
      s.BindInt(2, Micros(after));
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row || s.IsNull(0)) return std::optional<absl::Time>();
      return std::optional<absl::Time>(FromMicros(s.Int(0)));
    });
  }

  absl::StatusOr<int> MakeDueNow(const std::string& peer, absl::Time now) override {
    return UpdateCountingRows(
        "UPDATE outbox INDEXED BY outbox_due SET next_attempt_at_us = ?2 "
        "WHERE peer = ?1 AND state = 0 AND next_attempt_at_us > ?2",
        "make the peer's pending entries due",
        [&](Statement& s) { s.BindText(1, peer).BindInt(2, Micros(now)); }, Sync::kDeferred);
  }

  absl::Status MarkDelivered(int64_t id, const std::string& receipt) override {
    return RunWrite([&](Db& db) { return MarkDeliveredIn(db, id, receipt); }, Sync::kDeferred);
  }

  absl::Status MarkDeliveredMany(
      const std::vector<std::pair<int64_t, std::string>>& deliveries) override {
    return RunWrite(
        [&](Db& db) -> absl::Status {
          for (const auto& [id, receipt] : deliveries) {
            RETURN_IF_ERROR(MarkDeliveredIn(db, id, receipt));
          }
          return absl::OkStatus();
        },
        Sync::kDeferred);
  }

  static absl::Status MarkDeliveredIn(Db& db, int64_t id, const std::string& receipt) {
    ASSIGN_OR_RETURN(int64_t state, OutboxStateFor(db, id));
    if (state == kOutboxDelivered) return absl::OkStatus();  // a repeated receipt
    ASSIGN_OR_RETURN(
        Statement s,
        db.Prepare("UPDATE outbox SET state = 1, receipt = ?2, attempts = attempts + 1 "
                   "WHERE id = ?1",
                   "mark outbox entry delivered"));
    s.BindInt(1, id).BindBlob(2, receipt);
    return s.Run();
  }

  absl::Status MarkAttemptFailed(int64_t id, absl::Time next_attempt_at,
                                 const std::string& error) override {
    return RunWrite(
        [&](Db& db) -> absl::Status {
          ASSIGN_OR_RETURN(int64_t state, OutboxStateFor(db, id));
          if (state != kOutboxPending) return NotPending(id, state);
          ASSIGN_OR_RETURN(
              Statement s,
              db.Prepare("UPDATE outbox SET attempts = attempts + 1, next_attempt_at_us = ?2, "
                         "last_error = ?3 WHERE id = ?1",
                         "record failed delivery attempt"));
          s.BindInt(1, id)
              .BindInt(2, Micros(next_attempt_at))
              .BindText(3, Truncate(error, kMaxErrorBytes));
          return s.Run();
        },
        Sync::kDeferred);
  }

  absl::Status MarkDead(int64_t id, const std::string& error) override {
    return RunWrite([&](Db& db) -> absl::Status {
      ASSIGN_OR_RETURN(int64_t state, OutboxStateFor(db, id));
      if (state == kOutboxDead) return absl::OkStatus();
      if (state != kOutboxPending) return NotPending(id, state);
      ASSIGN_OR_RETURN(Statement s,
                       db.Prepare("UPDATE outbox SET state = 2, last_error = ?2 WHERE id = ?1",
                                  "mark outbox entry dead"));
      s.BindInt(1, id).BindText(2, Truncate(error, kMaxErrorBytes));
      return s.Run();
    });
  }

  absl::StatusOr<int> MarkDeadEnqueuedBy(const std::string& peer, absl::Time enqueued_by,
                                         const std::string& error) override {
    return UpdateCountingRows(
        "UPDATE outbox INDEXED BY outbox_due SET state = 2, last_error = ?3 "
        "WHERE peer = ?1 AND state = 0 AND enqueued_at_us <= ?2",
        "mark the peer's expired entries dead", [&](Statement& s) {
          s.BindText(1, peer)
              .BindInt(2, Micros(enqueued_by))
              .BindText(3, Truncate(error, kMaxErrorBytes));
        });
  }

  absl::StatusOr<std::vector<OutboxEntry>> ListOutbox(std::optional<OutboxState> state,
                                                      int limit) override {
    return Read([&](Db& db) -> absl::StatusOr<std::vector<OutboxEntry>> {
      if (state.has_value()) {
        // The state as a literal, so that the partial index of that state
        // (outbox_due, outbox_dead) serves the query; delivered rows
        // have none and are scanned (tests and tools only).
        const char* sql = nullptr;
        switch (*state) {
          case OutboxState::kPending:
            sql = "SELECT " MIR_OUTBOX_COLUMNS " FROM outbox WHERE state = 0 ORDER BY id LIMIT ?1";
            break;
          case OutboxState::kDelivered:
            sql = "SELECT " MIR_OUTBOX_COLUMNS " FROM outbox WHERE state = 1 ORDER BY id LIMIT ?1";
            break;
          case OutboxState::kDead:
            sql = "SELECT " MIR_OUTBOX_COLUMNS " FROM outbox WHERE state = 2 ORDER BY id LIMIT ?1";
            break;
        }
        ASSIGN_OR_RETURN(Statement s, db.Prepare(sql, "list outbox"));
        s.BindInt(1, SqlLimit(limit));
        return CollectOutbox(s);
      }
      ASSIGN_OR_RETURN(Statement s,
                       db.Prepare("SELECT " MIR_OUTBOX_COLUMNS " FROM outbox ORDER BY id LIMIT ?1",
                                  "list outbox"));
      s.BindInt(1, SqlLimit(limit));
      return CollectOutbox(s);
    });
  }

  absl::StatusOr<std::optional<OutboxEntry>> FindOutbox(const std::string& message_id) override {
    return Read([&](Db& db) -> absl::StatusOr<std::optional<OutboxEntry>> {
      ASSIGN_OR_RETURN(Statement s,
                       db.Prepare("SELECT " MIR_OUTBOX_COLUMNS " FROM outbox WHERE message_id = ?1",
                                  "find outbox entry"));
      s.BindText(1, message_id);
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return std::optional<OutboxEntry>();
      return std::optional<OutboxEntry>(OutboxFromRow(s));
    });
  }

  absl::StatusOr<int> Requeue(int64_t id) override {
    int moved = 0;
    RETURN_IF_ERROR(RunWrite([&](Db& db) -> absl::Status {
      ASSIGN_OR_RETURN(int64_t state, OutboxStateFor(db, id));
      if (state != kOutboxDead) return absl::OkStatus();
      ASSIGN_OR_RETURN(
          Statement s,
          db.Prepare("UPDATE outbox SET state = 0, attempts = 0, next_attempt_at_us = ?2, "
                     "enqueued_at_us = ?2 WHERE id = ?1 AND state = 2",
                     "requeue dead letter"));
      s.BindInt(1, id).BindInt(2, Micros(clock_.Now()));
      RETURN_IF_ERROR(s.Run());
      moved = sqlite3_changes(db.raw());
      return absl::OkStatus();
    }));
    return moved;
  }

  absl::StatusOr<int> RequeueAllDead() override {
    return UpdateCountingRows(
        "UPDATE outbox SET state = 0, attempts = 0, next_attempt_at_us = ?1, "
        "enqueued_at_us = ?1 WHERE state = 2",
        "requeue all dead letters", [&](Statement& s) { s.BindInt(1, Micros(clock_.Now())); });
  }

  absl::StatusOr<std::optional<ReferralRecord>> GetReferral(
      const std::string& referral_id) override {
    return Read([&](Db& db) { return ReadReferral(db, referral_id); });
  }

  absl::StatusOr<std::vector<ReferralRecord>> ListReferrals(int limit) override {
    return Read([&](Db& db) -> absl::StatusOr<std::vector<ReferralRecord>> {
      ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT " MIR_REFERRAL_COLUMNS " FROM referrals "
                                               "ORDER BY updated_at_us DESC, referral_id LIMIT ?1",
                                               "list referrals"));
      s.BindInt(1, SqlLimit(limit));
      std::vector<ReferralRecord> out;
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        out.push_back(ReferralFromRow(s));
      }
      return out;
    });
  }

  absl::StatusOr<std::vector<OutboxEntry>> OutboxForReferral(
      const std::string& referral_id) override {
    return Read([&](Db& db) -> absl::StatusOr<std::vector<OutboxEntry>> {
      ASSIGN_OR_RETURN(Statement s,
                       db.Prepare("SELECT " MIR_OUTBOX_COLUMNS " FROM outbox "
                                  "WHERE referral_id = ?1 ORDER BY id",
                                  "list outbox of referral"));
      s.BindText(1, referral_id);
      return CollectOutbox(s);
    });
  }

  absl::StatusOr<std::vector<ReferralRecord>> QueryReferrals(const ReferralQuery& q) override {
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
    // In the per-state statements ?5 is a range on the index, never NULL.
    const int64_t since = q.updated_since.has_value() ? Micros(*q.updated_since)
                                                      : std::numeric_limits<int64_t>::min();
    return Read([&](Db& db) -> absl::StatusOr<std::vector<ReferralRecord>> {
      std::vector<ReferralRecord> out;
      if (states.empty()) {
        ASSIGN_OR_RETURN(Statement s,
                         db.Prepare("SELECT " MIR_REFERRAL_COLUMNS " FROM referrals WHERE "
                                    "(?5 IS NULL OR updated_at_us >= ?5) AND " MIR_REFERRAL_FILTERS
                                    "ORDER BY updated_at_us DESC, referral_id LIMIT ?8",
                                    "query referrals"));
        bind_filters(s);
        s.BindOptInt(5, q.updated_since.has_value()
                            ? std::optional<int64_t>(Micros(*q.updated_since))
                            : std::nullopt);
        RETURN_IF_ERROR(CollectReferrals(s, out));
        return out;
      }
      if (states.size() == 1) {
        // One walk of referrals_by_state_recent: `limit` index entries.
        ASSIGN_OR_RETURN(Statement s, db.Prepare(kReferralsInStateSql, "query referrals in state"));
        bind_filters(s);
        s.BindInt(5, since).BindInt(7, states[0]);
        RETURN_IF_ERROR(CollectReferrals(s, out));
        return out;
      }
      // Several states: the newest `limit` keys of each state (one index
      // walk each), merged newest first in the order of the SQL above, then
      // the rows of the first `limit` of them, all in one snapshot.
      RETURN_IF_ERROR(db.Exec("BEGIN", "begin referral query"));
      absl::Status status = MergeStates(db, states, bind_filters, since, q.limit, out);
      // A read transaction left open would pin this snapshot for every
      // later read on the connection.
      if (!db.Exec("COMMIT", "end referral query").ok() && !sqlite3_get_autocommit(db.raw()))
        (void)db.Exec("ROLLBACK", "end referral query");
      RETURN_IF_ERROR(status);
      return out;
    });
  }

  absl::StatusOr<bool> PartnerHasAccess(const std::string& referral_id,
                                        const std::string& partner) override {
    return Read([&](Db& db) -> absl::StatusOr<bool> {
      ASSIGN_OR_RETURN(Statement s,
                       db.Prepare("SELECT 1 FROM partner_access WHERE referral_id = ?1 AND "
                                  "partner = ?2",
                                  "read partner access"));
      s.BindText(1, referral_id).BindText(2, partner);
      return s.Step();
    });
  }

  absl::StatusOr<std::optional<InboxRecord>> FindInboxRecord(
      const std::string& message_id) override {
    return Read([&](Db& db) -> absl::StatusOr<std::optional<InboxRecord>> {
      return FindInboxIn(db, message_id);
    });
  }

  absl::StatusOr<std::vector<Event>> Timeline(const std::string& referral_id) override {
    return Read([&](Db& db) -> absl::StatusOr<std::vector<Event>> {
      ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT " MIR_EVENT_COLUMNS
                                               " FROM events WHERE referral_id = ?1 ORDER BY id",
                                               "read timeline"));
      s.BindText(1, referral_id);
      std::vector<Event> out;
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        out.push_back(EventFromRow(s));
      }
      return out;
    });
  }

  absl::StatusOr<AuditCheck> VerifyAuditChain() override {
    return Read([&](Db& db) -> absl::StatusOr<AuditCheck> {
      // One read transaction: the walk and the head come from one snapshot.
      RETURN_IF_ERROR(db.Exec("BEGIN", "begin audit read"));
      absl::StatusOr<AuditCheck> check = WalkChain(db);
      (void)db.Exec("COMMIT", "end audit read");
      return check;
    });
  }

  bool failed() const override { return failed_.load(); }

  absl::StatusOr<std::string> Pragma(const std::string& name) {
    absl::MutexLock lock(&write_mu_);
    return writer_->QueryText(absl::StrCat("PRAGMA ", name), "read pragma");
  }

 private:
  static int WalHook(void* self, sqlite3*, const char*, int pages) {
    // Called inside COMMIT, with write_mu_ held by RunWrite.
    static_cast<StoreImpl*>(self)->wal_pages_ = pages;
    return SQLITE_OK;
  }

  static absl::Status QuickCheck(Db& db) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db.raw(), "PRAGMA quick_check", -1, &raw, nullptr);
    StmtPtr stmt(raw);
    int problems = 0;
    std::string first;
    if (rc == SQLITE_OK) {
      while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
        const unsigned char* text = sqlite3_column_text(raw, 0);
        const std::string line = text == nullptr ? "" : reinterpret_cast<const char*>(text);
        if (line == "ok") continue;
        if (problems++ == 0) first = line;  // page and cell numbers, no content
      }
    }
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
      const int primary = rc & 0xff;
      if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
        return MirError(
            absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE,
            absl::StrCat("database file is corrupt or not a database (", sqlite3_errstr(rc),
                         "); refusing to open it: restore from backup"));
      }
      return SqliteStatus(rc, db.raw(), "run PRAGMA quick_check");
    }
    if (problems > 0) {
      return MirError(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE,
                      absl::StrCat("database file failed PRAGMA quick_check with ", problems,
                                   " problem(s), first: ", Truncate(first, kMaxErrorBytes),
                                   "; refusing to open it: restore from backup"));
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<int64_t> OutboxStateFor(Db& db, int64_t id) {
    ASSIGN_OR_RETURN(Statement s,
                     db.Prepare("SELECT state FROM outbox WHERE id = ?1", "read outbox state"));
    s.BindInt(1, id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("no outbox entry ", id));
    return s.Int(0);
  }

  static absl::Status NotPending(int64_t id, int64_t state) {
    return absl::FailedPreconditionError(
        absl::StrCat("outbox entry ", id, " is ", state == kOutboxDelivered ? "delivered" : "dead",
                     ", not pending"));
  }

  static absl::StatusOr<AuditCheck> WalkChain(Db& db) {
    AuditCheck check;
    ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT " MIR_EVENT_COLUMNS
                                             ", applied_at_us, id, prev_hash, row_hash, "
                                             "envelope_sha256 FROM events ORDER BY id",
                                             "walk the audit chain"));
    std::string prev = GenesisHash();
    int64_t prev_id = 0;
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      AuditRow r;
      r.referral_id = s.Text(0);
      r.sender_node = s.Text(1);
      r.sequence = s.Int(2);
      r.message_id = s.Text(3);
      r.to_state = s.Int(4);
      r.actor_node = s.Text(5);
      r.actor_role = s.Text(6);
      r.actor_name = s.Text(7);
      r.at_us = s.Int(8);
      r.reason = s.Text(9);
      const std::string envelope = s.Text(10);
      r.envelope_sha256 = s.Text(19);
      r.origin_node = s.OptText(11);
      r.destination_node = s.OptText(12);
      r.urgency = s.OptInt(13);
      r.ack_deadline_us = s.OptInt(14);
      r.applied_at_us = s.Int(15);
      r.id = s.Int(16);
      const std::string stored_prev = s.Text(17);
      const std::string stored_hash = s.Text(18);
      ++check.rows_checked;
      if (stored_prev != prev) {
        check.ok = false;
        check.first_bad_row = r.id;
        check.problem = r.id != prev_id + 1
                            ? absl::StrCat("event row ", r.id, " does not link to row ", prev_id,
                                           ": row(s) ", prev_id + 1, "..", r.id - 1, " are missing")
                            : absl::StrCat("event row ", r.id, " does not link to row ", prev_id,
                                           ": a row was inserted, replaced or rewritten");
        return check;
      }
      // An empty envelope is one purged under a retention policy: its hash
      // still stands in for it in the chain.
      if (!envelope.empty() && Sha256(envelope) != r.envelope_sha256) {
        check.ok = false;
        check.first_bad_row = r.id;
        check.problem =
            absl::StrCat("event row ", r.id, " was modified: its envelope does not match its hash");
        return check;
      }
      const std::string computed = ChainHash(stored_prev, r);
      if (computed.size() != kHashBytes || computed != stored_hash) {
        check.ok = false;
        check.first_bad_row = r.id;
        check.problem =
            absl::StrCat("event row ", r.id, " was modified: its contents do not match its hash");
        return check;
      }
      if (r.id != prev_id + 1) {
        check.ok = false;
        check.first_bad_row = r.id;
        check.problem = absl::StrCat("event ids jump from ", prev_id, " to ", r.id);
        return check;
      }
      prev = stored_hash;
      prev_id = r.id;
    }

    ASSIGN_OR_RETURN(Statement h,
                     db.Prepare("SELECT last_event_id, last_hash, row_count FROM audit_head "
                                "WHERE id = 1",
                                "read audit chain head"));
    ASSIGN_OR_RETURN(bool has_head, h.Step());
    if (!has_head) {
      if (prev_id != 0) {
        check.ok = false;
        check.first_bad_row = 1;
        check.problem = "the audit chain head is missing";
      }
      return check;
    }
    const int64_t head_id = h.Int(0);
    const std::string head_hash = h.Text(1);
    const int64_t head_count = h.Int(2);
    check.head_hash = ToHex(head_hash);
    if (head_id > prev_id) {
      check.ok = false;
      check.first_bad_row = prev_id + 1;
      check.problem = absl::StrCat("event rows ", prev_id + 1, "..", head_id,
                                   " are missing: the chain head points at row ", head_id,
                                   " but the last row is ", prev_id);
    } else if (head_id < prev_id) {
      check.ok = false;
      check.first_bad_row = head_id + 1;
      check.problem = absl::StrCat("event rows after row ", head_id,
                                   " (the chain head) were added outside the store");
    } else if (head_hash != prev || head_count != check.rows_checked) {
      check.ok = false;
      check.first_bad_row = head_id;
      check.problem = absl::StrCat("the chain head does not match event row ", head_id);
    }
    return check;
  }

  void FailStop() { failed_.store(true); }

  absl::Status Rollback(Db& db) {
    if (sqlite3_get_autocommit(db.raw())) return absl::OkStatus();  // SQLite already rolled back
    absl::Status s = db.Exec("ROLLBACK", "roll back");
    if (!s.ok()) FailStop();
    return s;
  }

  // kDeferred: a write that only records what the node can learn again (a
  // peer's receipt, which a resend gets back; retry times) commits without
  // its own fsync. The next synced commit or checkpoint syncs the WAL it is
  // in; a power loss before that loses it, and the envelope is resent.
  enum class Sync { kFull, kDeferred };

  // One UPDATE as a write of its own; returns how many rows it changed.
  absl::StatusOr<int> UpdateCountingRows(const char* sql, absl::string_view what,
                                         absl::FunctionRef<void(Statement&)> bind,
                                         Sync sync = Sync::kFull) {
    int changed = 0;
    RETURN_IF_ERROR(RunWrite(
        [&](Db& db) -> absl::Status {
          ASSIGN_OR_RETURN(Statement s, db.Prepare(sql, what));
          bind(s);
          RETURN_IF_ERROR(s.Run());
          changed = sqlite3_changes(db.raw());
          return absl::OkStatus();
        },
        sync));
    return changed;
  }

  // The one write path: BEGIN IMMEDIATE, fn, COMMIT, with the fail-stop rules.
  struct PendingWrite {
    absl::FunctionRef<absl::Status(Db&)> fn;
    Sync sync;
    absl::Status status;
    bool done = false;
  };
  static constexpr size_t kMaxGroupedWrites = 128;

  // Group commit: concurrent writers queue up; the writer at the front leads,
  // runs the queued writes in one SQLite transaction (each in its own
  // savepoint, so a refused write leaves no trace and does not affect the
  // others) and pays for one COMMIT and its fsync for all of them. Every
  // writer returns only after the COMMIT that holds its write, with its own
  // status. One writer alone behaves exactly as a plain transaction.
  absl::Status RunWrite(absl::FunctionRef<absl::Status(Db&)> fn, Sync sync = Sync::kFull) {
    PendingWrite self{fn, sync, absl::OkStatus(), false};
    queue_mu_.Lock();
    writers_.push_back(&self);
    auto my_turn = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
      return self.done || writers_.front() == &self;
    };
    queue_mu_.Await(absl::Condition(&my_turn));
    if (self.done) {
      queue_mu_.Unlock();
      return self.status;
    }
    std::vector<PendingWrite*> group;
    for (PendingWrite* w : writers_) {
      if (group.size() == kMaxGroupedWrites) break;
      group.push_back(w);
    }
    queue_mu_.Unlock();

    RunGroup(group);

    queue_mu_.Lock();
    for (size_t i = 0; i < group.size(); ++i) {
      writers_.pop_front();
      group[i]->done = true;
    }
    const absl::Status status = self.status;
    queue_mu_.Unlock();
    return status;
  }

  void RunGroup(const std::vector<PendingWrite*>& group) {
    absl::MutexLock lock(&write_mu_);
    if (failed_.load()) {
      FailAll(group, FailStoppedError());
      return;
    }
    Db& db = *writer_;
    const bool deferred = std::all_of(group.begin(), group.end(), [](const PendingWrite* w) {
      return w->sync == Sync::kDeferred;
    });
    if (deferred) {
      if (absl::Status s = db.Exec("PRAGMA synchronous = NORMAL", "defer the sync"); !s.ok()) {
        FailAll(group, s);
        return;
      }
    }
    const bool committed = RunGroupIn(db, group);
    if (deferred) {
      // Every later commit must sync again: if that cannot be promised, stop.
      if (!db.Exec("PRAGMA synchronous = FULL", "restore synchronous commits").ok()) FailStop();
    }
    if (committed) MaybeCheckpoint(db);
  }

  // Gives every write of the group `status`; false (nothing committed).
  static bool FailAll(const std::vector<PendingWrite*>& group, const absl::Status& status) {
    for (PendingWrite* w : group) w->status = status;
    return false;
  }

  // Runs the group in one transaction; true if it committed.
  bool RunGroupIn(Db& db, const std::vector<PendingWrite*>& group)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    db.ClearStorageError();
    if (absl::Status begin = db.Exec("BEGIN IMMEDIATE", "begin write transaction"); !begin.ok()) {
      if (IsFatalSqliteCode(db.storage_error())) FailStop();
      (void)Rollback(db);
      return FailAll(group, begin);
    }

    bool any_ok = false;
    for (PendingWrite* w : group) {
      w->status = group.size() == 1 ? w->fn(db) : InGroupSavepoint(db, w->fn);
      // A statement that hit the disk poisons the whole transaction,
      // whatever `fn` made of its status.
      if (db.storage_error() != SQLITE_OK) break;
      any_ok = any_ok || w->status.ok();
    }
    if (const int rc = db.storage_error(); rc != SQLITE_OK) {
      (void)Rollback(db);
      if (IsFatalSqliteCode(rc)) {
        FailStop();
        return FailAll(group, SqliteStatus(rc, nullptr,
                                           "write transaction failed and was rolled back; the "
                                           "store is fail-stopped until reopened"));
      }
      return FailAll(group, SqliteStatus(rc, nullptr,
                                         "write transaction failed and was rolled back; "
                                         "nothing was changed"));
    }
    if (!any_ok) {
      (void)Rollback(db);
      return false;
    }

    const int rc = sqlite3_exec(db.raw(), "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      // Whether the commit reached the disk is unknown: stop, and let the
      // next open's recovery decide from what is on disk.
      FailStop();
      (void)Rollback(db);
      const absl::Status failed = SqliteStatus(
          rc, nullptr,
          "commit failed; the transaction is not acknowledged and the store is "
          "fail-stopped until reopened");
      for (PendingWrite* w : group) {
        if (w->status.ok()) w->status = failed;
      }
      return false;
    }
    return true;
  }

  static absl::Status InGroupSavepoint(Db& db, absl::FunctionRef<absl::Status(Db&)> fn) {
    RETURN_IF_ERROR(db.Exec("SAVEPOINT mir_write", "open a write savepoint"));
    absl::Status status = fn(db);
    if (!status.ok()) (void)db.Exec("ROLLBACK TO mir_write", "roll back a write");
    absl::Status released = db.Exec("RELEASE mir_write", "release a write savepoint");
    return status.ok() ? released : status;
  }

  void MaybeCheckpoint(Db& db) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    if (wal_pages_ < kCheckpointPages) return;
    wal_pages_ = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(db.raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    // The commit is durable in the WAL either way; a failed checkpoint sync
    // means the database file's state is unknown, so stop writing.
    if (IsFatalSqliteCode(rc) || (rc & 0xff) == SQLITE_FULL) FailStop();
  }

  template <typename F>
  auto Read(F fn) -> decltype(fn(std::declval<Db&>())) {
    absl::MutexLock lock(&read_mu_);
    Db& db = *reader_;
    db.ClearStorageError();
    auto result = fn(db);
    if (IsFatalSqliteCode(db.storage_error())) FailStop();
    return result;
  }

  const StoreOptions options_;
  const Clock& clock_;
  std::atomic<bool> failed_{false};

  absl::Mutex queue_mu_;
  std::deque<PendingWrite*> writers_ ABSL_GUARDED_BY(queue_mu_);

  absl::Mutex write_mu_;
  std::unique_ptr<Db> writer_ ABSL_GUARDED_BY(write_mu_);
  int wal_pages_ ABSL_GUARDED_BY(write_mu_) = 0;

  absl::Mutex read_mu_;
  std::unique_ptr<Db> reader_ ABSL_GUARDED_BY(read_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options,
                                                   const Clock* clock) {
  if (options.path.empty()) return absl::InvalidArgumentError("StoreOptions.path is empty");
  if (clock == nullptr) return absl::InvalidArgumentError("Store::Open needs a clock");
  auto store = std::make_unique<StoreImpl>(options, *clock);
  RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

absl::StatusOr<std::string> PragmaForTesting(Store& store, const std::string& name) {
  auto* impl = dynamic_cast<StoreImpl*>(&store);
  if (impl == nullptr) return absl::InvalidArgumentError("not a StoreImpl");
  return impl->Pragma(name);
}

}  // namespace mir::storage
