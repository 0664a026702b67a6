#include "broker/referral_views.h"

#include "absl/strings/str_cat.h"
#include "broker/envelope_events.h"
#include "broker/stored_bodies.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/sealed_referral.h"

namespace mir::broker {
namespace {

struct Header {
  std::string message_id, sender_node, recipient_node;
  v1::MessageKind kind = v1::MESSAGE_KIND_UNSPECIFIED;
  uint64_t sequence = 0;
};

std::optional<Header> HeaderOf(const std::string& envelope_bytes) {
  v1::Envelope envelope;
  v1::EnvelopeHeader header;
  if (!envelope.ParseFromString(envelope_bytes) || !header.ParseFromString(envelope.header())) {
    return std::nullopt;
  }
  return Header{header.message_id(), header.sender_node(), header.recipient_node(), header.kind(),
                header.sequence()};
}

// The message id of the envelope that carried `e`, under which the inbox
// keeps it: the event's own, except for an answer of a RECEIVED_ANSWERS
// (PROTOCOL.md §10.8), which the envelope's id names.
std::string CarrierId(const storage::Event& e) {
  std::optional<Header> header = HeaderOf(e.envelope);
  return header && header->kind == v1::RECEIVED_ANSWERS ? header->message_id : e.message_id;
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

namespace {

// What became of one queued envelope carrying an event, sent to `peer`.
void AddOutboundProof(const storage::OutboxEntry& entry, const std::string& peer,
                      v1::TimelineEvent& t) {
  v1::DeliveryProof* proof = t.add_delivery();
  proof->set_peer_node(peer);
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
    case storage::OutboxState::kReplaced:
      proof->set_status(v1::DeliveryProof::REPLACED);
      proof->set_last_error(entry.last_error);
      break;
  }
}

}  // namespace

// A carrier's outbox row names no referral, so `outbox` lacks it.
v1::TimelineEvent TimelineEventOf(const storage::Event& e,
                                  const std::vector<storage::OutboxEntry>& outbox,
                                  const std::optional<storage::InboxRecord>& inbox,
                                  const std::optional<storage::OutboxEntry>& carrier) {
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
  if (carrier.has_value()) AddOutboundProof(*carrier, carrier->peer, t);
  for (const storage::OutboxEntry& entry : outbox) {
    auto header = HeaderOf(entry.envelope);
    if (!header || header->sender_node != e.sender_node || header->sequence != e.sequence) continue;
    AddOutboundProof(entry, header->recipient_node, t);
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

v1::Erasure ErasureOf(const storage::ErasureRecord& record) {
  v1::Erasure erasure;
  *erasure.mutable_at() = ToProtoTime(record.at);
  erasure.set_cause(record.cause);
  erasure.set_by(record.by);
  erasure.set_reason(record.reason);
  return erasure;
}

v1::LegalHold LegalHoldOf(const storage::LegalHoldRecord& record) {
  v1::LegalHold hold;
  hold.set_held(true);
  *hold.mutable_since() = ToProtoTime(record.since);
  hold.set_by(record.by);
  hold.set_reason(record.reason);
  return hold;
}

namespace {

// What the node holds of the referral's privacy: its key, erasure, hold and
// (at the origin) the answers to a purge order. One snapshot.
struct PrivacyState {
  std::optional<SecretKey> key;
  std::optional<storage::ErasureRecord> erasure;
  std::optional<storage::LegalHoldRecord> hold;
  std::vector<storage::ErasureAnswerRecord> answers;
};

absl::StatusOr<PrivacyState> PrivacyStateOf(Node& node, const std::string& referral_id,
                                            const std::optional<v1::Referral>& body) {
  PrivacyState state;
  RETURN_IF_ERROR(node.store().Read([&](storage::ReadTxn& txn) -> absl::Status {
    if (body.has_value() && body->has_sealed()) {
      ASSIGN_OR_RETURN(state.key, txn.GetReferralKey(referral_id, body->sealed().key_id()));
    }
    ASSIGN_OR_RETURN(state.erasure, txn.GetErasure(referral_id));
    ASSIGN_OR_RETURN(state.hold, txn.GetLegalHold(referral_id));
    ASSIGN_OR_RETURN(state.answers, txn.ErasureAnswers(referral_id));
    return absl::OkStatus();
  }));
  return state;
}

// A status change's sealed text, opened for the timeline when the key is here.
void AddSealedText(const storage::Event& e, const PrivacyState& privacy, v1::TimelineEvent& t) {
  auto change = StoredStatusChange(e.envelope);
  if (!change.has_value() || !change->has_sealed()) return;
  std::string text = "(sealed text)";
  if (privacy.key.has_value()) {
    auto opened = OpenStatusText(*change, *privacy.key);
    text = opened.ok() ? *opened : "(sealed text that does not open)";
  }
  t.set_reason(t.reason().empty() ? text : absl::StrCat(t.reason(), ": ", text));
}

}  // namespace

absl::StatusOr<v1::ReferralView> ViewOf(Node& node, const storage::ReferralRecord& referral,
                                        Role caller_role) {
  v1::ReferralView view;
  *view.mutable_summary() = SummaryOf(node, referral);
  const std::string& id = referral.meta.referral_id;
  std::optional<v1::Referral> body = StoredReferral(referral.referral_envelope);
  ASSIGN_OR_RETURN(PrivacyState privacy, PrivacyStateOf(node, id, body));
  if (body.has_value()) {
    v1::Referral shown = *body;
    if (privacy.erasure.has_value()) {
      view.set_sealed_state(v1::SEALED_ERASED);
      shown.clear_sealed();
    } else if (body->has_sealed() && privacy.key.has_value()) {
      auto opened = OpenReferral(*body, *privacy.key);
      if (!opened.ok()) return opened.status();
      shown = *std::move(opened);
      view.set_sealed_state(v1::SEALED_OPEN);
    } else if (body->has_sealed()) {
      view.set_sealed_state(node.ReadsSealedFields(referral) ? v1::SEALED_KEY_ON_ITS_WAY
                                                             : v1::SEALED_NOT_FOR_THIS_NODE);
    } else {
      view.set_sealed_state(v1::SEALED_OPEN);  // made before sealing: opened at rest
    }
    *view.mutable_referral() = caller_role == Role::kPartner ? PartnerFieldsOf(shown) : shown;
  } else if (privacy.erasure.has_value()) {
    view.set_sealed_state(v1::SEALED_ERASED);
  }
  if (privacy.erasure.has_value()) *view.mutable_erasure() = ErasureOf(*privacy.erasure);
  if (privacy.hold.has_value()) *view.mutable_legal_hold() = LegalHoldOf(*privacy.hold);
  if (caller_role == Role::kPartner) {  // that it happened, not why
    view.mutable_erasure()->clear_reason();
    view.mutable_legal_hold()->clear_reason();
    view.clear_erasure_answers();
  }
  for (const storage::ErasureAnswerRecord& a : privacy.answers) {
    v1::ErasureAnswer* answer = view.add_erasure_answers();
    answer->set_node(a.node);
    answer->set_outcome(a.outcome);
    *answer->mutable_at() = ToProtoTime(a.at);
  }
  ASSIGN_OR_RETURN(std::vector<storage::Event> events, node.store().Timeline(id));
  ASSIGN_OR_RETURN(std::vector<storage::OutboxEntry> outbox, node.store().OutboxForReferral(id));
  for (const storage::Event& e : events) {
    const std::string carrier_id = CarrierId(e);
    ASSIGN_OR_RETURN(auto inbox, node.store().FindInboxRecord(carrier_id));
    std::optional<storage::OutboxEntry> carrier;
    if (carrier_id != e.message_id && e.sender_node == node.options().node_id) {
      ASSIGN_OR_RETURN(carrier, node.store().FindOutbox(carrier_id));
    }
    v1::TimelineEvent* t = view.add_timeline();
    *t = TimelineEventOf(e, outbox, inbox, carrier);
    if (caller_role != Role::kPartner) AddSealedText(e, privacy, *t);
  }
  return view;
}

}  // namespace mir::broker
