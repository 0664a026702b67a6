#ifndef MIR_CONSOLE_LIST_FILTERS_H_
#define MIR_CONSOLE_LIST_FILTERS_H_

// What the console's citizen-report and service-request calls read alike:
// enum values as the page writes them, a list's query filters, and the
// INVALID_FIELD refusal naming a field. No I/O; thread-safe.

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "console/errors.h"
#include "google/protobuf/descriptor.h"

namespace mir::console {

// 400 INVALID_FIELD "field <field> <message>", naming `field` for the page.
inline absl::Status BadField(absl::string_view field, absl::string_view message) {
  return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                      absl::StrCat("field ", field, " ", message), field);
}

// "HELD", "outcome_held", "OUTCOME_HELD" (prefix "OUTCOME_") -> OUTCOME_HELD;
// false for an unknown name or the enum's 0.
template <typename Enum>
bool EnumOf(const google::protobuf::EnumDescriptor* d, absl::string_view prefix,
            absl::string_view value, Enum* out) {
  const std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(value));
  for (const std::string& name : {upper, absl::StrCat(prefix, upper)}) {
    if (const auto* v = d->FindValueByName(name); v != nullptr && v->number() != 0) {
      *out = static_cast<Enum>(v->number());
      return true;
    }
  }
  return false;
}

// A list call's query into `request`: state=A,B (names of `State`, with or
// without `state_prefix`) and limit=N (N >= 0); other keys and empty values
// are ignored. 400 INVALID_FIELD naming state or limit.
template <typename State, typename Request>
absl::Status ReadListFilters(const std::multimap<std::string, std::string>& query,
                             absl::string_view state_prefix, Request& request) {
  for (const auto& [key, value] : query) {
    if (value.empty()) continue;
    if (key == "state") {
      for (absl::string_view one : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        State state;
        if (!EnumOf(google::protobuf::GetEnumDescriptor<State>(), state_prefix, one, &state)) {
          return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                              "query parameter state is not a known value", "state");
        }
        request.add_states(state);
      }
    } else if (key == "limit") {
      int32_t limit = 0;
      if (!absl::SimpleAtoi(value, &limit) || limit < 0) {
        return ConsoleError(absl::StatusCode::kInvalidArgument, "INVALID_FIELD",
                            "query parameter limit must be a number", "limit");
      }
      request.set_limit(limit);
    }
  }
  return absl::OkStatus();
}

}  // namespace mir::console

#endif  // MIR_CONSOLE_LIST_FILTERS_H_
