#ifndef MIR_BENCH_PEERS_H_
#define MIR_BENCH_PEERS_H_

// The brokers people would otherwise pick, measured in the same run on the
// same disk as ours (issue 7, point 1): RabbitMQ (a classic and a quorum
// queue, durable, persistent messages, publisher confirms) and Redis streams
// (XADD with appendonly yes, appendfsync always), each plain and over TLS.
// Debian's servers, started by the bench on loopback with every file in its
// work folder, stopped (and their files removed) afterwards.

#include <functional>
#include <string>
#include <vector>

#include "bench/network.h"
#include "bench/util.h"

namespace mir::bench {

inline constexpr char kRabbitClassic[] = "RabbitMQ classic queue";
inline constexpr char kRabbitQuorum[] = "RabbitMQ quorum queue";
inline constexpr char kRedisStream[] = "Redis stream";

// The in-flight levels of every peer, as for our submissions.
inline const std::vector<int>& PeerLevels() {
  static const std::vector<int> levels = {1, 16, 64};
  return levels;
}

struct PeerRun {
  std::string peer;  // kRabbitClassic, kRabbitQuorum, kRedisStream
  bool tls = false;
  std::string setup;  // how it was configured, for the row's label
  RunFigures run;
};

struct PeerResults {
  std::vector<PeerRun> runs;
  // Peers skipped (not installed, compiled out) or failed: one line each.
  std::vector<std::string> notes;
  // nullptr if that peer did not run (or completed nothing) at that level.
  const RunFigures* Find(const std::string& peer, bool tls, int in_flight) const;
};

// Runs every installed peer, `count` 1 KiB messages per level, with its
// files under `dir`; removes them afterwards unless `keep`. Never fails as a
// whole: what could not run is in `notes`.
PeerResults RunPeers(const Pki& pki, const std::string& dir, int count, bool keep,
                     const std::function<void(const std::string&)>& progress);

}  // namespace mir::bench

#endif  // MIR_BENCH_PEERS_H_
