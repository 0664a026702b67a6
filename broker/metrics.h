#ifndef MIR_BROKER_METRICS_H_
#define MIR_BROKER_METRICS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "broker/config.h"
#include "common/clock.h"
#include "crypto/verifier.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace mir::broker {

class DeadlineWatcher;
class Node;
class PeerSender;
class PeerSenders;

// What the node's page shows and the metrics export: one snapshot, read from
// the store and the node's state when asked. Labels and keys are node ids,
// certificate roles and reason names only: never a referral id, a message id
// or anything about a person.
struct NodeFigures {
  struct Peer {
    int64_t pending = 0;            // outbox entries waiting for the peer
    absl::Duration oldest_pending;  // age of the oldest (zero: none)
    int64_t dead_letters = 0;       // outbox entries given up on
    bool reachable = true;          // the peer answered the last call
    absl::Time reachability_since;  // when `reachable` last changed (or the start)
    int64_t delivered = 0;          // receipted since the node started
  };
  std::map<std::string, Peer> peers;  // by configured peer id
  // Early messages waiting for their predecessors, by the node that sent
  // them (any node, not only a peer): one waiting for long means its
  // predecessor was lost on the way.
  struct Held {
    int64_t count = 0;
    absl::Duration oldest;  // how long the oldest has waited
  };
  std::map<std::string, Held> held;
  int64_t emergencies_overdue = 0;  // DeadlineWatcher's alarms
  bool store_failed = false;        // fail-stopped (storage/store.h)
  // Time left before notAfter (negative: expired), by subject: "node", "ca",
  // "encryption" (the current encryption certificate), "encryption-previous-N"
  // (older ones still configured) and "peer:<node>" (the client certificate
  // a peer last delivered with).
  std::map<std::string, absl::Duration> certificate_expiry;
};

// The node's metrics (docs/OPERATIONS.md, "Monitoring"): a Prometheus
// registry with the counters and histograms the handlers and the store
// update, plus gauges computed from NodeFigures at every scrape, exposed in
// Prometheus' text format on a plain-HTTP listener when configured.
//
// Gauges are read at scrape time rather than refreshed on the deadline
// thread: a scrape then shows the outbox as it is (not up to
// deadline_check_interval old), and a node nobody scrapes does no work.
//
// Lifecycle: Create before the store is opened (it observes the store's
// commits, storage::SetCommitObserver), Attach once the node runs, Listen
// to expose, StopListening before what was attached is destroyed.
// Thread-safe.
class Metrics {
 public:
  // Reads the node's, CA's and encryption certificates' expiry from
  // `options`' files (one it cannot read is left out: the node refuses to
  // start on it anyway). `clock` must outlive the Metrics.
  static std::unique_ptr<Metrics> Create(const BrokerOptions& options, const Clock* clock);
  // Re-reads the node's and encryption certificates' expiry from `options`'
  // files and takes the CAs' from `cas` (the Verifier's current bundle:
  // "ca" for the first, "ca-2", "ca-3"… for the others); Broker::Reload
  // calls it. Returns subject → notAfter.
  std::map<std::string, absl::Time> RefreshOwnCertificates(const BrokerOptions& options,
                                                           const std::vector<TrustItem>& cas);
  ~Metrics();  // StopListening()s; stores opened later are no longer observed

  // Where the scrape-time figures come from; all must outlive the Metrics or
  // its StopListening. Before Attach, Figures() has certificates only.
  void Attach(Node* node, const DeadlineWatcher* deadlines, const PeerSenders* senders);

  // Serves GET /metrics on `address` ("host:port", port 0 picks one).
  // UNAVAILABLE if it cannot bind.
  absl::Status Listen(const std::string& address);
  int port() const;  // the bound port; 0 when not listening
  void StopListening();

  // Handler latencies, from the call's arrival to its answer.
  void ObserveSubmit(absl::Duration took);
  void ObserveDeliver(absl::Duration took);
  // An envelope a peer delivered and this node accepted, by its kind.
  void CountReceived(const std::string& kind);
  // A Deliver this node refused, by the caller's node and the ErrorReason
  // name of `refusal` (a bounded set).
  void CountRefusal(const std::string& peer, const absl::Status& refusal);
  // The client certificate `peer` delivered with (PEM); parsed only when it
  // changes.
  void SawPeerCertificate(const std::string& peer, const std::string& pem);

  // The snapshot the gauges are made of; also for the node's page.
  NodeFigures Figures() const;
  // Every series in Prometheus' text format, as a scrape returns it.
  std::string Text() const;

 private:
  struct Instruments;  // the registry's families and series
  class Collector;     // the scrape-time gauges

  Metrics() = default;

  const Clock* clock_ = nullptr;
  std::string database_path_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Instruments> instruments_;
  std::shared_ptr<Collector> collector_;

  mutable absl::Mutex mu_;
  Node* node_ ABSL_GUARDED_BY(mu_) = nullptr;
  const DeadlineWatcher* deadlines_ ABSL_GUARDED_BY(mu_) = nullptr;
  const PeerSenders* senders_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Set by Create, replaced by RefreshOwnCertificates.
  std::map<std::string, absl::Time> own_certificates_ ABSL_GUARDED_BY(mu_);
  struct PeerCertificate {
    std::string pem;
    absl::Time not_after;
  };
  std::map<std::string, PeerCertificate> peer_certificates_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex exposer_mu_;
  std::unique_ptr<prometheus::Exposer> exposer_ ABSL_GUARDED_BY(exposer_mu_);
  int port_ ABSL_GUARDED_BY(exposer_mu_) = 0;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_METRICS_H_
