#ifndef MIR_STORAGE_STORE_H_
#define MIR_STORAGE_STORE_H_

// The node's durable store: one SQLite database, owned by one Store. Nothing
// else writes to the file.
//
// Durability: WAL, synchronous=FULL. A write returns OK only after its COMMIT
// is on disk, with one exception: the outbox bookkeeping that the node can
// learn again (MarkDelivered, MarkDeliveredMany, MarkAttemptFailed,
// MakeDueNow) defers its sync. Its commit reaches the WAL file (a crashed
// process loses nothing) and the next synced commit or checkpoint syncs it;
// a power cut before that loses it, which loses nothing: the entry is
// pending again, is resent, and the peer answers with the receipt it kept
// (docs/STORAGE.md, "Durability contract"; FaultTest shows it by dropping
// unsynced writes).
//
// After a failed commit or sync (any SQLITE_IOERR, any failed COMMIT, a
// failed checkpoint), or when Open's background integrity check finds the
// file damaged, the store is fail-stopped: every later write returns
// UNAVAILABLE (reason STORE_UNAVAILABLE) until the Store is destroyed and
// reopened; reads still work. A full disk before COMMIT returns
// RESOURCE_EXHAUSTED (reason STORE_FULL) with the transaction rolled back and
// nothing changed; a full disk at COMMIT returns the same but also fail-stops
// (whether the commit reached the disk is then unknown). docs/STORAGE.md has
// the full table.
//
// Threads: all methods are thread-safe. Writes go through one write
// connection with group commit: concurrent writers queue, and the first in
// line (the leader) runs the queued writes, each write's function on the
// leader's thread, under the write lock, then one COMMIT for all. Reads
// (every read method, and Read) go through a small pool of query_only
// connections (StoreOptions::read_connections): they run on the caller's
// thread, several at once, never wait for a write or its fsync, and see the
// last commit. Messages of
// returned statuses carry ids, states and node names only.
//
// The clock given to Open must outlive the Store.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "crypto/identity.h"
#include "crypto/sealing.h"
#include "mir/v1/envelope.pb.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/referrals.pb.h"
#include "mir/v1/report.pb.h"
#include "mir/v1/service_request.pb.h"
#include "mir/v1/status_change.pb.h"

namespace mir::storage {

struct StoreOptions {
  std::string path;  // the database file; created if missing
  // How long a writer waits for a lock held by another connection (only a
  // tool like sqlite3 holding the file). Too short: spurious UNAVAILABLE;
  // too long: a request hangs that long behind a stuck tool.
  absl::Duration busy_timeout = absl::Seconds(5);
  // SQLite VFS to open with; empty = the default ("unix"). Tests pass the
  // name of a fault-injecting VFS (storage/fault_vfs.h).
  std::string vfs_name;
  // The national node's id: the only node that may close a referral
  // negatively, and one that may close it positively. Wrong: the real NVN's
  // closures are refused and another node's accepted.
  std::string national_node = "nvn";
  // The node's key-encryption key (not owned; must outlive the Store): wraps
  // every referral key at rest, and the keys that seal at rest the envelopes
  // written before schema version 9 (which carried personal fields in
  // clear). Required to store or read keys, and to migrate a database
  // holding envelopes from before version 9. Null: Open refuses
  // (FAILED_PRECONDITION) a store that holds keys, and a migration with
  // envelopes to seal.
  const KeyEncryptionKey* kek = nullptr;
  // Earlier KEKs, still able to unwrap what they wrapped; Open rewraps every
  // such key under `kek` in one transaction (KEK rotation: docs/STORAGE.md,
  // "KEK rotation"). A key wrapped under a KEK that is neither `kek` nor
  // listed here makes Open fail (FAILED_PRECONDITION naming its id). Once
  // an Open has succeeded with the new `kek`, the old ones are no longer
  // needed.
  std::vector<const KeyEncryptionKey*> previous_keks;
  // Open checks every page of the file (`PRAGMA quick_check`) before it
  // returns when the last shutdown was not clean (a WAL was left behind),
  // when the schema is to be migrated, or when the file is at most this
  // big; otherwise it returns at once and checks on a thread of the store,
  // and a problem found there fail-stops the store (docs/STORAGE.md,
  // "Opening"). Too big: a large node waits for the check to start (7.8 s
  // at 1 M referrals); 0: a small damaged file is served until its check
  // ends (milliseconds) instead of refused at start.
  int64_t blocking_check_max_bytes = int64_t{64} << 20;
  // Read connections: that many reads run at once, each on its own
  // connection (and its own page cache, up to 2 MB); one more waits. The
  // broker's handlers read beside one another (an inbox lookup, the
  // sender's due list, an operator's list).
  int read_connections = 4;
};

// Open's integrity check (`PRAGMA quick_check`): where it ran, what it found.
struct IntegrityCheckStatus {
  // False: Open ran it before returning (and it passed, or Open failed).
  // True: it runs on a thread of the store, after Open returned.
  bool in_background = false;
  bool done = false;  // finished, or stopped by closing the store
  // Once done: OK; DATA_LOSS (reason STORE_UNAVAILABLE) for a damaged file,
  // or UNAVAILABLE STORE_UNAVAILABLE for an I/O error, either of which has
  // fail-stopped the store; CANCELLED when the store closed first; another
  // error (the file could not be read, e.g. locked) leaves the store as it
  // was.
  absl::Status result;
};

// Why a referral's personal data was erased here (mir.v1.ErasureCause).
struct ErasureRecord {
  absl::Time at;
  v1::ErasureCause cause = v1::ERASURE_CAUSE_UNSPECIFIED;
  std::string by;      // operator identity URI, or the node's
  std::string reason;  // operator's reason; empty otherwise. No personal data.
};

struct LegalHoldRecord {
  absl::Time since;
  std::string by;
  std::string reason;
};

// A node's answer to the origin's purge order (an ERASURE_CONFIRMATION).
struct ErasureAnswerRecord {
  std::string node;
  v1::ErasureOutcome outcome = v1::ERASURE_OUTCOME_UNSPECIFIED;
  absl::Time at;
};

// Metadata of a referral, from its REFERRAL envelope. No personal fields.
struct ReferralMeta {
  std::string referral_id;
  std::string origin_node;
  std::string destination_node;
  v1::Urgency urgency = v1::URGENCY_UNSPECIFIED;
  std::optional<absl::Time> ack_deadline;  // EMERGENCY_24H only
};

// One lifecycle event, as decided from a verified envelope or a local action.
struct Event {
  std::string referral_id;
  std::string message_id;   // of the envelope that carries it
  std::string sender_node;  // node whose stream this event belongs to
  uint64_t sequence = 0;    // per (referral_id, sender_node), from 1, no gaps
  v1::ReferralState to_state = v1::REFERRAL_STATE_UNSPECIFIED;
  Identity actor;      // who made the transition
  absl::Time at;       // when the actor made it (envelope created_at)
  std::string reason;  // reason code name and short text; never personal data
  // The exact signed envelope bytes that carry it. Read back (Timeline, a
  // held event released by ApplyEvent) as given, except an envelope stored
  // before schema version 9 whose referral was then erased here: empty, as
  // its at-rest key is destroyed (docs/STORAGE.md, "Envelopes from before
  // version 9"). Callers must cope with an empty envelope.
  std::string envelope;
  std::optional<ReferralMeta> referral;  // required with to_state SUBMITTED

