#include "crypto/sodium_util.h"

#include <sodium.h>

namespace mir::crypto_internal {

absl::Status EnsureSodium() {
  // A function-local static is initialised exactly once, thread-safely
  // (C++11); sodium_init() returns 0 the first time, 1 if already done, -1
  // on failure.
  static const bool kReady = sodium_init() >= 0;
  if (!kReady) return absl::InternalError("libsodium failed to initialise (sodium_init)");
  return absl::OkStatus();
}

}  // namespace mir::crypto_internal
