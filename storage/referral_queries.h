#ifndef MIR_STORAGE_REFERRAL_QUERIES_H_
#define MIR_STORAGE_REFERRAL_QUERIES_H_

// Internal to storage/: the referral lists (docs/STORAGE.md, "Listing
// referrals"), on the caller's connection, which must be outside any
// transaction (a query over several states opens its own read transaction
// for one snapshot).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage::referrals {

// Most recently updated first, then referral_id.
absl::StatusOr<std::vector<ReferralRecord>> List(Db& db, int limit);
absl::StatusOr<std::vector<ReferralRecord>> Query(Db& db, const ReferralQuery& query);
// EMERGENCY_24H referrals in SUBMITTED or RECEIVED, in list order.
absl::StatusOr<std::vector<ReferralRecord>> AwaitingAck(Db& db);
absl::StatusOr<bool> PartnerHasAccess(Db& db, const std::string& referral_id,
                                      const std::string& partner);

}  // namespace mir::storage::referrals

#endif  // MIR_STORAGE_REFERRAL_QUERIES_H_