  // Routing on by the national node (a SUBMITTED naming a new destination).
  // At a node that does not know the referral yet, the event creates it:
  // `referral_envelope` is the original REFERRAL envelope to keep (instead
  // of `envelope`), and `join_streams` sets where each sender's sequence
  // stood, so this node joins the streams there.
  std::string referral_envelope;
  std::vector<std::pair<std::string, uint64_t>> join_streams;
};

// The referral projection: current state, folded from its events.
struct ReferralRecord {
  ReferralMeta meta;
  v1::ReferralState state = v1::REFERRAL_STATE_UNSPECIFIED;
  absl::Time created_at;
  absl::Time updated_at;
  // The REFERRAL envelope bytes; empty when stored before schema version 9
  // and erased here since (see Event::envelope).
  std::string referral_envelope;
};

// How many early (out-of-order) events one sender may have held on one
// referral, and on all referrals together (an event may be held for a
// referral not known yet, so a peer could otherwise fill the disk by naming
// new ids); the next is refused with RESOURCE_EXHAUSTED, TOO_MANY_HELD.
inline constexpr int kMaxHeldPerStream = 64;
inline constexpr int kMaxHeldPerSender = 4096;

enum class ApplyOutcome { kApplied, kHeld };

// The early events one sender has waiting for their predecessors
// (Store::HeldBySender): one held for long means its predecessor is lost.
struct HeldFromSender {
  std::string sender_node;
  int64_t count = 0;
  absl::Time oldest_held_at;  // when the oldest of them arrived
};

// A held event that turned out invalid when its predecessor arrived. It is
// removed from the held table, its sequence number counts as consumed (so the
// stream is not blocked forever) and a row is written to dropped_events.
struct DroppedEvent {
  std::string referral_id;
  std::string sender_node;
  uint64_t sequence = 0;
  std::string message_id;
  absl::Status why;  // the lifecycle refusal, as CheckTransition returned it
};

struct ApplyResult {
  ApplyOutcome outcome = ApplyOutcome::kApplied;
  // Events applied by this call, in order: the event itself and any held
  // successors it released. Empty when held.
  std::vector<Event> applied;
  // Released held successors that the lifecycle refused (see DroppedEvent).
  std::vector<DroppedEvent> dropped;
};

// kReplaced: refused by the peer for its kind, what it carried queued again
// in other entries (Txn::MarkReplaced); neither sent nor a dead letter.
enum class OutboxState { kPending, kDelivered, kDead, kReplaced };

// What the caller (the broker) has verified about an envelope to send; the
// store never parses the bytes.
struct OutgoingEnvelope {
  std::string message_id;
  std::string peer;      // next hop node id
  std::string envelope;  // exact bytes to send; resends carry the same bytes
  // The referral the envelope is about (its header's referral_id); empty if
  // none.
  std::string referral_id;
  // The urgency the envelope itself carries (a REFERRAL's body), if any.
  // Used only when this node does not hold the referral (a relay).
  std::optional<v1::Urgency> urgency;
};

struct OutboxEntry {
  int64_t id = 0;  // increasing: the delivery order per peer and urgency
  std::string message_id;
  // The referral the envelope is about, as Txn::Enqueue was told; empty for
  // none (and for rows queued before schema version 4).
  std::string referral_id;
  std::string peer;
  // The bytes to send; empty when queued before schema version 9 and its
  // referral was erased here since (see Event::envelope): such an entry
  // cannot be sent any more.
  std::string envelope;
  // The urgency of the referral the envelope is about, as this node knew it
  // when it was queued (Txn::Enqueue); ORDINARY when it knew none.
  v1::Urgency urgency = v1::URGENCY_ORDINARY;
  int attempts = 0;
  absl::Time enqueued_at;
  absl::Time next_attempt_at;
  OutboxState state = OutboxState::kPending;
  std::string last_error;  // short, no personal data
  std::string receipt;     // the verified receipt envelope, once delivered
};

// Filters for Store::QueryReferrals; empty fields do not filter.
struct ReferralQuery {
  std::string origin_node;      // only referrals from this origin (outbound)
  std::string not_origin_node;  // only referrals from elsewhere (inbound)
  std::vector<v1::ReferralState> states;
  v1::Urgency urgency = v1::URGENCY_UNSPECIFIED;
  std::string counterpart_node;  // origin or destination is this node
  std::optional<absl::Time> updated_since;
  std::string partner;  // only referrals circulated to this partner URI
  int limit = 100;      // <= 0: no limit
};

// What statistics count of one referral (Store::ReferralFacts): no person,
// nothing sealed; the id only to read the referral's own fields.
struct ReferralFact {
  std::string referral_id;  // to read its body, never to be counted or shown
  std::string origin_node;
  std::string destination_node;  // as the projection holds it (routed on: the new one)
  v1::Urgency urgency = v1::URGENCY_UNSPECIFIED;
  v1::ReferralState state = v1::REFERRAL_STATE_UNSPECIFIED;  // now
  absl::Time created_at;                                     // its first SUBMITTED
  std::optional<absl::Time> confirmed_at;                    // first PLACEMENT_CONFIRMED event
  std::optional<absl::Time> closed_at;                       // first terminal event
  // The code of its REJECTED event; UNSPECIFIED if none.
  v1::RejectionReason rejection_reason = v1::REJECTION_REASON_UNSPECIFIED;
};

struct InboxRecord {
  std::string message_id;
  std::string sender_node;
  std::string envelope_sha256;  // SHA-256 of the exact bytes received, 32 raw bytes
  std::string receipt;          // the receipt envelope we returned
  absl::Time received_at;
};

struct AuditCheck {
  bool ok = true;
  int64_t rows_checked = 0;
  // When !ok: the first row whose link does not verify (an edited, inserted
  // or deleted row), and a human description.
  int64_t first_bad_row = 0;
  std::string problem;
  // Hex of the chain head's hash (the last row's row_hash; "" when empty).
  // Copying it elsewhere (a log, a peer) anchors the chain against rewrites.
  std::string head_hash;
};

// A citizen report (PROTOCOL.md §14) as this node keeps it. The store
// checks no report rule (broker/report_rules.h does) and parses nothing but
// `facts`, the clear fields it counts.
struct ReportRecord {
  std::string report_id;
  std::string origin_node;  // where it was taken: this node, or the node that routed it here
  absl::Time recorded_at;
  absl::Time updated_at;
  v1::ReportState state = v1::REPORT_STATE_UNSPECIFIED;
  v1::Triage triage = v1::TRIAGE_UNSPECIFIED;
  std::string routed_to;    // the node it was sent on to; empty if none
  std::string referral_id;  // the referral it became; empty if none
  // Its clear fields: municipality, description and contact empty.
  v1::CitizenReport facts;
  // Opaque to the store: its sealed municipality and description (a
  // serialized v1::Sealed under the report's key).
  std::string sealed;
  bool has_contact = false;     // a contact is kept apart (ReportContact)
  std::string request_sha256;   // of the request that recorded it (idempotency)
  std::string receipt_code;     // the public form's follow-up code; empty for staff's
  std::string passphrase_hash;  // with receipt_code: the passphrase's hash
};

// Filters for Store::QueryReports; empty fields do not filter.
struct ReportQuery {
  std::vector<v1::ReportState> states;
  std::optional<absl::Time> recorded_since;   // inclusive
  std::optional<absl::Time> recorded_before;  // exclusive
  int limit = 100;                            // <= 0: no limit
};

// A service request (PROTOCOL.md §15) as this node keeps it. The store
// checks no service rule (broker/service_request_rules.h does) and parses
// nothing but `facts`, the clear fields.
struct ServiceRequestRecord {
  std::string request_id;
  std::string origin_node;  // where it was made: this node, or where it came from first
  absl::Time created_at;
  absl::Time updated_at;
  v1::ServiceRequestState state = v1::SERVICE_REQUEST_STATE_UNSPECIFIED;
  // Its clear fields: requester and notes empty.
  v1::ServiceRequest facts;
  // Opaque to the store: its sealed requester and notes (a serialized
  // v1::Sealed under the request's key).
  std::string sealed;
  std::string roster_code;                 // once ASSIGNED
  std::optional<absl::Time> scheduled_at;  // once SCHEDULED
  v1::ServiceOutcome outcome = v1::SERVICE_OUTCOME_UNSPECIFIED;
  v1::ServiceCancelReason cancel_reason = v1::SERVICE_CANCEL_REASON_UNSPECIFIED;
  std::string request_sha256;  // of the call that created it (idempotency)
  // Between nodes (PROTOCOL.md §15.5): the node that placed it here, and the
  // node this node placed it with (UpdateServiceRequest stores the latter).
  std::string placed_from;
  std::string placed_with;
};

// A node's counts for one month (PROTOCOL.md §16): at the national node,
// what each node reported; at every node, the last report it made itself.
struct StatisticsReportRecord {
  std::string node_id;
  absl::Time month_start;
  absl::Time counted_at;
  std::string report;  // a serialized mir.v1.StatisticsReport: counts only
};

// Filters for Store::QueryServiceRequests; empty fields do not filter.
struct ServiceRequestQuery {
  std::vector<v1::ServiceRequestState> states;
  int limit = 100;  // <= 0: no limit
};

// The reads available inside one snapshot (Store::Read) or one write
// transaction (Store::Transact, through Txn).
class ReadTxn {
 public:
  virtual ~ReadTxn() = default;

