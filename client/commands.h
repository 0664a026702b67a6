#ifndef MIR_CLIENT_COMMANDS_H_
#define MIR_CLIENT_COMMANDS_H_

// mirctl's subcommands and their dispatcher, callable in-process with any
// streams (main.cc passes std::cout/std::cerr; tests pass string streams).

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/referrals_client.h"
#include "client/reports_client.h"
#include "client/service_requests_client.h"

namespace mir::client {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;     // the node refused, or the action failed
inline constexpr int kExitUsage = 2;      // unknown command or flag, missing argument, bad value
inline constexpr int kExitNoContact = 3;  // certificate files, unreachable node, TLS handshake

// What the dispatcher takes from the process; tests replace parts of it.
struct Environment {
  // Environment variables (MIR_NODE, MIR_CERT, ...); nullopt when unset.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Opens the client for a command that talks to a node.
  std::function<absl::StatusOr<std::unique_ptr<ReferralsClient>>(const ConnectionOptions&)>
      connect = ReferralsClient::Connect;
  // Opens the Reports client for `mirctl report ...`.
  std::function<absl::StatusOr<std::unique_ptr<ReportsClient>>(const ConnectionOptions&)>
      connect_reports = ReportsClient::Connect;
  // Opens the ServiceRequests client for `mirctl service ...`.
  std::function<absl::StatusOr<std::unique_ptr<ServiceRequestsClient>>(const ConnectionOptions&)>
      connect_services = ServiceRequestsClient::Connect;
  // Reads a file given with --file; an error sentence naming it otherwise.
  std::function<absl::StatusOr<std::string>(const std::string&)> read_file;
  // "Now", for certificate validity and default times; must outlive the run.
  const Clock* clock = RealClock::Get();
};

// The process's real environment, connecting for real.
Environment ProcessEnvironment();

// Runs `mirctl args...` (args excludes the program name). Output on `out`;
// an error is one sentence on `err` starting "mirctl". Returns the exit code.
int RunMirctl(const std::vector<std::string>& args, const Environment& env, std::ostream& out,
              std::ostream& err);

// The names of every subcommand, in the order `mirctl --help` lists them.
std::vector<std::string> CommandNames();

}  // namespace mir::client

#endif  // MIR_CLIENT_COMMANDS_H_
