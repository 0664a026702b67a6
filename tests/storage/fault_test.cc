// Disk faults through the shim VFS (storage/fault_vfs.h): a failed write,
// sync or a full disk gives a clear error, no acknowledgement, no corruption,
// and (except a full disk before COMMIT) a fail-stopped store.

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "storage/fault_vfs.h"
#include "storage/store.h"
#include "tests/storage/storage_test_util.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::NewTempDir;
using ::mir::testing::StatusIsReason;
using ::testing::HasSubstr;
using namespace ::mir::storage::testing;  // NOLINT: event builders
using enum v1::ReferralState;

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vfs_ = FaultVfs::Get("mir-fault-test");
    vfs_->Clear();
    vfs_->ResetCounters();
    path_ = NewTempDir() + "/node.db";
  }
  void TearDown() override {
    vfs_->Clear();
    vfs_->TrackUnsyncedWrites(false);
  }

  absl::StatusOr<std::unique_ptr<Store>> Open(bool faulty) {
    StoreOptions o;
    o.path = path_;
    if (faulty) o.vfs_name = vfs_->name();
    return Store::Open(o, &clock_);
  }

  std::unique_ptr<Store> OpenOrDie(bool faulty) {
    absl::StatusOr<std::unique_ptr<Store>> s = Open(faulty);
    EXPECT_OK(s);
    return s.ok() ? *std::move(s) : nullptr;
  }

  // Power is cut with `store` open: whatever it wrote since the last sync is
  // lost. Then the file is checked (CheckOnDisk, `acknowledged` all there)
  // and reopened with the plain VFS.
  std::unique_ptr<Store> PowerCutAndReopen(std::unique_ptr<Store> store,
                                           const std::set<std::string>& acknowledged) {
    vfs_->SimulateCrash();
    store.reset();
    EXPECT_OK(vfs_->DropUnsyncedWrites());
    vfs_->TrackUnsyncedWrites(false);
    EXPECT_EQ(CheckOnDisk(acknowledged), acknowledged);
    return OpenOrDie(false);
  }

  // One referral per write: its SUBMITTED event and one outbox entry.
  static absl::Status Write(Store& store, const std::string& ref) {
    return store.RecordAndEnqueue(Submitted(ref), {Outgoing("out-" + ref)}).status();
  }

  // Reopens with the plain "unix" VFS and checks the file: integrity ok,
  // every acknowledged referral there, each referral whole (event + outbox
  // row), the audit chain intact. Returns the referral ids present.
  std::set<std::string> CheckOnDisk(const std::set<std::string>& acknowledged) {
    std::set<std::string> present;
    {
      RawDb raw = OpenRaw(path_);
      EXPECT_EQ(QueryText(raw.get(), "PRAGMA integrity_check"), "ok");
    }
    std::unique_ptr<Store> store = OpenOrDie(false);
    if (store == nullptr) return present;
    absl::StatusOr<std::vector<ReferralRecord>> all = store->ListReferrals(0);
    EXPECT_OK(all);
    if (all.ok()) {
      for (const ReferralRecord& r : *all) {
        present.insert(r.meta.referral_id);
        EXPECT_EQ(store->Timeline(r.meta.referral_id)->size(), 1u) << r.meta.referral_id;
        EXPECT_TRUE(store->FindOutbox("out-" + r.meta.referral_id)->has_value())
            << r.meta.referral_id;
      }
    }
    for (const std::string& ref : acknowledged) EXPECT_EQ(present.count(ref), 1u) << "lost " << ref;
    absl::StatusOr<AuditCheck> audit = store->VerifyAuditChain();
    EXPECT_OK(audit);
    if (audit.ok()) {
      EXPECT_TRUE(audit->ok) << audit->problem;
    }
    return present;
  }

  FaultVfs* vfs_ = nullptr;
  std::string path_;
  FakeClock clock_{kT0};
};

TEST_F(FaultTest, EveryCommitSyncsTheWal) {
  std::unique_ptr<Store> store = OpenOrDie(true);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 5; ++i) {
    vfs_->ResetCounters();
    ASSERT_OK(Write(*store, absl::StrCat("r", i)));
    // synchronous=FULL in WAL mode: the WAL is synced before COMMIT returns.
    EXPECT_GE(vfs_->wal_syncs(), 1) << "commit " << i;
  }
}

