#include "client/values.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace mir::client {
namespace {

using google::protobuf::EnumDescriptor;

bool IsUnspecified(const std::string& name) { return absl::EndsWith(name, "UNSPECIFIED"); }

// The longest prefix ending in '_' shared by every name; with a single
// name, or names sharing nothing, "".
std::string SharedPrefix(const std::vector<std::string>& names) {
  if (names.size() < 2) return "";
  std::string prefix = names[0];
  for (size_t i = 1; i < names.size(); ++i) {
    const std::string& name = names[i];
    size_t n = 0;
    while (n < prefix.size() && n < name.size() && prefix[n] == name[n]) ++n;
    prefix.resize(n);
  }
  size_t underscore = prefix.rfind('_');
  return underscore == std::string::npos ? "" : prefix.substr(0, underscore + 1);
}

// The prefix every value shares (URGENCY_ of URGENCY_UNSPECIFIED,
// URGENCY_URGENT, ...). When the *_UNSPECIFIED value alone shares nothing
// with the others (CONTACT_CHANNEL_UNSPECIFIED beside CHANNEL_PHONE,
// CHANNEL_EMAIL), the prefix the others share, so that "phone" still reads.
std::string CommonPrefix(const EnumDescriptor* type) {
  std::vector<std::string> all, specified;
  for (int i = 0; i < type->value_count(); ++i) {
    all.push_back(type->value(i)->name());
    if (!IsUnspecified(all.back())) specified.push_back(all.back());
  }
  std::string prefix = SharedPrefix(all);
  return prefix.empty() ? SharedPrefix(specified) : prefix;
}

}  // namespace

std::string ShortEnumName(const EnumDescriptor* type, int number) {
  const auto* value = type->FindValueByNumber(number);
  if (value == nullptr) return absl::StrCat("UNKNOWN(", number, ")");
  const std::string prefix = CommonPrefix(type);
  // Only an *_UNSPECIFIED value may lack the prefix (CommonPrefix).
  if (!absl::StartsWith(value->name(), prefix)) return value->name();
  return value->name().substr(prefix.size());
}

std::vector<std::string> ShortEnumNames(const EnumDescriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (!IsUnspecified(type->value(i)->name()))
      names.push_back(ShortEnumName(type, type->value(i)->number()));
  }
  return names;
}

std::string JoinAlternatives(const std::vector<std::string>& names) {
  if (names.size() < 2) return absl::StrJoin(names, "");
  std::vector<std::string> head(names.begin(), names.end() - 1);
  return absl::StrCat(absl::StrJoin(head, ", "), " or ", names.back());
}

absl::StatusOr<int> ParseEnumName(const EnumDescriptor* type, absl::string_view text,
                                  absl::string_view what) {
  const std::string wanted = absl::AsciiStrToUpper(absl::StrReplaceAll(text, {{"-", "_"}}));
  const std::string prefix = CommonPrefix(type);
  for (int i = 0; i < type->value_count(); ++i) {
    const std::string& name = type->value(i)->name();
    if (IsUnspecified(name)) continue;
    if (name == wanted || name == prefix + wanted) return type->value(i)->number();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, " must be ", JoinAlternatives(ShortEnumNames(type))));
}

absl::StatusOr<absl::Time> ParseTimeFlag(absl::string_view text, absl::string_view what) {
  absl::Time t;
  std::string err;
  const std::string s(text);
  if (absl::ParseTime("%Y-%m-%d", s, absl::UTCTimeZone(), &t, &err)) return t;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return t;
  return absl::InvalidArgumentError(
      absl::StrCat(what,
                   " must be a date such as 2025-03-01 or a time such as "
                   "2025-03-01T09:30:00+01:00"));
}

absl::StatusOr<absl::Duration> ParseDurationFlag(absl::string_view text, absl::string_view what) {
  absl::Duration d;
  if (absl::ParseDuration(std::string(text), &d) && d > absl::ZeroDuration()) return d;
  return absl::InvalidArgumentError(
      absl::StrCat(what, " must be a positive duration such as 10s or 2m"));
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  ts.set_seconds(nanos / 1000000000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  if (ts.nanos() < 0) {
    ts.set_seconds(ts.seconds() - 1);
    ts.set_nanos(ts.nanos() + 1000000000);
  }
  return ts;
}

absl::Time FromTimestamp(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

namespace {
std::string Format(const google::protobuf::Timestamp& ts, const char* format) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  return absl::FormatTime(format, FromTimestamp(ts), absl::UTCTimeZone());
}
}  // namespace

std::string FormatMinute(const google::protobuf::Timestamp& ts) {
  return Format(ts, "%Y-%m-%d %H:%M UTC");
}

std::string FormatSecond(const google::protobuf::Timestamp& ts) {
  return Format(ts, "%Y-%m-%d %H:%M:%S UTC");
}

}  // namespace mir::client
