#include "storage/fault_vfs.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace mir::storage {
namespace {

// What SQLite gets for one registered FaultVfs; lives forever with it.
struct Registration {
  FaultVfs* fault = nullptr;
  sqlite3_vfs* root = nullptr;  // the wrapped "unix" VFS
  sqlite3_vfs vfs{};
};

// Our sqlite3_file: the wrapped file lives in the same allocation, after it.
struct FaultFile {
  sqlite3_file base;  // must be first: SQLite sees this
  FaultVfs* counted;  // null for files we pass through untouched
  bool is_wal;
  sqlite3_file* real;
  const char* path;  // counted files: SQLite keeps it valid until xClose
};

constexpr size_t kRealOffset = (sizeof(FaultFile) + 15) & ~static_cast<size_t>(15);

FaultFile* Self(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return Self(f)->real; }
Registration* Reg(sqlite3_vfs* vfs) { return static_cast<Registration*>(vfs->pAppData); }

int FileClose(sqlite3_file* f) {
  sqlite3_file* real = Real(f);
  return real->pMethods != nullptr ? real->pMethods->xClose(real) : SQLITE_OK;
}
int FileRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}

// Before a tracked file's bytes [off, off + n) change: logs what they held.
int LogChange(sqlite3_file* f, sqlite3_int64 off, sqlite3_int64 n) {
  FaultFile* self = Self(f);
  if (self->counted == nullptr || !self->counted->tracking()) return SQLITE_OK;
  sqlite3_int64 size = 0;
  if (const int rc = FileSize(f, &size); rc != SQLITE_OK) return rc;
  std::string old;
  if (off < size) {
    old.resize(static_cast<size_t>(std::min(n, size - off)));
    const int rc = FileRead(f, old.data(), static_cast<int>(old.size()), off);
    if (rc != SQLITE_OK) return rc;
  }
  self->counted->OnChange(self->path, off, std::move(old));
  return SQLITE_OK;
}

int FileWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (Self(f)->counted != nullptr) {
    if (Self(f)->counted->crashed()) return SQLITE_OK;  // the process is gone
    const int rc = Self(f)->counted->OnWrite();
    if (rc != SQLITE_OK) return rc;
    if (const int logged = LogChange(f, off, n); logged != SQLITE_OK) return logged;
  }
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int FileTruncate(sqlite3_file* f, sqlite3_int64 size) {
  if (Self(f)->counted != nullptr) {
    if (Self(f)->counted->crashed()) return SQLITE_OK;
    sqlite3_int64 current = 0;
    if (const int rc = FileSize(f, &current); rc != SQLITE_OK) return rc;
    if (current > size) {
      if (const int rc = LogChange(f, size, current - size); rc != SQLITE_OK) return rc;
    }
  }
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int FileSync(sqlite3_file* f, int flags) {
  FaultFile* self = Self(f);
  if (self->counted != nullptr) {
    if (self->counted->crashed()) return SQLITE_OK;
    const int rc = self->counted->OnSync(self->is_wal);
    if (rc != SQLITE_OK) return rc;
  }
  const int rc = Real(f)->pMethods->xSync(Real(f), flags);
  if (rc == SQLITE_OK && self->counted != nullptr && self->counted->tracking()) {
    sqlite3_int64 size = 0;
    if (FileSize(f, &size) == SQLITE_OK) self->counted->OnSynced(self->path, size);
  }
  return rc;
}
int FileLock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int FileUnlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int FileCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int FileSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int FileDeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int FileShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  const sqlite3_io_methods* m = Real(f)->pMethods;
  if (m->iVersion < 2 || m->xShmMap == nullptr) return SQLITE_IOERR_SHMMAP;
  return m->xShmMap(Real(f), page, size, extend, out);
}
int FileShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void FileShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int FileShmUnmap(sqlite3_file* f, int delete_flag) {
  return Real(f)->pMethods->xShmUnmap(Real(f), delete_flag);
}
int FileFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  const sqlite3_io_methods* m = Real(f)->pMethods;
  if (m->iVersion < 3 || m->xFetch == nullptr) {
    *out = nullptr;
    return SQLITE_OK;
  }
  return m->xFetch(Real(f), off, n, out);
}
int FileUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  const sqlite3_io_methods* m = Real(f)->pMethods;
  if (m->iVersion < 3 || m->xUnfetch == nullptr) return SQLITE_OK;
  return m->xUnfetch(Real(f), off, p);
}

const sqlite3_io_methods kIoMethods = {
    3,
    FileClose,
    FileRead,
    FileWrite,
    FileTruncate,
    FileSync,
    FileSize,
    FileLock,
    FileUnlock,
    FileCheckReservedLock,
    FileControl,
    FileSectorSize,
    FileDeviceCharacteristics,
    FileShmMap,
    FileShmLock,
    FileShmBarrier,
    FileShmUnmap,
    FileFetch,
    FileUnfetch,
};

int VfsOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  Registration* reg = Reg(vfs);
  FaultFile* self = Self(file);
  self->base.pMethods = nullptr;
  self->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  self->real->pMethods = nullptr;
  const bool counted =
      (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_WAL)) != 0;
  self->counted = counted && name != nullptr ? reg->fault : nullptr;
  self->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  self->path = name;
  const int rc = reg->root->xOpen(reg->root, name, self->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    // SQLite does not call xClose after a failed xOpen; release what the
    // wrapped VFS may hold.
    if (self->real->pMethods != nullptr) self->real->pMethods->xClose(self->real);
    return rc;
  }
  self->base.pMethods = &kIoMethods;
  if (self->counted != nullptr && self->counted->tracking()) {
    sqlite3_int64 size = 0;
    if (FileSize(file, &size) == SQLITE_OK) self->counted->OnOpened(name, size);
  }
  return SQLITE_OK;
}

int VfsDelete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  FaultVfs* fault = Reg(vfs)->fault;
  if (fault->crashed()) return SQLITE_OK;  // the process is gone
  const int rc = Reg(vfs)->root->xDelete(Reg(vfs)->root, name, sync_dir);
  if (rc == SQLITE_OK && name != nullptr) fault->OnDeleted(name);
  return rc;
}
int VfsAccess(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Reg(vfs)->root->xAccess(Reg(vfs)->root, name, flags, out);
}
int VfsFullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return Reg(vfs)->root->xFullPathname(Reg(vfs)->root, name, n, out);
}
void* VfsDlOpen(sqlite3_vfs* vfs, const char* name) {
  return Reg(vfs)->root->xDlOpen(Reg(vfs)->root, name);
}
void VfsDlError(sqlite3_vfs* vfs, int n, char* out) {
  Reg(vfs)->root->xDlError(Reg(vfs)->root, n, out);
}
void (*VfsDlSym(sqlite3_vfs* vfs, void* handle, const char* sym))(void) {
  return Reg(vfs)->root->xDlSym(Reg(vfs)->root, handle, sym);
}
void VfsDlClose(sqlite3_vfs* vfs, void* handle) {
  Reg(vfs)->root->xDlClose(Reg(vfs)->root, handle);
}
int VfsRandomness(sqlite3_vfs* vfs, int n, char* out) {
  return Reg(vfs)->root->xRandomness(Reg(vfs)->root, n, out);
}
int VfsSleep(sqlite3_vfs* vfs, int micros) {
  return Reg(vfs)->root->xSleep(Reg(vfs)->root, micros);
}
int VfsCurrentTime(sqlite3_vfs* vfs, double* out) {
  return Reg(vfs)->root->xCurrentTime(Reg(vfs)->root, out);
}
int VfsGetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return Reg(vfs)->root->xGetLastError(Reg(vfs)->root, n, out);
}
int VfsCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Reg(vfs)->root->xCurrentTimeInt64(Reg(vfs)->root, out);
}
int VfsSetSystemCall(sqlite3_vfs* vfs, const char* name, sqlite3_syscall_ptr p) {
  return Reg(vfs)->root->xSetSystemCall(Reg(vfs)->root, name, p);
}
sqlite3_syscall_ptr VfsGetSystemCall(sqlite3_vfs* vfs, const char* name) {
  return Reg(vfs)->root->xGetSystemCall(Reg(vfs)->root, name);
}
const char* VfsNextSystemCall(sqlite3_vfs* vfs, const char* name) {
  return Reg(vfs)->root->xNextSystemCall(Reg(vfs)->root, name);
}

int ToSqliteCode(FaultCode code) {
  switch (code) {
    case FaultCode::kIoErrWrite:
      return SQLITE_IOERR_WRITE;
    case FaultCode::kIoErrFsync:
      return SQLITE_IOERR_FSYNC;
    case FaultCode::kFull:
      return SQLITE_FULL;
  }
  return SQLITE_IOERR;
}

ABSL_CONST_INIT absl::Mutex registry_mu(absl::kConstInit);

std::map<std::string, std::unique_ptr<Registration>>& Registry()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(registry_mu) {
  static auto* const kRegistry = new std::map<std::string, std::unique_ptr<Registration>>();
  return *kRegistry;
}

}  // namespace

FaultVfs* FaultVfs::Get(const std::string& name) {
  absl::MutexLock lock(&registry_mu);
  auto& registry = Registry();
  auto it = registry.find(name);
  if (it != registry.end()) return it->second->fault;

  sqlite3_initialize();
  auto reg = std::make_unique<Registration>();
  reg->fault = new FaultVfs(name);  // never destroyed: SQLite may hold it
  reg->root = sqlite3_vfs_find("unix");
  sqlite3_vfs& v = reg->vfs;
  v.iVersion = 3;
  v.szOsFile = static_cast<int>(kRealOffset) + reg->root->szOsFile;
  v.mxPathname = reg->root->mxPathname;
  v.zName = reg->fault->name_.c_str();
  v.pAppData = reg.get();
  v.xOpen = VfsOpen;
  v.xDelete = VfsDelete;
  v.xAccess = VfsAccess;
  v.xFullPathname = VfsFullPathname;
  v.xDlOpen = VfsDlOpen;
  v.xDlError = VfsDlError;
  v.xDlSym = VfsDlSym;
  v.xDlClose = VfsDlClose;
  v.xRandomness = VfsRandomness;
  v.xSleep = VfsSleep;
  v.xCurrentTime = VfsCurrentTime;
  v.xGetLastError = VfsGetLastError;
  v.xCurrentTimeInt64 = VfsCurrentTimeInt64;
  v.xSetSystemCall = VfsSetSystemCall;
  v.xGetSystemCall = VfsGetSystemCall;
  v.xNextSystemCall = VfsNextSystemCall;
  sqlite3_vfs_register(&v, /*makeDflt=*/0);
  FaultVfs* fault = reg->fault;
  registry.emplace(name, std::move(reg));
  return fault;
}

