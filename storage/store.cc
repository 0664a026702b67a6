#include "storage/store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "storage/at_rest.h"
#include "storage/audit_chain.h"
#include "storage/event_log.h"
#include "storage/inbox.h"
#include "storage/key_custody.h"
#include "storage/outbox.h"
#include "storage/read_pool.h"
#include "storage/referral_queries.h"
#include "storage/reports.h"
#include "storage/rows.h"
#include "storage/schema.h"
#include "storage/service_requests.h"
#include "storage/sqlite_util.h"
#include "storage/statistics_queries.h"
#include "storage/store_internal.h"
#include "storage/write_queue.h"

namespace mir::storage {
namespace {

using Sync = WriteQueue::Sync;

// `records` (a StatusOr of a record, an optional or a vector of them) with
// every envelope sealed at rest opened (at_rest.h).
template <typename T>
absl::StatusOr<T> Revealed(Db& db, const keys::KeyRing& ring, absl::StatusOr<T> records) {
  if (!records.ok()) return records;
  RETURN_IF_ERROR(at_rest::RevealIn(db, ring, *records));
  return records;
}

// The Txn of one write, on the write connection inside its transaction (or
// of one Read, on the read connection, where its writes fail).
class TxnImpl final : public Txn {
 public:
  TxnImpl(Db& db, const Clock& clock, const std::string& national_node, const keys::KeyRing& ring)
      : db_(db), clock_(clock), national_node_(national_node), ring_(ring) {}

  absl::StatusOr<std::optional<InboxRecord>> FindInbox(const std::string& message_id) override {
    return inbox::Find(db_, message_id);
  }
  absl::StatusOr<std::optional<OutboxEntry>> FindOutbox(const std::string& message_id) override {
    return Revealed(db_, ring_, outbox::Find(db_, message_id));
  }
  absl::Status InsertInbox(const InboxRecord& record) override {
    return inbox::Insert(db_, receipts_, record);
  }
  absl::StatusOr<ApplyResult> ApplyEvent(const Event& event) override {
    const int64_t remembered = envelopes_.row();
    absl::StatusOr<ApplyResult> result =
        storage::ApplyEvent(db_, clock_, national_node_, ring_, event, &envelopes_);
    // Its savepoint is rolled back: so is a row it remembered.
    if (!result.ok() && envelopes_.row() != remembered) envelopes_.Forget();
    return result;
  }
  absl::Status RecordDropped(const Event& event, const absl::Status& why) override {
    return storage::RecordDropped(db_, clock_.Now(), event, why);
  }
  absl::StatusOr<std::optional<ReferralRecord>> GetReferral(
      const std::string& referral_id) override {
    return Revealed(db_, ring_, ReadReferral(db_, referral_id));
  }
  absl::StatusOr<uint64_t> NextSequence(const std::string& referral_id,
                                        const std::string& node) override {
    ASSIGN_OR_RETURN(uint64_t last, LastSequence(db_, referral_id, node));
    return last + 1;
  }
  absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> StreamPositions(
      const std::string& referral_id) override {
    return storage::StreamPositions(db_, referral_id);
  }
  absl::Status Enqueue(const OutgoingEnvelope& envelope) override {
    // An envelope of answers this transaction applied is kept in the first
    // answer's events row (schema v15): the outbox names that row too.
    return outbox::Enqueue(db_, ring_, clock_.Now(), envelope,
                           envelopes_.RowFor(envelope.envelope));
  }
  absl::Status MarkReplaced(int64_t id, const std::string& reason) override {
    return outbox::MarkReplaced(db_, id, reason);
  }
  absl::Status GrantPartnerAccess(const std::string& referral_id,
                                  const std::string& partner) override {
    return storage::GrantPartnerAccess(db_, clock_.Now(), referral_id, partner);
  }

