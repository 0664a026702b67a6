#include "storage/schema.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "storage/at_rest.h"
#include "storage/audit_chain.h"
#include "storage/rows.h"

namespace mir::storage {
namespace {

// Version 1: the tables. Times are microseconds since the Unix epoch (UTC);
// states are mir.v1.ReferralState numbers; outbox.state is 0 pending,
// 1 delivered, 2 dead.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE referrals (
  referral_id       TEXT PRIMARY KEY NOT NULL,
  origin_node       TEXT NOT NULL,
  destination_node  TEXT NOT NULL,
  urgency           INTEGER NOT NULL,
  ack_deadline_us   INTEGER,
  state             INTEGER NOT NULL,
  created_at_us     INTEGER NOT NULL,
  updated_at_us     INTEGER NOT NULL,
  referral_envelope BLOB NOT NULL
);
CREATE INDEX referrals_by_update ON referrals(updated_at_us);

CREATE TABLE events (
  id               INTEGER PRIMARY KEY,
  referral_id      TEXT NOT NULL REFERENCES referrals(referral_id),
  sender_node      TEXT NOT NULL,
  sequence         INTEGER NOT NULL,
  message_id       TEXT NOT NULL,
  to_state         INTEGER NOT NULL,
  actor_node       TEXT NOT NULL,
  actor_role       TEXT NOT NULL,
  actor_name       TEXT NOT NULL,
  at_us            INTEGER NOT NULL,
  reason           TEXT NOT NULL,
  envelope         BLOB NOT NULL,
  origin_node      TEXT,
  destination_node TEXT,
  urgency          INTEGER,
  ack_deadline_us  INTEGER,
  applied_at_us    INTEGER NOT NULL,
  UNIQUE (referral_id, sender_node, sequence)
);
CREATE INDEX events_by_message ON events(message_id);

CREATE TABLE streams (
  referral_id   TEXT NOT NULL,
  sender_node   TEXT NOT NULL,
  last_sequence INTEGER NOT NULL,
  PRIMARY KEY (referral_id, sender_node)
) WITHOUT ROWID;

CREATE TABLE held_events (
  referral_id      TEXT NOT NULL,
  sender_node      TEXT NOT NULL,
  sequence         INTEGER NOT NULL,
  message_id       TEXT NOT NULL,
  to_state         INTEGER NOT NULL,
  actor_node       TEXT NOT NULL,
  actor_role       TEXT NOT NULL,
  actor_name       TEXT NOT NULL,
  at_us            INTEGER NOT NULL,
  reason           TEXT NOT NULL,
  envelope         BLOB NOT NULL,
  origin_node      TEXT,
  destination_node TEXT,
  urgency          INTEGER,
  ack_deadline_us  INTEGER,
  held_at_us       INTEGER NOT NULL,
  PRIMARY KEY (referral_id, sender_node, sequence)
) WITHOUT ROWID;

CREATE TABLE outbox (
  id                 INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id         TEXT NOT NULL UNIQUE,
  peer               TEXT NOT NULL,
  envelope           BLOB NOT NULL,
  attempts           INTEGER NOT NULL DEFAULT 0,
  enqueued_at_us     INTEGER NOT NULL,
  next_attempt_at_us INTEGER NOT NULL,
  state              INTEGER NOT NULL DEFAULT 0,
  last_error         TEXT NOT NULL DEFAULT '',
  receipt            BLOB
);
CREATE INDEX outbox_pending ON outbox(peer, id, next_attempt_at_us) WHERE state = 0;
CREATE INDEX outbox_by_state ON outbox(state, id);

CREATE TABLE inbox (
  message_id      TEXT PRIMARY KEY NOT NULL,
  sender_node     TEXT NOT NULL,
  envelope_sha256 BLOB NOT NULL,
  receipt         BLOB NOT NULL,
  received_at_us  INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Version 2: the audit chain. Columns are added nullable (SQLite cannot add
// NOT NULL columns without a default); the verifier treats NULL as broken.
constexpr char kSchemaV2[] = R"sql(
ALTER TABLE events ADD COLUMN envelope_sha256 BLOB;
ALTER TABLE events ADD COLUMN prev_hash BLOB;
ALTER TABLE events ADD COLUMN row_hash BLOB;

CREATE TABLE audit_head (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  last_event_id INTEGER NOT NULL,
  last_hash     BLOB NOT NULL,
  row_count     INTEGER NOT NULL
);

CREATE TABLE dropped_events (
  id            INTEGER PRIMARY KEY,
  referral_id   TEXT NOT NULL,
  sender_node   TEXT NOT NULL,
  sequence      INTEGER NOT NULL,
  message_id    TEXT NOT NULL,
  to_state      INTEGER NOT NULL,
  actor_node    TEXT NOT NULL,
  actor_role    TEXT NOT NULL,
  status_code   INTEGER NOT NULL,
  status_reason TEXT NOT NULL,
  status_text   TEXT NOT NULL,
  dropped_at_us INTEGER NOT NULL
);
)sql";

// Version 3: which partners a referral was circulated to (partners see only
// those), and an index for listing by state.
constexpr char kSchemaV3[] = R"sql(
CREATE TABLE partner_access (
  referral_id   TEXT NOT NULL REFERENCES referrals(referral_id),
  partner       TEXT NOT NULL,
  granted_at_us INTEGER NOT NULL,
  PRIMARY KEY (referral_id, partner)
) WITHOUT ROWID;
CREATE INDEX partner_access_by_partner ON partner_access(partner, referral_id);
CREATE INDEX referrals_by_state ON referrals(state, updated_at_us);
)sql";

// Version 4: the referral an outbox entry is about, so a referral's timeline
// can show the delivery proof of every copy it sent.
constexpr char kSchemaV4[] = R"sql(
ALTER TABLE outbox ADD COLUMN referral_id TEXT;
CREATE INDEX outbox_by_referral ON outbox(referral_id) WHERE referral_id IS NOT NULL;
)sql";

