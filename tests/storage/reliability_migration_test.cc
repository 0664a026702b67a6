// A crash during a schema migration (RELIABILITY.md). Opening a version-1
// file holding 20 000 referrals migrates it in one transaction, backfilling
// the audit chain and sealing every envelope at rest (version 9) row by row;
// a child process doing it is SIGKILLed just
// before one of its writes, picked at random (mostly one of the migration's
// WAL frames). After every kill the file is sound and at exactly one
// version: version 1 untouched, or the latest, complete. Opened again, it
// migrates and everything is there. Kills are placed by counting writes, not
// by timing, so where each lands is known and checked.

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <new>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "tests/storage/storage_test_util.h"
#include "tests/storage/v1_schema.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::NewTempDir;
using namespace ::mir::storage::testing;  // NOLINT

constexpr int kRows = 20000;
constexpr int kRounds = 10;

void MakeVersionOneFile(const std::string& path) {
  RawDb raw = OpenRaw(path);
  ASSERT_EQ(Exec(raw.get(), kV1Schema), "");
  const std::string rows = absl::StrCat(
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ", kRows, ") ");
  ASSERT_EQ(Exec(raw.get(), rows + R"sql(
    INSERT INTO referrals SELECT 'ref-' || i, 'toscana', 'lombardia', 2, NULL, 1,
      1700000000000000 + i, 1700000000000000 + i, randomblob(500) FROM c)sql"),
            "");
  ASSERT_EQ(Exec(raw.get(), rows + R"sql(
    INSERT INTO events (referral_id, sender_node, sequence, message_id, to_state, actor_node,
      actor_role, actor_name, at_us, reason, envelope, origin_node, destination_node, urgency,
      ack_deadline_us, applied_at_us)
    SELECT 'ref-' || i, 'toscana', 1, 'ref-' || i || '/toscana/1', 1, 'toscana', 'operator',
      'anna', 1700000000000000 + i, '', randomblob(500), 'toscana', 'lombardia', 2, NULL,
      1700000000000000 + i FROM c)sql"),
            "");
  ASSERT_EQ(Exec(raw.get(), rows + "INSERT INTO streams SELECT 'ref-' || i, 'toscana', 1 FROM c"),
            "");
  ASSERT_EQ(Exec(raw.get(), "PRAGMA user_version = 1"), "");
}

// A VFS over "unix" that counts writes (xWrite) and, in a child, dies by
// SIGKILL just before write number `kill_at`: the file is left as a kill at
// that moment would leave it. It reuses unix's file objects, swapping in a
// copy of their methods with xWrite counted, and keeps after each object
// its real methods and whether it is a WAL.
struct WriteCount {
  int64_t writes = 0;     // every write so far
  int64_t first_wal = 0;  // the number of the first write to a WAL, 0 if none
  int64_t last_wal = 0;   // ... and of the last
};

class KillAtWriteVfs {
 public:
  static constexpr const char* kName = "mir-kill-at-write";

  static void Register() {
    if (sqlite3_vfs_find(kName) != nullptr) return;
    unix_ = sqlite3_vfs_find("unix");
    vfs_ = *unix_;
    vfs_.szOsFile = TrailerOffset() + static_cast<int>(sizeof(Trailer));
    vfs_.zName = kName;
    vfs_.xOpen = &Open;
    sqlite3_vfs_register(&vfs_, /*makeDflt=*/0);
  }
  // Counting starts afresh; 0: never kill.
  static void Reset(int64_t kill_at) {
    count_ = WriteCount();
    kill_at_ = kill_at;
  }
  static const WriteCount& count() { return count_; }

 private:
  struct Trailer {
    const sqlite3_io_methods* real;
    bool wal;
  };
  static int TrailerOffset() {
    constexpr int kAlign = alignof(Trailer);
    return (unix_->szOsFile + kAlign - 1) / kAlign * kAlign;
  }
  static Trailer* TrailerOf(sqlite3_file* file) {
    return reinterpret_cast<Trailer*>(reinterpret_cast<char*>(file) + TrailerOffset());
  }
  static int Open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
    const int rc = unix_->xOpen(unix_, name, file, flags, out_flags);
    if (rc != SQLITE_OK || file->pMethods == nullptr) return rc;
    // unix has several method tables (main database, other files): one copy each.
    auto [it, added] = methods_.try_emplace(file->pMethods, *file->pMethods);
    if (added) it->second.xWrite = &Write;
    new (TrailerOf(file)) Trailer{file->pMethods, (flags & SQLITE_OPEN_WAL) != 0};
    file->pMethods = &it->second;
    return rc;
  }
  static int Write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
    const int64_t n = ++count_.writes;
    if (n == kill_at_) kill(getpid(), SIGKILL);
    const Trailer* trailer = TrailerOf(file);
    if (trailer->wal) {
      if (count_.first_wal == 0) count_.first_wal = n;
      count_.last_wal = n;
    }
    return trailer->real->xWrite(file, data, amount, offset);
  }

  static inline sqlite3_vfs* unix_ = nullptr;
  static inline sqlite3_vfs vfs_;
  static inline std::map<const sqlite3_io_methods*, sqlite3_io_methods> methods_;
  static inline WriteCount count_;
  static inline int64_t kill_at_ = 0;
};

