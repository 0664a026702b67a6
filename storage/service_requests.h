#ifndef MIR_STORAGE_SERVICE_REQUESTS_H_
#define MIR_STORAGE_SERVICE_REQUESTS_H_

// Internal to storage/: service requests and the roster (schema v12:
// service_requests, service_request_events, roster) on the caller's
// connection, for the write transaction's Txn and for the read connection
// (Read, QueryServiceRequests, Roster). The store checks no service rule;
// see store.h for each operation's contract.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage::service_requests {

absl::StatusOr<std::optional<ServiceRequestRecord>> Get(Db& db, const std::string& request_id);
absl::StatusOr<std::vector<std::string>> Events(Db& db, const std::string& request_id);
absl::StatusOr<std::vector<ServiceRequestRecord>> Query(Db& db, const ServiceRequestQuery& query);
absl::StatusOr<std::optional<v1::RosterEntry>> GetRosterEntry(Db& db, const std::string& code);
absl::StatusOr<std::vector<v1::RosterEntry>> Roster(Db& db);

absl::Status Insert(Db& db, const ServiceRequestRecord& request);
absl::Status Update(Db& db, const ServiceRequestRecord& request);
absl::Status AppendEvent(Db& db, const std::string& request_id, uint64_t sequence,
                         const std::string& envelope);
absl::Status PutRosterEntry(Db& db, const v1::RosterEntry& entry, absl::Time now);

}  // namespace mir::storage::service_requests

#endif  // MIR_STORAGE_SERVICE_REQUESTS_H_