// Version 5: lists filtered by state walk an index in list order. The order
// is "updated_at_us DESC, referral_id" (Store::QueryReferrals); with
// referral_id in the index a tie on updated_at_us needs no sort either, so
// "state = ? ORDER BY updated_at_us DESC, referral_id LIMIT n" reads n index
// entries. Replaces version 3's referrals_by_state(state, updated_at_us),
// which nothing could use (the old query filtered with instr()).
constexpr char kSchemaV5[] = R"sql(
DROP INDEX referrals_by_state;
CREATE INDEX referrals_by_state_recent ON referrals(state, updated_at_us DESC, referral_id);
)sql";

// Version 6: fewer index pages per commit. events_by_message served no
// query; outbox_by_state moved every outbox row on insert and on delivery,
// while the pending rows have outbox_pending and only the dead ones are
// listed by state (ListDeadLetters, RequeueAll). Delivered rows are listed
// by tests and tools only, by a scan.
constexpr char kSchemaV6[] = R"sql(
DROP INDEX events_by_message;
DROP INDEX outbox_by_state;
CREATE INDEX outbox_dead ON outbox(id) WHERE state = 2;
)sql";

// Version 7: an emergency does not wait behind a backlog. Each outbox row
// carries the urgency of the referral it is about (mir.v1.Urgency:
// 1 EMERGENCY_24H, 2 URGENT, 3 ORDINARY and anything else), and the sender
// takes due rows by urgency, then id. Pending rows of referrals this node
// holds take the referral's urgency; the others (pure relays) stay ORDINARY.
constexpr char kSchemaV7[] = R"sql(
ALTER TABLE outbox ADD COLUMN urgency INTEGER NOT NULL DEFAULT 3;
UPDATE outbox SET urgency = (SELECT CASE r.urgency WHEN 1 THEN 1 WHEN 2 THEN 2 ELSE 3 END
                             FROM referrals r WHERE r.referral_id = outbox.referral_id)
  WHERE state = 0 AND referral_id IN (SELECT referral_id FROM referrals);
DROP INDEX outbox_pending;
CREATE INDEX outbox_due ON outbox(peer, urgency, id, next_attempt_at_us) WHERE state = 0;
)sql";

