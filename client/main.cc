// mirctl: the command line for hotline staff and partners.

#include <cstring>
#include <iostream>
#include <string>

#include "client/selfcheck.h"

namespace {

constexpr char kUsage[] =
    "usage: mirctl <command> [flags]\n"
    "\n"
    "commands:\n"
    "  selfcheck --pki DIR   sign and verify a test envelope with a development PKI\n"
    "\n"
    "Run 'mirctl <command> --help' for a command's flags.\n";

int SelfCheck(int argc, char** argv) {
  std::string pki;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0) {
      std::cout << "usage: mirctl selfcheck --pki DIR\n"
                   "Signs a fictional referral as DIR/toscana/operator, verifies it against\n"
                   "DIR/ca.crt, and checks that a tampered copy is refused.\n";
      return 0;
    }
    if (std::strcmp(argv[i], "--pki") == 0 && i + 1 < argc) pki = argv[++i];
  }
  if (pki.empty()) {
    std::cerr << "mirctl selfcheck: --pki DIR is required\n";
    return 2;
  }
  absl::Status status = mir::client::RunSelfCheck(pki, std::cout);
  if (!status.ok()) {
    std::cerr << "self-check FAILED: " << status.message() << "\n";
    return 1;
  }
  std::cout << "self-check OK: signing and verification work on this machine\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "help") == 0) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "selfcheck") return SelfCheck(argc - 2, argv + 2);
  std::cerr << "mirctl: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
