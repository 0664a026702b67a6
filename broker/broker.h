#ifndef MIR_BROKER_BROKER_H_
#define MIR_BROKER_BROKER_H_

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "broker/config.h"
#include "broker/deadline_watcher.h"
#include "broker/exchange_service.h"
#include "broker/health.h"
#include "broker/metrics.h"
#include "broker/node.h"
#include "broker/peer_senders.h"
#include "broker/referrals_service.h"
#include "broker/reports_service.h"
#include "broker/sender.h"
#include "broker/service_requests_service.h"
#include "broker/tls.h"
#include "broker/work_pool.h"
#include "common/clock.h"
#include "grpcpp/server.h"

namespace mir::broker {

// A running node: the gRPC server (Exchange, health, reflection) over mutual
// TLS, the node core and one sender per peer.
class Broker {
 public:
  // Opens the store, binds `options.listen_address` (port 0 picks one) and
  // starts serving and sending. `clock` must outlive the broker.
  static absl::StatusOr<std::unique_ptr<Broker>> Start(const BrokerOptions& options,
                                                       const Clock* clock);
  ~Broker();  // Shutdown()s

  // Stops accepting calls, lets in-flight calls finish (up to `grace`), then
  // stops the senders; what was not receipted stays pending in the outbox.
  void Shutdown(absl::Duration grace = absl::Seconds(5));

  // SIGHUP: re-reads the configured node key and certificate, CA bundle
  // and CRL files (the paths in the options it started with), checks them
  // all (CAs and CRLs parse, each CRL is signed by a CA of the bundle, the
  // key matches the certificate, which chains to the new bundle and is not
  // revoked), and only then swaps them in: envelopes verified from then on
  // use the new CAs and CRLs, new TLS handshakes the new key, certificate,
  // CAs and CRLs (within NodeTls's refresh, 1 s); open connections and
  // calls in flight are untouched; the node's own signatures (receipts,
  // RECEIVED, key releases) use the new key. On any error nothing of this
  // changes, the error is logged and returned. Then logs expiry warnings
  // (WarnExpiring).
  // Apart from that, a node with `registry_file` (nvn) re-reads it: a newer
  // version that verifies is taken and served to the nodes, and a relay
  // starts sending to the nodes it lists that it could not reach yet; a bad
  // or older file keeps the current registry (logged and returned).
  absl::Status Reload();

  // Logs a WARNING for the node certificate, each CA and the current
  // encryption certificate expiring within `horizon`, and for each stale
  // CRL; updates mir_certificate_expiry_seconds. At start, on Reload, and
  // daily on the watcher thread. Returns how many warnings it logged.
  int WarnExpiring(absl::Duration horizon = absl::Hours(24 * 30));

  int port() const { return port_; }
  // The node's reloadable TLS material (broker/tls.h).
  const NodeTls& tls() const { return *tls_; }
  Node& node() { return *node_; }
  DeadlineWatcher& deadlines() { return *deadlines_; }
  // The node's metrics (broker/metrics.h); served over HTTP when
  // metrics_listen_address is set.
  Metrics& metrics() { return *metrics_; }

 private:
  Broker() = default;

  // Before node_: it observes the store's commits, and outlives it.
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<Node> node_;
  void WatchDeadlines();
  // Asks the national node for a newer node registry (PROTOCOL.md §12).
  void FetchRegistry();
  // Reload's first half: key, certificate, CAs and CRLs.
  absl::Status ReloadCertificates();
  // Reload's second half, at a node with `registry_file` (nvn): a newer
  // signed registry from that file is taken and served.
  absl::Status ReloadRegistryFile();
  // At a relay: a sender (and a route) for every node the registry lists
  // that the relay cannot reach yet.
  void AdoptRegistryPeers();
  // A sender for `peer` at `address` over the node's reloadable TLS.
  std::unique_ptr<PeerSender> NewSender(const std::string& peer, const std::string& address);
  // After node_ (it asks node_'s Verifier), before server_ and senders_
  // (their credentials read its files).
  std::unique_ptr<NodeTls> tls_;
  absl::Mutex reload_mu_;  // one Reload at a time
  absl::Mutex adopt_mu_;   // one AdoptRegistryPeers at a time

  std::unique_ptr<ExchangeService> exchange_;
  std::unique_ptr<ReferralsService> referrals_;
  std::unique_ptr<ReportsService> reports_;
  std::unique_ptr<ServiceRequestsService> service_requests_;
  std::unique_ptr<DeadlineWatcher> deadlines_;
  std::thread deadline_thread_;
  absl::Mutex stop_mu_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  // Before server_, so that the server (which calls them) is destroyed first.
  std::unique_ptr<StoreHealth> health_;
  std::unique_ptr<WorkPool> handlers_;
  std::unique_ptr<grpc::Server> server_;
  PeerSenders senders_;
  // GetRegistry on the national node's channel; null at the national node.
  std::unique_ptr<v1::Exchange::Stub> registry_source_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_BROKER_H_
