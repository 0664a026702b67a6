// Open's integrity check (PRAGMA quick_check): before Open returns after an
// unclean shutdown, so a damaged file is refused as ever; in the background
// after a clean one, where a damaged file fail-stops the store
// (docs/STORAGE.md, "Opening"). Corruption is made as leveldb's
// corruption_test does: junk over a known page of the file.

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "storage/store.h"
#include "tests/storage/storage_test_util.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::NewTempDir;
using ::mir::testing::StatusIsReason;
using ::testing::HasSubstr;
using namespace ::mir::storage::testing;  // NOLINT: event builders

// A bound against a hang, not a timing expectation: the check of these
// small files takes milliseconds.
constexpr absl::Duration kCheckBound = absl::Seconds(60);
constexpr int kReferrals = 2000;
constexpr int64_t kPageSize = 4096;  // SQLite's default, which the store keeps

bool NonEmpty(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && st.st_size > 0;
}

class StartupCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir();
    path_ = dir_ + "/node.db";
  }

  // `blocking_check_max_bytes` 0: every file is big enough for the check
  // to go to the background after a clean shutdown.
  absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                              int64_t blocking_check_max_bytes = 0) {
    StoreOptions o;
    o.path = path;
    o.kek = &kek_;
    o.blocking_check_max_bytes = blocking_check_max_bytes;
    return Store::Open(o, &clock_);
  }

  // kReferrals referrals, then a clean close: the WAL is gone.
  void Fill() {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open(path_);
    ASSERT_OK(opened);
    for (int batch = 0; batch < kReferrals / 100; ++batch) {
      ASSERT_OK((*opened)->Transact([&](Txn& txn) -> absl::Status {
        for (int i = 0; i < 100; ++i) {
          absl::StatusOr<ApplyResult> applied =
              txn.ApplyEvent(Submitted(absl::StrCat("ref-", batch * 100 + i)));
          if (!applied.ok()) return applied.status();
        }
        return absl::OkStatus();
      }));
    }
    opened->reset();
    ASSERT_FALSE(NonEmpty(path_ + "-wal"));
  }

  // The page holding the envelope of the referral in the middle (a leaf of
  // a table from the middle of the file): Open itself never reads it.
  int64_t MiddlePage() {
    std::ifstream in(path_, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t at = bytes.find(Submitted(absl::StrCat("ref-", kReferrals / 2)).envelope);
    EXPECT_NE(at, std::string::npos);
    EXPECT_LT(at, bytes.size() - kPageSize * 4) << "not in the middle of the file";
    return static_cast<int64_t>(at / kPageSize) + 1;
  }

  static void Scribble(const std::string& path, int64_t page) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((page - 1) * kPageSize);
    const std::string junk(kPageSize, '\xa5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    ASSERT_TRUE(f.good());
  }

  std::string dir_;
  std::string path_;
  FakeClock clock_{kT0};
  KeyEncryptionKey kek_ = TestKek();
};

TEST_F(StartupCheckTest, DamageFoundInTheBackgroundAfterACleanShutdownFailStopsTheStore) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(QueryInt(raw.get(), "PRAGMA page_size"), kPageSize);
    ASSERT_GE(QueryInt(raw.get(), "PRAGMA page_count"), 100);
  }
  const int64_t page = MiddlePage();
  ASSERT_NO_FATAL_FAILURE(Scribble(path_, page));

  // Open does not read the page: it returns before the check has run.
  absl::StatusOr<std::unique_ptr<Store>> opened = Open(path_);
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_TRUE(store.integrity_check().in_background);

  ASSERT_TRUE(store.WaitForIntegrityCheck(kCheckBound));
  const IntegrityCheckStatus check = store.integrity_check();
  EXPECT_TRUE(check.done);
  EXPECT_THAT(check.result, StatusIsReason(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE));
  EXPECT_THAT(check.result.message(), HasSubstr("fail-stopped"));
  EXPECT_TRUE(store.failed());

  // Refused as after a failed commit, and nothing written.
  EXPECT_THAT(store.RecordAndEnqueue(Submitted("after-the-check"), {}).status(),
              StatusIsReason(absl::StatusCode::kUnavailable, v1::STORE_UNAVAILABLE));
  absl::StatusOr<std::optional<ReferralRecord>> after = store.GetReferral("after-the-check");
  ASSERT_OK(after);
  EXPECT_FALSE(after->has_value());
  // Reads of sound pages still work.
  absl::StatusOr<std::optional<ReferralRecord>> first = store.GetReferral("ref-0");
  ASSERT_OK(first);
  EXPECT_TRUE(first->has_value());
}

