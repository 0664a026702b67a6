// The mir-console program itself: reads the node's config file, serves
// HTTPS, stops cleanly on SIGTERM; a bad config is one sentence and exit 2
// (a file it cannot read: 1).

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/broker/network.h"

namespace mir::testing {
namespace {

// Runs mir-console with `args`; its pid.
pid_t Start(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    std::string binary = MIR_CONSOLE_BINARY;
    argv.push_back(binary.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    freopen(log.c_str(), "w", stderr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ConsoleBinaryTest, ServesAndStopsOnSigterm) {
  const std::string dir = NewTempDir();
  const int port = FreePort();
  const std::string config = dir + "/toscana.json";
  std::ofstream(config) << absl::StrCat(R"({
    "nodeId": "toscana", "listenAddress": "127.0.0.1:1", "databasePath": "unused.db",
    "caCertificate": ")",
                                        PkiPath("ca.crt"), R"(",
    "console": {
      "listenAddress": "127.0.0.1:)",
                                        port, R"(",
      "httpsCertificate": ")",
                                        PkiPath("toscana/console-https.crt"), R"(",
      "httpsKey": ")",
                                        PkiPath("toscana/console-https.key"), R"(",
      "certificate": ")",
                                        PkiPath("toscana/console.crt"), R"(",
      "key": ")",
                                        PkiPath("toscana/console.key"), R"("
    }})");
  const std::string log = dir + "/console.log";
  const pid_t pid = Start({"--config", config}, log);
  httplib::SSLClient cli("127.0.0.1", port);
  cli.set_ca_cert_path(PkiPath("web-ca.crt").c_str());
  cli.enable_server_certificate_verification(true);
  std::string statement;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto res = cli.Get("/api/login/challenge");
        if (res && res->status == 200) statement = res->body;
        return !statement.empty();
      },
      absl::Seconds(20)))
      << ReadAll(log);
  EXPECT_THAT(statement, ::testing::HasSubstr("origin: https://127.0.0.1:"));
  EXPECT_THAT(statement, ::testing::HasSubstr("node: toscana"));
  auto page = cli.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  // A path chosen to forge a log line: logged with '?' for what is not an
  // id or a name.
  auto forged = cli.Get("/api/x%0A2026-01-01%20INFO%20forged");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 404);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid), 0);
  const std::string logged = ReadAll(log);
  EXPECT_THAT(logged, ::testing::HasSubstr("GET /api/login/challenge 200"));
  EXPECT_THAT(logged, ::testing::HasSubstr("GET /api/x?2026-01-01?INFO?forged 404"));
  EXPECT_THAT(logged, ::testing::Not(::testing::HasSubstr("\n2026-01-01 INFO forged")));
  EXPECT_THAT(logged, ::testing::HasSubstr("mir-console stopping"));
}

TEST(ConsoleBinaryTest, BadConfigIsOneSentence) {
  const std::string dir = NewTempDir();
  const std::string config = dir + "/node.json";
  std::ofstream(config) << R"({"nodeId": "toscana", "caCertificate": "ca.crt"})";
  const std::string log = dir + "/console.log";
  EXPECT_EQ(Wait(Start({"--config", config}, log)), 2);  // as mir-broker's
  EXPECT_THAT(ReadAll(log), ::testing::HasSubstr("field console is required"));
  EXPECT_EQ(Wait(Start({"--config", dir + "/missing.json"}, log)), 1);
  EXPECT_EQ(Wait(Start({}, log)), 2);
  EXPECT_THAT(ReadAll(log), ::testing::HasSubstr("usage: mir-console --config"));
}

// With console.publicForm the program serves the public form on its second
// listener, the staff API only on the first, and still stops on SIGTERM.
TEST(ConsoleBinaryTest, ServesThePublicFormOnItsOwnListener) {
  const std::string dir = NewTempDir();
  const int port = FreePort();
  const int public_port = FreePort();
  const std::string config = dir + "/toscana.json";
  std::ofstream(config) << absl::StrCat(
      R"({"nodeId": "toscana", "listenAddress": "127.0.0.1:1", "databasePath": "unused.db",
          "caCertificate": ")",
      PkiPath("ca.crt"), R"(", "console": {"listenAddress": "127.0.0.1:)", port,
      R"(", "httpsCertificate": ")", PkiPath("toscana/console-https.crt"), R"(", "httpsKey": ")",
      PkiPath("toscana/console-https.key"), R"(", "certificate": ")",
      PkiPath("toscana/console.crt"), R"(", "key": ")", PkiPath("toscana/console.key"),
      R"(", "publicForm": {"listenAddress": "127.0.0.1:)", public_port, R"("}}})");
  const std::string log = dir + "/console.log";
  const pid_t pid = Start({"--config", config}, log);
  httplib::SSLClient form("127.0.0.1", public_port);
  form.set_ca_cert_path(PkiPath("web-ca.crt").c_str());
  form.enable_server_certificate_verification(true);
  std::string page;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto res = form.Get("/");
        if (res && res->status == 200) page = res->body;
        return !page.empty();
      },
      absl::Seconds(20)))
      << ReadAll(log);
  EXPECT_THAT(page, ::testing::HasSubstr("action=\"/report\""));
  auto staff_on_public = form.Get("/api/login/challenge");
  ASSERT_TRUE(staff_on_public);
  EXPECT_EQ(staff_on_public->status, 404);
  httplib::SSLClient staff("127.0.0.1", port);
  staff.set_ca_cert_path(PkiPath("web-ca.crt").c_str());
  staff.enable_server_certificate_verification(true);
  auto challenge = staff.Get("/api/login/challenge");
  ASSERT_TRUE(challenge);
  EXPECT_EQ(challenge->status, 200);
  auto public_on_staff = staff.Get("/follow-up");
  ASSERT_TRUE(public_on_staff);
  EXPECT_EQ(public_on_staff->status, 404);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid), 0);
  const std::string logged = ReadAll(log);
  EXPECT_THAT(logged, ::testing::HasSubstr("public form listening on port"));
  EXPECT_THAT(logged, ::testing::HasSubstr("public form: GET / 200"));
  EXPECT_THAT(logged, ::testing::HasSubstr("mir-console stopping"));
}

}  // namespace
}  // namespace mir::testing