// Version 8: the deadline watcher lists the emergencies still awaiting
// their acknowledgement (EMERGENCY_24H, SUBMITTED or RECEIVED) on every
// pass; without an index that read every referral. The partial index holds
// those rows only, in list order. Its WHERE is what the query says
// (referrals::AwaitingAck), literal for literal, so that SQLite can use it.
constexpr char kSchemaV8[] = R"sql(
CREATE INDEX referrals_awaiting_ack ON referrals(updated_at_us DESC, referral_id)
  WHERE urgency = 1 AND state IN (1, 2);
)sql";

// Version 9: key custody and erasure (docs/STORAGE.md, "Key custody and
// erasure"). Referral keys rest wrapped under the node's KEK (kek_id names
// it, for rotation); no foreign key to referrals, as a key release may come
// before its referral. A referral's erasure and legal hold are one row each;
// erasure answers are in arrival order (rowid). referrals.erased_at_us
// takes an erased referral out of referrals_retention, the partial index
// of terminal referrals still holding data that DueForErasure walks (its
// WHERE is repeated literally by keys::DueForErasure). The append-only
// triggers are dropped for the C++ part, which seals the envelopes already
// stored (at_rest::SealStoredEnvelopes), and created again after it;
// held_events.envelope_sha256 keeps the hash of a held envelope it sealed.
constexpr char kSchemaV9[] = R"sql(
CREATE TABLE referral_keys (
  referral_id  TEXT NOT NULL,
  key_id       BLOB NOT NULL,
  kek_id       TEXT NOT NULL,
  wrapped      BLOB NOT NULL,
  stored_at_us INTEGER NOT NULL,
  PRIMARY KEY (referral_id, key_id)
) WITHOUT ROWID;

CREATE TABLE erasures (
  referral_id TEXT PRIMARY KEY NOT NULL,
  at_us       INTEGER NOT NULL,
  cause       INTEGER NOT NULL,
  by_identity TEXT NOT NULL,
  reason      TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE legal_holds (
  referral_id TEXT PRIMARY KEY NOT NULL,
  since_us    INTEGER NOT NULL,
  by_identity TEXT NOT NULL,
  reason      TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE erasure_answers (
  referral_id TEXT NOT NULL,
  node        TEXT NOT NULL,
  outcome     INTEGER NOT NULL,
  at_us       INTEGER NOT NULL,
  PRIMARY KEY (referral_id, node)
);

ALTER TABLE referrals ADD COLUMN erased_at_us INTEGER;
CREATE INDEX referrals_retention ON referrals(state, updated_at_us, referral_id)
  WHERE erased_at_us IS NULL AND state IN (9, 10, 11, 12);

ALTER TABLE held_events ADD COLUMN envelope_sha256 BLOB;

DROP TRIGGER events_no_update;
DROP TRIGGER events_no_delete;
)sql";

// Version 10: a batch receipt (PROTOCOL.md §6.2.1) is kept once, whichever
// rows it covers; rows hold its hash. Rows written before keep theirs inline.
constexpr char kSchemaV10[] = R"sql(
CREATE TABLE receipts (
  sha256   BLOB PRIMARY KEY NOT NULL,
  envelope BLOB NOT NULL
) WITHOUT ROWID;
ALTER TABLE inbox ADD COLUMN receipt_sha256 BLOB;
ALTER TABLE outbox ADD COLUMN receipt_sha256 BLOB;
)sql";

// Version 11: citizen reports (PROTOCOL.md §14, docs/STORAGE.md "Citizen
// reports"). States and triage are mir.v1.ReportState / Triage numbers;
// channel, reporter_type and reason the CitizenReport's enums, kept as
// columns beside `facts` (the serialized clear fields) so that statistics
// can count without parsing. `sealed` (municipality and description) and
// report_contacts.sealed are opaque here, sealed by the broker under the
// report's key; the contact has a table of its own so that a read of a
// report never carries it. receipt_code is NULL for staff's reports, and
// unique where set. reports_recent is the listing order of QueryReports.
// report_events is append-only, as events is.
constexpr char kSchemaV11[] = R"sql(
CREATE TABLE reports (
  report_id        TEXT PRIMARY KEY NOT NULL,
  origin_node      TEXT NOT NULL,
  recorded_at_us   INTEGER NOT NULL,
  updated_at_us    INTEGER NOT NULL,
  state            INTEGER NOT NULL,
  triage           INTEGER NOT NULL,
  routed_to        TEXT NOT NULL,
  referral_id      TEXT NOT NULL,
  facts            BLOB NOT NULL,
  channel          INTEGER NOT NULL,
  reporter_type    INTEGER NOT NULL,
  reason           INTEGER NOT NULL,
  province         TEXT NOT NULL,
  immediate_danger INTEGER NOT NULL,
  sealed           BLOB NOT NULL,
  has_contact      INTEGER NOT NULL,
  request_sha256   BLOB NOT NULL,
  receipt_code     TEXT,
  passphrase_hash  BLOB
) WITHOUT ROWID;
CREATE UNIQUE INDEX reports_by_receipt_code ON reports(receipt_code)
  WHERE receipt_code IS NOT NULL;