TEST_F(StartupCheckTest, AfterAnUncleanShutdownOpenChecksBeforeReturning) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  const int64_t page = MiddlePage();
  // A crash: the files as a store left them while it still held them open,
  // with a commit in the WAL (one that does not touch `page`).
  const std::string sound = dir_ + "/sound.db";
  const std::string damaged = dir_ + "/damaged.db";
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open(path_);
    ASSERT_OK(opened);
    ASSERT_TRUE((*opened)->WaitForIntegrityCheck(kCheckBound));
    ASSERT_OK((*opened)->RecordAndEnqueue(Submitted("in-the-wal"), {}));
    ASSERT_TRUE(NonEmpty(path_ + "-wal"));
    for (const std::string& copy : {sound, damaged}) {
      std::filesystem::copy_file(path_, copy);
      std::filesystem::copy_file(path_ + "-wal", copy + "-wal");
    }
  }
  ASSERT_NO_FATAL_FAILURE(Scribble(damaged, page));

  // Refused at Open, as before background checks existed.
  const absl::Status refused = Open(damaged).status();
  EXPECT_THAT(refused, StatusIsReason(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE));
  EXPECT_THAT(refused.message(), HasSubstr("refusing to open it: restore from backup"));

  // The sound copy was checked inside Open, and recovered its WAL.
  absl::StatusOr<std::unique_ptr<Store>> opened = Open(sound);
  ASSERT_OK(opened);
  const IntegrityCheckStatus check = (*opened)->integrity_check();
  EXPECT_FALSE(check.in_background);
  EXPECT_TRUE(check.done);
  EXPECT_OK(check.result);
  absl::StatusOr<std::optional<ReferralRecord>> recovered = (*opened)->GetReferral("in-the-wal");
  ASSERT_OK(recovered);
  EXPECT_TRUE(recovered->has_value());
}

TEST_F(StartupCheckTest, ASoundFilePassesTheBackgroundCheckAndKeepsServingWrites) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  absl::StatusOr<std::unique_ptr<Store>> opened = Open(path_);
  ASSERT_OK(opened);
  Store& store = **opened;
  // Writes are served while the check runs, and after.
  ASSERT_OK(store.RecordAndEnqueue(Submitted("during"), {}));
  ASSERT_TRUE(store.WaitForIntegrityCheck(kCheckBound));
  const IntegrityCheckStatus check = store.integrity_check();
  EXPECT_TRUE(check.in_background);
  EXPECT_TRUE(check.done);
  EXPECT_OK(check.result);
  EXPECT_FALSE(store.failed());
  ASSERT_OK(store.RecordAndEnqueue(Submitted("after"), {}));
  absl::StatusOr<std::optional<ReferralRecord>> after = store.GetReferral("after");
  ASSERT_OK(after);
  EXPECT_TRUE(after->has_value());
}

TEST_F(StartupCheckTest, ASmallFileIsCheckedBeforeOpenReturns) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  // The default bound: this file is far under it.
  StoreOptions defaults;
  ASSERT_LT(std::filesystem::file_size(path_), defaults.blocking_check_max_bytes);
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open(path_, defaults.blocking_check_max_bytes);
    ASSERT_OK(opened);
    const IntegrityCheckStatus check = (*opened)->integrity_check();
    EXPECT_FALSE(check.in_background);
    EXPECT_TRUE(check.done);
    EXPECT_TRUE((*opened)->WaitForIntegrityCheck(absl::ZeroDuration()));
  }
  ASSERT_NO_FATAL_FAILURE(Scribble(path_, MiddlePage()));
  EXPECT_THAT(Open(path_, defaults.blocking_check_max_bytes).status(),
              StatusIsReason(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE));
}

// Closing stops the check: no thread outlives the store (TSan watches), and
// the check ends done, passed or cancelled, never fail-stopping a sound file.
TEST_F(StartupCheckTest, ClosingStopsTheBackgroundCheck) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  for (int i = 0; i < 20; ++i) {
    SCOPED_TRACE(i);
    absl::StatusOr<std::unique_ptr<Store>> opened = Open(path_);
    ASSERT_OK(opened);
    opened->reset();
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open(path_);
  ASSERT_OK(opened);
  ASSERT_TRUE((*opened)->WaitForIntegrityCheck(kCheckBound));
  EXPECT_OK((*opened)->integrity_check().result);
}

}  // namespace
}  // namespace mir::storage
