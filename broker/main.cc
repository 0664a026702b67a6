// mir-broker: one MIR Exchange node.
//
//   mir-broker --config node.json [--listen HOST:PORT] [--db PATH]
//
// Runs until SIGTERM or SIGINT, then shuts down cleanly: in-flight calls
// finish, and whatever was not yet receipted stays pending in the outbox.

#include <signal.h>

#include <cstring>
#include <iostream>
#include <string>

#include "absl/synchronization/mutex.h"
#include "broker/broker.h"
#include "broker/config.h"
#include "common/clock.h"
#include "common/log.h"

namespace {

constexpr char kUsage[] =
    "usage: mir-broker --config FILE [--listen HOST:PORT] [--db PATH]\n"
    "\n"
    "  --config FILE      the node's JSON configuration (see broker/README.md)\n"
    "  --listen HOST:PORT overrides listen_address\n"
    "  --db PATH          overrides database_path\n";

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals first thing (before any thread starts, and so
  // that a stop request during start-up is honoured cleanly), then wait for
  // one once the broker runs.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Debian's Abseil is built with deadlock detection on: about 5 % of a busy
  // broker's CPU. Tests keep it on; the production binary does not pay it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  std::string config_path, listen, db;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "mir-broker: " << arg << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--config") {
      config_path = value();
    } else if (arg == "--listen") {
      listen = value();
    } else if (arg == "--db") {
      db = value();
    } else {
      std::cerr << "mir-broker: unknown flag " << arg << "\n" << kUsage;
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  auto options = mir::broker::LoadConfigFile(config_path);
  if (!options.ok()) {
    std::cerr << "mir-broker: " << options.status().message() << "\n";
    return 2;
  }
  if (!listen.empty()) options->listen_address = listen;
  if (!db.empty()) options->database_path = db;

  auto broker = mir::broker::Broker::Start(*options, mir::RealClock::Get());
  if (!broker.ok()) {
    std::cerr << "mir-broker: " << broker.status().message() << "\n";
    return 1;
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  MIR_LOG(INFO) << "received " << (signal == SIGTERM ? "SIGTERM" : "SIGINT") << ", shutting down";
  (*broker)->Shutdown();
  return 0;
}
