#include "storage/service_requests.h"

#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "storage/rows.h"
#include "storage/store_internal.h"

namespace mir::storage {

// The columns RequestFrom decodes, in its order; Insert binds the same
// order as parameters 1..20.
#define MIR_SERVICE_REQUEST_COLUMNS                                                          \
  "request_id, origin_node, created_at_us, updated_at_us, state, kind, language, province, " \
  "window_start_us, window_end_us, referral_id, roster_code, scheduled_at_us, outcome, "     \
  "cancel_reason, facts, sealed, request_sha256, placed_from, placed_with"

// QueryServiceRequests: service_requests_recent walked in list order from
// the newest, so LIMIT n reads n matching entries (and those of other
// states on the way) and sorts nothing. ?1 is a bit mask of the states
// wanted (bit `state`), 0 for all. INDEXED BY: the statement fails to
// prepare rather than scan if the index is gone.
const char kServiceRequestsSql[] = "SELECT " MIR_SERVICE_REQUEST_COLUMNS
                                   " FROM service_requests INDEXED BY service_requests_recent "
                                   "WHERE created_at_us >= ?2 AND created_at_us < ?3 "
                                   "AND (?1 = 0 OR ((1 << state) & ?1) <> 0) "
                                   "ORDER BY created_at_us DESC, request_id LIMIT ?4";

namespace service_requests {
namespace {

// The owner under which the broker keeps a request's key in referral_keys
// (keys::Put takes owners of at most kMaxIdBytes).
constexpr absl::string_view kKeyOwnerPrefix = "service:";
constexpr size_t kMaxRequestIdBytes = kMaxIdBytes - kKeyOwnerPrefix.size();
constexpr size_t kMaxRosterCodeBytes = 32;

absl::StatusOr<ServiceRequestRecord> RequestFrom(const Statement& s) {
  ServiceRequestRecord r;
  r.request_id = s.Text(0);
  r.origin_node = s.Text(1);
  r.created_at = FromMicros(s.Int(2));
  r.updated_at = FromMicros(s.Int(3));
  r.state = static_cast<v1::ServiceRequestState>(s.Int(4));
  // Columns 5..10 repeat fields of `facts` for counting.
  r.roster_code = s.Text(11);
  if (!s.IsNull(12)) r.scheduled_at = FromMicros(s.Int(12));
  r.outcome = static_cast<v1::ServiceOutcome>(s.Int(13));
  r.cancel_reason = static_cast<v1::ServiceCancelReason>(s.Int(14));
  if (!r.facts.ParseFromString(s.Text(15))) {
    return MirError(
        absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE,
        absl::StrCat("the stored facts of service request ", r.request_id, " do not parse"));
  }
  r.sealed = s.Text(16);
  r.placed_from = s.Text(18);
  r.placed_with = s.Text(19);
  r.request_sha256 = s.Text(17);
  return r;
}

absl::Status UnknownRequest(const std::string& request_id) {
  return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_SERVICE_REQUEST,
                  absl::StrCat("service request ", request_id, " is not at this node"));
}

absl::StatusOr<bool> Exists(Db& db, const std::string& request_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT 1 FROM service_requests WHERE request_id = ?1",
                                           "look a service request up"));
  s.BindText(1, request_id);
  return s.Step();
}

absl::Status CheckId(const std::string& request_id) {
  if (request_id.empty() || request_id.size() > kMaxRequestIdBytes) {
    return InvalidField(
        absl::StrCat("a service request needs an id of 1-", kMaxRequestIdBytes, " bytes"));
  }
  return absl::OkStatus();
}

