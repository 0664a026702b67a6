#include "storage/backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "storage/sqlite_util.h"

namespace mir::storage {
namespace {

absl::Status ErrnoStatus(absl::string_view what, const std::string& path, int err) {
  const std::string text = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == EEXIST) return absl::AlreadyExistsError(text);
  if (err == ENOENT) return absl::NotFoundError(text);
  if (err == ENOSPC) return absl::ResourceExhaustedError(text);
  return absl::UnavailableError(text);
}

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status SyncPath(const std::string& path, int flags) {
  Fd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("cannot open", path, errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("cannot sync", path, errno);
  return absl::OkStatus();
}

std::string FolderOf(const std::string& path) {
  std::string folder = std::filesystem::path(path).parent_path().string();
  return folder.empty() ? "." : folder;
}

// Removes a temporary copy (and the journal SQLite may have left beside it)
// unless released.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    ::unlink(path_.c_str());
    ::unlink((path_ + "-journal").c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

absl::StatusOr<SqlitePtr> OpenRaw(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqlitePtr db(raw);
  if (rc != SQLITE_OK) return SqliteStatus(rc, raw, "open database for backup");
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

absl::Status ExecRaw(sqlite3* db, const char* sql, absl::string_view what) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? absl::OkStatus() : SqliteStatus(rc, db, what);
}

// Ends the source's read transaction on every path.
class ReadTransaction {
 public:
  explicit ReadTransaction(sqlite3* db) : db_(db) {}
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ~ReadTransaction() { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

 private:
  sqlite3* db_;
};

struct BackupFinisher {
  void operator()(sqlite3_backup* b) const { sqlite3_backup_finish(b); }
};

// Copies the pages of `source` (one snapshot) into the connection `dest`.
absl::Status CopyPages(sqlite3* source, sqlite3* dest, const BackupOptions& options,
                       BackupStats& stats) {
  // One read transaction for the whole copy: a backup step that took its
  // own would restart from page 1 whenever the node commits between steps.
  RETURN_IF_ERROR(ExecRaw(source, "BEGIN", "begin backup snapshot"));
  ReadTransaction snapshot(source);
  RETURN_IF_ERROR(ExecRaw(source, "SELECT count(*) FROM sqlite_master", "read backup snapshot"));
  std::unique_ptr<sqlite3_backup, BackupFinisher> backup(
      sqlite3_backup_init(dest, "main", source, "main"));
  if (backup == nullptr) return SqliteStatus(sqlite3_errcode(dest), dest, "start backup");
  const int pages_per_step = options.pages_per_step > 0 ? options.pages_per_step : 64;
  for (;;) {
    const int rc = sqlite3_backup_step(backup.get(), pages_per_step);
    ++stats.steps;
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED) {
      return SqliteStatus(rc, dest, "copy database pages");
    }
    if (options.pause_between_steps > absl::ZeroDuration()) {
      absl::SleepFor(options.pause_between_steps);
    }
  }
  stats.pages = sqlite3_backup_pagecount(backup.get());
  const int rc = sqlite3_backup_finish(backup.release());
  if (rc != SQLITE_OK) return SqliteStatus(rc, dest, "finish backup");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BackupStats> BackupDatabase(const std::string& source,
                                           const std::string& destination,
                                           const BackupOptions& options) {
  const absl::Time start = absl::Now();
  struct stat st;
  if (::stat(source.c_str(), &st) != 0) return ErrnoStatus("cannot read", source, errno);
  if (::lstat(destination.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat(destination, " exists; a backup never replaces a file"));
  }
  TempFile temp(absl::StrCat(destination, ".partial-", ::getpid()));
  {
    // Made here, 0600 whatever the umask, so the copy is never readable by
    // others even for a moment; SQLite gives its journal the same mode.
    Fd fd(::open(temp.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) return ErrnoStatus("cannot create", temp.path(), errno);
    if (::fchmod(fd.get(), 0600) != 0) return ErrnoStatus("cannot chmod", temp.path(), errno);
  }
  BackupStats stats;
  {
    ASSIGN_OR_RETURN(SqlitePtr src, OpenRaw(source, SQLITE_OPEN_READONLY));
    ASSIGN_OR_RETURN(SqlitePtr dest, OpenRaw(temp.path(), SQLITE_OPEN_READWRITE));
    RETURN_IF_ERROR(ExecRaw(dest.get(), "PRAGMA synchronous=FULL", "set backup durability"));
    RETURN_IF_ERROR(CopyPages(src.get(), dest.get(), options, stats));
    // The pages carry the source's WAL flag; a backup is one self-contained
    // file, so it goes back to a rollback journal (the node's store sets WAL
    // again when it opens a restored copy).
    RETURN_IF_ERROR(ExecRaw(dest.get(), "PRAGMA journal_mode=DELETE", "set backup journal mode"));
  }
  RETURN_IF_ERROR(SyncPath(temp.path(), O_RDONLY));
  if (::link(temp.path().c_str(), destination.c_str()) != 0) {
    return ErrnoStatus("cannot create", destination, errno);
  }
  RETURN_IF_ERROR(SyncPath(FolderOf(destination), O_RDONLY | O_DIRECTORY));
  if (::stat(destination.c_str(), &st) == 0) stats.bytes = st.st_size;
  stats.elapsed = absl::Now() - start;
  return stats;
}

absl::Status RestoreDatabase(const std::string& backup, const std::string& database_path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    const std::string path = database_path + suffix;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      return absl::AlreadyExistsError(absl::StrCat(
          path, " exists: restore only into an empty data folder (move the old one aside)"));
    }
  }
  const std::string folder = FolderOf(database_path);
  RETURN_IF_ERROR(MakePrivateDirectory(folder));
  RETURN_IF_ERROR(CheckPrivateDirectory(folder));
  BackupOptions fast;
  fast.pages_per_step = 1024;
  fast.pause_between_steps = absl::ZeroDuration();
  return BackupDatabase(backup, database_path, fast).status();
}

}  // namespace mir::storage
