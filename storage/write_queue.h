#ifndef MIR_STORAGE_WRITE_QUEUE_H_
#define MIR_STORAGE_WRITE_QUEUE_H_

// Internal to storage/: the one write path, shaped like leveldb's
// DBImpl::Write. Writers queue; the one at the front leads and runs the
// queued writes (up to kMaxGroupedWrites) in one SQLite transaction, each in
// its own savepoint, paying one COMMIT and one fsync for all of them. Every
// writer returns only after the COMMIT that holds its write, with its own
// status. A failed commit or sync is sticky (fail-stop): every later write
// gets UNAVAILABLE until the store is reopened (docs/STORAGE.md, "Errors
// and fail-stop"). Thread-safe.

#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage {

class WriteQueue {
 public:
  // kDeferred: a write that only records what the node can learn again (a
  // peer's receipt, which a resend gets back; retry times) commits without
  // its own fsync. The next synced commit or checkpoint syncs the WAL it is
  // in; a power loss before that loses it, and the envelope is resent.
  enum class Sync { kFull, kDeferred };

  static constexpr size_t kMaxGroupedWrites = 128;
  // Checkpoint (copy the WAL into the database file) once the WAL holds this
  // many pages. SQLite's automatic checkpoint is replaced (a WAL hook) so
  // that a failed checkpoint sync is seen and fail-stops the store.
  //
  // A write that asked for it (Db::RequestWalTruncate: an erasure, a KEK
  // rotation, the migration that seals old envelopes) is followed, once
  // committed, by a TRUNCATE checkpoint: every page goes into the database
  // file and the WAL is cut to 0 bytes, so the older page images that still
  // held the destroyed bytes leave the files (secure_delete has zeroed them
  // in the new images). It waits for readers up to the busy timeout; if one
  // still uses the WAL, the truncation is retried in place of the next
  // periodic checkpoint (and closing the store removes the WAL anyway). The
  // write is acknowledged either way: its commit is durable.
  static constexpr int kCheckpointPages = 1000;

  // Takes the write connection, its pragmas already set.
  explicit WriteQueue(std::unique_ptr<Db> writer);
  // After a fail-stop, closes without the close-time checkpoint: the disk
  // already lost a sync; the next open replays the WAL.
  ~WriteQueue();

  // Runs `fn` as one write: BEGIN IMMEDIATE (shared with the writes grouped
  // with it), fn, COMMIT. Rolled back if `fn` fails or any statement hit the
  // disk, whatever `fn` returned. OK only once the COMMIT is durable (or,
  // with kDeferred, in the WAL).
  absl::Status Run(absl::FunctionRef<absl::Status(Db&)> fn, Sync sync = Sync::kFull);

  // `fn` on the write connection under the write lock, outside any queue or
  // transaction: the schema migration at open, test diagnostics. Honours a
  // WAL truncation `fn` asked for (Db::RequestWalTruncate) if it returns OK.
  absl::Status WithWriter(absl::FunctionRef<absl::Status(Db&)> fn);

  bool failed() const { return failed_.load(); }
  // Sticky; also called by the reader on an I/O error or corruption.
  void FailStop() { failed_.store(true); }

 private:
  struct PendingWrite {
    absl::FunctionRef<absl::Status(Db&)> fn;
    Sync sync;
    absl::Status status;
    bool done = false;
  };

  static int WalHook(void* self, sqlite3*, const char*, int pages);
  // Gives every write of the group `status`; false (nothing committed).
  static bool FailAll(const std::vector<PendingWrite*>& group, const absl::Status& status);

  void RunGroup(const std::vector<PendingWrite*>& group);
  bool RunGroupIn(Db& db, const std::vector<PendingWrite*>& group)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::Status Rollback(Db& db) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  // After a commit: the truncation asked for (or still owed), else the
  // periodic checkpoint.
  void AfterCommit(Db& db, bool truncate) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  void MaybeCheckpoint(Db& db) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  void TruncateWal(Db& db) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  std::atomic<bool> failed_{false};
  // SetCommitObserver's for this database file when the queue was made.
  const CommitObserver observer_;

  absl::Mutex queue_mu_;
  std::deque<PendingWrite*> writers_ ABSL_GUARDED_BY(queue_mu_);

  absl::Mutex write_mu_;
  std::unique_ptr<Db> writer_ ABSL_GUARDED_BY(write_mu_);
  int wal_pages_ ABSL_GUARDED_BY(write_mu_) = 0;
  // A truncation was asked for and could not finish (a reader held the WAL).
  bool truncate_owed_ ABSL_GUARDED_BY(write_mu_) = false;
};

// The status every write gets once the store is fail-stopped.
absl::Status FailStoppedError();

}  // namespace mir::storage

#endif  // MIR_STORAGE_WRITE_QUEUE_H_