// What Insert and Update check of the fields they store. The messages name
// the field, never its value.
absl::Status CheckMutable(const ServiceRequestRecord& r) {
  if (r.state == v1::SERVICE_REQUEST_STATE_UNSPECIFIED ||
      !v1::ServiceRequestState_IsValid(r.state)) {
    return InvalidField(absl::StrCat("service request ", r.request_id, " needs a state"));
  }
  if (!v1::ServiceOutcome_IsValid(r.outcome) || !v1::ServiceCancelReason_IsValid(r.cancel_reason)) {
    return InvalidField(
        absl::StrCat("service request ", r.request_id, " has an unknown outcome or cancel reason"));
  }
  if (r.roster_code.size() > kMaxRosterCodeBytes) {
    return InvalidField(absl::StrCat("service request ", r.request_id,
                                     " names a roster code of more than ", kMaxRosterCodeBytes,
                                     " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::optional<ServiceRequestRecord>> Get(Db& db, const std::string& request_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT " MIR_SERVICE_REQUEST_COLUMNS
                                           " FROM service_requests WHERE request_id = ?1",
                                           "read a service request"));
  s.BindText(1, request_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<ServiceRequestRecord>();
  ASSIGN_OR_RETURN(ServiceRequestRecord r, RequestFrom(s));
  return std::optional<ServiceRequestRecord>(std::move(r));
}

absl::StatusOr<std::vector<std::string>> Events(Db& db, const std::string& request_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT envelope FROM service_request_events "
                                           "WHERE request_id = ?1 ORDER BY sequence",
                                           "read service request events"));
  s.BindText(1, request_id);
  std::vector<std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    out.push_back(s.Text(0));
  }
}

absl::StatusOr<std::vector<ServiceRequestRecord>> Query(Db& db, const ServiceRequestQuery& query) {
  int64_t mask = 0;
  for (v1::ServiceRequestState state : query.states) {
    if (state >= 0 && state < 63) mask |= int64_t{1} << state;
  }
  std::vector<ServiceRequestRecord> out;
  // States asked for that none can be in: nothing matches (0 would be all).
  if (!query.states.empty() && mask == 0) return out;
  ASSIGN_OR_RETURN(Statement s, db.Prepare(kServiceRequestsSql, "query service requests"));
  s.BindInt(1, mask)
      .BindInt(2, std::numeric_limits<int64_t>::min())
      .BindInt(3, std::numeric_limits<int64_t>::max())
      .BindInt(4, SqlLimit(query.limit));
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    ASSIGN_OR_RETURN(ServiceRequestRecord r, RequestFrom(s));
    out.push_back(std::move(r));
  }
}

absl::StatusOr<std::optional<v1::RosterEntry>> GetRosterEntry(Db& db, const std::string& code) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT entry FROM roster WHERE code = ?1", "read a roster entry"));
  s.BindText(1, code);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<v1::RosterEntry>();
  v1::RosterEntry entry;
  if (!entry.ParseFromString(s.Text(0))) {
    return MirError(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE,
                    absl::StrCat("roster entry ", code, " does not parse"));
  }
  return std::optional<v1::RosterEntry>(std::move(entry));
}

absl::StatusOr<std::vector<v1::RosterEntry>> Roster(Db& db) {
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT code, entry FROM roster ORDER BY code", "read the roster"));
  std::vector<v1::RosterEntry> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return out;
    v1::RosterEntry entry;
    if (!entry.ParseFromString(s.Text(1))) {
      return MirError(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE,
                      absl::StrCat("roster entry ", s.Text(0), " does not parse"));
    }
    out.push_back(std::move(entry));
  }
}

absl::Status Insert(Db& db, const ServiceRequestRecord& request) {
  RETURN_IF_ERROR(CheckId(request.request_id));
  if (request.origin_node.empty() || request.origin_node.size() > kMaxIdBytes) {
    return InvalidField(absl::StrCat("service request ", request.request_id,
                                     " needs an origin node of 1-128 bytes"));
  }
  RETURN_IF_ERROR(CheckMutable(request));
  const v1::ServiceRequest& facts = request.facts;
  if (!facts.requester().empty() || !facts.notes().empty()) {
    return InvalidField(absl::StrCat("service request ", request.request_id,
                                     " carries a field to seal (requester or notes) in clear"));
  }
  ASSIGN_OR_RETURN(std::optional<ServiceRequestRecord> existing, Get(db, request.request_id));
  if (existing.has_value()) {
    if (existing->request_sha256 != request.request_sha256) {
      return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                      absl::StrCat("service request ", request.request_id,
                                   " was already created from a different call"));
    }
    return absl::AlreadyExistsError(
        absl::StrCat("service request ", request.request_id, " was already created"));
  }
  std::string serialized;
  if (!facts.SerializeToString(&serialized)) {
    return absl::InternalError(
        absl::StrCat("the facts of service request ", request.request_id, " do not serialize"));
  }
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("INSERT INTO service_requests (" MIR_SERVICE_REQUEST_COLUMNS
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                              "?14, ?15, ?16, ?17, ?18, ?19, ?20)",
                              "write a service request"));
  s.BindText(1, request.request_id)
      .BindText(2, request.origin_node)
      .BindInt(3, Micros(request.created_at))
      .BindInt(4, Micros(request.updated_at))
      .BindInt(5, request.state)
      .BindInt(6, facts.kind())
      .BindText(7, facts.language())
      .BindText(8, facts.province())
      .BindInt(9, Micros(FromProtoTime(facts.window_start())))
      .BindInt(10, Micros(FromProtoTime(facts.window_end())))
      .BindText(11, facts.referral_id())
      .BindText(12, request.roster_code)
      .BindOptInt(13, OptMicros(request.scheduled_at))
      .BindInt(14, request.outcome)
      .BindInt(15, request.cancel_reason)
      .BindBlob(16, serialized)
      .BindBlob(17, request.sealed)
      .BindBlob(18, request.request_sha256)
      .BindText(19, request.placed_from)
      .BindText(20, request.placed_with);
  return s.Run();
}

