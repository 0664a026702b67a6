#include "console/config.h"

#include "absl/strings/str_cat.h"
#include "broker/config.h"
#include "common/status_macros.h"
#include "crypto/identity.h"

namespace mir::console {
namespace {

absl::Status Missing(absl::string_view field) {
  return absl::InvalidArgumentError(absl::StrCat("field ", field, " is required for mir-console"));
}

}  // namespace

absl::StatusOr<ConsoleOptions> ConsoleOptionsFromConfig(const broker::NodeConfig& config) {
  ConsoleOptions o;
  if (!IsValidNodeId(config.node_id())) {
    return absl::InvalidArgumentError("field nodeId must be a node id ([a-z0-9-], 1-32)");
  }
  o.node_id = config.node_id();
  if (config.ca_certificate().empty()) return Missing("caCertificate");
  o.ca_certificate = config.ca_certificate();
  o.crl_files.assign(config.crl_files().begin(), config.crl_files().end());
  if (!config.has_console()) return Missing("console");
  const broker::Console& c = config.console();
  if (c.listen_address().empty()) return Missing("console.listenAddress");
  o.listen_address = c.listen_address();
  o.origin = c.origin().empty() ? absl::StrCat("https://", c.listen_address()) : c.origin();
  if (o.origin.rfind("https://", 0) != 0 || o.origin.back() == '/') {
    return absl::InvalidArgumentError(
        "field console.origin must be https://HOST[:PORT], without a path or a final /");
  }
  if (c.https_certificate().empty()) return Missing("console.httpsCertificate");
  if (c.https_key().empty()) return Missing("console.httpsKey");
  if (c.certificate().empty()) return Missing("console.certificate");
  if (c.key().empty()) return Missing("console.key");
  o.https_certificate = c.https_certificate();
  o.https_key = c.https_key();
  o.certificate = c.certificate();
  o.key = c.key();
  o.broker_address = c.broker_address().empty() ? config.listen_address() : c.broker_address();
  if (o.broker_address.empty()) return Missing("console.brokerAddress (or listenAddress)");
  if (c.session_idle_s() != 0) o.session_idle = absl::Seconds(c.session_idle_s());
  if (c.session_absolute_s() != 0) o.session_absolute = absl::Seconds(c.session_absolute_s());
  if (o.session_idle > o.session_absolute) {
    return absl::InvalidArgumentError(
        "field console.sessionIdleS must not be longer than console.sessionAbsoluteS");
  }
  return o;
}

absl::StatusOr<ConsoleOptions> LoadConsoleConfig(const std::string& path) {
  ASSIGN_OR_RETURN(broker::NodeConfig config, broker::ReadConfigFile(path));
  auto options = ConsoleOptionsFromConfig(config);
  if (!options.ok()) {
    return absl::Status(options.status().code(),
                        absl::StrCat(path, ": ", options.status().message()));
  }
  return options;
}

}  // namespace mir::console
