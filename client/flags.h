#ifndef MIR_CLIENT_FLAGS_H_
#define MIR_CLIENT_FLAGS_H_

// A small command-line flag parser for mirctl: `--name value`,
// `--name=value`, boolean `--name`, repeatable flags, positional arguments,
// and `--` to end the flags. Errors are one sentence naming the flag.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mir::client {

struct FlagSpec {
  enum class Kind {
    kBool,      // --name, no value
    kValue,     // --name VALUE, at most once
    kRepeated,  // --name VALUE, any number of times
  };
  std::string name;  // without the leading "--"
  Kind kind = Kind::kValue;
  std::string value_name;  // shown in help, e.g. "NODE"
  std::string help;        // one line
};

// The result of parsing one command line. Values are kept in the order given.
class ParsedFlags {
 public:
  bool Has(absl::string_view name) const;
  // The value of a kValue flag, or `fallback` when absent.
  std::string Get(absl::string_view name, absl::string_view fallback = "") const;
  // Every value of a kRepeated flag.
  std::vector<std::string> GetAll(absl::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  void Add(const std::string& name, std::string value) {
    values_[name].push_back(std::move(value));
  }
  void AddPositional(std::string arg) { positional_.push_back(std::move(arg)); }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
};

// Parses `args` against `specs`. InvalidArgument, with a sentence such as
// "unknown flag --stat", "flag --to needs a value" or "flag --to was given
// twice", on the first problem.
absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args,
                                       const std::vector<FlagSpec>& specs);

// "  --to NODE        the region to forward to" lines, names aligned.
std::string FlagHelp(const std::vector<FlagSpec>& specs);

}  // namespace mir::client

#endif  // MIR_CLIENT_FLAGS_H_
