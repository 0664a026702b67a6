#ifndef MIR_STORAGE_SQLITE_UTIL_H_
#define MIR_STORAGE_SQLITE_UTIL_H_

// Internal to storage/: RAII around one sqlite3 connection and its prepared
// statements, and the one mapping from SQLite result codes to absl::Status.
// Not thread-safe: the owner (StoreImpl) serializes use of a Db.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mir::storage {

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using SqlitePtr = std::unique_ptr<sqlite3, SqliteCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// True for the result codes after which the on-disk state is indeterminate
// (any SQLITE_IOERR_*), or the file is damaged (CORRUPT, NOTADB).
bool IsFatalSqliteCode(int rc);

// The status for SQLite result code `rc` during operation `what` (a fixed
// phrase such as "append event"; never data). SQLITE_FULL becomes
// RESOURCE_EXHAUSTED/STORE_FULL, I/O errors UNAVAILABLE/STORE_UNAVAILABLE,
// corruption DATA_LOSS, a lock held elsewhere UNAVAILABLE, the rest INTERNAL.
// `db` may be null; when given, its error message (column and table names,
// never bound values) is appended.
absl::Status SqliteStatus(int rc, sqlite3* db, absl::string_view what);

class Db;

// A cached prepared statement borrowed from a Db for one use: bind, step,
// read columns. Resets and clears its bindings when destroyed, so the next
// user starts clean and no read transaction is left open. A failed bind (a
// wrong parameter index, too big a value) would leave the parameter NULL,
// which `?n IS NULL` filters read as "match all"; so the first bind error is
// kept and Step()/Run() return it (INTERNAL, naming the statement's purpose)
// without stepping.
class Statement {
 public:
  Statement(Db* db, sqlite3_stmt* stmt, absl::string_view what)
      : db_(db), stmt_(stmt), what_(what) {}
  Statement(Statement&& other) noexcept
      : db_(other.db_), stmt_(other.stmt_), what_(other.what_), bind_error_(other.bind_error_) {
    other.stmt_ = nullptr;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite. Text and blobs are copied.
  Statement& BindInt(int i, int64_t v);
  Statement& BindText(int i, absl::string_view v);
  Statement& BindBlob(int i, absl::string_view v);
  Statement& BindNull(int i);
  Statement& BindOptText(int i, const std::optional<std::string>& v);
  Statement& BindOptInt(int i, std::optional<int64_t> v);

  // One step: true if a row is available, false when done. INTERNAL if a
  // bind failed.
  absl::StatusOr<bool> Step();
  // Steps a statement that returns no rows.
  absl::Status Run();

  // Columns are 0-based.
  bool IsNull(int col) const;
  int64_t Int(int col) const;
  std::string Text(int col) const;  // TEXT or BLOB bytes, "" for NULL
  std::optional<std::string> OptText(int col) const;
  std::optional<int64_t> OptInt(int col) const;

 private:
  // Keeps the first failed bind's status.
  Statement& Bound(int rc, int i);

  Db* db_;
  sqlite3_stmt* stmt_;
  absl::string_view what_;
  absl::Status bind_error_;
};

// One connection. Remembers the first fatal or "disk full" result code seen
// since the last ClearStorageError(), so a transaction can tell that one of
// its statements hit the disk even if the caller swallowed the status.
class Db {
 public:
  // Opens `path` with `flags` through VFS `vfs` ("" = default).
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path, int flags,
                                                  const std::string& vfs);
  ~Db();

  sqlite3* raw() const { return db_.get(); }

  // A cached statement for `sql`, which must be a string literal (its address
  // is the cache key). `what` names the operation for error messages.
  absl::StatusOr<Statement> Prepare(const char* sql, absl::string_view what);
  // Runs one or more statements without parameters or results.
  absl::Status Exec(const char* sql, absl::string_view what);
  // Runs one statement without parameters or results from the cache, as
  // Prepare does: for the savepoints that every write and event opens, which
  // Exec would parse again each time (a few % of the write path's CPU).
  absl::Status RunCached(const char* sql, absl::string_view what);
  // A one-row, one-column pragma or query result as text.
  absl::StatusOr<std::string> QueryText(const std::string& sql, absl::string_view what);

  // Maps `rc` and remembers it if it concerns the disk.
  absl::Status Error(int rc, absl::string_view what);

  int storage_error() const { return storage_error_; }
  void ClearStorageError() { storage_error_ = SQLITE_OK; }

  // Asks the write queue for a TRUNCATE checkpoint once the current
  // transaction commits: a write that destroyed secrets (an erasure) or
  // rewrote clear data (a migration) leaves no older copy in the WAL.
  void RequestWalTruncate() { wal_truncate_requested_ = true; }
  // Whether it was asked since the last call; clears the request.
  bool TakeWalTruncateRequest() { return std::exchange(wal_truncate_requested_, false); }

 private:
  explicit Db(SqlitePtr db) : db_(std::move(db)) {}
  void Note(int rc);

  // Statements are finalized before the connection is closed (member order).
  SqlitePtr db_;
  absl::flat_hash_map<const char*, StmtPtr> cache_;
  int storage_error_ = SQLITE_OK;
  bool wal_truncate_requested_ = false;
};

// Runs `fn` inside a savepoint on `db`: all of its writes or none, even when
// the caller carries on in the same transaction after an error.
absl::Status InSavepoint(Db& db, absl::FunctionRef<absl::Status()> fn);

}  // namespace mir::storage

#endif  // MIR_STORAGE_SQLITE_UTIL_H_