absl::Status Update(Db& db, const ServiceRequestRecord& request) {
  RETURN_IF_ERROR(CheckId(request.request_id));
  RETURN_IF_ERROR(CheckMutable(request));
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("UPDATE service_requests SET state = ?2, roster_code = ?3, "
                              "scheduled_at_us = ?4, outcome = ?5, cancel_reason = ?6, "
                              "updated_at_us = ?7, placed_with = ?8 WHERE request_id = ?1",
                              "update a service request"));
  s.BindText(1, request.request_id)
      .BindInt(2, request.state)
      .BindText(3, request.roster_code)
      .BindOptInt(4, OptMicros(request.scheduled_at))
      .BindInt(5, request.outcome)
      .BindInt(6, request.cancel_reason)
      .BindInt(7, Micros(request.updated_at))
      .BindText(8, request.placed_with);
  RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db.raw()) == 0) return UnknownRequest(request.request_id);
  return absl::OkStatus();
}

absl::Status AppendEvent(Db& db, const std::string& request_id, uint64_t sequence,
                         const std::string& envelope) {
  RETURN_IF_ERROR(CheckId(request_id));
  if (envelope.empty()) {
    return InvalidField(
        absl::StrCat("event ", sequence, " of service request ", request_id, " is empty"));
  }
  ASSIGN_OR_RETURN(bool exists, Exists(db, request_id));
  if (!exists) return UnknownRequest(request_id);
  ASSIGN_OR_RETURN(Statement last, db.Prepare("SELECT COALESCE(MAX(sequence), 0) FROM "
                                              "service_request_events WHERE request_id = ?1",
                                              "read a service request's last event"));
  last.BindText(1, request_id);
  ASSIGN_OR_RETURN(bool row, last.Step());
  const uint64_t next = row ? static_cast<uint64_t>(last.Int(0)) + 1 : 1;
  if (sequence != next) {
    return absl::FailedPreconditionError(absl::StrCat("event ", sequence, " of service request ",
                                                      request_id, " is out of order: the next is ",
                                                      next));
  }
  ASSIGN_OR_RETURN(Statement s, db.Prepare("INSERT INTO service_request_events (request_id, "
                                           "sequence, envelope) VALUES (?1, ?2, ?3)",
                                           "append a service request event"));
  s.BindText(1, request_id).BindInt(2, static_cast<int64_t>(sequence)).BindBlob(3, envelope);
  return s.Run();
}

absl::Status PutRosterEntry(Db& db, const v1::RosterEntry& entry, absl::Time now) {
  if (entry.code().empty() || entry.code().size() > kMaxRosterCodeBytes) {
    return InvalidField(
        absl::StrCat("a roster entry needs a code of 1-", kMaxRosterCodeBytes, " bytes"));
  }
  std::string serialized;
  if (!entry.SerializeToString(&serialized)) {
    return absl::InternalError(absl::StrCat("roster entry ", entry.code(), " does not serialize"));
  }
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("INSERT INTO roster (code, kind, available, entry, updated_at_us) "
                              "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(code) DO UPDATE SET "
                              "kind = ?2, available = ?3, entry = ?4, updated_at_us = ?5",
                              "write a roster entry"));
  s.BindText(1, entry.code())
      .BindInt(2, entry.kind())
      .BindInt(3, entry.available() ? 1 : 0)
      .BindBlob(4, serialized)
      .BindInt(5, Micros(now));
  return s.Run();
}

}  // namespace service_requests
}  // namespace mir::storage
