// mirctl: the command line for hotline staff and partners. See docs/MIRCTL.md.

#include <iostream>
#include <string>
#include <vector>

#include "client/commands.h"
#include "common/log.h"
#include "grpc/support/log.h"

namespace {
// gRPC's own log lines (e.g. a failed handshake), and ours from code shared
// with the broker (e.g. a refused server identity), would add noise around
// mirctl's one-sentence errors, which already say what went wrong.
void DropGrpcLog(gpr_log_func_args*) {}
}  // namespace

int main(int argc, char** argv) {
  gpr_set_log_function(DropGrpcLog);
  mir::log_internal::SetLoggingEnabled(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  return mir::client::RunMirctl(args, mir::client::ProcessEnvironment(), std::cout, std::cerr);
}
