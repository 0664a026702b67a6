#include "broker/stored_bodies.h"

namespace mir::broker {
namespace {

std::optional<v1::Envelope> StoredEnvelope(const std::string& bytes, v1::EnvelopeHeader& header) {
  v1::Envelope envelope;
  if (bytes.empty() || !envelope.ParseFromString(bytes) ||
      !header.ParseFromString(envelope.header())) {
    return std::nullopt;
  }
  return envelope;
}

}  // namespace

std::optional<v1::EnvelopeHeader> StoredHeader(const std::string& envelope_bytes) {
  v1::EnvelopeHeader header;
  if (!StoredEnvelope(envelope_bytes, header)) return std::nullopt;
  return header;
}

std::optional<v1::Referral> StoredReferral(const std::string& envelope_bytes) {
  v1::EnvelopeHeader header;
  auto envelope = StoredEnvelope(envelope_bytes, header);
  v1::Referral referral;
  if (!envelope || header.kind() != v1::REFERRAL || !referral.ParseFromString(envelope->body())) {
    return std::nullopt;
  }
  return referral;
}

std::optional<v1::StatusChange> StoredStatusChange(const std::string& envelope_bytes) {
  v1::EnvelopeHeader header;
  auto envelope = StoredEnvelope(envelope_bytes, header);
  v1::StatusChange change;
  if (!envelope || header.kind() != v1::STATUS_CHANGE ||
      !change.ParseFromString(envelope->body())) {
    return std::nullopt;
  }
  return change;
}

std::optional<v1::ReceivedAnswers> StoredReceivedAnswers(const std::string& envelope_bytes) {
  v1::EnvelopeHeader header;
  auto envelope = StoredEnvelope(envelope_bytes, header);
  v1::ReceivedAnswers answers;
  if (!envelope || header.kind() != v1::RECEIVED_ANSWERS ||
      !answers.ParseFromString(envelope->body())) {
    return std::nullopt;
  }
  return answers;
}

bool IsPurgeOrder(const storage::Event& event) {
  if (event.to_state != v1::WITHDRAWN) return false;
  auto change = StoredStatusChange(event.envelope);
  return change.has_value() && change->withdrawal_reason() == v1::WITHDRAWAL_CONSENT_WITHDRAWN;
}

}  // namespace mir::broker