CREATE INDEX reports_recent ON reports(recorded_at_us DESC, report_id);

CREATE TABLE report_contacts (
  report_id TEXT PRIMARY KEY NOT NULL REFERENCES reports(report_id),
  sealed    BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE report_events (
  report_id TEXT NOT NULL REFERENCES reports(report_id),
  sequence  INTEGER NOT NULL,
  envelope  BLOB NOT NULL,
  PRIMARY KEY (report_id, sequence)
) WITHOUT ROWID;
CREATE TRIGGER report_events_no_update BEFORE UPDATE ON report_events
BEGIN SELECT RAISE(ABORT, 'report events are append-only'); END;
CREATE TRIGGER report_events_no_delete BEFORE DELETE ON report_events
BEGIN SELECT RAISE(ABORT, 'report events are append-only'); END;
)sql";

// Version 12: service requests and the roster (PROTOCOL.md §15,
// docs/STORAGE.md "Service requests"). States, kinds, outcomes and cancel
// reasons are mir.v1 enum numbers; `facts` is the serialized clear part of
// the request, with kind, language, province and the window repeated as
// columns so that they can be counted without parsing. `sealed` (requester
// and notes) is opaque here, sealed by the broker under the request's key.
// scheduled_at_us is NULL until scheduled. service_requests_recent is the
// listing order of QueryServiceRequests. service_request_events is
// append-only, as events is. roster holds this node's roster by opaque code;
// `entry` is a serialized mir.v1.RosterEntry (no names: the message has no
// field for one).
constexpr char kSchemaV12[] = R"sql(
CREATE TABLE service_requests (
  request_id      TEXT PRIMARY KEY NOT NULL,
  origin_node     TEXT NOT NULL,
  created_at_us   INTEGER NOT NULL,
  updated_at_us   INTEGER NOT NULL,
  state           INTEGER NOT NULL,
  kind            INTEGER NOT NULL,
  language        TEXT NOT NULL,
  province        TEXT NOT NULL,
  window_start_us INTEGER NOT NULL,
  window_end_us   INTEGER NOT NULL,
  referral_id     TEXT NOT NULL,
  roster_code     TEXT NOT NULL,
  scheduled_at_us INTEGER,
  outcome         INTEGER NOT NULL,
  cancel_reason   INTEGER NOT NULL,
  facts           BLOB NOT NULL,
  sealed          BLOB NOT NULL,
  request_sha256  BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX service_requests_recent ON service_requests(created_at_us DESC, request_id);

CREATE TABLE service_request_events (
  request_id TEXT NOT NULL REFERENCES service_requests(request_id),
  sequence   INTEGER NOT NULL,
  envelope   BLOB NOT NULL,
  PRIMARY KEY (request_id, sequence)
) WITHOUT ROWID;
CREATE TRIGGER service_request_events_no_update BEFORE UPDATE ON service_request_events
BEGIN SELECT RAISE(ABORT, 'service request events are append-only'); END;
CREATE TRIGGER service_request_events_no_delete BEFORE DELETE ON service_request_events
BEGIN SELECT RAISE(ABORT, 'service request events are append-only'); END;

CREATE TABLE roster (
  code          TEXT PRIMARY KEY NOT NULL,
  kind          INTEGER NOT NULL,
  available     INTEGER NOT NULL,
  entry         BLOB NOT NULL,
  updated_at_us INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// Version 13: service requests between nodes and the national statistics
// (PROTOCOL.md §15.5 and §16). placed_from is the node that placed a request
// here, placed_with the node this node placed it with ('' for neither).
// statistics_reports holds, at the national node, the latest monthly
// STATISTICS_REPORT of each node (its body, counts only); a later report
// for the same node and month replaces the earlier one.
constexpr char kSchemaV13[] = R"sql(
ALTER TABLE service_requests ADD COLUMN placed_from TEXT NOT NULL DEFAULT '';
ALTER TABLE service_requests ADD COLUMN placed_with TEXT NOT NULL DEFAULT '';

CREATE TABLE statistics_reports (
  node_id        TEXT NOT NULL,
  month_start_us INTEGER NOT NULL,
  counted_at_us  INTEGER NOT NULL,
  report         BLOB NOT NULL,
  PRIMARY KEY (node_id, month_start_us)
) WITHOUT ROWID;
)sql";

// Version 14: each envelope stored once (docs/STORAGE.md, "Each envelope
// stored once"). An outbox row or a referral whose envelope is an events row
// names it (envelope_event_id) and keeps no copy (envelope X''); events are
// append-only, so the row named is never gone. The outbox loses
// AUTOINCREMENT, whose sqlite_sequence row was one more page in every commit
// that queued something: its rows are never deleted, so ids still only grow.
// SQLite changes neither in place: the outbox is copied into a new table.
// Rows already stored are converted where the bytes are equal (envelopes
// sealed at rest by version 9 never are: each has its own nonce).
constexpr char kSchemaV14[] = R"sql(
CREATE TABLE outbox_v14 (
  id                 INTEGER PRIMARY KEY,
  message_id         TEXT NOT NULL UNIQUE,
  peer               TEXT NOT NULL,
  envelope           BLOB NOT NULL,
  attempts           INTEGER NOT NULL DEFAULT 0,
  enqueued_at_us     INTEGER NOT NULL,
  next_attempt_at_us INTEGER NOT NULL,
  state              INTEGER NOT NULL DEFAULT 0,
  last_error         TEXT NOT NULL DEFAULT '',
  receipt            BLOB,
  referral_id        TEXT,
  urgency            INTEGER NOT NULL DEFAULT 3,
  receipt_sha256     BLOB,
  envelope_event_id  INTEGER
);
INSERT INTO outbox_v14 (id, message_id, peer, envelope, attempts, enqueued_at_us,
                        next_attempt_at_us, state, last_error, receipt, referral_id, urgency,
                        receipt_sha256, envelope_event_id)
  SELECT id, message_id, peer, envelope, attempts, enqueued_at_us, next_attempt_at_us, state,
         last_error, receipt, referral_id, urgency, receipt_sha256,
         (SELECT MIN(e.id) FROM events e WHERE e.referral_id = outbox.referral_id
            AND e.message_id = outbox.message_id AND e.envelope = outbox.envelope)
  FROM outbox;
UPDATE outbox_v14 SET envelope = X'' WHERE envelope_event_id IS NOT NULL;
DROP TABLE outbox;
ALTER TABLE outbox_v14 RENAME TO outbox;
CREATE INDEX outbox_by_referral ON outbox(referral_id) WHERE referral_id IS NOT NULL;
CREATE INDEX outbox_dead ON outbox(id) WHERE state = 2;
CREATE INDEX outbox_due ON outbox(peer, urgency, id, next_attempt_at_us) WHERE state = 0;

ALTER TABLE referrals ADD COLUMN envelope_event_id INTEGER;
UPDATE referrals SET envelope_event_id =
  (SELECT MIN(e.id) FROM events e WHERE e.referral_id = referrals.referral_id
     AND e.envelope = referrals.referral_envelope);
UPDATE referrals SET referral_envelope = X'' WHERE envelope_event_id IS NOT NULL;
)sql";

