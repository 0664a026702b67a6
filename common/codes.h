#ifndef MIR_COMMON_CODES_H_
#define MIR_COMMON_CODES_H_

// The code lists that reports and service requests are checked against.
// Thread-safe; no I/O.

#include "absl/strings/string_view.h"

namespace mir {

// An ISO 639-3 language code in lower case ("ita", "pcm", "bin"), one of
// those in Debian's iso-codes at build time.
bool IsIso639_3(absl::string_view code);

// An Italian province code in upper case ("FI", "MI", "SU"), including the
// Sardinian codes of 2005-2016 that its 2025 reform brings back (CI, OG, OT,
// VS), so that a report from there is never refused.
bool IsItalianProvince(absl::string_view code);

}  // namespace mir

#endif  // MIR_COMMON_CODES_H_
