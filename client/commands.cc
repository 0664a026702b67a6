#include "client/commands.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/command_internal.h"
#include "client/values.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"

namespace mir::client {
namespace {

using Kind = FlagSpec::Kind;

constexpr char kUsagePayload[] = "type.googleapis.com/mir.client.UsageError";

std::optional<std::string> EnvValue(const Environment& env, const std::string& name) {
  if (!env.getenv) return std::nullopt;
  auto value = env.getenv(name);
  if (value.has_value() && value->empty()) return std::nullopt;
  return value;
}

absl::Status FromPki(const std::string& dir, const std::string& as, absl::string_view dir_name,
                     absl::string_view as_name, ConnectionOptions& o) {
  if (dir.empty())
    return UsageError(absl::StrCat(as_name, " needs ", dir_name, " DIR, the PKI folder"));
  if (as.empty()) {
    return UsageError(
        absl::StrCat(dir_name, " needs ", as_name, " NODE/ROLE, e.g. toscana/operator"));
  }
  std::vector<std::string> parts = absl::StrSplit(as, '/');
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return UsageError(absl::StrCat(as_name, " must be NODE/ROLE, e.g. toscana/operator"));
  }
  o.certificate = absl::StrCat(dir, "/", as, ".crt");
  o.key = absl::StrCat(dir, "/", as, ".key");
  o.ca = absl::StrCat(dir, "/ca.crt");
  return absl::OkStatus();
}

absl::Status ResolveFiles(const ParsedFlags& flags, const Environment& env, ConnectionOptions& o) {
  const bool pki_flags = flags.Has("pki") || flags.Has("as");
  const bool file_flags = flags.Has("cert") || flags.Has("key") || flags.Has("ca");
  if (pki_flags && file_flags) {
    return UsageError("use either --pki with --as, or --cert, --key and --ca, not both");
  }
  if (pki_flags) {  // one of the two may come from the environment
    return FromPki(flags.Get("pki", EnvValue(env, "MIR_PKI").value_or("")),
                   flags.Get("as", EnvValue(env, "MIR_AS").value_or("")), "--pki", "--as", o);
  }
  const auto cert = EnvValue(env, "MIR_CERT"), key = EnvValue(env, "MIR_KEY"),
             ca = EnvValue(env, "MIR_CA");
  if (!file_flags && !cert && !key && !ca &&
      (EnvValue(env, "MIR_PKI") || EnvValue(env, "MIR_AS"))) {
    return FromPki(EnvValue(env, "MIR_PKI").value_or(""), EnvValue(env, "MIR_AS").value_or(""),
                   "MIR_PKI", "MIR_AS", o);
  }
  o.certificate = flags.Get("cert", cert.value_or(""));
  o.key = flags.Get("key", key.value_or(""));
  o.ca = flags.Get("ca", ca.value_or(""));
  return absl::OkStatus();
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The closest of `candidates` to `word`, if it is a likely typo.
std::optional<std::string> Suggest(absl::string_view word,
                                   const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = 3;
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : CommandTable()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string Sentence(absl::string_view message) {
  std::string s(message);
  if (!s.empty() && s.back() != '.' && s.back() != '?' && s.back() != '!') s.push_back('.');
  return s;
}

int ExitCode(const absl::Status& status) {
  if (IsConnectionError(status)) return kExitNoContact;
  if (IsUsageError(status)) return kExitUsage;
  // Refused here, before anything was submitted: the input was wrong.
  if (status.code() == absl::StatusCode::kInvalidArgument && !IsFromNode(status)) {
    return kExitUsage;
  }
  return kExitFailed;
}

std::string Usage() {
  std::string out =
      "mirctl: the command line of MIR Exchange, for hotline staff and project partners.\n\n"
      "usage: mirctl COMMAND [ARGUMENTS] [FLAGS]\n\ncommands:\n";
  size_t width = 0;
  for (const Command& c : CommandTable()) width = std::max(width, c.name.size());
  for (const Command& c : CommandTable()) {
    absl::StrAppend(&out, "  ", c.name, std::string(width - c.name.size() + 3, ' '), c.summary,
                    "\n");
  }
  absl::StrAppend(
      &out, "\nglobal flags, accepted by every command (environment variables in brackets):\n",
      FlagHelp(GlobalFlags()),
      "\nRun 'mirctl COMMAND --help' for a command's flags and an example.\n"
      "Exit codes: 0 done; 1 refused by the node or failed; 2 wrong command line or\n"
      "input, nothing was sent; 3 could not talk to the node (certificate files,\n"
      "network, TLS).\n");
  return out;
}

const CommandGroup* FindGroup(absl::string_view name) {
  for (const CommandGroup& g : CommandGroups()) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

// The second words of a group's commands: "record", "list", ...
std::vector<std::string> GroupCommandNames(const CommandGroup& g) {
  std::vector<std::string> names;
  for (const Command& c : CommandTable()) {
    if (absl::StartsWith(c.name, g.name + " ")) names.push_back(c.name.substr(g.name.size() + 1));
  }
  return names;
}

std::string GroupUsage(const CommandGroup& g) {
  std::string out = absl::StrCat("usage: mirctl ", g.name, " COMMAND [ARGUMENTS] [FLAGS]\n\n",
                                 g.details, "\n\ncommands:\n");
  size_t width = 0;
  for (const std::string& name : GroupCommandNames(g)) width = std::max(width, name.size());
  for (const Command& c : CommandTable()) {
    if (!absl::StartsWith(c.name, g.name + " ")) continue;
    const std::string name = c.name.substr(g.name.size() + 1);
    absl::StrAppend(&out, "  ", name, std::string(width - name.size() + 3, ' '), c.summary, "\n");
  }
  absl::StrAppend(&out, "\nRun 'mirctl ", g.name,
                  " COMMAND --help' for a command's flags and an example.\n");
  return out;
}

std::string CommandHelp(const Command& c) {
  std::string out = absl::StrCat("usage: mirctl ", c.name, c.synopsis.empty() ? "" : " ",
                                 c.synopsis, "\n\n", c.details, "\n");
  if (!c.flags.empty()) absl::StrAppend(&out, "\nflags:\n", FlagHelp(c.flags));
  absl::StrAppend(&out,
                  "\nglobal flags: --node, --pki with --as (or --cert, --key, --ca), --json, "
                  "--timeout; see 'mirctl --help'.\n");
  return out;
}

std::vector<std::string> FlagNames(const std::vector<FlagSpec>& specs) {
  std::vector<std::string> names;
  for (const FlagSpec& s : specs) names.push_back("--" + s.name);
  return names;
}

// "unknown flag --x", with a guess among `specs` if one is close.
std::string UnknownFlag(absl::string_view flag, const std::vector<FlagSpec>& specs) {
  std::string sentence = absl::StrCat("unknown flag ", flag);
  if (auto guess = Suggest(flag, FlagNames(specs))) {
    absl::StrAppend(&sentence, " (did you mean ", *guess, "?)");
  }
  return sentence;
}

// The index of the subcommand in `args`: the first word that is neither a
// flag nor the value of a global flag; nullopt if there is none. Before the
// subcommand only global flags may appear.
absl::StatusOr<std::optional<size_t>> CommandIndex(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!absl::StartsWith(a, "-")) return i;
    if (a == "--") return i + 1 < args.size() ? std::optional<size_t>(i + 1) : std::nullopt;
    if (a == "-h") continue;
    const std::string name = a.substr(0, a.find('='));
    const auto& globals = GlobalFlags();
    auto spec = std::find_if(globals.begin(), globals.end(),
                             [&](const FlagSpec& s) { return name == "--" + s.name; });
    if (spec == globals.end()) return UsageError(UnknownFlag(name, globals));
    if (spec->kind != Kind::kBool && name == a) ++i;  // its value follows
  }
  return std::nullopt;
}

int CommandUsageError(const Command& c, const std::string& sentence, std::ostream& err) {
  err << "mirctl " << c.name << ": " << sentence << "; see 'mirctl " << c.name << " --help'.\n";
  return kExitUsage;
}

int RunCommand(const Command& c, const std::vector<std::string>& rest, const Environment& env,
               std::ostream& out, std::ostream& err) {
  std::vector<FlagSpec> specs = c.flags;
  specs.insert(specs.end(), GlobalFlags().begin(), GlobalFlags().end());
  auto flags = ParseFlags(rest, specs);
  if (!flags.ok()) {
    std::string sentence(flags.status().message());
    if (absl::StartsWith(sentence, "unknown flag --")) {
      sentence = UnknownFlag(sentence.substr(strlen("unknown flag ")), specs);
    }
    return CommandUsageError(c, sentence, err);
  }
  if (flags->Has("help")) {
    out << CommandHelp(c);
    return kExitOk;
  }
  const size_t n = flags->positional().size();
  if (n < c.min_args) {
    // The synopsis names the positional arguments first: "ID REFERRAL_ID ...".
    const std::vector<std::string> words = absl::StrSplit(c.synopsis, ' ');
    return CommandUsageError(c, absl::StrCat("missing ", words[std::min(n, words.size() - 1)]),
                             err);
  }
  if (n > c.max_args) {
    return CommandUsageError(
        c, absl::StrCat("unexpected argument '", flags->positional()[c.max_args], "'"), err);
  }
  Invocation invocation{*flags, env, out, err, flags->Has("json"), c.name};
  absl::Status status = c.run(invocation);
  out.flush();
  if (status.ok()) return kExitOk;
  err << "mirctl " << c.name << ": " << Sentence(status.message()) << "\n";
  return ExitCode(status);
}

}  // namespace

absl::StatusOr<std::string> UuidArg(const std::string& text, absl::string_view what,
                                    absl::string_view example) {
  const std::string id = absl::AsciiStrToLower(text);
  if (!IsCanonicalUuid(id)) {
    return UsageError(
        absl::StrCat("'", text, "' is not ", what, " (they look like ", example, ")"));
  }
  return id;
}

absl::Status UsageError(absl::string_view sentence) {
  absl::Status status = absl::InvalidArgumentError(sentence);
  status.SetPayload(kUsagePayload, absl::Cord("1"));
  return status;
}

bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsagePayload).has_value();
}

