#ifndef MIR_BROKER_CONFIG_H_
#define MIR_BROKER_CONFIG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "mir/broker/config.pb.h"
#include "mir/v1/status_change.pb.h"

namespace mir::broker {

// Everything a node needs to run, with defaults applied and checked.
struct BrokerOptions {
  std::string node_id;
  std::string listen_address;
  // Plain-HTTP Prometheus metrics (broker/metrics.h), e.g. "127.0.0.1:9102";
  // port 0 picks one; empty: no metrics listener. No personal data, but it
  // shows the node's peers and load: keep it off public networks.
  std::string metrics_listen_address;
  std::string database_path;
  std::string ca_certificate, node_certificate, node_key;  // file paths
  std::map<std::string, std::string> peers;                // node id -> address
  std::map<std::string, std::string> routes;               // destination -> next hop ("*" default)
  std::vector<std::string> relays;                         // peers that may deliver for other nodes
  bool relay = false;                                      // this node forwards for others
  // The national node: it may route referrals on and close them negatively.
  std::string national_node = "nvn";
  // `ca_certificate` may hold several CAs (a bundle during a CA rotation),
  // all trusted. `crl_files`: PEM CRLs, each signed by a CA of the bundle; a
  // certificate they list is refused (REVOKED) on TLS and as an envelope's
  // author. Broker::Reload (SIGHUP) re-reads these files and the node's.
  std::vector<std::string> crl_files;
  // The signed node registry (PROTOCOL.md §12), or empty: none. Checked by
  // --check-config; a destination it lists outside its validity dates is
  // refused with NODE_NOT_VALID.
  std::string registry_file;
  // How often a node asks the national node for a newer registry (also once
  // at start). Too long leaves a new project node unknown, or an ended one
  // addressable, that long after nvn has the new registry.
  absl::Duration registry_poll_interval = absl::Hours(1);
  // The longest life of a console sign-in (config console.sessionAbsoluteS,
  // PROTOCOL.md §13): a proof issued earlier is refused (CONSOLE_PROOF). The
  // console's own session ends at the same age. Too long lets a stolen proof
  // read that long; too short signs staff out mid-shift.
  absl::Duration console_session_absolute = absl::Hours(12);

  // Envelopes over this are refused (MESSAGE_TOO_LARGE) before parsing. Too
  // small refuses legitimate referrals with notes; too large lets a peer
  // make us buffer big messages.
  size_t max_envelope_bytes = 1 << 20;
  // HTTP/2 streams per connection. Too low serializes a peer's backlog drain.
  int max_concurrent_streams = 100;
  // Connections idle this long are closed; frees memory held by silent peers.
  absl::Duration idle_connection_timeout = absl::Minutes(5);
  // Memory gRPC may charge to this node's server, all connections together
  // (a grpc::ResourceQuota, broker/server_limits.h). Past it gRPC closes idle
  // connections and cancels calls at random, legitimate ones included: too
  // low fails deliveries of large envelopes under load; too high lets big
  // messages and read buffers grow unchecked. In gRPC 1.51 it does NOT bound
  // streams opened by a client that never acks SETTINGS (see server_limits.h).
  size_t memory_quota_bytes = size_t{256} << 20;
  // Threads that run Deliver and the Referrals calls: calls waiting for the
  // same commit share it, so this bounds how many a commit can carry.
  int handler_threads = 64;
  // Calls that may wait for a handler thread; the next is refused at once
  // with RESOURCE_EXHAUSTED NODE_BUSY (a peer's sender retries it) instead of
  // queued while memory grows. Too low refuses bursts a node could serve a
  // moment later; too high lets an overload hold that many requests in RAM.
  int max_queued_calls = 4096;
  // How far ahead of our clock an envelope's created_at may be.
  absl::Duration max_clock_skew = absl::Minutes(5);

