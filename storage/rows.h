#ifndef MIR_STORAGE_ROWS_H_
#define MIR_STORAGE_ROWS_H_

// Internal to storage/: each table's column list and its one decoder from a
// SELECT of those columns, plus the conversions and limits the table files
// share. The column lists are macros so that statements stay string
// literals (Db::Prepare caches by address).

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/audit_chain.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage {

inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxReasonBytes = 1024;
inline constexpr size_t kMaxErrorBytes = 256;

// outbox.state
inline constexpr int64_t kOutboxPending = 0;
inline constexpr int64_t kOutboxDelivered = 1;
inline constexpr int64_t kOutboxDead = 2;
inline constexpr int64_t kOutboxReplaced = 3;

inline int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
inline absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }
inline std::optional<int64_t> OptMicros(const std::optional<absl::Time>& t) {
  return t.has_value() ? std::optional<int64_t>(Micros(*t)) : std::nullopt;
}
// SQLite's LIMIT: -1 is none.
inline int SqlLimit(int limit) { return limit <= 0 ? -1 : limit; }

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
std::string Truncate(absl::string_view s, size_t max);

absl::Status InvalidField(absl::string_view what);

// --- events and held_events ---
// The 15 columns both tables share, parameters/columns 1..15 / 0..14.
#define MIR_EVENT_COLUMNS_WITH(envelope)                                               \
  "referral_id, sender_node, sequence, message_id, to_state, actor_node, actor_role, " \
  "actor_name, at_us, reason, " envelope                                               \
  ", origin_node, destination_node, urgency, "                                         \
  "ack_deadline_us"
#define MIR_EVENT_COLUMNS MIR_EVENT_COLUMNS_WITH("envelope")
#define MIR_CHAIN_COLUMNS ", applied_at_us, id, envelope_sha256, prev_hash, row_hash"
// An events row with its place in the chain (columns 0..19). Schema step 2's
// backfill reads these too: list only columns that exist from version 2 on.
#define MIR_CHAINED_EVENT_COLUMNS MIR_EVENT_COLUMNS MIR_CHAIN_COLUMNS
// Reading events (not held_events) from schema v15 on: an envelope is the
// row's own, or that of the row it names (the answers of one
// RECEIVED_ANSWERS share one, PROTOCOL.md §10.8).
#define MIR_EVENTS_ENVELOPE                                               \
  "CASE WHEN events.envelope_event_id IS NULL THEN events.envelope ELSE " \
  "(SELECT holder.envelope FROM events AS holder WHERE holder.id = "      \
  "events.envelope_event_id) END"
#define MIR_READ_EVENT_COLUMNS MIR_EVENT_COLUMNS_WITH(MIR_EVENTS_ENVELOPE)
#define MIR_READ_CHAINED_EVENT_COLUMNS MIR_READ_EVENT_COLUMNS MIR_CHAIN_COLUMNS

// An events (or held_events) row exactly as stored: the chain hashes what
// is stored, so decoding never normalizes a value.
struct StoredEvent {
  AuditRow row;  // envelope_sha256 as stored: empty if NULL or not selected
  std::string envelope;
  std::string prev_hash;
  std::string row_hash;
};

// Decodes MIR_EVENT_COLUMNS, and with `chained` the 5 columns after them.
StoredEvent StoredEventFrom(const Statement& s, bool chained);

// The row `e` is stored as; `applied_at_us` and `id` only matter in events.
// `envelope_sha256`, when the caller has it (or needs none: empty), spares
// hashing `e.envelope` again, which may be a whole envelope of answers.
AuditRow RowOf(int64_t id, const Event& e, int64_t applied_at_us,
               std::optional<absl::string_view> envelope_sha256 = std::nullopt);
// The event a stored row holds.
Event EventOf(const StoredEvent& stored);

// Binds the 15 shared columns of `r` (with `envelope`) to parameters 1..15.
void BindEventColumns(Statement& s, const AuditRow& r, const std::string& envelope);

// --- referrals ---
// Schema v14 keeps an envelope once: a referral or outbox row whose
// envelope is an events row's names it (envelope_event_id) and keeps no
// copy in `column` (docs/STORAGE.md, "Each envelope stored once"). Selects
// read it through this expression; the SELECT must name `table` itself,
// not an alias.
#define MIR_STORED_ENVELOPE(table, column)                                  \
  "CASE WHEN " #table ".envelope_event_id IS NULL THEN " #table "." #column \
  " ELSE (SELECT envelope FROM events WHERE events.id = " #table ".envelope_event_id) END"

// The columns before the envelope, shared by inserts and selects.
#define MIR_REFERRAL_META_COLUMNS                                                 \
  "referral_id, origin_node, destination_node, urgency, ack_deadline_us, state, " \
  "created_at_us, updated_at_us, "
#define MIR_REFERRAL_INSERT_COLUMNS MIR_REFERRAL_META_COLUMNS "referral_envelope, envelope_event_id"
#define MIR_REFERRAL_COLUMNS \
  MIR_REFERRAL_META_COLUMNS MIR_STORED_ENVELOPE(referrals, referral_envelope)
ReferralRecord ReferralFrom(const Statement& s);

// --- outbox ---
// The envelope is inline in its row, or (schema v14) the events row's it
// names. A receipt is inline in its row, or (schema v10) kept once in
// `receipts` when it covers several envelopes.
#define MIR_OUTBOX_ENVELOPE MIR_STORED_ENVELOPE(outbox, envelope)
#define MIR_OUTBOX_COLUMNS                            \
  "id, message_id, peer, " MIR_OUTBOX_ENVELOPE        \
  ", attempts, enqueued_at_us, "                      \
  "next_attempt_at_us, state, last_error, "           \
  "COALESCE(receipt, (SELECT envelope FROM receipts " \
  "WHERE receipts.sha256 = outbox.receipt_sha256)), urgency, referral_id"
OutboxEntry OutboxFrom(const Statement& s);

// --- inbox ---
#define MIR_INBOX_COLUMNS                                                            \
  "message_id, sender_node, envelope_sha256, "                                       \
  "CASE WHEN inbox.receipt_sha256 IS NULL THEN inbox.receipt ELSE (SELECT envelope " \
  "FROM receipts WHERE receipts.sha256 = inbox.receipt_sha256) END, received_at_us"
InboxRecord InboxFrom(const Statement& s);

}  // namespace mir::storage

#endif  // MIR_STORAGE_ROWS_H_
