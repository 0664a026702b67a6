#ifndef MIR_BROKER_REFERRAL_DEMOGRAPHICS_H_
#define MIR_BROKER_REFERRAL_DEMOGRAPHICS_H_

// Who the referrals of a period are about, for the statistics only
// (docs/STATISTICS.md, "By person"): gender and age band from the clear
// REFERRAL body, nationality and exploitation types from its sealed part,
// opened in memory with this node's key and never kept, logged or returned
// but as counts.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "broker/statistics.h"
#include "mir/v1/referral.pb.h"
#include "storage/store.h"

namespace mir::broker {

struct ReferralDemographics {
  bool body_here = false;    // false: erased at rest, or made before bodies were kept
  bool sealed_read = false;  // the sealed part opened with this node's key
  v1::Gender gender = v1::GENDER_UNSPECIFIED;
  v1::AgeBand age_band = v1::AGE_BAND_UNSPECIFIED;
  std::string nationality;                         // ISO 3166-1 alpha-2, when sealed_read
  std::vector<v1::ExploitationType> exploitation;  // when sealed_read
};

// The demographics of each of `facts`, by referral id, read from `store`.
// A referral erased here, or whose key this node does not hold, is counted
// as such, not skipped.
absl::StatusOr<std::map<std::string, ReferralDemographics>> ReadDemographics(
    storage::Store& store, const std::vector<storage::ReferralFact>& facts);

// mir_by_gender, mir_by_age_band, mir_by_nationality and
// mir_by_exploitation: each row a value, each column an outcome as of
// min(period.to, now). A referral with several exploitation types counts
// once in each of their rows.
absl::StatusOr<std::vector<NamedTable>> BuildDemographicTables(
    const std::vector<storage::ReferralFact>& facts,
    const std::map<std::string, ReferralDemographics>& demographics, const StatisticsPeriod& period,
    absl::Time now);

}  // namespace mir::broker

#endif  // MIR_BROKER_REFERRAL_DEMOGRAPHICS_H_
