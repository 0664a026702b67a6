#include "storage/outbox.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/receipt.h"
#include "storage/at_rest.h"
#include "storage/inbox.h"
#include "storage/rows.h"

namespace mir::storage::outbox {
namespace {

// The outbox orders by urgency number: the most urgent is the lowest.
static_assert(v1::URGENCY_EMERGENCY_24H < v1::URGENCY_URGENT &&
              v1::URGENCY_URGENT < v1::URGENCY_ORDINARY);
int64_t QueueRank(int64_t urgency) {
  if (urgency == v1::URGENCY_EMERGENCY_24H || urgency == v1::URGENCY_URGENT) return urgency;
  return v1::URGENCY_ORDINARY;
}

// The urgency an outgoing envelope queues with: the referral's at this
// node, else the one the envelope carries, else that of the referral's
// earlier entries (a relay keeps what it learnt from the referral it
// relayed), else ORDINARY.
absl::StatusOr<int64_t> QueueUrgency(Db& db, const OutgoingEnvelope& about) {
  constexpr int64_t kOrdinary = v1::URGENCY_ORDINARY;
  // About no one referral (several answers in one envelope): as the caller says.
  if (about.referral_id.empty()) return about.urgency ? QueueRank(*about.urgency) : kOrdinary;
  {
    ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT urgency FROM referrals WHERE referral_id = ?1",
                                             "read the referral's urgency"));
    s.BindText(1, about.referral_id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) return QueueRank(s.Int(0));
  }
  if (about.urgency.has_value()) return QueueRank(*about.urgency);
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT urgency FROM outbox WHERE referral_id = ?1 LIMIT 1",
                              "read the urgency of the referral's queued envelopes"));
  s.BindText(1, about.referral_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? QueueRank(s.Int(0)) : kOrdinary;
}

absl::StatusOr<std::vector<OutboxEntry>> Collect(Statement& s) {
  std::vector<OutboxEntry> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(OutboxFrom(s));
  }
  return out;
}

absl::StatusOr<int64_t> StateOf(Db& db, int64_t id) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT state FROM outbox WHERE id = ?1", "read outbox state"));
  s.BindInt(1, id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no outbox entry ", id));
  return s.Int(0);
}

absl::Status NotPending(int64_t id, int64_t state) {
  return absl::FailedPreconditionError(absl::StrCat("outbox entry ", id, " is ",
                                                    state == kOutboxDelivered  ? "delivered"
                                                    : state == kOutboxReplaced ? "replaced"
                                                                               : "dead",
                                                    ", not pending"));
}

// A pending entry -> `to` (dead or replaced), saying why; idempotent.
absl::Status EndPending(Db& db, int64_t id, int64_t to, const std::string& why) {
  ASSIGN_OR_RETURN(int64_t state, StateOf(db, id));
  if (state == to) return absl::OkStatus();
  if (state != kOutboxPending) return NotPending(id, state);
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("UPDATE outbox SET state = ?3, last_error = ?2 WHERE id = ?1",
                              "end a pending outbox entry"));
  s.BindInt(1, id).BindText(2, Truncate(why, kMaxErrorBytes)).BindInt(3, to);
  return s.Run();
}

// Runs a prepared UPDATE; how many rows it changed.
absl::StatusOr<int> Changed(Db& db, Statement& s) {
  RETURN_IF_ERROR(s.Run());
  return sqlite3_changes(db.raw());
}

// The events row that already holds exactly these bytes as this message
// of this referral (a node forwards or answers with the envelope it has just
// applied): the outbox row names it instead of keeping a copy (schema v14).
// Bytes sealed at rest differ from the envelope, so they never match.
absl::StatusOr<std::optional<int64_t>> EventHolding(Db& db, const OutgoingEnvelope& envelope) {
  if (envelope.referral_id.empty()) return std::nullopt;
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT id FROM events WHERE referral_id = ?1 AND "
                                           "message_id = ?2 AND envelope = ?3",
                                           "find the event holding an outgoing envelope"));
  s.BindText(1, envelope.referral_id)
      .BindText(2, envelope.message_id)
      .BindBlob(3, envelope.envelope);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::nullopt;
  return s.Int(0);
}

}  // namespace

