#ifndef MIR_BROKER_REGISTRY_CLIENT_H_
#define MIR_BROKER_REGISTRY_CLIENT_H_

// How a running node gets and hands on the node registry (PROTOCOL.md §12):
// nvn holds the file it is given (config registry_file) and serves it with
// Exchange.GetRegistry; every other node fetches it from nvn at start and
// then every registry_poll_interval, and keeps the newest that verifies in
// RegistryCachePath, read again at its next start.

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "broker/config.h"
#include "broker/registry.h"
#include "common/clock.h"
#include "mir/v1/exchange.grpc.pb.h"

namespace mir::broker {

// database_path + ".registry": the copy last fetched, beside the database.
std::string RegistryCachePath(const BrokerOptions& options);

// Offers `holder` the configured registry_file, if set, verified against
// the CA at `now`; an error when it does not verify.
absl::Status LoadNodeRegistryFile(const BrokerOptions& options, absl::Time now,
                                  NodeRegistryHolder& holder);

// Offers `holder` the configured registry_file and the cached copy, each
// verified against the CA at `now`. An error only when registry_file is set
// and does not verify (a configuration error); a cached copy that no longer
// verifies is skipped with a warning.
absl::Status LoadNodeRegistries(const BrokerOptions& options, absl::Time now,
                                NodeRegistryHolder& holder);

// The peers of a relay: its configured peers plus every node the registry
// lists as valid at `now` (a configured address wins; itself excluded).
// Other nodes route through their relay and keep their configured peers.
std::map<std::string, std::string> PeersWithRegistry(const BrokerOptions& options,
                                                     const NodeRegistryHolder& holder,
                                                     absl::Time now);

// One Exchange.GetRegistry call to `source` (nvn) saying which version we
// hold. A newer registry that verifies is offered to `holder` and written
// to RegistryCachePath (atomically, then synced). Returns whether it was
// taken; an error if the call failed or the answer does not verify (the
// held registry stays).
absl::StatusOr<bool> FetchNodeRegistry(v1::Exchange::StubInterface& source,
                                       const BrokerOptions& options, const Clock* clock,
                                       NodeRegistryHolder& holder);

}  // namespace mir::broker

#endif  // MIR_BROKER_REGISTRY_CLIENT_H_
