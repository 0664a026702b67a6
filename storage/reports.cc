#include "storage/reports.h"

#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "storage/rows.h"
#include "storage/store_internal.h"

namespace mir::storage {

// The columns ReportFrom decodes, in its order; Insert binds the same
// order as parameters 1..19.
#define MIR_REPORT_COLUMNS                                                                   \
  "report_id, origin_node, recorded_at_us, updated_at_us, state, triage, routed_to, "        \
  "referral_id, facts, channel, reporter_type, reason, province, immediate_danger, sealed, " \
  "has_contact, request_sha256, receipt_code, passphrase_hash"

// QueryReports: reports_recent walked in list order from the newest in
// range, so LIMIT n reads n matching entries (and those of other states on
// the way) and sorts nothing. ?1 is a bit mask of the states wanted (bit
// `state`), 0 for all. INDEXED BY: the statement fails to prepare rather
// than scan if the index is gone.
const char kReportsSql[] = "SELECT " MIR_REPORT_COLUMNS
                           " FROM reports INDEXED BY reports_recent "
                           "WHERE recorded_at_us >= ?2 AND recorded_at_us < ?3 "
                           "AND (?1 = 0 OR ((1 << state) & ?1) <> 0) "
                           "ORDER BY recorded_at_us DESC, report_id LIMIT ?4";

namespace reports {
namespace {

// The owner under which the broker keeps a report's key in referral_keys
// (keys::Put takes owners of at most kMaxIdBytes): a longer id would make a
// report whose key cannot be kept.
constexpr absl::string_view kKeyOwnerPrefix = "report:";
constexpr size_t kMaxReportIdBytes = kMaxIdBytes - kKeyOwnerPrefix.size();

// A reports row as its record. DATA_LOSS if `facts` no longer parses (the
// store wrote it from a message that did).
absl::StatusOr<ReportRecord> ReportFrom(const Statement& s) {
  ReportRecord r;
  r.report_id = s.Text(0);
  r.origin_node = s.Text(1);
  r.recorded_at = FromMicros(s.Int(2));
  r.updated_at = FromMicros(s.Int(3));
  r.state = static_cast<v1::ReportState>(s.Int(4));
  r.triage = static_cast<v1::Triage>(s.Int(5));
  r.routed_to = s.Text(6);
  r.referral_id = s.Text(7);
  if (!r.facts.ParseFromString(s.Text(8))) {
    return MirError(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE,
                    absl::StrCat("the stored facts of report ", r.report_id, " do not parse"));
  }
  // Columns 9..13 repeat fields of `facts` for statistics.
  r.sealed = s.Text(14);
  r.has_contact = s.Int(15) != 0;
  r.request_sha256 = s.Text(16);
  r.receipt_code = s.Text(17);  // NULL for staff's: ""
  r.passphrase_hash = s.Text(18);
  return r;
}

absl::StatusOr<std::optional<ReportRecord>> One(Statement& s) {
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<ReportRecord>();
  ASSIGN_OR_RETURN(ReportRecord r, ReportFrom(s));
  return std::optional<ReportRecord>(std::move(r));
}

absl::Status UnknownReport(const std::string& report_id) {
  return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_REPORT,
                  absl::StrCat("report ", report_id, " is not at this node"));
}

absl::StatusOr<bool> Exists(Db& db, const std::string& report_id) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT 1 FROM reports WHERE report_id = ?1", "look a report up"));
  s.BindText(1, report_id);
  return s.Step();
}

absl::Status CheckId(const std::string& report_id) {
  if (report_id.empty() || report_id.size() > kMaxReportIdBytes) {
    return InvalidField(absl::StrCat("a report needs an id of 1-", kMaxReportIdBytes, " bytes"));
  }
  return absl::OkStatus();
}

// What InsertReport and UpdateReport check of the fields they store. The
// messages name the field, never its value.
absl::Status CheckMutable(const ReportRecord& r) {
  if (r.state == v1::REPORT_STATE_UNSPECIFIED || !v1::ReportState_IsValid(r.state)) {
    return InvalidField(absl::StrCat("report ", r.report_id, " needs a state"));
  }
  if (!v1::Triage_IsValid(r.triage)) {
    return InvalidField(absl::StrCat("report ", r.report_id, " has an unknown triage"));
  }
  if (r.routed_to.size() > kMaxIdBytes || r.referral_id.size() > kMaxIdBytes) {
    return InvalidField(
        absl::StrCat("report ", r.report_id, " names a node or referral of more than 128 bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<ReportRecord>> Get(Db& db, const std::string& report_id) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT " MIR_REPORT_COLUMNS " FROM reports WHERE report_id = ?1",
                              "read a report"));
  s.BindText(1, report_id);
  return One(s);
}

absl::StatusOr<std::optional<ReportRecord>> FindByReceiptCode(Db& db,
                                                              const std::string& receipt_code) {
  // An empty code is a staff report's: it finds nothing.
  if (receipt_code.empty()) return std::optional<ReportRecord>();
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT " MIR_REPORT_COLUMNS
                                           " FROM reports INDEXED BY reports_by_receipt_code "
                                           "WHERE receipt_code = ?1 AND receipt_code IS NOT NULL",
                                           "find a report by receipt code"));
  s.BindText(1, receipt_code);
  return One(s);
}

