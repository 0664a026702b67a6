// Hostile clients against a running broker (RELIABILITY.md): each is refused
// with its reason, changes nothing, and a legitimate node keeps being served
// meanwhile. Complements exchange_test.cc (RefusalsCarryTheirReasonAndChangeNothing:
// tampered, another node's message, operator certificate as a node, no route,
// malformed bytes, other-CA node certificate, plaintext; and
// SizeLimitAcceptsAtTheLimitAndRefusesOneByteOver).

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "broker/envelope_events.h"
#include "broker/stored_bodies.h"
#include "broker/tls.h"
#include "common/grpc_status.h"
#include "crypto/envelope_bytes.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/server_builder.h"
#include "mir/v1/referrals.grpc.pb.h"
#include "tests/broker/network_fixture.h"
#include "tests/broker/staff_client.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;

// A TLS channel of its own to `port`, trusting the test CA, presenting the
// PKI certificate `prefix`, or no certificate when `prefix` is empty.
std::shared_ptr<grpc::Channel> TlsChannel(int port, const std::string& prefix,
                                          grpc::ChannelArguments args = {}) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadPkiFile("ca.crt");
  if (!prefix.empty()) {
    tls.pem_cert_chain = ReadPkiFile(prefix + ".crt");
    tls.pem_private_key = ReadPkiFile(prefix + ".key");
  }
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(Address(port), grpc::SslCredentials(tls), args);
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(10)) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

absl::Status Deliver(v1::Exchange::Stub& stub, const std::string& envelope,
                     grpc::ClientContext* context = nullptr) {
  auto own = Context();
  v1::DeliverRequest request;
  request.set_envelope(envelope);
  v1::DeliverResponse response;
  return FromGrpcStatus(stub.Deliver(context ? context : own.get(), request, &response));
}

absl::Status List(v1::Referrals::Stub& stub) {
  auto context = Context();
  v1::ListResponse response;
  return FromGrpcStatus(stub.List(context.get(), v1::ListRequest(), &response));
}

absl::Status Submit(v1::Referrals::Stub& stub, const std::string& envelope) {
  auto context = Context();
  v1::SubmitRequest request;
  request.add_envelopes(envelope);
  auto header = broker::StoredHeader(envelope);
  if (header.has_value() && header->kind() == v1::REFERRAL) {
    request.set_referral_key(TestReferralKey(header->referral_id()));
  }
  v1::SubmitResponse response;
  return FromGrpcStatus(stub.Submit(context.get(), request, &response));
}

v1::Referral FictionalReferral(const std::string& id, const std::string& origin,
                               const std::string& destination, size_t notes = 0) {
  v1::Referral r;
  r.set_referral_id(id);
  r.set_origin_node(origin);
  r.set_destination_node(destination);
  r.set_person_code("TEST-" + id.substr(0, 8));
  r.set_urgency(v1::URGENCY_ORDINARY);
  r.set_danger_level(v1::DANGER_LEVEL_MEDIUM);
  r.add_requested_services(v1::SERVICE_SECOND_RECEPTION);
  r.mutable_consent()->set_given(true);
  r.mutable_consent()->set_method(v1::CONSENT_WRITTEN);
  r.set_notes(std::string(notes, 'n'));
  SealForTest(r);
  return r;
}

v1::EnvelopeHeader ReferralHeader(const std::string& id, const std::string& sender,
                                  const std::string& author, const std::string& recipient,
                                  absl::Time created_at = absl::Now()) {
  v1::EnvelopeHeader h;
  h.set_message_id(NewUuid());
  h.set_kind(v1::REFERRAL);
  h.set_sender_node(sender);
  h.set_recipient_node(recipient);
  h.set_author(author);
  *h.mutable_created_at() = broker::ToProtoTime(created_at);
  h.set_referral_id(id);
  h.set_sequence(1);
  return h;
}

// Signs `header` and `body` with `signer` exactly as given: unlike
// Signer::SignEnvelope, nothing in the header is set from the signer, so a
// header can claim whatever an attacker wants while the signature verifies.
std::string SignAsIs(const Signer& signer, const v1::EnvelopeHeader& header,
                     const std::string& body) {
  const std::string header_bytes = header.SerializeAsString();
  v1::Envelope e;
  e.set_header(header_bytes);
  e.set_body(body);
  e.mutable_signature()->set_algorithm(v1::ED25519);
  e.mutable_signature()->set_certificate(signer.certificate_der());
  e.mutable_signature()->set_value(*signer.Sign(SignedBytes(header_bytes, body)));
  return e.SerializeAsString();
}

