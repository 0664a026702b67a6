#include "broker/content_rules.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/proto_time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"

namespace mir::broker {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Free text with a limit of its own in characters (checked where the field
// is read); here only a bound in bytes, four per character at most.
size_t StringLimit(const FieldDescriptor& field) {
  if (field.name() == "notes") return 4 * 2000;
  if (field.name() == "reason_text") return 4 * 500;
  return kMaxStringBytes;
}

absl::Status Refuse(const std::string& path, absl::string_view why) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                  absl::StrCat("field '", path, "' ", why));
}

absl::Status CheckMessage(const Message& message, const std::string& prefix);

absl::Status CheckValue(const Message& message, const FieldDescriptor& field, int index,
                        const std::string& path) {
  const Reflection& r = *message.GetReflection();
  const bool repeated = field.is_repeated();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int value = repeated ? r.GetRepeatedEnumValue(message, &field, index)
                                 : r.GetEnumValue(message, &field);
      if (field.enum_type()->FindValueByNumber(value) == nullptr) {
        return Refuse(path, absl::StrCat("holds ", value, ", which is not a ",
                                         field.enum_type()->name(), " value"));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      if (field.type() == FieldDescriptor::TYPE_BYTES) return absl::OkStatus();
      std::string scratch;
      const std::string& value =
          repeated ? r.GetRepeatedStringReference(message, &field, index, &scratch)
                   : r.GetStringReference(message, &field, &scratch);
      if (value.size() > StringLimit(field)) {
        return Refuse(path, absl::StrCat("is longer than ", StringLimit(field), " bytes"));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& child =
          repeated ? r.GetRepeatedMessage(message, &field, index) : r.GetMessage(message, &field);
      if (field.message_type() == google::protobuf::Timestamp::descriptor()) {
        const auto& ts = static_cast<const google::protobuf::Timestamp&>(child);
        if (!IsValidTimestamp(ts)) {
          return Refuse(path, "is not a time between 0001-01-01 and 9999-12-31");
        }
        return absl::OkStatus();
      }
      return CheckMessage(child, absl::StrCat(path, "."));
    }
    default:
      return absl::OkStatus();
  }
}

absl::Status CheckMessage(const Message& message, const std::string& prefix) {
  const Descriptor& type = *message.GetDescriptor();
  const Reflection& r = *message.GetReflection();
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor& field = *type.field(i);
    const std::string path = absl::StrCat(prefix, field.name());
    if (field.is_repeated()) {
      const int n = r.FieldSize(message, &field);
      if (n > kMaxRepeatedEntries) {
        return Refuse(path, absl::StrCat("has ", n, " entries; at most ", kMaxRepeatedEntries));
      }
      for (int j = 0; j < n; ++j) {
        absl::Status s = CheckValue(message, field, j, absl::StrCat(path, "[", j, "]"));
        if (!s.ok()) return s;
      }
    } else if (field.cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
               r.HasField(message, &field)) {
      absl::Status s = CheckValue(message, field, -1, path);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckContentRules(const Message& body) { return CheckMessage(body, ""); }

}  // namespace mir::broker