  // An EMERGENCY_24H referral must be taken into evaluation within this time,
  // or the sending side marks it overdue and raises an alarm.
  absl::Duration emergency_ack_timeout = absl::Minutes(15);
  // How often the deadline watcher looks for overdue referrals.
  absl::Duration deadline_check_interval = absl::Seconds(10);

  // Envelopes sent concurrently to one peer. Receivers re-order per referral.
  int in_flight_per_peer = 64;
  // Retry backoff: initial * 2^attempts, capped, times a jitter in [0.5, 1).
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Minutes(1);
  // A pending envelope older than this becomes a dead letter (staff retry it).
  // Too short dead-letters deliveries to a peer that is briefly down.
  absl::Duration dead_letter_after = absl::Hours(72);
  absl::Duration rpc_timeout = absl::Seconds(10);
  // A sender with nothing due re-reads its outbox this often. Only a safety
  // net: every enqueue wakes the sender at once.
  absl::Duration outbox_poll_interval = absl::Seconds(30);
  // Batched delivery (config delivery.batchMax, PROTOCOL.md §6.2.1): the
  // sender puts up to this many due envelopes in one DeliverBatch call (one receipt, one commit at
  // the peer), within the in-flight window and one envelope's size limit; 1 sends each with
  // Deliver. Towards a peer that answers UNIMPLEMENTED (a node from before batches) it uses
  // Deliver, asking again after `batch_retry_after`. Larger batches give a drain more per call but
  // make one slow envelope (a big one, a held one) hold up the others' answer.
  int delivery_batch_max = 32;
  absl::Duration batch_retry_after = absl::Minutes(10);
  // Whether this node serves DeliverBatch. Only tests turn it off, to play a
  // node from before batches; the config file has no such field.
  bool serve_delivery_batches = true;
  // Whether this node accepts RECEIVED_ANSWERS (PROTOCOL.md §10.8) and says
  // so in its receipts. Only tests turn it off, to play a node from before
  // them, which refuses the kind as unknown; the config file has no such
  // field.
  bool accept_received_answers = true;

  // Sealed fields and data at rest (config "privacy"; PROTOCOL.md §11,
  // docs/PRIVACY.md). Key files; the first encryption key is the current one.
  struct EncryptionKeyFiles {
    std::string key, certificate;
  };
  std::vector<EncryptionKeyFiles> encryption_keys;
  std::string encryption_certificates_dir;
  std::string key_encryption_key;
  std::vector<std::string> previous_key_encryption_keys;
  // Terminal state -> how long after reaching it a referral's personal data
  // is erased here. Absent: kept until an operator erases it.
  std::map<v1::ReferralState, absl::Duration> retention;
  absl::Duration retention_sweep_interval = absl::Hours(1);

  // The national statistics (PROTOCOL.md §16): how often this node counts
  // its last kStatisticsReportMonths months and reports those that changed,
  // the first time one interval after start. The config file's default is
  // an hour; options built in code (tests) report only when asked.
  absl::Duration statistics_report_interval = absl::InfiniteDuration();

  // SQLite VFS the store is opened with (storage::StoreOptions::vfs_name);
  // empty = the default. Only tests set it, to inject disk faults
  // (storage/fault_vfs.h); the config file has no such field.
  std::string vfs_name;

  // Next hop towards `destination`, or nullopt when there is no route.
  absl::optional<std::string> NextHop(const std::string& destination) const;
};

// Reads a JSON config file (protobuf JSON mapping of mir.broker.NodeConfig),
// applies defaults and validates: node ids, every route's next hop is a peer,
// required paths present. Errors name the offending field.
absl::StatusOr<BrokerOptions> LoadConfigFile(const std::string& path);
// The file as written (unknown fields refused), for checks of sections the
// broker itself does not use (e.g. "console", by --check-config).
absl::StatusOr<NodeConfig> ReadConfigFile(const std::string& path);
absl::StatusOr<BrokerOptions> OptionsFromConfig(const NodeConfig& config);
absl::Status Validate(const BrokerOptions& options);

}  // namespace mir::broker

#endif  // MIR_BROKER_CONFIG_H_
