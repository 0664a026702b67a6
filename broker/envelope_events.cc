#include "broker/envelope_events.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "broker/content_rules.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/identity.h"
#include "crypto/sealed_referral.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/status_change.pb.h"

namespace mir::broker {
namespace {

constexpr size_t kMaxNotes = 2000;
constexpr size_t kMaxReasonText = 500;
// The sealed fields with 2,000 characters of notes fit several times over.
constexpr size_t kMaxSealedBytes = 32 * 1024;

absl::Status BadBody(absl::string_view why) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY, why);
}
absl::Status BadField(absl::string_view field, absl::string_view why) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                  absl::StrCat("field '", field, "' ", why));
}

// The shape of a sealed part; whether it opens is for the node that holds
// its key (§11.2).
absl::Status CheckSealedShape(absl::string_view field, const v1::Sealed& sealed) {
  if (sealed.key_id().size() != kKeyIdBytes || sealed.nonce().size() != kSealNonceBytes ||
      sealed.ciphertext().size() < 16 || sealed.ciphertext().size() > kMaxSealedBytes) {
    return BadField(field, absl::StrCat("must have a 16-byte key_id, a 24-byte nonce and 16 to ",
                                        kMaxSealedBytes, " bytes of ciphertext"));
  }
  return absl::OkStatus();
}

size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// The metadata the store keeps of `referral`, going to `destination`.
storage::ReferralMeta MetaOf(const v1::Referral& referral, const std::string& destination) {
  storage::ReferralMeta meta;
  meta.referral_id = referral.referral_id();
  meta.origin_node = referral.origin_node();
  meta.destination_node = destination;
  meta.urgency = referral.urgency();
  return meta;
}

absl::Status ReferralEvent(const v1::EnvelopeHeader& h, const std::string& body,
                           storage::Event& event) {
  v1::Referral referral;
  if (!referral.ParseFromString(body)) return BadBody("REFERRAL body does not parse");
  RETURN_IF_ERROR(CheckContentRules(referral));
  if (referral.referral_id() != h.referral_id()) {
    return BadBody("referral_id differs between header and body");
  }
  if (referral.origin_node() != h.sender_node()) {
    return BadField("origin_node", "must be the sender node");
  }
  if (referral.destination_node() != h.recipient_node()) {
    return BadField("destination_node", "must be the recipient node");
  }
  if (!referral.consent().given()) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::CONSENT_MISSING,
                    "a referral is refused until the person's consent is recorded (consent.given)");
  }
  if (referral.consent().has_withdrawn_at()) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::CONSENT_MISSING,
                    "consent was withdrawn (consent.withdrawn_at is set)");
  }
  if (referral.urgency() == v1::URGENCY_UNSPECIFIED) return BadField("urgency", "is required");
  // The hub routes without reading: the special-category fields travel
  // sealed, never in clear (PROTOCOL.md §11.1).
  if (!referral.has_sealed()) {
    return BadField("sealed", "is required: a referral's special-category fields travel sealed");
  }
  RETURN_IF_ERROR(CheckSealedShape("sealed", referral.sealed()));
  if (std::vector<std::string> clear = SealedFieldsInClear(referral); !clear.empty()) {
    return BadField(clear.front(), "must travel sealed (in `sealed`), not in clear");
  }
  storage::ReferralMeta meta = MetaOf(referral, referral.destination_node());
  if (referral.has_ack_deadline()) meta.ack_deadline = FromProtoTime(referral.ack_deadline());
  event.to_state = v1::SUBMITTED;
  event.referral = std::move(meta);
  return absl::OkStatus();
}

