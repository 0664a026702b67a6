#include "tests/broker/network.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "broker/envelope_events.h"
#include "broker/tls.h"
#include "common/grpc_status.h"
#include "common/loopback.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "crypto/sealed_referral.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server_builder.h"

namespace mir::testing {

int FreePort() { return FreeLoopbackPort(); }

PortHold::PortHold() { Bind(0); }

PortHold::PortHold(int port) { Bind(port); }

PortHold::PortHold(PortHold&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), port_(other.port_) {}

PortHold& PortHold::operator=(PortHold&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::exchange(other.fd_, -1);
    port_ = other.port_;
  }
  return *this;
}

void PortHold::Bind(int port) {
  // No SO_REUSEADDR: nobody else can bind the port while this socket holds it.
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof(addr);
  if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Release();
    port_ = port;
    return;
  }
  port_ = ntohs(addr.sin_port);
}

void PortHold::Release() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

std::string Address(int port) { return "127.0.0.1:" + std::to_string(port); }

broker::BrokerOptions NodeOptions(const std::string& node, int port, const std::string& dir) {
  broker::BrokerOptions o;
  o.node_id = node;
  o.listen_address = Address(port);
  o.database_path = dir + "/" + node + ".db";
  o.ca_certificate = PkiPath("ca.crt");
  o.node_certificate = PkiPath(node + "/node.crt");
  o.node_key = PkiPath(node + "/node.key");
  o.encryption_keys = {{PkiPath(node + "/enc.key"), PkiPath(node + "/enc.crt")}};
  o.encryption_certificates_dir = PkiPath("enc");
  o.key_encryption_key = PkiPath(node + "/kek.hex");
  o.relays = {"nvn"};
  o.relay = node == "nvn";
  o.initial_backoff = absl::Milliseconds(50);
  o.max_backoff = absl::Milliseconds(500);
  o.rpc_timeout = absl::Seconds(5);
  return o;
}

std::string CopyEncryptionCertificates(const std::string& dir, const std::string& skip) {
  const std::string certs = dir + "/enc";
  std::filesystem::create_directory(certs);
  for (const auto& entry : std::filesystem::directory_iterator(PkiPath("enc"))) {
    if (entry.path().filename() == skip) continue;
    std::filesystem::copy_file(entry.path(), certs + "/" + entry.path().filename().string());
  }
  return certs;
}

std::unique_ptr<Signer> PkiSigner(const std::string& prefix) {
  auto signer = Signer::FromPemFiles(PkiPath(prefix + ".key"), PkiPath(prefix + ".crt"));
  EXPECT_TRUE(signer.ok()) << signer.status();
  return signer.ok() ? std::move(*signer) : nullptr;
}

namespace {
v1::EnvelopeHeader Header(v1::MessageKind kind, const std::string& referral_id,
                          const std::string& recipient, uint64_t sequence) {
  v1::EnvelopeHeader h;
  h.set_message_id(NewUuid());
  h.set_kind(kind);
  h.set_recipient_node(recipient);
  *h.mutable_created_at() = broker::ToProtoTime(absl::Now());
  h.set_referral_id(referral_id);
  h.set_sequence(sequence);
  return h;
}
}  // namespace

std::string TestReferralKey(const std::string& referral_id) {
  return Sha256(absl::StrCat("mir test referral key:", referral_id));
}

void SealForTest(v1::Referral& referral) {
  const std::string nonce =
      Sha256(absl::StrCat("mir test nonce:", referral.referral_id())).substr(0, kSealNonceBytes);
  absl::Status sealed =
      SealReferral(referral, SecretKey(TestReferralKey(referral.referral_id())), nonce);
  EXPECT_TRUE(sealed.ok()) << sealed;
}

std::string SignReferral(const Signer& op, const std::string& referral_id,
                         const std::string& destination, v1::Urgency urgency) {
  v1::Referral r;  // fictional
  r.set_referral_id(referral_id);
  r.set_origin_node(op.identity().node);
  r.set_destination_node(destination);
  r.set_person_code("TEST-" + referral_id.substr(0, 8));
  r.set_urgency(urgency);
  r.set_danger_level(v1::DANGER_LEVEL_MEDIUM);
  r.add_requested_services(v1::SERVICE_SECOND_RECEPTION);
  r.mutable_consent()->set_given(true);
  r.mutable_consent()->set_method(v1::CONSENT_WRITTEN);
  SealForTest(r);
  return *op.SignEnvelope(Header(v1::REFERRAL, referral_id, destination, 1), r.SerializeAsString());
}

std::string SignTransition(const Signer& author, const std::string& referral_id,
                           v1::ReferralState to_state, const std::string& recipient,
                           uint64_t sequence) {
  if (to_state == v1::PLACEMENT_CONFIRMED) {
    v1::PlacementConfirmation c;
    c.set_referral_id(referral_id);
    c.set_project_ref("PRJ-TEST");
    *c.mutable_taken_in_charge_at() = broker::ToProtoTime(absl::Now());
    return *author.SignEnvelope(
        Header(v1::PLACEMENT_CONFIRMATION, referral_id, recipient, sequence),
        c.SerializeAsString());
  }
  v1::StatusChange c;
  c.set_referral_id(referral_id);
  c.set_to_state(to_state);
  if (to_state == v1::REJECTED) c.set_rejection_reason(v1::REJECTION_NO_PLACES);
  if (to_state == v1::CLOSED_NEGATIVE) c.set_closure_reason(v1::CLOSURE_NO_AVAILABILITY);
  if (to_state == v1::WITHDRAWN) c.set_withdrawal_reason(v1::WITHDRAWAL_SOLVED_LOCALLY);
  if (to_state == v1::PLACEMENT_PROPOSED) c.mutable_placement()->set_project_ref("PRJ-TEST");
  return *author.SignEnvelope(Header(v1::STATUS_CHANGE, referral_id, recipient, sequence),
                              c.SerializeAsString());
}

