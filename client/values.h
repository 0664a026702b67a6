#ifndef MIR_CLIENT_VALUES_H_
#define MIR_CLIENT_VALUES_H_

// How mirctl reads and writes enum values and times on the command line and
// in tables. Pure functions; thread-safe.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"

namespace mir::client {

// The value's name without the prefix all the enum's values share:
// URGENCY_EMERGENCY_24H -> "EMERGENCY_24H", REJECTION_NO_PLACES -> "NO_PLACES",
// SUBMITTED -> "SUBMITTED". When the *_UNSPECIFIED value alone shares no
// prefix with the others, the prefix the others share: CHANNEL_PHONE ->
// "PHONE" beside CONTACT_CHANNEL_UNSPECIFIED (which keeps its whole name).
// "UNKNOWN(7)" for a number the enum does not define.
std::string ShortEnumName(const google::protobuf::EnumDescriptor* type, int number);

template <typename E>
std::string ShortName(E value) {
  return ShortEnumName(google::protobuf::GetEnumDescriptor<E>(), static_cast<int>(value));
}

// The short names of every value but the *_UNSPECIFIED one, e.g.
// {"EMERGENCY_24H", "URGENT", "ORDINARY"}.
std::vector<std::string> ShortEnumNames(const google::protobuf::EnumDescriptor* type);

// Reads a short or full value name, case-insensitive, '-' taken as '_'
// ("emergency_24h", "URGENCY_URGENT", "0-13"). The *_UNSPECIFIED value is
// refused. InvalidArgument "FLAG: "x" is not one of A, B or C" otherwise,
// where `what` names the flag or field.
absl::StatusOr<int> ParseEnumName(const google::protobuf::EnumDescriptor* type,
                                  absl::string_view text, absl::string_view what);

template <typename E>
absl::StatusOr<E> ParseEnum(absl::string_view text, absl::string_view what) {
  auto number = ParseEnumName(google::protobuf::GetEnumDescriptor<E>(), text, what);
  if (!number.ok()) return number.status();
  return static_cast<E>(*number);
}

// "A, B or C".
std::string JoinAlternatives(const std::vector<std::string>& names);

// A date (YYYY-MM-DD, taken as 00:00 UTC) or an RFC 3339 time
// (2025-03-01T09:30:00+01:00). InvalidArgument naming `what` otherwise.
absl::StatusOr<absl::Time> ParseTimeFlag(absl::string_view text, absl::string_view what);

// "10s", "2m", "1m30s": a positive duration. InvalidArgument naming `what`.
absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view text, absl::string_view what);

google::protobuf::Timestamp ToTimestamp(absl::Time t);
absl::Time FromTimestamp(const google::protobuf::Timestamp& ts);

// "2025-03-01 09:30 UTC" (minutes), or "-" for an unset timestamp.
std::string FormatMinute(const google::protobuf::Timestamp& ts);
// "2025-03-01 09:30:05 UTC" (seconds), or "-" for an unset timestamp.
std::string FormatSecond(const google::protobuf::Timestamp& ts);

}  // namespace mir::client

#endif  // MIR_CLIENT_VALUES_H_