// The referral metadata of the REFERRAL envelope a forward carries.
absl::Status ForwardEvent(const v1::EnvelopeHeader& h, const v1::Forward& forward,
                          const Verifier& verifier, storage::Event& event) {
  if (!IsValidNodeId(forward.to_node())) {
    return BadField("forward.to_node", "must name the node the referral is routed to");
  }
  auto original = verifier.Verify(forward.referral_envelope());
  if (!original.ok()) {
    return MirError(original.status().code(), ReasonOf(original.status()),
                    absl::StrCat("forward.referral_envelope: ", original.status().message()));
  }
  v1::Referral referral;
  if (original->header.kind() != v1::REFERRAL || !referral.ParseFromString(original->body) ||
      referral.referral_id() != h.referral_id()) {
    return BadField("forward.referral_envelope", "must be this referral's REFERRAL envelope");
  }
  // A node routes on only a referral that was addressed to it: a relay that
  // merely passed a region's referral along may not redirect it (§10.6).
  if (referral.destination_node() != h.sender_node()) {
    return BadField("forward.referral_envelope",
                    "must be a referral addressed to the node that routes it on");
  }
  RETURN_IF_ERROR(CheckContentRules(referral));
  // A referral made before sealed fields would carry them in clear through
  // the hub's queues: it is not routed on (the origin submits it anew).
  if (!referral.has_sealed() || !SealedFieldsInClear(referral).empty()) {
    return BadField("forward.referral_envelope",
                    "carries a referral with its special-category fields in clear (made before "
                    "sealed fields): the origin must submit it again");
  }
  event.referral = MetaOf(referral, forward.to_node());
  event.referral_envelope = forward.referral_envelope();
  for (const v1::StreamPosition& p : forward.streams()) {
    event.join_streams.emplace_back(p.sender_node(), p.last_sequence());
  }
  return absl::OkStatus();
}

absl::Status StatusChangeEvent(const v1::EnvelopeHeader& h, const std::string& body,
                               const Verifier& verifier, storage::Event& event) {
  v1::StatusChange change;
  if (!change.ParseFromString(body)) return BadBody("STATUS_CHANGE body does not parse");
  RETURN_IF_ERROR(CheckContentRules(change));
  if (change.referral_id() != h.referral_id()) {
    return BadBody("referral_id differs between header and body");
  }
  if (Utf8Length(change.reason_text()) > kMaxReasonText) {
    return BadField("reason_text", "is longer than 500 characters");
  }
  if (change.has_sealed()) {
    RETURN_IF_ERROR(CheckSealedShape("sealed", change.sealed()));
    if (!change.reason_text().empty()) {
      return BadField("reason_text", "must be empty when the text travels sealed");
    }
  }
  switch (change.to_state()) {
    case v1::REFERRAL_STATE_UNSPECIFIED:
      return BadField("to_state", "must name the state to move to");
    case v1::SUBMITTED: {
      if (!change.has_forward()) {
        return BadField("forward", "is required to route a referral on (to_state SUBMITTED)");
      }
      absl::Status forwarded = ForwardEvent(h, change.forward(), verifier, event);
      if (!forwarded.ok()) return forwarded;
      event.reason = absl::StrCat("routed on to ", change.forward().to_node());
      break;
    }
    case v1::PLACEMENT_CONFIRMED:
      return BadField("to_state", "PLACEMENT_CONFIRMED comes only as a PlacementConfirmation");
    case v1::REJECTED:
      if (change.rejection_reason() == v1::REJECTION_REASON_UNSPECIFIED) {
        return BadField("rejection_reason", "is required to reject");
      }
      event.reason = v1::RejectionReason_Name(change.rejection_reason());
      break;
    case v1::CLOSED_NEGATIVE:
      if (change.closure_reason() == v1::CLOSURE_REASON_UNSPECIFIED) {
        return BadField("closure_reason", "is required to close negatively");
      }
      event.reason = v1::ClosureReason_Name(change.closure_reason());
      break;
    case v1::WITHDRAWN:
      if (change.withdrawal_reason() == v1::WITHDRAWAL_REASON_UNSPECIFIED) {
        return BadField("withdrawal_reason", "is required to withdraw");
      }
      event.reason = v1::WithdrawalReason_Name(change.withdrawal_reason());
      break;
    default:
      break;
  }
  const bool other_reason = change.rejection_reason() == v1::REJECTION_OTHER ||
                            change.closure_reason() == v1::CLOSURE_OTHER ||
                            change.withdrawal_reason() == v1::WITHDRAWAL_OTHER;
  if (other_reason && change.reason_text().empty() && !change.has_sealed()) {
    return BadField("reason_text", "is required when the reason is OTHER");
  }
  if (!change.reason_text().empty()) {
    event.reason = event.reason.empty() ? change.reason_text()
                                        : absl::StrCat(event.reason, ": ", change.reason_text());
  }
  event.to_state = change.to_state();
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckOpenedReferral(const v1::Referral& opened) {
  RETURN_IF_ERROR(CheckContentRules(opened));
  if (Utf8Length(opened.notes()) > kMaxNotes) {
    return BadField("notes", "is longer than 2,000 characters");
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::Event> EventFromEnvelope(const VerifiedEnvelope& verified,
                                                 const std::string& envelope_bytes,
                                                 const Verifier& verifier) {
  const v1::EnvelopeHeader& h = verified.header;
  storage::Event event;
  event.referral_id = h.referral_id();
  event.message_id = h.message_id();
  event.sender_node = h.sender_node();
  event.sequence = h.sequence();
  event.actor = verified.author;
  event.at = FromProtoTime(h.created_at());
  event.envelope = envelope_bytes;
  if (h.kind() != v1::RECEIPT && (h.referral_id().empty() || h.sequence() == 0)) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                    "header needs referral_id and a sequence from 1");
  }
  if (h.kind() == v1::REFERRAL && h.sequence() != 1) {
    return BadField("sequence", "of a REFERRAL is 1");
  }
  switch (h.kind()) {
    case v1::REFERRAL: {
      absl::Status s = ReferralEvent(h, verified.body, event);
      if (!s.ok()) return s;
      break;
    }
    case v1::STATUS_CHANGE: {
      absl::Status s = StatusChangeEvent(h, verified.body, verifier, event);
      if (!s.ok()) return s;
      break;
    }
    case v1::PLACEMENT_CONFIRMATION: {
      v1::PlacementConfirmation confirmation;
      if (!confirmation.ParseFromString(verified.body)) {
        return BadBody("PLACEMENT_CONFIRMATION body does not parse");
      }
      RETURN_IF_ERROR(CheckContentRules(confirmation));
      if (confirmation.referral_id() != h.referral_id()) {
        return BadBody("referral_id differs between header and body");
      }
      event.to_state = v1::PLACEMENT_CONFIRMED;
      break;
    }
    default:
      return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                      "receipts are returned by Deliver, never delivered");
  }
  return event;
}

