#include "broker/config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "crypto/identity.h"
#include "google/protobuf/util/json_util.h"

namespace mir::broker {

absl::optional<std::string> BrokerOptions::NextHop(const std::string& destination) const {
  if (peers.count(destination)) return destination;
  if (auto it = routes.find(destination); it != routes.end()) return it->second;
  if (auto it = routes.find("*"); it != routes.end()) return it->second;
  return absl::nullopt;
}

namespace {

bool IsTerminalState(v1::ReferralState state) {
  return state == v1::CLOSED_POSITIVE || state == v1::REJECTED || state == v1::CLOSED_NEGATIVE ||
         state == v1::WITHDRAWN;
}

}  // namespace

absl::StatusOr<BrokerOptions> OptionsFromConfig(const NodeConfig& c) {
  BrokerOptions o;
  o.node_id = c.node_id();
  o.listen_address = c.listen_address();
  o.metrics_listen_address = c.metrics_listen_address();
  o.database_path = c.database_path();
  o.ca_certificate = c.ca_certificate();
  o.crl_files.assign(c.crl_files().begin(), c.crl_files().end());
  o.node_certificate = c.node_certificate();
  o.node_key = c.node_key();
  o.peers.insert(c.peers().begin(), c.peers().end());
  o.routes.insert(c.routes().begin(), c.routes().end());
  o.relays.assign(c.relays().begin(), c.relays().end());
  if (c.relays_size() == 0) o.relays = {"nvn"};  // the national node relays by default
  o.relay = c.relay();
  o.registry_file = c.registry_file();
  if (c.registry_poll_s()) o.registry_poll_interval = absl::Seconds(c.registry_poll_s());
  o.statistics_report_interval =
      absl::Seconds(c.statistics_report_s() ? c.statistics_report_s() : 3600);
  if (c.console().session_absolute_s())
    o.console_session_absolute = absl::Seconds(c.console().session_absolute_s());
  if (c.emergency_ack_timeout_s())
    o.emergency_ack_timeout = absl::Seconds(c.emergency_ack_timeout_s());
  const Limits& l = c.limits();
  if (l.max_envelope_bytes()) o.max_envelope_bytes = l.max_envelope_bytes();
  if (l.max_concurrent_streams())
    o.max_concurrent_streams = static_cast<int>(l.max_concurrent_streams());
  if (l.idle_connection_timeout_s())
    o.idle_connection_timeout = absl::Seconds(l.idle_connection_timeout_s());
  if (l.max_clock_skew_s()) o.max_clock_skew = absl::Seconds(l.max_clock_skew_s());
  if (l.handler_threads()) o.handler_threads = static_cast<int>(l.handler_threads());
  if (l.memory_quota_mib()) o.memory_quota_bytes = size_t{l.memory_quota_mib()} << 20;
  if (l.max_queued_calls()) o.max_queued_calls = static_cast<int>(l.max_queued_calls());
  const Delivery& d = c.delivery();
  if (d.in_flight_per_peer()) o.in_flight_per_peer = static_cast<int>(d.in_flight_per_peer());
  if (d.initial_backoff_ms()) o.initial_backoff = absl::Milliseconds(d.initial_backoff_ms());
  if (d.max_backoff_ms()) o.max_backoff = absl::Milliseconds(d.max_backoff_ms());
  if (d.dead_letter_after_s()) o.dead_letter_after = absl::Seconds(d.dead_letter_after_s());
  if (d.rpc_timeout_ms()) o.rpc_timeout = absl::Milliseconds(d.rpc_timeout_ms());
  if (d.batch_max()) o.delivery_batch_max = static_cast<int>(d.batch_max());
  const Privacy& p = c.privacy();
  for (const EncryptionKey& key : p.encryption_keys()) {
    o.encryption_keys.push_back({key.key(), key.certificate()});
  }
  o.encryption_certificates_dir = p.encryption_certificates_dir();
  o.key_encryption_key = p.key_encryption_key();
  o.previous_key_encryption_keys.assign(p.previous_key_encryption_keys().begin(),
                                        p.previous_key_encryption_keys().end());
  for (const auto& [state_name, days] : p.retention_days()) {
    v1::ReferralState state;
    if (!v1::ReferralState_Parse(state_name, &state) || !IsTerminalState(state)) {
      return absl::InvalidArgumentError(
          absl::StrCat("config field 'privacy.retention_days': '", state_name,
                       "' is not a terminal state (CLOSED_POSITIVE, REJECTED, CLOSED_NEGATIVE, "
                       "WITHDRAWN)"));
    }
    o.retention[state] = absl::Hours(24) * days;
  }
  if (p.retention_sweep_s()) o.retention_sweep_interval = absl::Seconds(p.retention_sweep_s());
  RETURN_IF_ERROR(Validate(o));
  return o;
}

absl::Status Validate(const BrokerOptions& o) {
  auto bad = [](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("config field '", field, "': ", why));
  };
  if (!IsValidNodeId(o.node_id)) return bad("node_id", "must be 1-32 chars of [a-z0-9-]");
  if (o.listen_address.empty()) return bad("listen_address", "is required (host:port)");
  if (o.database_path.empty()) return bad("database_path", "is required");
  if (o.ca_certificate.empty()) return bad("ca_certificate", "is required");
  if (o.node_certificate.empty()) return bad("node_certificate", "is required");
  if (o.node_key.empty()) return bad("node_key", "is required");
  for (const auto& [id, address] : o.peers) {
    if (!IsValidNodeId(id)) return bad("peers", absl::StrCat("'", id, "' is not a node id"));
    if (id == o.node_id) return bad("peers", "a node is not its own peer");
    if (address.empty()) return bad("peers", absl::StrCat("'", id, "' has no address"));
  }
  for (const auto& [dest, hop] : o.routes) {
    if (dest != "*" && !IsValidNodeId(dest)) {
      return bad("routes", absl::StrCat("'", dest, "' is not a node id or *"));
    }
    if (!o.peers.count(hop)) {
      return bad("routes", absl::StrCat("next hop '", hop, "' for '", dest, "' is not a peer"));
    }
  }
  if (o.max_envelope_bytes < 1024) return bad("limits.max_envelope_bytes", "must be at least 1024");
  if (o.handler_threads < 1 || o.handler_threads > 1024) {
    return bad("limits.handler_threads", "must be between 1 and 1024");
  }
  if (o.max_queued_calls < 1) {
    return bad("limits.max_queued_calls", "must be at least 1");
  }
  // Below this a handful of 1 MiB envelopes in flight already puts gRPC under
  // memory pressure, and it starts cancelling calls.
  if (o.memory_quota_bytes < (size_t{16} << 20)) {
    return bad("limits.memory_quota_mib", "must be at least 16");
  }
  if (o.in_flight_per_peer < 1) return bad("delivery.in_flight_per_peer", "must be at least 1");
  if (o.delivery_batch_max < 1 || o.delivery_batch_max > 64) {
    return bad("delivery.batch_max", "must be 1 to 64 (a batch holds at most 64 envelopes)");
  }
  if (o.encryption_keys.empty()) {
    return bad("privacy.encryption_keys", "needs at least one {key, certificate}");
  }
  for (const auto& key : o.encryption_keys) {
    if (key.key.empty() || key.certificate.empty()) {
      return bad("privacy.encryption_keys", "each entry needs key and certificate");
    }
  }
  if (o.encryption_certificates_dir.empty()) {
    return bad("privacy.encryption_certificates_dir", "is required");
  }
  if (o.key_encryption_key.empty()) return bad("privacy.key_encryption_key", "is required");
  return absl::OkStatus();
}

absl::StatusOr<NodeConfig> ReadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  NodeConfig config;
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(text.str(), &config, parse);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a valid node config: ", status.message().as_string()));
  }
  return config;
}

absl::StatusOr<BrokerOptions> LoadConfigFile(const std::string& path) {
  ASSIGN_OR_RETURN(NodeConfig config, ReadConfigFile(path));
  auto options = OptionsFromConfig(config);
  if (!options.ok()) {
    return absl::Status(options.status().code(),
                        absl::StrCat(path, ": ", options.status().message()));
  }
  return options;
}

}  // namespace mir::broker