class HostileClientTest : public NetworkTest {
 protected:
  // The legitimate client: toscana's node delivering one of its operator's
  // referrals to nvn. Returns its status, and checks it took effect.
  absl::Status LegitimateDelivery() {
    auto op = PkiSigner("toscana/operator");
    const std::string id = NewUuid();
    ExchangeClient toscana(ports_["nvn"], "toscana/node");
    absl::Status s = toscana.Deliver(SignReferral(*op, id, "nvn")).status();
    if (s.ok() && StateAt(Store("nvn"), id) != v1::RECEIVED) {
      return absl::InternalError("delivered but not applied");
    }
    return s;
  }
  int ReferralsAt(const std::string& node) {
    auto all = Store(node).ListReferrals(0);
    return all.ok() ? static_cast<int>(all->size()) : -1;
  }
};

// A TLS handshake with anything but a valid certificate of this network
// fails: no handler runs, the client sees UNAVAILABLE.
TEST_F(HostileClientTest, CertificatesOutsideTheNetworkNeverReachAHandler) {
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");
  struct Case {
    std::string name;
    std::string prefix;  // client certificate; "" none; "plaintext" no TLS at all
  };
  const std::vector<Case> cases = {
      {"plaintext", "plaintext"},
      {"TLS without a client certificate", ""},
      {"expired node certificate", "test/expired-node"},
      {"not yet valid node certificate", "test/not-yet-valid-node"},
      {"expired operator certificate", "test/expired"},
      {"not yet valid operator certificate", "test/not-yet-valid"},
      {"operator certificate from another CA", "test/other-ca-operator"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto channel = c.prefix == "plaintext" ? grpc::CreateChannel(Address(ports_["nvn"]),
                                                                 grpc::InsecureChannelCredentials())
                                           : TlsChannel(ports_["nvn"], c.prefix);
    auto exchange = v1::Exchange::NewStub(channel);
    auto referrals = v1::Referrals::NewStub(channel);
    EXPECT_THAT(Deliver(*exchange, SignReferral(*op, NewUuid(), "nvn")),
                StatusIs(StatusCode::kUnavailable));
    EXPECT_THAT(List(*referrals), StatusIs(StatusCode::kUnavailable));
    EXPECT_OK(LegitimateDelivery());
  }
  EXPECT_EQ(ReferralsAt("nvn"), static_cast<int>(cases.size()));  // the legitimate ones only
}

// Certificates that chain to the network CA but give no right to what is
// asked: refused by the handler with a reason, nothing changes.
TEST_F(HostileClientTest, NetworkCertificatesWithoutTheRightAreRefusedWithAReason) {
  ASSERT_TRUE(StartNode("nvn"));
  auto toscana_op = PkiSigner("toscana/operator");
  auto veneto_op = PkiSigner("test/unknown-operator");
  struct Case {
    std::string name;
    std::string prefix;
    bool exchange;         // Exchange.Deliver, else Referrals.List
    std::string envelope;  // for Deliver
    StatusCode code;
    v1::ErrorReason reason;
  };
  const std::vector<Case> cases = {
      {"wrong role (auditor) delivering", "test/wrong-role", true,
       SignReferral(*toscana_op, NewUuid(), "nvn"), StatusCode::kUnauthenticated,
       v1::ROLE_NOT_ALLOWED},
      {"wrong role (auditor) using the staff API", "test/wrong-role", false, "",
       StatusCode::kUnauthenticated, v1::ROLE_NOT_ALLOWED},
      {"unknown node delivering another node's referral", "test/unknown-node", true,
       SignReferral(*toscana_op, NewUuid(), "nvn"), StatusCode::kPermissionDenied,
       v1::PEER_MISMATCH},
      // Signed end to end by a veneto operator: verifiable, but no node here
      // knows a route to veneto, so it cannot even be acknowledged.
      {"unknown node delivering its own referral", "test/unknown-node", true,
       SignReferral(*veneto_op, NewUuid(), "nvn"), StatusCode::kNotFound, v1::UNKNOWN_NODE},
      {"unknown node's operator using the staff API", "test/unknown-operator", false, "",
       StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH},
      {"another node's operator using the staff API", "toscana/operator", false, "",
       StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto channel = TlsChannel(ports_["nvn"], c.prefix);
    absl::Status s = c.exchange ? Deliver(*v1::Exchange::NewStub(channel), c.envelope)
                                : List(*v1::Referrals::NewStub(channel));
    EXPECT_THAT(s, StatusIsReason(c.code, c.reason));
    EXPECT_OK(LegitimateDelivery());
  }
  EXPECT_EQ(ReferralsAt("nvn"), static_cast<int>(cases.size()));
}

// A valid node whose envelope's header claims another identity. The
// signature verifies (the attacker signs with its own key), so only the
// identity checks stand between it and the store; and metadata on the call
// carries no weight at all.
TEST_F(HostileClientTest, ClaimingAnotherIdentityInTheHeaderIsRefused) {
  ASSERT_TRUE(StartNode("nvn"));
  auto toscana_op = PkiSigner("toscana/operator");
  auto toscana_node = PkiSigner("toscana/node");
  auto lombardia_op = PkiSigner("lombardia/operator");
  auto body = [](const std::string& id, const std::string& origin) {
    return FictionalReferral(id, origin, "nvn").SerializeAsString();
  };
  const std::string a = NewUuid(), b = NewUuid(), c = NewUuid(), d = NewUuid();
  v1::StatusChange closure;
  closure.set_referral_id(c);
  closure.set_to_state(v1::CLOSED_NEGATIVE);
  closure.set_closure_reason(v1::CLOSURE_NO_AVAILABILITY);
  v1::EnvelopeHeader as_national = ReferralHeader(c, "nvn", "mir://nvn/node", "lombardia");
  as_national.set_kind(v1::STATUS_CHANGE);
  struct Case {
    std::string name;
    std::string envelope;
    std::vector<std::pair<std::string, std::string>> metadata;
    StatusCode code;
    v1::ErrorReason reason;
  };
  const std::vector<Case> cases = {
      {"author and sender claim another node's operator",
       SignAsIs(*toscana_op, ReferralHeader(a, "lombardia", "mir://lombardia/operator/op1", "nvn"),
                body(a, "lombardia")),
       {},
       StatusCode::kPermissionDenied,
       v1::IDENTITY_MISMATCH},
      {"true author, sender_node of another node",
       SignAsIs(*toscana_op, ReferralHeader(b, "lombardia", "mir://toscana/operator/op1", "nvn"),
                body(b, "lombardia")),
       {},
       StatusCode::kPermissionDenied,
       v1::IDENTITY_MISMATCH},
      {"a regional node signing as the national node",
       SignAsIs(*toscana_node, as_national, closure.SerializeAsString()),
       {},
       StatusCode::kPermissionDenied,
       v1::IDENTITY_MISMATCH},
      {"another node's genuine envelope, with metadata naming that node",
       SignReferral(*lombardia_op, d, "nvn"),
       {{"mir-node", "lombardia"}, {"x-mir-peer", "mir://lombardia/node"}},
       StatusCode::kPermissionDenied,
       v1::PEER_MISMATCH},
  };
  auto stub = v1::Exchange::NewStub(TlsChannel(ports_["nvn"], "toscana/node"));
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    auto context = Context();
    for (const auto& [key, value] : k.metadata) context->AddMetadata(key, value);
    EXPECT_THAT(Deliver(*stub, k.envelope, context.get()), StatusIsReason(k.code, k.reason));
    EXPECT_OK(LegitimateDelivery());
  }
  for (const std::string& id : {a, b, c, d}) {
    EXPECT_EQ(StateAt(Store("nvn"), id), v1::REFERRAL_STATE_UNSPECIFIED);
  }
}

// The same envelope again, before and after the receiver restarts and over
// a new connection: the original receipt, byte for byte, and no second
// effect. A staff submission replayed is refused and changes nothing.
TEST_F(HostileClientTest, ReplayGetsTheOriginalReceiptAndNoSecondEffectAcrossARestart) {
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");
  const std::string id = NewUuid();
  const std::string envelope = SignReferral(*op, id, "nvn");
  auto first = ExchangeClient(ports_["nvn"], "toscana/node").Deliver(envelope);
  ASSERT_OK(first);
  auto effects = [&] {
    auto timeline = Store("nvn").Timeline(id);
    auto outbox = Store("nvn").OutboxForReferral(id);
    return std::pair<size_t, size_t>(timeline.ok() ? timeline->size() : 0,
                                     outbox.ok() ? outbox->size() : 0);
  };
  const auto once = effects();
  EXPECT_EQ(once, (std::pair<size_t, size_t>(2, 1)));  // SUBMITTED, RECEIVED; one ack queued

  auto again = ExchangeClient(ports_["nvn"], "toscana/node").Deliver(envelope);
  ASSERT_OK(again);
  EXPECT_EQ(*again, *first);
  StopNode("nvn");
  ASSERT_TRUE(StartNode("nvn"));
  for (int i = 0; i < 3; ++i) {
    auto after_restart = ExchangeClient(ports_["nvn"], "toscana/node").Deliver(envelope);
    ASSERT_OK(after_restart);
    EXPECT_EQ(*after_restart, *first);
  }
  EXPECT_EQ(effects(), once);

  // The staff API: the same signed submission twice gets the first answer.
  ASSERT_TRUE(StartNode("toscana"));
  StaffClient anna(ports_["toscana"], "toscana/operator");
  auto submitted = anna.SubmitReferral("lombardia");
  ASSERT_OK(submitted);
  const std::vector<std::string> signed_envelopes = anna.last_signed();
  auto before = Store("toscana").OutboxForReferral(*submitted);
  ASSERT_OK(before);
  v1::SubmitRequest replay;
  for (const std::string& e : signed_envelopes) replay.add_envelopes(e);
  replay.set_referral_key(TestReferralKey(*submitted));
  auto context = Context();
  v1::SubmitResponse response;
  ASSERT_OK(FromGrpcStatus(anna.stub().Submit(context.get(), replay, &response)));
  EXPECT_EQ(response.referral_id(), *submitted);
  EXPECT_EQ(response.state(), v1::SUBMITTED);
  EXPECT_EQ(response.message_ids_size(), static_cast<int>(signed_envelopes.size()));
  auto after = Store("toscana").OutboxForReferral(*submitted);
  ASSERT_OK(after);
  EXPECT_EQ(after->size(), before->size());
  auto timeline = Store("toscana").Timeline(*submitted);
  ASSERT_OK(timeline);
  EXPECT_EQ(timeline->front().to_state, v1::SUBMITTED);
  EXPECT_EQ(std::count_if(timeline->begin(), timeline->end(),
                          [](const storage::Event& e) { return e.to_state == v1::SUBMITTED; }),
            1);
  EXPECT_OK(LegitimateDelivery());
}

// created_at further ahead than max_clock_skew (5 minutes) is refused;
// within it, accepted.
TEST_F(HostileClientTest, EnvelopeBeyondTheAllowedClockSkewIsRefused) {
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  auto at = [&](absl::Duration ahead) {
    const std::string id = NewUuid();
    v1::EnvelopeHeader h =
        ReferralHeader(id, "toscana", "mir://toscana/operator/op1", "nvn", absl::Now() + ahead);
    return op->SignEnvelope(h, FictionalReferral(id, "toscana", "nvn").SerializeAsString());
  };
  auto future = at(options_["nvn"].max_clock_skew + absl::Minutes(1));
  ASSERT_OK(future);
  EXPECT_THAT(MIR_STATUS(toscana.Deliver(*future)),
              StatusIsReason(StatusCode::kInvalidArgument, v1::CLOCK_SKEW));
  auto within = at(options_["nvn"].max_clock_skew - absl::Minutes(1));
  ASSERT_OK(within);
  EXPECT_OK(toscana.Deliver(*within));
  EXPECT_EQ(ReferralsAt("nvn"), 1);
  EXPECT_OK(LegitimateDelivery());
}

// Over the size limit at the staff entrance too (Exchange is in
// exchange_test.cc), and far over it at the transport: refused, and the
// broker goes on.
TEST_F(HostileClientTest, OneByteOverTheLimitIsRefusedAtEveryEntrance) {
  auto op = PkiSigner("toscana/operator");
  // One creation time for both: its varint's length varies with the
  // nanoseconds, and the two must differ by the one byte of notes only.
  const absl::Time created = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  auto sign = [&](const std::string& id, size_t notes) {
    v1::EnvelopeHeader h =
        ReferralHeader(id, "toscana", "mir://toscana/operator/op1", "nvn", created);
    return *op->SignEnvelope(h, FictionalReferral(id, "toscana", "nvn", notes).SerializeAsString());
  };
  const std::string at_limit = sign(NewUuid(), 1500);
  const std::string over = sign(NewUuid(), 1501);
  ASSERT_EQ(over.size(), at_limit.size() + 1);
  options_["toscana"].max_envelope_bytes = at_limit.size();
  options_["nvn"].max_envelope_bytes = at_limit.size();
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  StaffClient anna(ports_["toscana"], "toscana/operator");
  EXPECT_THAT(Submit(anna.stub(), over),
              StatusIsReason(StatusCode::kResourceExhausted, v1::MESSAGE_TOO_LARGE));
  EXPECT_OK(Submit(anna.stub(), at_limit));
  // Ten times the limit never reaches the handler: gRPC's own message limit.
  auto exchange = v1::Exchange::NewStub(TlsChannel(ports_["nvn"], "toscana/node"));
  EXPECT_THAT(Deliver(*exchange, std::string(10 * at_limit.size(), 'x')),
              StatusIs(StatusCode::kResourceExhausted));
  EXPECT_OK(LegitimateDelivery());
}

int OpenFds() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

// A thousand TLS connections that connect and then say nothing, all open at
// once: the broker serves a legitimate node meanwhile. With a short
// idle_connection_timeout it closes such connections, so what they hold is
// bounded in time. (Connecting a thousand can take longer than a short idle
// timeout on a slow, sanitized build, so the two are shown in two phases.)
TEST_F(HostileClientTest, AThousandIdleConnectionsAreServedAroundAndClosed) {
  constexpr int kConnections = 1000;
  constexpr int kClosed = 250;
  // Both ends live in this process: two descriptors per connection.
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 8192);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  ASSERT_GE(limit.rlim_cur, 2u * kConnections + 500) << "raise the hard limit of open files";
  auto connect_all = [](std::vector<std::shared_ptr<grpc::Channel>>& channels) {
    for (auto& channel : channels) channel->GetState(/*try_to_connect=*/true);
    int ready = 0;
    for (auto& channel : channels) {
      ready += channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(90)));
    }
    return ready;
  };

  // 1. A thousand at once (the default idle timeout, 5 minutes, keeps them).
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_OK(LegitimateDelivery());
  const int fds_before = OpenFds();
  std::vector<std::shared_ptr<grpc::Channel>> idle;
  for (int i = 0; i < kConnections; ++i) idle.push_back(TlsChannel(ports_["nvn"], "toscana/node"));
  EXPECT_EQ(connect_all(idle), kConnections);
  EXPECT_GE(OpenFds(), 2 * kConnections) << "not all open at once";
  EXPECT_OK(LegitimateDelivery());
  StaffClient national(ports_["nvn"], "nvn/operator");
  EXPECT_OK(national.List(v1::ListRequest()));
  StopNode("nvn");

  // 2. Idle connections are closed by the broker after the idle timeout
  //    (a bounded wait, not a timing), and their descriptors are freed.
  options_["nvn"].idle_connection_timeout = absl::Seconds(2);
  ASSERT_TRUE(StartNode("nvn"));
  idle.resize(kClosed);
  EXPECT_EQ(connect_all(idle), kClosed);
  EXPECT_OK(LegitimateDelivery());
  EXPECT_TRUE(WaitFor(
      [&] {
        for (auto& channel : idle) {
          if (channel->GetState(false) == GRPC_CHANNEL_READY) return false;
        }
        return OpenFds() < fds_before + 50;
      },
      absl::Seconds(60)))
      << OpenFds() << " descriptors open, " << fds_before << " before";
  EXPECT_OK(LegitimateDelivery());
}

