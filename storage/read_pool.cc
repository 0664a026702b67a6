#include "storage/read_pool.h"

#include <sqlite3.h>

#include "common/status_macros.h"

namespace mir::storage {

absl::StatusOr<std::unique_ptr<ReadPool>> ReadPool::Open(const std::string& path,
                                                         const std::string& vfs_name,
                                                         absl::Duration busy_timeout, int size) {
  if (size < 1) return absl::InvalidArgumentError("a store needs at least one read connection");
  std::vector<std::unique_ptr<Db>> connections;
  for (int i = 0; i < size; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<Db> db,
                     Db::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs_name));
    sqlite3_busy_timeout(db->raw(), static_cast<int>(absl::ToInt64Milliseconds(busy_timeout)));
    RETURN_IF_ERROR(db->Exec("PRAGMA query_only = ON", "make a read connection read-only"));
    connections.push_back(std::move(db));
  }
  return std::unique_ptr<ReadPool>(new ReadPool(std::move(connections)));
}

ReadPool::ReadPool(std::vector<std::unique_ptr<Db>> connections)
    : connections_(std::move(connections)) {
  absl::MutexLock lock(&mu_);
  for (const std::unique_ptr<Db>& db : connections_) idle_.push_back(db.get());
}

ReadPool::~ReadPool() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &ReadPool::AllIdle));
}

void ReadPool::SkipCheckpointOnClose() {
  for (const std::unique_ptr<Db>& db : connections_) {
    sqlite3_db_config(db->raw(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  }
}

Db* ReadPool::Take() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(this, &ReadPool::HasIdle));
  Db* db = idle_.back();
  idle_.pop_back();
  return db;
}

void ReadPool::Give(Db* db) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(db);
}

}  // namespace mir::storage