  // --- Key custody ---
  absl::StatusOr<std::optional<SecretKey>> GetReferralKey(const std::string& referral_id,
                                                          const std::string& key_id) override {
    return keys::Get(db_, ring_, referral_id, key_id);
  }
  absl::StatusOr<std::optional<ErasureRecord>> GetErasure(const std::string& referral_id) override {
    return keys::FindErasure(db_, referral_id);
  }
  absl::StatusOr<std::optional<LegalHoldRecord>> GetLegalHold(
      const std::string& referral_id) override {
    return keys::FindLegalHold(db_, referral_id);
  }
  absl::StatusOr<std::vector<ErasureAnswerRecord>> ErasureAnswers(
      const std::string& referral_id) override {
    return keys::Answers(db_, referral_id);
  }
  absl::Status PutReferralKey(const std::string& referral_id, const SecretKey& key) override {
    return keys::Put(db_, ring_, clock_.Now(), referral_id, key);
  }
  absl::Status EraseReferral(const std::string& referral_id, const ErasureRecord& record) override {
    return keys::Erase(db_, referral_id, record);
  }
  absl::Status SetLegalHold(const std::string& referral_id,
                            const std::optional<LegalHoldRecord>& hold) override {
    return keys::SetLegalHold(db_, referral_id, hold);
  }
  absl::Status RecordErasureAnswer(const std::string& referral_id,
                                   const ErasureAnswerRecord& answer) override {
    return keys::RecordAnswer(db_, referral_id, answer);
  }

  // --- Citizen reports ---
  absl::StatusOr<std::optional<ReportRecord>> GetReport(const std::string& report_id) override {
    return reports::Get(db_, report_id);
  }
  absl::StatusOr<std::optional<ReportRecord>> FindReportByReceiptCode(
      const std::string& receipt_code) override {
    return reports::FindByReceiptCode(db_, receipt_code);
  }
  absl::StatusOr<std::vector<std::string>> ReportEvents(const std::string& report_id) override {
    return reports::Events(db_, report_id);
  }
  absl::StatusOr<std::optional<std::string>> ReportContact(const std::string& report_id) override {
    return reports::Contact(db_, report_id);
  }
  absl::Status InsertReport(const ReportRecord& report) override {
    return reports::Insert(db_, report);
  }
  absl::Status UpdateReport(const ReportRecord& report) override {
    return reports::Update(db_, report);
  }
  absl::Status PutReportContact(const std::string& report_id, const std::string& sealed) override {
    return reports::PutContact(db_, report_id, sealed);
  }
  absl::Status AppendReportEvent(const std::string& report_id, uint64_t sequence,
                                 const std::string& envelope) override {
    return reports::AppendEvent(db_, report_id, sequence, envelope);
  }

  // --- Service requests ---
  absl::StatusOr<std::optional<ServiceRequestRecord>> GetServiceRequest(
      const std::string& request_id) override {
    return service_requests::Get(db_, request_id);
  }
  absl::StatusOr<std::vector<std::string>> ServiceRequestEvents(
      const std::string& request_id) override {
    return service_requests::Events(db_, request_id);
  }
  absl::StatusOr<std::optional<v1::RosterEntry>> GetRosterEntry(const std::string& code) override {
    return service_requests::GetRosterEntry(db_, code);
  }
  absl::Status InsertServiceRequest(const ServiceRequestRecord& request) override {
    return service_requests::Insert(db_, request);
  }
  absl::Status UpdateServiceRequest(const ServiceRequestRecord& request) override {
    return service_requests::Update(db_, request);
  }
  absl::Status AppendServiceRequestEvent(const std::string& request_id, uint64_t sequence,
                                         const std::string& envelope) override {
    return service_requests::AppendEvent(db_, request_id, sequence, envelope);
  }
  absl::Status PutRosterEntry(const v1::RosterEntry& entry) override {
    return service_requests::PutRosterEntry(db_, entry, clock_.Now());
  }

  // --- Statistics reports ---
  absl::StatusOr<std::optional<StatisticsReportRecord>> GetStatisticsReport(
      const std::string& node_id, absl::Time month_start) override {
    return statistics::GetReport(db_, node_id, month_start);
  }
  absl::StatusOr<bool> PutStatisticsReport(const StatisticsReportRecord& record) override {
    return statistics::PutReport(db_, record);
  }

  absl::Time Now() const override { return clock_.Now(); }
  absl::Status Atomically(absl::FunctionRef<absl::Status()> fn) override {
    const int64_t remembered = envelopes_.row();
    absl::Status status = InSavepoint(db_, fn);
    // A receipt or envelope kept inside the rolled-back savepoint is gone again.
    if (!status.ok()) {
      receipts_.Forget();
      if (envelopes_.row() != remembered) envelopes_.Forget();
    }
    return status;
  }

