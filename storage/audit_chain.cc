#include "storage/audit_chain.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "storage/at_rest.h"
#include "storage/rows.h"

namespace mir::storage {
namespace {

enum : char { kNull = 0, kInteger = 1, kBytes = 2 };

void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xff));
}

void PutBytes(std::string* out, absl::string_view v) {
  out->push_back(kBytes);
  PutU64(out, v.size());
  out->append(v.data(), v.size());
}

void PutInt(std::string* out, int64_t v) {
  out->push_back(kInteger);
  PutU64(out, 8);
  PutU64(out, static_cast<uint64_t>(v));
}

void PutNull(std::string* out) {
  out->push_back(kNull);
  PutU64(out, 0);
}

void PutOptBytes(std::string* out, const std::optional<std::string>& v) {
  if (v.has_value()) {
    PutBytes(out, *v);
  } else {
    PutNull(out);
  }
}

void PutOptInt(std::string* out, std::optional<int64_t> v) {
  if (v.has_value()) {
    PutInt(out, *v);
  } else {
    PutNull(out);
  }
}

}  // namespace

std::string GenesisHash() { return std::string(kHashBytes, '\0'); }

std::string CanonicalEventBytes(const AuditRow& row) {
  std::string out;
  out.reserve(512);
  PutBytes(&out, kAuditDomainTag);
  PutInt(&out, row.id);
  PutBytes(&out, row.referral_id);
  PutBytes(&out, row.sender_node);
  PutInt(&out, row.sequence);
  PutBytes(&out, row.message_id);
  PutInt(&out, row.to_state);
  PutBytes(&out, row.actor_node);
  PutBytes(&out, row.actor_role);
  PutBytes(&out, row.actor_name);
  PutInt(&out, row.at_us);
  PutBytes(&out, row.reason);
  PutBytes(&out, row.envelope_sha256);
  PutOptBytes(&out, row.origin_node);
  PutOptBytes(&out, row.destination_node);
  PutOptInt(&out, row.urgency);
  PutOptInt(&out, row.ack_deadline_us);
  PutInt(&out, row.applied_at_us);
  return out;
}

std::string ChainHash(absl::string_view prev_hash, const AuditRow& row) {
  std::string input(prev_hash.data(), prev_hash.size());
  input += CanonicalEventBytes(row);
  return Sha256(input);
}

absl::StatusOr<int64_t> AppendToChain(Db& db, const Event& event, int64_t applied_at_us,
                                      const StoredEnvelope* stored,
                                      std::optional<int64_t> envelope_event_id) {
  std::string prev = GenesisHash();
  int64_t last_id = 0;
  int64_t count = 0;
  {
    ASSIGN_OR_RETURN(
        Statement s,
        db.Prepare("SELECT last_event_id, last_hash, row_count FROM audit_head WHERE id = 1",
                   "read audit chain head"));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) {
      last_id = s.Int(0);
      prev = s.Text(1);
      count = s.Int(2);
    }
  }
  {
    // Never reuse an id, even one deleted behind the head's back.
    ASSIGN_OR_RETURN(Statement s,
                     db.Prepare("SELECT COALESCE(MAX(id), 0) FROM events", "read last event id"));
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (row && s.Int(0) > last_id) last_id = s.Int(0);
  }
  const AuditRow r =
      RowOf(last_id + 1, event, applied_at_us,
            stored != nullptr ? std::optional<absl::string_view>(stored->sha256) : std::nullopt);
  const std::string hash = ChainHash(prev, r);
  if (hash.size() != kHashBytes)
    return absl::InternalError("SHA-256 failed while appending an event");
  {
    // Two statements, so that the common one needs no v15 column.
    ASSIGN_OR_RETURN(
        Statement s,
        envelope_event_id.has_value()
            ? db.Prepare("INSERT INTO events (" MIR_CHAINED_EVENT_COLUMNS
                         ", envelope_event_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                         "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
                         "append event naming its envelope's row")
            : db.Prepare("INSERT INTO events (" MIR_CHAINED_EVENT_COLUMNS
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                         "?15, ?16, ?17, ?18, ?19, ?20)",
                         "append event"));
    BindEventColumns(s, r, stored != nullptr ? stored->bytes : event.envelope);
    s.BindInt(16, r.applied_at_us)
        .BindInt(17, r.id)
        .BindBlob(18, r.envelope_sha256)
        .BindBlob(19, prev)
        .BindBlob(20, hash);
    if (envelope_event_id.has_value()) s.BindInt(21, *envelope_event_id);
    RETURN_IF_ERROR(s.Run());
  }
  ASSIGN_OR_RETURN(
      Statement s,
      db.Prepare("INSERT INTO audit_head (id, last_event_id, last_hash, row_count) "
                 "VALUES (1, ?1, ?2, ?3) ON CONFLICT (id) DO UPDATE SET "
                 "last_event_id = excluded.last_event_id, last_hash = excluded.last_hash, "
                 "row_count = excluded.row_count",
                 "write audit chain head"));
  s.BindInt(1, r.id).BindBlob(2, hash).BindInt(3, count + 1);
  RETURN_IF_ERROR(s.Run());
  return r.id;
}

