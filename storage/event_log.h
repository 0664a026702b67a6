#ifndef MIR_STORAGE_EVENT_LOG_H_
#define MIR_STORAGE_EVENT_LOG_H_

// Internal to storage/: the event log and the projection folded from it
// (docs/STORAGE.md, "Sequence, hold and release"). Every function runs on
// the caller's connection, inside the caller's transaction.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "storage/key_custody.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage {

// Txn::ApplyEvent: in sequence, checks the lifecycle, appends to the chain,
// updates the projection and releases held successors; early, holds it.
// Atomic (a savepoint). `national_node` as in StoreOptions. A released
// event held since before schema version 9 is appended as it was sealed at
// rest and returned opened with its key from `ring` (at_rest.h).
absl::StatusOr<ApplyResult> ApplyEvent(Db& db, const Clock& clock, const std::string& national_node,
                                       const keys::KeyRing& ring, const Event& event);

absl::StatusOr<std::optional<ReferralRecord>> ReadReferral(Db& db, const std::string& referral_id);
// The last sequence consumed on (referral_id, node): 0 if none.
absl::StatusOr<uint64_t> LastSequence(Db& db, const std::string& referral_id,
                                      const std::string& node);
absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> StreamPositions(
    Db& db, const std::string& referral_id);
// Applied events of one referral, in application order, envelopes as
// stored (at_rest::RevealIn opens those sealed at rest).
absl::StatusOr<std::vector<Event>> ReadTimeline(Db& db, const std::string& referral_id);

absl::Status GrantPartnerAccess(Db& db, absl::Time now, const std::string& referral_id,
                                const std::string& partner);

}  // namespace mir::storage

#endif  // MIR_STORAGE_EVENT_LOG_H_
