#ifndef MIR_CRYPTO_RECEIPT_H_
#define MIR_CRYPTO_RECEIPT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/signer.h"
#include "crypto/verifier.h"
#include "mir/v1/envelope.pb.h"

namespace mir {

// What a receipt is issued for: one received envelope.
struct ReceivedEnvelope {
  std::string message_id;
  std::string envelope_sha256;  // SHA-256 of the exact envelope bytes received
  std::string sender_node;      // the node that delivered it (recipient of the receipt)
};

// Signs a receipt as `node_signer` (a node identity) for `received`.
// Returns the serialized receipt Envelope (kind RECEIPT).
absl::StatusOr<std::string> SignReceipt(const Signer& node_signer, const ReceivedEnvelope& received,
                                        absl::Time received_at);

// Verifies a receipt envelope: a valid node signature by `expected_receiver`
// whose entries include `message_id` with `envelope_sha256`. Returns the
// receipt. Refusals: the Verifier's, or IDENTITY_MISMATCH (wrong signer),
// MALFORMED_BODY, or RECEIPT_MISMATCH when no entry matches the hash.
absl::StatusOr<v1::Receipt> VerifyReceipt(const Verifier& verifier, absl::string_view receipt_bytes,
                                          absl::string_view expected_receiver,
                                          absl::string_view message_id,
                                          absl::string_view envelope_sha256);

}  // namespace mir

#endif  // MIR_CRYPTO_RECEIPT_H_