const std::vector<FlagSpec>& GlobalFlags() {
  static const std::vector<FlagSpec> flags = {
      {"node", Kind::kValue, "HOST:PORT", "your node's address [MIR_NODE]"},
      {"pki", Kind::kValue, "DIR",
       "a PKI folder: with --as, use DIR/NODE/ROLE.crt, .key and DIR/ca.crt [MIR_PKI]"},
      {"as", Kind::kValue, "NODE/ROLE",
       "whose certificate in --pki, e.g. toscana/operator [MIR_AS]"},
      {"cert", Kind::kValue, "FILE", "your PEM certificate [MIR_CERT]"},
      {"key", Kind::kValue, "FILE", "your PEM private key [MIR_KEY]"},
      {"ca", Kind::kValue, "FILE", "the network CA's PEM certificate [MIR_CA]"},
      {"json", Kind::kBool, "", "print protobuf JSON instead of tables"},
      {"timeout", Kind::kValue, "DURATION",
       "how long to wait for each answer, e.g. 30s (default 10s)"},
      {"help", Kind::kBool, "", "show help"},
  };
  return flags;
}

absl::StatusOr<ConnectionOptions> ResolveConnection(const ParsedFlags& flags,
                                                    const Environment& env) {
  ConnectionOptions o;
  o.clock = env.clock;
  o.address = flags.Get("node", EnvValue(env, "MIR_NODE").value_or(""));
  if (flags.Has("timeout")) {
    auto timeout = ParseDurationFlag(flags.Get("timeout"), "--timeout");
    if (!timeout.ok()) return UsageError(timeout.status().message());
    o.timeout = *timeout;
  }
  RETURN_IF_ERROR(ResolveFiles(flags, env, o));
  return o;
}

