#include "crypto/receipt.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"

namespace mir {
absl::StatusOr<std::string> SignReceipt(const Signer& node_signer, const ReceivedEnvelope& received,
                                        absl::Time received_at) {
  v1::Receipt receipt;
  receipt.set_receiver_node(node_signer.identity().node);
  *receipt.mutable_received_at() = ToProtoTime(received_at);
  auto* entry = receipt.add_entries();
  entry->set_message_id(received.message_id);
  entry->set_envelope_sha256(received.envelope_sha256);

  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::RECEIPT);
  header.set_recipient_node(received.sender_node);
  *header.mutable_created_at() = ToProtoTime(received_at);
  return node_signer.SignEnvelope(std::move(header), receipt.SerializeAsString());
}

absl::StatusOr<v1::Receipt> VerifyReceipt(const Verifier& verifier, absl::string_view receipt_bytes,
                                          absl::string_view expected_receiver,
                                          absl::string_view message_id,
                                          absl::string_view envelope_sha256) {
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
  for (const auto& entry : receipt.entries()) {
    if (entry.message_id() == message_id && entry.envelope_sha256() == envelope_sha256) {
      return receipt;
    }
  }
  return MirError(absl::StatusCode::kUnauthenticated, v1::RECEIPT_MISMATCH,
                  "receipt does not cover this envelope's message id and hash");
}

}  // namespace mir
