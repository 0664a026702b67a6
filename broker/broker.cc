#include "broker/broker.h"

#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "broker/registry_client.h"
#include "broker/server_limits.h"
#include "broker/tls.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "crypto/signer.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

namespace mir::broker {
namespace {

// DeliverRequest adds a field tag and a length to the envelope it carries;
// SubmitRequest also a referral key (a tag, a length and 32 bytes).
constexpr int kRequestOverheadBytes = 64;

std::function<double()> MakeJitter() {
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  auto mu = std::make_shared<absl::Mutex>();
  return [rng, mu] {
    absl::MutexLock lock(mu.get());
    return std::uniform_real_distribution<double>(0.0, 1.0)(*rng);
  };
}

}  // namespace

std::unique_ptr<PeerSender> Broker::NewSender(const std::string& peer, const std::string& address) {
  const BrokerOptions& options = node_->options();
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(static_cast<int>(options.max_envelope_bytes) + kRequestOverheadBytes);
  args.SetMaxReceiveMessageSize(static_cast<int>(options.max_envelope_bytes) +
                                kRequestOverheadBytes);
  // Reconnect promptly when a peer comes back; our own backoff paces retries.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  ClientTls peer_tls = tls_->ChannelCredentials(peer);
  auto channel = grpc::CreateCustomChannel(address, peer_tls.credentials, args);
  if (peer == options.national_node) {
    // Its own connection (a local subchannel pool): a registry fetch while
    // nvn is down must not put the sender's connection into reconnect
    // backoff, which would turn the sender's next delivery into a probe.
    grpc::ChannelArguments registry_args = args;
    registry_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    registry_source_ = v1::Exchange::NewStub(
        grpc::CreateCustomChannel(address, peer_tls.credentials, registry_args));
  }
  // What the peer's receipts announce decides how this node answers it.
  Node* node = node_.get();
  node->RecallPeerFeatures(peer);
  PeerSender::NodeHooks hooks;
  hooks.receipt_verified = [node, peer](const v1::Receipt& receipt) {
    node->peer_features().Learn(peer, receipt);
  };
  hooks.answers_refused = [node](const storage::OutboxEntry& entry, const absl::Status& refusal) {
    return node->ReplaceAnswersWithSingles(entry, refusal);
  };
  return std::make_unique<PeerSender>(peer, channel, &node_->store(), &node_->verifier(),
                                      node_->clock(), &options, MakeJitter(), std::move(hooks));
}

absl::StatusOr<std::unique_ptr<Broker>> Broker::Start(const BrokerOptions& options,
                                                      const Clock* clock) {
  std::unique_ptr<Broker> broker(new Broker());
  broker->metrics_ = Metrics::Create(options, clock);
  // The node registry (PROTOCOL.md §12): a relay also reaches every node it
  // lists, so a new project node needs no configuration at the regions.
  NodeRegistryHolder registry;
  RETURN_IF_ERROR(LoadNodeRegistries(options, clock->Now(), registry));
  BrokerOptions with_registry = options;
  with_registry.peers = PeersWithRegistry(options, registry, clock->Now());
  ASSIGN_OR_RETURN(broker->node_, Node::Create(with_registry, clock));
  if (registry.current())
    broker->node_->registry().Offer(*registry.current(), registry.signed_bytes());
  const TlsFiles tls{options.ca_certificate, options.node_certificate, options.node_key};
  ASSIGN_OR_RETURN(broker->tls_,
                   NodeTls::Create(options.node_id, tls, &broker->node_->verifier(), clock));
  auto server_credentials = broker->tls_->ServerCredentials();

  for (const auto& [peer, address] : with_registry.peers) {
    broker->senders_.Add(peer, broker->NewSender(peer, address));
  }
  Broker* raw = broker.get();
  broker->node_->SetOutboxListener([raw](const std::string& peer) { raw->senders_.Wake(peer); });
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  broker->handlers_ = std::make_unique<WorkPool>(options.handler_threads, options.max_queued_calls);
  broker->exchange_ = std::make_unique<ExchangeService>(
      broker->node_.get(), broker->handlers_.get(), broker->metrics_.get());
  broker->referrals_ = std::make_unique<ReferralsService>(
      broker->node_.get(), broker->handlers_.get(), broker->metrics_.get());
  broker->reports_ = std::make_unique<ReportsService>(broker->node_.get(), broker->handlers_.get());
  broker->service_requests_ =
      std::make_unique<ServiceRequestsService>(broker->node_.get(), broker->handlers_.get());
  broker->deadlines_ = std::make_unique<DeadlineWatcher>(broker->node_.get());
  broker->metrics_->Attach(broker->node_.get(), broker->deadlines_.get(), &broker->senders_);
  grpc::ServerBuilder builder;
  // A fail-stopped store turns the health service NOT_SERVING (broker/health.h).
  broker->health_ = std::make_unique<StoreHealth>(&broker->node_->store());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> checks;
  checks.push_back(broker->health_->CheckOnEveryCall());
  builder.experimental().SetInterceptorCreators(std::move(checks));
  builder.AddListeningPort(options.listen_address, server_credentials, &broker->port_);
  builder.RegisterService(broker->exchange_.get());
  builder.RegisterService(broker->referrals_.get());
  builder.RegisterService(broker->reports_.get());
  builder.RegisterService(broker->service_requests_.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_envelope_bytes) +
                                   kRequestOverheadBytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  // gRPC sets SO_REUSEPORT by default, which would let a second broker bind
  // the same port and take half the connections: refuse that instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_IDLE_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.idle_connection_timeout)));
  ApplyServerLimits(builder, options);  // memory quota: broker/server_limits.h
  broker->server_ = builder.BuildAndStart();
  if (broker->server_ == nullptr || broker->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen_address));
  }
  broker->server_->GetHealthCheckService()->SetServingStatus(true);
  broker->health_->Attach(broker->server_->GetHealthCheckService());

  if (!options.metrics_listen_address.empty()) {
    RETURN_IF_ERROR(broker->metrics_->Listen(options.metrics_listen_address));
  }
  broker->WarnExpiring();
  broker->senders_.StartAll();
  broker->deadline_thread_ = std::thread([raw] { raw->WatchDeadlines(); });
  MIR_LOG(INFO) << "node " << options.node_id << " listening on port " << broker->port_ << " with "
                << broker->senders_.size() << " peer(s)";
  return broker;
}

