// mirctl's JSON input (client/json_input.h) on arbitrary text: the strict
// parser, and for what parses, the checks made before anything is signed.
// Must never crash, leak or hit UB, whatever the file holds.

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "client/json_input.h"
#include "fuzz/fuzz_env.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mir::fuzz::Quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)mir::client::Utf8Length(text);
  auto referral = mir::client::ParseReferralJson(text);
  if (referral.ok()) (void)mir::client::ValidateReferral(*referral);
  return 0;
}