  virtual absl::StatusOr<std::optional<InboxRecord>> FindInbox(const std::string& message_id) = 0;
  // The outbox entry of `message_id`, whatever its state: entries are kept
  // after delivery, so this also tells whether an id was ever queued here.
  virtual absl::StatusOr<std::optional<OutboxEntry>> FindOutbox(const std::string& message_id) = 0;
  virtual absl::StatusOr<std::optional<ReferralRecord>> GetReferral(
      const std::string& referral_id) = 0;
  // The next sequence number for `node`'s own stream on `referral_id` (1 if none).
  virtual absl::StatusOr<uint64_t> NextSequence(const std::string& referral_id,
                                                const std::string& node) = 0;
  // Where every sender's stream on `referral_id` stands here (last sequence).
  virtual absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> StreamPositions(
      const std::string& referral_id) = 0;

  // --- Key custody (docs/STORAGE.md, "Key custody and erasure") ---
  // The referral key named `key_id` (ReferralKeyId), unwrapped with the KEK;
  // nullopt if this node does not hold it (never had it, or erased).
  // FAILED_PRECONDITION without a KEK, or naming the KEK of a row wrapped
  // under one not configured; DATA_LOSS SEALED_TAMPERED if the row does not
  // unwrap (altered).
  virtual absl::StatusOr<std::optional<SecretKey>> GetReferralKey(const std::string& referral_id,
                                                                  const std::string& key_id) = 0;
  virtual absl::StatusOr<std::optional<ErasureRecord>> GetErasure(
      const std::string& referral_id) = 0;
  virtual absl::StatusOr<std::optional<LegalHoldRecord>> GetLegalHold(
      const std::string& referral_id) = 0;
  // Answers to this node's purge order, in the order they arrived.
  virtual absl::StatusOr<std::vector<ErasureAnswerRecord>> ErasureAnswers(
      const std::string& referral_id) = 0;