absl::Status Broker::Reload() {
  absl::MutexLock lock(&reload_mu_);
  absl::Status certificates = ReloadCertificates();
  absl::Status registry = ReloadRegistryFile();
  return certificates.ok() ? registry : certificates;
}

absl::Status Broker::ReloadRegistryFile() {
  const BrokerOptions& o = node_->options();
  if (o.registry_file.empty()) return absl::OkStatus();
  NodeRegistryHolder loaded;
  absl::Status status = LoadNodeRegistryFile(o, node_->clock()->Now(), loaded);
  if (!status.ok()) {
    MIR_LOG(ERROR) << "node registry not reloaded, the node keeps version "
                   << node_->registry().version() << ": " << status.message();
    return status;
  }
  if (loaded.current() != nullptr &&
      node_->registry().Offer(*loaded.current(), loaded.signed_bytes())) {
    MIR_LOG(INFO) << "node registry version " << node_->registry().version() << " from "
                  << o.registry_file;
  }
  AdoptRegistryPeers();
  return absl::OkStatus();
}

void Broker::AdoptRegistryPeers() {
  const BrokerOptions& o = node_->options();
  if (!o.relay) return;
  absl::MutexLock lock(&adopt_mu_);  // from Reload and from the poll
  for (const auto& [peer, address] :
       PeersWithRegistry(o, node_->registry(), node_->clock()->Now())) {
    if (senders_.Has(peer)) continue;
    // The sender first: the route then finds it ready.
    senders_.Add(peer, NewSender(peer, address));
    node_->AddPeer(peer);
    MIR_LOG(INFO) << "node " << peer << " reachable at " << address << " from the node registry";
  }
}

absl::Status Broker::ReloadCertificates() {
  const BrokerOptions& o = node_->options();
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(TrustMaterial material, ReadTrustMaterial(o.ca_certificate, o.crl_files));
    // Everything is checked before anything is swapped: a candidate
    // Verifier checks the CAs and CRLs, and the node's own certificate
    // against them.
    ASSIGN_OR_RETURN(auto candidate, Verifier::FromTrust(material, node_->clock()));
    // The key that signs receipts and the node's own messages is the TLS
    // key: both come from the same two files, which NodeTls::Reload checks
    // against the new CAs and CRLs before anything is swapped.
    ASSIGN_OR_RETURN(auto signer, Signer::FromPemFiles(o.node_key, o.node_certificate));
    if (signer->identity() != node_->signer()->identity()) {
      return absl::InvalidArgumentError(absl::StrCat("the node certificate ", o.node_certificate,
                                                     " is for ", signer->identity().Uri(), ", not ",
                                                     node_->signer()->identity().Uri()));
    }
    RETURN_IF_ERROR(
        tls_->Reload(TlsFiles{o.ca_certificate, o.node_certificate, o.node_key}, *candidate));
    RETURN_IF_ERROR(node_->mutable_verifier().Reload(material));
    RETURN_IF_ERROR(node_->ReplaceSigner(std::move(signer)));
    MIR_LOG(INFO) << "reloaded: " << node_->verifier().Authorities().size() << " CA(s), "
                  << node_->verifier().RevocationLists().size() << " CRL(s), node certificate "
                  << o.node_certificate;
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    MIR_LOG(ERROR) << "reload refused, the node keeps its current certificates, CAs and CRLs: "
                   << status.message();
    return status;
  }
  WarnExpiring();
  return absl::OkStatus();
}

