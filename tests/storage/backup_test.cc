// Online backup, restore and verification (storage/backup.h): a copy taken
// while the store is open and written reads the same as the store at the
// copy's snapshot, verifies (integrity, audit chain, every receipt), never
// replaces a file, is 0600, and a damaged or tampered copy fails to verify.
// Real database files and real signatures from the test PKI.

#include "storage/backup.h"

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/files.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "crypto/sealing.h"
#include "crypto/signer.h"
#include "storage/store.h"
#include "tests/storage/storage_test_util.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::NewTempDir;
using ::mir::testing::PkiPath;
using ::mir::testing::ReadPkiFile;
using ::mir::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using namespace ::mir::storage::testing;  // NOLINT: event builders

std::string Ref(int i) { return absl::StrCat("3f1c2a9e-0000-4000-8000-", 100000000000 + i); }

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir();
    path_ = dir_ + "/toscana.db";
    auto toscana = Signer::FromPemFiles(PkiPath("toscana/node.key"), PkiPath("toscana/node.crt"));
    ASSERT_OK(toscana);
    toscana_ = *std::move(toscana);
    auto nvn = Signer::FromPemFiles(PkiPath("nvn/node.key"), PkiPath("nvn/node.crt"));
    ASSERT_OK(nvn);
    nvn_ = *std::move(nvn);
    StoreOptions o;
    o.path = path_;
    o.kek = &kek_;
    auto store = Store::Open(o, &clock_);
    ASSERT_OK(store);
    store_ = *std::move(store);
  }

  VerifyOptions Verify() const {
    VerifyOptions v;
    v.node_id = "toscana";
    v.kek = &kek_;
    v.ca_pem = ReadPkiFile("ca.crt");
    return v;
  }

  // Referral i: submitted here, its key kept, its envelope sent to nvn and
  // receipted by nvn; and a message from nvn received here, with our receipt.
  void Fill(int i) {
    const std::string ref = Ref(i);
    const absl::Time now = absl::Now();
    ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
      Event e = Submitted(ref);
      if (auto applied = txn.ApplyEvent(e); !applied.ok()) return applied.status();
      if (absl::Status s = txn.PutReferralKey(ref, SecretKey(std::string(32, 'a' + i % 26)));
          !s.ok()) {
        return s;
      }
      OutgoingEnvelope out =
          OutgoingAbout(e.message_id, ref, v1::REFERRAL, v1::URGENCY_EMERGENCY_24H, "nvn");
      if (absl::Status s = txn.Enqueue(out); !s.ok()) return s;
      const std::string in_id = absl::StrCat(ref, "/nvn/1");
      const std::string in_bytes = absl::StrCat("FROM-NVN:", ref);
      auto receipt = SignReceipt(*toscana_, {in_id, Sha256(in_bytes), "nvn"}, now);
      if (!receipt.ok()) return receipt.status();
      return txn.InsertInbox({in_id, "nvn", Sha256(in_bytes), *receipt, now});
    }));
    auto entry = store_->FindOutbox(absl::StrCat(ref, "/toscana/1"));
    ASSERT_OK(entry);
    ASSERT_TRUE(entry->has_value());
    auto receipt =
        SignReceipt(*nvn_, {(*entry)->message_id, Sha256((*entry)->envelope), "toscana"}, now);
    ASSERT_OK(receipt);
    ASSERT_OK(store_->MarkDelivered((*entry)->id, *receipt));
  }

  std::unique_ptr<Store> OpenCopy(const std::string& path) {
    StoreOptions o;
    o.path = path;
    o.kek = &kek_;
    auto store = Store::Open(o, &clock_);
    EXPECT_OK(store);
    return store.ok() ? *std::move(store) : nullptr;
  }

  FakeClock clock_{kT0};
  KeyEncryptionKey kek_ = TestKek();
  std::string dir_, path_;
  std::unique_ptr<Signer> toscana_, nvn_;
  std::unique_ptr<Store> store_;
};

