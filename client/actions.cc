#include "client/actions.h"

#include "absl/strings/str_cat.h"
#include "client/json_input.h"
#include "client/values.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/identity.h"

namespace mir::client {
namespace {

absl::Status FieldError(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("field ", path, " ", what));
}

bool IsOther(const v1::StatusChange& c) {
  return c.rejection_reason() == v1::REJECTION_OTHER || c.closure_reason() == v1::CLOSURE_OTHER ||
         c.withdrawal_reason() == v1::WITHDRAWAL_OTHER;
}

absl::Status CheckReasons(const v1::StatusChange& c) {
  if (c.to_state() == v1::REJECTED && c.rejection_reason() == v1::REJECTION_REASON_UNSPECIFIED) {
    return FieldError("rejection_reason", "is required to reject a referral");
  }
  if (c.to_state() == v1::CLOSED_NEGATIVE && c.closure_reason() == v1::CLOSURE_REASON_UNSPECIFIED) {
    return FieldError("closure_reason", "is required to close a referral negatively");
  }
  if (c.to_state() == v1::WITHDRAWN && c.withdrawal_reason() == v1::WITHDRAWAL_REASON_UNSPECIFIED) {
    return FieldError("withdrawal_reason", "is required to withdraw a referral");
  }
  if (IsOther(c) && c.reason_text().empty()) {
    return FieldError("reason_text", "is required when the reason is OTHER (use --text)");
  }
  const long length = Utf8Length(c.reason_text());
  if (length < 0) return FieldError("reason_text", "is not valid UTF-8 text");
  if (static_cast<size_t>(length) > kMaxReasonTextCharacters) {
    return FieldError("reason_text",
                      absl::StrCat("is ", length, " characters long, more than the 500 allowed"));
  }
  return absl::OkStatus();
}

absl::Status CheckStateFields(const v1::StatusChange& c) {
  switch (c.to_state()) {
    case v1::PLACEMENT_PROPOSED:
      if (c.placement().project_ref().empty())
        return FieldError("placement.project_ref", "is required");
      if (!c.placement().has_available_from())
        return FieldError("placement.available_from", "is required");
      break;
    case v1::TRANSFER_SCHEDULED:
      if (!c.has_transfer_date()) return FieldError("transfer_date", "is required");
      break;
    case v1::SUBMITTED:
      if (!IsValidNodeId(c.forward().to_node())) {
        return FieldError("forward.to_node", "must be the node id of the region to forward to");
      }
      if (c.forward().referral_envelope().empty()) {
        return FieldError("forward.referral_envelope",
                          "is missing: the node did not send the original referral to forward "
                          "(its mir-broker may predate forwarding)");
      }
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<v1::StatusChange> BodyTemplate(const v1::PrepareResponse& response) {
  if (!response.has_body_template()) return std::nullopt;
  return response.body_template();
}

absl::StatusOr<v1::StatusChange> BuildStatusChange(
    const Action& action, const std::optional<v1::StatusChange>& node_template,
    v1::ReferralState seen_state) {
  v1::StatusChange body;
  if (node_template.has_value()) {
    body = *node_template;
    if (!body.referral_id().empty() && body.referral_id() != action.referral_id) {
      return absl::InvalidArgumentError(
          "the node prepared a change for another referral; nothing was signed");
    }
  } else {
    body.set_from_state(seen_state);
  }
  body.set_referral_id(action.referral_id);
  v1::StatusChange overlay = action.change;
  overlay.clear_referral_id();
  overlay.clear_from_state();
  body.MergeFrom(overlay);
  RETURN_IF_ERROR(ValidateStatusChange(body));
  return body;
}

absl::Status ValidateStatusChange(const v1::StatusChange& change) {
  if (change.referral_id().empty()) return FieldError("referral_id", "is required");
  if (change.to_state() == v1::REFERRAL_STATE_UNSPECIFIED)
    return FieldError("to_state", "is required");
  RETURN_IF_ERROR(CheckReasons(change));
  return CheckStateFields(change);
}

absl::Status ValidateConfirmation(const v1::PlacementConfirmation& confirmation) {
  if (confirmation.referral_id().empty()) return FieldError("referral_id", "is required");
  if (confirmation.project_ref().empty())
    return FieldError("project_ref", "is required (use --project)");
  if (!confirmation.has_taken_in_charge_at())
    return FieldError("taken_in_charge_at", "is required");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::EnvelopeHeader>> HeadersToSign(const v1::PrepareResponse& prepared,
                                                              v1::MessageKind kind,
                                                              const std::string& referral_id,
                                                              absl::Time now) {
  if (prepared.headers().empty()) {
    return absl::InvalidArgumentError("the node prepared nothing to sign; nothing was sent");
  }
  std::vector<v1::EnvelopeHeader> headers;
  for (v1::EnvelopeHeader header : prepared.headers()) {
    if (header.kind() == v1::MESSAGE_KIND_UNSPECIFIED) header.set_kind(kind);
    if (header.kind() != kind || header.referral_id() != referral_id) {
      return absl::InvalidArgumentError(
          "the node prepared a header for another message; nothing was signed");
    }
    if (!header.has_created_at()) *header.mutable_created_at() = ToTimestamp(now);
    headers.push_back(std::move(header));
  }
  return headers;
}

absl::StatusOr<std::vector<std::string>> SignUnderEachHeader(
    const Signer& signer, const v1::PrepareResponse& prepared, v1::MessageKind kind,
    const std::string& referral_id, const std::string& body, absl::Time now) {
  ASSIGN_OR_RETURN(std::vector<v1::EnvelopeHeader> headers,
                   HeadersToSign(prepared, kind, referral_id, now));
  std::vector<std::string> envelopes;
  for (v1::EnvelopeHeader& header : headers) {
    ASSIGN_OR_RETURN(std::string envelope, signer.SignEnvelope(std::move(header), body));
    envelopes.push_back(std::move(envelope));
  }
  return envelopes;
}

v1::PrepareResponse NewReferralHeader(const std::string& destination, absl::Time now) {
  v1::PrepareResponse own;
  v1::EnvelopeHeader* header = own.add_headers();
  header->set_message_id(NewUuid());
  header->set_kind(v1::REFERRAL);
  header->set_recipient_node(destination);
  *header->mutable_created_at() = ToTimestamp(now);
  header->set_referral_id(NewUuid());
  header->set_sequence(1);
  return own;
}

}  // namespace mir::client
