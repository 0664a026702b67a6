#include "storage/audit_chain.h"

#include "crypto/envelope_bytes.h"

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

}  // namespace mir::storage
