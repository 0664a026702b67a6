#ifndef MIR_CONSOLE_TOKENS_H_
#define MIR_CONSOLE_TOKENS_H_

// Unguessable tokens (session ids, CSRF tokens, challenges, action tokens)
// from OpenSSL's CSPRNG, and their comparison in constant time.

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace mir::console {

// base64url without padding of `bytes` random bytes (32 -> 43 characters).
// Aborts if the CSPRNG fails: no token is better than a guessable one.
std::string RandomToken(size_t bytes = 32);

// Equal length and bytes, in time independent of where they differ.
bool SameToken(absl::string_view a, absl::string_view b);

}  // namespace mir::console

#endif  // MIR_CONSOLE_TOKENS_H_
