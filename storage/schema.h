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
//
// A step is never edited once released; a change is a new step.

#include "absl/status/status.h"
#include "storage/sqlite_util.h"

namespace mir::storage {

// The version this build writes and understands.
inline constexpr int kSchemaVersion = 8;

// Brings the database on `db` to kSchemaVersion, all pending steps in one
// BEGIN IMMEDIATE transaction (a crash leaves the old version intact).
// FAILED_PRECONDITION if the file's user_version is newer than this build.
absl::Status Migrate(Db& db);

// FAILED_PRECONDITION if the file's user_version is newer than this build;
// checked before Open changes anything in the file.
absl::Status CheckSchemaVersion(Db& db);

}  // namespace mir::storage

#endif  // MIR_STORAGE_SCHEMA_H_
