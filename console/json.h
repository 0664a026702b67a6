#ifndef MIR_CONSOLE_JSON_H_
#define MIR_CONSOLE_JSON_H_

// JSON in and out of the console's API with protobuf's own JSON mapping
// (google::protobuf::util), no other JSON library: messages as
// lowerCamelCase with enums by name, and request objects read as
// google.protobuf.Struct. Refusals are INVALID_ARGUMENT with reason
// MALFORMED (or the field), never quoting the input.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/struct.pb.h"

namespace mir::console {

// The message as JSON, every field printed (zeros, empty lists, enum names).
std::string ToJson(const google::protobuf::Message& message);

// Strict: unknown fields and wrong types refused.
absl::Status FromJson(absl::string_view json, google::protobuf::Message* message,
                      absl::string_view what);

// A request body that must be one JSON object.
absl::StatusOr<google::protobuf::Struct> ParseObject(absl::string_view body);

// The member `name` as JSON text; nullopt-like empty string when absent.
absl::StatusOr<std::string> MemberJson(const google::protobuf::Struct& object,
                                       absl::string_view name);
// The member `name` as a string ("" when absent); INVALID_ARGUMENT if not one.
absl::StatusOr<std::string> MemberString(const google::protobuf::Struct& object,
                                         absl::string_view name);

}  // namespace mir::console

#endif  // MIR_CONSOLE_JSON_H_
