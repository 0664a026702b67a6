#ifndef MIR_TESTS_STORAGE_V1_SCHEMA_H_
#define MIR_TESTS_STORAGE_V1_SCHEMA_H_

// Shared by the migration tests (migration_test.cc, reliability_migration_test.cc).

namespace mir::storage::testing {

// Version 1 as a node running the first release would have written it,
// typed out here rather than taken from storage/schema.cc.
inline constexpr char kV1Schema[] = R"sql(
CREATE TABLE referrals (referral_id TEXT PRIMARY KEY NOT NULL, origin_node TEXT NOT NULL,
  destination_node TEXT NOT NULL, urgency INTEGER NOT NULL, ack_deadline_us INTEGER,
  state INTEGER NOT NULL, created_at_us INTEGER NOT NULL, updated_at_us INTEGER NOT NULL,
  referral_envelope BLOB NOT NULL);
CREATE INDEX referrals_by_update ON referrals(updated_at_us);
CREATE TABLE events (id INTEGER PRIMARY KEY,
  referral_id TEXT NOT NULL REFERENCES referrals(referral_id),
  sender_node TEXT NOT NULL, sequence INTEGER NOT NULL, message_id TEXT NOT NULL,
  to_state INTEGER NOT NULL,
  actor_node TEXT NOT NULL, actor_role TEXT NOT NULL, actor_name TEXT NOT NULL,
  at_us INTEGER NOT NULL,
  reason TEXT NOT NULL, envelope BLOB NOT NULL, origin_node TEXT, destination_node TEXT,
  urgency INTEGER,
  ack_deadline_us INTEGER, applied_at_us INTEGER NOT NULL, UNIQUE (referral_id, sender_node,
  sequence));
CREATE INDEX events_by_message ON events(message_id);
CREATE TABLE streams (referral_id TEXT NOT NULL, sender_node TEXT NOT NULL,
  last_sequence INTEGER NOT NULL,
  PRIMARY KEY (referral_id, sender_node)) WITHOUT ROWID;
CREATE TABLE held_events (referral_id TEXT NOT NULL, sender_node TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  message_id TEXT NOT NULL, to_state INTEGER NOT NULL, actor_node TEXT NOT NULL,
  actor_role TEXT NOT NULL,
  actor_name TEXT NOT NULL, at_us INTEGER NOT NULL, reason TEXT NOT NULL, envelope BLOB NOT NULL,
  origin_node TEXT, destination_node TEXT, urgency INTEGER, ack_deadline_us INTEGER,
  held_at_us INTEGER NOT NULL, PRIMARY KEY (referral_id, sender_node, sequence)) WITHOUT ROWID;
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE,
  peer TEXT NOT NULL, envelope BLOB NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  enqueued_at_us INTEGER NOT NULL, next_attempt_at_us INTEGER NOT NULL,
  state INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '', receipt BLOB);
CREATE INDEX outbox_pending ON outbox(peer, id, next_attempt_at_us) WHERE state = 0;
CREATE INDEX outbox_by_state ON outbox(state, id);
CREATE TABLE inbox (message_id TEXT PRIMARY KEY NOT NULL, sender_node TEXT NOT NULL,
  envelope_sha256 BLOB NOT NULL, receipt BLOB NOT NULL,
  received_at_us INTEGER NOT NULL) WITHOUT ROWID;
)sql";

}  // namespace mir::storage::testing

#endif  // MIR_TESTS_STORAGE_V1_SCHEMA_H_
