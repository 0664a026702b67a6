#ifndef MIR_BROKER_SERVER_LIMITS_H_
#define MIR_BROKER_SERVER_LIMITS_H_

// Resource limits of the node's gRPC server beyond the per-connection ones
// set in broker.cc (message size, MAX_CONCURRENT_STREAMS, idle timeout).
//
// What they do NOT do (measured with tests/broker/hostile_h2_test.cc on
// gRPC 1.51.1, RelWithDebInfo, 2 cores): they do not bound a client that
// never acknowledges the server's SETTINGS frame and opens streams (HEADERS
// without a message) on one connection. gRPC 1.51 applies
// MAX_CONCURRENT_STREAMS only after that ack (fixed upstream by PR #34638),
// and such a stream's memory (the call arena's first zone, which holds the
// chttp2 stream) is not charged to the ResourceQuota, so the quota never
// comes under pressure and its reclaimers never run: +236 MiB of RSS for
// 20,000 streams and +590 MiB for 50,000, with a 256 MiB quota as without
// one, and even with a 16 MiB one. A server interceptor cannot count them
// per peer either: gRPC publishes a unary call to the C++ layer only once
// its request message has arrived, so these streams never create one (seen:
// zero interceptors for 20,000 streams). GRPC_ARG_MAX_CONNECTION_AGE_MS
// ends such a connection (every stream gets RST_STREAM) but bounds neither
// the peak nor the RSS kept afterwards. 1.51 has no option capping
// connections. The remedy is a gRPC with that fix (or the fix backported
// into the Debian package); until then a client holding any certificate of
// the network can exhaust the node's memory.

#include "broker/config.h"
#include "grpcpp/server_builder.h"

namespace mir::broker {

// Applies to `builder`, before BuildAndStart():
//
// - A grpc::ResourceQuota of options.memory_quota_bytes shared by all the
//   server's connections. In gRPC 1.51 it bounds only what the library
//   charges to it: as far as its code shows (not measured here), TCP read
//   buffers and call arena growth beyond the first zone (large messages, big
//   metadata), i.e. memory that grows with traffic volume rather than with
//   the number of calls. Under pressure gRPC first sends
//   GOAWAY ("Buffers full", ENHANCE_YOUR_CALM) to connections without
//   streams, then cancels streams one at a time, chosen at random on a
//   connection that has some: the client sees RST_STREAM ENHANCE_YOUR_CALM,
//   i.e. its call fails with RESOURCE_EXHAUSTED or UNAVAILABLE, and a peer's
//   sender retries it like any other failed delivery.
void ApplyServerLimits(grpc::ServerBuilder& builder, const BrokerOptions& options);

}  // namespace mir::broker

#endif  // MIR_BROKER_SERVER_LIMITS_H_
