#include "storage/event_log.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "storage/at_rest.h"
#include "storage/audit_chain.h"
#include "storage/lifecycle.h"
#include "storage/rows.h"

namespace mir::storage {

const std::string& SharedEnvelope::sha256() {
  if (sha256_.empty()) sha256_ = Sha256(envelope_);
  return sha256_;
}

namespace {

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

// ALREADY_EXISTS for an event whose sequence number is taken: without a
// reason when by this same message (a repeat), DUPLICATE_CONFLICT otherwise.
absl::Status SequenceTaken(const Event& e, bool same_message, absl::string_view repeat,
                           absl::string_view conflict) {
  const std::string what = absl::StrCat("sequence ", e.sequence, " of node ", e.sender_node,
                                        " on referral ", e.referral_id, " ");
  if (same_message) return absl::AlreadyExistsError(absl::StrCat(what, repeat));
  return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                  absl::StrCat(what, conflict));
}

absl::Status SetLastSequence(Db& db, const std::string& referral_id, const std::string& node,
                             uint64_t seq) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("INSERT INTO streams (referral_id, sender_node, last_sequence) "
                              "VALUES (?1, ?2, ?3) ON CONFLICT (referral_id, sender_node) "
                              "DO UPDATE SET last_sequence = excluded.last_sequence",
                              "write stream position"));
  s.BindText(1, referral_id).BindText(2, node).BindInt(3, static_cast<int64_t>(seq));
  return s.Run();
}

// One ApplyEvent call: the event, then its released successors.
// A held event taken out of held_events, and how its envelope is stored
// when not as given (sealed at rest before schema version 9).
struct HeldEvent {
  Event event;
  std::optional<StoredEnvelope> stored;
};

class Applier {
 public:
  Applier(Db& db, const Clock& clock, const std::string& national_node, const keys::KeyRing& ring,
          SharedEnvelope* shared)
      : db_(db), clock_(clock), national_node_(national_node), ring_(ring), shared_(shared) {}

  absl::Status Apply(const Event& event, ApplyResult& result) {
    if (!event.join_streams.empty()) RETURN_IF_ERROR(JoinStreams(event));
    ASSIGN_OR_RETURN(uint64_t last, LastSequence(db_, event.referral_id, event.sender_node));
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
    // The events key holds a stream's position once its last number is an
    // applied event; `streams` only what it cannot show (schema v16).
    bool last_appended = true;

    // Release held successors of the same stream, in order, in this
    // transaction. A refused one is dropped (and its number consumed) rather
    // than failing the arrival that released it: that arrival was valid, and
    // the sender already holds our receipt for the refused one.
    uint64_t seq = event.sequence;
    while (true) {
      ASSIGN_OR_RETURN(std::optional<HeldEvent> taken,
                       TakeHeld(event.referral_id, event.sender_node, seq + 1));
      if (!taken.has_value()) break;
      ++seq;
      Event& held = taken->event;
      ASSIGN_OR_RETURN(current, ReadReferral(db_, held.referral_id));
      absl::Status check =
          CheckTransition(current.has_value() ? &*current : nullptr, held, national_node_);
      if (check.ok()) {
        RETURN_IF_ERROR(
            Append(held, current.has_value(), taken->stored ? &*taken->stored : nullptr));
        result.applied.push_back(std::move(held));
        last_appended = true;
      } else {
        RETURN_IF_ERROR(RecordDropped(held, check));
        result.dropped.push_back(DroppedEvent{held.referral_id, held.sender_node, held.sequence,
                                              held.message_id, check});
        last_appended = false;
      }
    }
    if (last_appended) return absl::OkStatus();
    return SetLastSequence(db_, event.referral_id, event.sender_node, seq);
  }

 private:
  // A node joining a referral (routed on to it) starts each stream where the
  // router says it stood; streams it already follows are left alone.
  absl::Status JoinStreams(const Event& event) {
    ASSIGN_OR_RETURN(std::optional<ReferralRecord> current, ReadReferral(db_, event.referral_id));
    if (current.has_value()) return absl::OkStatus();
    for (const auto& [node, last] : event.join_streams) {
      if (!IsValidNodeId(node)) return InvalidField("join stream names an invalid node id");
      ASSIGN_OR_RETURN(uint64_t known, LastSequence(db_, event.referral_id, node));
      if (known == 0) RETURN_IF_ERROR(SetLastSequence(db_, event.referral_id, node, last));
    }
    return absl::OkStatus();
  }

  // The message id `sql` finds under `e`'s (referral, sender, sequence).
  absl::StatusOr<std::optional<std::string>> MessageAt(const char* sql, absl::string_view what,
                                                       const Event& e) {
    ASSIGN_OR_RETURN(Statement s, db_.Prepare(sql, what));
    s.BindText(1, e.referral_id)
        .BindText(2, e.sender_node)
        .BindInt(3, static_cast<int64_t>(e.sequence));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::nullopt;
    return s.Text(0);
  }

