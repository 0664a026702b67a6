// A writer process killed with SIGKILL at random moments keeps every commit
// it acknowledged and no partial transaction, round after round on the same
// file (each round's writer starts by recovering the previous one's WAL).

#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "storage/store.h"
#include "tests/storage/storage_test_util.h"
#include "tests/testing/test_env.h"

#ifndef MIR_CRASH_WRITER
#error "MIR_CRASH_WRITER must name the crash writer binary"
#endif

namespace mir::storage {
namespace {

using ::mir::testing::NewTempDir;
using namespace ::mir::storage::testing;  // NOLINT

constexpr int kRounds = 25;
constexpr int kMaxGroup = 8;  // largest transaction crash_writer makes

// A bound on waiting for a writer's first acknowledgement, against a hang,
// not a timing expectation (it takes milliseconds); under CTest's timeout so
// that a hang fails with a message saying so.
constexpr std::chrono::seconds kFirstAckBound(90);

struct WriterRun {
  std::string out;            // everything the writer printed: its acknowledgements
  int wait_status = 0;        // from waitpid
  bool no_first_ack = false;  // after_first_ack, and kFirstAckBound passed first
};

// Starts the writer, lets it run for `run_for` (counted from its first
// acknowledgement when `after_first_ack`, so the kill lands in the write loop
// however slow the machine is), kills it with SIGKILL and returns what it
// printed.
WriterRun RunAndKill(const std::string& db, const std::string& prefix,
                     std::chrono::microseconds run_for, bool after_first_ack) {
  WriterRun run;
  int fds[2];
  if (pipe(fds) != 0) return run;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(MIR_CRASH_WRITER, MIR_CRASH_WRITER, db.c_str(), prefix.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  // Read until the first acknowledgement or the writer's death (end of file).
  // Each acknowledgement is one write(2) of less than PIPE_BUF, so the first
  // read holds whole lines.
  bool writer_died = false;
  if (after_first_ack) {
    const auto bound = std::chrono::steady_clock::now() + kFirstAckBound;
    while (run.out.empty() && !writer_died) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          bound - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        run.no_first_ack = true;
        break;
      }
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) {
        writer_died = true;
      } else {
        run.out.append(buf, static_cast<size_t>(n));
      }
    }
  }
  // Then let it run for `run_for`, draining the pipe so that a full pipe
  // never blocks the writer.
  const auto deadline = std::chrono::steady_clock::now() + run_for;
  while (!writer_died) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) > 0) {
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;  // the writer died on its own
      run.out.append(buf, static_cast<size_t>(n));
    }
  }
  kill(pid, SIGKILL);
  // Whatever it wrote before dying is still in the pipe.
  while (true) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    run.out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  waitpid(pid, &run.wait_status, 0);
  return run;
}

TEST(CrashTest, KilledWriterKeepsEveryAcknowledgedCommitAndNoPartialOne) {
  const std::string db = NewTempDir() + "/node.db";
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::set<std::string> acknowledged;
  int64_t committed_before = 0;
  int killed_mid_run = 0;

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    // Sometimes during open and migration, mostly in the write loop.
    const auto run_for =
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 60'000)(rng));
    // Odd rounds kill in the write loop; even ones may land in open/migration.
    const bool after_first_ack = round % 2 == 1;
    const WriterRun run = RunAndKill(db, absl::StrCat("r", round), run_for, after_first_ack);
    ASSERT_FALSE(run.no_first_ack)
        << "the writer acknowledged nothing in " << kFirstAckBound.count() << " s: hung in open?";
    ASSERT_TRUE(WIFSIGNALED(run.wait_status) && WTERMSIG(run.wait_status) == SIGKILL)
        << "the writer exited by itself with status " << run.wait_status;
    int64_t acked_this_round = 0;
    for (absl::string_view line : absl::StrSplit(run.out, '\n', absl::SkipEmpty())) {
      acknowledged.insert(std::string(line));
      ++acked_this_round;
    }
    if (after_first_ack) {
      ASSERT_GT(acked_this_round, 0) << "the kill was meant to land in the write loop";
    }
    if (acked_this_round > 0) ++killed_mid_run;

    RawDb raw = OpenRaw(db);
    // Check without checkpointing on close, so the next writer recovers
    // the WAL exactly as the killed one left it.
    sqlite3_db_config(raw.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    ASSERT_EQ(QueryText(raw.get(), "PRAGMA integrity_check"), "ok");
    if (QueryText(raw.get(), "PRAGMA user_version") == "0") {
      // Killed before the schema transaction committed: nothing else either.
      ASSERT_EQ(acked_this_round, 0);
      ASSERT_EQ(committed_before, 0);
      continue;
    }
    const int64_t referrals = QueryInt(raw.get(), "SELECT COUNT(*) FROM referrals");
    // No partial transaction: every referral is whole.
    EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM events"), 2 * referrals);
    EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM outbox"), referrals);
    EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM referrals WHERE state = 2"), referrals);
    // Every acknowledged commit is there; at most one transaction more per
    // round (committed, killed before it could say so).
    for (const std::string& ref : acknowledged) {
      ASSERT_EQ(
          QueryText(raw.get(), "SELECT COUNT(*) FROM referrals WHERE referral_id = '" + ref + "'"),
          "1")
          << "lost acknowledged referral " << ref;
    }
    const int64_t committed_this_round = referrals - committed_before;
    EXPECT_GE(committed_this_round, acked_this_round);
    EXPECT_LE(committed_this_round, acked_this_round + kMaxGroup);
    committed_before = referrals;
  }

  // Finally the store itself agrees, chain included.
  StoreOptions options;
  options.path = db;
  FakeClock clock(kT0);
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options, &clock);
  ASSERT_OK(store);
  absl::StatusOr<AuditCheck> audit = (*store)->VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  EXPECT_EQ(audit->rows_checked, 2 * committed_before);
  std::printf(
      "crash test: %d rounds (%d killed in the write loop), %zu acknowledged referrals, "
      "%lld committed\n",
      kRounds, killed_mid_run, acknowledged.size(), static_cast<long long>(committed_before));
}

}  // namespace
}  // namespace mir::storage
