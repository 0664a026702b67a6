#include "broker/referral_views.h"

#include "broker/envelope_events.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"

namespace mir::broker {
namespace {

struct Header {
  std::string sender_node, recipient_node;
  uint64_t sequence = 0;
};

std::optional<Header> HeaderOf(const std::string& envelope_bytes) {
  v1::Envelope envelope;
  v1::EnvelopeHeader header;
  if (!envelope.ParseFromString(envelope_bytes) || !header.ParseFromString(envelope.header())) {
    return std::nullopt;
  }
  return Header{header.sender_node(), header.recipient_node(), header.sequence()};
}

std::optional<v1::Receipt> ReceiptOf(const std::string& receipt_envelope) {
  v1::Envelope envelope;
  v1::Receipt receipt;
  if (!envelope.ParseFromString(receipt_envelope) || !receipt.ParseFromString(envelope.body())) {
    return std::nullopt;
  }
  return receipt;
}

}  // namespace

v1::ReferralSummary SummaryOf(const Node& node, const storage::ReferralRecord& r) {
  v1::ReferralSummary s;
  s.set_referral_id(r.meta.referral_id);
  s.set_origin_node(r.meta.origin_node);
  s.set_destination_node(r.meta.destination_node);
  s.set_urgency(r.meta.urgency);
  s.set_state(r.state);
  *s.mutable_created_at() = ToProtoTime(r.created_at);
  *s.mutable_updated_at() = ToProtoTime(r.updated_at);
  if (r.meta.ack_deadline.has_value())
    *s.mutable_ack_deadline() = ToProtoTime(*r.meta.ack_deadline);
  s.set_overdue(node.IsOverdue(r));
  return s;
}

v1::TimelineEvent TimelineEventOf(const storage::Event& e,
                                  const std::vector<storage::OutboxEntry>& outbox,
                                  const std::optional<storage::InboxRecord>& inbox) {
  v1::TimelineEvent t;
  t.set_sequence(e.sequence);
  t.set_sender_node(e.sender_node);
  t.set_state(e.to_state);
  t.set_actor(e.actor.Uri());
  *t.mutable_at() = ToProtoTime(e.at);
  t.set_reason(e.reason);
  t.set_message_id(e.message_id);
  if (inbox.has_value()) {
    v1::DeliveryProof* proof = t.add_delivery();
    proof->set_status(v1::DeliveryProof::RECEIVED_HERE);
    proof->set_peer_node(inbox->sender_node);
    *proof->mutable_at() = ToProtoTime(inbox->received_at);
    proof->set_envelope_sha256(inbox->envelope_sha256);
    proof->set_receipt(inbox->receipt);
  }
  for (const storage::OutboxEntry& entry : outbox) {
    auto header = HeaderOf(entry.envelope);
    if (!header || header->sender_node != e.sender_node || header->sequence != e.sequence) continue;
    v1::DeliveryProof* proof = t.add_delivery();
    proof->set_peer_node(header->recipient_node);
    proof->set_envelope_sha256(Sha256(entry.envelope));
    switch (entry.state) {
      case storage::OutboxState::kPending:
        proof->set_status(v1::DeliveryProof::PENDING);
        *proof->mutable_at() = ToProtoTime(entry.enqueued_at);
        proof->set_last_error(entry.last_error);
        break;
      case storage::OutboxState::kDelivered:
        proof->set_status(v1::DeliveryProof::DELIVERED);
        proof->set_receipt(entry.receipt);
        if (auto receipt = ReceiptOf(entry.receipt)) {
          *proof->mutable_at() = receipt->received_at();
        }
        break;
      case storage::OutboxState::kDead:
        proof->set_status(v1::DeliveryProof::DEAD_LETTER);
        proof->set_last_error(entry.last_error);
        break;
    }
  }
  return t;
}

v1::Referral PartnerFieldsOf(const v1::Referral& full) {
  v1::Referral r;
  r.set_referral_id(full.referral_id());
  r.set_origin_node(full.origin_node());
  r.set_destination_node(full.destination_node());
  r.set_urgency(full.urgency());
  r.mutable_requested_services()->CopyFrom(full.requested_services());
  r.set_gender(full.gender());
  r.set_age_band(full.age_band());
  r.mutable_languages()->CopyFrom(full.languages());
  r.set_mediator_language(full.mediator_language());
  r.set_mediator_same_gender(full.mediator_same_gender());
  r.mutable_needs()->CopyFrom(full.needs());
  *r.mutable_dependents() = full.dependents();
  r.set_programme_phase(full.programme_phase());
  return r;
}

absl::StatusOr<v1::ReferralView> ViewOf(Node& node, const storage::ReferralRecord& referral,
                                        Role caller_role) {
  v1::ReferralView view;
  *view.mutable_summary() = SummaryOf(node, referral);
  v1::Envelope envelope;
  v1::Referral body;
  if (envelope.ParseFromString(referral.referral_envelope) &&
      body.ParseFromString(envelope.body())) {
    *view.mutable_referral() = caller_role == Role::kPartner ? PartnerFieldsOf(body) : body;
  }
  const std::string& id = referral.meta.referral_id;
  ASSIGN_OR_RETURN(std::vector<storage::Event> events, node.store().Timeline(id));
  ASSIGN_OR_RETURN(std::vector<storage::OutboxEntry> outbox, node.store().OutboxForReferral(id));
  for (const storage::Event& e : events) {
    ASSIGN_OR_RETURN(auto inbox, node.store().FindInboxRecord(e.message_id));
    *view.add_timeline() = TimelineEventOf(e, outbox, inbox);
  }
  return view;
}

}  // namespace mir::broker
