#ifndef MIR_CRYPTO_SEALED_REFERRAL_H_
#define MIR_CRYPTO_SEALED_REFERRAL_H_

// Which fields of a referral and a status change are sealed (PROTOCOL.md
// §11.1), and moving them in and out of their sealed parts.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/sealing.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/status_change.pb.h"

namespace mir {

// The names of the Referral fields that travel sealed (SealedReferral's).
const std::vector<std::string>& SealedReferralFieldNames();

// The sealed fields `referral` carries in clear (empty: none).
std::vector<std::string> SealedFieldsInClear(const v1::Referral& referral);

// Moves the sealed fields of `referral` into `referral.sealed`, sealed under
// `key` for its referral_id. `nonce`: RandomNonce(), or fixed in test vectors.
absl::Status SealReferral(v1::Referral& referral, const SecretKey& key,
                          const std::string& nonce = RandomNonce());

// The referral with its sealed fields opened and merged in (and `sealed`
// cleared). SEALED_TAMPERED / UNKNOWN_KEY as Open.
absl::StatusOr<v1::Referral> OpenReferral(const v1::Referral& referral, const SecretKey& key);

// Moves `change.reason_text` into `change.sealed` (no-op when empty).
absl::Status SealStatusText(v1::StatusChange& change, const SecretKey& key);
// The reason text of a status change, opened if sealed.
absl::StatusOr<std::string> OpenStatusText(const v1::StatusChange& change, const SecretKey& key);

}  // namespace mir

#endif  // MIR_CRYPTO_SEALED_REFERRAL_H_
