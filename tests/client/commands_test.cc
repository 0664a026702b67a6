// The mirctl dispatcher in-process with captured streams (and once through
// the real binary): help for every subcommand, flag mistakes, refusals before
// anything is sent, and the one-sentence errors for connection problems.

#include "client/commands.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/command_internal.h"
#include "common/clock.h"
#include "tests/testing/test_env.h"

namespace mir::client {
namespace {

using ::mir::testing::PkiPath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kId[] = "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44";

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

std::string PkiDir() {
  std::string ca = PkiPath("ca.crt");
  return ca.substr(0, ca.size() - std::string("/ca.crt").size());
}

// An environment with `vars`, files from `files`, and a connect that records
// its options and refuses (no test here reaches a node).
struct FakeWorld {
  std::map<std::string, std::string> vars;
  std::map<std::string, std::string> files;
  int connects = 0;
  ConnectionOptions last;

  Environment Env() {
    Environment env;
    env.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = vars.find(name);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    env.read_file = [this](const std::string& path) -> absl::StatusOr<std::string> {
      auto it = files.find(path);
      if (it == files.end())
        return absl::NotFoundError(absl::StrCat("cannot read the file ", path));
      return it->second;
    };
    env.connect =
        [this](const ConnectionOptions& o) -> absl::StatusOr<std::unique_ptr<ReferralsClient>> {
      ++connects;
      last = o;
      return absl::UnavailableError("fake world: no node");
    };
    return env;
  }
};

Result Mirctl(const std::vector<std::string>& args, const Environment& env) {
  std::ostringstream out, err;
  Result r;
  r.code = RunMirctl(args, env, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

Result Mirctl(const std::vector<std::string>& args) {
  FakeWorld world;
  return Mirctl(args, world.Env());
}

// Real connections, but with an environment that names nothing.
Result RunForReal(const std::vector<std::string>& args) {
  Environment env = ProcessEnvironment();
  env.getenv = [](const std::string&) { return std::optional<std::string>(); };
  return Mirctl(args, env);
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST(CommandsTest, HelpListsEveryCommandWithOneLine) {
  Result r = Mirctl({"--help"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.err, "");
  for (const std::string& name : CommandNames()) {
    SCOPED_TRACE(name);
    EXPECT_THAT(r.out, HasSubstr("\n  " + name + "  "));
  }
  for (const char* flag :
       {"--node", "--pki", "--as", "--cert", "--key", "--ca", "--json", "--timeout"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
  EXPECT_EQ(Mirctl({"help"}).out, r.out);
  Result bare = Mirctl({});
  EXPECT_EQ(bare.code, kExitUsage);
  EXPECT_EQ(bare.err, r.out);
}

TEST(CommandsTest, EverySubcommandHasHelpWithAnExample) {
  const std::vector<std::string> expected = {"submit",
                                             "list",
                                             "show",
                                             "evaluate",
                                             "request-info",
                                             "answer-info",
                                             "forward",
                                             "propose",
                                             "accept",
                                             "schedule",
                                             "confirm",
                                             "close",
                                             "close-negative",
                                             "reject",
                                             "withdraw",
                                             "circulate",
                                             "watch",
                                             "dead-letters",
                                             "requeue",
                                             "node",
                                             "stats",
                                             "erase",
                                             "hold",
                                             "selfcheck",
                                             "report record",
                                             "report list",
                                             "report show",
                                             "report triage",
                                             "report link",
                                             "service request",
                                             "service list",
                                             "service show",
                                             "service assign",
                                             "service schedule",
                                             "service done",
                                             "service cancel",
                                             "service place",
                                             "service roster list",
                                             "service roster put"};
  EXPECT_EQ(CommandNames(), expected);
  for (const std::string& name : CommandNames()) {
    SCOPED_TRACE(name);
    // A group's command is two words ("report record"), or three in a group
    // within a group ("service roster put").
    const std::vector<std::string> words = absl::StrSplit(name, ' ');
    auto with = [&](std::vector<std::string> before, std::vector<std::string> after) {
      before.insert(before.end(), words.begin(), words.end());
      before.insert(before.end(), after.begin(), after.end());
      return before;
    };
    for (const auto& args : {with({}, {"--help"}), with({}, {"-h"}), with({"help"}, {})}) {
      Result r = Mirctl(args);
      EXPECT_EQ(r.code, kExitOk);
      EXPECT_EQ(r.err, "");
      EXPECT_THAT(r.out, StartsWith("usage: mirctl " + name));
      EXPECT_THAT(r.out, HasSubstr("example"));
      EXPECT_THAT(r.out, HasSubstr("global flags: --node"));
    }
  }
}

TEST(CommandsTest, TransitionHelpNamesTheTransition) {
  EXPECT_THAT(
      Mirctl({"reject", "--help"}).out,
      HasSubstr("--reason REASON   why (required): NO_PLACES, NEEDS_NOT_MET, RISK_IN_DESTINATION, "
                "INCOMPLETE_INFO, NOT_ELIGIBLE or OTHER; OTHER needs --text"));
  EXPECT_THAT(Mirctl({"accept", "--help"}).out,
              HasSubstr("PLACEMENT_PROPOSED ->\nPLACEMENT_ACCEPTED"));
  EXPECT_THAT(Mirctl({"submit", "--help"}).out, HasSubstr("--urgency URGENCY"));
}

// Usage mistakes: one line on stderr, exit 2, and no connection attempted.
TEST(CommandsTest, UsageMistakesAreOneSentenceAndSendNothing) {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {{"lst"}, "mirctl: unknown command 'lst', did you mean 'list'?\n"},
      {{"--nod", "h:1", "list"},
       "mirctl: unknown flag --nod (did you mean --node?); see 'mirctl --help'.\n"},
      {{"frobnicate"},
       "mirctl: unknown command 'frobnicate'; run 'mirctl --help' to see the commands.\n"},
      {{"list", "--stat", "RECEIVED"},
       "mirctl list: unknown flag --stat (did you mean --state?); see 'mirctl list --help'.\n"},
      {{"list", "--state", "LOST"},
       "mirctl list: --state must be SUBMITTED, RECEIVED, UNDER_EVALUATION, "
       "INFO_REQUESTED, PLACEMENT_PROPOSED, PLACEMENT_ACCEPTED, TRANSFER_SCHEDULED, "
       "PLACEMENT_CONFIRMED, CLOSED_POSITIVE, REJECTED, CLOSED_NEGATIVE or WITHDRAWN.\n"},
      {{"list", "--direction", "sideways"},
       "mirctl list: --direction must be inbound or outbound.\n"},
      {{"list", "--limit", "0"}, "mirctl list: --limit must be a whole number, 1 or more.\n"},
      {{"list", "--since", "last week"},
       "mirctl list: --since must be a date such as 2025-03-01 or a time such as "
       "2025-03-01T09:30:00+01:00.\n"},
      {{"list", "--counterpart", "Lombardia"},
       "mirctl list: --counterpart must be a node id such as lombardia.\n"},
      {{"show"}, "mirctl show: missing ID; see 'mirctl show --help'.\n"},
      {{"show", kId, "extra"},
       "mirctl show: unexpected argument 'extra'; see 'mirctl show --help'.\n"},
      {{"show", "not/an/id"},
       "mirctl show: 'not/an/id' is not a referral id (they look like "
       "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44).\n"},
      {{"reject", kId}, "mirctl reject: --reason is required.\n"},
      {{"reject", kId, "--reason", "FULL"},
       "mirctl reject: --reason must be NO_PLACES, NEEDS_NOT_MET, RISK_IN_DESTINATION, "
       "INCOMPLETE_INFO, "
       "NOT_ELIGIBLE or OTHER.\n"},
      {{"reject", kId, "--reason", "OTHER"},
       "mirctl reject: field reason_text is required when the reason is OTHER (use --text).\n"},
      {{"withdraw", kId, "--reason", "no_places"},
       "mirctl withdraw: --reason must be CONSENT_WITHDRAWN, PERSON_LEFT, SOLVED_LOCALLY or "
       "OTHER.\n"},
      {{"close-negative", kId, "--reason", "NO_PLACES"},
       "mirctl close-negative: --reason must be NO_AVAILABILITY, TIMEOUT or OTHER.\n"},
      {{"evaluate", kId, "--text", std::string(501, 'x')},
       "mirctl evaluate: field reason_text is 501 characters long, more than the 500 allowed.\n"},
      {{"forward", kId}, "mirctl forward: --to is required.\n"},
      {{"forward", kId, "--to"},
       "mirctl forward: flag --to needs a value (NODE); see 'mirctl forward --help'.\n"},
      {{"propose", kId, "--project", "PRJ-1"}, "mirctl propose: --available-from is required.\n"},
      {{"propose", kId, "--project", "PRJ-1", "--available-from", "soon"},
       "mirctl propose: --available-from must be a date such as 2025-03-01 or a time such as "
       "2025-03-01T09:30:00+01:00.\n"},
      {{"schedule", kId}, "mirctl schedule: --date is required.\n"},
      {{"confirm", kId}, "mirctl confirm: --project is required.\n"},
      {{"circulate", kId},
       "mirctl circulate: --partner URI is required, e.g. mir://toscana/partner/shelter1.\n"},
      {{"circulate", kId, "--partner", "mir://toscana/operator/op1"},
       "mirctl circulate: --partner mir://toscana/operator/op1 is not a partner identity such as "
       "mir://toscana/partner/shelter1.\n"},
      {{"requeue"}, "mirctl requeue: give either one MESSAGE_ID or --all.\n"},
      {{"requeue", "m1", "--all"}, "mirctl requeue: give either one MESSAGE_ID or --all.\n"},
      {{"watch", "--count", "many"}, "mirctl watch: --count must be a whole number, 1 or more.\n"},
      {{"list", "--timeout", "forever"},
       "mirctl list: --timeout must be a positive duration such as 10s or 2m.\n"},
      {{"list", "--json=1"},
       "mirctl list: flag --json takes no value; see 'mirctl list --help'.\n"},
      {{"selfcheck"}, "mirctl selfcheck: --pki DIR is required.\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    FakeWorld world;
    Result r = Mirctl(c.args, world.Env());
    EXPECT_EQ(r.code, kExitUsage);
    EXPECT_EQ(r.err, c.err);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(world.connects, 0);
  }
}

TEST(CommandsTest, SubmitRefusesAReferralWithoutConsentBeforeConnecting) {
  FakeWorld world;
  Result r = Mirctl({"submit", "--to", "nvn", "--person-code", "TOS-1", "--urgency", "URGENT"},
                    world.Env());
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_EQ(r.err,
            "mirctl submit: the person's consent is not recorded (consent.given is not true), and "
            "a referral "
            "cannot be submitted without it.\n");
  EXPECT_EQ(world.connects, 0);
}

TEST(CommandsTest, SubmitFromAFileNamesTheFileAndTheField) {
  FakeWorld world;
  world.files["referral.json"] = R"({"personCode": "TOS-1", "urgncy": "URGENCY_URGENT"})";
  world.files["no-consent.json"] = R"({"personCode": "TOS-1", "urgency": "URGENCY_URGENT"})";
  world.files["long-notes.json"] =
      absl::StrCat(R"({"personCode": "TOS-1", "urgency": "URGENCY_URGENT",
      "consent": {"given": true}, "notes": ")",
                   std::string(2001, 'n'), "\"}");
  world.files["ok.json"] =
      R"({"personCode": "TOS-1", "urgency": "URGENCY_URGENT", "consent": {"given": true}})";
  struct Case {
    std::vector<std::string> args;
    std::string err;
  } cases[] = {
      {{"submit", "--to", "nvn", "--file", "referral.json"},
       "mirctl submit: referral.json: unknown field urgncy: not a field of Referral.\n"},
      {{"submit", "--to", "nvn", "--file", "no-consent.json"},
       "mirctl submit: no-consent.json: the person's consent is not recorded (consent.given is not "
       "true), and a "
       "referral cannot be submitted without it.\n"},
      {{"submit", "--to", "nvn", "--file", "long-notes.json"},
       "mirctl submit: long-notes.json: field notes is 2001 characters long, more than the 2,000 "
       "allowed.\n"},
      {{"submit", "--to", "nvn", "--file", "missing.json"},
       "mirctl submit: cannot read the file missing.json.\n"},
      {{"submit", "--file", "ok.json"},
       "mirctl submit: --to NODE is required: where the referral goes.\n"},
      {{"submit", "--to", "nvn", "--file", "ok.json", "--urgency", "URGENT"},
       "mirctl submit: use either --file or the referral field flags, not both (only --to goes "
       "with --file).\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    Result r = Mirctl(c.args, world.Env());
    EXPECT_EQ(r.code, kExitUsage);
    EXPECT_EQ(r.err, c.err);
  }
  EXPECT_EQ(world.connects, 0);
  // A valid file gets as far as connecting.
  Result r = Mirctl({"submit", "--to", "nvn", "--file", "ok.json", "--node", "n:1"}, world.Env());
  EXPECT_EQ(world.connects, 1);
  EXPECT_EQ(r.code, kExitFailed);
}

TEST(CommandsTest, ConnectionComesFromFlagsOrTheEnvironment) {
  FakeWorld world;
  world.vars = {
      {"MIR_NODE", "127.0.0.1:7102"}, {"MIR_PKI", "/pki"}, {"MIR_AS", "toscana/operator"}};
  Mirctl({"list"}, world.Env());
  EXPECT_EQ(world.last.address, "127.0.0.1:7102");
  EXPECT_EQ(world.last.certificate, "/pki/toscana/operator.crt");
  EXPECT_EQ(world.last.key, "/pki/toscana/operator.key");
  EXPECT_EQ(world.last.ca, "/pki/ca.crt");
  EXPECT_EQ(world.last.timeout, absl::Seconds(10));

  // Flags win; --as alone takes the folder from MIR_PKI.
  Mirctl({"list", "--node", "10.0.0.1:7000", "--as", "lombardia/partner", "--timeout", "30s"},
         world.Env());
  EXPECT_EQ(world.last.address, "10.0.0.1:7000");
  EXPECT_EQ(world.last.certificate, "/pki/lombardia/partner.crt");
  EXPECT_EQ(world.last.timeout, absl::Seconds(30));

  world.vars = {{"MIR_CERT", "/e/c.crt"}, {"MIR_KEY", "/e/c.key"}, {"MIR_CA", "/e/ca.crt"}};
  Mirctl({"list", "--cert", "/f/c.crt"}, world.Env());
  EXPECT_EQ(world.last.certificate, "/f/c.crt");
  EXPECT_EQ(world.last.key, "/e/c.key");
  EXPECT_EQ(world.last.ca, "/e/ca.crt");

  // Global flags may also come before the command.
  Mirctl({"--node", "h:1", "--pki", "/p", "--as", "nvn/operator", "list"}, world.Env());
  EXPECT_EQ(world.last.address, "h:1");
  EXPECT_EQ(world.last.ca, "/p/ca.crt");

  Result both = Mirctl({"list", "--pki", "/p", "--as", "nvn/operator", "--cert", "x"}, world.Env());
  EXPECT_EQ(both.code, kExitUsage);
  EXPECT_EQ(both.err,
            "mirctl list: use either --pki with --as, or --cert, --key and --ca, not both.\n");
  world.vars.clear();
  EXPECT_EQ(Mirctl({"list", "--pki", "/p"}, world.Env()).err,
            "mirctl list: --pki needs --as NODE/ROLE, e.g. toscana/operator.\n");
  EXPECT_EQ(Mirctl({"list", "--pki", "/p", "--as", "toscana"}, world.Env()).err,
            "mirctl list: --as must be NODE/ROLE, e.g. toscana/operator.\n");
}

TEST(CommandsTest, ListFlagsBecomeTheRequest) {
  auto flags = ParseFlags({"--direction", "inbound", "--state", "RECEIVED", "--state",
                           "under_evaluation", "--urgency", "EMERGENCY_24H", "--counterpart", "nvn",
                           "--since", "2025-03-01", "--overdue", "--limit", "5"},
                          CommandTable()[1].flags);
  ASSERT_OK(flags);
  auto request = ListRequestFromFlags(*flags);
  ASSERT_OK(request);
  EXPECT_EQ(request->direction(), v1::DIRECTION_INBOUND);
  EXPECT_THAT(request->states(), ElementsAre(v1::RECEIVED, v1::UNDER_EVALUATION));
  EXPECT_EQ(request->urgency(), v1::URGENCY_EMERGENCY_24H);
  EXPECT_EQ(request->counterpart_node(), "nvn");
  EXPECT_EQ(request->since().seconds(), 1740787200);
  EXPECT_TRUE(request->overdue_only());
  EXPECT_EQ(request->limit(), 5u);
}

// Connection problems: exit 3 and exactly one line that says what to fix.
TEST(CommandsTest, ConnectionProblemsAreOneSentence) {
  const std::string pki = PkiDir();
  const std::string node = absl::StrCat("127.0.0.1:", FreePort());
  struct Case {
    std::string name;
    std::vector<std::string> files;  // --cert, --key, --ca
    std::string err;
  } cases[] = {
      {"unreachable node",
       {pki + "/toscana/operator.crt", pki + "/toscana/operator.key", pki + "/ca.crt"},
       absl::StrCat("mirctl list: cannot reach node at ", node, ": is mir-broker running?\n")},
      {"missing certificate",
       {"/nonexistent/operator.crt", pki + "/toscana/operator.key", pki + "/ca.crt"},
       "mirctl list: cannot read the certificate file /nonexistent/operator.crt: No such file or "
       "directory.\n"},
      {"missing key",
       {pki + "/toscana/operator.crt", "/nonexistent/operator.key", pki + "/ca.crt"},
       "mirctl list: cannot read the key file /nonexistent/operator.key: No such file or "
       "directory.\n"},
      {"missing CA",
       {pki + "/toscana/operator.crt", pki + "/toscana/operator.key", "/nonexistent/ca.crt"},
       "mirctl list: cannot read the CA certificate file /nonexistent/ca.crt: No such file or "
       "directory.\n"},
      {"key of someone else",
       {pki + "/toscana/operator.crt", pki + "/nvn/operator.key", pki + "/ca.crt"},
       absl::StrCat("mirctl list: cannot use the key ", pki,
                    "/nvn/operator.key with the certificate ", pki,
                    "/toscana/operator.crt: the private key does not match the certificate.\n")},
      {"key and certificate swapped",
       {pki + "/toscana/operator.key", pki + "/toscana/operator.crt", pki + "/ca.crt"},
       absl::StrCat("mirctl list: the file ", pki,
                    "/toscana/operator.key does not hold a PEM certificate.\n")},
      {"other network's certificate",
       {pki + "/test/other-ca-operator.crt", pki + "/test/other-ca-operator.key", pki + "/ca.crt"},
       absl::StrCat("mirctl list: the certificate ", pki,
                    "/test/other-ca-operator.crt was not issued by the CA in ", pki,
                    "/ca.crt: use the certificate and CA of the same network.\n")},
      {"expired certificate",
       {pki + "/test/expired.crt", pki + "/test/expired.key", pki + "/ca.crt"},
       absl::StrCat(
           "mirctl list: the certificate ", pki,
           "/test/expired.crt has expired: ask your network administrator for a new one.\n")},
      {"certificate not valid yet",
       {pki + "/test/not-yet-valid.crt", pki + "/test/not-yet-valid.key", pki + "/ca.crt"},
       absl::StrCat(
           "mirctl list: the certificate ", pki,
           "/test/not-yet-valid.crt is not valid yet: check this computer's date and time.\n")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result r = RunForReal(
        {"list", "--node", node, "--cert", c.files[0], "--key", c.files[1], "--ca", c.files[2]});
    EXPECT_EQ(r.code, kExitNoContact);
    EXPECT_EQ(r.err, c.err);
    EXPECT_EQ(r.out, "");
  }
  Result no_node = RunForReal({"list", "--pki", pki, "--as", "toscana/operator"});
  EXPECT_EQ(no_node.code, kExitNoContact);
  EXPECT_EQ(no_node.err, "mirctl list: no node given: use --node HOST:PORT or set MIR_NODE.\n");
  Result no_files = RunForReal({"list", "--node", node});
  EXPECT_EQ(no_files.err,
            "mirctl list: no certificate file given: use --cert or --pki DIR --as NODE/ROLE.\n");
}

// Certificate validity is judged by the injected clock.
TEST(CommandsTest, CertificateValidityFollowsTheClock) {
  const std::string pki = PkiDir();
  FakeClock later(absl::FromCivil(absl::CivilDay(2100, 1, 1), absl::UTCTimeZone()));
  Environment env = ProcessEnvironment();
  env.getenv = [](const std::string&) { return std::optional<std::string>(); };
  env.clock = &later;
  Result r =
      Mirctl({"list", "--node", "127.0.0.1:1", "--pki", pki, "--as", "toscana/operator"}, env);
  EXPECT_EQ(r.code, kExitNoContact);
  EXPECT_EQ(r.err,
            absl::StrCat("mirctl list: the certificate ", pki,
                         "/toscana/operator.crt has expired: ask your network administrator for a "
                         "new one.\n"));
}

// The thin main.cc: the same dispatcher, the exit code as the process status.
TEST(CommandsTest, TheBinaryBehavesLikeTheDispatcher) {
  auto run = [](const std::string& args, std::string* out) {
    FILE* pipe = popen(absl::StrCat(MIRCTL_BINARY, " ", args, " 2>&1").c_str(), "r");
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out->append(buffer, n);
    return WEXITSTATUS(pclose(pipe));
  };
  std::string out;
  EXPECT_EQ(run("--help", &out), kExitOk);
  EXPECT_THAT(out, StartsWith("mirctl: the command line of MIR Exchange"));
  out.clear();
  EXPECT_EQ(run("show", &out), kExitUsage);
  EXPECT_EQ(out, "mirctl show: missing ID; see 'mirctl show --help'.\n");
  out.clear();
  const std::string pki = PkiDir();
  EXPECT_EQ(run(absl::StrCat("list --node 127.0.0.1:", FreePort(), " --pki ", pki,
                             " --as toscana/operator"),
                &out),
            kExitNoContact);
  EXPECT_THAT(out, StartsWith("mirctl list: cannot reach node at 127.0.0.1:"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);  // gRPC's own log lines are silenced
}

}  // namespace
}  // namespace mir::client
