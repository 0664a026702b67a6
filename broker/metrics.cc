#include "broker/metrics.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <exception>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "broker/deadline_watcher.h"
#include "broker/node.h"
#include "broker/peer_senders.h"
#include "broker/sender.h"
#include "common/errors.h"
#include "common/log.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "storage/store.h"

namespace mir::broker {
namespace {

struct BioCloser {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Closer {
  void operator()(X509* x) const { X509_free(x); }
};

// notAfter of the first certificate in `pem`.
absl::StatusOr<absl::Time> NotAfter(const std::string& pem) {
  std::unique_ptr<BIO, BioCloser> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf");
  std::unique_ptr<X509, X509Closer> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return absl::InvalidArgumentError("not a PEM certificate");
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) {
    return absl::InvalidArgumentError("unreadable notAfter");
  }
  return absl::FromUnixSeconds(timegm(&tm));
}

absl::StatusOr<absl::Time> NotAfterOfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream pem;
  pem << in.rdbuf();
  auto not_after = NotAfter(pem.str());
  if (!not_after.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", not_after.status().message()));
  }
  return not_after;
}

// Handler latencies: a Submit is one commit (about 1 ms here), a backlog or
// a slow disk takes it to seconds.
const prometheus::Histogram::BucketBoundaries kCallBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
// A COMMIT is one fsync, 0.1–0.2 ms on a good disk.
const prometheus::Histogram::BucketBoundaries kCommitBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};

prometheus::MetricFamily Family(const std::string& name, const std::string& help,
                                prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = type;
  return family;
}

void AddValue(prometheus::MetricFamily& family, std::vector<prometheus::ClientMetric::Label> labels,
              double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
}

}  // namespace

struct Metrics::Instruments {
  explicit Instruments(prometheus::Registry& registry)
      : submit(prometheus::BuildHistogram()
                   .Name("mir_submit_seconds")
                   .Help("Referrals.Submit calls, from arrival to answer")
                   .Register(registry)
                   .Add({}, kCallBuckets)),
        deliver(prometheus::BuildHistogram()
                    .Name("mir_deliver_seconds")
                    .Help("Exchange.Deliver calls from peers, from arrival to answer")
                    .Register(registry)
                    .Add({}, kCallBuckets)),
        commit(prometheus::BuildHistogram()
                   .Name("mir_store_commit_seconds")
                   .Help("Store group commits: the COMMIT statement, its fsync included")
                   .Register(registry)
                   .Add({}, kCommitBuckets)),
        fsyncs(prometheus::BuildCounter()
                   .Name("mir_store_fsyncs_total")
                   .Help("Store commits that synced the write-ahead log (one fsync each)")
                   .Register(registry)
                   .Add({})),
        received(prometheus::BuildCounter()
                     .Name("mir_received_total")
                     .Help("Envelopes delivered by peers and accepted, by message kind")
                     .Register(registry)),
        refusals(prometheus::BuildCounter()
                     .Name("mir_refusals_total")
                     .Help("Deliveries from a peer that this node refused, by ErrorReason")
                     .Register(registry)) {}

  prometheus::Histogram& submit;
  prometheus::Histogram& deliver;
  prometheus::Histogram& commit;
  prometheus::Counter& fsyncs;
  prometheus::Family<prometheus::Counter>& received;
  prometheus::Family<prometheus::Counter>& refusals;
};

// The gauges, computed from Figures() when scraped.
class Metrics::Collector final : public prometheus::Collectable {
 public:
  explicit Collector(const Metrics* metrics) : metrics_(metrics) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    const NodeFigures figures = metrics_->Figures();
    auto pending =
        Family("mir_outbox_pending", "Outbox entries waiting for the peer", MetricType::Gauge);
    auto oldest =
        Family("mir_outbox_oldest_pending_seconds",
               "Age of the oldest outbox entry waiting for the peer (0: none)", MetricType::Gauge);
    auto dead = Family("mir_dead_letters", "Outbox entries given up on, waiting for staff",
                       MetricType::Gauge);
    auto reachable =
        Family("mir_peer_reachable", "1 if the peer answered the last call, 0 while unreachable",
               MetricType::Gauge);
    auto delivered = Family("mir_deliveries_total",
                            "Envelopes delivered to the peer (receipt verified) since start",
                            MetricType::Counter);
    for (const auto& [peer, p] : figures.peers) {
      AddValue(pending, {{"peer", peer}}, static_cast<double>(p.pending));
      AddValue(oldest, {{"peer", peer}}, absl::ToDoubleSeconds(p.oldest_pending));
      AddValue(dead, {{"peer", peer}}, static_cast<double>(p.dead_letters));
      AddValue(reachable, {{"peer", peer}}, p.reachable ? 1 : 0);
      AddValue(delivered, {{"peer", peer}}, static_cast<double>(p.delivered));
    }
    auto held =
        Family("mir_held_messages", "Early messages from the node waiting for their predecessors",
               MetricType::Gauge);
    auto oldest_held =
        Family("mir_oldest_held_seconds",
               "How long the oldest early message from the node has waited", MetricType::Gauge);
    for (const auto& [node, h] : figures.held) {
      AddValue(held, {{"node", node}}, static_cast<double>(h.count));
      AddValue(oldest_held, {{"node", node}}, absl::ToDoubleSeconds(h.oldest));
    }
    auto overdue = Family("mir_emergencies_overdue",
                          "EMERGENCY_24H referrals sent from here and not taken into "
                          "evaluation by their deadline",
                          MetricType::Gauge);
    AddValue(overdue, {}, static_cast<double>(figures.emergencies_overdue));
    auto failed = Family("mir_store_failed",
                         "1 once the store has fail-stopped (refuses writes until restart)",
                         MetricType::Gauge);
    AddValue(failed, {}, figures.store_failed ? 1 : 0);
    auto expiry =
        Family("mir_certificate_expiry_seconds",
               "Seconds until the certificate's notAfter (negative: expired)", MetricType::Gauge);
    for (const auto& [subject, left] : figures.certificate_expiry) {
      AddValue(expiry, {{"subject", subject}}, absl::ToDoubleSeconds(left));
    }
    return {std::move(pending),   std::move(oldest), std::move(dead),        std::move(reachable),
            std::move(delivered), std::move(held),   std::move(oldest_held), std::move(overdue),
            std::move(failed),    std::move(expiry)};
  }

 private:
  const Metrics* const metrics_;
};