absl::StatusOr<std::vector<std::string>> Events(Db& db, const std::string& report_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT envelope FROM report_events "
                                           "WHERE report_id = ?1 ORDER BY sequence",
                                           "read report events"));
  s.BindText(1, report_id);
  std::vector<std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out.push_back(s.Text(0));
  }
}

absl::StatusOr<std::optional<std::string>> Contact(Db& db, const std::string& report_id) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT sealed FROM report_contacts WHERE report_id = ?1",
                              "read a report contact"));
  s.BindText(1, report_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.Text(0));
}

absl::StatusOr<std::vector<ReportRecord>> Query(Db& db, const ReportQuery& query) {
  int64_t mask = 0;
  for (v1::ReportState state : query.states) {
    if (state >= 0 && state < 63) mask |= int64_t{1} << state;
  }
  std::vector<ReportRecord> out;
  // States asked for that none can be in: nothing matches (0 would be all).
  if (!query.states.empty() && mask == 0) return out;
  ASSIGN_OR_RETURN(Statement s, db.Prepare(kReportsSql, "query reports"));
  s.BindInt(1, mask)
      .BindInt(2, query.recorded_since.has_value() ? Micros(*query.recorded_since)
                                                   : std::numeric_limits<int64_t>::min())
      .BindInt(3, query.recorded_before.has_value() ? Micros(*query.recorded_before)
                                                    : std::numeric_limits<int64_t>::max())
      .BindInt(4, SqlLimit(query.limit));
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    ASSIGN_OR_RETURN(ReportRecord r, ReportFrom(s));
    out.push_back(std::move(r));
  }
}

absl::Status Insert(Db& db, const ReportRecord& report) {
  RETURN_IF_ERROR(CheckId(report.report_id));
  if (report.origin_node.empty() || report.origin_node.size() > kMaxIdBytes) {
    return InvalidField(
        absl::StrCat("report ", report.report_id, " needs an origin node of 1-128 bytes"));
  }
  RETURN_IF_ERROR(CheckMutable(report));
  const v1::CitizenReport& facts = report.facts;
  if (!facts.municipality().empty() || !facts.description().empty() || !facts.contact().empty()) {
    return InvalidField(absl::StrCat("report ", report.report_id,
                                     " carries a field to seal (municipality, description or "
                                     "contact) in clear"));
  }
  // The follow-up page needs both; one alone would be kept to no use.
  if (report.receipt_code.empty() != report.passphrase_hash.empty()) {
    return InvalidField(absl::StrCat("report ", report.report_id,
                                     " needs a receipt code and a passphrase hash, or neither"));
  }
  if (report.receipt_code.size() > kMaxIdBytes) {
    return InvalidField(
        absl::StrCat("report ", report.report_id, " has a receipt code of more than 128 bytes"));
  }
  ASSIGN_OR_RETURN(std::optional<ReportRecord> existing, Get(db, report.report_id));
  if (existing.has_value()) {
    if (existing->request_sha256 != report.request_sha256) {
      return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                      absl::StrCat("report ", report.report_id,
                                   " was already recorded from a different request"));
    }
    return absl::AlreadyExistsError(
        absl::StrCat("report ", report.report_id, " was already recorded"));
  }
  if (!report.receipt_code.empty()) {
    ASSIGN_OR_RETURN(std::optional<ReportRecord> holder,
                     FindByReceiptCode(db, report.receipt_code));
    if (holder.has_value()) {
      return absl::AlreadyExistsError(
          absl::StrCat("the receipt code of report ", report.report_id, " is taken: draw another"));
    }
  }
  std::string serialized;
  if (!facts.SerializeToString(&serialized)) {
    return absl::InternalError(
        absl::StrCat("the facts of report ", report.report_id, " do not serialize"));
  }
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("INSERT INTO reports (" MIR_REPORT_COLUMNS
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                              "?14, ?15, ?16, ?17, ?18, ?19)",
                              "write a report"));
  s.BindText(1, report.report_id)
      .BindText(2, report.origin_node)
      .BindInt(3, Micros(report.recorded_at))
      .BindInt(4, Micros(report.updated_at))
      .BindInt(5, report.state)
      .BindInt(6, report.triage)
      .BindText(7, report.routed_to)
      .BindText(8, report.referral_id)
      .BindBlob(9, serialized)
      .BindInt(10, facts.channel())
      .BindInt(11, facts.reporter_type())
      .BindInt(12, facts.reason())
      .BindText(13, facts.province())
      .BindInt(14, facts.immediate_danger() ? 1 : 0)
      .BindBlob(15, report.sealed)
      .BindInt(16, report.has_contact ? 1 : 0)
      .BindBlob(17, report.request_sha256);
  if (report.receipt_code.empty()) {
    s.BindNull(18).BindNull(19);
  } else {
    s.BindText(18, report.receipt_code).BindBlob(19, report.passphrase_hash);
  }
  return s.Run();
}

