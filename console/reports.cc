#include "console/reports.h"

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/codes.h"
#include "console/errors.h"

namespace mir::console {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view message) {
  return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                      absl::StrCat("field ", field, " ", message), field);
}

bool IsUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

absl::Status Text(absl::string_view field, const std::string& value, size_t max) {
  if (value.size() > max) {
    return Invalid(field, absl::StrCat("is longer than ", max, " bytes"));
  }
  if (!IsUtf8(value)) return Invalid(field, "is not UTF-8 text");
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      return Invalid(field, "holds a control character");
    }
  }
  return absl::OkStatus();
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> Decode(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%') {
      if (i + 2 >= in.size()) {
        return ConsoleError(absl::StatusCode::kInvalidArgument, kMalformed,
                            "the form is not well formed (a broken %-escape)");
      }
      const int hi = HexDigit(in[i + 1]), lo = HexDigit(in[i + 2]);
      if (hi < 0 || lo < 0) {
        return ConsoleError(absl::StatusCode::kInvalidArgument, kMalformed,
                            "the form is not well formed (a broken %-escape)");
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

template <typename Enum>
bool EnumByName(const google::protobuf::EnumDescriptor* d, const std::string& name, Enum* out) {
  const auto* v = d->FindValueByName(absl::AsciiStrToUpper(absl::StripAsciiWhitespace(name)));
  if (v == nullptr || v->number() == 0) return false;
  *out = static_cast<Enum>(v->number());
  return true;
}

// A browser sends a textarea's line ends as CR LF; the node keeps LF only.
std::string Lines(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

const std::string* First(const std::multimap<std::string, std::string>& form, const char* key) {
  auto it = form.find(key);
  return it == form.end() ? nullptr : &it->second;
}

}  // namespace

absl::Status ValidateReport(const v1::CitizenReport& r) {
  if (r.channel() == v1::CONTACT_CHANNEL_UNSPECIFIED) return Invalid("channel", "is required");
  if (!v1::ContactChannel_IsValid(r.channel())) return Invalid("channel", "is not a known value");
  if (r.reporter_type() == v1::REPORTER_TYPE_UNSPECIFIED) {
    return Invalid("reporter_type", "is required");
  }
  if (!v1::ReporterType_IsValid(r.reporter_type())) {
    return Invalid("reporter_type", "is not a known value");
  }
  if (r.reason() == v1::CONTACT_REASON_UNSPECIFIED) return Invalid("reason", "is required");
  if (!v1::ContactReason_IsValid(r.reason())) return Invalid("reason", "is not a known value");
  if (!r.province().empty() && !IsItalianProvince(r.province())) {
    return Invalid("province", "must be an Italian province code, e.g. FI");
  }
  if (!IsIso639_3(r.language())) {
    return Invalid("language", "must be an ISO 639-3 language code, e.g. ita");
  }
  for (int e : r.suspected_exploitation()) {
    if (e == 0 || !v1::ExploitationType_IsValid(e)) {
      return Invalid("suspected_exploitation", "holds a value that is not known");
    }
  }
  if (r.persons() > kMaxPersons) {
    return Invalid("persons", absl::StrCat("must be at most ", kMaxPersons));
  }
  if (auto s = Text("municipality", r.municipality(), kMaxMunicipalityBytes); !s.ok()) return s;
  if (auto s = Text("description", r.description(), kMaxDescriptionBytes); !s.ok()) return s;
  if (auto s = Text("contact", r.contact(), kMaxContactBytes); !s.ok()) return s;
  return absl::OkStatus();
}

absl::StatusOr<std::multimap<std::string, std::string>> ParseUrlEncoded(absl::string_view body) {
  std::multimap<std::string, std::string> out;
  for (absl::string_view pair : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    auto key = Decode(pair.substr(0, eq));
    if (!key.ok()) return key.status();
    auto value = Decode(eq == absl::string_view::npos ? "" : pair.substr(eq + 1));
    if (!value.ok()) return value.status();
    out.emplace(std::move(*key), std::move(*value));
  }
  return out;
}

absl::StatusOr<v1::CitizenReport> ReportFromForm(
    const std::multimap<std::string, std::string>& form) {
  v1::CitizenReport r;
  r.set_channel(v1::CHANNEL_WEB_FORM);
  if (const std::string* v = First(form, "reporter_type"); v != nullptr && !v->empty()) {
    v1::ReporterType t;
    if (!EnumByName(v1::ReporterType_descriptor(), *v, &t)) {
      return Invalid("reporter_type", "is not a known value");
    }
    r.set_reporter_type(t);
  }
  if (const std::string* v = First(form, "reason"); v != nullptr && !v->empty()) {
    v1::ContactReason t;
    if (!EnumByName(v1::ContactReason_descriptor(), *v, &t)) {
      return Invalid("reason", "is not a known value");
    }
    r.set_reason(t);
  }
  if (const std::string* v = First(form, "province"); v != nullptr) {
    r.set_province(absl::AsciiStrToUpper(absl::StripAsciiWhitespace(*v)));
  }
  if (const std::string* v = First(form, "municipality"); v != nullptr) {
    r.set_municipality(Lines(absl::StripAsciiWhitespace(*v)));
  }
  auto [begin, end] = form.equal_range("suspected_exploitation");
  for (auto it = begin; it != end; ++it) {
    if (it->second.empty()) continue;
    v1::ExploitationType t;
    if (!EnumByName(v1::ExploitationType_descriptor(), it->second, &t)) {
      return Invalid("suspected_exploitation", "holds a value that is not known");
    }
    r.add_suspected_exploitation(t);
  }
  if (const std::string* v = First(form, "persons"); v != nullptr) {
    const absl::string_view text = absl::StripAsciiWhitespace(*v);
    uint32_t persons = 0;
    if (!text.empty() && (text.size() > 4 || !absl::SimpleAtoi(text, &persons) ||
                          !absl::c_all_of(text, absl::ascii_isdigit))) {
      return Invalid("persons", "must be a whole number from 0 to 1000");
    }
    r.set_persons(persons);
  }
  r.set_minors_suspected(First(form, "minors_suspected") != nullptr);
  r.set_immediate_danger(First(form, "immediate_danger") != nullptr);
  if (const std::string* v = First(form, "description"); v != nullptr) {
    r.set_description(Lines(absl::StripAsciiWhitespace(*v)));
  }
  if (const std::string* v = First(form, "language"); v != nullptr) {
    r.set_language(absl::AsciiStrToLower(absl::StripAsciiWhitespace(*v)));
  }
  if (const std::string* v = First(form, "contact"); v != nullptr) {
    r.set_contact(Lines(absl::StripAsciiWhitespace(*v)));
  }
  if (absl::Status valid = ValidateReport(r); !valid.ok()) return valid;
  return r;
}

std::string ReportFieldOf(const absl::Status& status) {
  std::string field = FieldOf(status);
  if (!field.empty()) return field;
  absl::string_view message = status.message();
  if (absl::ConsumePrefix(&message, "field ")) {
    field = std::string(message.substr(0, message.find(' ')));
    // "report.province" or "report.description" from the node: the form's name.
    if (absl::StartsWith(field, "report.")) field = field.substr(7);
  }
  return field;
}

}  // namespace mir::console