// Clients that open streams and never read or never send: Watch streams
// never read while events pile up, calls that send no request, and
// deliveries cancelled mid-flight. The broker bounds each and serves on.
TEST_F(HostileClientTest, StreamsNeverReadOrCancelledDoNotStopService) {
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");

  // 1. Watchers that never read, while more events than a watcher may queue
  //    (1000) happen.
  //    They also announce a tiny HTTP/2 window, as a slow reader does, so
  //    the broker cannot push the backlog into the client's buffers.
  constexpr int kWatchers = 10;
  grpc::ChannelArguments slow_reader;
  slow_reader.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  slow_reader.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto watch_channel = TlsChannel(ports_["nvn"], "nvn/operator", slow_reader);
  auto watch_stub = v1::Referrals::NewStub(watch_channel);
  std::vector<std::unique_ptr<grpc::ClientContext>> watch_contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::WatchEvent>>> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    // A deadline so that a broker that never ends the stream fails the test
    // instead of hanging it.
    watch_contexts.push_back(Context(absl::Seconds(60)));
    watchers.push_back(watch_stub->Watch(watch_contexts.back().get(), v1::WatchRequest()));
    watchers.back()->WaitForInitialMetadata();  // subscribed
  }

  // 2. Calls that start and never send their request: more streams than one
  //    connection may carry at once (max_concurrent_streams).
  auto silent_channel = TlsChannel(ports_["nvn"], "toscana/node");
  grpc::GenericStub silent_stub(silent_channel);
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<grpc::ClientContext>> silent_contexts;
  std::vector<std::unique_ptr<grpc::GenericClientAsyncReaderWriter>> silent_calls;
  const int kSilent = options_["nvn"].max_concurrent_streams + 50;
  for (int i = 0; i < kSilent; ++i) {
    silent_contexts.push_back(std::make_unique<grpc::ClientContext>());
    silent_calls.push_back(
        silent_stub.PrepareCall(silent_contexts.back().get(), "/mir.v1.Exchange/Deliver", &cq));
    silent_calls.back()->StartCall(reinterpret_cast<void*>(static_cast<intptr_t>(i)));
  }

  // 3. Deliveries cancelled as soon as they are sent.
  constexpr int kCancelled = 200;
  auto cancel_stub = v1::Exchange::NewStub(TlsChannel(ports_["nvn"], "toscana/node"));
  struct Cancelled {
    std::string id;
    grpc::ClientContext context;
    v1::DeliverRequest request;
    v1::DeliverResponse response;
  };
  std::vector<std::unique_ptr<Cancelled>> cancelled;
  absl::Mutex done_mu;
  int done = 0;
  for (int i = 0; i < kCancelled; ++i) {
    auto call = std::make_unique<Cancelled>();
    call->id = NewUuid();
    call->request.set_envelope(SignReferral(*op, call->id, "nvn"));
    cancel_stub->async()->Deliver(&call->context, &call->request, &call->response,
                                  [&](grpc::Status) {
                                    absl::MutexLock lock(&done_mu);
                                    ++done;
                                  });
    call->context.TryCancel();
    cancelled.push_back(std::move(call));
  }

  // The legitimate node is served throughout: 600 referrals, 1200 events
  // (SUBMITTED and nvn's RECEIVED each), more than a watcher may queue.
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  for (int i = 0; i < 600; ++i) {
    ASSERT_OK(toscana.Deliver(SignReferral(*op, NewUuid(), "nvn"))) << i;
  }
  StaffClient national(ports_["nvn"], "nvn/operator");
  EXPECT_OK(national.List(v1::ListRequest()));

  // A watcher that fell too far behind is told so when it reads at last,
  // instead of the broker buffering for it without bound.
  v1::WatchEvent event;
  int read = 0;
  while (watchers[0]->Read(&event)) ++read;
  const grpc::Status watch_end = watchers[0]->Finish();
  EXPECT_EQ(watch_end.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << read << " read";
  EXPECT_EQ(ReasonOf(FromGrpcStatus(watch_end)), v1::WATCH_OVERFLOW);  // through the one mapping
  EXPECT_LT(read, 1000) << "the broker buffered more than a watcher may queue";
  for (size_t i = 1; i < watchers.size(); ++i) watch_contexts[i]->TryCancel();
  for (size_t i = 1; i < watchers.size(); ++i) watchers[i]->Finish();

  // A cancelled delivery either took full effect or none.
  {
    absl::MutexLock lock(&done_mu);
    auto all_done = [&]() { return done == kCancelled; };
    done_mu.Await(absl::Condition(&all_done));
  }
  int applied = 0;
  for (const auto& call : cancelled) {
    auto timeline = Store("nvn").Timeline(call->id);
    ASSERT_OK(timeline);
    EXPECT_TRUE(timeline->empty() || timeline->size() == 2u) << timeline->size();
    applied += !timeline->empty();
  }

  for (auto& context : silent_contexts) context->TryCancel();
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  EXPECT_OK(LegitimateDelivery());
  std::cout << "a watcher never read got " << read << " events, then " << watch_end.error_message()
            << "; cancelled deliveries that took effect anyway: " << applied << " of " << kCancelled
            << std::endl;
}

