#ifndef MIR_STORAGE_STORE_INTERNAL_H_
#define MIR_STORAGE_STORE_INTERNAL_H_

// Diagnostics for storage tests only; not part of the Store contract.

#include <string>

#include "absl/status/statusor.h"
#include "storage/store.h"

namespace mir::storage {

// The value of `PRAGMA <name>` on the store's write connection (e.g.
// "synchronous" -> "2" for FULL). Takes the write lock.
absl::StatusOr<std::string> PragmaForTesting(Store& store, const std::string& name);

// The statements QueryReferrals runs for a state filter, one per requested
// state (storage/store.cc), so tests can check their query plans.
extern const char kReferralsInStateSql[];
extern const char kReferralKeysInStateSql[];
// The statement of Store::EmergenciesAwaitingAck.
extern const char kAwaitingAckSql[];
// The statement of Store::DueForErasure.
extern const char kDueForErasureSql[];
// The statement of Store::QueryReports.
extern const char kReportsSql[];
// The statement of Store::QueryServiceRequests.
extern const char kServiceRequestsSql[];

}  // namespace mir::storage

#endif  // MIR_STORAGE_STORE_INTERNAL_H_