// Version 15: the answers of one RECEIVED_ANSWERS (PROTOCOL.md §10.8) are
// events of several referrals carried by one envelope, kept once: the
// first answer's row holds it and the others name that row, as referrals
// and the outbox name theirs since version 14. Nothing to convert: no
// file holds such an envelope yet.
constexpr char kSchemaV15[] = R"sql(
ALTER TABLE events ADD COLUMN envelope_event_id INTEGER;
)sql";

// Version 16: one B-tree fewer written per event. A stream's position is
// the larger of its last applied event (the events key, UNIQUE (referral_id,
// sender_node, sequence), finds it in one seek) and its `streams` row, which
// is now written only where the events cannot show the position: a join's
// starting point (routed on) and a last number consumed by a dropped event.
// The rows the events already imply go: the few others are copied into a
// new table and the old one dropped, which frees its pages without first
// collecting every key to delete in memory (two per referral). A release
// from before reads only `streams` and would take stale positions: the
// version refuses it.
constexpr char kSchemaV16[] = R"sql(
CREATE TABLE streams_v16 (
  referral_id   TEXT NOT NULL,
  sender_node   TEXT NOT NULL,
  last_sequence INTEGER NOT NULL,
  PRIMARY KEY (referral_id, sender_node)
) WITHOUT ROWID;
INSERT INTO streams_v16 SELECT referral_id, sender_node, last_sequence FROM streams
  WHERE last_sequence >
    COALESCE((SELECT MAX(e.sequence) FROM events e
              WHERE e.referral_id = streams.referral_id AND e.sender_node = streams.sender_node),
             0);
