// mir-bench: MIR Exchange's performance tool (issue 7; docs/PERFORMANCE.md).
//
//   mir-bench [--dir DIR] [--pki DIR] [--broker PATH] [--keep] [--only LIST]
//             [--submit N] [--e2e N] [--drain N] [--scale N,N,...] [--scale-calls N]
//             [--floor-seconds S] [--in-flight-per-peer N]
//             [--network-nodes N,N,...] [--network-rate R] [--network-seconds S]
//
// Builds its own network on loopback (a development PKI, mir-broker
// processes for nvn and toscana with mutual TLS, databases on disk), runs
// the workloads and the floors they are read against, and prints one
// Markdown table, targets last. Progress goes to stderr. A tool, not a test:
// it asserts nothing and exits 0 unless something could not run at all.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/floors.h"
#include "bench/national.h"
#include "bench/network.h"
#include "bench/peers.h"
#include "bench/util.h"
#include "bench/workloads.h"
#include "common/log.h"

namespace mir::bench {
namespace {

constexpr char kUsage[] =
    "usage: mir-bench [--dir DIR] [--pki DIR] [--broker PATH] [--keep] [--only LIST]\n"
    "                 [--submit N] [--e2e N] [--drain N] [--scale N,N,...]\n"
    "                 [--scale-calls N] [--floor-seconds S] [--in-flight-per-peer N]\n"
    "                 [--batch-max N]\n"
    "                 [--network-nodes N,N,...] [--network-rate R] [--network-seconds S]\n"
    "\n"
    "  --dir DIR          work folder on the disk to measure (default /var/tmp/mir-bench-PID;\n"
    "                     tmpfs is refused); deleted afterwards unless --keep\n"
    "  --pki DIR          a PKI made by certs/make-dev-pki.sh (default: made in DIR)\n"
    "  --broker PATH      the mir-broker binary to measure (default: the one built with\n"
    "                     mir-bench), e.g. to compare a change against main\n"
    "  --only LIST        comma-separated subset of floors,submit,e2e,drain,scale,peers,network\n"
    "                     (peers: RabbitMQ and Redis, when installed, in the same run;\n"
    "                     their message count per level is --submit's; network: nvn and\n"
    "                     up to 21 regional nodes, about 2 minutes more, so only when named)\n"
    "  --submit N         submissions per in-flight level (1, 16, 64); default 3000\n"
    "  --e2e N            end-to-end deliveries per in-flight level (1, 64); default 1000\n"
    "  --drain N          envelopes queued at toscana before nvn starts; default 5000\n"
    "                     (the issue's size: --drain 100000)\n"
    "  --scale LIST       referrals stored at nvn for list/show; default 1000,100000\n"
    "                     (the issue's sizes: --scale 1000,100000,1000000)\n"
    "  --scale-calls N    List and Get calls per size; default 300\n"
    "  --in-flight-per-peer N  the brokers' delivery.inFlightPerPeer (default: theirs, 64)\n"
    "  --batch-max N      the brokers' delivery.batchMax (default: theirs, 32; 1: no\n"
    "                     DeliverBatch, each envelope by Deliver, as before batches)\n"
    "  --floor-seconds S  time per crypto floor; default 1\n"
    "  --network-nodes LIST  sizes of the national network, nvn included, 3..22;\n"
    "                     default 3,8,22 (adds the regions' certificates to the PKI)\n"
    "  --network-rate R   referrals per second each region submits; default 2\n"
    "  --network-seconds S  how long the regions submit; default 20\n";

struct Flags {
  std::string dir, pki, broker;
  bool keep = false;
  std::set<std::string> only = {"floors", "submit", "e2e", "drain", "scale", "peers"};
  int submit = 3000, e2e = 1000, drain = 5000, scale_calls = 300;
  int in_flight_per_peer = 0;  // 0: the broker's default
  int batch_max = 0;           // delivery.batchMax; 0: the broker's default
  std::vector<int> scale = {1000, 100000};
  double floor_seconds = 1;
  std::vector<int> network_nodes = {3, 8, 22};
  double network_rate = 2, network_seconds = 20;
};

bool ParseInt(const char* text, int* out) { return absl::SimpleAtoi(text, out) && *out > 0; }

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    auto take = [&]() {
      ++i;
      return value != nullptr;
    };
    if (arg == "--keep") {
      f->keep = true;
    } else if (arg == "--dir" && take()) {
      f->dir = value;
    } else if (arg == "--broker" && take()) {
      f->broker = value;
    } else if (arg == "--pki" && take()) {
      f->pki = value;
    } else if (arg == "--only" && take()) {
      f->only.clear();
      for (absl::string_view w : absl::StrSplit(value, ',')) f->only.insert(std::string(w));
    } else if (arg == "--submit" && take()) {
      if (!ParseInt(value, &f->submit)) return false;
    } else if (arg == "--e2e" && take()) {
      if (!ParseInt(value, &f->e2e)) return false;
    } else if (arg == "--drain" && take()) {
      if (!ParseInt(value, &f->drain)) return false;
    } else if (arg == "--in-flight-per-peer" && take()) {
      if (!ParseInt(value, &f->in_flight_per_peer)) return false;
    } else if (arg == "--batch-max" && take()) {
      if (!ParseInt(value, &f->batch_max)) return false;
    } else if (arg == "--scale-calls" && take()) {
      if (!ParseInt(value, &f->scale_calls)) return false;
    } else if (arg == "--floor-seconds" && take()) {
      if (!absl::SimpleAtod(value, &f->floor_seconds) || f->floor_seconds <= 0) return false;
    } else if (arg == "--network-rate" && take()) {
      if (!absl::SimpleAtod(value, &f->network_rate) || f->network_rate <= 0) return false;
    } else if (arg == "--network-seconds" && take()) {
      if (!absl::SimpleAtod(value, &f->network_seconds) || f->network_seconds <= 0) return false;
    } else if (arg == "--network-nodes" && take()) {
      f->network_nodes.clear();
      for (absl::string_view w : absl::StrSplit(value, ',')) {
        int n = 0;
        if (!absl::SimpleAtoi(w, &n) || n < 3 || n > 22) return false;
        f->network_nodes.push_back(n);
      }
    } else if (arg == "--scale" && take()) {
      f->scale.clear();
      for (absl::string_view w : absl::StrSplit(value, ',')) {
        int n = 0;
        if (!absl::SimpleAtoi(w, &n) || n < 100) return false;
        f->scale.push_back(n);
      }
    } else {
      return false;
    }
  }
  return true;
}