  absl::Status AlreadyApplied(const Event& event) {
    ASSIGN_OR_RETURN(std::optional<std::string> applied,
                     MessageAt("SELECT message_id FROM events WHERE referral_id = ?1 AND "
                               "sender_node = ?2 AND sequence = ?3",
                               "read applied event", event));
    return SequenceTaken(event, applied == event.message_id, "was already applied",
                         "was already used by another message");
  }

  absl::Status Hold(const Event& e) {
    // Early messages cost storage until their predecessors come: a sender
    // may run ahead by a bounded number per referral, and in all, whatever
    // referral ids it names (it retries the rest later).
    ASSIGN_OR_RETURN(Statement count, db_.Prepare(kHeldCountSql, "count held events"));
    count.BindText(1, e.referral_id).BindText(2, e.sender_node);
    ASSIGN_OR_RETURN(bool row, count.Step());
    const int64_t held_from_sender = row ? count.Int(0) : 0;
    const int64_t held_on_stream = row ? count.Int(1) : 0;
    if (held_on_stream >= kMaxHeldPerStream) {
      return MirError(
          absl::StatusCode::kResourceExhausted, v1::TOO_MANY_HELD,
          absl::StrCat(kMaxHeldPerStream, " early messages from ", e.sender_node, " on referral ",
                       e.referral_id, " already wait for their predecessors; send those first"));
    }
    if (held_from_sender >= kMaxHeldPerSender) {
      return MirError(absl::StatusCode::kResourceExhausted, v1::TOO_MANY_HELD,
                      absl::StrCat(kMaxHeldPerSender, " early messages from ", e.sender_node,
                                   " already wait for their predecessors; send those first"));
    }
    ASSIGN_OR_RETURN(std::optional<std::string> held,
                     MessageAt("SELECT message_id FROM held_events WHERE referral_id = ?1 AND "
                               "sender_node = ?2 AND sequence = ?3",
                               "read held event", e));
    if (held.has_value()) {
      return SequenceTaken(e, *held == e.message_id, "is already held",
                           "is already held for another message");
    }
    const AuditRow r = RowOf(0, e, 0, absl::string_view());  // the columns; no hash needed
    ASSIGN_OR_RETURN(
        Statement s,
        db_.Prepare("INSERT INTO held_events (" MIR_EVENT_COLUMNS ", held_at_us) VALUES "
                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                    "hold early event"));
    BindEventColumns(s, r, e.envelope);
    s.BindInt(16, Micros(clock_.Now()));
    return s.Run();
  }

  absl::StatusOr<std::optional<HeldEvent>> TakeHeld(const std::string& referral_id,
                                                    const std::string& node, uint64_t seq) {
    std::optional<HeldEvent> held;
    {
      ASSIGN_OR_RETURN(Statement s,
                       db_.Prepare("SELECT " MIR_EVENT_COLUMNS ", envelope_sha256 FROM held_events "
                                   "WHERE referral_id = ?1 "
                                   "AND sender_node = ?2 AND sequence = ?3",
                                   "read held event"));
      s.BindText(1, referral_id).BindText(2, node).BindInt(3, static_cast<int64_t>(seq));
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return std::nullopt;
      held = HeldEvent{EventOf(StoredEventFrom(s, /*chained=*/false)), std::nullopt};
      if (at_rest::IsSealed(held->event.envelope)) {
        // It stays sealed in events too. The chain covers the hash of what
        // it seals, recorded when it was sealed: the key may be erased since.
        StoredEnvelope stored{held->event.envelope, s.Text(15)};
        ASSIGN_OR_RETURN(held->event.envelope,
                         at_rest::Reveal(db_, ring_, referral_id, stored.bytes));
        if (stored.sha256.size() != kHashBytes) {
          if (held->event.envelope.empty()) {
            return absl::DataLossError(absl::StrCat(
                "held event ", seq, " of node ", node, " on referral ", referral_id,
                " is sealed at rest without the hash of its envelope, and its key is erased"));
          }
          stored.sha256 = Sha256(held->event.envelope);
        }
        held->stored = std::move(stored);
      }
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
    return storage::RecordDropped(db_, clock_.Now(), e, why);
  }

  // Folds `e` into the projection and appends it to the chain. The
  // lifecycle check has passed. `stored`: the envelope as the row keeps it,
  // if not `e.envelope`.
  absl::Status Append(const Event& e, bool referral_exists,
                      const StoredEnvelope* stored = nullptr) {
    if (e.to_state == v1::SUBMITTED && !referral_exists) {
      const ReferralMeta& meta = *e.referral;  // CheckTransition required it
      // The referral's envelope is this event's unless it came apart (a
      // routed-on SUBMITTED carries the original): then the row keeps a
      // copy; else it names the events row, once that is appended below.
      const bool own_copy = !e.referral_envelope.empty();
      ASSIGN_OR_RETURN(Statement s,
                       db_.Prepare("INSERT INTO referrals (" MIR_REFERRAL_INSERT_COLUMNS
                                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, NULL)",
                                   "create referral"));
      s.BindText(1, e.referral_id)
          .BindText(2, meta.origin_node)
          .BindText(3, meta.destination_node)
          .BindInt(4, meta.urgency)
          .BindOptInt(5, OptMicros(meta.ack_deadline))
          .BindInt(6, e.to_state)
          .BindInt(7, Micros(e.at))
          .BindBlob(8, own_copy ? e.referral_envelope : std::string());
      RETURN_IF_ERROR(s.Run());
      ASSIGN_OR_RETURN(const int64_t event_id, AppendRow(e, stored));
      if (own_copy) return absl::OkStatus();
      ASSIGN_OR_RETURN(Statement link, db_.Prepare("UPDATE referrals SET envelope_event_id = ?2 "
                                                   "WHERE referral_id = ?1",
                                                   "link the referral to its envelope"));
      link.BindText(1, e.referral_id).BindInt(2, event_id);
      return link.Run();
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
          .BindOptInt(5, OptMicros(e.referral->ack_deadline));
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
    return AppendRow(e, stored).status();
  }

  // Appends the events row, naming the row that already holds its
  // envelope when `shared_` remembers one.
  absl::StatusOr<int64_t> AppendRow(const Event& e, const StoredEnvelope* stored) {
    const int64_t now = Micros(clock_.Now());
    if (shared_ == nullptr || stored != nullptr) return AppendToChain(db_, e, now, stored);
    if (std::optional<int64_t> holder = shared_->RowFor(e.envelope)) {
      const StoredEnvelope named{std::string(), shared_->sha256()};
      return AppendToChain(db_, e, now, &named, *holder);
    }
    ASSIGN_OR_RETURN(const int64_t id, AppendToChain(db_, e, now, nullptr));
    shared_->Remember(e.envelope, id);
    return id;
  }

  Db& db_;
  const Clock& clock_;
  const std::string& national_node_;
  const keys::KeyRing& ring_;
  SharedEnvelope* const shared_;
};

}  // namespace

