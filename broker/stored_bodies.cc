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

// The body of a stored envelope of `kind`, parsed as `Body`.
template <typename Body>
std::optional<Body> StoredBody(const std::string& envelope_bytes, v1::MessageKind kind) {
  v1::EnvelopeHeader header;
  auto envelope = StoredEnvelope(envelope_bytes, header);
  Body body;
  if (!envelope || header.kind() != kind || !body.ParseFromString(envelope->body())) {
    return std::nullopt;
  }
  return body;
}

}  // namespace

std::optional<v1::EnvelopeHeader> StoredHeader(const std::string& envelope_bytes) {
  v1::EnvelopeHeader header;
  if (!StoredEnvelope(envelope_bytes, header)) return std::nullopt;
  return header;
}

std::optional<v1::Referral> StoredReferral(const std::string& envelope_bytes) {
  return StoredBody<v1::Referral>(envelope_bytes, v1::REFERRAL);
}

std::optional<v1::StatusChange> StoredStatusChange(const std::string& envelope_bytes) {
  return StoredBody<v1::StatusChange>(envelope_bytes, v1::STATUS_CHANGE);
}

std::optional<v1::ReceivedAnswers> StoredReceivedAnswers(const std::string& envelope_bytes) {
  return StoredBody<v1::ReceivedAnswers>(envelope_bytes, v1::RECEIVED_ANSWERS);
}

bool IsPurgeOrder(const storage::Event& event) {
  if (event.to_state != v1::WITHDRAWN) return false;
  auto change = StoredStatusChange(event.envelope);
  return change.has_value() && change->withdrawal_reason() == v1::WITHDRAWAL_CONSENT_WITHDRAWN;
}

}  // namespace mir::broker