  // --- Citizen reports (PROTOCOL.md §14) ---
  virtual absl::StatusOr<std::optional<ReportRecord>> GetReport(const std::string& report_id) = 0;
  virtual absl::StatusOr<std::optional<ReportRecord>> FindReportByReceiptCode(
      const std::string& receipt_code) = 0;
  // The report's REPORT_EVENT envelopes, by sequence (1, 2, ...).
  virtual absl::StatusOr<std::vector<std::string>> ReportEvents(const std::string& report_id) = 0;
  // The sealed contact kept apart; nullopt if none.
  virtual absl::StatusOr<std::optional<std::string>> ReportContact(
      const std::string& report_id) = 0;

  // --- Service requests (PROTOCOL.md §15) ---
  virtual absl::StatusOr<std::optional<ServiceRequestRecord>> GetServiceRequest(
      const std::string& request_id) = 0;
  // The request's SERVICE_EVENT envelopes, by sequence (1, 2, ...).
  virtual absl::StatusOr<std::vector<std::string>> ServiceRequestEvents(
      const std::string& request_id) = 0;
  // This node's roster entry with `code`; nullopt if none.
  virtual absl::StatusOr<std::optional<v1::RosterEntry>> GetRosterEntry(
      const std::string& code) = 0;

  // --- Statistics reports (PROTOCOL.md §16) ---
  virtual absl::StatusOr<std::optional<StatisticsReportRecord>> GetStatisticsReport(
      const std::string& node_id, absl::Time month_start) = 0;
};

// The operations available inside one write transaction (Store::Transact):
// the reads, which see the transaction's own writes, and the writes.
class Txn : public ReadTxn {
 public:
  // ALREADY_EXISTS if the message id is there (reason DUPLICATE_CONFLICT
  // when its envelope_sha256 differs). Node::Deliver looks the id up first
  // (FindInbox) and records it here in the transaction that applies the
  // message: exactly-once receipt (docs/STORAGE.md, "Inbox").
  virtual absl::Status InsertInbox(const InboxRecord& record) = 0;

