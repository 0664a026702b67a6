#include "broker/check_config.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "broker/config.h"
#include "broker/keyring.h"
#include "broker/registry.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/signer.h"
#include "crypto/verifier.h"

namespace mir::broker {
namespace {

absl::Status InField(absl::string_view field, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("config field '", field, "': ", status.message()));
}

absl::Status MustExist(absl::string_view field, const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return InField(field, absl::NotFoundError(absl::StrCat("no file ", path)));
  }
  return absl::OkStatus();
}

// The console's section (docs/CONSOLE-API.md): its certificate towards the
// broker is this node's console and valid now; its files exist.
absl::Status CheckConsole(const Console& c, const std::string& node_id, const Verifier& verifier,
                          absl::Time now) {
  RETURN_IF_ERROR(MustExist("console.certificate", c.certificate()));
  RETURN_IF_ERROR(MustExist("console.key", c.key()));
  RETURN_IF_ERROR(MustExist("console.https_certificate", c.https_certificate()));
  RETURN_IF_ERROR(MustExist("console.https_key", c.https_key()));
  auto signer = Signer::FromPemFiles(c.key(), c.certificate());
  if (!signer.ok()) return InField("console.key", signer.status());
  const Identity& identity = (*signer)->identity();
  if (identity.role != Role::kConsole || identity.node != node_id) {
    return InField("console.certificate", absl::InvalidArgumentError(absl::StrCat(
                                              "is the certificate of ", identity.Uri(),
                                              ", not of mir://", node_id, "/console")));
  }
  auto valid = verifier.VerifyCertificate((*signer)->certificate_der(), now);
  if (!valid.ok()) return InField("console.certificate", valid.status());
  const uint32_t idle = c.session_idle_s() ? c.session_idle_s() : 900;
  const uint32_t absolute = c.session_absolute_s() ? c.session_absolute_s() : 43200;
  if (idle > absolute) {
    return InField("console.session_idle_s",
                   absl::InvalidArgumentError("is longer than console.session_absolute_s"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckConfig(const std::string& path, absl::Time now) {
  ASSIGN_OR_RETURN(BrokerOptions o, LoadConfigFile(path));
  auto in_file = [&path](const absl::Status& status) {
    return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
  };

  if (auto s = MustExist("ca_certificate", o.ca_certificate); !s.ok()) return in_file(s);
  auto ca_pem = ReadFile(o.ca_certificate);
  if (!ca_pem.ok()) return in_file(InField("ca_certificate", ca_pem.status()));
  FakeClock clock(now);
  auto verifier = Verifier::FromCaPem(*ca_pem, &clock);
  if (!verifier.ok()) return in_file(InField("ca_certificate", verifier.status()));

  if (auto s = MustExist("node_certificate", o.node_certificate); !s.ok()) return in_file(s);
  if (auto s = MustExist("node_key", o.node_key); !s.ok()) return in_file(s);
  auto signer = Signer::FromPemFiles(o.node_key, o.node_certificate);
  if (!signer.ok()) return in_file(InField("node_key", signer.status()));
  if ((*signer)->identity().role != Role::kNode || (*signer)->identity().node != o.node_id) {
    return in_file(
        InField("node_certificate", absl::InvalidArgumentError(absl::StrCat(
                                        "is the certificate of ", (*signer)->identity().Uri(),
                                        ", not of mir://", o.node_id, "/node"))));
  }
  auto identity = (*verifier)->VerifyCertificate((*signer)->certificate_der(), now);
  if (!identity.ok()) return in_file(InField("node_certificate", identity.status()));

  const std::filesystem::path db(o.database_path);
  std::error_code error;
  if (db.has_parent_path() && !std::filesystem::is_directory(db.parent_path(), error)) {
    return in_file(InField("database_path", absl::NotFoundError(absl::StrCat(
                                                "no folder ", db.parent_path().string()))));
  }

  if (auto keyring = Keyring::Load(o, now); !keyring.ok()) return in_file(keyring.status());

  ASSIGN_OR_RETURN(NodeConfig config, ReadConfigFile(path));
  if (config.has_console()) {
    if (auto s = CheckConsole(config.console(), o.node_id, **verifier, now); !s.ok()) {
      return in_file(s);
    }
  }

  if (!o.registry_file.empty()) {
    auto registry = LoadSignedRegistryFile(o.registry_file, *ca_pem, now);
    if (!registry.ok()) return in_file(InField("registry_file", registry.status()));
  }
  return absl::OkStatus();
}

}  // namespace mir::broker