 private:
  Db& db_;
  const Clock& clock_;
  const std::string& national_node_;
  const keys::KeyRing& ring_;
  SharedReceipts receipts_{db_};
  SharedEnvelope envelopes_;
};

// What a failed check leads to, for its message.
constexpr absl::string_view kRefusing = "refusing to open it";
constexpr absl::string_view kFailStopping = "the store is fail-stopped";

// A problem `PRAGMA quick_check` reports (page and cell numbers, no
// content), or a file that is no database: DATA_LOSS, and `consequence`.
absl::Status QuickCheck(Db& db, absl::string_view consequence) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db.raw(), "PRAGMA quick_check", -1, &raw, nullptr);
  StmtPtr stmt(raw);
  int problems = 0;
  std::string first;
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(raw, 0);
      const std::string line = text == nullptr ? "" : reinterpret_cast<const char*>(text);
      if (line == "ok") continue;
      if (problems++ == 0) first = line;
    }
  }
  if (rc != SQLITE_DONE && rc != SQLITE_OK) {
    const int primary = rc & 0xff;
    if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
      return MirError(
          absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE,
          absl::StrCat("database file is corrupt or not a database (", sqlite3_errstr(rc), "); ",
                       consequence, ": restore from backup"));
    }
    return db.Error(rc, "run PRAGMA quick_check");
  }
  if (problems > 0) {
    return MirError(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE,
                    absl::StrCat("database file failed PRAGMA quick_check with ", problems,
                                 " problem(s), first: ", Truncate(first, kMaxErrorBytes), "; ",
                                 consequence, ": restore from backup"));
  }
  return absl::OkStatus();
}

// Whether the last process to use `path` closed it cleanly, asked before
// this store opens it. In WAL mode SQLite deletes the WAL when the last
// connection closes cleanly (the store sets no persistent WAL), so a
// non-empty one means a crash, a kill, a fail-stopped close (which skips the
// checkpoint) or another connection still open: a torn page can only come
// from writes cut short, and every write goes through the WAL first. A WAL
// left empty (after a TRUNCATE checkpoint) held nothing the crash could
// tear. A hot rollback journal counts the same way; a WAL that cannot be
// looked at counts as unclean.
bool LastCloseWasClean(const std::string& path) {
  for (const char* suffix : {"-wal", "-journal"}) {
    struct stat st;
    if (stat((path + suffix).c_str(), &st) == 0) {
      if (st.st_size > 0) return false;
    } else if (errno != ENOENT) {
      return false;
    }
  }
  return true;
}

// The size of `path`, 0 if missing (a new file).
int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

class StoreImpl final : public Store {
 public:
  StoreImpl(const StoreOptions& options, const Clock& clock)
      : options_(options), clock_(clock), ring_{options.kek, options.previous_keks} {}

  ~StoreImpl() override {
    // First: the check's thread may still fail-stop the write queue.
    StopIntegrityCheck();
    // After a failure, do not let close-time checkpoints write to a disk
    // that has already lost a sync; the WAL is replayed on the next open.
    if (failed() && readers_ != nullptr) readers_->SkipCheckpointOnClose();
    // The last connection to close checkpoints: let that be the writer.
    readers_.reset();
    writes_.reset();
  }

  absl::Status Init() {
    constexpr int kFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    // Asked before any connection of ours creates a WAL. The full check
    // costs one read of the file (7.8 s at 1 M referrals): it delays the
    // start only when a torn page may be there, or costs next to nothing.
    bool check_now = !LastCloseWasClean(options_.path) ||
                     FileSize(options_.path) <= options_.blocking_check_max_bytes;
    // Made 0600 before SQLite opens it: SQLite gives the WAL and shm files
    // it creates the database file's mode. Files of older versions are
    // tightened too.
    RETURN_IF_ERROR(MakePrivateFile(options_.path));
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      const std::string companion = options_.path + suffix;
      if (access(companion.c_str(), F_OK) == 0) RETURN_IF_ERROR(MakePrivateFile(companion));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Db> writer,
                     Db::Open(options_.path, kFlags, options_.vfs_name));
    sqlite3_busy_timeout(writer->raw(),
                         static_cast<int>(absl::ToInt64Milliseconds(options_.busy_timeout)));

