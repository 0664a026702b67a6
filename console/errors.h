#ifndef MIR_CONSOLE_ERRORS_H_
#define MIR_CONSOLE_ERRORS_H_

// Refusals as the console's JSON API gives them (docs/CONSOLE-API.md):
// {"error": {"reason": "...", "message": "...", "field": "..."}} with an HTTP
// status from the gRPC code. A reason is either an ErrorReason name from the
// broker (google.rpc.ErrorInfo, common/errors.h) or one of the console's own
// (SESSION_EXPIRED, CSRF, CHALLENGE_UNKNOWN, WRONG_ROLE, UNKNOWN_CA, ...),
// carried as a payload of the absl::Status. Messages never hold personal data.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mir::console {

// The console's own reasons.
inline constexpr absl::string_view kSessionExpired = "SESSION_EXPIRED";
inline constexpr absl::string_view kCsrf = "CSRF";
inline constexpr absl::string_view kChallengeUnknown = "CHALLENGE_UNKNOWN";
inline constexpr absl::string_view kWrongRole = "WRONG_ROLE";
inline constexpr absl::string_view kUnknownCa = "UNKNOWN_CA";
inline constexpr absl::string_view kMalformed = "MALFORMED";
inline constexpr absl::string_view kTokenUnknown = "TOKEN_UNKNOWN";
inline constexpr absl::string_view kNotFound = "NOT_FOUND";
inline constexpr absl::string_view kTooLarge = "TOO_LARGE";

// A status with a console reason and, optionally, the field it is about.
absl::Status ConsoleError(absl::StatusCode code, absl::string_view reason,
                          absl::string_view message, absl::string_view field = "");

// `status` with `field` attached (kept code, message and reasons).
absl::Status WithField(absl::Status status, absl::string_view field);

// The console reason, else the broker's ErrorReason name, else "" .
std::string ReasonOf(const absl::Status& status);
std::string FieldOf(const absl::Status& status);

// 400 INVALID_ARGUMENT/OUT_OF_RANGE, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 NOT_FOUND, 409 FAILED_PRECONDITION/ALREADY_EXISTS/
// ABORTED, 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED,
// 500 otherwise.
int HttpStatusOf(absl::StatusCode code);

// {"error": {...}} for a non-OK status.
std::string ErrorJson(const absl::Status& status);

// A JSON string literal (quotes included) of `text`.
std::string JsonString(absl::string_view text);

}  // namespace mir::console

#endif  // MIR_CONSOLE_ERRORS_H_
