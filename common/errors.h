#ifndef MIR_COMMON_ERRORS_H_
#define MIR_COMMON_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "mir/v1/common.pb.h"

namespace mir {

// The domain every ErrorInfo we send carries.
inline constexpr absl::string_view kErrorDomain = "mir-exchange.v1";

// A status carrying a machine-readable reason next to its human message.
// `message` must never contain personal data: it reaches logs and peers.
absl::Status MirError(absl::StatusCode code, v1::ErrorReason reason, absl::string_view message);

// The reason attached by MirError, or ERROR_REASON_UNSPECIFIED.
v1::ErrorReason ReasonOf(const absl::Status& status);

// "BAD_SIGNATURE"-style name of the reason attached to `status` ("" if none).
std::string ReasonName(const absl::Status& status);

}  // namespace mir

#endif  // MIR_COMMON_ERRORS_H_