absl::Status Enqueue(Db& db, const keys::KeyRing& ring, absl::Time now,
                     const OutgoingEnvelope& envelope, std::optional<int64_t> holder) {
  if (envelope.message_id.empty() || envelope.message_id.size() > kMaxIdBytes) {
    return InvalidField("outgoing envelope needs a message id of 1-128 bytes");
  }
  if (!IsValidNodeId(envelope.peer)) return InvalidField("outgoing peer is not a valid node id");
  if (envelope.envelope.empty()) return InvalidField("outgoing envelope has no bytes");
  {
    ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT peer, " MIR_OUTBOX_ENVELOPE
                                             ", referral_id FROM outbox WHERE message_id = ?1",
                                             "read outbox"));
    s.BindText(1, envelope.message_id);
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) {
      ASSIGN_OR_RETURN(
          const std::string queued,
          at_rest::Reveal(db, ring, at_rest::OutboxOwner(s.Text(2), envelope.message_id),
                          s.Text(1)));
      // Bytes erased since (empty) cannot be compared: only the peer can.
      const bool same_bytes = queued.empty() || queued == envelope.envelope;
      if (s.Text(0) != envelope.peer || !same_bytes) {
        return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                        absl::StrCat("message ", envelope.message_id,
                                     " is already queued with different bytes or peer"));
      }
      return absl::AlreadyExistsError(
          absl::StrCat("message ", envelope.message_id, " is already queued"));
    }
  }
  ASSIGN_OR_RETURN(int64_t urgency, QueueUrgency(db, envelope));
  std::optional<int64_t> event_id = holder;
  if (!event_id.has_value()) {
    ASSIGN_OR_RETURN(event_id, EventHolding(db, envelope));
  }
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("INSERT INTO outbox (message_id, peer, envelope, attempts, "
                              "enqueued_at_us, next_attempt_at_us, state, referral_id, urgency, "
                              "envelope_event_id) VALUES (?1, ?2, ?3, 0, ?4, ?4, 0, ?5, ?6, ?7)",
                              "enqueue outgoing envelope"));
  s.BindText(1, envelope.message_id)
      .BindText(2, envelope.peer)
      .BindBlob(3, event_id.has_value() ? std::string() : envelope.envelope)
      .BindInt(4, Micros(now))
      .BindOptText(5, envelope.referral_id.empty()
                          ? std::nullopt
                          : std::optional<std::string>(envelope.referral_id))
      .BindInt(6, urgency)
      .BindOptInt(7, event_id);
  return s.Run();
}

absl::StatusOr<std::optional<OutboxEntry>> Find(Db& db, const std::string& message_id) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT " MIR_OUTBOX_COLUMNS " FROM outbox WHERE message_id = ?1",
                              "find outbox entry"));
  s.BindText(1, message_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<OutboxEntry>();
  return std::optional<OutboxEntry>(OutboxFrom(s));
}

absl::StatusOr<std::optional<std::string>> NewestReceipt(Db& db, const std::string& peer) {
  // Among the newest rows only, by id (no index on state): a bounded read at
  // start whatever the outbox holds; older news of a peer is stale anyway.
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT COALESCE(receipt, (SELECT envelope FROM receipts WHERE "
                              "receipts.sha256 = newest.receipt_sha256)) FROM (SELECT id, peer, "
                              "state, receipt, receipt_sha256 FROM outbox ORDER BY id DESC LIMIT "
                              "10000) AS newest WHERE state = 1 AND peer = ?1 ORDER BY id DESC "
                              "LIMIT 1",
                              "read the peer's newest receipt"));
  s.BindText(1, peer);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.Text(0));
}

absl::StatusOr<std::vector<OutboxEntry>> Due(Db& db, const std::string& peer, absl::Time now,
                                             int limit) {
  // INDEXED BY: without statistics the planner may pick another index and
  // filter every peer's rows.
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT " MIR_OUTBOX_COLUMNS " FROM outbox INDEXED BY outbox_due "
                              "WHERE peer = ?1 AND state = 0 AND "
                              "next_attempt_at_us <= ?2 "
                              "ORDER BY urgency, id LIMIT ?3",
                              "read due outbox entries"));
  s.BindText(1, peer).BindInt(2, Micros(now)).BindInt(3, SqlLimit(limit));
  return Collect(s);
}

absl::StatusOr<std::optional<absl::Time>> NextDue(Db& db, const std::string& peer,
                                                  absl::Time after) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT MIN(next_attempt_at_us) FROM outbox INDEXED BY outbox_due "
                              "WHERE peer = ?1 AND state = 0 AND next_attempt_at_us > ?2",
                              "read next due time"));
  s.BindText(1, peer).BindInt(2, Micros(after));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row || s.IsNull(0)) return std::optional<absl::Time>();
  return std::optional<absl::Time>(FromMicros(s.Int(0)));
}

absl::StatusOr<std::vector<OutboxEntry>> List(Db& db, std::optional<OutboxState> state, int limit) {
  // The state as a literal, so that the partial index of that state
  // (outbox_due, outbox_dead) serves the query; delivered rows have none and
  // are scanned (tests and tools only).
  const char* sql = "SELECT " MIR_OUTBOX_COLUMNS " FROM outbox ORDER BY id LIMIT ?1";
  if (state.has_value()) {
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
      case OutboxState::kReplaced:
        sql = "SELECT " MIR_OUTBOX_COLUMNS " FROM outbox WHERE state = 3 ORDER BY id LIMIT ?1";
        break;
    }
  }
  ASSIGN_OR_RETURN(Statement s, db.Prepare(sql, "list outbox"));
  s.BindInt(1, SqlLimit(limit));
  return Collect(s);
}