absl::StatusOr<std::unique_ptr<ReferralsClient>> Invocation::Connect() const {
  ASSIGN_OR_RETURN(ConnectionOptions options, ResolveConnection(flags, env));
  options.on_resend = [this](const std::string& sentence) {
    err << "mirctl " << command << ": " << sentence << "\n";
    err.flush();
  };
  return env.connect(options);
}

absl::StatusOr<std::unique_ptr<ReportsClient>> Invocation::ConnectReports() const {
  ASSIGN_OR_RETURN(ConnectionOptions options, ResolveConnection(flags, env));
  options.on_resend = [this](const std::string& sentence) {
    err << "mirctl " << command << ": " << sentence << "\n";
    err.flush();
  };
  return env.connect_reports(options);
}

absl::StatusOr<std::unique_ptr<ServiceRequestsClient>> Invocation::ConnectServices() const {
  ASSIGN_OR_RETURN(ConnectionOptions options, ResolveConnection(flags, env));
  options.on_resend = [this](const std::string& sentence) {
    err << "mirctl " << command << ": " << sentence << "\n";
    err.flush();
  };
  return env.connect_services(options);
}

const std::vector<CommandGroup>& CommandGroups() {
  static const std::vector<CommandGroup> groups = [] {
    std::vector<CommandGroup> all = {ReportGroup()};
    for (CommandGroup& g : ServiceGroups()) all.push_back(std::move(g));
    return all;
  }();
  return groups;
}

