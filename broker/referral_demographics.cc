#include "broker/referral_demographics.h"

#include <algorithm>
#include <functional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "broker/stored_bodies.h"
#include "common/status_macros.h"
#include "crypto/sealed_referral.h"

namespace mir::broker {
namespace {

constexpr char kNotRecorded[] = "not recorded";
constexpr char kNotReadableHere[] = "sealed, not readable here";
constexpr char kNotHere[] = "erased here";

// "GENDER_NON_BINARY_OTHER" -> "non binary other".
std::string Label(const std::string& name, absl::string_view prefix) {
  std::string label(absl::StripPrefix(name, prefix));
  absl::AsciiStrToLower(&label);
  return absl::StrReplaceAll(label, {{"_", " "}});
}

template <typename Descriptor>
std::vector<std::string> Labels(const Descriptor* d, absl::string_view prefix) {
  std::vector<std::string> labels;
  for (int i = 0; i < d->value_count(); ++i) {
    if (d->value(i)->number() != 0) labels.push_back(Label(d->value(i)->name(), prefix));
  }
  return labels;
}

struct Dimension {
  const char* name;
  const char* title;
  const char* description;
  std::vector<std::string> rows;
  // The rows a referral counts in (several for exploitation types).
  std::function<std::vector<std::string>(const ReferralDemographics&)> rows_of;
};

}  // namespace

absl::StatusOr<std::map<std::string, ReferralDemographics>> ReadDemographics(
    storage::Store& store, const std::vector<storage::ReferralFact>& facts) {
  std::map<std::string, ReferralDemographics> out;
  RETURN_IF_ERROR(store.Read([&](storage::ReadTxn& txn) -> absl::Status {
    for (const storage::ReferralFact& f : facts) {
      ReferralDemographics& d = out[f.referral_id];
      ASSIGN_OR_RETURN(auto referral, txn.GetReferral(f.referral_id));
      if (!referral.has_value()) continue;
      std::optional<v1::Referral> body = StoredReferral(referral->referral_envelope);
      ASSIGN_OR_RETURN(auto erased, txn.GetErasure(f.referral_id));
      if (!body.has_value() || erased.has_value()) continue;
      d.body_here = true;
      d.gender = body->gender();
      d.age_band = body->age_band();
      if (!body->has_sealed()) {  // made before sealing: in the clear body
        d.sealed_read = true;
      } else {
        ASSIGN_OR_RETURN(auto key, txn.GetReferralKey(f.referral_id, body->sealed().key_id()));
        if (!key.has_value()) continue;
        absl::StatusOr<v1::Referral> opened = OpenReferral(*body, *key);
        if (!opened.ok()) continue;  // counted as not readable, never guessed
        *body = *std::move(opened);
        d.sealed_read = true;
      }
      d.nationality = body->nationality();
      for (int t : body->exploitation_types()) {
        d.exploitation.push_back(static_cast<v1::ExploitationType>(t));
      }
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<NamedTable>> BuildDemographicTables(
    const std::vector<storage::ReferralFact>& facts,
    const std::map<std::string, ReferralDemographics>& demographics, const StatisticsPeriod& period,
    absl::Time now) {
  std::set<std::string> nationalities;
  for (const auto& [id, d] : demographics) {
    if (d.sealed_read && !d.nationality.empty()) nationalities.insert(d.nationality);
  }
  auto with_gaps = [](std::vector<std::string> rows, bool sealed) {
    rows.push_back(kNotRecorded);
    if (sealed) rows.push_back(kNotReadableHere);
    rows.push_back(kNotHere);
    return rows;
  };
  const std::vector<Dimension> dimensions = {
      {"mir_by_gender", "MIR by gender and outcome",
       "Referrals opened in the period, by the gender recorded in the referral.",
       with_gaps(Labels(v1::Gender_descriptor(), "GENDER_"), false),
       [](const ReferralDemographics& d) -> std::vector<std::string> {
         if (!d.body_here) return {kNotHere};
         if (d.gender == v1::GENDER_UNSPECIFIED) return {kNotRecorded};
         return {Label(v1::Gender_Name(d.gender), "GENDER_")};
       }},
      {"mir_by_age_band", "MIR by age band and outcome",
       "Referrals opened in the period, by the age band recorded in the referral.",
       with_gaps(Labels(v1::AgeBand_descriptor(), "AGE_BAND_"), false),
       [](const ReferralDemographics& d) -> std::vector<std::string> {
         if (!d.body_here) return {kNotHere};
         if (d.age_band == v1::AGE_BAND_UNSPECIFIED) return {kNotRecorded};
         return {Label(v1::AgeBand_Name(d.age_band), "AGE_BAND_")};
       }},
      {"mir_by_nationality", "MIR by nationality and outcome",
       "Referrals opened in the period, by nationality (ISO 3166-1 alpha-2), a sealed field "
       "opened at this node for counting only.",
       with_gaps({nationalities.begin(), nationalities.end()}, true),
       [](const ReferralDemographics& d) -> std::vector<std::string> {
         if (!d.body_here) return {kNotHere};
         if (!d.sealed_read) return {kNotReadableHere};
         if (d.nationality.empty()) return {kNotRecorded};
         return {d.nationality};
       }},
      {"mir_by_exploitation", "MIR by exploitation type and outcome",
       "Referrals opened in the period, by exploitation type, a sealed field opened at this node "
       "for counting only. A referral with several types counts in each of their rows, so the "
       "totals count mentions, not referrals.",
       with_gaps(Labels(v1::ExploitationType_descriptor(), "EXPLOITATION_"), true),
       [](const ReferralDemographics& d) -> std::vector<std::string> {
         if (!d.body_here) return {kNotHere};
         if (!d.sealed_read) return {kNotReadableHere};
         std::set<std::string> rows;
         for (v1::ExploitationType t : d.exploitation) {
           if (t != v1::EXPLOITATION_TYPE_UNSPECIFIED && v1::ExploitationType_IsValid(t)) {
             rows.insert(Label(v1::ExploitationType_Name(t), "EXPLOITATION_"));
           }
         }
         if (rows.empty()) return {kNotRecorded};
         return {rows.begin(), rows.end()};
       }},
  };
  const absl::Time cutoff = std::min(period.to, now);
  static const ReferralDemographics kUnknown;  // a fact read nowhere: not here
  std::vector<NamedTable> tables;
  for (const Dimension& dim : dimensions) {
    ASSIGN_OR_RETURN(stats::CountTable table,
                     stats::CountTable::Create(dim.rows, OutcomeColumns()));
    for (const storage::ReferralFact& f : facts) {
      auto it = demographics.find(f.referral_id);
      const ReferralDemographics& d = it == demographics.end() ? kUnknown : it->second;
      for (const std::string& row : dim.rows_of(d)) {
        RETURN_IF_ERROR(table.Add(row, OutcomeAt(f, cutoff), 1));
      }
    }
    tables.push_back(NamedTable{dim.name, dim.title, dim.description, std::move(table)});
  }
  return tables;
}

}  // namespace mir::broker