  // Checks `event` against the lifecycle (storage/lifecycle.h) and the
  // per-(referral, sender_node) sequence. In sequence: appends it to the
  // hash-chained events table, updates the projection, then applies any held
  // successors. Early (a gap before it): holds it, outcome kHeld, without a
  // lifecycle check; it is checked when released, and dropped (see
  // DroppedEvent) if refused then. Refusals: FAILED_PRECONDITION
  // INVALID_TRANSITION (message names the current state), PERMISSION_DENIED
  // ROLE_MAY_NOT_TRANSITION, NOT_FOUND UNKNOWN_REFERRAL, INVALID_ARGUMENT
  // INVALID_FIELD (malformed event), ALREADY_EXISTS for a sequence number
  // already used (no reason if by this same message, DUPLICATE_CONFLICT if by
  // another). Atomic: a refused event leaves nothing behind.
  virtual absl::StatusOr<ApplyResult> ApplyEvent(const Event& event) = 0;
  // Records an event refused while applying several that one envelope
  // carries (the answers of a RECEIVED_ANSWERS, PROTOCOL.md §10.8), as a
  // released event refused by the lifecycle is (DroppedEvent): the others
  // apply. Events applied in a row from the same envelope keep it once.
  virtual absl::Status RecordDropped(const Event& event, const absl::Status& why) = 0;

  // ALREADY_EXISTS if the message id is already in the outbox (reason
  // DUPLICATE_CONFLICT when the bytes or peer differ). The entry takes the
  // urgency of the referral it is about (`envelope.referral_id`): the
  // referral's at this node, else `envelope.urgency`, else that of the
  // referral's earlier entries (a relay), else ORDINARY. Bytes an events
  // row already holds (an event of the referral with this message id, or
  // the envelope of answers this transaction applied) are named, not copied.
  virtual absl::Status Enqueue(const OutgoingEnvelope& envelope) = 0;

  // Pending -> replaced, with `reason` (cut to 256 bytes): the peer refused
  // the entry for its kind and this transaction queued what it carried
  // again, in entries the peer takes. Idempotent; FAILED_PRECONDITION from
  // any other state.
  virtual absl::Status MarkReplaced(int64_t id, const std::string& reason) = 0;

  // Lets the partner (identity URI) see the referral. Idempotent.
  virtual absl::Status GrantPartnerAccess(const std::string& referral_id,
                                          const std::string& partner) = 0;

  // Keeps `key` (wrapped under the KEK) as a key of `referral_id` (the
  // referral need not be known yet: a key release may arrive first).
  // Idempotent per (referral, key id). FAILED_PRECONDITION ERASED if the
  // referral was erased here: an erased referral takes no new key;
  // FAILED_PRECONDITION without a KEK; INVALID_ARGUMENT INVALID_FIELD for
  // a key that is not 32 bytes or an id of 0 or more than 128 bytes.
  virtual absl::Status PutReferralKey(const std::string& referral_id, const SecretKey& key) = 0;
  // Crypto-erasure: destroys every key of `referral_id` here (and the keys
  // of its envelopes sealed at rest), and records why. FAILED_PRECONDITION
  // LEGAL_HOLD under a hold. Erasing twice keeps the first record (OK, even
  // under a hold set since). INVALID_ARGUMENT without a cause. After the
  // transaction commits, the WAL is checkpointed and truncated, so that the
  // destroyed bytes leave the files (secure_delete zeroes them in the pages):
  // docs/STORAGE.md, "Key custody and erasure".
  virtual absl::Status EraseReferral(const std::string& referral_id,
                                     const ErasureRecord& record) = 0;
  // Sets (a record, replacing one already there) or lifts (nullopt) a legal
  // hold. Idempotent.
  virtual absl::Status SetLegalHold(const std::string& referral_id,
                                    const std::optional<LegalHoldRecord>& hold) = 0;
  // One answer per node: a later one replaces it (HELD, then DONE once the
  // hold is lifted), keeping the node's place in the arrival order.
  // INVALID_ARGUMENT for an invalid node id or an unspecified outcome.
  virtual absl::Status RecordErasureAnswer(const std::string& referral_id,
                                           const ErasureAnswerRecord& answer) = 0;

