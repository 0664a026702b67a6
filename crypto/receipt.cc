#include "crypto/receipt.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"

namespace mir {
absl::StatusOr<std::string> SignBatchReceipt(const Signer& node_signer,
                                             const std::vector<ReceivedEnvelope>& received,
                                             absl::Time received_at,
                                             const std::vector<std::string>& features) {
  if (received.empty()) return absl::InvalidArgumentError("a receipt needs at least one entry");
  v1::Receipt receipt;
  receipt.set_receiver_node(node_signer.identity().node);
  *receipt.mutable_received_at() = ToProtoTime(received_at);
  for (const std::string& feature : features) receipt.add_features(feature);
  for (const ReceivedEnvelope& one : received) {
    if (one.sender_node != received.front().sender_node) {
      return absl::InvalidArgumentError("a receipt answers one sending node");
    }
    auto* entry = receipt.add_entries();
    entry->set_message_id(one.message_id);
    entry->set_envelope_sha256(one.envelope_sha256);
  }

  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::RECEIPT);
  header.set_recipient_node(received.front().sender_node);
  *header.mutable_created_at() = ToProtoTime(received_at);
  return node_signer.SignEnvelope(std::move(header), receipt.SerializeAsString());
}

absl::StatusOr<std::string> SignReceipt(const Signer& node_signer, const ReceivedEnvelope& received,
                                        absl::Time received_at,
                                        const std::vector<std::string>& features) {
  return SignBatchReceipt(node_signer, {received}, received_at, features);
}

bool Announces(const v1::Receipt& receipt, absl::string_view feature) {
  for (const std::string& one : receipt.features()) {
    if (one == feature) return true;
  }
  return false;
}

absl::StatusOr<v1::Receipt> VerifyReceiptSignature(const Verifier& verifier,
                                                   absl::string_view receipt_bytes,
                                                   absl::string_view expected_receiver) {
  ASSIGN_OR_RETURN(VerifiedEnvelope verified, verifier.Verify(receipt_bytes));
  if (verified.header.kind() != v1::RECEIPT) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                    "expected a RECEIPT envelope");
  }
  if (verified.author.node != expected_receiver) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH,
                    absl::StrCat("receipt signed by ", verified.author.Uri(), ", expected node ",
                                 expected_receiver));
  }
  v1::Receipt receipt;
  if (!receipt.ParseFromString(verified.body) || receipt.receiver_node() != expected_receiver) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY,
                    "receipt body does not parse or names another receiver");
  }
  return receipt;
}

bool ReceiptCovers(const v1::Receipt& receipt, absl::string_view message_id,
                   absl::string_view envelope_sha256) {
  for (const auto& entry : receipt.entries()) {
    if (entry.message_id() == message_id && entry.envelope_sha256() == envelope_sha256) {
      return true;
    }
  }
  return false;
}

int ReceiptEntryCount(absl::string_view receipt_bytes) {
  v1::Envelope envelope;
  v1::Receipt receipt;
  if (!envelope.ParseFromArray(receipt_bytes.data(), static_cast<int>(receipt_bytes.size())) ||
      !receipt.ParseFromString(envelope.body())) {
    return 0;
  }
  return receipt.entries_size();
}

absl::StatusOr<v1::Receipt> VerifyReceipt(const Verifier& verifier, absl::string_view receipt_bytes,
                                          absl::string_view expected_receiver,
                                          absl::string_view message_id,
                                          absl::string_view envelope_sha256) {
  ASSIGN_OR_RETURN(v1::Receipt receipt,
                   VerifyReceiptSignature(verifier, receipt_bytes, expected_receiver));
  if (ReceiptCovers(receipt, message_id, envelope_sha256)) return receipt;
  return MirError(absl::StatusCode::kUnauthenticated, v1::RECEIPT_MISMATCH,
                  "receipt does not cover this envelope's message id and hash");
}

}  // namespace mir
