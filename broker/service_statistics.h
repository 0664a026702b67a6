#ifndef MIR_BROKER_SERVICE_STATISTICS_H_
#define MIR_BROKER_SERVICE_STATISTICS_H_

// The service table of a node's statistics (docs/STATISTICS.md, "Mediator
// interventions"): the mediator requests this node served, by language and
// outcome. A request placed with another node is counted there, where it
// was served, so that the nodes' tables add up. Pure function, no I/O.
// Thread-safe.

#include <vector>

#include "absl/status/statusor.h"
#include "broker/statistics.h"
#include "storage/store.h"

namespace mir::broker {

// mediator_interventions_by_language: `requests` that are mediator requests,
// DONE, served here (placed with no other node) and scheduled in `period`;
// rows the ISO 639-3 language, columns the outcome.
absl::StatusOr<NamedTable> BuildMediatorTable(
    const std::vector<storage::ServiceRequestRecord>& requests, const StatisticsPeriod& period);

}  // namespace mir::broker

#endif  // MIR_BROKER_SERVICE_STATISTICS_H_