  // --- Citizen reports ---
  // ALREADY_EXISTS if the id is taken (reason DUPLICATE_CONFLICT when its
  // request_sha256 differs, no reason when equal: the caller answers what
  // the first recorded), or if the receipt code is (no reason either: check
  // the id first, then draw a new code). INVALID_ARGUMENT INVALID_FIELD for
  // an empty id or one over 121 bytes (so that its key's owner
  // "report:<report_id>" fits PutReferralKey's 128), an empty origin, an
  // unspecified or unknown state, an unknown triage, a receipt code without
  // a passphrase hash or the other way round, or `facts` carrying
  // municipality, description or contact (those are sealed, never stored
  // in clear). Stores has_contact as given (PutReportContact sets it too).
  virtual absl::Status InsertReport(const ReportRecord& report) = 0;
  // Stores what changes after it is recorded: state, triage, routed_to,
  // referral_id, updated_at; ignores the other fields. NOT_FOUND
  // UNKNOWN_REPORT if it is not here; INVALID_FIELD as InsertReport for the
  // fields it stores.
  virtual absl::Status UpdateReport(const ReportRecord& report) = 0;
  // The sealed contact, apart from the report (PRIVACY.md), and the
  // report's has_contact set. Once per report: ALREADY_EXISTS after that;
  // NOT_FOUND UNKNOWN_REPORT for no report; INVALID_FIELD if empty.
  virtual absl::Status PutReportContact(const std::string& report_id,
                                        const std::string& sealed) = 0;
  // Appends a REPORT_EVENT envelope: `sequence` must be the report's next
  // (1 for the first), else FAILED_PRECONDITION; NOT_FOUND UNKNOWN_REPORT
  // for no report (insert it first, in the same transaction if need be);
  // INVALID_FIELD for an empty envelope. Append-only: the table's triggers
  // refuse UPDATE and DELETE.
  virtual absl::Status AppendReportEvent(const std::string& report_id, uint64_t sequence,
                                         const std::string& envelope) = 0;

  // --- Service requests ---
  // ALREADY_EXISTS if the id is taken (reason DUPLICATE_CONFLICT when its
  // request_sha256 differs, no reason when equal: the caller answers what
  // the first created). INVALID_ARGUMENT INVALID_FIELD for an empty id or
  // one over 120 bytes (so that its key's owner "service:<request_id>" fits
  // PutReferralKey's 128), an empty origin, an unspecified or unknown state,
  // outcome or cancel reason, or `facts` carrying requester or notes (those
  // are sealed, never stored in clear).
  virtual absl::Status InsertServiceRequest(const ServiceRequestRecord& request) = 0;
  // Stores what changes after it is created: state, roster_code,
  // scheduled_at, outcome, cancel_reason, updated_at; ignores the other
  // fields. NOT_FOUND UNKNOWN_SERVICE_REQUEST if it is not here;
  // INVALID_FIELD as InsertServiceRequest for the fields it stores.
  virtual absl::Status UpdateServiceRequest(const ServiceRequestRecord& request) = 0;
  // Appends a SERVICE_EVENT envelope: `sequence` must be the request's next
  // (1 for the first), else FAILED_PRECONDITION; NOT_FOUND
  // UNKNOWN_SERVICE_REQUEST for no request (insert it first, in the same
  // transaction if need be); INVALID_FIELD for an empty envelope.
  // Append-only: the table's triggers refuse UPDATE and DELETE.
  virtual absl::Status AppendServiceRequestEvent(const std::string& request_id, uint64_t sequence,
                                                 const std::string& envelope) = 0;
  // Adds a roster entry, or replaces the one with its code. INVALID_FIELD
  // for a code that is empty or over 32 bytes; the store checks nothing
  // else of it.
  virtual absl::Status PutRosterEntry(const v1::RosterEntry& entry) = 0;
  // Keeps `record` as the report of its node and month unless one counted
  // at the same time or later is kept already: true if stored, false if
  // the kept one is as new. INVALID_FIELD for an empty node or report.
  virtual absl::StatusOr<bool> PutStatisticsReport(const StatisticsReportRecord& record) = 0;

  // The Store's clock, read once per call (for receipts and inbox times).
  virtual absl::Time Now() const = 0;