// Recording a peer's receipt or a failed attempt is redone by a resend if
// lost, so it does not pay for its own sync; it must not leave later commits
// unsynced, and the next synced commit makes it durable with its own.
TEST_F(FaultTest, DeliveryRecordsDeferTheirSyncToTheNextCommit) {
  std::unique_ptr<Store> store = OpenOrDie(true);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(Write(*store, "r0"));
  absl::StatusOr<std::optional<OutboxEntry>> entry = store->FindOutbox("out-r0");
  ASSERT_OK(entry);
  ASSERT_TRUE(entry->has_value());
  vfs_->ResetCounters();
  ASSERT_OK(store->MarkAttemptFailed((*entry)->id, kT0 + absl::Seconds(1), "UNAVAILABLE"));
  ASSERT_OK(store->MarkDeliveredMany({{(*entry)->id, "receipt-r0"}}));
  EXPECT_EQ(vfs_->wal_syncs(), 0);
  EXPECT_GE(vfs_->writes(), 2) << "the deferred commits still reach the WAL file";
  ASSERT_OK(Write(*store, "r1"));
  EXPECT_GE(vfs_->wal_syncs(), 1) << "a deferred write left the next commit unsynced";
  store.reset();
  std::unique_ptr<Store> reopened = OpenOrDie(false);
  ASSERT_NE(reopened, nullptr);
  absl::StatusOr<std::optional<OutboxEntry>> after = reopened->FindOutbox("out-r0");
  ASSERT_OK(after);
  ASSERT_TRUE(after->has_value());
  EXPECT_EQ((*after)->state, OutboxState::kDelivered);
  EXPECT_EQ((*after)->receipt, "receipt-r0");
}

// The same claims under power loss as leveldb's fault_injection_test models
// it: at the crash, every byte written since its file's last sync is lost.

// The outbox entry of `message_id`, or a default one (an error is reported).
OutboxEntry EntryOf(Store& store, const std::string& message_id) {
  absl::StatusOr<std::optional<OutboxEntry>> entry = store.FindOutbox(message_id);
  EXPECT_OK(entry);
  if (!entry.ok() || !entry->has_value()) {
    ADD_FAILURE() << "no outbox entry " << message_id;
    return OutboxEntry();
  }
  return **entry;
}

// A crash right after deferred bookkeeping: every acknowledged write is
// there, the bookkeeping is lost, and it is redone as docs/STORAGE.md says
// (the entry is pending and due, so it is resent; the peer's stored receipt
// then marks it delivered).
TEST_F(FaultTest, PowerLossLosesOnlyDeferredBookkeepingWhichIsRedone) {
  vfs_->TrackUnsyncedWrites(true);
  std::unique_ptr<Store> store = OpenOrDie(true);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(Write(*store, "r0"));
  ASSERT_OK(Write(*store, "r1"));
  const OutboxEntry r0 = EntryOf(*store, "out-r0");
  const OutboxEntry r1 = EntryOf(*store, "out-r1");
  ASSERT_OK(store->MarkDelivered(r0.id, "receipt-r0"));
  ASSERT_OK(store->MarkAttemptFailed(r1.id, kT0 + absl::Minutes(5), "UNAVAILABLE"));
  EXPECT_EQ(EntryOf(*store, "out-r0").state, OutboxState::kDelivered);
  std::unique_ptr<Store> reopened = PowerCutAndReopen(std::move(store), {"r0", "r1"});
  ASSERT_NE(reopened, nullptr);
  const OutboxEntry lost_delivery = EntryOf(*reopened, "out-r0");
  EXPECT_EQ(lost_delivery.state, OutboxState::kPending);
  EXPECT_EQ(lost_delivery.receipt, "");
  const OutboxEntry lost_retry = EntryOf(*reopened, "out-r1");
  EXPECT_EQ(lost_retry.attempts, 0);
  EXPECT_EQ(lost_retry.next_attempt_at, kT0);
  absl::StatusOr<std::vector<OutboxEntry>> due = reopened->DuePending("lombardia", kT0, 0);
  ASSERT_OK(due);
  ASSERT_EQ(due->size(), 2u);
  ASSERT_OK(reopened->MarkDelivered(lost_delivery.id, "receipt-r0"));
  EXPECT_EQ(EntryOf(*reopened, "out-r0").receipt, "receipt-r0");
}

