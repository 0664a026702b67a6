// Node: the monthly statistics reports every node sends the national node,
// and their arrival there (PROTOCOL.md §16).

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/national_statistics.h"
#include "broker/node.h"
#include "broker/referral_demographics.h"
#include "broker/statistics.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "common/status_macros.h"

namespace mir::broker {

absl::StatusOr<int> Node::ReportStatistics() {
  ASSIGN_OR_RETURN(absl::TimeZone zone, StatisticsTimeZone());
  const absl::Time now = clock_->Now();
  const absl::CivilMonth this_month = absl::ToCivilMonth(now, zone);
  const absl::Time from = absl::FromCivil(this_month - (kStatisticsReportMonths - 1), zone);
  const absl::Time to = absl::FromCivil(this_month + 1, zone);
  ASSIGN_OR_RETURN(std::vector<storage::ReferralFact> facts, store_->ReferralFacts(from, to));
  // A report counts the referrals opened here: open only their sealed parts.
  std::erase_if(facts,
                [&](const storage::ReferralFact& f) { return f.origin_node != options_.node_id; });
  storage::ReportQuery contacts_query;
  contacts_query.recorded_since = from;
  contacts_query.recorded_before = to;
  contacts_query.limit = 0;
  ASSIGN_OR_RETURN(std::vector<storage::ReportRecord> contacts,
                   store_->QueryReports(contacts_query));
  storage::ServiceRequestQuery services_query;
  services_query.states = {v1::SERVICE_DONE};
  services_query.limit = 0;
  ASSIGN_OR_RETURN(std::vector<storage::ServiceRequestRecord> services,
                   store_->QueryServiceRequests(services_query));
  ASSIGN_OR_RETURN(auto demographics, ReadDemographics(*store_, facts));
  const std::string& self = options_.node_id;
  const bool national = self == options_.national_node;
  int reported = 0;
  for (absl::CivilMonth month = this_month - (kStatisticsReportMonths - 1); month <= this_month;
       ++month) {
    const StatisticsPeriod period{absl::FromCivil(month, zone), absl::FromCivil(month + 1, zone)};
    ASSIGN_OR_RETURN(
        v1::StatisticsReport report,
        BuildStatisticsReport(facts, contacts, services, demographics, self, period, now, zone));
    std::vector<std::string> woken;
    bool changed = false;
    RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
      woken.clear();
      changed = false;
      ASSIGN_OR_RETURN(auto kept, txn.GetStatisticsReport(self, period.from));
      if (kept.has_value()) {
        v1::StatisticsReport before;
        if (before.ParseFromString(kept->report) && SameCounts(before, report)) {
          return absl::OkStatus();
        }
      }
      const std::string body = report.SerializeAsString();
      ASSIGN_OR_RETURN(changed, txn.PutStatisticsReport({self, period.from, now, body}));
      if (changed && !national) {
        RETURN_IF_ERROR(
            QueueNodeMessage(txn, v1::STATISTICS_REPORT, options_.national_node, "", body, woken));
      }
      return absl::OkStatus();
    }));
    Notify(woken);
    if (changed) ++reported;
  }
  if (reported > 0) {
    MIR_LOG(INFO) << "statistics: " << reported << " month(s) reported"
                  << (national ? "" : " to " + options_.national_node);
  }
  return reported;
}

absl::StatusOr<v1::StatisticsReport> Node::OpenStatisticsReport(
    const VerifiedEnvelope& verified) const {
  if (options_.node_id != options_.national_node) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    absl::StrCat("statistics reports go to the national node ",
                                 options_.national_node, ", not to ", options_.node_id));
  }
  v1::StatisticsReport report;
  if (!report.ParseFromString(verified.body)) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY,
                    "STATISTICS_REPORT body does not parse");
  }
  ASSIGN_OR_RETURN(absl::TimeZone zone, StatisticsTimeZone());
  RETURN_IF_ERROR(CheckStatisticsReport(report, verified.header.sender_node(), zone));
  return report;
}

}  // namespace mir::broker