Environment ProcessEnvironment() {
  Environment env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  };
  env.read_file = [](const std::string& path) -> absl::StatusOr<std::string> {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read the file ", path));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  return env;
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  for (const Command& c : CommandTable()) names.push_back(c.name);
  return names;
}

int RunMirctl(const std::vector<std::string>& args, const Environment& env, std::ostream& out,
              std::ostream& err) {
  const absl::StatusOr<std::optional<size_t>> found = CommandIndex(args);
  if (!found.ok()) {
    err << "mirctl: " << found.status().message() << "; see 'mirctl --help'.\n";
    return kExitUsage;
  }
  const std::optional<size_t> at = *found;
  if (!at.has_value()) {
    const bool asked = std::find(args.begin(), args.end(), "--help") != args.end() ||
                       std::find(args.begin(), args.end(), "-h") != args.end();
    (asked ? out : err) << Usage();
    return asked ? kExitOk : kExitUsage;
  }
  std::vector<std::string> rest(args.begin(), args.begin() + static_cast<long>(*at));
  rest.insert(rest.end(), args.begin() + static_cast<long>(*at) + 1, args.end());
  std::string name = args[*at];
  size_t word_at = *at;  // where in `rest` a group's second word would be
  const bool help = name == "help";
  if (help) {
    if (rest.empty()) {
      out << Usage();
      return kExitOk;
    }
    name = rest.front();
    rest.erase(rest.begin());
    word_at = 0;
  }
  // A group's next word names one of its commands, or a group within it
  // ("service roster").
  while (const CommandGroup* group = FindGroup(name)) {
    if (word_at >= rest.size() || absl::StartsWith(rest[word_at], "-")) {
      const bool asked = help || std::find(rest.begin(), rest.end(), "--help") != rest.end() ||
                         std::find(rest.begin(), rest.end(), "-h") != rest.end();
      (asked ? out : err) << GroupUsage(*group);
      return asked ? kExitOk : kExitUsage;
    }
    const std::string word = rest[word_at];
    rest.erase(rest.begin() + static_cast<long>(word_at));
    if (FindCommand(absl::StrCat(name, " ", word)) == nullptr &&
        FindGroup(absl::StrCat(name, " ", word)) == nullptr) {
      auto guess = Suggest(word, GroupCommandNames(*group));
      err << "mirctl " << name << ": unknown command '" << word << "'"
          << (guess ? absl::StrCat(", did you mean '", *guess, "'?")
                    : absl::StrCat("; run 'mirctl ", name, " --help' to see the commands."))
          << "\n";
      return kExitUsage;
    }
    absl::StrAppend(&name, " ", word);
  }
  if (help) rest = {"--help"};
  const Command* command = FindCommand(name);
  if (command == nullptr) {
    auto guess = Suggest(name, CommandNames());
    err << "mirctl: unknown command '" << name << "'"
        << (guess ? absl::StrCat(", did you mean '", *guess, "'?")
                  : "; run 'mirctl --help' to see the commands.")
        << "\n";
    return kExitUsage;
  }
  return RunCommand(*command, rest, env, out, err);
}

}  // namespace mir::client