// Deferred bookkeeping followed by a synced commit: the commit's sync covers
// the WAL frames before it, so a crash then loses nothing.
TEST_F(FaultTest, PowerLossAfterTheNextSyncedCommitKeepsDeferredBookkeeping) {
  vfs_->TrackUnsyncedWrites(true);
  std::unique_ptr<Store> store = OpenOrDie(true);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(Write(*store, "r0"));
  const OutboxEntry r0 = EntryOf(*store, "out-r0");
  ASSERT_OK(store->MarkDeliveredMany({{r0.id, "receipt-r0"}}));
  ASSERT_OK(Write(*store, "r1"));
  // Bookkeeping after the last synced commit: lost, as above.
  ASSERT_OK(store->MarkAttemptFailed(EntryOf(*store, "out-r1").id, kT0 + absl::Minutes(5),
                                     "UNAVAILABLE"));
  std::unique_ptr<Store> reopened = PowerCutAndReopen(std::move(store), {"r0", "r1"});
  ASSERT_NE(reopened, nullptr);
  const OutboxEntry kept = EntryOf(*reopened, "out-r0");
  EXPECT_EQ(kept.state, OutboxState::kDelivered);
  EXPECT_EQ(kept.receipt, "receipt-r0");
  EXPECT_EQ(EntryOf(*reopened, "out-r1").attempts, 0);
}

struct FaultCase {
  std::string name;
  bool on_sync;
  FaultCode code;
  absl::StatusCode status;
  v1::ErrorReason reason;
  bool may_survive;  // a failed sync leaves the commit's fate to recovery
};

const std::vector<FaultCase>& FaultCases() {
  static const auto* const kCases = new std::vector<FaultCase>{
      {"EIO on write", false, FaultCode::kIoErrWrite, absl::StatusCode::kUnavailable,
       v1::STORE_UNAVAILABLE, false},
      {"ENOSPC on write", false, FaultCode::kFull, absl::StatusCode::kResourceExhausted,
       v1::STORE_FULL, false},
      {"EIO on fsync", true, FaultCode::kIoErrFsync, absl::StatusCode::kUnavailable,
       v1::STORE_UNAVAILABLE, true},
  };
  return *kCases;
}

TEST_F(FaultTest, FailedCommitIsNotAcknowledgedAndFailStops) {
  for (const FaultCase& c : FaultCases()) {
    SCOPED_TRACE(c.name);
    SetUp();
    std::set<std::string> acked;
    {
      std::unique_ptr<Store> store = OpenOrDie(true);
      ASSERT_NE(store, nullptr);
      for (const char* ref : {"a", "b", "c"}) {
        ASSERT_OK(Write(*store, ref));
        acked.insert(ref);
      }
      if (c.on_sync) {
        vfs_->FailSyncsAfter(0, c.code);
      } else {
        vfs_->FailWritesAfter(0, c.code);
      }
      const absl::Status failed = Write(*store, "doomed");
      EXPECT_THAT(failed, StatusIsReason(c.status, c.reason));
      EXPECT_THAT(failed.message(), HasSubstr("fail-stopped"));
      EXPECT_TRUE(store->failed());

      // Even with the disk healthy again, no more writes until reopened.
      vfs_->Clear();
      const absl::Status refused = Write(*store, "after");
      EXPECT_THAT(refused, StatusIsReason(absl::StatusCode::kUnavailable, v1::STORE_UNAVAILABLE));
      EXPECT_THAT(refused.message(), HasSubstr("reopen"));
      EXPECT_THAT(MIR_STATUS(store->MarkDead(1, "x")),
                  StatusIsReason(absl::StatusCode::kUnavailable, v1::STORE_UNAVAILABLE));
      // Reads of committed data still work.
      absl::StatusOr<std::optional<ReferralRecord>> a = store->GetReferral("a");
      ASSERT_OK(a);
      EXPECT_TRUE(a->has_value());
    }
    const std::set<std::string> present = CheckOnDisk(acked);
    EXPECT_EQ(present.count("after"), 0u);
    if (!c.may_survive) {
      EXPECT_EQ(present.count("doomed"), 0u);
    }

    // Reopened, the store takes writes again.
    std::unique_ptr<Store> reopened = OpenOrDie(false);
    ASSERT_NE(reopened, nullptr);
    EXPECT_FALSE(reopened->failed());
    EXPECT_OK(Write(*reopened, "later"));
  }
}

