// A crash during a schema migration (RELIABILITY.md). Opening a version-1
// file holding 20 000 referrals migrates it in one transaction, backfilling
// the audit chain row by row, which takes a while; a child process doing it
// is SIGKILLed at random moments inside that transaction. After every kill
// the file is sound and at exactly one version: version 1 untouched, or the
// latest, complete. Opened again, it migrates and everything is there.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
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

// Forks a child that opens (so migrates) `path` and exits; kills it with
// SIGKILL after `delay` unless it finished. Returns its wait status.
int OpenInChild(const std::string& path, absl::Duration delay, bool kill_it) {
  const pid_t pid = fork();
  if (pid == 0) {
    StoreOptions o;
    o.path = path;
    FakeClock clock(kT0);
    _exit(Store::Open(o, &clock).ok() ? 0 : 1);
  }
  if (kill_it) {
    absl::SleepFor(delay);
    kill(pid, SIGKILL);
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

  // How long an undisturbed open takes here (a bound for the kill times,
  // not an assertion).
  const std::string timed = dir + "/timed.db";
  std::filesystem::copy_file(pristine, timed);
  const absl::Time start = absl::Now();
  ASSERT_EQ(OpenInChild(timed, absl::ZeroDuration(), /*kill_it=*/false), 0);
  const absl::Duration open_time = absl::Now() - start;

  std::mt19937 rng(std::random_device{}());
  int killed_inside = 0;  // killed with the migration's writes in the WAL
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const std::string path = absl::StrCat(dir, "/round-", round, ".db");
    std::filesystem::copy_file(pristine, path);
    const absl::Duration delay = open_time * (0.35 + 0.6 * (rng() % 1000) / 1000.0);
    const int status = OpenInChild(path, delay, /*kill_it=*/true);
    const bool was_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    std::error_code ignored;
    const bool wal_written = std::filesystem::file_size(path + "-wal", ignored) > 0 && !ignored;
    {
      RawDb raw = OpenRaw(path);  // recovers (discards) an uncommitted WAL
      EXPECT_EQ(QueryText(raw.get(), "PRAGMA integrity_check"), "ok");
      const std::string version = QueryText(raw.get(), "PRAGMA user_version");
      EXPECT_EQ(QueryInt(raw.get(), "SELECT count(*) FROM events"), kRows);
      const int64_t chained = QueryInt(
          raw.get(), "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'row_hash'");
      if (version == "1") {
        EXPECT_EQ(chained, 0) << "version 1 with part of version 2 in it";
        killed_inside += was_killed && wal_written;
      } else {
        EXPECT_EQ(version, std::to_string(kSchemaVersion));
        EXPECT_EQ(chained, 1);
      }
    }
    StoreOptions o;
    o.path = path;
    FakeClock clock(kT0);
    auto store = Store::Open(o, &clock);
    ASSERT_OK(store);
    auto chain = (*store)->VerifyAuditChain();
    ASSERT_OK(chain);
    EXPECT_TRUE(chain->ok) << chain->problem;
    EXPECT_EQ(chain->rows_checked, kRows);
    auto referral = (*store)->GetReferral(absl::StrCat("ref-", kRows));
    ASSERT_OK(referral);
    EXPECT_TRUE(referral->has_value());
  }
  // The kills did land inside the migration's transaction, not only
  // before or after it.
  EXPECT_GE(killed_inside, 1) << "open takes " << open_time << "; no kill hit the migration";
  std::cout << killed_inside << " of " << kRounds << " kills landed inside the migration ("
            << "an undisturbed open takes " << open_time << ")" << std::endl;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mir::storage