void FaultVfs::Arm(Trigger& t, int64_t n, FaultCode code, bool sticky) {
  t.armed.store(false);
  t.remaining.store(n);
  t.code.store(ToSqliteCode(code));
  t.sticky.store(sticky);
  t.armed.store(true);
}

int FaultVfs::Fire(Trigger& t) {
  if (!t.armed.load()) return SQLITE_OK;
  if (t.remaining.fetch_sub(1) > 0) return SQLITE_OK;
  if (!t.sticky.load()) t.armed.store(false);
  injected_.fetch_add(1);
  return t.code.load();
}

void FaultVfs::FailWritesAfter(int64_t n, FaultCode code, bool sticky) {
  Arm(write_fault_, n, code, sticky);
}
void FaultVfs::FailSyncsAfter(int64_t n, FaultCode code, bool sticky) {
  Arm(sync_fault_, n, code, sticky);
}
void FaultVfs::Clear() {
  write_fault_.armed.store(false);
  sync_fault_.armed.store(false);
}
void FaultVfs::ResetCounters() {
  writes_.store(0);
  syncs_.store(0);
  wal_syncs_.store(0);
  injected_.store(0);
}

int FaultVfs::OnWrite() {
  writes_.fetch_add(1);
  return Fire(write_fault_);
}

void FaultVfs::HoldSyncs() {
  absl::MutexLock lock(&hold_mu_);
  holding_ = true;
}
void FaultVfs::ReleaseSyncs() {
  absl::MutexLock lock(&hold_mu_);
  holding_ = false;
}
int FaultVfs::held_syncs() {
  absl::MutexLock lock(&hold_mu_);
  return held_;
}

int FaultVfs::OnSync(bool is_wal) {
  {
    absl::MutexLock lock(&hold_mu_);
    ++held_;
    hold_mu_.Await(absl::Condition(
        +[](bool* holding) { return !*holding; }, &holding_));
    --held_;
  }
  syncs_.fetch_add(1);
  if (is_wal) wal_syncs_.fetch_add(1);
  return Fire(sync_fault_);
}

void FaultVfs::TrackUnsyncedWrites(bool on) {
  absl::MutexLock lock(&log_mu_);
  tracking_.store(on);
  if (!on) logs_.clear();
}

void FaultVfs::SimulateCrash() { crashed_.store(true); }

void FaultVfs::OnOpened(const std::string& path, int64_t size) {
  absl::MutexLock lock(&log_mu_);
  // A second handle on the same file (the reader) keeps the first one's log.
  if (logs_.count(path) == 0) logs_[path].synced_size = size;
}

void FaultVfs::OnChange(const std::string& path, int64_t offset, std::string old) {
  absl::MutexLock lock(&log_mu_);
  // Files opened before tracking began are not tracked.
  auto it = logs_.find(path);
  if (it != logs_.end()) it->second.undo.emplace_back(offset, std::move(old));
}

void FaultVfs::OnSynced(const std::string& path, int64_t size) {
  absl::MutexLock lock(&log_mu_);
  auto it = logs_.find(path);
  if (it == logs_.end()) return;
  it->second.synced_size = size;
  it->second.undo.clear();
}

void FaultVfs::OnDeleted(const std::string& path) {
  absl::MutexLock lock(&log_mu_);
  logs_.erase(path);
}

absl::Status FaultVfs::DropUnsyncedWrites() {
  absl::MutexLock lock(&log_mu_);
  for (auto& [path, log] : logs_) {
    const int fd = open(path.c_str(), O_RDWR);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
    }
    bool ok = true;
    // Newest first, so that each range gets back what its first change found.
    for (auto it = log.undo.rbegin(); ok && it != log.undo.rend(); ++it) {
      const std::string& old = it->second;
      ok = pwrite(fd, old.data(), old.size(), it->first) == static_cast<ssize_t>(old.size());
    }
    ok = ok && ftruncate(fd, log.synced_size) == 0;
    const int saved = errno;
    close(fd);
    if (!ok) {
      return absl::InternalError(
          absl::StrCat("restore ", path, " to its last sync: ", std::strerror(saved)));
    }
    log.undo.clear();
  }
  crashed_.store(false);
  return absl::OkStatus();
}

}  // namespace mir::storage