// --- Security findings (issue 14): each probe failed before its fix. ---

// Answers every Deliver and counts it: a server that is not the node it
// claims to be the address of.
class CountingExchange final : public v1::Exchange::Service {
 public:
  grpc::Status Deliver(grpc::ServerContext*, const v1::DeliverRequest*,
                       v1::DeliverResponse*) override {
    ++calls;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "impostor");
  }
  std::atomic<int> calls{0};
};

// A server at nvn's address presenting lombardia's node certificate (valid,
// same CA): toscana's sender refuses it in the handshake, so the referral
// envelope never reaches it, and keeps the envelope pending for the real nvn.
TEST_F(HostileClientTest, AServerWithAnotherNodesCertificateAtAPeersAddressGetsNothing) {
  ReleasePort("nvn");
  CountingExchange impostor;
  auto credentials = broker::MutualTlsServerCredentials(
      {PkiPath("ca.crt"), PkiPath("lombardia/node.crt"), PkiPath("lombardia/node.key")});
  ASSERT_OK(credentials);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(Address(ports_["nvn"]), *credentials);
  builder.RegisterService(&impostor);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(StartNode("toscana"));

  const std::string id = SubmitReferral("nvn");
  // The sender has tried (and failed) at least twice: without the identity
  // check the first attempt would have reached the impostor.
  ASSERT_TRUE(WaitFor([&] {
    auto outbox = Store("toscana").OutboxForReferral(id);
    return outbox.ok() && outbox->size() == 1 && outbox->front().attempts >= 2;
  }));
  EXPECT_EQ(impostor.calls.load(), 0);
  auto outbox = Store("toscana").OutboxForReferral(id);
  ASSERT_OK(outbox);
  EXPECT_EQ(outbox->front().state, storage::OutboxState::kPending);
  server->Shutdown();
}