// The fault hits the N-th write or sync from now, for every N across a few
// commits: whatever the moment, acknowledged commits survive and the file is
// intact.
TEST_F(FaultTest, FaultAtEveryPointOfTheWriteLoop) {
  for (const FaultCase& c : FaultCases()) {
    for (int n = 0; n < 12; ++n) {
      SCOPED_TRACE(absl::StrCat(c.name, " after ", n, " operations"));
      SetUp();
      std::set<std::string> acked;
      {
        std::unique_ptr<Store> store = OpenOrDie(true);
        ASSERT_NE(store, nullptr);
        if (c.on_sync) {
          vfs_->FailSyncsAfter(n, c.code);
        } else {
          vfs_->FailWritesAfter(n, c.code);
        }
        absl::Status status;
        for (int i = 0; i < 40 && status.ok(); ++i) {
          const std::string ref = absl::StrCat("r", i);
          status = Write(*store, ref);
          if (status.ok()) acked.insert(ref);
        }
        ASSERT_FALSE(status.ok()) << "the fault never fired";
        EXPECT_EQ(ReasonOf(status), c.reason) << status;
        EXPECT_TRUE(store->failed());
        vfs_->Clear();
      }
      CheckOnDisk(acked);
    }
  }
}

// A citizen report is one write of three tables (the report, its contact
// apart, its first event). The fault hits the N-th write or sync from now:
// every acknowledged report is there whole after reopening, and any other
// report is whole or absent, never a report without its contact or event.
TEST_F(FaultTest, ReportWritesAreWholeOrAbsentAtEveryFaultPoint) {
  auto write_report = [](Store& store, const std::string& id) {
    return store.Transact([&](Txn& txn) -> absl::Status {
      ReportRecord r;
      r.report_id = id;
      r.origin_node = "toscana";
      r.recorded_at = kT0;
      r.updated_at = kT0;
      r.state = v1::REPORT_RECEIVED;
      r.sealed = "SEALED:" + id;
      r.request_sha256 = std::string(32, 'a');
      r.has_contact = true;
      RETURN_IF_ERROR(txn.InsertReport(r));
      RETURN_IF_ERROR(txn.PutReportContact(id, "CONTACT:" + id));
      return txn.AppendReportEvent(id, 1, "RECORDED:" + id);
    });
  };
  for (const FaultCase& c : FaultCases()) {
    for (int n = 0; n < 12; ++n) {
      SCOPED_TRACE(absl::StrCat(c.name, " after ", n, " operations"));
      SetUp();
      std::set<std::string> acked;
      {
        std::unique_ptr<Store> store = OpenOrDie(true);
        ASSERT_NE(store, nullptr);
        if (c.on_sync) {
          vfs_->FailSyncsAfter(n, c.code);
        } else {
          vfs_->FailWritesAfter(n, c.code);
        }
        absl::Status status;
        for (int i = 0; i < 40 && status.ok(); ++i) {
          const std::string id = absl::StrCat("report-", i);
          status = write_report(*store, id);
          if (status.ok()) acked.insert(id);
        }
        ASSERT_FALSE(status.ok()) << "the fault never fired";
        EXPECT_EQ(ReasonOf(status), c.reason) << status;
        EXPECT_TRUE(store->failed());
        vfs_->Clear();
      }
      {
        RawDb raw = OpenRaw(path_);
        EXPECT_EQ(QueryText(raw.get(), "PRAGMA integrity_check"), "ok");
      }
      std::unique_ptr<Store> store = OpenOrDie(false);
      ASSERT_NE(store, nullptr);
      ReportQuery every;
      every.limit = 0;
      absl::StatusOr<std::vector<ReportRecord>> all = store->QueryReports(every);
      ASSERT_OK(all);
      std::set<std::string> present;
      for (const ReportRecord& r : *all) {
        present.insert(r.report_id);
        ASSERT_OK(store->Read([&](ReadTxn& txn) -> absl::Status {
          ASSIGN_OR_RETURN(std::optional<std::string> contact, txn.ReportContact(r.report_id));
          EXPECT_EQ(contact, "CONTACT:" + r.report_id);
          ASSIGN_OR_RETURN(std::vector<std::string> events, txn.ReportEvents(r.report_id));
          EXPECT_EQ(events, std::vector<std::string>{"RECORDED:" + r.report_id});
          return absl::OkStatus();
        }));
      }
      for (const std::string& id : acked) EXPECT_EQ(present.count(id), 1u) << "lost " << id;
      if (!c.may_survive) {
        EXPECT_EQ(present.size(), acked.size());
      }
      RawDb raw = OpenRaw(path_);
      EXPECT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM report_contacts"),
                std::to_string(present.size()));
      EXPECT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM report_events"),
                std::to_string(present.size()));
    }
  }
}