absl::StatusOr<std::vector<storage::Event>> AnswerEventsFromEnvelope(
    const VerifiedEnvelope& verified, const std::string& envelope_bytes) {
  const v1::EnvelopeHeader& h = verified.header;
  if (!h.referral_id().empty() || h.sequence() != 0) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                    "a RECEIVED_ANSWERS header names no referral and has sequence 0; each answer "
                    "carries its own");
  }
  v1::ReceivedAnswers body;
  if (!body.ParseFromString(verified.body)) return BadBody("RECEIVED_ANSWERS body does not parse");
  if (body.answers_size() < 1 || body.answers_size() > kMaxReceivedAnswers) {
    return BadBody(absl::StrCat("a RECEIVED_ANSWERS holds 1 to ", kMaxReceivedAnswers,
                                " answers, not ", body.answers_size()));
  }
  std::set<std::string> message_ids;
  std::set<std::string> referral_ids;
  std::vector<storage::Event> events;
  events.reserve(body.answers_size());
  for (const v1::ReceivedAnswer& answer : body.answers()) {
    if (!IsCanonicalUuid(answer.message_id()) || !IsCanonicalUuid(answer.referral_id()) ||
        !IsCanonicalUuid(answer.submitted_message_id())) {
      return BadBody(
          "an answer's message_id, referral_id and submitted_message_id are canonical "
          "UUIDs");
    }
    if (answer.sequence() == 0) return BadBody("an answer's sequence starts at 1");
    if (!message_ids.insert(answer.message_id()).second ||
        !referral_ids.insert(answer.referral_id()).second) {
      return BadBody("no message_id and no referral_id twice in one RECEIVED_ANSWERS");
    }
    storage::Event event;
    event.referral_id = answer.referral_id();
    event.message_id = answer.message_id();
    event.sender_node = h.sender_node();
    event.sequence = answer.sequence();
    event.to_state = v1::RECEIVED;
    event.actor = verified.author;
    event.at = FromProtoTime(h.created_at());
    event.envelope = envelope_bytes;
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace mir::broker
