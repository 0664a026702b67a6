#include "storage/write_queue.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <utility>

#include "common/errors.h"
#include "common/status_macros.h"

namespace mir::storage {
namespace {

absl::Status InGroupSavepoint(Db& db, absl::FunctionRef<absl::Status(Db&)> fn) {
  RETURN_IF_ERROR(db.RunCached("SAVEPOINT mir_write", "open a write savepoint"));
  absl::Status status = fn(db);
  if (!status.ok()) (void)db.RunCached("ROLLBACK TO mir_write", "roll back a write");
  absl::Status released = db.RunCached("RELEASE mir_write", "release a write savepoint");
  return status.ok() ? released : status;
}

// One key per file however it was named (relative, through a symlink).
std::string FileKey(const std::string& path) {
  std::error_code error;
  std::filesystem::path canonical = std::filesystem::weakly_canonical(path, error);
  return error ? path : canonical.string();
}

absl::Mutex observers_mu(absl::kConstInit);
std::map<std::string, CommitObserver>& Observers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(observers_mu) {
  static auto* observers = new std::map<std::string, CommitObserver>();
  return *observers;
}

CommitObserver ObserverFor(sqlite3* db) {
  const char* file = sqlite3_db_filename(db, "main");
  if (file == nullptr || *file == '\0') return nullptr;
  const std::string key = FileKey(file);
  absl::MutexLock lock(&observers_mu);
  auto it = Observers().find(key);
  return it == Observers().end() ? nullptr : it->second;
}

}  // namespace

void SetCommitObserver(const std::string& path, CommitObserver observer) {
  const std::string key = FileKey(path);
  absl::MutexLock lock(&observers_mu);
  if (observer) {
    Observers()[key] = std::move(observer);
  } else {
    Observers().erase(key);
  }
}

absl::Status FailStoppedError() {
  return MirError(absl::StatusCode::kUnavailable, v1::STORE_UNAVAILABLE,
                  "store is fail-stopped after a failed write, sync or commit; it refuses writes "
                  "until it is reopened (restart the node)");
}

WriteQueue::WriteQueue(std::unique_ptr<Db> writer)
    : observer_(ObserverFor(writer->raw())), writer_(std::move(writer)) {
  sqlite3_wal_hook(writer_->raw(), &WriteQueue::WalHook, this);
}

WriteQueue::~WriteQueue() {
  absl::MutexLock lock(&write_mu_);
  if (failed_.load() && writer_ != nullptr) {
    sqlite3_db_config(writer_->raw(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  }
  writer_.reset();
}

int WriteQueue::WalHook(void* self, sqlite3*, const char*, int pages) {
  // Called inside a COMMIT on the writer connection, which is only ever used
  // with write_mu_ held (writer_ is guarded by it). The assertion tells
  // clang's thread-safety analysis, which cannot follow SQLite's callback,
  // and aborts should that ever stop being true.
  WriteQueue* queue = static_cast<WriteQueue*>(self);
  queue->write_mu_.AssertHeld();
  queue->wal_pages_ = pages;
  return SQLITE_OK;
}

absl::Status WriteQueue::WithWriter(absl::FunctionRef<absl::Status(Db&)> fn) {
  absl::MutexLock lock(&write_mu_);
  Db& db = *writer_;
  const absl::Status status = fn(db);
  const bool truncate = db.TakeWalTruncateRequest();
  if (status.ok() && truncate && !failed_.load()) TruncateWal(db);
  return status;
}

absl::Status WriteQueue::Run(absl::FunctionRef<absl::Status(Db&)> fn, Sync sync) {
  PendingWrite self{fn, sync, absl::OkStatus(), false};
  queue_mu_.Lock();
  writers_.push_back(&self);
  auto my_turn = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
    return self.done || writers_.front() == &self;
  };
  queue_mu_.Await(absl::Condition(&my_turn));
  if (self.done) {  // a leader ran it with its group
    queue_mu_.Unlock();
    return self.status;
  }
  std::vector<PendingWrite*> group;
  for (PendingWrite* w : writers_) {
    if (group.size() == kMaxGroupedWrites) break;
    group.push_back(w);
  }
  queue_mu_.Unlock();

  RunGroup(group);

  queue_mu_.Lock();
  for (PendingWrite* w : group) {
    writers_.pop_front();
    w->done = true;
  }
  const absl::Status status = self.status;
  queue_mu_.Unlock();
  return status;
}

void WriteQueue::RunGroup(const std::vector<PendingWrite*>& group) {
  absl::MutexLock lock(&write_mu_);
  if (failed_.load()) {
    FailAll(group, FailStoppedError());
    return;
  }
  Db& db = *writer_;
  const bool deferred = std::all_of(
      group.begin(), group.end(), [](const PendingWrite* w) { return w->sync == Sync::kDeferred; });
  if (deferred) {
    if (absl::Status s = db.Exec("PRAGMA synchronous = NORMAL", "defer the sync"); !s.ok()) {
      FailAll(group, s);
      return;
    }
  }
  const bool committed = RunGroupIn(db, group);
  // Asked for by a write that was rolled back, it is simply dropped.
  const bool truncate = db.TakeWalTruncateRequest();
  if (deferred) {
    // Every later commit must sync again: if that cannot be promised, stop.
    if (!db.Exec("PRAGMA synchronous = FULL", "restore synchronous commits").ok()) FailStop();
  }
  if (committed) AfterCommit(db, truncate);
}

bool WriteQueue::RunGroupIn(Db& db, const std::vector<PendingWrite*>& group) {
  db.ClearStorageError();
  if (absl::Status begin = db.Exec("BEGIN IMMEDIATE", "begin write transaction"); !begin.ok()) {
    if (IsFatalSqliteCode(db.storage_error())) FailStop();
    (void)Rollback(db);
    return FailAll(group, begin);
  }

  bool any_ok = false;
  for (PendingWrite* w : group) {
    w->status = group.size() == 1 ? w->fn(db) : InGroupSavepoint(db, w->fn);
    // A statement that hit the disk poisons the whole transaction,
    // whatever `fn` made of its status.
    if (db.storage_error() != SQLITE_OK) break;
    any_ok = any_ok || w->status.ok();
  }
  if (const int rc = db.storage_error(); rc != SQLITE_OK) {
    (void)Rollback(db);
    if (IsFatalSqliteCode(rc)) {
      FailStop();
      return FailAll(group, SqliteStatus(rc, nullptr,
                                         "write transaction failed and was rolled back; the "
                                         "store is fail-stopped until reopened"));
    }
    return FailAll(group, SqliteStatus(rc, nullptr,
                                       "write transaction failed and was rolled back; "
                                       "nothing was changed"));
  }
  if (!any_ok) {
    (void)Rollback(db);
    return false;
  }

  // A monotonic duration for the metrics only, never a decision: not the Clock.
  const auto commit_start = std::chrono::steady_clock::now();
  const int rc = sqlite3_exec(db.raw(), "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    // Whether the commit reached the disk is unknown: stop, and let the
    // next open's recovery decide from what is on disk.
    FailStop();
    (void)Rollback(db);
    const absl::Status failed =
        SqliteStatus(rc, nullptr,
                     "commit failed; the transaction is not acknowledged and the store is "
                     "fail-stopped until reopened");
    for (PendingWrite* w : group) {
      if (w->status.ok()) w->status = failed;
    }
    return false;
  }
  if (observer_) {
    const bool synced = std::any_of(group.begin(), group.end(),
                                    [](const PendingWrite* w) { return w->sync == Sync::kFull; });
    observer_(absl::FromChrono(std::chrono::steady_clock::now() - commit_start), synced);
  }
  return true;
}

absl::Status WriteQueue::Rollback(Db& db) {
  if (sqlite3_get_autocommit(db.raw())) return absl::OkStatus();  // SQLite already rolled back
  absl::Status s = db.Exec("ROLLBACK", "roll back");
  if (!s.ok()) FailStop();
  return s;
}

void WriteQueue::AfterCommit(Db& db, bool truncate) {
  if (truncate) {
    TruncateWal(db);
  } else if (truncate_owed_ && wal_pages_ >= kCheckpointPages) {
    // In place of the periodic checkpoint: a retry does not make every
    // commit wait for a reader.
    TruncateWal(db);
  } else {
    MaybeCheckpoint(db);
  }
}

void WriteQueue::TruncateWal(Db& db) {
  const int rc =
      sqlite3_wal_checkpoint_v2(db.raw(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc == SQLITE_OK) {
    truncate_owed_ = false;
    wal_pages_ = 0;
    return;
  }
  truncate_owed_ = true;
  // As for the periodic checkpoint: the database file's state is unknown
  // after a failed sync. SQLITE_BUSY (a reader still on the WAL) is not.
  if (IsFatalSqliteCode(rc) || (rc & 0xff) == SQLITE_FULL) FailStop();
}

void WriteQueue::MaybeCheckpoint(Db& db) {
  if (wal_pages_ < kCheckpointPages) return;
  wal_pages_ = 0;
  const int rc =
      sqlite3_wal_checkpoint_v2(db.raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  // The commit is durable in the WAL either way; a failed checkpoint sync
  // means the database file's state is unknown, so stop writing.
  if (IsFatalSqliteCode(rc) || (rc & 0xff) == SQLITE_FULL) FailStop();
}

bool WriteQueue::FailAll(const std::vector<PendingWrite*>& group, const absl::Status& status) {
  for (PendingWrite* w : group) w->status = status;
  return false;
}

}  // namespace mir::storage
