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

// The envelope of the events row appended last in one transaction (schema
// v15): the next event carried by the same envelope (the answers of one
// RECEIVED_ANSWERS, PROTOCOL.md §10.8) names that row instead of keeping
// the bytes again. Forget() when a savepoint that may hold the row is
// rolled back.
class SharedEnvelope {
 public:
  // The row holding `envelope`, if it is the one remembered.
  std::optional<int64_t> RowFor(const std::string& envelope) const {
    if (row_ == 0 || envelope != envelope_) return std::nullopt;
    return row_;
  }
  // The SHA-256 of the envelope remembered: hashed once, however many
  // events of a batch name it.
  const std::string& sha256();
  void Remember(const std::string& envelope, int64_t row) {
    envelope_ = envelope;
    sha256_.clear();
    row_ = row;
  }
  void Forget() {
    envelope_.clear();
    sha256_.clear();
    row_ = 0;
  }
  // The row remembered, 0 if none: a savepoint that fails after this
  // changed must Forget() (the row may be rolled back); one that left it
  // alone need not.
  int64_t row() const { return row_; }

 private:
  std::string envelope_;
  std::string sha256_;  // empty until asked for
  int64_t row_ = 0;
};

// Txn::ApplyEvent: in sequence, checks the lifecycle, appends to the chain,
// updates the projection and releases held successors; early, holds it.
// Atomic (a savepoint). `national_node` as in StoreOptions. A released
// event held since before schema version 9 is appended as it was sealed at
// rest and returned opened with its key from `ring` (at_rest.h). With
// `shared`, an event whose envelope is the last one stored names its row.
absl::StatusOr<ApplyResult> ApplyEvent(Db& db, const Clock& clock, const std::string& national_node,
                                       const keys::KeyRing& ring, const Event& event,
                                       SharedEnvelope* shared = nullptr);
// Records an event refused while applying several carried by one envelope
// (PROTOCOL.md §10.8) in dropped_events, as a released event the lifecycle
// refuses is.
absl::Status RecordDropped(Db& db, absl::Time now, const Event& event, const absl::Status& why);

absl::StatusOr<std::optional<ReferralRecord>> ReadReferral(Db& db, const std::string& referral_id);
// How many events a sender has held, in all and on one referral (?1
// referral_id, ?2 sender_node): the hold's bounds (kMaxHeldPerSender,
// kMaxHeldPerStream).
inline constexpr char kHeldCountSql[] =
    "SELECT COUNT(*), COALESCE(SUM(referral_id = ?1), 0) FROM held_events WHERE sender_node = ?2";
// Store::HeldBySender; kHeldBySenderSql is its query (tests pin its plan to
// the index by sender).
inline constexpr char kHeldBySenderSql[] =
    "SELECT sender_node, COUNT(*), MIN(held_at_us) FROM held_events GROUP BY sender_node "
    "ORDER BY sender_node";
absl::StatusOr<std::vector<HeldFromSender>> HeldBySender(Db& db);
// The last sequence consumed on (referral_id, node): 0 if none. The larger
// of its last applied event's and its `streams` row's, if any.
// kLastSequenceSql is its query (?1 referral_id, ?2 node), run on every
// event applied: tests pin its plan to the two keys.
inline constexpr char kLastSequenceSql[] =
    "SELECT MAX(COALESCE((SELECT MAX(sequence) FROM events "
    "WHERE referral_id = ?1 AND sender_node = ?2), 0), "
    "COALESCE((SELECT last_sequence FROM streams "
    "WHERE referral_id = ?1 AND sender_node = ?2), 0))";
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
