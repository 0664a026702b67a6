// VerifyDatabase (storage/backup.h): the checks a restore relies on, run on
// a scratch copy so that the file checked is never written.

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "storage/backup.h"
#include "storage/schema.h"
#include "storage/sqlite_util.h"

namespace mir::storage {
namespace {

// A private scratch folder, removed with everything in it.
class ScratchDir {
 public:
  static absl::StatusOr<std::unique_ptr<ScratchDir>> Make(const std::string& parent) {
    std::string base = parent;
    if (base.empty()) {
      std::error_code error;
      base = std::filesystem::temp_directory_path(error).string();
      if (error) base = "/tmp";
    }
    std::string name = absl::StrCat(base, "/mir-verify-XXXXXX");
    if (::mkdtemp(name.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat("cannot make a scratch folder in ", base));
    }
    return std::unique_ptr<ScratchDir>(new ScratchDir(std::move(name)));
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// The receipt's own signing time, for checking its certificate as of then.
absl::Time ReceiptTime(const std::string& receipt) {
  v1::Envelope envelope;
  v1::EnvelopeHeader header;
  if (!envelope.ParseFromString(receipt) || !header.ParseFromString(envelope.header())) {
    return absl::UnixEpoch();  // the verifier refuses it anyway
  }
  return absl::FromUnixSeconds(header.created_at().seconds()) +
         absl::Nanoseconds(header.created_at().nanos());
}

class ReceiptChecker {
 public:
  static absl::StatusOr<ReceiptChecker> Make(const std::string& ca_pem) {
    auto clock = std::make_unique<FakeClock>(absl::UnixEpoch());
    ASSIGN_OR_RETURN(auto verifier, Verifier::FromCaPem(ca_pem, clock.get()));
    return ReceiptChecker(std::move(clock), std::move(verifier));
  }

  absl::Status Check(const std::string& receipt, const std::string& receiver,
                     const std::string& message_id, const std::string& sha256) {
    clock_->Set(ReceiptTime(receipt));
    return VerifyReceipt(*verifier_, receipt, receiver, message_id, sha256).status();
  }

 private:
  ReceiptChecker(std::unique_ptr<FakeClock> clock, std::unique_ptr<Verifier> verifier)
      : clock_(std::move(clock)), verifier_(std::move(verifier)) {}
  std::unique_ptr<FakeClock> clock_;
  std::unique_ptr<Verifier> verifier_;
};

absl::Status CheckRawFile(const std::string& copy, VerifyReport& report) {
  ASSIGN_OR_RETURN(auto db, Db::Open(copy, SQLITE_OPEN_READONLY, ""));
  auto integrity = db->QueryText("PRAGMA integrity_check", "check integrity");
  if (!integrity.ok()) {
    report.problems.push_back(absl::StrCat("integrity_check: ", integrity.status().message()));
    return absl::OkStatus();
  }
  report.integrity_ok = *integrity == "ok";
  if (!report.integrity_ok) {
    report.problems.push_back(absl::StrCat("integrity_check: ", integrity->substr(0, 200)));
  }
  auto version = db->QueryText("PRAGMA user_version", "read schema version");
  if (!version.ok()) {
    report.problems.push_back(absl::StrCat("schema version: ", version.status().message()));
    return absl::OkStatus();
  }
  report.schema_version = std::atoi(version->c_str());
  if (report.schema_version < 1 || report.schema_version > kSchemaVersion) {
    report.problems.push_back(absl::StrCat("schema version ", report.schema_version,
                                           " is not one this build knows (1 to ", kSchemaVersion,
                                           ")"));
  }
  return absl::OkStatus();
}

// Our own receipts, one per inbox row (a batch's kept once, schema v10).
// Read straight from the table: the Store offers lookups by id only.
absl::Status CheckInbox(const std::string& copy, const VerifyOptions& options,
                        ReceiptChecker& checker, VerifyReport& report) {
  ASSIGN_OR_RETURN(auto db, Db::Open(copy, SQLITE_OPEN_READONLY, ""));
  // The copy is not migrated yet: a file older than v10 has no `receipts`.
  const char* sql =
      report.schema_version >= 10
          ? "SELECT message_id, envelope_sha256, CASE WHEN receipt_sha256 IS NULL THEN receipt "
            "ELSE (SELECT envelope FROM receipts WHERE receipts.sha256 = inbox.receipt_sha256) "
            "END FROM inbox ORDER BY received_at_us, message_id"
          : "SELECT message_id, envelope_sha256, receipt FROM inbox "
            "ORDER BY received_at_us, message_id";
  ASSIGN_OR_RETURN(Statement rows, db->Prepare(sql, "list inbox"));
  for (;;) {
    ASSIGN_OR_RETURN(bool row, rows.Step());
    if (!row) break;
    const std::string message_id = rows.Text(0);
    ++report.inbox_receipts_checked;
    absl::Status checked = checker.Check(rows.Text(2), options.node_id, message_id, rows.Text(1));
    if (!checked.ok()) {
      report.problems.push_back(
          absl::StrCat("inbox ", message_id, ": our receipt does not verify: ", checked.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckStore(const std::string& copy, const VerifyOptions& options,
                        ReceiptChecker& checker, VerifyReport& report) {
  StoreOptions store_options;
  store_options.path = copy;
  store_options.national_node = options.national_node;
  store_options.kek = options.kek;
  store_options.previous_keks = options.previous_keks;
  auto store = Store::Open(store_options, RealClock::Get());
  if (!store.ok()) {
    report.problems.push_back(absl::StrCat("the store does not open: ", store.status().message()));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(report.audit, (*store)->VerifyAuditChain());
  if (!report.audit.ok) {
    report.problems.push_back(absl::StrCat("audit chain broken at event ",
                                           report.audit.first_bad_row, ": ", report.audit.problem));
  }
  ASSIGN_OR_RETURN(auto referrals, (*store)->ListReferrals(0));
  report.referrals = static_cast<int64_t>(referrals.size());
  ASSIGN_OR_RETURN(auto delivered, (*store)->ListOutbox(OutboxState::kDelivered, 0));
  for (const OutboxEntry& entry : delivered) {
    if (entry.envelope.empty()) {
      ++report.receipts_not_checkable;
      continue;
    }
    ++report.outbox_receipts_checked;
    absl::Status checked =
        checker.Check(entry.receipt, entry.peer, entry.message_id, Sha256(entry.envelope));
    if (!checked.ok()) {
      report.problems.push_back(absl::StrCat("outbox ", entry.message_id, ": ", entry.peer,
                                             "'s receipt does not verify: ", checked.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<VerifyReport> VerifyDatabase(const std::string& path, const VerifyOptions& options) {
  ASSIGN_OR_RETURN(auto checker, ReceiptChecker::Make(options.ca_pem));
  ASSIGN_OR_RETURN(auto scratch, ScratchDir::Make(options.scratch_dir));
  const std::string copy = scratch->path() + "/copy.db";
  BackupOptions fast;
  fast.pages_per_step = 1024;
  fast.pause_between_steps = absl::ZeroDuration();
  VerifyReport report;
  if (absl::Status copied = BackupDatabase(path, copy, fast).status(); !copied.ok()) {
    // A file SQLite cannot read as a database is a finding, not a failure
    // of the tool.
    if (copied.code() != absl::StatusCode::kDataLoss) return copied;
    report.problems.push_back(absl::StrCat("not a readable database: ", copied.message()));
    return report;
  }
  RETURN_IF_ERROR(CheckRawFile(copy, report));
  if (!report.ok()) return report;
  RETURN_IF_ERROR(CheckInbox(copy, options, checker, report));
  RETURN_IF_ERROR(CheckStore(copy, options, checker, report));
  return report;
}

}  // namespace mir::storage