    if (!check_now) {
      // A migration rewrites a file it must first know is sound; a header
      // SQLite cannot read is for the check to name.
      absl::StatusOr<std::string> version =
          writer->QueryText("PRAGMA user_version", "read version");
      int number = 0;
      check_now = !version.ok() || !absl::SimpleAtoi(*version, &number) || number != kSchemaVersion;
    }
    if (check_now) RETURN_IF_ERROR(QuickCheck(*writer, kRefusing));
    RETURN_IF_ERROR(CheckSchemaVersion(*writer));
    ASSIGN_OR_RETURN(std::string mode,
                     writer->QueryText("PRAGMA journal_mode = WAL", "enable WAL"));
    if (mode != "wal") {
      return absl::FailedPreconditionError(
          absl::StrCat("the database refused WAL mode (journal_mode is ", mode, ")"));
    }
    RETURN_IF_ERROR(writer->Exec(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
        "set durability pragmas"));
    // Each write of a group commit runs in a SAVEPOINT, whose statement
    // journal SQLite spills from memory to a temp file (/var/tmp/etilqs_*)
    // beyond 64 KiB: files created, written and deleted on every busy commit.
    // Kept in memory they cost a group's changes in RAM, and measured 15 %
    // less CPU and 20 % fewer bytes written per referral
    // (docs/PERFORMANCE.md, "Bytes written per referral"). Nothing durable
    // lives there; the WAL is unaffected. Writer only: the reader's sorts
    // stay free to spill.
    RETURN_IF_ERROR(writer->Exec("PRAGMA temp_store = MEMORY", "keep temp files in memory"));
    // Before migrating: the queue's WAL hook replaces automatic checkpoints.
    writes_ = std::make_unique<WriteQueue>(std::move(writer));
    const MigrationContext context{&ring_, clock_.Now()};
    RETURN_IF_ERROR(writes_->WithWriter([&](Db& db) { return Migrate(db, context); }));
    // KEK rotation: after it every key is wrapped under options_.kek, and a
    // key under a KEK not configured stops the open here, not at its first
    // read.
    RETURN_IF_ERROR(
        writes_->Run([&](Db& db) { return keys::RewrapUnderCurrent(db, ring_).status(); }));

