#include "console/json.h"

#include "absl/strings/str_cat.h"
#include "console/errors.h"
#include "google/protobuf/util/json_util.h"

namespace mir::console {

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.always_print_enums_as_ints = false;
  options.preserve_proto_field_names = false;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}";
  return out;
}

absl::Status FromJson(absl::string_view json, google::protobuf::Message* message,
                      absl::string_view what) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, kMalformed,
                        absl::StrCat(what, " is not valid: ", status.message().as_string()), what);
  }
  return absl::OkStatus();
}

absl::StatusOr<google::protobuf::Struct> ParseObject(absl::string_view body) {
  google::protobuf::Struct object;
  google::protobuf::util::JsonParseOptions options;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), &object, options);
  if (!status.ok()) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, kMalformed,
                        "the request body is not one JSON object");
  }
  return object;
}

absl::StatusOr<std::string> MemberJson(const google::protobuf::Struct& object,
                                       absl::string_view name) {
  auto it = object.fields().find(std::string(name));
  if (it == object.fields().end()) return std::string();
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(it->second, &out).ok()) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, kMalformed,
                        absl::StrCat("field ", name, " is not valid JSON"), name);
  }
  return out;
}

absl::StatusOr<std::string> MemberString(const google::protobuf::Struct& object,
                                         absl::string_view name) {
  auto it = object.fields().find(std::string(name));
  if (it == object.fields().end() || it->second.has_null_value()) return std::string();
  if (!it->second.has_string_value()) {
    return ConsoleError(absl::StatusCode::kInvalidArgument, kMalformed,
                        absl::StrCat("field ", name, " must be a string"), name);
  }
  return it->second.string_value();
}

}  // namespace mir::console
