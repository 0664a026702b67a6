#ifndef MIR_STORAGE_OUTBOX_H_
#define MIR_STORAGE_OUTBOX_H_

// Internal to storage/: the outbox table (docs/STORAGE.md, "Outbox"). Each
// function runs on the caller's connection and transaction; the Store picks
// the connection (reads: the reader; writes: the write queue) and the sync.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/inbox.h"
#include "storage/key_custody.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage::outbox {

// Txn::Enqueue: a pending entry due at `now`. `ring` opens an entry of the
// same id sealed at rest, to compare its bytes. `holder`: an events row the
// transaction knows holds these very bytes (an envelope of several events,
// whose message id is none of theirs); otherwise one of the referral's
// events of the same message id is looked for. A row found is named instead
// of keeping the bytes again.
absl::Status Enqueue(Db& db, const keys::KeyRing& ring, absl::Time now,
                     const OutgoingEnvelope& envelope, std::optional<int64_t> holder);

// The reads return envelopes as stored: at_rest::RevealIn opens those
// sealed at rest.
absl::StatusOr<std::optional<OutboxEntry>> Find(Db& db, const std::string& message_id);
// The receipt of the newest entry delivered to `peer` among the last 10,000 queued, if any.
absl::StatusOr<std::optional<std::string>> NewestReceipt(Db& db, const std::string& peer);
absl::StatusOr<std::vector<OutboxEntry>> Due(Db& db, const std::string& peer, absl::Time now,
                                             int limit);
absl::StatusOr<std::optional<absl::Time>> NextDue(Db& db, const std::string& peer,
                                                  absl::Time after);
absl::StatusOr<std::vector<OutboxEntry>> List(Db& db, std::optional<OutboxState> state, int limit);
absl::StatusOr<std::vector<OutboxEntry>> OfReferral(Db& db, const std::string& referral_id);

// Writes; the counting ones return how many rows changed.
absl::Status MarkDelivered(Db& db, SharedReceipts& receipts, int64_t id,
                           const std::string& receipt);
absl::Status MarkAttemptFailed(Db& db, int64_t id, absl::Time next_attempt_at,
                               const std::string& error);
absl::Status MarkDead(Db& db, int64_t id, const std::string& error);
absl::Status MarkReplaced(Db& db, int64_t id, const std::string& reason);
absl::StatusOr<int> MarkDeadEnqueuedBy(Db& db, const std::string& peer, absl::Time enqueued_by,
                                       const std::string& error);
absl::StatusOr<int> MakeDueNow(Db& db, const std::string& peer, absl::Time now);
absl::StatusOr<int> Requeue(Db& db, int64_t id, absl::Time now);
absl::StatusOr<int> RequeueAllDead(Db& db, absl::Time now);

}  // namespace mir::storage::outbox

#endif  // MIR_STORAGE_OUTBOX_H_
