#ifndef MIR_BENCH_WORKLOADS_H_
#define MIR_BENCH_WORKLOADS_H_

// The broker workloads of issue 7, each against real mir-broker processes
// (bench/network.h) over loopback mutual TLS, with databases on disk.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/network.h"
#include "bench/util.h"

namespace mir::bench {

// A fictional referral from toscana to `destination` whose serialized body
// is about `body_bytes` long (the notes field is padded), sealed under
// BenchReferralKey(referral_id) (an empty id: left in clear, for mirctl's
// client to seal).
std::string ReferralBody(const std::string& referral_id, const std::string& destination,
                         size_t body_bytes = 1024);
// The key a bench referral is sealed under: derived from its id, so the
// submitter can hand it to Referrals.Submit. Bench only.
std::string BenchReferralKey(const std::string& referral_id);

// CPU and memory of the processes during one phase.
struct PhaseCost {
  int referrals = 0;
  std::map<std::string, double> broker_cpu_s;  // node -> CPU seconds in the phase
  std::map<std::string, double> peak_rss_mib;  // node -> VmHWM at the end
  std::map<std::string, double> disk_bytes;    // node -> bytes written to storage
  double client_cpu_s = 0;                     // this process (clients, signing)
  double CpuPerThousand(const std::string& node) const {
    auto it = broker_cpu_s.find(node);
    return it == broker_cpu_s.end() || referrals == 0 ? 0 : it->second * 1000.0 / referrals;
  }
};

// nvn and toscana running as processes, with their databases peeked at.
class RunningNetwork {
 public:
  // Starts `nodes` (both by default). A node left out is down: the others
  // queue what they would send it, so such a network is never quiet.
  static absl::StatusOr<std::unique_ptr<RunningNetwork>> Start(
      const Network& network, const std::vector<std::string>& nodes = {"nvn", "toscana"});
  const Network& network() const { return network_; }
  BrokerProcess& process(const std::string& node) { return *processes_.at(node); }
  DbPeek& peek(const std::string& node) { return *peeks_.at(node); }
  // Waits until no running node has a pending outbox entry (everything sent
  // so far is delivered and receipted both ways). False on timeout.
  bool WaitQuiet(absl::Duration timeout);
  // Snapshot for PhaseCost: call Begin before, End after a phase.
  void BeginCost();
  PhaseCost EndCost(int referrals);

 private:
  explicit RunningNetwork(const Network& network) : network_(network) {}
  const Network& network_;
  std::map<std::string, std::unique_ptr<BrokerProcess>> processes_;
  std::map<std::string, std::unique_ptr<DbPeek>> peeks_;
  std::map<std::string, double> cpu_at_begin_;
  std::map<std::string, int64_t> disk_at_begin_;
  double client_cpu_at_begin_ = 0;
};

// How an operator client submits a referral.
enum class SubmitPath {
  // As mirctl (client/referrals_client.cc): the header from
  // client::NewReferralHeader, sign, Submit (one round trip).
  kClient,
  // Prepare, sign under the node's header, Submit: the older path, still
  // open to other clients (two round trips).
  kPrepare,
};

struct SubmitFigures {
  RunFigures run;
  PhaseCost cost;
};
// `count` submissions of 1 KiB referrals to toscana (destination nvn) with
// `in_flight` outstanding; a submission completes when toscana answered OK
// (verified, committed). Afterwards waits for the network to be quiet, so
// the cost covers forwarding to nvn and nvn's RECEIVED coming back.
absl::StatusOr<SubmitFigures> RunSubmit(RunningNetwork& net, int in_flight, int count,
                                        SubmitPath path);

// The same submissions (as mirctl) to a network where only toscana runs:
// nvn is down, so nothing is forwarded and no RECEIVED comes back while they
// are measured. What is left is the submission path alone at one node; the
// cost covers toscana's own work (and its attempts to reach nvn).
absl::StatusOr<SubmitFigures> RunSubmitWhilePeerDown(RunningNetwork& net, int in_flight, int count);

// Submit at toscana, then wait until toscana's outbox entry for it is
// delivered, i.e. toscana holds nvn's verified receipt. Latency is from the
// start of the submission to the moment the bench sees the delivered row.
absl::StatusOr<SubmitFigures> RunEndToEnd(RunningNetwork& net, int in_flight, int count);

struct DrainFigures {
  int envelopes = 0;
  double fill_seconds = 0;     // queueing them at toscana (not part of the drain)
  double forward_seconds = 0;  // toscana start -> toscana's outbox fully receipted
  double all_seconds = 0;      // ... and nvn's RECEIVED all delivered back
  // One EMERGENCY_24H referral submitted as mirctl does once a tenth of the
  // backlog is delivered: how many were still queued ahead of it, and the
  // time from the start of its submission until toscana held nvn's receipt.
  int64_t queued_ahead_of_emergency = 0;
  double emergency_ms = 0;
  PhaseCost cost;
  double rate() const { return forward_seconds > 0 ? envelopes / forward_seconds : 0; }
};
// `envelopes` referrals queued at toscana while nvn is down (submitted
// through toscana's node core, in process); then nvn is started, then
// toscana, and the clock runs from toscana's start. An emergency is
// submitted during the drain (see DrainFigures).
absl::StatusOr<DrainFigures> RunDrain(const Pki& pki, const std::string& dir, int envelopes,
                                      int in_flight_per_peer = 0);

// Rows in a page of the filtered list: all that the 1 % state holds at 1 k.
inline constexpr int kFilteredPage = 10;

struct ScaleFigures {
  int referrals = 0;
  double fill_seconds = 0;
  double db_bytes_per_referral = 0;
  double start_seconds = 0;  // mir-broker start until it listens (opens, checks the file)
  RunFigures list;           // List, newest 100
  RunFigures list_filtered;  // List, one state held by 1 % of referrals, kFilteredPage
  RunFigures show;           // Get of a random referral
  double peak_rss_mib = 0;
};
// Fills nvn's database with `referrals` received referrals (through the
// storage API, in large transactions), starts nvn on it and measures
// List and Get from an nvn operator, one call at a time.
absl::StatusOr<ScaleFigures> RunScale(const Pki& pki, const std::string& dir, int referrals,
                                      int calls, bool keep);

}  // namespace mir::bench

#endif  // MIR_BENCH_WORKLOADS_H_