// Ids are lowercase canonical UUIDs: anything else (a newline that would
// forge a log line, free text, a 200 KB id) is refused before it is logged
// or stored.
TEST_F(HostileClientTest, IdsThatAreNotLowercaseUuidsAreRefused) {
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  const std::string good = NewUuid();
  std::string upper = good;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  struct Case {
    std::string name, message_id, referral_id;
  };
  const std::vector<Case> cases = {
      {"newline in message_id", good + "\n2026-12-04 INFO forged", NewUuid()},
      {"uppercase message_id", upper, NewUuid()},
      {"braces", "{" + good + "}", NewUuid()},
      {"200 KB message_id", std::string(200'000, 'a'), NewUuid()},
      {"free-text referral_id", NewUuid(), "the referral of somebody"},
      {"uppercase referral_id", NewUuid(), upper},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::EnvelopeHeader h = ReferralHeader(c.referral_id, "toscana", op->identity().Uri(), "nvn");
    h.set_message_id(c.message_id);
    const std::string envelope =
        SignAsIs(*op, h, FictionalReferral(c.referral_id, "toscana", "nvn").SerializeAsString());
    EXPECT_THAT(toscana.Deliver(envelope).status(),
                StatusIsReason(StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE));
  }
  EXPECT_EQ(ReferralsAt("nvn"), 0);
  EXPECT_OK(LegitimateDelivery());
}

// What PROTOCOL.md's content rules refuse, each with its reason; nothing
// is stored and the node keeps serving.
TEST_F(HostileClientTest, ContentTheProtocolRefusesIsRefusedWithItsReason) {
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  struct Case {
    std::string name;
    std::function<void(v1::EnvelopeHeader&, v1::Referral&)> mutate;
    StatusCode code;
    v1::ErrorReason reason;
  };
  const std::vector<Case> cases = {
      {"unknown urgency",
       [](auto&, v1::Referral& r) { r.set_urgency(static_cast<v1::Urgency>(99)); },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"unknown need in a list",
       [](auto&, v1::Referral& r) { r.add_needs(static_cast<v1::Need>(1000)); },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"nanos out of range",
       [](auto&, v1::Referral& r) {
         r.mutable_consent()->mutable_given_at()->set_nanos(2'000'000'000);
       },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"a time beyond year 9999",
       [](auto&, v1::Referral& r) { r.mutable_ack_deadline()->set_seconds(253402300800); },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"created_at nanos out of range",
       [](v1::EnvelopeHeader& h, auto&) { h.mutable_created_at()->set_nanos(-1); },
       StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE},
      {"unknown message kind",
       [](v1::EnvelopeHeader& h, auto&) { h.set_kind(static_cast<v1::MessageKind>(77)); },
       StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE},
      {"300,000 entries in a repeated field",
       [](auto&, v1::Referral& r) {
         for (int i = 0; i < 300'000; ++i) r.add_requested_services(v1::SERVICE_LEGAL);
       },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"a 201-byte code", [](auto&, v1::Referral& r) { r.set_person_code(std::string(201, 'p')); },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"a REFERRAL with sequence 2", [](v1::EnvelopeHeader& h, auto&) { h.set_sequence(2); },
       StatusCode::kInvalidArgument, v1::INVALID_FIELD},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string id = NewUuid();
    v1::EnvelopeHeader h = ReferralHeader(id, "toscana", op->identity().Uri(), "nvn");
    v1::Referral r = FictionalReferral(id, "toscana", "nvn");
    c.mutate(h, r);
    EXPECT_THAT(toscana.Deliver(SignAsIs(*op, h, r.SerializeAsString())).status(),
                StatusIsReason(c.code, c.reason));
  }
  // A request that is not a DeliverRequest at all gets a reason too.
  grpc::GenericStub raw(toscana.channel());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::Slice junk(std::string("\x0a\xff\xff\xff\xff", 5));
  grpc::ByteBuffer request(&junk, 1), response;
  absl::Mutex mu;
  std::optional<grpc::Status> answer;
  raw.UnaryCall(&context, "/mir.v1.Exchange/Deliver", grpc::StubOptions(), &request, &response,
                [&](grpc::Status status) {
                  absl::MutexLock lock(&mu);
                  answer = std::move(status);
                });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::optional<grpc::Status>* a) { return a->has_value(); }, &answer));
  }
  EXPECT_THAT(FromGrpcStatus(*answer),
              StatusIsReason(StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE));
  EXPECT_EQ(ReferralsAt("nvn"), 0);
  EXPECT_OK(LegitimateDelivery());
}

