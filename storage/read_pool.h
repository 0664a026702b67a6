#ifndef MIR_STORAGE_READ_POOL_H_
#define MIR_STORAGE_READ_POOL_H_

// Internal to storage/: the store's read connections. Reads run on the
// caller's thread, each on a query_only connection of its own, so that
// handlers reading at once (an inbox lookup, the sender's due list, a list
// for an operator) do not queue behind one another; a caller waits only
// when every connection is busy. In WAL mode readers never wait for the
// writer, and each sees the last commit when its read begins.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/sqlite_util.h"

namespace mir::storage {

class ReadPool {
 public:
  // Opens `size` (at least 1) query_only connections to `path`.
  static absl::StatusOr<std::unique_ptr<ReadPool>> Open(const std::string& path,
                                                        const std::string& vfs_name,
                                                        absl::Duration busy_timeout, int size);
  // Waits for every read to return.
  ~ReadPool();
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  // Runs `fn(Db&)` on a free connection, waiting for one if none is.
  template <typename F>
  auto With(F fn) -> decltype(fn(std::declval<Db&>())) {
    Db* db = Take();
    struct Giveback {
      ReadPool* pool;
      Db* db;
      ~Giveback() { pool->Give(db); }
    } giveback{this, db};
    return fn(*db);
  }

  // After a fail-stop: close without the close-time checkpoint (the disk
  // already lost a sync; the next open replays the WAL).
  void SkipCheckpointOnClose();

 private:
  explicit ReadPool(std::vector<std::unique_ptr<Db>> connections);
  Db* Take();
  void Give(Db* db);
  bool HasIdle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !idle_.empty(); }
  bool AllIdle() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return idle_.size() == connections_.size();
  }

  const std::vector<std::unique_ptr<Db>> connections_;
  absl::Mutex mu_;
  std::vector<Db*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mir::storage

#endif  // MIR_STORAGE_READ_POOL_H_
