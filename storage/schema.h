#ifndef MIR_STORAGE_SCHEMA_H_
#define MIR_STORAGE_SCHEMA_H_

// The database schema as a list of migration steps, versioned by
// PRAGMA user_version (docs/STORAGE.md, "Schema and migrations").
//
//   version 1  referrals, events, streams, held_events, outbox, inbox
//   version 2  the audit hash chain: events.envelope_sha256/prev_hash/
//              row_hash (backfilled
//              for existing rows), audit_head, append-only triggers on
//              events, dropped_events
//   version 3  partner_access; referrals_by_state
//   version 4  outbox.referral_id
//   version 5  referrals_by_state_recent(state, updated_at_us DESC,
//              referral_id) replaces referrals_by_state: filtered lists
//   version 6  events_by_message and outbox_by_state dropped, outbox_dead
//              (dead letters by id): fewer pages written per commit
//   version 7  outbox.urgency; outbox_due replaces outbox_pending
//   version 8  referrals_awaiting_ack: partial index of the emergencies
//              the deadline watcher reads
//   version 9  key custody and erasure: referral_keys, erasures,
//              legal_holds, erasure_answers; referrals.erased_at_us and the
//              partial index referrals_retention; held_events.envelope_sha256;
//              every envelope already stored sealed at rest (at_rest.h)
//   version 10 receipts: a receipt covering several envelopes (a batch,
//              PROTOCOL.md §6.2.1) stored once, by its SHA-256, and
//              referenced from inbox and outbox (receipt_sha256); a
//              one-entry receipt stays inline in its row
//   version 11 citizen reports: reports (unique receipt_code where set,
//              reports_recent for listing), report_contacts (the sealed
//              contact, apart), report_events (append-only triggers)
//   version 12 service requests: service_requests (service_requests_recent
//              for listing), service_request_events (append-only
//              triggers), roster (this node's, by opaque code)
//   version 13 between nodes: service_requests.placed_from and placed_with;
//              statistics_reports (the national node's monthly reports,
//              one per node and month)
//   version 14 each envelope stored once: referrals.envelope_event_id and
//              outbox.envelope_event_id name the events row holding it;
//              the outbox without AUTOINCREMENT
//   version 15 events.envelope_event_id: the answers of one
//              RECEIVED_ANSWERS (PROTOCOL.md §10.8) share its envelope
//   version 16 streams keeps only the positions the events key cannot show
//              (a join's starting point, a last number dropped): one B-tree
//              fewer written per event; the rows it implies are deleted
//   version 17 referrals_by_update dropped: a list without a state filter
//              merges one walk of referrals_by_state_recent per state
//   version 18 held_events_by_sender(sender_node, held_at_us): held events
//              counted per sender (kMaxHeldPerSender), the oldest found
//
// A step is never edited once released; a change is a new step.

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "storage/key_custody.h"
#include "storage/sqlite_util.h"

namespace mir::storage {

// The version this build writes and understands.
inline constexpr int kSchemaVersion = 18;

// What the steps need besides the file.
struct MigrationContext {
  // Version 9 keeps the keys it seals old envelopes with under
  // `keys->current`; without one it refuses a file holding envelopes.
  const keys::KeyRing* keys = nullptr;
  absl::Time now;  // stored_at of those keys
};

// Brings the database on `db` to kSchemaVersion, all pending steps in one
// BEGIN IMMEDIATE transaction (a crash leaves the old version intact).
// FAILED_PRECONDITION if the file's user_version is newer than this build,
// or if version 9 has envelopes to seal and no KEK (nothing changed).
absl::Status Migrate(Db& db, const MigrationContext& context);

// FAILED_PRECONDITION if the file's user_version is newer than this build;
// checked before Open changes anything in the file.
absl::Status CheckSchemaVersion(Db& db);

}  // namespace mir::storage

#endif  // MIR_STORAGE_SCHEMA_H_
