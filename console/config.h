#ifndef MIR_CONSOLE_CONFIG_H_
#define MIR_CONSOLE_CONFIG_H_

// mir-console's settings, read from the node's own configuration file: its
// nodeId, caCertificate, crlFiles, listenAddress and the `console` section
// (docs/CONSOLE-API.md, "Configuration"), with defaults applied and checked.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "mir/broker/config.pb.h"

namespace mir::console {

// The public report form's listener (docs/CONSOLE-API.md, "The public
// form"); off unless the config has console.publicForm.
struct PublicFormOptions {
  bool enabled = false;
  std::string listen_address;                // HTTPS, HOST:PORT (port 0: any free port)
  std::string origin;                        // e.g. "https://segnala.example.it"
  std::string https_certificate, https_key;  // PEM files; default the console's
  // Largest request body; bigger ones get 413. A report is at most ~4.5 KB of
  // text, ~3 times that urlencoded.
  size_t max_body_bytes = 16 * 1024;
  // POSTs (reports, follow-ups) from everyone, per minute. Too low refuses
  // people at a busy moment; too high lets a flood fill the store.
  int global_per_minute = 30;
  // POSTs of one client address: a burst, then a steady rate per hour. Too
  // low refuses a shelter's many users behind one address.
  int client_burst = 5;
  int client_per_hour = 20;
  // Client addresses tracked at once (in memory, as keyed hashes); past it
  // the least recently seen is forgotten.
  size_t max_tracked_clients = 10000;
  // Threads serving HTTP connections.
  int http_threads = 8;
};

struct ConsoleOptions {
  std::string node_id;
  std::string ca_certificate;                // PEM file of the network CA(s)
  std::vector<std::string> crl_files;        // PEM CRLs
  std::string listen_address;                // HTTPS, HOST:PORT (port 0: any free port)
  std::string origin;                        // e.g. "https://127.0.0.1:7443"
  std::string https_certificate, https_key;  // PEM files, the web certificate
  std::string certificate, key;              // PEM files, mir://<node>/console
  std::string broker_address;                // HOST:PORT of the node
  absl::Duration session_idle = absl::Seconds(900);
  absl::Duration session_absolute = absl::Seconds(43200);
  // The national node (as broker::BrokerOptions: not configurable there).
  std::string national_node = "nvn";
  // Largest request body; bigger ones get 413.
  size_t max_body_bytes = 256 * 1024;
  // Deadline of each relayed call.
  absl::Duration rpc_timeout = absl::Seconds(10);
  // Threads serving HTTP connections (each open event stream holds one).
  int http_threads = 32;
  PublicFormOptions public_form;
};

// Defaults and checks: a node id, a console section with listen address,
// HTTPS certificate and key, console certificate and key; origin defaults to
// "https://<listenAddress>", brokerAddress to the node's listenAddress.
// InvalidArgument naming the field otherwise.
absl::StatusOr<ConsoleOptions> ConsoleOptionsFromConfig(const broker::NodeConfig& config);

// Reads the JSON file (protobuf JSON mapping of mir.broker.NodeConfig).
absl::StatusOr<ConsoleOptions> LoadConsoleConfig(const std::string& path);

}  // namespace mir::console

#endif  // MIR_CONSOLE_CONFIG_H_
