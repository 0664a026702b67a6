#include "storage/statistics_queries.h"

#include <sqlite3.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "storage/rows.h"

namespace mir::storage::statistics {
namespace {

// Each referral with the first time it reached PLACEMENT_CONFIRMED (8), the
// first time it reached a terminal state (9 to 12) and the reason of its
// REJECTED (10) event. Events are found through the (referral_id,
// sender_node, sequence) unique index. A referral routed on by the national
// node has more than one SUBMITTED; created_at_us is its first.
const char kFactsSql[] =
    "SELECT r.origin_node, r.destination_node, r.urgency, r.state, r.created_at_us, "
    "  (SELECT MIN(e.at_us) FROM events e WHERE e.referral_id = r.referral_id "
    "     AND e.to_state = 8), "
    "  (SELECT MIN(e.at_us) FROM events e WHERE e.referral_id = r.referral_id "
    "     AND e.to_state IN (9, 10, 11, 12)), "
    "  (SELECT e.reason FROM events e WHERE e.referral_id = r.referral_id "
    "     AND e.to_state = 10 ORDER BY e.id LIMIT 1), "
    "  r.referral_id "
    "FROM referrals r WHERE r.created_at_us >= ?1 AND r.created_at_us < ?2 "
    "ORDER BY r.created_at_us, r.rowid";
static_assert(v1::PLACEMENT_CONFIRMED == 8 && v1::CLOSED_POSITIVE == 9 && v1::REJECTED == 10 &&
              v1::CLOSED_NEGATIVE == 11 && v1::WITHDRAWN == 12);

}  // namespace

v1::RejectionReason RejectionReasonOf(const std::string& event_reason) {
  const std::string code = event_reason.substr(0, event_reason.find(':'));
  v1::RejectionReason reason = v1::REJECTION_REASON_UNSPECIFIED;
  if (!v1::RejectionReason_Parse(code, &reason)) return v1::REJECTION_REASON_UNSPECIFIED;
  return reason;
}

absl::StatusOr<std::vector<ReferralFact>> Facts(Db& db, absl::Time from, absl::Time to) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare(kFactsSql, "read referral facts"));
  s.BindInt(1, Micros(from)).BindInt(2, Micros(to));
  std::vector<ReferralFact> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    ReferralFact f;
    f.origin_node = s.Text(0);
    f.destination_node = s.Text(1);
    f.urgency = static_cast<v1::Urgency>(s.Int(2));
    f.state = static_cast<v1::ReferralState>(s.Int(3));
    f.created_at = FromMicros(s.Int(4));
    if (auto at = s.OptInt(5); at.has_value()) f.confirmed_at = FromMicros(*at);
    if (auto at = s.OptInt(6); at.has_value()) f.closed_at = FromMicros(*at);
    if (auto reason = s.OptText(7); reason.has_value()) {
      f.rejection_reason = RejectionReasonOf(*reason);
    }
    f.referral_id = s.Text(8);
    out.push_back(std::move(f));
  }
  return out;
}

namespace {

StatisticsReportRecord ReportFrom(const Statement& s) {
  StatisticsReportRecord r;
  r.node_id = s.Text(0);
  r.month_start = FromMicros(s.Int(1));
  r.counted_at = FromMicros(s.Int(2));
  r.report = s.Text(3);
  return r;
}

}  // namespace

absl::StatusOr<std::optional<StatisticsReportRecord>> GetReport(Db& db, const std::string& node_id,
                                                                absl::Time month_start) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT node_id, month_start_us, counted_at_us, report "
                              "FROM statistics_reports WHERE node_id = ?1 AND month_start_us = ?2",
                              "read a statistics report"));
  s.BindText(1, node_id).BindInt(2, Micros(month_start));
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::nullopt;
  return ReportFrom(s);
}

absl::StatusOr<bool> PutReport(Db& db, const StatisticsReportRecord& record) {
  if (record.node_id.empty() || record.report.empty()) {
    return absl::InvalidArgumentError("a statistics report needs its node and its body");
  }
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("INSERT INTO statistics_reports "
                              "(node_id, month_start_us, counted_at_us, report) "
                              "VALUES (?1, ?2, ?3, ?4) "
                              "ON CONFLICT (node_id, month_start_us) DO UPDATE SET "
                              "counted_at_us = excluded.counted_at_us, report = excluded.report "
                              "WHERE excluded.counted_at_us > statistics_reports.counted_at_us",
                              "write a statistics report"));
  s.BindText(1, record.node_id)
      .BindInt(2, Micros(record.month_start))
      .BindInt(3, Micros(record.counted_at))
      .BindBlob(4, record.report);
  RETURN_IF_ERROR(s.Run());
  return sqlite3_changes(db.raw()) > 0;
}

absl::StatusOr<std::vector<StatisticsReportRecord>> Reports(Db& db, absl::Time from,
                                                            absl::Time to) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT node_id, month_start_us, counted_at_us, report "
                                           "FROM statistics_reports "
                                           "WHERE month_start_us >= ?1 AND month_start_us < ?2 "
                                           "ORDER BY month_start_us, node_id",
                                           "read statistics reports"));
  s.BindInt(1, Micros(from)).BindInt(2, Micros(to));
  std::vector<StatisticsReportRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReportFrom(s));
  }
  return out;
}

}  // namespace mir::storage::statistics
