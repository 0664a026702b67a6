#ifndef MIR_CRYPTO_SODIUM_UTIL_H_
#define MIR_CRYPTO_SODIUM_UTIL_H_

// libsodium set-up for the Ed25519 signatures of crypto/. Internal to crypto/.
//
// OpenSSL parses keys and certificates and checks chains; libsodium signs and
// verifies (about twice OpenSSL 3.0's EVP rate on our machines, same
// signatures: Ed25519 is deterministic). docs/PERFORMANCE.md has the figures.

#include "absl/status/status.h"

namespace mir::crypto_internal {

// Runs sodium_init() once per process, whichever thread comes first; later
// calls return the first call's result. Call it before any other libsodium
// function. An error status (never a crash) if libsodium cannot initialise.
absl::Status EnsureSodium();

}  // namespace mir::crypto_internal

#endif  // MIR_CRYPTO_SODIUM_UTIL_H_