// SQLITE_FULL before COMMIT (here: the page cache spilling a large
// transaction to the WAL) rolls the transaction back and leaves the store
// usable: nothing is indeterminate yet.
TEST_F(FaultTest, DiskFullInsideATransactionRollsBackWithoutFailStop) {
  std::unique_ptr<Store> store = OpenOrDie(true);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(Write(*store, "kept"));
  vfs_->FailWritesAfter(0, FaultCode::kFull);
  const std::string big(64 * 1024, 'x');
  int inserted = 0;
  const absl::Status status = store->Transact([&](Txn& txn) -> absl::Status {
    // ~6 MiB, beyond the default 2 MiB page cache, so SQLite must spill.
    for (int i = 0; i < 100; ++i) {
      OutgoingEnvelope o{absl::StrCat("big-", i), "lombardia", big, "", std::nullopt};
      RETURN_IF_ERROR(txn.Enqueue(o));
      ++inserted;
    }
    return absl::OkStatus();
  });
  EXPECT_THAT(status, StatusIsReason(absl::StatusCode::kResourceExhausted, v1::STORE_FULL));
  EXPECT_THAT(status.message(), HasSubstr("nothing was changed"));
  EXPECT_LT(inserted, 100) << "the spill should have failed a statement";
  EXPECT_FALSE(store->failed());
  vfs_->Clear();
  EXPECT_OK(Write(*store, "after"));
  EXPECT_EQ(*store->FindOutbox("big-0"), std::nullopt);
  store.reset();
  const std::set<std::string> present = CheckOnDisk({"kept", "after"});
  EXPECT_EQ(present.size(), 2u);
}

// A checkpoint runs after the commit that fills the WAL; its sync failing
// cannot un-acknowledge that commit (it is durable in the WAL) but stops
// further writes.
TEST_F(FaultTest, FailedCheckpointSyncFailStopsAfterAcknowledging) {
  std::unique_ptr<Store> store = OpenOrDie(true);
  ASSERT_NE(store, nullptr);
  std::set<std::string> acked;
  const std::string envelope(3000, 'e');
  bool stopped = false;
  for (int i = 0; i < 3000 && !stopped; ++i) {
    const std::string ref = absl::StrCat("r", i);
    // The commit's own WAL sync passes; a second sync in the same call can
    // only be the checkpoint's.
    vfs_->FailSyncsAfter(1, FaultCode::kIoErrFsync);
    Event e = Submitted(ref);
    e.envelope = envelope;
    const absl::Status s = store->RecordAndEnqueue(e, {}).status();
    ASSERT_OK(s);
    acked.insert(ref);
    stopped = store->failed();
  }
  vfs_->Clear();
  ASSERT_TRUE(stopped) << "no checkpoint happened";
  // Not an early commit with two syncs: the WAL had to fill up first.
  EXPECT_GT(acked.size(), 20u);
  EXPECT_THAT(MIR_STATUS(store->RecordAndEnqueue(Submitted("after"), {})),
              StatusIsReason(absl::StatusCode::kUnavailable, v1::STORE_UNAVAILABLE));
  store.reset();
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM referrals"),
            static_cast<int64_t>(acked.size()));
}

TEST_F(FaultTest, OpenFailsCleanlyOnAnUnwritableDisk) {
  vfs_->FailWritesAfter(0, FaultCode::kIoErrWrite);
  absl::StatusOr<std::unique_ptr<Store>> store = Open(true);
  EXPECT_THAT(store.status(),
              StatusIsReason(absl::StatusCode::kUnavailable, v1::STORE_UNAVAILABLE));
  vfs_->Clear();
  std::unique_ptr<Store> healthy = OpenOrDie(false);
  ASSERT_NE(healthy, nullptr);
  EXPECT_OK(Write(*healthy, "first"));
}

}  // namespace
}  // namespace mir::storage