// --- Formatting ---

std::string Rate(double per_s) {
  if (per_s <= 0) return "";
  if (per_s >= 100) return absl::StrFormat("%s/s", absl::StrFormat("%.0f", per_s));
  return absl::StrFormat("%.1f/s", per_s);
}

std::string Micros(double us) {
  if (us <= 0) return "";
  if (us >= 10000) return absl::StrFormat("%.1f ms", us / 1000);
  if (us >= 1000) return absl::StrFormat("%.2f ms", us / 1000);
  return absl::StrFormat("%.0f µs", us);
}

std::string Count(int n) {
  if (n >= 1000000 && n % 1000000 == 0) return absl::StrCat(n / 1000000, "M");
  if (n >= 1000 && n % 1000 == 0) return absl::StrCat(n / 1000, "k");
  return absl::StrCat(n);
}

class Table {
 public:
  void Row(const std::string& what, const std::string& in_flight, const std::string& rate,
           const std::string& p50, const std::string& p99, const std::string& p999,
           const std::string& notes) {
    rows_.push_back({what, in_flight, rate, p50, p99, p999, notes});
  }
  void Run(const std::string& what, const RunFigures& r, std::string notes = "") {
    if (r.failed > 0) {
      notes = absl::StrCat(notes, notes.empty() ? "" : "; ", r.failed, " FAILED (",
                           r.first_error.substr(0, 120), ")");
    }
    Row(what, absl::StrCat(r.in_flight), Rate(r.rate()), Micros(r.p50_us), Micros(r.p99_us),
        Micros(r.p999_us), notes);
  }
  static void PrintHeader() {
    std::printf("| workload | in flight | rate | p50 | p99 | p99.9 | notes |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
  }
  void PrintRows() const {
    for (const auto& r : rows_) {
      std::printf("| %s |\n", absl::StrJoin(r, " | ").c_str());
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string CostNote(const PhaseCost& cost) {
  std::vector<std::string> parts;
  for (const auto& [node, cpu] : cost.broker_cpu_s) {
    parts.push_back(absl::StrFormat("%s %.2f", node, cost.CpuPerThousand(node)));
  }
  parts.push_back(absl::StrFormat("bench client %.2f",
                                  cost.referrals ? cost.client_cpu_s * 1000 / cost.referrals : 0));
  std::vector<std::string> disk;
  for (const auto& [node, bytes] : cost.disk_bytes) {
    disk.push_back(
        absl::StrFormat("%s %.0f", node, cost.referrals ? bytes / 1024 / cost.referrals : 0));
  }
  return absl::StrCat("CPU s per 1000: ", absl::StrJoin(parts, ", "),
                      "; KiB written to disk per referral: ", absl::StrJoin(disk, ", "));
}

std::string RssNote(const PhaseCost& cost) {
  std::vector<std::string> parts;
  for (const auto& [node, mib] : cost.peak_rss_mib) {
    parts.push_back(absl::StrFormat("%s %.0f MiB", node, mib));
  }
  return absl::StrCat("peak RSS ", absl::StrJoin(parts, ", "));
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return absl::StrCat(one, " ", five, " ", fifteen);
}

void Progress(const std::string& text) {
  std::fprintf(stderr, "mir-bench: %s (load %s)\n", text.c_str(), LoadAverage().c_str());
}

void AddPeerRows(Table& table, const PeerResults& peers) {
  for (const PeerRun& r : peers.runs) {
    table.Run(absl::StrCat("peer: ", r.setup), r.run,
              r.peer == kRedisStream ? "1 KiB entry; from XADD to its reply"
                                     : "1 KiB message; from publish to its basic.ack");
  }
  for (const std::string& note : peers.notes) table.Row("peer", "", "", "", "", "", note);
}

// One of our figures beside a peer's TLS row at `in_flight` measured in
// this run, and its plain row: p50 ratios above 1 mean ours is slower,
// rate ratios above 1 that ours is faster. Empty without that peer.
std::string VsPeer(const PeerResults* peers, const std::string& peer, int in_flight, bool p50,
                   double ours) {
  if (peers == nullptr || ours <= 0) return "";
  auto ratio = [&](bool tls) -> std::string {
    const RunFigures* r = peers->Find(peer, tls, in_flight);
    const double theirs = r == nullptr ? 0 : (p50 ? r->p50_us : r->rate());
    return theirs > 0 ? absl::StrFormat("%.2f ×", ours / theirs) : "";
  };
  const std::string tls = ratio(true), plain = ratio(false);
  if (tls.empty() && plain.empty()) return "";
  return absl::StrCat(p50 ? "p50 " : "rate ", tls.empty() ? "(none)" : tls, " ", peer,
                      "'s over TLS at ", in_flight, " in flight",
                      plain.empty() ? "" : absl::StrCat(" (", plain, " its plain row)"));
}

std::string JoinNotes(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  return b.empty() ? a : absl::StrCat(a, "; ", b);
}

struct Verdict {
  std::string what;
  double measured = 0, limit = 0;
  bool higher_is_better = true;
  std::string unit, note;
  bool known = false;
};

void AddTarget(Table& table, const Verdict& v) {
  if (!v.known) {
    table.Row(absl::StrCat("**target** ", v.what), "", "", "", "", "", "not measured in this run");
    return;
  }
  const double ratio = v.higher_is_better ? v.measured / v.limit : v.limit / v.measured;
  const bool pass = v.higher_is_better ? v.measured >= v.limit : v.measured <= v.limit;
  table.Row(absl::StrCat("**target** ", v.what), "", "", "", "", "",
            absl::StrFormat("measured %.4g %s, limit %.4g %s: %.2f of the target, **%s**%s",
                            v.measured, v.unit, v.limit, v.unit, ratio, pass ? "PASS" : "MISS",
                            v.note.empty() ? "" : "; " + v.note));
}

// How far a rate target is from the floors, in CPU per referral: what two
// cores give each referral at the limit, what the row's floors (its calls'
// and Ed25519 work) take of it, and what this run spent in all processes.
std::string BudgetNote(double limit_per_s, double floors_us, const PhaseCost& cost) {
  if (limit_per_s <= 0 || floors_us <= 0 || cost.referrals == 0) return "";
  double spent_s = cost.client_cpu_s;
  for (const auto& [node, seconds] : cost.broker_cpu_s) spent_s += seconds;
  const double budget_us = 2e6 / limit_per_s;
  const double spent_us = spent_s * 1e6 / cost.referrals;
  return absl::StrFormat(
      "CPU per referral at the limit, 2 cores: %.0f µs, the floors %.0f µs, %.0f µs left for "
      "storage and all else; spent in this run %.0f µs, %.0f µs beyond the floors",
      budget_us, floors_us, budget_us - floors_us, spent_us, spent_us - floors_us);
}

struct Floors {
  std::vector<Ed25519Floor> ed25519;
  EnvelopeCrypto envelope;
  SqliteFloor sqlite;
  RunFigures echo1, echo64;
  // CPU of one echo call at 64 in flight, client and server processes together.
  double echo64_cpu_us = 0;
};

absl::StatusOr<Floors> MeasureFloors(const Pki& pki, const std::string& dir,
                                     const std::string& self, absl::Duration each) {
  Floors f;
  Progress("floors: Ed25519");
  f.ed25519 = MeasureEd25519(1100, each);
  auto envelope = MeasureEnvelopeCrypto(pki, each);
  if (!envelope.ok()) return envelope.status();
  f.envelope = *envelope;
  Progress("floors: SQLite");
  auto sqlite = MeasureSqlite(dir, 2000, 300);
  if (!sqlite.ok()) return sqlite.status();
  f.sqlite = *sqlite;
  Progress("floors: gRPC echo");
  auto server = EchoServer::Start(self, pki);
  if (!server.ok()) return server.status();
  for (int in_flight : {1, 64}) {
    const double cpu_before = ProcessCpuSeconds((*server)->pid()) + SelfCpuSeconds();
    auto echo = MeasureEcho(pki, (*server)->port(), in_flight, in_flight == 1 ? 3000 : 20000, 1024);
    if (!echo.ok()) return echo.status();
    (in_flight == 1 ? f.echo1 : f.echo64) = *echo;
    if (in_flight == 64 && echo->completed > 0) {
      const double cpu = ProcessCpuSeconds((*server)->pid()) + SelfCpuSeconds() - cpu_before;
      f.echo64_cpu_us = cpu * 1e6 / echo->completed;
    }
  }
  return f;
}

// Each figure from the run where it was better (faster, lower latency).
Floors Best(const Floors& a, const Floors& b) {
  Floors best = a;
  for (size_t i = 0; i < best.ed25519.size() && i < b.ed25519.size(); ++i) {
    best.ed25519[i].sign_per_s = std::max(a.ed25519[i].sign_per_s, b.ed25519[i].sign_per_s);
    best.ed25519[i].verify_per_s = std::max(a.ed25519[i].verify_per_s, b.ed25519[i].verify_per_s);
  }
  best.envelope.sign_envelope_per_s =
      std::max(a.envelope.sign_envelope_per_s, b.envelope.sign_envelope_per_s);
  best.envelope.verify_envelope_per_s =
      std::max(a.envelope.verify_envelope_per_s, b.envelope.verify_envelope_per_s);
  if (b.sqlite.fdatasync_us > 0 && b.sqlite.fdatasync_us < a.sqlite.fdatasync_us) {
    best.sqlite.fdatasync_us = b.sqlite.fdatasync_us;
  }
  if (b.sqlite.commit_p50_us_1 < a.sqlite.commit_p50_us_1) {
    best.sqlite.commits_per_s_1 = b.sqlite.commits_per_s_1;
    best.sqlite.commit_p50_us_1 = b.sqlite.commit_p50_us_1;
    best.sqlite.commit_p99_us_1 = b.sqlite.commit_p99_us_1;
  }
  if (b.sqlite.commits_per_s_64 > a.sqlite.commits_per_s_64) {
    best.sqlite.commits_per_s_64 = b.sqlite.commits_per_s_64;
    best.sqlite.commit_p50_us_64 = b.sqlite.commit_p50_us_64;
    best.sqlite.commit_p99_us_64 = b.sqlite.commit_p99_us_64;
  }
  if (b.echo1.p50_us > 0 && b.echo1.p50_us < a.echo1.p50_us) best.echo1 = b.echo1;
  if (b.echo64.rate() > a.echo64.rate()) {
    best.echo64 = b.echo64;
    best.echo64_cpu_us = b.echo64_cpu_us;
  }
  return best;
}

// The floor rows: the better of the two passes, the other pass in the notes.
void AddFloorRows(Table& table, const Floors& best, const Floors& before,
                  const std::optional<Floors>& after) {
  auto passes = [&](auto figure) {
    if (!after.has_value()) return std::string();
    return absl::StrCat("before/after the workloads: ", figure(before), " / ", figure(*after));
  };
  auto join = [](const std::string& a, const std::string& b) {
    return b.empty() ? a : absl::StrCat(a, "; ", b);
  };
  for (size_t i = 0; i < best.ed25519.size(); ++i) {
    const Ed25519Floor& f = best.ed25519[i];
    table.Row(absl::StrCat("floor: Ed25519 sign, ", f.library), "1 core", Rate(f.sign_per_s),
              Micros(1e6 / f.sign_per_s), "", "",
              join("1.1 KB message",
                   passes([i](const Floors& p) { return Rate(p.ed25519[i].sign_per_s); })));
    table.Row(absl::StrCat("floor: Ed25519 verify, ", f.library), "1 core", Rate(f.verify_per_s),
              Micros(1e6 / f.verify_per_s), "", "",
              join("1.1 KB message",
                   passes([i](const Floors& p) { return Rate(p.ed25519[i].verify_per_s); })));
  }
  const EnvelopeCrypto& e = best.envelope;
  table.Row("ours: Signer::SignEnvelope, 1 KiB referral", "1 core", Rate(e.sign_envelope_per_s),
            Micros(1e6 / e.sign_envelope_per_s), "", "",
            join("crypto/signer.h",
                 passes([](const Floors& p) { return Rate(p.envelope.sign_envelope_per_s); })));
  table.Row("ours: Verifier::Verify, 1 KiB referral", "1 core", Rate(e.verify_envelope_per_s),
            Micros(1e6 / e.verify_envelope_per_s), "", "",
            join("crypto/verifier.h, certificate chain cached",
                 passes([](const Floors& p) { return Rate(p.envelope.verify_envelope_per_s); })));
  const SqliteFloor& q = best.sqlite;
  table.Row("floor: write 4 KiB + fdatasync", "1", "", Micros(q.fdatasync_us), "", "",
            join("the disk under every commit",
                 passes([](const Floors& p) { return Micros(p.sqlite.fdatasync_us); })));
  table.Row(
      "floor: SQLite WAL FULL, 1 row (1 KiB) per commit", "1", Rate(q.commits_per_s_1),
      Micros(q.commit_p50_us_1), Micros(q.commit_p99_us_1), "",
      join("commits/s", passes([](const Floors& p) { return Micros(p.sqlite.commit_p50_us_1); })));
  table.Row("floor: SQLite WAL FULL, 64 rows per commit", "1", Rate(q.commits_per_s_64),
            Micros(q.commit_p50_us_64), Micros(q.commit_p99_us_64), "",
            join(absl::StrFormat("commits/s; %.0f rows/s", q.commits_per_s_64 * 64),
                 passes([](const Floors& p) { return Rate(p.sqlite.commits_per_s_64); })));
  table.Run("floor: gRPC unary echo, 1 KiB, loopback mutual TLS", best.echo1,
            join("round trip; server in its own process",
                 passes([](const Floors& p) { return Micros(p.echo1.p50_us); })));
  table.Run("floor: gRPC unary echo, 1 KiB, loopback mutual TLS", best.echo64,
            join(absl::StrFormat("round trip; server in its own process; CPU per call, "
                                 "client and server: %.0f µs",
                                 best.echo64_cpu_us),
                 passes([](const Floors& p) { return Rate(p.echo64.rate()); })));
}

// --- The national network (bench/national.h) ---

// A whole national network's referrals in a year, at most (some thousands:
// docs/PERFORMANCE.md, "A 22-node network"), and a hundred times that.
constexpr double kNationalReferralsPerYear = 5000;
constexpr double kSecondsPerYear = 365.0 * 24 * 3600;

void AddNationalRow(Table& table, const NationalFigures& f) {
  const int regions = f.nodes - 1;
  const NodeFigures& hub = f.hub();
  std::string notes = absl::StrFormat(
      "%d referrals (+%d warm-up), every one at its destination exactly once (checked in each "
      "destination's database); nvn relayed %d envelopes (%.1f per referral), %s during the "
      "load; nvn %.2f CPU-ms per referral (%.1f %% of one core during the load), RSS %.0f MiB "
      "(peak %.0f), idle %.1f CPU-ms/s; all %d brokers together %.2f CPU-ms per referral; "
      "submit at the origin p50 %s, p99 %s; all settled %.0f ms after the last submission",
      f.submitted, f.warm_up, f.hub_envelopes,
      f.submitted > 0 ? static_cast<double>(f.hub_envelopes) / f.submitted : 0.0,
      Rate(f.hub_envelopes_per_s()), f.HubCpuMsPerReferral(),
      hub.cpu_s * 100 / (f.load_seconds + f.settle_seconds), hub.rss_mib, hub.peak_rss_mib,
      hub.idle_cpu_ms_per_s, f.nodes, f.NetworkCpuMsPerReferral(), Micros(f.submit.p50_us),
      Micros(f.submit.p99_us), f.settle_seconds * 1e3);
  if (f.failed > 0) {
    notes = absl::StrCat(notes, "; ", f.failed, " submissions FAILED (",
                         f.first_error.substr(0, 120), ")");
  }
  table.Row(absl::StrFormat("network: %d nodes (nvn + %d regions), %g/s from each region "
                            "round-robin to the others via nvn: submit until the destination "
                            "holds it",
                            f.nodes, regions, f.rate_per_region),
            "open loop", Rate(f.submitted / f.load_seconds), Micros(f.e2e.p50_us),
            Micros(f.e2e.p99_us), Micros(f.e2e.p999_us), notes);
}

// Each process of the largest network, and where one nvn would saturate.
void AddNationalSummary(Table& table, const std::vector<NationalFigures>& runs) {
  if (runs.empty()) return;
  const NationalFigures& f = *std::max_element(
      runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.nodes < b.nodes; });
  const NodeFigures& hub = f.hub();
  table.Row(absl::StrFormat("network: %d nodes, the nvn process", f.nodes), "", "", "", "", "",
            absl::StrFormat("CPU %.2f s during the load and until settled, idle %.1f CPU-ms/s "
                            "before it; RSS %.0f MiB (peak %.0f)",
                            hub.cpu_s, hub.idle_cpu_ms_per_s, hub.rss_mib, hub.peak_rss_mib));
  std::vector<std::string> parts;
  std::vector<double> cpu, rss;
  for (size_t i = 1; i < f.processes.size(); ++i) {
    const NodeFigures& p = f.processes[i];
    parts.push_back(absl::StrFormat("%s %.2f s, %.0f MiB", p.node, p.cpu_s, p.rss_mib));
    cpu.push_back(p.cpu_s);
    rss.push_back(p.rss_mib);
  }
  std::sort(cpu.begin(), cpu.end());
  std::sort(rss.begin(), rss.end());
  const double idle_regions =
      std::accumulate(f.processes.begin() + 1, f.processes.end(), 0.0,
                      [](double sum, const NodeFigures& p) { return sum + p.idle_cpu_ms_per_s; });
  table.Row(
      absl::StrFormat("network: %d nodes, each region's process", f.nodes), "", "", "", "", "",
      absl::StrFormat("CPU s during the load and until settled, min/median/max %.2f / %.2f / "
                      "%.2f (each originated %d referrals and received as many); RSS MiB "
                      "min/median/max %.0f / %.0f / %.0f; all regions idle together %.1f "
                      "CPU-ms/s; bench process (%d clients signing, arrival watcher) %.2f CPU-ms "
                      "per referral; per region: %s",
                      cpu.front(), cpu[cpu.size() / 2], cpu.back(), f.processes[1].originated,
                      rss.front(), rss[rss.size() / 2], rss.back(), idle_regions, f.nodes - 1,
                      f.submitted > 0 ? f.bench_cpu_s * 1e3 / f.submitted : 0.0,
                      absl::StrJoin(parts, "; ")));
  const double hub_ms = f.HubCpuMsPerReferral();
  if (hub_ms <= 0) return;
  const double hub_ceiling = 2000 / hub_ms;  // referrals/s with two cores for nvn alone
  const double all_ceiling = 2000 / f.NetworkCpuMsPerReferral();
  const double hundredfold = 100 * kNationalReferralsPerYear / kSecondsPerYear;
  table.Row(
      "network: where one nvn on 2 cores saturates (extrapolated from its CPU per referral)", "",
      Rate(hub_ceiling), "", "", "",
      absl::StrFormat(
          "nvn %.2f CPU-ms per referral at %d nodes: 2 cores ÷ that = %.0f "
          "referrals/s (%.0f envelopes/s relayed) with nvn alone on them; this whole "
          "%d-node network on one 2-core machine: %.0f/s; a national year (≤ %.0f "
          "referrals) ×100 is %.3f/s on average, %.0e of nvn's ceiling",
          hub_ms, f.nodes, hub_ceiling, hub_ceiling * f.hub_envelopes / std::max(1, f.submitted),
          f.nodes, all_ceiling, kNationalReferralsPerYear, hundredfold, hundredfold / hub_ceiling));
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr, "%s", kUsage);
    return 2;
  }
  if (!flags.broker.empty()) SetBrokerBinary(flags.broker);
  SetDeliveryBatchMax(flags.batch_max);
  log_internal::SetLoggingEnabled(false);  // the in-process node core of the drain fill
  const bool temp_dir = flags.dir.empty();
  if (temp_dir) flags.dir = absl::StrCat("/var/tmp/mir-bench-", getpid());
  std::filesystem::create_directories(flags.dir);
  flags.dir = std::filesystem::canonical(flags.dir).string();
  if (IsTmpfs(flags.dir)) {
    std::fprintf(stderr, "%s is on tmpfs, which never syncs: pass --dir on a real disk\n",
                 flags.dir.c_str());
    return 1;
  }
  auto pki = MakePki(flags.pki.empty() ? flags.dir + "/pki" : flags.pki);
  if (!pki.ok()) {
    std::fprintf(stderr, "mir-bench: %s\n", pki.status().ToString().c_str());
    return 1;
  }
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string load_at_start = LoadAverage();
  const absl::Time started = absl::Now();
  Table table;
  auto fail = [](const std::string& what, const absl::Status& s) {
    std::fprintf(stderr, "mir-bench: %s: %s\n", what.c_str(), s.ToString().c_str());
    return 1;
  };
  auto wants = [&](const char* w) { return flags.only.count(w) > 0; };

  // --- Floors: before the workloads, and again after them (below) ---
  std::optional<Floors> floors_before;
  if (wants("floors")) {
    auto measured = MeasureFloors(*pki, flags.dir, self, absl::Seconds(flags.floor_seconds));
    if (!measured.ok()) return fail("floors", measured.status());
    floors_before = *measured;
  }

  // --- Peers: other brokers on the same disk, before our workloads ---
  std::optional<PeerResults> peers;
  if (wants("peers")) {
    peers = RunPeers(*pki, flags.dir + "/peers", flags.submit, flags.keep, Progress);
    for (const std::string& note : peers->notes) Progress(note);
    AddPeerRows(table, *peers);
  }
  const PeerResults* peer_figures = peers.has_value() ? &*peers : nullptr;

  // --- Submit and end to end, on one running network ---
  std::map<std::pair<int, SubmitPath>, SubmitFigures> submits;
  std::map<int, SubmitFigures> e2e;
  if (wants("submit") || wants("e2e")) {
    const std::string dir = flags.dir + "/network";
    MakeWorkDir(dir);
    const Network network = Network::Make(*pki, dir, flags.in_flight_per_peer);
    auto net = RunningNetwork::Start(network);
    if (!net.ok()) return fail("network", net.status());
    if (wants("submit")) {
      for (SubmitPath path : {SubmitPath::kClient, SubmitPath::kPrepare}) {
        for (int in_flight : {1, 16, 64}) {
          Progress(absl::StrCat("submit, ", in_flight, " in flight"));
          auto r = RunSubmit(**net, in_flight, flags.submit, path);
          if (!r.ok()) return fail("submit", r.status());
          submits[{in_flight, path}] = *r;
          std::string vs;
          if (path == SubmitPath::kClient && in_flight == 1) {
            vs = VsPeer(peer_figures, kRabbitClassic, 1, true, r->run.p50_us);
          } else if (path == SubmitPath::kClient && in_flight == 64) {
            vs = VsPeer(peer_figures, kRabbitClassic, 64, false, r->run.rate());
          }
          table.Run(path == SubmitPath::kClient
                        ? "submit at toscana: sign, Submit (as mirctl: client-made header)"
                        : "submit at toscana: Prepare, sign, Submit (Prepare path)",
                    r->run, JoinNotes(in_flight == 64 ? CostNote(r->cost) : "", vs));
        }
      }
    }
    if (wants("e2e")) {
      for (int in_flight : {1, 64}) {
        Progress(absl::StrCat("end to end, ", in_flight, " in flight"));
        auto r = RunEndToEnd(**net, in_flight, in_flight == 1 ? flags.e2e / 4 + 1 : flags.e2e);
        if (!r.ok()) return fail("end to end", r.status());
        e2e[in_flight] = *r;
        table.Run(
            "end to end: submit until toscana holds nvn's verified receipt", r->run,
            JoinNotes(
                in_flight == 64 ? absl::StrCat(CostNote(r->cost), "; ", RssNote(r->cost)) : "",
                VsPeer(peer_figures, kRabbitClassic, in_flight, in_flight == 1,
                       in_flight == 1 ? r->run.p50_us : r->run.rate())));
      }
    }
  }

  // --- Submit while nvn is down: the submission path with nothing else to do ---
  std::map<int, SubmitFigures> submits_alone;
  if (wants("submit")) {
    const std::string dir = flags.dir + "/nvn-down";
    MakeWorkDir(dir);
    const Network network = Network::Make(*pki, dir, flags.in_flight_per_peer);
    auto net = RunningNetwork::Start(network, {"toscana"});
    if (!net.ok()) return fail("network with nvn down", net.status());
    for (int in_flight : {1, 64}) {
      Progress(absl::StrCat("submit while nvn is down, ", in_flight, " in flight"));
      auto r = RunSubmitWhilePeerDown(**net, in_flight, flags.submit);
      if (!r.ok()) return fail("submit while nvn is down", r.status());
      submits_alone[in_flight] = *r;
      table.Run(
          "submit at toscana while nvn is down (as mirctl): nothing forwarded meanwhile", r->run,
          in_flight == 64 ? JoinNotes(CostNote(r->cost),
                                      VsPeer(peer_figures, kRabbitQuorum, 64, false, r->run.rate()))
                          : "");
    }
  }

  // --- Drain ---
  std::optional<DrainFigures> drain;
  if (wants("drain")) {
    Progress(absl::StrCat("drain of ", flags.drain));
    auto r = RunDrain(*pki, flags.dir + "/drain", flags.drain, flags.in_flight_per_peer);
    if (!r.ok()) return fail("drain", r.status());
    drain = *r;
    const std::string vs = VsPeer(peer_figures, kRabbitClassic, 64, false, r->rate());
    table.Row(absl::StrCat("drain: ", Count(flags.drain), " queued at toscana, delivered to nvn"),
              "", Rate(r->rate()), "", "", "",
              absl::StrFormat("%.1f s until all receipted at toscana; %.1f s until nvn's "
                              "%s RECEIVED answers were back too; %s; %s%s",
                              r->forward_seconds, r->all_seconds, Count(flags.drain),
                              CostNote(r->cost), RssNote(r->cost), vs.empty() ? "" : "; " + vs));
    table.Row(
        "drain: an EMERGENCY_24H referral submitted during it (as mirctl), until toscana "
        "holds nvn's receipt",
        "1", "", Micros(r->emergency_ms * 1000), "", "",
        absl::StrFormat("one referral (the p50 column is its time); %d envelopes were "
                        "queued ahead of it when it was submitted; the drain's are ORDINARY",
                        r->queued_ahead_of_emergency));
  }

  // --- Scale ---
  std::map<int, ScaleFigures> scale;
  if (wants("scale")) {
    for (int n : flags.scale) {
      Progress(absl::StrCat("scale: filling and querying ", Count(n), " referrals"));
      auto r =
          RunScale(*pki, absl::StrCat(flags.dir, "/scale-", n), n, flags.scale_calls, flags.keep);
      if (!r.ok()) return fail("scale", r.status());
      scale[n] = *r;
      const std::string at = absl::StrCat(" with ", Count(n), " stored at nvn");
      table.Run(absl::StrCat("list: newest 100", at), r->list,
                absl::StrFormat("%.0f bytes of database per referral; nvn peak RSS %.0f MiB; "
                                "start (open + quick_check) %.2f s; fill %.0f s",
                                r->db_bytes_per_referral, r->peak_rss_mib, r->start_seconds,
                                r->fill_seconds));
      table.Run(absl::StrCat("list: ", kFilteredPage, " in a state held by 1 %", at),
                r->list_filtered);
      table.Run(absl::StrCat("show: Get a random referral", at), r->show);
    }
  }

  // --- The national network: nvn and up to 21 regions ---
  if (wants("network")) {
    Progress("network: the regions' certificates");
    auto national_pki = MakePki(pki->dir, RegionalNodes());
    if (!national_pki.ok()) return fail("network PKI", national_pki.status());
    NationalOptions options;
    options.rate_per_region = flags.network_rate;
    options.duration = absl::Seconds(flags.network_seconds);
    std::vector<NationalFigures> runs;
    for (int n : flags.network_nodes) {
      auto r = RunNational(*national_pki, absl::StrCat(flags.dir, "/national-", n), n, options,
                           Progress);
      if (!r.ok()) return fail(absl::StrCat("network of ", n, " nodes"), r.status());
      AddNationalRow(table, *r);
      runs.push_back(*std::move(r));
    }
    AddNationalSummary(table, runs);
  }

  // The disk and the cores are shared: floors measured once can catch a
  // moment when someone else saturates them. Measure again after the
  // workloads and read every target against the better of the two.
  std::vector<Ed25519Floor> ed25519;
  SqliteFloor sqlite;
  RunFigures echo1, echo64;
  double echo64_cpu_us = 0;
  const bool have_floors = floors_before.has_value();
  Table floor_rows;
  if (have_floors) {
    Floors best = *floors_before;
    std::optional<Floors> after;
    if (flags.only.size() > 1) {
      auto measured = MeasureFloors(*pki, flags.dir, self, absl::Seconds(flags.floor_seconds));
      if (!measured.ok()) return fail("floors", measured.status());
      after = *measured;
      best = Best(*floors_before, *after);
    }
    AddFloorRows(floor_rows, best, *floors_before, after);
    ed25519 = best.ed25519;
    sqlite = best.sqlite;
    echo1 = best.echo1;
    echo64 = best.echo64;
    echo64_cpu_us = best.echo64_cpu_us;
  }

  // --- Targets ---
  // The broker's own library (crypto/: libsodium), the second floor measured.
  const Ed25519Floor* ours = ed25519.size() < 2 ? nullptr : &ed25519[1];
  double fastest_verify = 0, fastest_sign = 0;
  std::string fastest_library;
  for (const Ed25519Floor& f : ed25519) {
    if (f.verify_per_s > fastest_verify) {
      fastest_verify = f.verify_per_s;
      fastest_sign = f.sign_per_s;
      fastest_library = f.library;
    }
  }
  // Issue 19's targets: ratios to the peers' TLS rows measured in this run.
  // Where a peer is faster than this run's floors allow any broker signing
  // every message (the call and the Ed25519 work), the target is 70 % of
  // that ceiling instead, and the note says which applies.
  const RunFigures* classic1 = peers ? peers->Find(kRabbitClassic, true, 1) : nullptr;
  const RunFigures* classic64 = peers ? peers->Find(kRabbitClassic, true, 64) : nullptr;
  const RunFigures* quorum64 = peers ? peers->Find(kRabbitQuorum, true, 64) : nullptr;
  // 2 cores ÷ (a call, its verification, the client's signature): a submission.
  const double call_ceiling =
      have_floors && fastest_verify > 0
          ? 2e6 / (echo64_cpu_us + 1e6 / fastest_verify + 1e6 / fastest_sign)
          : 0;
  // 2 cores ÷ (2 verifications + 1 signature): a drained referral and its RECEIVED.
  const double crypto_ceiling =
      fastest_verify > 0 ? 2e6 / (2e6 / fastest_verify + 1e6 / fastest_sign) : 0;
  // With `nvn` up the submit row also forwards each referral and takes in
  // its RECEIVED on the same two cores: a submission's call and Ed25519 work
  // plus a drained referral's. The calls that carry them between the nodes
  // are left out (batched), so this is the higher, stricter bound.
  const double forwarding_ceiling =
      call_ceiling > 0 && crypto_ceiling > 0 ? 1 / (1 / call_ceiling + 1 / crypto_ceiling) : 0;
  auto rate_against = [](Verdict& v, const RunFigures* peer, const std::string& peer_name,
                         double ceiling, const std::string& ceiling_name) {
    v.unit = "/s";
    if (peer == nullptr || peer->rate() <= 0) {
      v.known = false;
      return;
    }
    if (ceiling > 0 && peer->rate() > ceiling) {
      v.limit = 0.7 * ceiling;
      v.note = absl::StrFormat("70 %% of the %s ceiling %.0f/s applies: %s's %.0f/s is above it",
                               ceiling_name, ceiling, peer_name, peer->rate());
    } else {
      v.limit = peer->rate();
      v.note = absl::StrFormat("%s's rate applies (the %s ceiling is %.0f/s)", peer_name,
                               ceiling_name, ceiling);
    }
  };
  // A ceiling is 2 cores ÷ its floors, so its floors per referral are 2e6 ÷ it.
  auto add_budget = [](Verdict& v, double ceiling, const PhaseCost& cost) {
    if (!v.known || ceiling <= 0) return;
    const std::string note = BudgetNote(v.limit, 2e6 / ceiling, cost);
    if (!note.empty()) v.note = absl::StrCat(v.note, "; ", note);
  };
  {
    Verdict v;
    v.what = "submit, 1 in flight, nvn up: p50 ≤ RabbitMQ classic's p50 at 1 (TLS)";
    v.higher_is_better = false;
    v.unit = "µs";
    auto it = submits.find({1, SubmitPath::kClient});
    if (have_floors && ours != nullptr && it != submits.end() && classic1 != nullptr) {
      v.known = true;
      v.measured = it->second.run.p50_us;
      // The least a durable, verified submission costs: the call, one
      // verification and one commit.
      const double floor_us = echo1.p50_us + 1e6 / ours->verify_per_s + sqlite.commit_p50_us_1;
      if (classic1->p50_us < floor_us) {
        v.limit = floor_us / 0.7;
        v.note = absl::StrFormat(
            "the floor applies (echo %.0f + verify %.0f + commit %.0f µs = %.0f µs, "
            "÷ 0.7): RabbitMQ classic's %.0f µs is below it",
            echo1.p50_us, 1e6 / ours->verify_per_s, sqlite.commit_p50_us_1, floor_us,
            classic1->p50_us);
      } else {
        v.limit = classic1->p50_us;
        v.note = absl::StrFormat(
            "RabbitMQ classic's p50 applies (the floor, echo + verify + commit, is %.0f µs)",
            floor_us);
      }
    }
    AddTarget(table, v);
  }
  {
    Verdict v;
    v.what = "submit, 1 in flight, nvn up: p99 ≤ 4 × our p50";
    v.higher_is_better = false;
    v.unit = "µs";
    auto it = submits.find({1, SubmitPath::kClient});
    if (it != submits.end()) {
      v.known = true;
      v.measured = it->second.run.p99_us;
      v.limit = 4 * it->second.run.p50_us;
    }
    AddTarget(table, v);
  }
  {
    Verdict v;
    v.what = "submit, 64 in flight, nvn up: ≥ RabbitMQ classic's confirmed rate at 64 (TLS)";
    auto it = submits.find({64, SubmitPath::kClient});
    if (it != submits.end()) {
      v.known = true;
      v.measured = it->second.run.rate();
      rate_against(v, classic64, "RabbitMQ classic", forwarding_ceiling, "forwarding");
      add_budget(v, forwarding_ceiling, it->second.cost);
    }
    AddTarget(table, v);
  }
  {
    Verdict v;
    v.what = "submit, 64 in flight, nvn down: ≥ RabbitMQ quorum's confirmed rate at 64 (TLS)";
    auto it = submits_alone.find(64);
    if (it != submits_alone.end()) {
      v.known = true;
      v.measured = it->second.run.rate();
      rate_against(v, quorum64, "RabbitMQ quorum", call_ceiling, "call");
      add_budget(v, call_ceiling, it->second.cost);
    }
    AddTarget(table, v);
  }
  {
    Verdict v;
    v.what = "drain: ≥ RabbitMQ classic's rate at 64 (TLS)";
    if (drain.has_value()) {
      v.known = true;
      v.measured = drain->rate();
      rate_against(v, classic64, "RabbitMQ classic", crypto_ceiling, "crypto");
      add_budget(v, crypto_ceiling, drain->cost);
    }
    AddTarget(table, v);
  }
  {
    Verdict v;
    v.what = "drain: ≥ 50 % of the crypto ceiling (2 cores ÷ (2 verifications + 1 signature))";
    v.unit = "/s";
    if (drain.has_value() && crypto_ceiling > 0) {
      v.known = true;
      v.measured = drain->rate();
      v.limit = 0.5 * crypto_ceiling;
      v.note = absl::StrFormat("fastest library measured: %s; ceiling %.0f/s", fastest_library,
                               crypto_ceiling);
    }
    AddTarget(table, v);
  }
  {
    Verdict v;
    v.what = "end to end, 64 in flight: ≥ 50 % of our submit rate at 64";
    v.unit = "/s";
    auto sub = submits.find({64, SubmitPath::kClient});
    auto end = e2e.find(64);
    if (sub != submits.end() && end != e2e.end()) {
      v.known = true;
      v.measured = end->second.run.rate();
      v.limit = 0.5 * sub->second.run.rate();
    }
    AddTarget(table, v);
  }
  {
    Verdict v;
    v.what = "bytes written per referral, each node: ≤ 8 KiB (submit at 64, nvn up)";
    v.higher_is_better = false;
    v.unit = "KiB";
    auto it = submits.find({64, SubmitPath::kClient});
    if (it != submits.end() && it->second.cost.referrals > 0) {
      v.known = true;
      std::vector<std::string> per_node;
      for (const auto& [node, bytes] : it->second.cost.disk_bytes) {
        const double kib = bytes / 1024 / it->second.cost.referrals;
        v.measured = std::max(v.measured, kib);
        per_node.push_back(absl::StrFormat("%s %.0f", node, kib));
      }
      v.limit = 8;
      v.note = absl::StrCat("the larger of ", absl::StrJoin(per_node, ", "));
    }
    AddTarget(table, v);
  }
  if (!scale.empty()) {
    const ScaleFigures& small = scale.begin()->second;
    const ScaleFigures& large = scale.rbegin()->second;
    const std::string sizes = absl::StrCat(Count(large.referrals), " vs ", Count(small.referrals));
    const std::string short_of = large.referrals < 1000000 ? "; below the issue's 1M: rerun "
                                                             "with --scale 1000,100000,1000000"
                                                           : "";
    for (auto [what, big, little] :
         {std::tuple{"list p50", large.list.p50_us, small.list.p50_us},
          std::tuple{"filtered list p50", large.list_filtered.p50_us, small.list_filtered.p50_us},
          std::tuple{"show p50", large.show.p50_us, small.show.p50_us}}) {
      Verdict v;
      v.what = absl::StrCat("scale: ", what, " at ", sizes, " ≤ 2×");
      v.known = scale.size() > 1;
      v.higher_is_better = false;
      v.unit = "µs";
      v.measured = big;
      v.limit = 2 * little;
      v.note = short_of.empty() ? "" : short_of.substr(2);
      AddTarget(table, v);
    }
    Verdict rss;
    rss.what = absl::StrCat("scale: broker RSS at ", Count(large.referrals), " ≤ 100 MB");
    rss.known = true;
    rss.higher_is_better = false;
    rss.unit = "MB";
    rss.measured = large.peak_rss_mib * 1.048576;
    rss.limit = 100;
    rss.note = short_of.empty() ? "" : short_of.substr(2);
    AddTarget(table, rss);
  }

  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::printf("mir-bench on %s, %ld cores, %s; load average %s at start, %s at end; %.0f s%s\n\n",
              host, sysconf(_SC_NPROCESSORS_ONLN),
              absl::FormatTime("%Y-%m-%d %H:%M UTC", started, absl::UTCTimeZone()).c_str(),
              load_at_start.c_str(), LoadAverage().c_str(),
              absl::ToDoubleSeconds(absl::Now() - started),
              flags.broker.empty() ? "" : absl::StrCat("; broker ", flags.broker).c_str());
  Table::PrintHeader();
  floor_rows.PrintRows();
  table.PrintRows();
  if (temp_dir && !flags.keep) {
    std::error_code ec;
    std::filesystem::remove_all(flags.dir, ec);
  } else {
    std::fprintf(stderr, "mir-bench: files kept in %s\n", flags.dir.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace mir::bench

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--serve-echo" && std::string(argv[3]) == "--pki") {
    int port = 0;
    if (!absl::SimpleAtoi(argv[2], &port)) return 2;
    return mir::bench::ServeEcho(port, argv[4]);
  }
  return mir::bench::Main(argc, argv);
}
