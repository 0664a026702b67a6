#include "client/flags.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mir::client {

bool ParsedFlags::Has(absl::string_view name) const { return values_.find(name) != values_.end(); }

std::string ParsedFlags::Get(absl::string_view name, absl::string_view fallback) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::string(fallback);
  return it->second.back();
}

std::vector<std::string> ParsedFlags::GetAll(absl::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

namespace {

const FlagSpec* FindSpec(const std::vector<FlagSpec>& specs, absl::string_view name) {
  for (const FlagSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// "-h" is the usual short form of "--help"; nothing else has a short form.
std::string Canonical(const std::string& arg) { return arg == "-h" ? "--help" : arg; }

}  // namespace

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args,
                                       const std::vector<FlagSpec>& specs) {
  ParsedFlags parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string arg = Canonical(args[i]);
    if (arg == "--") {
      for (++i; i < args.size(); ++i) parsed.AddPositional(args[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      parsed.AddPositional(arg);
      continue;
    }
    if (!absl::StartsWith(arg, "--"))
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
    std::string name = arg.substr(2);
    std::string value;
    bool has_inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline_value = true;
    }
    const FlagSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (spec->kind == FlagSpec::Kind::kBool) {
      if (has_inline_value) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " takes no value"));
      }
      parsed.Add(name, "true");
      continue;
    }
    if (!has_inline_value) {
      // A missing value followed by another flag is a mistake far more often
      // than a value starting with "--" (which can still be given as --name=--x).
      if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value (", spec->value_name, ")"));
      }
      value = args[++i];
    }
    if (spec->kind == FlagSpec::Kind::kValue && parsed.Has(name)) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " was given twice"));
    }
    parsed.Add(name, std::move(value));
  }
  return parsed;
}

std::string FlagHelp(const std::vector<FlagSpec>& specs) {
  std::vector<std::string> heads;
  size_t width = 0;
  for (const FlagSpec& spec : specs) {
    std::string head = absl::StrCat("--", spec.name);
    if (spec.kind != FlagSpec::Kind::kBool) absl::StrAppend(&head, " ", spec.value_name);
    width = std::max(width, head.size());
    heads.push_back(std::move(head));
  }
  std::string out;
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::StrAppend(&out, "  ", heads[i], std::string(width - heads[i].size() + 3, ' '),
                    specs[i].help, "\n");
  }
  return out;
}

}  // namespace mir::client
