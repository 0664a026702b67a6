#include "client/json_input.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "client/values.h"
#include "common/status_macros.h"
#include "crypto/identity.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace mir::client {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::Struct;
using google::protobuf::Value;

absl::Status FieldError(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("field ", path, " ", what));
}

const FieldDescriptor* FindField(const Descriptor* type, const std::string& key) {
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* f = type->field(i);
    if (f->name() == key || f->json_name() == key) return f;
  }
  return nullptr;
}

std::string FullEnumNames(const FieldDescriptor* f) {
  std::vector<std::string> names;
  for (int i = 0; i < f->enum_type()->value_count(); ++i) {
    const std::string& name = f->enum_type()->value(i)->name();
    if (!absl::EndsWith(name, "UNSPECIFIED")) names.push_back(name);
  }
  return JoinAlternatives(names);
}

absl::Status CheckObject(const Struct& object, const Descriptor* type, const std::string& prefix);

absl::Status CheckEnum(const Value& v, const FieldDescriptor* f, const std::string& path) {
  if (v.kind_case() == Value::kStringValue &&
      f->enum_type()->FindValueByName(v.string_value()) != nullptr) {
    return absl::OkStatus();
  }
  return FieldError(path, absl::StrCat("must be one of ", FullEnumNames(f)));
}

absl::Status CheckTimestamp(const Value& v, const std::string& path) {
  absl::Time t;
  std::string err;
  if (v.kind_case() == Value::kStringValue &&
      absl::ParseTime(absl::RFC3339_full, v.string_value(), &t, &err)) {
    return absl::OkStatus();
  }
  return FieldError(path, "must be an RFC 3339 time such as \"2025-03-01T09:30:00Z\"");
}

absl::Status CheckInteger(const Value& v, const FieldDescriptor* f, const std::string& path) {
  const bool is_unsigned = f->cpp_type() == FieldDescriptor::CPPTYPE_UINT32 ||
                           f->cpp_type() == FieldDescriptor::CPPTYPE_UINT64;
  if (v.kind_case() == Value::kNumberValue && std::trunc(v.number_value()) == v.number_value() &&
      (!is_unsigned || v.number_value() >= 0)) {
    return absl::OkStatus();
  }
  return FieldError(path,
                    is_unsigned ? "must be a whole number, 0 or more" : "must be a whole number");
}

// One value (not a list) of field `f`.
absl::Status CheckSingle(const Value& v, const FieldDescriptor* f, const std::string& path) {
  if (v.kind_case() == Value::kNullValue) return absl::OkStatus();  // unset
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      if (v.kind_case() == Value::kBoolValue) return absl::OkStatus();
      return FieldError(path, "must be true or false, without quotes");
    case FieldDescriptor::CPPTYPE_STRING:
      if (v.kind_case() == Value::kStringValue) return absl::OkStatus();
      return FieldError(path, "must be a string in double quotes");
    case FieldDescriptor::CPPTYPE_ENUM:
      return CheckEnum(v, f, path);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (f->message_type()->full_name() == "google.protobuf.Timestamp") {
        return CheckTimestamp(v, path);
      }
      if (v.kind_case() != Value::kStructValue) return FieldError(path, "must be a JSON object");
      return CheckObject(v.struct_value(), f->message_type(), path + ".");
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      if (v.kind_case() == Value::kNumberValue) return absl::OkStatus();
      return FieldError(path, "must be a number");
    default:
      return CheckInteger(v, f, path);
  }
}

absl::Status CheckField(const Value& v, const FieldDescriptor* f, const std::string& path) {
  if (!f->is_repeated()) return CheckSingle(v, f, path);
  if (v.kind_case() == Value::kNullValue) return absl::OkStatus();
  if (v.kind_case() != Value::kListValue) {
    return FieldError(path, "must be a list in square brackets, e.g. [ ... ]");
  }
  for (int i = 0; i < v.list_value().values_size(); ++i) {
    const Value& element = v.list_value().values(i);
    const std::string element_path = absl::StrCat(path, "[", i, "]");
    if (element.kind_case() == Value::kNullValue)
      return FieldError(element_path, "must not be null");
    RETURN_IF_ERROR(CheckSingle(element, f, element_path));
  }
  return absl::OkStatus();
}

absl::Status CheckObject(const Struct& object, const Descriptor* type, const std::string& prefix) {
  // Sorted keys, so the first error reported does not depend on hash order.
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.fields()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    const FieldDescriptor* f = FindField(type, key);
    if (f == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field ", prefix, key, ": not a field of ", type->name()));
    }
    RETURN_IF_ERROR(CheckField(object.fields().at(key), f, prefix + f->name()));
  }
  return absl::OkStatus();
}

// The parser's own message, first line only: later lines quote the input.
std::string FirstLine(absl::string_view message) {
  std::string line(absl::StripAsciiWhitespace(
      std::vector<absl::string_view>(absl::StrSplit(message, '\n')).front()));
  if (line.size() > 120) line.resize(120);
  return line;
}

// A referral nests three levels at most; protobuf's JSON parser takes time
// quadratic in the depth, so a deeply nested file is refused before it.
constexpr int kMaxJsonDepth = 16;

