#ifndef MIR_BENCH_AMQP_PEER_H_
#define MIR_BENCH_AMQP_PEER_H_

// The RabbitMQ peer's client (rabbitmq-c, AMQP 0-9-1): persistent 1 KiB
// messages published to one durable queue with publisher confirms, over one
// connection and one channel, `in_flight` publishes unconfirmed at a time.
// Compiled only when librabbitmq is found (MIR_BENCH_HAVE_AMQP).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/util.h"

namespace mir::bench {

// False when mir-bench was built without librabbitmq-dev.
bool AmqpClientAvailable();

// Connects to 127.0.0.1:`port` as guest (over TLS, verifying the server as
// "localhost" against `ca_file`, unless `ca_file` is empty), declares
// `queue` durable (a quorum queue if `quorum`, else classic), confirm.select,
// warms up, then for each level of `in_flight` publishes `count` messages:
// one RunFigures per level, latency from a publish to its basic.ack.
absl::StatusOr<std::vector<RunFigures>> RunAmqpPublish(int port, const std::string& ca_file,
                                                       const std::string& queue, bool quorum,
                                                       const std::vector<int>& in_flight,
                                                       int count);

}  // namespace mir::bench

#endif  // MIR_BENCH_AMQP_PEER_H_
