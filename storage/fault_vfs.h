#ifndef MIR_STORAGE_FAULT_VFS_H_
#define MIR_STORAGE_FAULT_VFS_H_

// A SQLite VFS wrapping "unix" that can fail writes and/or syncs after N
// operations: our version of leveldb's fault-injection Env. Open a Store with
// StoreOptions::vfs_name = FaultVfs::Get(name)->name() and arm a fault.
//
// Only the main database, its WAL and its rollback journal are counted and
// failed; temporary files pass through. Counting starts when a fault is
// armed: FailWritesAfter(3, ...) lets 3 more writes through and fails the
// 4th and (if `sticky`) every later one, like a disk that stays broken.
//
// Power loss, as leveldb's db/fault_injection_test.cc models it: with
// TrackUnsyncedWrites(true), the VFS remembers what each counted file held
// at its last successful sync. SimulateCrash() then stands for the process
// dying (every later write, truncate, sync or delete through the VFS is
// dropped, so closing the store changes nothing on disk), and, once every
// connection is closed, DropUnsyncedWrites() puts each file back as it was
// at its last sync: every byte written since is lost.
//
// A VFS, once registered with SQLite, must outlive every connection using it,
// so FaultVfs objects are never destroyed. All methods are thread-safe.

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace mir::storage {

enum class FaultCode {
  kIoErrWrite,  // SQLITE_IOERR_WRITE
  kIoErrFsync,  // SQLITE_IOERR_FSYNC
  kFull,        // SQLITE_FULL (ENOSPC)
};

class FaultVfs {
 public:
  // The VFS registered under `name` (not as the default), registering it on
  // first use. Never null; the object lives for the rest of the process.
  static FaultVfs* Get(const std::string& name);

  const std::string& name() const { return name_; }

  // Let `n` more writes (xWrite) succeed, then fail with `code`; once if not
  // sticky, else every later write until Clear().
  void FailWritesAfter(int64_t n, FaultCode code, bool sticky = true);
  // The same for syncs (xSync).
  void FailSyncsAfter(int64_t n, FaultCode code, bool sticky = true);
  // Disarms every fault (a held sync stays held until ReleaseSyncs()).
  void Clear();

  // A stalled disk: from now on every sync waits until ReleaseSyncs().
  void HoldSyncs();
  void ReleaseSyncs();
  // Syncs waiting in HoldSyncs() now.
  int held_syncs();

  // Power loss (see above). Tracking starts with the next open of each file
  // (its content then counts as synced); turning it off forgets the logs.
  void TrackUnsyncedWrites(bool on);
  void SimulateCrash();
  // Restores every tracked file to its last synced content, then leaves the
  // crashed mode. Only with no connection open on the files.
  absl::Status DropUnsyncedWrites();

  // Operations seen on counted files since the last ResetCounters().
  int64_t writes() const { return writes_.load(); }
  int64_t syncs() const { return syncs_.load(); }
  int64_t wal_syncs() const { return wal_syncs_.load(); }
  int64_t injected_failures() const { return injected_.load(); }
  void ResetCounters();

  // Internal, called by the VFS shims: the SQLite result code for the next
  // write or sync (SQLITE_OK to let it through).
  int OnWrite();
  int OnSync(bool is_wal);
  bool crashed() const { return crashed_.load(); }
  bool tracking() const { return tracking_.load(); }
  // The tracked file `path` opened with `size` bytes; it is about to change
  // bytes [offset, offset + old.size()) that held `old` and, past the end,
  // to grow; it was synced at `size`.
  void OnOpened(const std::string& path, int64_t size);
  void OnChange(const std::string& path, int64_t offset, std::string old);
  void OnSynced(const std::string& path, int64_t size);
  void OnDeleted(const std::string& path);

 private:
  explicit FaultVfs(std::string name) : name_(std::move(name)) {}

  struct Trigger {
    std::atomic<bool> armed{false};
    std::atomic<int64_t> remaining{0};  // successes left before failing
    std::atomic<int> code{0};           // SQLite result code to return
    std::atomic<bool> sticky{true};
  };
  void Arm(Trigger& t, int64_t n, FaultCode code, bool sticky);
  int Fire(Trigger& t);

  const std::string name_;
  absl::Mutex hold_mu_;
  bool holding_ ABSL_GUARDED_BY(hold_mu_) = false;
  int held_ ABSL_GUARDED_BY(hold_mu_) = 0;
  Trigger write_fault_;
  Trigger sync_fault_;
  std::atomic<int64_t> writes_{0};
  std::atomic<int64_t> syncs_{0};
  std::atomic<int64_t> wal_syncs_{0};
  std::atomic<int64_t> injected_{0};

  // Since a file's last sync: its size then, and the bytes each later write
  // or truncate replaced, in order.
  struct Unsynced {
    int64_t synced_size = 0;
    std::vector<std::pair<int64_t, std::string>> undo;
  };
  std::atomic<bool> tracking_{false};
  std::atomic<bool> crashed_{false};
  absl::Mutex log_mu_;
  std::map<std::string, Unsynced> logs_ ABSL_GUARDED_BY(log_mu_);
};

}  // namespace mir::storage

#endif  // MIR_STORAGE_FAULT_VFS_H_