absl::Status Update(Db& db, const ReportRecord& report) {
  RETURN_IF_ERROR(CheckId(report.report_id));
  RETURN_IF_ERROR(CheckMutable(report));
  ASSIGN_OR_RETURN(Statement s, db.Prepare("UPDATE reports SET state = ?2, triage = ?3, "
                                           "routed_to = ?4, referral_id = ?5, updated_at_us = ?6 "
                                           "WHERE report_id = ?1",
                                           "update a report"));
  s.BindText(1, report.report_id)
      .BindInt(2, report.state)
      .BindInt(3, report.triage)
      .BindText(4, report.routed_to)
      .BindText(5, report.referral_id)
      .BindInt(6, Micros(report.updated_at));
  RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db.raw()) == 0) return UnknownReport(report.report_id);
  return absl::OkStatus();
}

absl::Status PutContact(Db& db, const std::string& report_id, const std::string& sealed) {
  RETURN_IF_ERROR(CheckId(report_id));
  if (sealed.empty()) {
    return InvalidField(absl::StrCat("the contact of report ", report_id, " is empty"));
  }
  ASSIGN_OR_RETURN(bool exists, Exists(db, report_id));
  if (!exists) return UnknownReport(report_id);
  ASSIGN_OR_RETURN(std::optional<std::string> kept, Contact(db, report_id));
  if (kept.has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("report ", report_id, " already has its contact"));
  }
  ASSIGN_OR_RETURN(Statement put,
                   db.Prepare("INSERT INTO report_contacts (report_id, sealed) VALUES (?1, ?2)",
                              "write a report contact"));
  put.BindText(1, report_id).BindBlob(2, sealed);
  RETURN_IF_ERROR(put.Run());
  // The report says so too, whatever InsertReport was told.
  ASSIGN_OR_RETURN(Statement flag,
                   db.Prepare("UPDATE reports SET has_contact = 1 WHERE report_id = ?1",
                              "mark a report's contact"));
  flag.BindText(1, report_id);
  return flag.Run();
}

absl::Status AppendEvent(Db& db, const std::string& report_id, uint64_t sequence,
                         const std::string& envelope) {
  RETURN_IF_ERROR(CheckId(report_id));
  if (envelope.empty()) {
    return InvalidField(absl::StrCat("event ", sequence, " of report ", report_id, " is empty"));
  }
  ASSIGN_OR_RETURN(bool exists, Exists(db, report_id));
  if (!exists) return UnknownReport(report_id);
  ASSIGN_OR_RETURN(Statement last, db.Prepare("SELECT COALESCE(MAX(sequence), 0) FROM "
                                              "report_events WHERE report_id = ?1",
                                              "read a report's last event"));
  last.BindText(1, report_id);
  ASSIGN_OR_RETURN(bool row, last.Step());
  const uint64_t next = row ? static_cast<uint64_t>(last.Int(0)) + 1 : 1;
  if (sequence != next) {
    return absl::FailedPreconditionError(absl::StrCat("event ", sequence, " of report ", report_id,
                                                      " is out of order: the next is ", next));
  }
  ASSIGN_OR_RETURN(Statement s, db.Prepare("INSERT INTO report_events (report_id, sequence, "
                                           "envelope) VALUES (?1, ?2, ?3)",
                                           "append a report event"));
  s.BindText(1, report_id).BindInt(2, static_cast<int64_t>(sequence)).BindBlob(3, envelope);
  return s.Run();
}

}  // namespace reports
}  // namespace mir::storage
