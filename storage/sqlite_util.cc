#include "storage/sqlite_util.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace mir::storage {

bool IsFatalSqliteCode(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_IOERR || primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

absl::Status SqliteStatus(int rc, sqlite3* db, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", sqlite3_errstr(rc), " (sqlite code ", rc, ")");
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
    // Names tables and columns at most; SQLite never quotes bound values.
    absl::StrAppend(&message, ": ", sqlite3_errmsg(db));
  }
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return MirError(absl::StatusCode::kResourceExhausted, v1::STORE_FULL, message);
    case SQLITE_IOERR:
      return MirError(absl::StatusCode::kUnavailable, v1::STORE_UNAVAILABLE, message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return MirError(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE, message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return absl::FailedPreconditionError(message);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    default:
      return absl::InternalError(message);
  }
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::Bound(int rc, int i) {
  if (rc != SQLITE_OK && bind_error_.ok()) {
    bind_error_ = absl::InternalError(
        absl::StrCat(what_, ": binding parameter ", i, " failed: ", sqlite3_errstr(rc)));
  }
  return *this;
}

Statement& Statement::BindInt(int i, int64_t v) {
  return Bound(sqlite3_bind_int64(stmt_, i, v), i);
}
Statement& Statement::BindText(int i, absl::string_view v) {
  return Bound(sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), i);
}
Statement& Statement::BindBlob(int i, absl::string_view v) {
  // A zero-length blob must still be a blob, not NULL: data() may be null.
  static const char kEmpty = 0;
  return Bound(
      sqlite3_bind_blob64(stmt_, i, v.empty() ? &kEmpty : v.data(), v.size(), SQLITE_TRANSIENT), i);
}
Statement& Statement::BindNull(int i) { return Bound(sqlite3_bind_null(stmt_, i), i); }
Statement& Statement::BindOptText(int i, const std::optional<std::string>& v) {
  return v.has_value() ? BindText(i, *v) : BindNull(i);
}
Statement& Statement::BindOptInt(int i, std::optional<int64_t> v) {
  return v.has_value() ? BindInt(i, *v) : BindNull(i);
}

absl::StatusOr<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, what_);
}

absl::Status Statement::Run() {
  absl::StatusOr<bool> row = Step();
  if (!row.ok()) return row.status();
  return absl::OkStatus();
}

bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
std::string Statement::Text(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  const int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
}
std::optional<std::string> Statement::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}
std::optional<int64_t> Statement::OptInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

absl::StatusOr<std::unique_ptr<Db>> Db::Open(const std::string& path, int flags,
                                             const std::string& vfs) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, vfs.empty() ? nullptr : vfs.c_str());
  SqlitePtr db(raw);  // closed on every path below, even when open failed
  if (rc != SQLITE_OK) return SqliteStatus(rc, raw, "open database");
  sqlite3_extended_result_codes(raw, 1);
  return std::unique_ptr<Db>(new Db(std::move(db)));
}

Db::~Db() {
  cache_.clear();  // finalize statements before the connection closes
}

absl::StatusOr<Statement> Db::Prepare(const char* sql, absl::string_view what) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc =
        sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    StmtPtr owned(stmt);
    if (rc != SQLITE_OK) return Error(rc, what);
    it = cache_.emplace(sql, std::move(owned)).first;
  }
  return Statement(this, it->second.get(), what);
}

absl::Status Db::Exec(const char* sql, absl::string_view what) {
  const int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, what);
  return absl::OkStatus();
}

absl::Status Db::RunCached(const char* sql, absl::string_view what) {
  ASSIGN_OR_RETURN(Statement s, Prepare(sql, what));
  return s.Run();
}

absl::StatusOr<std::string> Db::QueryText(const std::string& sql, absl::string_view what) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr);
  StmtPtr stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, what);
  rc = sqlite3_step(raw);
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return Error(rc, what);
  const unsigned char* text = sqlite3_column_text(raw, 0);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
}

absl::Status Db::Error(int rc, absl::string_view what) {
  Note(rc);
  return SqliteStatus(rc, db_.get(), what);
}

void Db::Note(int rc) {
  if (storage_error_ != SQLITE_OK) return;
  if (IsFatalSqliteCode(rc) || (rc & 0xff) == SQLITE_FULL) storage_error_ = rc;
}

absl::Status InSavepoint(Db& db, absl::FunctionRef<absl::Status()> fn) {
  if (absl::Status s = db.RunCached("SAVEPOINT mir_op", "open a savepoint"); !s.ok()) return s;
  absl::Status status = fn();
  if (!status.ok()) {
    (void)db.RunCached("ROLLBACK TO mir_op", "roll back a savepoint");
  }
  absl::Status released = db.RunCached("RELEASE mir_op", "release a savepoint");
  return status.ok() ? released : status;
}

}  // namespace mir::storage
