// mir-registry: makes and shows the signed node registry (PROTOCOL.md §12).
//
//   mir-registry sign --key K --cert C --in registry.json --out registry.signed
//   mir-registry show --ca CA --in registry.signed
//
// registry.json is a mir.v1.NodeRegistry in protobuf's JSON mapping. Exit
// codes: 0 done, 1 refused (the message names the field or the check),
// 2 usage.
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "broker/registry.h"
#include "common/files.h"
#include "crypto/registry_signature.h"
#include "google/protobuf/util/json_util.h"

namespace {

int Usage() {
  std::fprintf(
      stderr,
      "usage: mir-registry sign --key K --cert C --in registry.json --out registry.signed\n"
      "       mir-registry show --ca CA --in registry.signed\n");
  return 2;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "mir-registry: %s\n", std::string(status.message()).c_str());
  return 1;
}

int Sign(std::map<std::string, std::string>& a) {
  if (!a.count("--key") || !a.count("--cert") || !a.count("--in") || !a.count("--out"))
    return Usage();
  auto json = mir::ReadFile(a["--in"]);
  if (!json.ok()) return Fail(json.status());
  mir::v1::NodeRegistry registry;
  google::protobuf::util::JsonParseOptions parse;
  auto parsed = google::protobuf::util::JsonStringToMessage(*json, &registry, parse);
  if (!parsed.ok()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(a["--in"], ": not a NodeRegistry: ", parsed.message().as_string())));
  }
  if (absl::Status valid = mir::broker::ValidateRegistry(registry); !valid.ok()) return Fail(valid);
  auto key = mir::ReadFile(a["--key"]);
  if (!key.ok()) return Fail(key.status());
  auto cert = mir::ReadFile(a["--cert"]);
  if (!cert.ok()) return Fail(cert.status());
  auto signed_registry = mir::SignRegistry(registry.SerializeAsString(), *key, *cert);
  if (!signed_registry.ok()) return Fail(signed_registry.status());
  {
    std::ofstream out(a["--out"], std::ios::binary | std::ios::trunc);
    out << signed_registry->SerializeAsString();
    out.close();
    if (!out) return Fail(absl::UnavailableError(absl::StrCat("cannot write ", a["--out"])));
  }
  std::printf("signed node registry version %llu (%d nodes) -> %s\n",
              static_cast<unsigned long long>(registry.version()), registry.nodes_size(),
              a["--out"].c_str());
  return 0;
}

int Show(std::map<std::string, std::string>& a) {
  if (!a.count("--ca") || !a.count("--in")) return Usage();
  auto ca = mir::ReadFile(a["--ca"]);
  if (!ca.ok()) return Fail(ca.status());
  auto registry = mir::broker::LoadSignedRegistryFile(a["--in"], *ca, absl::Now());
  if (!registry.ok()) return Fail(registry.status());
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(*registry, &json, print);
  std::printf("%s", json.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || (argc - 2) % 2 != 0) return Usage();
  std::map<std::string, std::string> args;
  for (int i = 2; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  const std::string command = argv[1];
  if (command == "sign") return Sign(args);
  if (command == "show") return Show(args);
  return Usage();
}
