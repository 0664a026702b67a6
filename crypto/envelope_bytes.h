#ifndef MIR_CRYPTO_ENVELOPE_BYTES_H_
#define MIR_CRYPTO_ENVELOPE_BYTES_H_

#include <string>

#include "absl/strings/string_view.h"

namespace mir {

// Domain-separation tag that starts every signed byte string (PROTOCOL.md §3).
inline constexpr absl::string_view kSignatureContext = "MIR-EXCHANGE/v1/envelope";

// The exact bytes an author signs:
//   kSignatureContext || 0x00 || u64be(len(header)) || header || u64be(len(body)) || body
std::string SignedBytes(absl::string_view header, absl::string_view body);

// SHA-256 of `data`, 32 raw bytes.
std::string Sha256(absl::string_view data);

std::string ToHex(absl::string_view bytes);
// Empty string on malformed input.
std::string FromHex(absl::string_view hex);

// A UUID version 7 (RFC 9562) in lowercase canonical form: the Unix time in
// milliseconds, then 74 bits from OpenSSL's CSPRNG. Time-ordered so that
// the store's indexes keyed by ids grow at their end.
std::string NewUuid();

// Whether `id` is a UUID in lowercase canonical form (8-4-4-4-12 hex digits,
// any version), the only form PROTOCOL.md accepts for message and referral
// ids. Other spellings are refused, not normalised: the signature covers the
// exact bytes, and two spellings must never name one message.
bool IsCanonicalUuid(absl::string_view id);

}  // namespace mir

#endif  // MIR_CRYPTO_ENVELOPE_BYTES_H_
