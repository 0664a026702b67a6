// mir-console --config FILE: the web console's server beside one node
// (docs/CONSOLE-API.md). Reads the node's own configuration file; stops on
// SIGTERM or SIGINT.

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "console/config.h"
#include "console/http_server.h"
#include "console/public_server.h"
#include "console/service.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: mir-console --config NODE_CONFIG.json\n"
               "  Serves the web console of the node named in the file (its \"console\"\n"
               "  section, docs/CONSOLE-API.md). Stops on SIGTERM or SIGINT.\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config = arg.substr(9);
    } else if (arg == "--help" || arg == "-h") {
      Usage();
      return 0;
    } else {
      return Usage();
    }
  }
  if (config.empty()) return Usage();

  // Signals are taken by one thread with sigwait; every other thread has
  // them blocked (threads inherit the mask).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto options = mir::console::LoadConsoleConfig(config);
  if (!options.ok()) {
    std::fprintf(stderr, "mir-console: %s\n", std::string(options.status().message()).c_str());
    // As mir-broker: a wrong field is 2 (a restart cannot help), a file it
    // cannot read is 1.
    return options.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  auto service = mir::console::ConsoleService::Create(*options, mir::RealClock::Get());
  if (!service.ok()) {
    std::fprintf(stderr, "mir-console: %s\n", std::string(service.status().message()).c_str());
    return 1;
  }
  auto server = mir::console::HttpServer::Create(service->get());
  if (!server.ok()) {
    std::fprintf(stderr, "mir-console: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  auto port = (*server)->Bind();
  if (!port.ok()) {
    std::fprintf(stderr, "mir-console: %s\n", std::string(port.status().message()).c_str());
    return 1;
  }
  MIR_LOG(INFO) << "mir-console for node " << options->node_id << " listening on port " << *port
                << ", origin " << options->origin << ", broker " << options->broker_address;
  // The public report form, on a listener of its own (absent: none).
  std::unique_ptr<mir::console::PublicServer> public_form;
  std::thread public_serving;
  if (options->public_form.enabled) {
    auto created = mir::console::PublicServer::Create(service->get(), mir::RealClock::Get());
    if (!created.ok()) {
      std::fprintf(stderr, "mir-console: %s\n", std::string(created.status().message()).c_str());
      return 1;
    }
    public_form = std::move(*created);
    auto public_port = public_form->Bind();
    if (!public_port.ok()) {
      std::fprintf(stderr, "mir-console: %s\n",
                   std::string(public_port.status().message()).c_str());
      return 1;
    }
    MIR_LOG(INFO) << "mir-console public form listening on port " << *public_port << ", origin "
                  << options->public_form.origin;
    public_serving = std::thread([&] { public_form->Run(); });
  }

  std::thread waiter([&] {
    const struct timespec minute = {60, 0};
    for (;;) {
      const int sig = sigtimedwait(&signals, nullptr, &minute);
      if (sig == SIGTERM || sig == SIGINT) break;
      (*service)->sessions().Sweep();
    }
    MIR_LOG(INFO) << "mir-console stopping";
    if (public_form != nullptr) public_form->Stop();
    (*server)->Stop();
  });
  (*server)->Run();
  // Run can also end on its own (e.g. the socket failed): wake the waiter.
  kill(getpid(), SIGTERM);
  waiter.join();
  if (public_serving.joinable()) public_serving.join();
  return 0;
}