TEST_F(BackupTest, CopyOfAnOpenStoreReadsTheSameAndVerifies) {
  for (int i = 0; i < 30; ++i) ASSERT_NO_FATAL_FAILURE(Fill(i));
  const std::string copy = NewTempDir() + "/backup.db";
  auto stats = BackupDatabase(path_, copy, {.pages_per_step = 4});
  ASSERT_OK(stats);
  EXPECT_GT(stats->pages, 0);
  EXPECT_GT(stats->steps, 1);

  struct stat st;
  ASSERT_EQ(::stat(copy.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // One self-contained file: nothing beside it, no WAL flag in its header.
  EXPECT_FALSE(std::filesystem::exists(copy + "-wal"));
  EXPECT_FALSE(std::filesystem::exists(copy + "-journal"));
  {
    std::ifstream in(copy, std::ios::binary);
    char header[20];
    in.read(header, sizeof header);
    EXPECT_EQ(header[18], 1) << "write version: rollback journal";
  }
  auto report = VerifyDatabase(copy, Verify());
  ASSERT_OK(report);
  EXPECT_THAT(report->problems, IsEmpty());
  EXPECT_TRUE(report->integrity_ok);
  EXPECT_EQ(report->referrals, 30);
  EXPECT_EQ(report->outbox_receipts_checked, 30);
  EXPECT_EQ(report->inbox_receipts_checked, 30);
  EXPECT_EQ(report->audit.rows_checked, 30);
  auto live_chain = store_->VerifyAuditChain();
  ASSERT_OK(live_chain);
  EXPECT_EQ(report->audit.head_hash, live_chain->head_hash);

  // Restored into a fresh folder, it opens as a store with the same data.
  const std::string restored = NewTempDir() + "/data/toscana.db";
  ASSERT_OK(RestoreDatabase(copy, restored));
  ASSERT_EQ(::stat(restored.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(std::filesystem::path(restored).parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::unique_ptr<Store> back = OpenCopy(restored);
  ASSERT_NE(back, nullptr);
  for (int i = 0; i < 30; ++i) {
    SCOPED_TRACE(i);
    const std::string ref = Ref(i);
    auto live = store_->GetReferral(ref);
    auto copied = back->GetReferral(ref);
    ASSERT_OK(copied);
    ASSERT_TRUE(copied->has_value());
    EXPECT_EQ((*copied)->referral_envelope, (*live)->referral_envelope);
    EXPECT_EQ((*copied)->state, (*live)->state);
    auto timeline = back->Timeline(ref);
    ASSERT_OK(timeline);
    EXPECT_THAT(*timeline, SizeIs(1));
    auto outbox = back->FindOutbox(absl::StrCat(ref, "/toscana/1"));
    ASSERT_OK(outbox);
    ASSERT_TRUE(outbox->has_value());
    EXPECT_EQ((*outbox)->state, OutboxState::kDelivered);
    EXPECT_EQ((*outbox)->receipt, (*store_->FindOutbox(absl::StrCat(ref, "/toscana/1")))->receipt);
    EXPECT_OK(back->FindInboxRecord(absl::StrCat(ref, "/nvn/1")));
    absl::Status keys = back->Read([&](ReadTxn& txn) -> absl::Status {
      const SecretKey expected(std::string(32, 'a' + i % 26));
      auto key = txn.GetReferralKey(ref, ReferralKeyId(expected));
      if (!key.ok()) return key.status();
      EXPECT_TRUE(key->has_value());
      if (key->has_value()) {
        EXPECT_EQ((*key)->bytes(), expected.bytes());
      }
      return absl::OkStatus();
    });
    EXPECT_OK(keys);
  }
}

TEST_F(BackupTest, CopyWhileWritesGoOnHoldsOneSnapshotWithEveryCommitBeforeIt) {
  for (int i = 0; i < 20; ++i) ASSERT_NO_FATAL_FAILURE(Fill(i));
  std::atomic<int> committed{20};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 20; !stop.load() && i < 2000; ++i) {
      Fill(i);
      committed.store(i + 1);
    }
  });
  const int before = committed.load();
  const std::string copy = NewTempDir() + "/backup.db";
  auto stats = BackupDatabase(path_, copy, {.pages_per_step = 2});
  stop.store(true);
  writer.join();
  ASSERT_OK(stats);
  auto report = VerifyDatabase(copy, Verify());
  ASSERT_OK(report);
  EXPECT_THAT(report->problems, IsEmpty());
  // Everything committed before the copy began is in it; the copy is one
  // commit boundary: each referral whole with its inbox row (one commit).
  // Its outbox receipt is Fill's second commit, so the copy may fall between
  // the two for the last referral only (not a torn copy: that commit had not
  // happened yet).
  EXPECT_GE(report->referrals, before);
  EXPECT_EQ(report->inbox_receipts_checked, report->referrals);
  EXPECT_GE(report->outbox_receipts_checked + 1, report->referrals);
  EXPECT_LE(report->outbox_receipts_checked, report->referrals);
}

TEST_F(BackupTest, NeverReplacesAFileAndRestoresOnlyIntoAnEmptyFolder) {
  ASSERT_NO_FATAL_FAILURE(Fill(1));
  const std::string folder = NewTempDir();
  const std::string copy = folder + "/backup.db";
  { std::ofstream(copy) << "precious"; }
  EXPECT_THAT(MIR_STATUS(BackupDatabase(path_, copy)), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(*ReadFile(copy), "precious");
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder)) ++files;
  EXPECT_EQ(files, 1) << "no partial copy left";

  const std::string good = folder + "/good.db";
  ASSERT_OK(BackupDatabase(path_, good));
  // The live database's folder is not empty: restore refuses it.
  EXPECT_THAT(RestoreDatabase(good, path_), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(MIR_STATUS(BackupDatabase(path_ + ".missing", folder + "/x.db")),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(BackupTest, DamagedOrTamperedCopiesFailToVerify) {
  for (int i = 0; i < 40; ++i) ASSERT_NO_FATAL_FAILURE(Fill(i));
  const std::string folder = NewTempDir();

  // Pages overwritten in the middle of the file.
  const std::string damaged = folder + "/damaged.db";
  ASSERT_OK(BackupDatabase(path_, damaged));
  {
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3 * 4096 + 100);
    const std::string garbage(2 * 4096, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  auto report = VerifyDatabase(damaged, Verify());
  ASSERT_OK(report);
  EXPECT_FALSE(report->ok());
  EXPECT_FALSE(report->integrity_ok);

  // Not a database at all.
  const std::string junk = folder + "/junk.db";
  { std::ofstream(junk) << std::string(8192, 'x'); }
  report = VerifyDatabase(junk, Verify());
  ASSERT_OK(report);
  EXPECT_FALSE(report->ok());

  // Sound pages, but a receipt replaced by one the peer never signed (ours)
  // and an inbox row's hash edited: the receipt checks find both.
  const std::string tampered = folder + "/tampered.db";
  ASSERT_OK(BackupDatabase(path_, tampered));
  {
    RawDb db = OpenRaw(tampered);
    const std::string id = absl::StrCat(Ref(7), "/toscana/1");
    auto entry = store_->FindOutbox(id);
    auto forged = SignReceipt(*toscana_, {id, Sha256((*entry)->envelope), "toscana"}, absl::Now());
    ASSERT_OK(forged);
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db.get(), "UPDATE outbox SET receipt = ? WHERE message_id = ?", -1,
                                 &stmt, nullptr),
              SQLITE_OK);
    sqlite3_bind_blob(stmt, 1, forged->data(), static_cast<int>(forged->size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
    sqlite3_finalize(stmt);
    Exec(db.get(),
         absl::StrCat("UPDATE inbox SET envelope_sha256 = zeroblob(32) WHERE message_id = '",
                      Ref(9), "/nvn/1'"));
  }
  report = VerifyDatabase(tampered, Verify());
  ASSERT_OK(report);
  ASSERT_THAT(report->problems, SizeIs(2));
  EXPECT_THAT(report->problems[0], HasSubstr(absl::StrCat("inbox ", Ref(9))));
  EXPECT_THAT(report->problems[1], HasSubstr(absl::StrCat("outbox ", Ref(7))));

  // The wrong KEK: the store does not open, which is a problem, not a pass.
  VerifyOptions wrong_kek = Verify();
  KeyEncryptionKey other = TestKek('z');
  wrong_kek.kek = &other;
  report = VerifyDatabase(folder + "/damaged.db", wrong_kek);
  ASSERT_OK(report);
  EXPECT_FALSE(report->ok());
  const std::string good = folder + "/good.db";
  ASSERT_OK(BackupDatabase(path_, good));
  report = VerifyDatabase(good, wrong_kek);
  ASSERT_OK(report);
  ASSERT_THAT(report->problems, SizeIs(1));
  EXPECT_THAT(report->problems[0], HasSubstr("does not open"));
}

}  // namespace
}  // namespace mir::storage
