#ifndef MIR_CRYPTO_RECEIPT_H_
#define MIR_CRYPTO_RECEIPT_H_

#include <string>
#include <vector>

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
  bool operator==(const ReceivedEnvelope&) const = default;
};

// What a receipt announces when its signer accepts RECEIVED_ANSWERS
// (Receipt.features, PROTOCOL.md §5 and §10.8).
inline constexpr absl::string_view kReceivedAnswersFeature = "received-answers";

// Signs a receipt as `node_signer` (a node identity) for `received`,
// announcing `features`. Returns the serialized receipt Envelope (kind
// RECEIPT).
absl::StatusOr<std::string> SignReceipt(const Signer& node_signer, const ReceivedEnvelope& received,
                                        absl::Time received_at,
                                        const std::vector<std::string>& features = {});

// One receipt for several envelopes received from the same node in one
// call (PROTOCOL.md §6.2.1): an entry each, in the order given. All of
// `received` must share one sender_node, and there must be at least one.
absl::StatusOr<std::string> SignBatchReceipt(const Signer& node_signer,
                                             const std::vector<ReceivedEnvelope>& received,
                                             absl::Time received_at,
                                             const std::vector<std::string>& features = {});

// Whether `receipt` announces `feature`.
bool Announces(const v1::Receipt& receipt, absl::string_view feature);

// Verifies a receipt envelope's signature and shape: a RECEIPT signed by node
// `expected_receiver` whose body names it. Returns the receipt, whose entries
// the caller then matches (ReceiptCovers). Refusals: the Verifier's, or
// MALFORMED_ENVELOPE, IDENTITY_MISMATCH (wrong signer), MALFORMED_BODY.
absl::StatusOr<v1::Receipt> VerifyReceiptSignature(const Verifier& verifier,
                                                   absl::string_view receipt_bytes,
                                                   absl::string_view expected_receiver);

// Whether `receipt` has an entry for `message_id` with `envelope_sha256`.
bool ReceiptCovers(const v1::Receipt& receipt, absl::string_view message_id,
                   absl::string_view envelope_sha256);

// How many entries the receipt envelope lists, without verifying it; 0 when
// it does not parse. For storage, which keeps a receipt covering several
// envelopes once.
int ReceiptEntryCount(absl::string_view receipt_bytes);

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