std::unique_ptr<Metrics> Metrics::Create(const BrokerOptions& options, const Clock* clock) {
  std::unique_ptr<Metrics> metrics(new Metrics());
  metrics->clock_ = clock;
  metrics->database_path_ = options.database_path;
  std::vector<std::pair<std::string, std::string>> files = {{"node", options.node_certificate},
                                                            {"ca", options.ca_certificate}};
  for (size_t i = 0; i < options.encryption_keys.size(); ++i) {
    files.emplace_back(i == 0 ? "encryption" : absl::StrCat("encryption-previous-", i),
                       options.encryption_keys[i].certificate);
  }
  {
    absl::MutexLock lock(&metrics->mu_);
    for (const auto& [subject, path] : files) {
      // One that cannot be read is left out: Node::Create refuses it next,
      // and says why in its own words.
      if (absl::StatusOr<absl::Time> not_after = NotAfterOfFile(path); not_after.ok()) {
        metrics->own_certificates_[subject] = *not_after;
      }
    }
  }
  metrics->registry_ = std::make_shared<prometheus::Registry>();
  metrics->instruments_ = std::make_shared<Instruments>(*metrics->registry_);
  metrics->collector_ = std::make_shared<Collector>(metrics.get());
  // The observer keeps the instruments alive for as long as a store holds it.
  std::shared_ptr<Instruments> instruments = metrics->instruments_;
  storage::SetCommitObserver(options.database_path,
                             [instruments](absl::Duration commit, bool synced) {
                               instruments->commit.Observe(absl::ToDoubleSeconds(commit));
                               if (synced) instruments->fsyncs.Increment();
                             });
  return metrics;
}

Metrics::~Metrics() {
  StopListening();
  storage::SetCommitObserver(database_path_, nullptr);
}

void Metrics::Attach(Node* node, const DeadlineWatcher* deadlines, const PeerSenders* senders) {
  absl::MutexLock lock(&mu_);
  node_ = node;
  deadlines_ = deadlines;
  senders_ = senders;
}

