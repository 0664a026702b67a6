#include "storage/rows.h"

#include <utility>

#include "common/errors.h"
#include "crypto/envelope_bytes.h"

namespace mir::storage {
namespace {

Role RoleFromText(absl::string_view text) {
  if (text == "operator") return Role::kOperator;
  if (text == "partner") return Role::kPartner;
  return Role::kNode;
}

OutboxState OutboxStateOf(int64_t n) {
  if (n == kOutboxDelivered) return OutboxState::kDelivered;
  if (n == kOutboxDead) return OutboxState::kDead;
  if (n == kOutboxReplaced) return OutboxState::kReplaced;
  return OutboxState::kPending;
}

}  // namespace

std::string Truncate(absl::string_view s, size_t max) {
  if (s.size() <= max) return std::string(s);
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  return std::string(s.substr(0, n));
}

absl::Status InvalidField(absl::string_view what) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD, what);
}

StoredEvent StoredEventFrom(const Statement& s, bool chained) {
  StoredEvent e;
  AuditRow& r = e.row;
  r.referral_id = s.Text(0);
  r.sender_node = s.Text(1);
  r.sequence = s.Int(2);
  r.message_id = s.Text(3);
  r.to_state = s.Int(4);
  r.actor_node = s.Text(5);
  r.actor_role = s.Text(6);
  r.actor_name = s.Text(7);
  r.at_us = s.Int(8);
  r.reason = s.Text(9);
  e.envelope = s.Text(10);
  r.origin_node = s.OptText(11);
  r.destination_node = s.OptText(12);
  r.urgency = s.OptInt(13);
  r.ack_deadline_us = s.OptInt(14);
  if (chained) {
    r.applied_at_us = s.Int(15);
    r.id = s.Int(16);
    r.envelope_sha256 = s.Text(17);
    e.prev_hash = s.Text(18);
    e.row_hash = s.Text(19);
  }
  return e;
}

AuditRow RowOf(int64_t id, const Event& e, int64_t applied_at_us,
               std::optional<absl::string_view> envelope_sha256) {
  AuditRow r;
  r.id = id;
  r.referral_id = e.referral_id;
  r.sender_node = e.sender_node;
  r.sequence = static_cast<int64_t>(e.sequence);
  r.message_id = e.message_id;
  r.to_state = e.to_state;
  r.actor_node = e.actor.node;
  r.actor_role = std::string(RoleName(e.actor.role));
  r.actor_name = e.actor.name;
  r.at_us = Micros(e.at);
  r.reason = e.reason;
  r.envelope_sha256 =
      envelope_sha256.has_value() ? std::string(*envelope_sha256) : Sha256(e.envelope);
  if (e.referral.has_value()) {
    r.origin_node = e.referral->origin_node;
    r.destination_node = e.referral->destination_node;
    r.urgency = e.referral->urgency;
    r.ack_deadline_us = OptMicros(e.referral->ack_deadline);
  }
  r.applied_at_us = applied_at_us;
  return r;
}

Event EventOf(const StoredEvent& stored) {
  const AuditRow& r = stored.row;
  Event e;
  e.referral_id = r.referral_id;
  e.sender_node = r.sender_node;
  e.sequence = static_cast<uint64_t>(r.sequence);
  e.message_id = r.message_id;
  e.to_state = static_cast<v1::ReferralState>(r.to_state);
  e.actor.node = r.actor_node;
  e.actor.role = RoleFromText(r.actor_role);
  e.actor.name = r.actor_name;
  e.at = FromMicros(r.at_us);
  e.reason = r.reason;
  e.envelope = stored.envelope;
  // Only a SUBMITTED event carries the referral's metadata.
  if (r.origin_node.has_value()) {
    ReferralMeta meta;
    meta.referral_id = e.referral_id;
    meta.origin_node = *r.origin_node;
    meta.destination_node = r.destination_node.value_or("");
    meta.urgency = static_cast<v1::Urgency>(r.urgency.value_or(0));
    if (r.ack_deadline_us.has_value()) meta.ack_deadline = FromMicros(*r.ack_deadline_us);
    e.referral = std::move(meta);
  }
  return e;
}

void BindEventColumns(Statement& s, const AuditRow& r, const std::string& envelope) {
  s.BindText(1, r.referral_id)
      .BindText(2, r.sender_node)
      .BindInt(3, r.sequence)
      .BindText(4, r.message_id)
      .BindInt(5, r.to_state)
      .BindText(6, r.actor_node)
      .BindText(7, r.actor_role)
      .BindText(8, r.actor_name)
      .BindInt(9, r.at_us)
      .BindText(10, r.reason)
      .BindBlob(11, envelope)
      .BindOptText(12, r.origin_node)
      .BindOptText(13, r.destination_node)
      .BindOptInt(14, r.urgency)
      .BindOptInt(15, r.ack_deadline_us);
}

ReferralRecord ReferralFrom(const Statement& s) {
  ReferralRecord r;
  r.meta.referral_id = s.Text(0);
  r.meta.origin_node = s.Text(1);
  r.meta.destination_node = s.Text(2);
  r.meta.urgency = static_cast<v1::Urgency>(s.Int(3));
  if (!s.IsNull(4)) r.meta.ack_deadline = FromMicros(s.Int(4));
  r.state = static_cast<v1::ReferralState>(s.Int(5));
  r.created_at = FromMicros(s.Int(6));
  r.updated_at = FromMicros(s.Int(7));
  r.referral_envelope = s.Text(8);
  return r;
}

OutboxEntry OutboxFrom(const Statement& s) {
  OutboxEntry o;
  o.id = s.Int(0);
  o.message_id = s.Text(1);
  o.peer = s.Text(2);
  o.envelope = s.Text(3);
  o.attempts = static_cast<int>(s.Int(4));
  o.enqueued_at = FromMicros(s.Int(5));
  o.next_attempt_at = FromMicros(s.Int(6));
  o.state = OutboxStateOf(s.Int(7));
  o.last_error = s.Text(8);
  o.receipt = s.Text(9);
  o.urgency = static_cast<v1::Urgency>(s.Int(10));
  o.referral_id = s.OptText(11).value_or("");
  return o;
}

InboxRecord InboxFrom(const Statement& s) {
  InboxRecord r;
  r.message_id = s.Text(0);
  r.sender_node = s.Text(1);
  r.envelope_sha256 = s.Text(2);
  r.receipt = s.Text(3);
  r.received_at = FromMicros(s.Int(4));
  return r;
}

}  // namespace mir::storage
