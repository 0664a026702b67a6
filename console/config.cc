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
  if (c.has_public_form()) {
    const broker::PublicForm& p = c.public_form();
    PublicFormOptions& f = o.public_form;
    f.enabled = true;
    if (p.listen_address().empty()) return Missing("console.publicForm.listenAddress");
    if (p.listen_address() == c.listen_address()) {
      return absl::InvalidArgumentError(
          "field console.publicForm.listenAddress must differ from console.listenAddress: the "
          "public form has a listener of its own");
    }
    f.listen_address = p.listen_address();
    f.origin = p.origin().empty() ? absl::StrCat("https://", p.listen_address()) : p.origin();
    if (f.origin.rfind("https://", 0) != 0 || f.origin.size() == 8 ||
        f.origin.find('/', 8) != std::string::npos) {
      return absl::InvalidArgumentError(
          "field console.publicForm.origin must be https://HOST[:PORT], without a path or a "
          "final /");
    }
    if (p.https_certificate().empty() != p.https_key().empty()) {
      return absl::InvalidArgumentError(
          "fields console.publicForm.httpsCertificate and httpsKey go together");
    }
    f.https_certificate =
        p.https_certificate().empty() ? o.https_certificate : p.https_certificate();
    f.https_key = p.https_key().empty() ? o.https_key : p.https_key();
    if (p.global_per_minute() != 0) f.global_per_minute = static_cast<int>(p.global_per_minute());
    if (p.client_burst() != 0) f.client_burst = static_cast<int>(p.client_burst());
    if (p.client_per_hour() != 0) f.client_per_hour = static_cast<int>(p.client_per_hour());
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
