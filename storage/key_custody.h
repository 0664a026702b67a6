#ifndef MIR_STORAGE_KEY_CUSTODY_H_
#define MIR_STORAGE_KEY_CUSTODY_H_

// Internal to storage/: the referral keys this node keeps, wrapped under its
// key-encryption key (KEK), and what erases them (docs/STORAGE.md, "Key
// custody and erasure"). Tables referral_keys, erasures, legal_holds,
// erasure_answers. Each function runs on the caller's connection and
// transaction; the Store picks the connection.
//
// A key is kept under an "owner": a referral id, or for an outbox envelope
// about no referral that the version-9 migration sealed at rest, its own
// name (at_rest::OutboxOwner). Erasing a referral destroys every key it owns.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/sealing.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage::keys {

// The node's KEKs (not owned): `current` wraps every key stored; each of
// them unwraps what it wrapped. `current` is null when none is configured.
struct KeyRing {
  const KeyEncryptionKey* current = nullptr;
  std::vector<const KeyEncryptionKey*> previous;

  // The KEK whose id() is `kek_id`, or null.
  const KeyEncryptionKey* Find(absl::string_view kek_id) const;
};

// Txn::PutReferralKey: INVALID_ARGUMENT for an id of 0 or more than 128
// bytes or a key that is not 32 bytes; FAILED_PRECONDITION without a KEK,
// and with reason ERASED when `referral_id` was erased here.
absl::Status Put(Db& db, const KeyRing& ring, absl::Time now, const std::string& referral_id,
                 const SecretKey& key);
// Keeps `key` for `owner` without Put's checks: the migration's at-rest keys.
absl::Status Keep(Db& db, const KeyRing& ring, absl::Time now, const std::string& owner,
                  const SecretKey& key);
// The key `key_id` of `owner`, unwrapped; nullopt if not held here.
// FAILED_PRECONDITION naming the KEK when the row's KEK is not in `ring`;
// DATA_LOSS (SEALED_TAMPERED) when it does not unwrap.
absl::StatusOr<std::optional<SecretKey>> Get(Db& db, const KeyRing& ring, const std::string& owner,
                                             const std::string& key_id);

absl::StatusOr<std::optional<ErasureRecord>> FindErasure(Db& db, const std::string& referral_id);
absl::StatusOr<std::optional<LegalHoldRecord>> FindLegalHold(Db& db,
                                                             const std::string& referral_id);
// In arrival order.
absl::StatusOr<std::vector<ErasureAnswerRecord>> Answers(Db& db, const std::string& referral_id);

// Txn::EraseReferral: OK at once if already erased (the first record
// stays); FAILED_PRECONDITION LEGAL_HOLD under a hold; else deletes every
// key `referral_id` owns, records the erasure, and asks the write queue to
// truncate the WAL after the commit (Db::RequestWalTruncate).
absl::Status Erase(Db& db, const std::string& referral_id, const ErasureRecord& record);
// Txn::SetLegalHold: sets (replacing a hold already there) or lifts.
absl::Status SetLegalHold(Db& db, const std::string& referral_id,
                          const std::optional<LegalHoldRecord>& hold);
// Txn::RecordErasureAnswer: a node's later answer replaces its earlier one,
// in its place.
absl::Status RecordAnswer(Db& db, const std::string& referral_id,
                          const ErasureAnswerRecord& answer);

// Store::DueForErasure: INVALID_ARGUMENT unless `state` is terminal. Oldest
// first; by the partial index referrals_retention.
absl::StatusOr<std::vector<std::string>> DueForErasure(Db& db, v1::ReferralState state,
                                                       absl::Time reached_by, int limit);

// KEK rotation, at Open, inside the caller's write transaction: every key
// wrapped under a previous KEK is unwrapped and wrapped again under
// `ring.current`. FAILED_PRECONDITION (changing nothing) if a key is wrapped
// under a KEK that `ring` lacks, or keys exist and no KEK is configured.
// Returns how many keys were rewrapped; if any, asks for a WAL truncation
// (the old wrapping leaves the files).
absl::StatusOr<int> RewrapUnderCurrent(Db& db, const KeyRing& ring);

}  // namespace mir::storage::keys

#endif  // MIR_STORAGE_KEY_CUSTODY_H_