    ASSIGN_OR_RETURN(readers_, ReadPool::Open(options_.path, options_.vfs_name,
                                              options_.busy_timeout, options_.read_connections));
    if (check_now) {
      {
        absl::MutexLock lock(&check_mu_);
        check_.done = true;
      }
      check_done_.Notify();
      return absl::OkStatus();
    }
    return StartIntegrityCheck();
  }

  // --- Writes: each one a write of the queue ---

  absl::Status Transact(absl::FunctionRef<absl::Status(Txn&)> fn) override {
    return writes_->Run([&](Db& db) {
      TxnImpl txn(db, clock_, options_.national_node, ring_);
      return fn(txn);
    });
  }

  absl::StatusOr<ApplyResult> RecordAndEnqueue(
      const Event& event, const std::vector<OutgoingEnvelope>& outgoing) override {
    ApplyResult result;
    RETURN_IF_ERROR(Transact([&](Txn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(result, txn.ApplyEvent(event));
      for (const OutgoingEnvelope& o : outgoing) RETURN_IF_ERROR(txn.Enqueue(o));
      return absl::OkStatus();
    }));
    return result;
  }

  absl::StatusOr<int> MakeDueNow(const std::string& peer, absl::Time now) override {
    return Counting([&](Db& db) { return outbox::MakeDueNow(db, peer, now); }, Sync::kDeferred);
  }
  absl::Status MarkDelivered(int64_t id, const std::string& receipt) override {
    return writes_->Run(
        [&](Db& db) {
          SharedReceipts receipts(db);
          return outbox::MarkDelivered(db, receipts, id, receipt);
        },
        Sync::kDeferred);
  }
  absl::Status MarkDeliveredMany(
      const std::vector<std::pair<int64_t, std::string>>& deliveries) override {
    return writes_->Run(
        [&](Db& db) -> absl::Status {
          SharedReceipts receipts(db);
          for (const auto& [id, receipt] : deliveries) {
            RETURN_IF_ERROR(outbox::MarkDelivered(db, receipts, id, receipt));
          }
          return absl::OkStatus();
        },
        Sync::kDeferred);
  }
  absl::Status MarkAttemptFailed(int64_t id, absl::Time next_attempt_at,
                                 const std::string& error) override {
    return writes_->Run(
        [&](Db& db) { return outbox::MarkAttemptFailed(db, id, next_attempt_at, error); },
        Sync::kDeferred);
  }
  absl::Status MarkDead(int64_t id, const std::string& error) override {
    return writes_->Run([&](Db& db) { return outbox::MarkDead(db, id, error); });
  }
  absl::StatusOr<int> MarkDeadEnqueuedBy(const std::string& peer, absl::Time enqueued_by,
                                         const std::string& error) override {
    return Counting(
        [&](Db& db) { return outbox::MarkDeadEnqueuedBy(db, peer, enqueued_by, error); });
  }
  absl::StatusOr<int> Requeue(int64_t id) override {
    return Counting([&](Db& db) { return outbox::Requeue(db, id, clock_.Now()); });
  }
  absl::StatusOr<int> RequeueAllDead() override {
    return Counting([&](Db& db) { return outbox::RequeueAllDead(db, clock_.Now()); });
  }

  // --- Reads: on the read pool ---

  absl::Status Read(absl::FunctionRef<absl::Status(ReadTxn&)> fn) override {
    return OnReader([&](Db& db) -> absl::Status {
      RETURN_IF_ERROR(db.Exec("BEGIN", "begin a read snapshot"));
      // The read connection is query_only: the Txn's writes cannot run here.
      TxnImpl txn(db, clock_, options_.national_node, ring_);
      absl::Status status = fn(txn);
      // A read transaction left open would pin this snapshot for every later
      // read on the connection.
      if (absl::Status end = db.Exec("COMMIT", "end a read snapshot"); !end.ok()) {
        if (!sqlite3_get_autocommit(db.raw())) (void)db.Exec("ROLLBACK", "end a read snapshot");
        if (status.ok()) status = end;
      }
      return status;
    });
  }

  absl::StatusOr<std::vector<OutboxEntry>> DuePending(const std::string& peer, absl::Time now,
                                                      int limit) override {
    return OnReader([&](Db& db) { return Revealed(db, ring_, outbox::Due(db, peer, now, limit)); });
  }
  absl::StatusOr<std::optional<absl::Time>> NextDue(const std::string& peer,
                                                    absl::Time after) override {
    return OnReader([&](Db& db) { return outbox::NextDue(db, peer, after); });
  }
  absl::StatusOr<std::vector<OutboxEntry>> ListOutbox(std::optional<OutboxState> state,
                                                      int limit) override {
    return OnReader([&](Db& db) { return Revealed(db, ring_, outbox::List(db, state, limit)); });
  }
  absl::StatusOr<std::optional<OutboxEntry>> FindOutbox(const std::string& message_id) override {
    return OnReader([&](Db& db) { return Revealed(db, ring_, outbox::Find(db, message_id)); });
  }
  absl::StatusOr<std::optional<std::string>> NewestReceipt(const std::string& peer) override {
    return OnReader([&](Db& db) { return outbox::NewestReceipt(db, peer); });
  }
  absl::StatusOr<std::vector<OutboxEntry>> OutboxForReferral(
      const std::string& referral_id) override {
    return OnReader(
        [&](Db& db) { return Revealed(db, ring_, outbox::OfReferral(db, referral_id)); });
  }
  absl::StatusOr<std::optional<ReferralRecord>> GetReferral(
      const std::string& referral_id) override {
    return OnReader([&](Db& db) { return Revealed(db, ring_, ReadReferral(db, referral_id)); });
  }
  absl::StatusOr<std::vector<ReferralRecord>> ListReferrals(int limit) override {
    return OnReader([&](Db& db) { return Revealed(db, ring_, referrals::List(db, limit)); });
  }
  absl::StatusOr<std::vector<ReferralRecord>> QueryReferrals(const ReferralQuery& q) override {
    return OnReader([&](Db& db) { return Revealed(db, ring_, referrals::Query(db, q)); });
  }
  absl::StatusOr<std::vector<ReferralRecord>> EmergenciesAwaitingAck() override {
    return OnReader([&](Db& db) { return Revealed(db, ring_, referrals::AwaitingAck(db)); });
  }
  absl::StatusOr<bool> PartnerHasAccess(const std::string& referral_id,
                                        const std::string& partner) override {
    return OnReader([&](Db& db) { return referrals::PartnerHasAccess(db, referral_id, partner); });
  }
  absl::StatusOr<std::optional<InboxRecord>> FindInboxRecord(
      const std::string& message_id) override {
    return OnReader([&](Db& db) { return inbox::Find(db, message_id); });
  }
  absl::StatusOr<std::vector<HeldFromSender>> HeldBySender() override {
    return OnReader([&](Db& db) { return storage::HeldBySender(db); });
  }
  absl::StatusOr<std::vector<Event>> Timeline(const std::string& referral_id) override {
    return OnReader([&](Db& db) { return Revealed(db, ring_, ReadTimeline(db, referral_id)); });
  }
  absl::StatusOr<std::vector<std::string>> DueForErasure(v1::ReferralState state,
                                                         absl::Time reached_by,
                                                         int limit) override {
    return OnReader([&](Db& db) { return keys::DueForErasure(db, state, reached_by, limit); });
  }
  absl::StatusOr<std::vector<ReferralFact>> ReferralFacts(absl::Time from, absl::Time to) override {
    return OnReader([&](Db& db) { return statistics::Facts(db, from, to); });
  }
  absl::StatusOr<std::vector<ReportRecord>> QueryReports(const ReportQuery& query) override {
    return OnReader([&](Db& db) { return reports::Query(db, query); });
  }
  absl::StatusOr<std::vector<ServiceRequestRecord>> QueryServiceRequests(
      const ServiceRequestQuery& query) override {
    return OnReader([&](Db& db) { return service_requests::Query(db, query); });
  }
  absl::StatusOr<std::vector<v1::RosterEntry>> Roster() override {
    return OnReader([&](Db& db) { return service_requests::Roster(db); });
  }
  absl::StatusOr<std::vector<StatisticsReportRecord>> StatisticsReports(absl::Time from,
                                                                        absl::Time to) override {
    return OnReader([&](Db& db) { return statistics::Reports(db, from, to); });
  }
  absl::StatusOr<AuditCheck> VerifyAuditChain() override {
    return OnReader([&](Db& db) -> absl::StatusOr<AuditCheck> {
      // One read transaction: the walk and the head come from one snapshot.
      RETURN_IF_ERROR(db.Exec("BEGIN", "begin audit read"));
      absl::StatusOr<AuditCheck> check = WalkAuditChain(db, ring_);
      (void)db.Exec("COMMIT", "end audit read");
      return check;
    });
  }

  bool failed() const override { return writes_ != nullptr && writes_->failed(); }

  IntegrityCheckStatus integrity_check() const override {
    absl::MutexLock lock(&check_mu_);
    return check_;
  }
  bool WaitForIntegrityCheck(absl::Duration timeout) const override {
    return check_done_.WaitForNotificationWithTimeout(timeout);
  }

  absl::StatusOr<std::string> Pragma(const std::string& name) {
    std::string value;
    RETURN_IF_ERROR(writes_->WithWriter([&](Db& db) -> absl::Status {
      ASSIGN_OR_RETURN(value, db.QueryText(absl::StrCat("PRAGMA ", name), "read pragma"));
      return absl::OkStatus();
    }));
    return value;
  }

 private:
  // One write whose `fn` counts the rows it changed.
  absl::StatusOr<int> Counting(absl::FunctionRef<absl::StatusOr<int>(Db&)> fn,
                               Sync sync = Sync::kFull) {
    int changed = 0;
    RETURN_IF_ERROR(writes_->Run(
        [&](Db& db) -> absl::Status {
          ASSIGN_OR_RETURN(changed, fn(db));
          return absl::OkStatus();
        },
        sync));
    return changed;
  }

  // Runs the quick_check Open skipped on a connection and a thread of its
  // own. It holds one read snapshot throughout, so checkpoints cannot pass
  // it meanwhile (the WAL grows by the writes of those seconds).
  absl::Status StartIntegrityCheck() {
    ASSIGN_OR_RETURN(checker_, Db::Open(options_.path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                        options_.vfs_name));
    sqlite3_busy_timeout(checker_->raw(),
                         static_cast<int>(absl::ToInt64Milliseconds(options_.busy_timeout)));
    {
      absl::MutexLock lock(&check_mu_);
      check_.in_background = true;
    }
    MIR_LOG(INFO) << "store: last shutdown was clean; checking the database file in the "
                     "background (PRAGMA quick_check)";
    check_thread_ = std::thread([this, db = checker_.get()] { RunIntegrityCheck(*db); });
    return absl::OkStatus();
  }

  void RunIntegrityCheck(Db& db) {
    // A monotonic duration for the log only, never a decision: not the Clock.
    const auto start = std::chrono::steady_clock::now();
    absl::Status status = QuickCheck(db, kFailStopping);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bool stopped;
    {
      absl::MutexLock lock(&check_mu_);
      stopped = stop_check_;
    }
    if (stopped) {
      // An interrupted check may report anything, "ok" included.
      status = absl::CancelledError("the store closed before the integrity check finished");
    } else if (status.code() == absl::StatusCode::kDataLoss ||
               IsFatalSqliteCode(db.storage_error())) {
      // As after a failed commit: the file cannot be vouched for, so no
      // write goes on top of it. The message names pages, never content.
      writes_->FailStop();
      MIR_LOG(ERROR) << "store: integrity check failed after " << seconds
                     << " s: " << status.message();
    } else if (!status.ok()) {
      MIR_LOG(WARNING) << "store: integrity check could not run: " << status.message();
    } else {
      MIR_LOG(INFO) << "store: integrity check passed in " << seconds << " s";
    }
    {
      absl::MutexLock lock(&check_mu_);
      check_.done = true;
      check_.result = status;
    }
    check_done_.Notify();
  }

  void StopIntegrityCheck() {
    if (!check_thread_.joinable()) return;
    {
      absl::MutexLock lock(&check_mu_);
      stop_check_ = true;
    }
    // SQLite forgets an interrupt that lands before the check's statement
    // starts: repeat it until the check is done.
    do {
      sqlite3_interrupt(checker_->raw());
    } while (!check_done_.WaitForNotificationWithTimeout(absl::Milliseconds(20)));
    check_thread_.join();
    checker_.reset();
  }

  template <typename F>
  auto OnReader(F fn) -> decltype(fn(std::declval<Db&>())) {
    return readers_->With([&](Db& db) {
      db.ClearStorageError();
      auto result = fn(db);
      if (IsFatalSqliteCode(db.storage_error())) writes_->FailStop();
      return result;
    });
  }

  const StoreOptions options_;
  const Clock& clock_;
  const keys::KeyRing ring_;
  std::unique_ptr<WriteQueue> writes_;  // set by Init, then never changed

  std::unique_ptr<ReadPool> readers_;  // set by Init, then never changed

  mutable absl::Mutex check_mu_;
  IntegrityCheckStatus check_ ABSL_GUARDED_BY(check_mu_);
  bool stop_check_ ABSL_GUARDED_BY(check_mu_) = false;
  absl::Notification check_done_;
  // The background check's connection, used by its thread only: set before
  // the thread starts, closed after it is joined (sqlite3_interrupt excepted,
  // which SQLite allows from another thread while the connection is open).
  std::unique_ptr<Db> checker_;
  std::thread check_thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options,
                                                   const Clock* clock) {
  if (options.path.empty()) return absl::InvalidArgumentError("StoreOptions.path is empty");
  if (clock == nullptr) return absl::InvalidArgumentError("Store::Open needs a clock");
  auto store = std::make_unique<StoreImpl>(options, *clock);
  RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

absl::StatusOr<std::string> PragmaForTesting(Store& store, const std::string& name) {
  auto* impl = dynamic_cast<StoreImpl*>(&store);
  if (impl == nullptr) return absl::InvalidArgumentError("not a StoreImpl");
  return impl->Pragma(name);
}

}  // namespace mir::storage