int Broker::WarnExpiring(absl::Duration horizon) {
  const absl::Time now = node_->clock()->Now();
  const Verifier& verifier = node_->verifier();
  std::map<std::string, absl::Time> expiries =
      metrics_->RefreshOwnCertificates(node_->options(), verifier.Authorities());
  int warnings = 0;
  for (const auto& [subject, not_after] : expiries) {
    if (absl::StartsWith(subject, "encryption-previous")) continue;  // expected to lapse
    if (not_after - now > horizon) continue;
    ++warnings;
    MIR_LOG(WARNING) << "certificate " << subject
                     << (not_after < now ? " has expired at " : " expires at ")
                     << absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", not_after, absl::UTCTimeZone())
                     << ": renew it and send SIGHUP (docs/OPERATIONS.md)";
  }
  for (const TrustItem& crl : verifier.RevocationLists()) {
    if (crl.until >= now) continue;
    ++warnings;
    MIR_LOG(WARNING) << "the CRL of " << crl.subject
                     << " is stale (its nextUpdate has passed); it still revokes what it lists";
  }
  return warnings;
}

void Broker::WatchDeadlines() {
  absl::Time next_sweep = absl::InfinitePast();
  absl::Time next_statistics_report =
      node_->clock()->Now() + node_->options().statistics_report_interval;
  absl::Time next_registry_fetch = absl::InfinitePast();
  absl::Time next_expiry_check = node_->clock()->Now() + absl::Hours(24);
  while (true) {
    if (const absl::Time now = node_->clock()->Now(); now >= next_expiry_check) {
      WarnExpiring();
      next_expiry_check = now + absl::Hours(24);
    }
    deadlines_->Check();
    health_->Check();  // also when no call comes in
    if (const absl::Time now = node_->clock()->Now(); now >= next_registry_fetch) {
      FetchRegistry();
      next_registry_fetch = now + node_->options().registry_poll_interval;
    }
    // The retention policy (docs/PRIVACY.md) rides on the same thread.
    if (const absl::Time now = node_->clock()->Now(); now >= next_sweep) {
      if (auto erased = node_->SweepRetention(); !erased.ok()) {
        MIR_LOG(ERROR) << "retention sweep failed: " << erased.status().message();
      }
      next_sweep = now + node_->options().retention_sweep_interval;
    }
    if (const absl::Time now = node_->clock()->Now(); now >= next_statistics_report) {
      if (auto reported = node_->ReportStatistics(); !reported.ok()) {
        MIR_LOG(ERROR) << "statistics report failed: " << reported.status().message();
      }
      next_statistics_report = now + node_->options().statistics_report_interval;
    }
    absl::MutexLock lock(&stop_mu_);
    auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(stop_mu_) { return stopping_; };
    if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping),
                                  node_->options().deadline_check_interval)) {
      return;
    }
  }
}

void Broker::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  {
    absl::MutexLock lock(&stop_mu_);
    stopping_ = true;
  }
  if (deadline_thread_.joinable()) deadline_thread_.join();
  // First: a scrape reads the senders and the node, which go below.
  if (metrics_) metrics_->StopListening();
  if (server_) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  }
  // Shutdown() returned: every call was finished, so the pool is idle.
  if (handlers_) handlers_->Stop();
  senders_.StopAll();
  // Start() may have failed before the node existed (e.g. a corrupt store).
  if (node_ != nullptr) MIR_LOG(INFO) << "node " << node_->options().node_id << " stopped";
}

void Broker::FetchRegistry() {
  if (registry_source_ == nullptr) return;
  auto fetched =
      FetchNodeRegistry(*registry_source_, node_->options(), node_->clock(), node_->registry());
  // NOT_FOUND: the national node holds none. Unavailable: it is down, and the
  // next poll asks again; the registry held meanwhile stays in force.
  if (!fetched.ok() && fetched.status().code() != absl::StatusCode::kNotFound) {
    MIR_LOG(WARNING) << "node registry not fetched from " << node_->options().national_node << ": "
                     << fetched.status().message();
  }
  if (fetched.ok() && *fetched) AdoptRegistryPeers();
}

Broker::~Broker() { Shutdown(); }

}  // namespace mir::broker
