#ifndef MIR_STORAGE_AT_REST_H_
#define MIR_STORAGE_AT_REST_H_

// Internal to storage/: envelopes sealed at rest (docs/STORAGE.md, "Envelopes
// from before version 9"). Envelopes written before schema version 9
// carried personal fields in clear; the version-9 migration seals each one
// stored (referrals.referral_envelope, events.envelope, held_events.envelope,
// outbox.envelope) under a fresh key per referral, kept in referral_keys
// like any referral key, so that erasing the referral destroys them too.
// Envelopes written since are stored as given: their personal fields are
// already sealed under the referral key.
//
// A blob sealed at rest is
//
//   kMagic ("\0MIRAR1") || serialized mir.v1.Sealed
//
// where Sealed = Seal(key, "at-rest", owner, envelope bytes, random nonce)
// and the owner is the referral id (an outbox row about no referral: its own
// name, OutboxOwner). A serialized Envelope never starts with a 0 byte (no
// protobuf field has number 0), so the magic cannot be mistaken for one.
// Storage still never parses an envelope: it looks at the first 7 bytes.
//
// Reads return the original bytes (Reveal) while the key is held, and an
// empty envelope once the owner was erased here.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/sealing.h"
#include "storage/key_custody.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage::at_rest {

inline constexpr absl::string_view kMagic{"\0MIRAR1", 7};
inline constexpr absl::string_view kPurpose = "at-rest";

bool IsSealed(absl::string_view stored);

// The owner of an outbox row's at-rest key: its referral, or for a row
// about none (queued before schema version 4, or not about a referral) a
// key of its own.
std::string OutboxOwner(absl::string_view referral_id, absl::string_view message_id);

// kMagic || Seal(key, kPurpose, owner, envelope, RandomNonce()).
absl::StatusOr<std::string> Seal(const SecretKey& key, absl::string_view owner,
                                 absl::string_view envelope);

// The envelope `stored` holds for `owner`: `stored` itself unless sealed at
// rest; else opened with the owner's key; "" when the owner was erased here
// (the key is gone). DATA_LOSS if it does not parse or open, or if its key
// is missing and no erasure explains it; FAILED_PRECONDITION if the key is
// wrapped under a KEK not configured.
absl::StatusOr<std::string> Reveal(Db& db, const keys::KeyRing& ring, const std::string& owner,
                                   std::string stored);

// Reveal on the envelope fields of records read from the tables.
absl::Status RevealIn(Db& db, const keys::KeyRing& ring, ReferralRecord& record);
absl::Status RevealIn(Db& db, const keys::KeyRing& ring, OutboxEntry& entry);
absl::Status RevealIn(Db& db, const keys::KeyRing& ring, Event& event);

template <typename T>
absl::Status RevealIn(Db& db, const keys::KeyRing& ring, std::vector<T>& records) {
  for (T& r : records) {
    if (absl::Status s = RevealIn(db, ring, r); !s.ok()) return s;
  }
  return absl::OkStatus();
}
template <typename T>
absl::Status RevealIn(Db& db, const keys::KeyRing& ring, std::optional<T>& record) {
  return record.has_value() ? RevealIn(db, ring, *record) : absl::OkStatus();
}

// Schema step 9, inside the migration's transaction: seals every envelope
// stored in the four tables, one fresh key per referral (kept under
// ring.current), and records in held_events.envelope_sha256 the hash of
// each held envelope it seals (the audit chain needs it when the event is
// released, even after an erasure). FAILED_PRECONDITION if there is
// anything to seal and no KEK. Asks for a WAL truncation if it sealed
// anything (the clear pages leave the WAL).
absl::Status SealStoredEnvelopes(Db& db, const keys::KeyRing& ring, absl::Time now);

}  // namespace mir::storage::at_rest

#endif  // MIR_STORAGE_AT_REST_H_
