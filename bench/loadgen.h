#ifndef MIR_BENCH_LOADGEN_H_
#define MIR_BENCH_LOADGEN_H_

// A closed-loop load generator over gRPC's callback API: `in_flight` lanes,
// each starting its next operation as soon as the previous one finished,
// until `total` operations completed. Latency is per operation.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bench/util.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"

namespace mir::bench {

// Starts one operation on `lane` and calls `done` exactly once, from any
// thread, when it finished (OK counts as completed).
using Operation = std::function<void(int lane, std::function<void(absl::Status)> done)>;

// Runs until `total` operations finished, more than 100 failed, or
// `timeout`. Never throws away failures silently: they are counted.
RunFigures RunClosedLoop(int in_flight, int total, const Operation& op,
                         absl::Duration timeout = absl::Minutes(10));

// `count` channels to `address`, each with its own TCP connection (gRPC
// would otherwise share one subchannel between identical channels).
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& address, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    int count);

// How many channels a run with `in_flight` lanes uses (lanes share them
// round-robin), the same for the echo floor and the broker.
inline int ChannelsFor(int in_flight) { return in_flight < 8 ? in_flight : 8; }

}  // namespace mir::bench

#endif  // MIR_BENCH_LOADGEN_H_
