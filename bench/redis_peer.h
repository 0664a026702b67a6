#ifndef MIR_BENCH_REDIS_PEER_H_
#define MIR_BENCH_REDIS_PEER_H_

// The Redis peer's client: XADD of 1 KiB entries to one stream over one
// connection, `in_flight` commands pipelined, replies read in order. A small
// RESP client over a socket, with OpenSSL for TLS: Debian's hiredis (0.14)
// has no TLS.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/util.h"

namespace mir::bench {

// Connects to 127.0.0.1:`port` (over TLS, verifying the server as
// "localhost" against `ca_file`, unless `ca_file` is empty), warms up, then
// for each level of `in_flight` sends `count` XADDs to `key`: one RunFigures
// per level, latency from a command's send to its reply.
absl::StatusOr<std::vector<RunFigures>> RunRedisXadd(int port, const std::string& ca_file,
                                                     const std::string& key,
                                                     const std::vector<int>& in_flight, int count);

}  // namespace mir::bench

#endif  // MIR_BENCH_REDIS_PEER_H_