DROP TABLE streams;
ALTER TABLE streams_v16 RENAME TO streams;
)sql";

// Version 17: one index fewer rewritten by every state change.
// referrals_by_update(updated_at_us) served only the lists without a state
// filter, which now merge one walk of referrals_by_state_recent per state
// (referrals::Query), as lists of several states already did.
constexpr char kSchemaV17[] = R"sql(
DROP INDEX referrals_by_update;
)sql";

// Schema v18: held events counted per sender (kMaxHeldPerSender), and the
// oldest found (Store::HeldBySender), without reading their envelopes.
// Written only when an event is held or released.
constexpr char kSchemaV18[] = R"sql(
CREATE INDEX held_events_by_sender ON held_events(sender_node, held_at_us);
)sql";

// Created after the backfill, which has to UPDATE existing rows.
constexpr char kSchemaV2Triggers[] = R"sql(
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
)sql";

// Computes prev_hash/row_hash for rows written by version 1, in id order,
// and the chain head.
absl::Status BackfillAuditChain(Db& db) {
  // The step-2 columns are there (NULL); the shared decoder reads them.
  ASSIGN_OR_RETURN(Statement select,
                   db.Prepare("SELECT " MIR_CHAINED_EVENT_COLUMNS " FROM events ORDER BY id",
                              "read events for the audit backfill"));
  std::string prev = GenesisHash();
  int64_t last_id = 0;
  int64_t count = 0;
  struct Link {
    int64_t id;
    std::string envelope_sha256, prev, hash;
  };
  std::vector<Link> links;
  while (true) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    StoredEvent stored = StoredEventFrom(select, /*chained=*/true);
    AuditRow& r = stored.row;
    r.envelope_sha256 = Sha256(stored.envelope);
    std::string hash = ChainHash(prev, r);
    if (hash.size() != kHashBytes)
      return absl::InternalError("SHA-256 failed during the audit backfill");
    links.push_back({r.id, r.envelope_sha256, prev, hash});
    prev = std::move(hash);
    last_id = r.id;
    ++count;
  }
  for (const Link& link : links) {
    ASSIGN_OR_RETURN(
        Statement update,
        db.Prepare("UPDATE events SET envelope_sha256 = ?1, prev_hash = ?2, row_hash = ?3 "
                   "WHERE id = ?4",
                   "backfill the audit chain"));
    update.BindBlob(1, link.envelope_sha256)
        .BindBlob(2, link.prev)
        .BindBlob(3, link.hash)
        .BindInt(4, link.id);
    RETURN_IF_ERROR(update.Run());
  }
  if (count > 0) {
    ASSIGN_OR_RETURN(Statement head,
                     db.Prepare("INSERT INTO audit_head (id, last_event_id, last_hash, row_count) "
                                "VALUES (1, ?1, ?2, ?3)",
                                "write the audit chain head"));
    head.BindInt(1, last_id).BindBlob(2, prev).BindInt(3, count);
    RETURN_IF_ERROR(head.Run());
  }
  return absl::OkStatus();
}