absl::Status Metrics::Listen(const std::string& address) {
  absl::MutexLock lock(&exposer_mu_);
  try {
    // One thread: a scrape every few seconds needs no more.
    auto exposer = std::make_unique<prometheus::Exposer>(address, 1);
    exposer->RegisterCollectable(registry_);
    exposer->RegisterCollectable(collector_);
    const std::vector<int> ports = exposer->GetListeningPorts();
    port_ = ports.empty() ? 0 : ports.front();
    exposer_ = std::move(exposer);
  } catch (const std::exception& e) {
    // civetweb throws when it cannot bind; nothing else here throws.
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  MIR_LOG(INFO) << "metrics on http://" << address.substr(0, address.rfind(':')) << ":" << port_
                << "/metrics";
  return absl::OkStatus();
}

int Metrics::port() const {
  absl::MutexLock lock(&exposer_mu_);
  return port_;
}

void Metrics::StopListening() {
  std::unique_ptr<prometheus::Exposer> exposer;
  {
    absl::MutexLock lock(&exposer_mu_);
    exposer = std::move(exposer_);
    port_ = 0;
  }
  // Destroyed outside the lock: it waits for a scrape in progress.
  exposer.reset();
}

void Metrics::ObserveSubmit(absl::Duration took) {
  instruments_->submit.Observe(absl::ToDoubleSeconds(took));
}

void Metrics::ObserveDeliver(absl::Duration took) {
  instruments_->deliver.Observe(absl::ToDoubleSeconds(took));
}

void Metrics::CountReceived(const std::string& kind) {
  instruments_->received.Add({{"kind", kind}}).Increment();
}

void Metrics::CountRefusal(const std::string& peer, const absl::Status& refusal) {
  std::string reason = ReasonName(refusal);
  if (reason.empty()) reason = "UNSPECIFIED";
  instruments_->refusals.Add({{"peer", peer}, {"reason", reason}}).Increment();
}

void Metrics::SawPeerCertificate(const std::string& peer, const std::string& pem) {
  {
    absl::MutexLock lock(&mu_);
    auto it = peer_certificates_.find(peer);
    if (it != peer_certificates_.end() && it->second.pem == pem) return;
  }
  absl::StatusOr<absl::Time> not_after = NotAfter(pem);
  if (!not_after.ok()) return;  // gRPC verified it: cannot happen
  absl::MutexLock lock(&mu_);
  peer_certificates_[peer] = PeerCertificate{pem, *not_after};
}

std::map<std::string, absl::Time> Metrics::RefreshOwnCertificates(
    const BrokerOptions& options, const std::vector<TrustItem>& cas) {
  std::map<std::string, absl::Time> own;
  std::vector<std::pair<std::string, std::string>> files = {{"node", options.node_certificate}};
  for (size_t i = 0; i < options.encryption_keys.size(); ++i) {
    files.emplace_back(i == 0 ? "encryption" : absl::StrCat("encryption-previous-", i),
                       options.encryption_keys[i].certificate);
  }
  for (const auto& [subject, path] : files) {
    if (absl::StatusOr<absl::Time> not_after = NotAfterOfFile(path); not_after.ok()) {
      own[subject] = *not_after;
    }
  }
  for (size_t i = 0; i < cas.size(); ++i) {
    own[i == 0 ? std::string("ca") : absl::StrCat("ca-", i + 1)] = cas[i].until;
  }
  absl::MutexLock lock(&mu_);
  own_certificates_ = own;
  return own;
}

NodeFigures Metrics::Figures() const {
  NodeFigures figures;
  const absl::Time now = clock_->Now();
  Node* node;
  const DeadlineWatcher* deadlines;
  const PeerSenders* senders;
  {
    // Not held across the store reads below: a Deliver handler waits for it.
    absl::MutexLock lock(&mu_);
    for (const auto& [subject, not_after] : own_certificates_) {
      figures.certificate_expiry[subject] = not_after - now;
    }
    for (const auto& [peer, cert] : peer_certificates_) {
      figures.certificate_expiry[absl::StrCat("peer:", peer)] = cert.not_after - now;
    }
    node = node_;
    deadlines = deadlines_;
    senders = senders_;
  }
  if (node == nullptr) return figures;
  storage::Store& store = node->store();
  figures.store_failed = store.failed();
  senders->ForEach([&](const std::string& peer, const PeerSender& sender) {
    NodeFigures::Peer& p = figures.peers[peer];
    p.reachable = sender.reachable();
    p.reachability_since = sender.reachability_since();
    p.delivered = sender.delivered();
  });
  // Reads whole entries: cheap while the outbox is short, as it is unless a
  // peer has been down; an aggregate query in storage/ would bound it.
  if (auto pending = store.ListOutbox(storage::OutboxState::kPending, 0); pending.ok()) {
    for (const storage::OutboxEntry& e : *pending) {
      NodeFigures::Peer& p = figures.peers[e.peer];
      ++p.pending;
      p.oldest_pending = std::max(p.oldest_pending, now - e.enqueued_at);
    }
  } else {
    MIR_LOG(ERROR) << "metrics could not read the outbox: " << pending.status().message();
  }
  if (auto dead = store.ListOutbox(storage::OutboxState::kDead, 0); dead.ok()) {
    for (const storage::OutboxEntry& e : *dead) ++figures.peers[e.peer].dead_letters;
  } else {
    MIR_LOG(ERROR) << "metrics could not read the dead letters: " << dead.status().message();
  }
  if (auto held = store.HeldBySender(); held.ok()) {
    for (const storage::HeldFromSender& h : *held) {
      figures.held[h.sender_node] = {h.count,
                                     std::max(absl::ZeroDuration(), now - h.oldest_held_at)};
    }
  } else {
    MIR_LOG(ERROR) << "metrics could not read the held messages: " << held.status().message();
  }
  if (deadlines != nullptr) {
    if (auto overdue = deadlines->CountOverdue(); overdue.ok()) {
      figures.emergencies_overdue = *overdue;
    } else {
      MIR_LOG(ERROR) << "metrics could not read the emergencies: " << overdue.status().message();
    }
  }
  return figures;
}

std::string Metrics::Text() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& family : collector_->Collect()) {
    families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace mir::broker