// The node's KEK: the migration seals the version-1 envelopes at rest.
const KeyEncryptionKey& Kek() {
  static const KeyEncryptionKey* const kKek = new KeyEncryptionKey(TestKek());
  return *kKek;
}

absl::Status OpenAndClose(const std::string& path) {
  StoreOptions o;
  o.path = path;
  o.kek = &Kek();
  o.vfs_name = KillAtWriteVfs::kName;
  FakeClock clock(kT0);
  return Store::Open(o, &clock).status();
}

// Forks a child that opens (so migrates) `path`, to be killed just before
// its `kill_at`th write. Returns its wait status.
int OpenInChild(const std::string& path, int64_t kill_at) {
  const pid_t pid = fork();
  if (pid == 0) {
    KillAtWriteVfs::Reset(kill_at);
    _exit(OpenAndClose(path).ok() ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(MigrationCrashTest, KilledMidMigrationLeavesOneWholeVersion) {
  const std::string dir = NewTempDir();
  const std::string pristine = dir + "/v1.db";
  MakeVersionOneFile(pristine);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  KillAtWriteVfs::Register();

  // An undisturbed open of a copy, counting its writes: the migration's
  // transaction is the WAL's writes, first_wal (its header) to last_wal
  // (its commit frame); what comes after is the checkpoint.
  const std::string counted = dir + "/counted.db";
  std::filesystem::copy_file(pristine, counted);
  KillAtWriteVfs::Reset(0);
  ASSERT_OK(OpenAndClose(counted));
  const WriteCount count = KillAtWriteVfs::count();
  ASSERT_GT(count.first_wal, 0);
  ASSERT_GT(count.last_wal, count.first_wal + 2);
  ASSERT_GT(count.writes, count.last_wal);

  std::mt19937 rng(std::random_device{}());
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  int killed_inside = 0;  // killed with part of the migration in the WAL
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const std::string path = absl::StrCat(dir, "/round-", round, ".db");
    std::filesystem::copy_file(pristine, path);
    // Odd rounds kill between the WAL's header and its commit frame; even
    // ones before, inside or after the migration.
    const int64_t kill_at =
        round % 2 == 1 ? uniform(count.first_wal + 1, count.last_wal) : uniform(1, count.writes);
    SCOPED_TRACE(absl::StrCat("killed before write ", kill_at, " of ", count.writes,
                              " (WAL: ", count.first_wal, " to ", count.last_wal, ")"));
    const int status = OpenInChild(path, kill_at);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the open did not reach write " << kill_at << " (status " << status << ")";
    const bool inside = kill_at > count.first_wal && kill_at <= count.last_wal;
    std::error_code ignored;
    const bool wal_written = std::filesystem::file_size(path + "-wal", ignored) > 0 && !ignored;
    {
      RawDb raw = OpenRaw(path);  // recovers (discards) an uncommitted WAL
      EXPECT_EQ(QueryText(raw.get(), "PRAGMA integrity_check"), "ok");
      const std::string version = QueryText(raw.get(), "PRAGMA user_version");
      EXPECT_EQ(QueryInt(raw.get(), "SELECT count(*) FROM events"), kRows);
      const int64_t chained = QueryInt(
          raw.get(), "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'row_hash'");
      const int64_t sealed = QueryInt(raw.get(),
                                      "SELECT count(*) FROM events WHERE "
                                      "hex(substr(envelope, 1, 7)) = '004D4952415231'");
      if (kill_at <= count.last_wal) {
        // Before the commit frame: version 1, none of version 2 in it.
        EXPECT_EQ(version, "1");
        EXPECT_EQ(chained, 0) << "version 1 with part of version 2 in it";
        EXPECT_EQ(sealed, 0) << "version 1 with envelopes sealed by version 9";
        if (inside) {
          EXPECT_TRUE(wal_written) << "killed inside the migration with nothing in the WAL";
          killed_inside += wal_written;
        }
      } else {
        // In the checkpoint, after the commit.
        EXPECT_EQ(version, std::to_string(kSchemaVersion));
        EXPECT_EQ(chained, 1);
        EXPECT_EQ(sealed, kRows);
      }
    }
    StoreOptions o;
    o.path = path;
    o.kek = &Kek();
    FakeClock clock(kT0);
    auto store = Store::Open(o, &clock);
    ASSERT_OK(store);
    auto chain = (*store)->VerifyAuditChain();
    ASSERT_OK(chain);
    EXPECT_TRUE(chain->ok) << chain->problem;
    EXPECT_EQ(chain->rows_checked, kRows);
    auto referral = (*store)->GetReferral(absl::StrCat("ref-", kRows));
    ASSERT_OK(referral);
    ASSERT_TRUE(referral->has_value());
    EXPECT_EQ((*referral)->referral_envelope.size(), 500u);  // sealed at rest, read back whole
  }
  EXPECT_GE(killed_inside, kRounds / 2);
  std::cout << killed_inside << " of " << kRounds << " kills landed inside the migration (an "
            << "undisturbed open makes " << count.writes << " writes, WAL " << count.first_wal
            << " to " << count.last_wal << ")" << std::endl;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mir::storage