struct MigrationStep {
  int version;  // user_version after this step
  const char* sql;
  absl::Status (*after)(Db&, const MigrationContext&);  // may be null
};

absl::Status MigrateToV2(Db& db, const MigrationContext&) {
  RETURN_IF_ERROR(BackfillAuditChain(db));
  return db.Exec(kSchemaV2Triggers, "create the append-only triggers");
}

absl::Status MigrateToV9(Db& db, const MigrationContext& context) {
  static const keys::KeyRing kNoKeys;
  RETURN_IF_ERROR(at_rest::SealStoredEnvelopes(
      db, context.keys != nullptr ? *context.keys : kNoKeys, context.now));
  return db.Exec(kSchemaV2Triggers, "create the append-only triggers again");
}

const std::vector<MigrationStep>& Steps() {
  static const auto* const kSteps = new std::vector<MigrationStep>{
      {1, kSchemaV1, nullptr},   {2, kSchemaV2, &MigrateToV2}, {3, kSchemaV3, nullptr},
      {4, kSchemaV4, nullptr},   {5, kSchemaV5, nullptr},      {6, kSchemaV6, nullptr},
      {7, kSchemaV7, nullptr},   {8, kSchemaV8, nullptr},      {9, kSchemaV9, &MigrateToV9},
      {10, kSchemaV10, nullptr}, {11, kSchemaV11, nullptr},    {12, kSchemaV12, nullptr},
      {13, kSchemaV13, nullptr}, {14, kSchemaV14, nullptr},    {15, kSchemaV15, nullptr},
      {16, kSchemaV16, nullptr}, {17, kSchemaV17, nullptr},    {18, kSchemaV18, nullptr},
  };
  return *kSteps;
}

absl::StatusOr<int> UserVersion(Db& db) {
  ASSIGN_OR_RETURN(std::string text,
                   db.QueryText("PRAGMA user_version", "read the schema version"));
  int version = 0;
  if (!absl::SimpleAtoi(text, &version))
    return absl::InternalError("unreadable PRAGMA user_version");
  return version;
}

absl::Status RefuseNewer(int version) {
  return absl::FailedPreconditionError(absl::StrCat(
      "database schema version ", version, " is newer than this build supports (", kSchemaVersion,
      "); refusing to open it: upgrade mir-exchange or restore a matching backup"));
}

absl::Status RunSteps(Db& db, int from, const MigrationContext& context) {
  for (const MigrationStep& step : Steps()) {
    if (step.version <= from) continue;
    RETURN_IF_ERROR(db.Exec(step.sql, absl::StrCat("apply schema migration ", step.version)));
    if (step.after != nullptr) RETURN_IF_ERROR(step.after(db, context));
  }
  const std::string set_version = absl::StrCat("PRAGMA user_version = ", kSchemaVersion);
  return db.Exec(set_version.c_str(), "set the schema version");
}

}  // namespace

absl::Status CheckSchemaVersion(Db& db) {
  ASSIGN_OR_RETURN(int version, UserVersion(db));
  if (version > kSchemaVersion) return RefuseNewer(version);
  return absl::OkStatus();
}

absl::Status Migrate(Db& db, const MigrationContext& context) {
  ASSIGN_OR_RETURN(int version, UserVersion(db));
  if (version > kSchemaVersion) return RefuseNewer(version);
  if (version == kSchemaVersion) return absl::OkStatus();

  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE", "begin the schema migration"));
  // Another process may have migrated between the read above and the lock.
  absl::StatusOr<int> locked_version = UserVersion(db);
  absl::Status status = locked_version.status();
  if (status.ok() && *locked_version > kSchemaVersion) status = RefuseNewer(*locked_version);
  if (status.ok() && *locked_version < kSchemaVersion)
    status = RunSteps(db, *locked_version, context);
  if (status.ok()) status = db.Exec("COMMIT", "commit the schema migration");
  if (!status.ok()) {
    if (!sqlite3_get_autocommit(db.raw())) {
      (void)db.Exec("ROLLBACK", "roll back the schema migration");
    }
    return status;
  }
  return absl::OkStatus();
}

}  // namespace mir::storage
