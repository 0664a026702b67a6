#ifndef MIR_BENCH_NATIONAL_H_
#define MIR_BENCH_NATIONAL_H_

// The national network (issue 19, point 4): nvn and up to 21 regional
// nodes as mir-broker processes on this machine, every region submitting
// referrals to the others through nvn at a fixed rate (open loop), then a
// check that each referral is at its destination exactly once.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/network.h"
#include "bench/util.h"

namespace mir::bench {

// Italy's 21 regional anti-trafficking hotline territories as node ids
// ([a-z0-9-]: broker/config.cc, certs/make-dev-pki.sh), toscana and
// lombardia first so that a 3-node network is the usual nvn, toscana,
// lombardia; then alphabetical.
const std::vector<std::string>& RegionalNodes();

struct NationalOptions {
  // Referrals per second each region submits, round-robin to the others.
  double rate_per_region = 2;
  // How long the regions submit (the measured load).
  absl::Duration duration = absl::Seconds(20);
  // limits.handlerThreads of each region (nvn keeps the production 64):
  // 21 regions with 64 threads each would only add idle threads to two cores.
  int region_handler_threads = 4;
  // After everything submitted: how long until every referral must be at
  // its destination and every outbox drained, or the run fails.
  absl::Duration delivery_timeout = absl::Minutes(5);
  // Idle time measured before the load: what the processes cost with
  // nothing to carry (a real national network is idle nearly always).
  absl::Duration idle = absl::Seconds(5);
};

struct NodeFigures {
  std::string node;
  double cpu_s = 0;              // during the load and until everything settled
  double idle_cpu_ms_per_s = 0;  // before the load, nothing in flight
  double rss_mib = 0;            // VmRSS after the load
  double peak_rss_mib = 0;       // VmHWM after the load
  int originated = 0;            // referrals it submitted in the measured load
};

struct NationalFigures {
  int nodes = 0;  // nvn + regions
  double rate_per_region = 0;
  double load_seconds = 0;    // from the first submission to the last one started
  double settle_seconds = 0;  // last submission -> all delivered, every outbox empty
  int submitted = 0;          // accepted by their origin in the measured load
  int warm_up = 0;            // before it (also checked at their destination)
  int failed = 0;
  std::string first_error;
  RunFigures submit;  // Referrals.Submit at the origin until it answered
  RunFigures e2e;     // submission start until the destination's database holds it
  // Envelopes nvn received to relay during the load window, and those it
  // relayed in all (its outbox rows receipted by the next hop) until
  // everything settled.
  int64_t hub_envelopes_in_load = 0;
  int64_t hub_envelopes = 0;
  double hub_envelopes_per_s() const {
    return load_seconds > 0 ? hub_envelopes_in_load / load_seconds : 0;
  }
  std::vector<NodeFigures> processes;  // nvn first, then the regions
  double bench_cpu_s = 0;              // this process: clients, signing, watching
  int checked = 0;                     // referrals found exactly once at their destination
  const NodeFigures& hub() const { return processes.front(); }
  double HubCpuMsPerReferral() const { return submitted > 0 ? hub().cpu_s * 1e3 / submitted : 0; }
  // Every broker process together, per referral.
  double NetworkCpuMsPerReferral() const;
};

// Starts nvn and the first `nodes` - 1 of RegionalNodes() under `dir` with
// the PKI `pki` (which must hold them: MakePki(dir, RegionalNodes())),
// warms up, measures the idle cost, runs the load and checks delivery.
// Every process it started is stopped when it returns. DeadlineExceeded
// if referrals are still missing after `delivery_timeout`; DataLoss if one
// is at its destination other than exactly once, or an envelope became a
// dead letter. `progress` gets one line per step.
absl::StatusOr<NationalFigures> RunNational(
    const Pki& pki, const std::string& dir, int nodes, const NationalOptions& options,
    const std::function<void(const std::string&)>& progress);

}  // namespace mir::bench

#endif  // MIR_BENCH_NATIONAL_H_