  // Runs `fn` inside a savepoint: if it returns an error, every write it made
  // through this Txn is undone and the error returned, while the rest of the
  // transaction stands (one refused message in a batch commit). ApplyEvent is
  // already atomic on its own.
  virtual absl::Status Atomically(absl::FunctionRef<absl::Status()> fn) = 0;
};

// Commit timings for the node's metrics (broker/metrics.h): called after
// every group COMMIT that succeeded, with how long the COMMIT took and
// whether it synced the WAL (false: a deferred-sync write). Runs under the
// store's write lock: it must be quick and must not call into the Store.
using CommitObserver = std::function<void(absl::Duration commit, bool synced)>;
// Observes the commits of every Store opened on the database file `path`
// after this call (a Store picks its observer up at Open); an empty
// `observer` clears it for Stores opened later. Keyed by file, not a
// StoreOptions field, so that metrics need no change to how a node opens
// its store. Thread-safe.
void SetCommitObserver(const std::string& path, CommitObserver observer);

class Store {
 public:
  // Opens (creating or migrating) the database. Refuses a file whose
  // user_version is newer than this build knows (FAILED_PRECONDITION), and a
  // file that fails `PRAGMA quick_check` (DATA_LOSS) when it checks it
  // before returning: after an unclean shutdown, before a migration, and for
  // a small file (StoreOptions::blocking_check_max_bytes). Otherwise the
  // check runs in the background and a problem fail-stops the store
  // (integrity_check()); closing the store stops it. Then rewraps under
  // `options.kek` every key wrapped under a previous KEK; FAILED_PRECONDITION
  // for keys under a KEK not configured, or with no KEK (StoreOptions::kek).
  // `clock` (not owned) stamps events, inbox and outbox rows; it must
  // outlive the Store.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options,
                                                     const Clock* clock);
  virtual ~Store() = default;

  // Runs `fn` as one write: in a BEGIN IMMEDIATE transaction it may share
  // with other writers (group commit, each in its own savepoint); commits
  // when it returns OK (durable when this returns OK), rolls back its writes
  // otherwise and returns its status. If a statement inside hit the disk
  // (I/O error, disk full) the transaction is rolled back whatever `fn`
  // returned. `fn` may run on another caller's thread (the group's leader),
  // while this one waits, under the write lock that every writer needs: it
  // must not block (no I/O, no RPC, no waiting on other threads) and must not
  // call back into this Store (it would deadlock); use the Txn.
  virtual absl::Status Transact(absl::FunctionRef<absl::Status(Txn&)> fn) = 0;

  // Runs `fn` on the calling thread, on one of the read connections, inside
  // one read transaction: every read through the ReadTxn sees one snapshot
  // (the last commit before its first read) and no write committed
  // meanwhile. It takes no write lock and never waits for a write; it holds
  // its read connection meanwhile, so keep `fn` short, and do not call back
  // into the Store from it (with every connection taken it would deadlock).
  // Returns `fn`'s status, or the read's error.
  virtual absl::Status Read(absl::FunctionRef<absl::Status(ReadTxn&)> fn) = 0;

  // Convenience for the common local action: apply `event` and enqueue
  // `outgoing`, in one transaction (transactional outbox).
  virtual absl::StatusOr<ApplyResult> RecordAndEnqueue(
      const Event& event, const std::vector<OutgoingEnvelope>& outgoing) = 0;

  // --- Outbox (the sender loop) ---
  // `limit` <= 0 means no limit. Mark* on an unknown id: NOT_FOUND; from the
  // wrong state: FAILED_PRECONDITION (docs/STORAGE.md, "Outbox").
  // Pending entries for `peer` due at or before `now`: the most urgent
  // first, then the oldest id. absl::InfiniteFuture() ignores retry times.
  virtual absl::StatusOr<std::vector<OutboxEntry>> DuePending(const std::string& peer,
                                                              absl::Time now, int limit) = 0;
  // `peer`'s pending entries waiting for a retry later than `now` become due
  // at `now` (the peer answers again). Returns how many.
  virtual absl::StatusOr<int> MakeDueNow(const std::string& peer, absl::Time now) = 0;
  // The earliest next_attempt_at later than `after` among `peer`'s pending
  // entries, if any. (Those due by `after` are the sender's to send now.)
  virtual absl::StatusOr<std::optional<absl::Time>> NextDue(const std::string& peer,
                                                            absl::Time after) = 0;
  // Pending or dead -> delivered; attempts + 1. Repeats keep the first receipt.
  virtual absl::Status MarkDelivered(int64_t id, const std::string& receipt) = 0;
  // Several deliveries (outbox id, receipt) in one transaction.
  virtual absl::Status MarkDeliveredMany(
      const std::vector<std::pair<int64_t, std::string>>& deliveries) = 0;
  // Pending only: attempts + 1, next_attempt_at, last_error (cut to 256 bytes).
  virtual absl::Status MarkAttemptFailed(int64_t id, absl::Time next_attempt_at,
                                         const std::string& error) = 0;
  // Pending -> dead (idempotent).
  virtual absl::Status MarkDead(int64_t id, const std::string& error) = 0;
  // `peer`'s pending entries enqueued at or before `enqueued_by` -> dead,
  // with `error`: what dead_letter_after ends while the sender, the peer
  // being unreachable, tries one entry at a time. Returns how many.
  virtual absl::StatusOr<int> MarkDeadEnqueuedBy(const std::string& peer, absl::Time enqueued_by,
                                                 const std::string& error) = 0;
  virtual absl::StatusOr<std::vector<OutboxEntry>> ListOutbox(std::optional<OutboxState> state,
                                                              int limit) = 0;
  virtual absl::StatusOr<std::optional<OutboxEntry>> FindOutbox(const std::string& message_id) = 0;
  // The receipt `peer` signed for the newest entry delivered to it (among the
  // last 10,000 queued), if any:
  // what it announced last (Receipt.features), read at start.
  virtual absl::StatusOr<std::optional<std::string>> NewestReceipt(const std::string& peer) = 0;
  // Every outbox entry whose envelope is about `referral_id`, oldest first.
  virtual absl::StatusOr<std::vector<OutboxEntry>> OutboxForReferral(
      const std::string& referral_id) = 0;
  // Dead letters back to pending, due now, attempts reset, with a fresh
  // dead-letter clock (enqueued_at = now: the sender measures an envelope's
  // age from it). Returns how many moved (Requeue: 0 if the entry is not dead).
  virtual absl::StatusOr<int> Requeue(int64_t id) = 0;
  virtual absl::StatusOr<int> RequeueAllDead() = 0;