// The deepest nesting of [ and { outside strings, counted in one pass.
int JsonDepth(absl::string_view json) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : json) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

absl::StatusOr<v1::Referral> ParseReferralJson(absl::string_view json) {
  if (JsonDepth(json) > kMaxJsonDepth) {
    return absl::InvalidArgumentError(absl::StrCat("not a referral: the JSON nests deeper than ",
                                                   kMaxJsonDepth,
                                                   " levels (a referral needs three)"));
  }
  Value tree;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &tree);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON: ", FirstLine(parsed.message().as_string())));
  }
  if (tree.kind_case() != Value::kStructValue) {
    return absl::InvalidArgumentError("not a referral: the file must hold one JSON object { ... }");
  }
  RETURN_IF_ERROR(CheckObject(tree.struct_value(), v1::Referral::descriptor(), ""));

  v1::Referral referral;
  auto converted = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &referral);
  if (!converted.ok()) {
    // Not expected after CheckObject; never quote the parser's message, which
    // may carry a value.
    return absl::InvalidArgumentError("not a valid referral in protobuf's JSON mapping");
  }
  return referral;
}

long Utf8Length(absl::string_view text) {
  long n = 0;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const int len = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (len == 0 || i + len > text.size()) return -1;
    for (int k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return -1;
    }
    i += len;
    ++n;
  }
  return n;
}

namespace {

// Every enum value set anywhere in `message` is one its enum defines (proto3
// keeps undefined numbers, e.g. from {"urgency": 7}).
absl::Status CheckEnumsDefined(const Message& message, const std::string& prefix) {
  const Reflection* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  for (const FieldDescriptor* f : fields) {
    const std::string path = prefix + f->name();
    const int n = f->is_repeated() ? r->FieldSize(message, f) : 1;
    for (int i = 0; i < n; ++i) {
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
        const int v =
            f->is_repeated() ? r->GetRepeatedEnumValue(message, f, i) : r->GetEnumValue(message, f);
        if (f->enum_type()->FindValueByNumber(v) == nullptr || v == 0) {
          return FieldError(path, absl::StrCat("must be one of ", FullEnumNames(f)));
        }
      } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        const Message& sub =
            f->is_repeated() ? r->GetRepeatedMessage(message, f, i) : r->GetMessage(message, f);
        RETURN_IF_ERROR(CheckEnumsDefined(sub, path + "."));
      }
    }
  }
  return absl::OkStatus();
}

bool AllOf(absl::string_view s, size_t len, bool (*pred)(unsigned char)) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!pred(static_cast<unsigned char>(c))) return false;
  }
  return true;
}
bool IsUpper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(unsigned char c) { return c >= 'a' && c <= 'z'; }

absl::Status CheckCodes(const v1::Referral& r) {
  if (!r.nationality().empty() && !AllOf(r.nationality(), 2, IsUpper)) {
    return FieldError("nationality", "must be an ISO 3166-1 alpha-2 code such as NG");
  }
  for (int i = 0; i < r.languages_size(); ++i) {
    if (!AllOf(r.languages(i), 3, IsLower)) {
      return FieldError(absl::StrCat("languages[", i, "]"),
                        "must be an ISO 639-3 code such as pcm");
    }
  }
  if (!r.mediator_language().empty() && !AllOf(r.mediator_language(), 3, IsLower)) {
    return FieldError("mediator_language", "must be an ISO 639-3 code such as pcm");
  }
  return absl::OkStatus();
}

absl::Status CheckConsent(const v1::Consent& consent) {
  if (!consent.given()) {
    return absl::InvalidArgumentError(
        "the person's consent is not recorded (consent.given is not true), and a referral "
        "cannot be submitted without it");
  }
  if (consent.has_withdrawn_at()) {
    return absl::InvalidArgumentError(
        "the person's consent was withdrawn (consent.withdrawn_at is set), so the referral "
        "cannot be submitted");
  }
  return absl::OkStatus();
}

absl::Status CheckNotes(const std::string& notes) {
  const long length = Utf8Length(notes);
  if (length < 0) return FieldError("notes", "is not valid UTF-8 text");
  if (static_cast<size_t>(length) > kMaxNotesCharacters) {
    return FieldError(
        "notes", absl::StrCat("is ", length, " characters long, more than the ", "2,000 allowed"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateReferral(const v1::Referral& referral) {
  RETURN_IF_ERROR(CheckConsent(referral.consent()));
  if (!referral.destination_node().empty() && !IsValidNodeId(referral.destination_node())) {
    return FieldError("destination_node", "must be a node id such as lombardia");
  }
  if (referral.person_code().empty()) {
    return FieldError("person_code", "is required: the opaque code the origin gave the person");
  }
  if (referral.urgency() == v1::URGENCY_UNSPECIFIED) {
    return FieldError("urgency", "is required: EMERGENCY_24H, URGENT or ORDINARY");
  }
  RETURN_IF_ERROR(CheckNotes(referral.notes()));
  RETURN_IF_ERROR(CheckEnumsDefined(referral, ""));
  return CheckCodes(referral);
}

}  // namespace mir::client