std::string SignForward(const Signer& author, const std::string& referral_id,
                        const std::string& to_node, const std::string& original,
                        const std::vector<std::pair<std::string, uint64_t>>& streams,
                        const std::string& recipient, uint64_t sequence) {
  v1::StatusChange c;
  c.set_referral_id(referral_id);
  c.set_to_state(v1::SUBMITTED);
  v1::Forward* forward = c.mutable_forward();
  forward->set_to_node(to_node);
  forward->set_referral_envelope(original);
  for (const auto& [node, last] : streams) {
    v1::StreamPosition* position = forward->add_streams();
    position->set_sender_node(node);
    position->set_last_sequence(last);
  }
  return *author.SignEnvelope(Header(v1::STATUS_CHANGE, referral_id, recipient, sequence),
                              c.SerializeAsString());
}

uint64_t NextSequence(storage::Store& store, const std::string& referral_id,
                      const std::string& node) {
  uint64_t next = 0;
  absl::Status s = store.Transact([&](storage::Txn& txn) -> absl::Status {
    auto n = txn.NextSequence(referral_id, node);
    if (!n.ok()) return n.status();
    next = *n;
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return next;
}

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time until = absl::Now() + timeout;
  while (absl::Now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

v1::ReferralState StateAt(storage::Store& store, const std::string& referral_id) {
  auto r = store.GetReferral(referral_id);
  return r.ok() && r->has_value() ? (*r)->state : v1::REFERRAL_STATE_UNSPECIFIED;
}

int OutboxCount(storage::Store& store, storage::OutboxState state) {
  auto entries = store.ListOutbox(state, 1 << 20);
  return entries.ok() ? static_cast<int>(entries->size()) : -1;
}

ExchangeClient::ExchangeClient(int port, const std::string& prefix, const std::string& ca) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadPkiFile(ca);
  tls.pem_cert_chain = ReadPkiFile(prefix + ".crt");
  tls.pem_private_key = ReadPkiFile(prefix + ".key");
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  channel_ = grpc::CreateCustomChannel(Address(port), grpc::SslCredentials(tls), args);
  stub_ = v1::Exchange::NewStub(channel_);
}

absl::StatusOr<std::string> ExchangeClient::Deliver(const std::string& envelope) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::DeliverRequest request;
  request.set_envelope(envelope);
  v1::DeliverResponse response;
  grpc::Status status = stub_->Deliver(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response.receipt();
}

absl::StatusOr<v1::DeliverBatchResponse> ExchangeClient::DeliverBatch(
    const std::vector<std::string>& envelopes) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::DeliverBatchRequest request;
  for (const std::string& envelope : envelopes) request.add_envelopes(envelope);
  v1::DeliverBatchResponse response;
  grpc::Status status = stub_->DeliverBatch(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

class ReceiptingPeer::Service final : public v1::Exchange::Service {
 public:
  explicit Service(const std::string& node) : signer_(PkiSigner(node + "/node")) {}

  grpc::Status Deliver(grpc::ServerContext* context, const v1::DeliverRequest* request,
                       v1::DeliverResponse* response) override {
    auto peer = broker::PeerIdentity(*context);
    if (!peer.ok()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "who are you");
    v1::Envelope envelope;
    v1::EnvelopeHeader header;
    if (!envelope.ParseFromString(request->envelope()) ||
        !header.ParseFromString(envelope.header())) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not an envelope");
    }
    {
      absl::MutexLock lock(&mu);
      ++calls;
      ++waiting;
      auto open = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu) { return is_open; };
      mu.Await(absl::Condition(&open));
      --waiting;
      received.push_back(header.message_id());
    }
    auto receipt = SignReceipt(
        *signer_, {header.message_id(), Sha256(request->envelope()), peer->node}, absl::Now());
    if (!receipt.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "cannot sign");
    response->set_receipt(*receipt);
    return grpc::Status::OK;
  }

  mutable absl::Mutex mu;
  bool is_open ABSL_GUARDED_BY(mu) = true;
  int calls ABSL_GUARDED_BY(mu) = 0;
  int waiting ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::string> received ABSL_GUARDED_BY(mu);

 private:
  const std::unique_ptr<Signer> signer_;
};

ReceiptingPeer::ReceiptingPeer(const std::string& node, int port)
    : service_(std::make_unique<Service>(node)) {
  auto credentials = broker::MutualTlsServerCredentials(
      {PkiPath("ca.crt"), PkiPath(node + "/node.crt"), PkiPath(node + "/node.key")});
  grpc::ServerBuilder builder;
  builder.AddListeningPort(Address(port), *credentials);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
}

ReceiptingPeer::~ReceiptingPeer() {
  Open();
  server_->Shutdown();
}

void ReceiptingPeer::Close() {
  absl::MutexLock lock(&service_->mu);
  service_->is_open = false;
}

void ReceiptingPeer::Open() {
  absl::MutexLock lock(&service_->mu);
  service_->is_open = true;
}

std::vector<std::string> ReceiptingPeer::received() const {
  absl::MutexLock lock(&service_->mu);
  return service_->received;
}

int ReceiptingPeer::calls() const {
  absl::MutexLock lock(&service_->mu);
  return service_->calls;
}

int ReceiptingPeer::waiting() const {
  absl::MutexLock lock(&service_->mu);
  return service_->waiting;
}

std::unique_ptr<v1::Exchange::Stub> PlaintextStub(int port) {
  return v1::Exchange::NewStub(
      grpc::CreateChannel(Address(port), grpc::InsecureChannelCredentials()));
}

}  // namespace mir::testing