// Early messages wait for their predecessors, but only so many per sender
// and referral: the next is refused (RESOURCE_EXHAUSTED, so its sender
// retries it later) and what is held stays as it was.
TEST_F(HostileClientTest, EarlyMessagesHeldPerStreamAreBounded) {
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  const std::string id = NewUuid();
  ASSERT_OK(toscana.Deliver(SignReferral(*op, id, "nvn")));
  // Sequence 2 never comes; 3, 4, … are early.
  for (int i = 0; i < storage::kMaxHeldPerStream; ++i) {
    ASSERT_OK(toscana.Deliver(SignTransition(*op, id, v1::WITHDRAWN, "nvn", 3 + i)));
  }
  EXPECT_THAT(
      toscana.Deliver(SignTransition(*op, id, v1::WITHDRAWN, "nvn", 3 + storage::kMaxHeldPerStream))
          .status(),
      StatusIsReason(StatusCode::kResourceExhausted, v1::TOO_MANY_HELD));
  EXPECT_EQ(StateAt(Store("nvn"), id), v1::RECEIVED);
  EXPECT_OK(LegitimateDelivery());
}

// The data folder is 0700 and the database, WAL and shm files 0600 whatever
// the umask; a folder that others can read is refused with a sentence.
TEST_F(HostileClientTest, DataFilesAreForTheNodeAloneWhateverTheUmask) {
  const mode_t old_umask = umask(0);
  const std::string folder = dir_ + "/nvn-data";
  options_["nvn"].database_path = folder + "/nvn.db";
  ASSERT_TRUE(StartNode("nvn"));
  EXPECT_OK(LegitimateDelivery());  // the WAL and shm now exist
  umask(old_umask);
  auto mode = [](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
  };
  EXPECT_EQ(mode(folder), 0700);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    SCOPED_TRACE(suffix);
    EXPECT_EQ(mode(folder + "/nvn.db" + suffix), 0600);
  }
  StopNode("nvn");

  // A folder others can read: the node does not start, and says why.
  ASSERT_EQ(chmod(folder.c_str(), 0755), 0);
  auto refused = broker::Broker::Start(options_["nvn"], clock_);
  EXPECT_THAT(refused.status(), StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_THAT(refused.status().message(), ::testing::HasSubstr("chmod 700 " + folder));
  // Files an older version left readable are tightened on the next start.
  ASSERT_EQ(chmod(folder.c_str(), 0700), 0);
  ASSERT_EQ(chmod((folder + "/nvn.db").c_str(), 0644), 0);
  ASSERT_TRUE(StartNode("nvn"));
  EXPECT_EQ(mode(folder + "/nvn.db"), 0600);
}

}  // namespace
}  // namespace mir::testing