  // --- Reads ---
  virtual absl::StatusOr<std::optional<ReferralRecord>> GetReferral(
      const std::string& referral_id) = 0;
  // Most recently updated first.
  virtual absl::StatusOr<std::vector<ReferralRecord>> ListReferrals(int limit) = 0;
  // Most recently updated first.
  virtual absl::StatusOr<std::vector<ReferralRecord>> QueryReferrals(
      const ReferralQuery& query) = 0;
  // EMERGENCY_24H referrals still SUBMITTED or RECEIVED (their receiver has
  // not taken them into evaluation), most recently updated first: what the
  // deadline watcher checks on every pass. Reads only those rows (a partial
  // index), however many referrals the node holds.
  virtual absl::StatusOr<std::vector<ReferralRecord>> EmergenciesAwaitingAck() = 0;
  virtual absl::StatusOr<bool> PartnerHasAccess(const std::string& referral_id,
                                                const std::string& partner) = 0;
  virtual absl::StatusOr<std::optional<InboxRecord>> FindInboxRecord(
      const std::string& message_id) = 0;
  // Applied events of one referral, in the order they were applied.
  virtual absl::StatusOr<std::vector<Event>> Timeline(const std::string& referral_id) = 0;
  // Every sender with held events, by node id (through the index by sender,
  // schema v18; no envelope is read).
  virtual absl::StatusOr<std::vector<HeldFromSender>> HeldBySender() = 0;
  // Referrals that reached `state` (terminal) at or before `reached_by`, not
  // erased and not under a legal hold: what a retention policy erases.
  // Oldest first, then by id; `limit` <= 0: all. INVALID_ARGUMENT for a state
  // that is not terminal (only there is updated_at when it was reached).
  // Reads only the referrals not erased (a partial index).
  virtual absl::StatusOr<std::vector<std::string>> DueForErasure(v1::ReferralState state,
                                                                 absl::Time reached_by,
                                                                 int limit) = 0;
  // The facts of the referrals created in [from, to), oldest first, from one
  // snapshot of the referrals and their events (docs/STATISTICS.md). Reads
  // every referral of the period: for statistics, not for a hot path.
  virtual absl::StatusOr<std::vector<ReferralFact>> ReferralFacts(absl::Time from,
                                                                  absl::Time to) = 0;

  // Citizen reports, most recently recorded first (then by id). A state
  // filter naming only states no report can be in matches none.
  virtual absl::StatusOr<std::vector<ReportRecord>> QueryReports(const ReportQuery& query) = 0;

  // Service requests, most recently created first (then by id). A state
  // filter naming only states no request can be in matches none.
  virtual absl::StatusOr<std::vector<ServiceRequestRecord>> QueryServiceRequests(
      const ServiceRequestQuery& query) = 0;
  // This node's roster, by code.
  virtual absl::StatusOr<std::vector<v1::RosterEntry>> Roster() = 0;
  // The statistics reports of the months starting in [from, to), by month
  // then node, from one snapshot.
  virtual absl::StatusOr<std::vector<StatisticsReportRecord>> StatisticsReports(absl::Time from,
                                                                                absl::Time to) = 0;

  // Walks the hash chain of the events table in one snapshot and reports the
  // first broken link (docs/STORAGE.md, "Audit chain").
  virtual absl::StatusOr<AuditCheck> VerifyAuditChain() = 0;

  // True after a failed commit or sync, or a background integrity check
  // that found a problem, until reopened.
  virtual bool failed() const = 0;

  // Where Open's integrity check stands. Thread-safe.
  virtual IntegrityCheckStatus integrity_check() const = 0;
  // Waits up to `timeout` for the integrity check to be done; true if it is.
  // Thread-safe.
  virtual bool WaitForIntegrityCheck(absl::Duration timeout) const = 0;
};

}  // namespace mir::storage

#endif  // MIR_STORAGE_STORE_H_