absl::Status RecordDropped(Db& db, absl::Time now, const Event& e, const absl::Status& why) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("INSERT INTO dropped_events (referral_id, sender_node, sequence, "
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
      .BindText(7, RoleName(e.actor.role))
      .BindInt(8, static_cast<int>(why.code()))
      .BindText(9, ReasonName(why))
      .BindText(10, Truncate(why.message(), kMaxErrorBytes))
      .BindInt(11, Micros(now));
  return s.Run();
}

absl::StatusOr<ApplyResult> ApplyEvent(Db& db, const Clock& clock, const std::string& national_node,
                                       const keys::KeyRing& ring, const Event& event,
                                       SharedEnvelope* shared) {
  RETURN_IF_ERROR(ValidateEvent(event));
  ApplyResult result;
  Applier applier(db, clock, national_node, ring, shared);
  RETURN_IF_ERROR(InSavepoint(db, [&] { return applier.Apply(event, result); }));
  return result;
}

absl::StatusOr<std::optional<ReferralRecord>> ReadReferral(Db& db, const std::string& referral_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT " MIR_REFERRAL_COLUMNS
                                           " FROM referrals WHERE referral_id = ?1",
                                           "read referral"));
  s.BindText(1, referral_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::nullopt;
  return ReferralFrom(s);
}

// Positions only grow, so the larger of the two sources is the position:
// the last applied event (the events key, one index seek) and a `streams`
// row where one was written (a join, a last number dropped).
absl::StatusOr<uint64_t> LastSequence(Db& db, const std::string& referral_id,
                                      const std::string& node) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare(kLastSequenceSql, "read stream position"));
  s.BindText(1, referral_id).BindText(2, node);
  ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? static_cast<uint64_t>(s.Int(0)) : 0;
}

absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> StreamPositions(
    Db& db, const std::string& referral_id) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT sender_node, MAX(last) FROM ("
                              "SELECT sender_node, MAX(sequence) AS last FROM events "
                              "WHERE referral_id = ?1 GROUP BY sender_node "
                              "UNION ALL SELECT sender_node, last_sequence FROM streams "
                              "WHERE referral_id = ?1) GROUP BY sender_node ORDER BY sender_node",
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

absl::StatusOr<std::vector<Event>> ReadTimeline(Db& db, const std::string& referral_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT " MIR_READ_EVENT_COLUMNS
                                           " FROM events WHERE referral_id = ?1 ORDER BY id",
                                           "read timeline"));
  s.BindText(1, referral_id);
  std::vector<Event> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(EventOf(StoredEventFrom(s, /*chained=*/false)));
  }
  return out;
}

absl::Status GrantPartnerAccess(Db& db, absl::Time now, const std::string& referral_id,
                                const std::string& partner) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("INSERT INTO partner_access (referral_id, partner, granted_at_us) "
                              "VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                              "grant partner access"));
  s.BindText(1, referral_id).BindText(2, partner).BindInt(3, Micros(now));
  return s.Run();
}

absl::StatusOr<std::vector<HeldFromSender>> HeldBySender(Db& db) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare(kHeldBySenderSql, "count held events by sender"));
  std::vector<HeldFromSender> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back({s.Text(0), s.Int(1), FromMicros(s.Int(2))});
  }
  return out;
}

}  // namespace mir::storage
