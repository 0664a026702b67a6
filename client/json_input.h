#ifndef MIR_CLIENT_JSON_INPUT_H_
#define MIR_CLIENT_JSON_INPUT_H_

// Referrals from JSON files (protobuf's JSON mapping of mir.v1.Referral,
// field names in lowerCamelCase or snake_case, enum values by full name), and
// the checks mirctl makes before it signs anything. Every error is
// InvalidArgument with one sentence naming the field and never quoting a
// value from the input, which may be personal data. Pure; thread-safe.

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mir/v1/referral.pb.h"

namespace mir::client {

// Notes are free text and at risk of holding special-category data; a hard cap.
inline constexpr size_t kMaxNotesCharacters = 2000;
// Status change reason_text: short, no personal data.
inline constexpr size_t kMaxReasonTextCharacters = 500;

// Parses `json` strictly: an unknown field, a value of the wrong JSON type
// ("yes" for a boolean, a number for a string) or an undefined enum name is
// refused, naming the field, e.g. "field consent.given must be true or false".
// Does not call ValidateReferral.
absl::StatusOr<v1::Referral> ParseReferralJson(absl::string_view json);

// What must hold before a referral is signed: consent given and not
// withdrawn, a person code, an urgency, a valid destination node id when set,
// notes of at most kMaxNotesCharacters, defined enum values, and well-formed
// nationality and language codes.
absl::Status ValidateReferral(const v1::Referral& referral);

// Unicode code points in valid UTF-8 `text`; -1 if it is not valid UTF-8.
long Utf8Length(absl::string_view text);

}  // namespace mir::client

#endif  // MIR_CLIENT_JSON_INPUT_H_