absl::StatusOr<std::vector<OutboxEntry>> OfReferral(Db& db, const std::string& referral_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT " MIR_OUTBOX_COLUMNS " FROM outbox "
                                           "WHERE referral_id = ?1 ORDER BY id",
                                           "list outbox of referral"));
  s.BindText(1, referral_id);
  return Collect(s);
}

absl::Status MarkDelivered(Db& db, SharedReceipts& receipts, int64_t id,
                           const std::string& receipt) {
  ASSIGN_OR_RETURN(int64_t state, StateOf(db, id));
  if (state == kOutboxDelivered) return absl::OkStatus();  // a repeated receipt
  // A batch's receipt (PROTOCOL.md §6.2.1) is stored once for all its rows.
  ASSIGN_OR_RETURN(std::optional<std::string> shared, receipts.Keep(receipt));
  if (shared.has_value()) {
    ASSIGN_OR_RETURN(Statement s, db.Prepare("UPDATE outbox SET state = 1, receipt = NULL, "
                                             "receipt_sha256 = ?2, attempts = attempts + 1 "
                                             "WHERE id = ?1",
                                             "mark outbox entry delivered by a batch"));
    s.BindInt(1, id).BindBlob(2, *shared);
    return s.Run();
  }
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("UPDATE outbox SET state = 1, receipt = ?2, attempts = attempts + 1 "
                              "WHERE id = ?1",
                              "mark outbox entry delivered"));
  s.BindInt(1, id).BindBlob(2, receipt);
  return s.Run();
}

absl::Status MarkAttemptFailed(Db& db, int64_t id, absl::Time next_attempt_at,
                               const std::string& error) {
  ASSIGN_OR_RETURN(int64_t state, StateOf(db, id));
  if (state != kOutboxPending) return NotPending(id, state);
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("UPDATE outbox SET attempts = attempts + 1, next_attempt_at_us = ?2, "
                              "last_error = ?3 WHERE id = ?1",
                              "record failed delivery attempt"));
  s.BindInt(1, id).BindInt(2, Micros(next_attempt_at)).BindText(3, Truncate(error, kMaxErrorBytes));
  return s.Run();
}

absl::Status MarkDead(Db& db, int64_t id, const std::string& error) {
  return EndPending(db, id, kOutboxDead, error);
}

absl::Status MarkReplaced(Db& db, int64_t id, const std::string& reason) {
  return EndPending(db, id, kOutboxReplaced, reason);
}

absl::StatusOr<int> MarkDeadEnqueuedBy(Db& db, const std::string& peer, absl::Time enqueued_by,
                                       const std::string& error) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("UPDATE outbox INDEXED BY outbox_due SET state = 2, last_error = ?3 "
                              "WHERE peer = ?1 AND state = 0 AND enqueued_at_us <= ?2",
                              "mark the peer's expired entries dead"));
  s.BindText(1, peer).BindInt(2, Micros(enqueued_by)).BindText(3, Truncate(error, kMaxErrorBytes));
  return Changed(db, s);
}

absl::StatusOr<int> MakeDueNow(Db& db, const std::string& peer, absl::Time now) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("UPDATE outbox INDEXED BY outbox_due SET next_attempt_at_us = ?2 "
                              "WHERE peer = ?1 AND state = 0 AND next_attempt_at_us > ?2",
                              "make the peer's pending entries due"));
  s.BindText(1, peer).BindInt(2, Micros(now));
  return Changed(db, s);
}

absl::StatusOr<int> Requeue(Db& db, int64_t id, absl::Time now) {
  ASSIGN_OR_RETURN(int64_t state, StateOf(db, id));
  if (state != kOutboxDead) return 0;
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("UPDATE outbox SET state = 0, attempts = 0, next_attempt_at_us = ?2, "
                              "enqueued_at_us = ?2 WHERE id = ?1 AND state = 2",
                              "requeue dead letter"));
  s.BindInt(1, id).BindInt(2, Micros(now));
  return Changed(db, s);
}

absl::StatusOr<int> RequeueAllDead(Db& db, absl::Time now) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("UPDATE outbox SET state = 0, attempts = 0, next_attempt_at_us = ?1, "
                              "enqueued_at_us = ?1 WHERE state = 2",
                              "requeue all dead letters"));
  s.BindInt(1, Micros(now));
  return Changed(db, s);
}

}  // namespace mir::storage::outbox
