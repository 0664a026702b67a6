// mir-store-bench: committed events per second and commit latency of the
// Store on a real disk (docs/STORAGE.md, "Benchmark"). Not a test.
//
//   mir-store-bench [--dir DIR] [--events N] [--group G] [--envelope-bytes B]
//
// Each event is the SUBMITTED event of a new referral carrying a B-byte
// envelope (default 1 KiB), optionally with one outbox entry of the same
// size (the broker's local-action path). Runs four phases on fresh files:
// one transaction per event, and G events per transaction (Transact), each
// without and with the outbox entry. DIR must be on the disk you care about:
// tmpfs is refused, since it never syncs.

#include <fcntl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "storage/store.h"

namespace {

using mir::storage::Event;
using mir::storage::OutgoingEnvelope;
using mir::storage::ReferralMeta;
using mir::storage::Store;
using mir::storage::StoreOptions;
using mir::storage::Txn;
using Clock = std::chrono::steady_clock;

constexpr long kTmpfsMagic = 0x01021994;

struct Flags {
  std::string dir;
  int events = 3000;
  int group = 64;
  int envelope_bytes = 1024;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--dir" && has_value) {
      flags->dir = argv[++i];
    } else if (arg == "--events" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &flags->events) || flags->events <= 0) return false;
    } else if (arg == "--group" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &flags->group) || flags->group <= 0) return false;
    } else if (arg == "--envelope-bytes" && has_value) {
      if (!absl::SimpleAtoi(argv[++i], &flags->envelope_bytes) || flags->envelope_bytes <= 0)
        return false;
    } else {
      return false;
    }
  }
  return true;
}

Event SubmittedEvent(const std::string& ref, const std::string& envelope, absl::Time now) {
  Event e;
  e.referral_id = ref;
  e.message_id = ref + "/toscana/1";
  e.sender_node = "toscana";
  e.sequence = 1;
  e.to_state = mir::v1::SUBMITTED;
  e.actor = mir::Identity{"toscana", mir::Role::kOperator, "bench"};
  e.at = now;
  e.envelope = envelope;
  ReferralMeta meta;
  meta.referral_id = ref;
  meta.origin_node = "toscana";
  meta.destination_node = "lombardia";
  meta.urgency = mir::v1::URGENCY_ORDINARY;
  e.referral = meta;
  return e;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// Median latency of write(4 KiB) + fdatasync on a file in `dir`: the floor
// under any durable commit.
double FdatasyncMicros(const std::string& dir) {
  const std::string path = dir + "/fdatasync-probe";
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd < 0) return -1;
  const std::string block(4096, 'x');
  std::vector<double> micros;
  for (int i = 0; i < 200; ++i) {
    const auto start = Clock::now();
    if (pwrite(fd, block.data(), block.size(), static_cast<off_t>(i % 16) * 4096) < 0 ||
        fdatasync(fd) != 0)
      break;
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  close(fd);
  unlink(path.c_str());
  return Percentile(micros, 0.5);
}

struct PhaseResult {
  int events = 0;
  double seconds = 0;
  std::vector<double> commit_micros;  // one per transaction
};

absl::StatusOr<PhaseResult> RunPhase(const std::string& path, const Flags& flags, int group,
                                     bool with_outbox) {
  StoreOptions options;
  options.path = path;
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(options, mir::RealClock::Get()));
  const std::string envelope(static_cast<size_t>(flags.envelope_bytes), 'e');
  PhaseResult result;
  const auto phase_start = Clock::now();
  int next = 0;
  while (next < flags.events) {
    const int n = std::min(group, flags.events - next);
    const auto start = Clock::now();
    RETURN_IF_ERROR(store->Transact([&](Txn& txn) -> absl::Status {
      for (int i = 0; i < n; ++i) {
        const std::string ref = absl::StrCat("bench-", next + i);
        RETURN_IF_ERROR(txn.ApplyEvent(SubmittedEvent(ref, envelope, txn.Now())).status());
        if (with_outbox)
          RETURN_IF_ERROR(
              txn.Enqueue({ref + "/toscana/1", "lombardia", envelope, "", std::nullopt}));
      }
      return absl::OkStatus();
    }));
    result.commit_micros.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    next += n;
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - phase_start).count();
  result.events = next;
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr, "usage: %s [--dir DIR] [--events N] [--group G] [--envelope-bytes B]\n",
                 argv[0]);
    return 2;
  }
  std::error_code ec;
  std::string dir = flags.dir;
  if (dir.empty()) {
    // /var/tmp is on disk on Debian; /tmp may be tmpfs.
    dir = "/var/tmp/mir-store-bench-" + std::to_string(getpid());
  }
  std::filesystem::create_directories(dir, ec);
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) != 0) {
    std::fprintf(stderr, "cannot stat %s\n", dir.c_str());
    return 1;
  }
  if (static_cast<long>(fs.f_type) == kTmpfsMagic) {
    std::fprintf(stderr, "%s is on tmpfs, which never syncs; pass --dir on a real disk\n",
                 dir.c_str());
    return 1;
  }

  std::printf(
      "mir-store-bench: dir %s, %d events, %d-byte envelopes, %d events per grouped commit\n",
      dir.c_str(), flags.events, flags.envelope_bytes, flags.group);
  std::printf("write(4 KiB)+fdatasync on this disk: p50 %.0f us\n\n", FdatasyncMicros(dir));
  std::printf("%-34s %12s %12s %12s %12s\n", "phase", "events/s", "commits/s", "p50 commit",
              "p99 commit");

  struct Phase {
    const char* name;
    int group;
    bool outbox;
  };
  const Phase phases[] = {
      {"1 event per transaction", 1, false},
      {"1 event + outbox per transaction", 1, true},
      {"grouped events per transaction", flags.group, false},
      {"grouped events + outbox", flags.group, true},
  };
  int phase_no = 0;
  for (const Phase& p : phases) {
    const std::string path = absl::StrCat(dir, "/bench-", phase_no++, ".db");
    absl::StatusOr<PhaseResult> r = RunPhase(path, flags, p.group, p.outbox);
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix, ec);
    if (!r.ok()) {
      std::fprintf(stderr, "%s: %s\n", p.name, r.status().ToString().c_str());
      return 1;
    }
    const std::string name = p.group > 1 ? absl::StrCat(p.name, " (", p.group, ")") : p.name;
    std::printf("%-34s %12.0f %12.0f %9.0f us %9.0f us\n", name.c_str(), r->events / r->seconds,
                static_cast<double>(r->commit_micros.size()) / r->seconds,
                Percentile(r->commit_micros, 0.5), Percentile(r->commit_micros, 0.99));
  }
  if (flags.dir.empty()) std::filesystem::remove_all(dir, ec);
  return 0;
}