namespace {

AuditCheck Broken(AuditCheck check, int64_t row, std::string problem) {
  check.ok = false;
  check.first_bad_row = row;
  check.problem = std::move(problem);
  return check;
}

}  // namespace

absl::StatusOr<AuditCheck> WalkAuditChain(Db& db, const keys::KeyRing& ring) {
  AuditCheck check;
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("SELECT " MIR_READ_CHAINED_EVENT_COLUMNS " FROM events ORDER BY id",
                              "walk the audit chain"));
  std::string prev = GenesisHash();
  int64_t prev_id = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    const StoredEvent stored = StoredEventFrom(s, /*chained=*/true);
    const AuditRow& r = stored.row;
    ++check.rows_checked;
    if (stored.prev_hash != prev) {
      return Broken(check, r.id,
                    r.id != prev_id + 1
                        ? absl::StrCat("event row ", r.id, " does not link to row ", prev_id,
                                       ": row(s) ", prev_id + 1, "..", r.id - 1, " are missing")
                        : absl::StrCat("event row ", r.id, " does not link to row ", prev_id,
                                       ": a row was inserted, replaced or rewritten"));
    }
    // An empty envelope is one purged under a retention policy, and one
    // sealed at rest whose key was erased reveals as empty: its hash still
    // stands in for it in the chain.
    absl::StatusOr<std::string> envelope =
        at_rest::Reveal(db, ring, r.referral_id, stored.envelope);
    if (envelope.status().code() == absl::StatusCode::kDataLoss) {
      return Broken(
          check, r.id,
          absl::StrCat("event row ", r.id, " was modified: ", envelope.status().message()));
    }
    if (!envelope.ok()) return envelope.status();
    if (!envelope->empty() && Sha256(*envelope) != r.envelope_sha256) {
      return Broken(
          check, r.id,
          absl::StrCat("event row ", r.id, " was modified: its envelope does not match its hash"));
    }
    const std::string computed = ChainHash(stored.prev_hash, r);
    if (computed.size() != kHashBytes || computed != stored.row_hash) {
      return Broken(
          check, r.id,
          absl::StrCat("event row ", r.id, " was modified: its contents do not match its hash"));
    }
    if (r.id != prev_id + 1) {
      return Broken(check, r.id, absl::StrCat("event ids jump from ", prev_id, " to ", r.id));
    }
    prev = stored.row_hash;
    prev_id = r.id;
  }

  ASSIGN_OR_RETURN(Statement h, db.Prepare("SELECT last_event_id, last_hash, row_count FROM "
                                           "audit_head WHERE id = 1",
                                           "read audit chain head"));
  ASSIGN_OR_RETURN(bool has_head, h.Step());
  if (!has_head) {
    return prev_id == 0 ? check : Broken(check, 1, "the audit chain head is missing");
  }
  const int64_t head_id = h.Int(0);
  const std::string head_hash = h.Text(1);
  const int64_t head_count = h.Int(2);
  check.head_hash = ToHex(head_hash);
  if (head_id > prev_id) {
    return Broken(check, prev_id + 1,
                  absl::StrCat("event rows ", prev_id + 1, "..", head_id,
                               " are missing: the chain head points at row ", head_id,
                               " but the last row is ", prev_id));
  }
  if (head_id < prev_id) {
    return Broken(check, head_id + 1,
                  absl::StrCat("event rows after row ", head_id,
                               " (the chain head) were added outside the store"));
  }
  if (head_hash != prev || head_count != check.rows_checked) {
    return Broken(check, head_id,
                  absl::StrCat("the chain head does not match event row ", head_id));
  }
  return check;
}

}  // namespace mir::storage
