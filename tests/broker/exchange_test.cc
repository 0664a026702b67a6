// Node to node over real loopback mutual TLS, with real SQLite files.

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "broker/tls.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/server_builder.h"
#include "tests/broker/network_fixture.h"
#include "tests/testing/enc_cert.h"

namespace mir::testing {
namespace {

TEST_F(NetworkTest, TwoNodesDeliverWithVerifiedReceiptsBothWays) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  const std::string id = SubmitReferral("nvn");
  EXPECT_EQ(StateAt(Store("toscana"), id), v1::SUBMITTED);

  // nvn took it in and acknowledged it; the RECEIVED event came back.
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), id) == v1::RECEIVED; }));
  EXPECT_EQ(StateAt(Store("nvn"), id), v1::RECEIVED);
  ASSERT_TRUE(
      WaitFor([&] { return OutboxCount(Store("nvn"), storage::OutboxState::kDelivered) == 1; }));

  // toscana holds nvn's receipt for the exact bytes it sent, and it verifies.
  auto sent = Store("toscana").ListOutbox(storage::OutboxState::kDelivered, 10);
  ASSERT_OK(sent);
  ASSERT_EQ(sent->size(), 1u);
  EXPECT_OK(VerifyReceipt(NodeAt("toscana").verifier(), (*sent)[0].receipt, "nvn",
                          (*sent)[0].message_id, Sha256((*sent)[0].envelope)));
  // Both ends hold the same history.
  auto at_toscana = Store("toscana").Timeline(id);
  auto at_nvn = Store("nvn").Timeline(id);
  ASSERT_OK(at_toscana);
  ASSERT_OK(at_nvn);
  ASSERT_EQ(at_toscana->size(), 2u);
  ASSERT_EQ(at_nvn->size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ((*at_toscana)[i].message_id, (*at_nvn)[i].message_id);
}

TEST_F(NetworkTest, ThreeNodesRouteThroughTheNationalNodeEndToEnd) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  ASSERT_TRUE(StartNode("lombardia"));
  const std::string id = SubmitReferral("lombardia");
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), id) == v1::RECEIVED; }));
  EXPECT_EQ(StateAt(Store("lombardia"), id), v1::RECEIVED);
  // nvn relayed without applying: it holds no referral of its own.
  EXPECT_EQ(StateAt(Store("nvn"), id), v1::REFERRAL_STATE_UNSPECIFIED);

  // Status changes and the placement confirmation travel back the same way,
  // each verified at the far end against its author's signature.
  Transition("lombardia/operator", id, v1::UNDER_EVALUATION, "toscana");
  // A partner acts only on referrals its node circulated to it.
  ASSERT_OK(Store("lombardia").Transact([&](storage::Txn& txn) {
    return txn.GrantPartnerAccess(id, "mir://lombardia/partner/shelter1");
  }));
  Transition("lombardia/partner", id, v1::PLACEMENT_PROPOSED, "toscana");
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), id) == v1::PLACEMENT_PROPOSED; }));
  Transition("toscana/operator", id, v1::PLACEMENT_ACCEPTED, "lombardia");
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("lombardia"), id) == v1::PLACEMENT_ACCEPTED; }));
  Transition("lombardia/operator", id, v1::TRANSFER_SCHEDULED, "toscana");
  Transition("lombardia/partner", id, v1::PLACEMENT_CONFIRMED, "toscana");
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), id) == v1::PLACEMENT_CONFIRMED; }));
  auto timeline = Store("toscana").Timeline(id);
  ASSERT_OK(timeline);
  EXPECT_EQ(timeline->size(), 7u);  // SUBMITTED ... PLACEMENT_CONFIRMED
  EXPECT_EQ(timeline->back().actor.Uri(), "mir://lombardia/partner/shelter1");
}

TEST_F(NetworkTest, PeerDownForAWhileThenBackGetsEverythingOnce) {
  ASSERT_TRUE(StartNode("toscana"));  // nvn is down
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(SubmitReferral("nvn"));
  // Attempts fail and are retried with backoff; nothing is lost meanwhile.
  ASSERT_TRUE(WaitFor([&] {
    auto pending = Store("toscana").ListOutbox(storage::OutboxState::kPending, 100);
    return pending.ok() && pending->size() == 20 && (*pending)[0].attempts >= 2;
  }));
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(WaitFor(
      [&] { return OutboxCount(Store("toscana"), storage::OutboxState::kDelivered) == 20; }));
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), id) == v1::RECEIVED; }));
    auto timeline = Store("nvn").Timeline(id);
    ASSERT_OK(timeline);
    EXPECT_EQ(timeline->size(), 2u) << "one SUBMITTED and one RECEIVED, nothing twice";
  }
  auto referrals = Store("nvn").ListReferrals(100);
  ASSERT_OK(referrals);
  EXPECT_EQ(referrals->size(), 20u);
}

TEST_F(NetworkTest, SameEnvelopeDeliveredTwiceGivesTheSameReceiptAndOneEffect) {
  ASSERT_TRUE(StartNode("nvn"));
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  auto op = PkiSigner("toscana/operator");
  const std::string id = NewUuid();
  const std::string envelope = SignReferral(*op, id, "nvn");
  auto first = toscana.Deliver(envelope);
  ASSERT_OK(first);
  auto second = toscana.Deliver(envelope);
  ASSERT_OK(second);
  EXPECT_EQ(*first, *second);
  auto timeline = Store("nvn").Timeline(id);
  ASSERT_OK(timeline);
  EXPECT_EQ(timeline->size(), 2u);  // SUBMITTED + nvn's own RECEIVED, once
  EXPECT_EQ(OutboxCount(Store("nvn"), storage::OutboxState::kPending) +
                OutboxCount(Store("nvn"), storage::OutboxState::kDelivered) +
                OutboxCount(Store("nvn"), storage::OutboxState::kDead),
            1);

  // Same message id with other bytes: refused, nothing changes.
  v1::Envelope altered;
  altered.ParseFromString(envelope);
  v1::Referral body;
  body.ParseFromString(altered.body());
  body.set_danger_level(v1::DANGER_LEVEL_HIGH);
  v1::EnvelopeHeader header;
  header.ParseFromString(altered.header());
  auto conflicting = op->SignEnvelope(header, body.SerializeAsString());
  ASSERT_OK(conflicting);
  EXPECT_THAT(MIR_STATUS(toscana.Deliver(*conflicting)),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
}

TEST_F(NetworkTest, RefusalsCarryTheirReasonAndChangeNothing) {
  options_["nvn"].max_envelope_bytes = 4096;
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");
  auto lombardia_op = PkiSigner("lombardia/operator");

  auto tampered = [&] {
    std::string e = SignReferral(*op, NewUuid(), "nvn");
    e.back() ^= 1;  // last byte: the signature value
    return e;
  }();
  struct Case {
    std::string name;
    std::string client_cert;  // PKI prefix the caller presents
    std::string envelope;
    absl::StatusCode code;
    v1::ErrorReason reason;
  };
  std::vector<Case> cases = {
      {"tampered envelope", "toscana/node", tampered, absl::StatusCode::kUnauthenticated,
       v1::BAD_SIGNATURE},
      {"node delivering another node's message", "toscana/node",
       SignReferral(*lombardia_op, NewUuid(), "nvn"), absl::StatusCode::kPermissionDenied,
       v1::PEER_MISMATCH},
      {"operator certificate used as a node", "toscana/operator",
       SignReferral(*op, NewUuid(), "nvn"), absl::StatusCode::kPermissionDenied, v1::PEER_MISMATCH},
      {"message for a node with no route", "toscana/node", SignReferral(*op, NewUuid(), "veneto"),
       absl::StatusCode::kNotFound, v1::UNKNOWN_NODE},
      {"malformed envelope bytes", "toscana/node", "\x0a\xff\xff",
       absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExchangeClient client(ports_["nvn"], c.client_cert);
    EXPECT_THAT(MIR_STATUS(client.Deliver(c.envelope)), StatusIsReason(c.code, c.reason));
  }
  auto referrals = Store("nvn").ListReferrals(10);
  ASSERT_OK(referrals);
  EXPECT_TRUE(referrals->empty());

  // A certificate from another CA, or none at all, never reaches a handler.
  ExchangeClient other_ca(ports_["nvn"], "test/other-ca-node");
  EXPECT_THAT(MIR_STATUS(other_ca.Deliver(SignReferral(*op, NewUuid(), "nvn"))),
              StatusIs(absl::StatusCode::kUnavailable));
  auto plaintext = PlaintextStub(ports_["nvn"]);
  grpc::ClientContext context;
  // A bound against a hang: the refusal comes at once, and a deadline passed
  // first would answer DEADLINE_EXCEEDED instead.
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::DeliverRequest request;
  request.set_envelope(SignReferral(*op, NewUuid(), "nvn"));
  v1::DeliverResponse response;
  EXPECT_EQ(plaintext->Deliver(&context, request, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // The broker kept serving a legitimate node throughout.
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  EXPECT_OK(toscana.Deliver(SignReferral(*op, NewUuid(), "nvn")));
}

TEST_F(NetworkTest, SizeLimitAcceptsAtTheLimitAndRefusesOneByteOver) {
  auto op = PkiSigner("toscana/operator");
  // A referral with long sealed notes, so the limit is above the 1 KiB
  // minimum (nvn routes: it checks the sealed part's shape, never opens it).
  v1::Envelope e;
  e.ParseFromString(SignReferral(*op, NewUuid(), "nvn"));
  v1::Referral body;
  body.ParseFromString(e.body());
  body.mutable_sealed()->set_ciphertext(std::string(1500, 'n'));
  v1::EnvelopeHeader header;
  header.ParseFromString(e.header());
  const std::string envelope = *op->SignEnvelope(header, body.SerializeAsString());
  options_["nvn"].max_envelope_bytes = envelope.size();
  ASSERT_TRUE(StartNode("nvn"));
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  EXPECT_OK(toscana.Deliver(envelope));
  // One byte over: the same referral with one more byte in its (signed) body.
  header.set_message_id(NewUuid());
  body.mutable_sealed()->set_ciphertext(std::string(1501, 'n'));
  const std::string bigger = *op->SignEnvelope(header, body.SerializeAsString());
  ASSERT_EQ(bigger.size(), envelope.size() + 1);
  EXPECT_THAT(MIR_STATUS(toscana.Deliver(bigger)),
              StatusIsReason(absl::StatusCode::kResourceExhausted, v1::MESSAGE_TOO_LARGE));
}

TEST_F(NetworkTest, SecondBrokerOnTheSamePortRefusesToStart) {
  ASSERT_TRUE(StartNode("nvn"));
  broker::BrokerOptions twin = options_["nvn"];
  twin.database_path = dir_ + "/twin.db";
  auto second = broker::Broker::Start(twin, RealClock::Get());
  EXPECT_THAT(second.status(), StatusIs(absl::StatusCode::kUnavailable));
}

TEST_F(NetworkTest, RegionDoesNotRelayForOthers) {
  ASSERT_TRUE(StartNode("toscana"));
  ExchangeClient nvn(ports_["toscana"], "nvn/node");
  auto op = PkiSigner("lombardia/operator");
  EXPECT_THAT(MIR_STATUS(nvn.Deliver(SignReferral(*op, NewUuid(), "veneto"))),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::NOT_FOR_THIS_NODE));
}

// toscana sends a referral to lombardia directly, nvn only relays it, and
// lombardia rejects it. nvn, which saw the REFERRAL's bytes pass, cannot
// route it on elsewhere: only a referral addressed to the node that routes
// it is routed on (PROTOCOL.md §10.6), so toscana releases no key.
TEST_F(NetworkTest, ARelayCannotRouteOnAReferralItOnlyPassedAlong) {
  ASSERT_TRUE(LetToscanaSealForVeneto());
  StartAll();
  const std::string id = SubmitReferral("lombardia");
  ASSERT_TRUE(StateIs("toscana", id, v1::RECEIVED));
  Transition("lombardia/operator", id, v1::UNDER_EVALUATION, "toscana");
  Transition("lombardia/operator", id, v1::REJECTED, "toscana");
  ASSERT_TRUE(StateIs("toscana", id, v1::REJECTED));
  std::string original;
  ASSERT_OK(Store("toscana").Read([&](storage::ReadTxn& txn) -> absl::Status {
    auto referral = txn.GetReferral(id);
    if (!referral.ok()) return referral.status();
    if (referral->has_value()) original = (*referral)->referral_envelope;
    return absl::OkStatus();
  }));
  ASSERT_FALSE(original.empty());
  const int queued = OutboxCount(Store("toscana"), storage::OutboxState::kPending) +
                     OutboxCount(Store("toscana"), storage::OutboxState::kDelivered);

  ExchangeClient nvn(ports_["toscana"], "nvn/node");
  auto national = PkiSigner("nvn/operator");
  const std::string redirect = SignForward(*national, id, "veneto", original,
                                           {{"toscana", 1}, {"lombardia", 3}}, "toscana", 1);
  const absl::Status refused = MIR_STATUS(nvn.Deliver(redirect));
  EXPECT_THAT(refused, StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_THAT(std::string(refused.message()),
              ::testing::HasSubstr("addressed to the node that routes it on"));
  EXPECT_EQ(StateAt(Store("toscana"), id), v1::REJECTED);
  EXPECT_EQ(OutboxCount(Store("toscana"), storage::OutboxState::kPending) +
                OutboxCount(Store("toscana"), storage::OutboxState::kDelivered),
            queued);  // no key release to veneto
}

// lombardia never had toscana's referral to nvn. Its operator's rejection,
// signed and delivered by lombardia itself, is refused: only the
// destination or the national node acts for the receiving side.
TEST_F(NetworkTest, ANodeThatIsNotAPartyCannotActOnAReferral) {
  StartAll();
  const std::string id = SubmitReferral("nvn");
  ASSERT_TRUE(StateIs("toscana", id, v1::RECEIVED));
  Transition("nvn/operator", id, v1::UNDER_EVALUATION, "toscana");
  ASSERT_TRUE(StateIs("toscana", id, v1::UNDER_EVALUATION));

  ExchangeClient lombardia(ports_["toscana"], "lombardia/node");
  auto op = PkiSigner("lombardia/operator");
  for (v1::ReferralState to : {v1::REJECTED, v1::INFO_REQUESTED}) {
    SCOPED_TRACE(v1::ReferralState_Name(to));
    const absl::Status refused =
        MIR_STATUS(lombardia.Deliver(SignTransition(*op, id, to, "toscana", 1)));
    EXPECT_THAT(refused,
                StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION));
  }
  EXPECT_EQ(StateAt(Store("toscana"), id), v1::UNDER_EVALUATION);
}

TEST_F(NetworkTest, PermanentRefusalBecomesAVisibleDeadLetterAndCanBeRequeued) {
  // toscana routes everything through nvn, which has no route to veneto:
  // a refusal that no resend can change.
  // toscana can seal for veneto (it has veneto's encryption certificate).
  ASSERT_TRUE(LetToscanaSealForVeneto());
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  auto op = PkiSigner("toscana/operator");
  const std::string id = NewUuid();
  auto submitted = NodeAt("toscana").Submit(op->identity(), SignReferral(*op, id, "veneto"),
                                            TestReferralKey(id));
  ASSERT_OK(submitted);
  // The referral and its key release: both refused for good.
  ASSERT_TRUE(
      WaitFor([&] { return OutboxCount(Store("toscana"), storage::OutboxState::kDead) == 2; }));
  auto dead = Store("toscana").ListOutbox(storage::OutboxState::kDead, 10);
  ASSERT_OK(dead);
  for (const storage::OutboxEntry& entry : *dead) {
    EXPECT_NE(entry.last_error.find("UNKNOWN_NODE"), std::string::npos) << entry.last_error;
  }
  auto moved = Store("toscana").RequeueAllDead();
  ASSERT_OK(moved);
  EXPECT_EQ(*moved, 2);
}

TEST_F(NetworkTest, ShutdownLeavesUndeliveredWorkPendingAndRestartDeliversIt) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::string id = SubmitReferral("nvn");
  StopNode("toscana");
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), id) == v1::RECEIVED; }));
}

TEST_F(NetworkTest, NewWorkWakesTheSenderAtOnce) {
  // With polling effectively off, only the wake-up on enqueue can deliver.
  options_["toscana"].outbox_poll_interval = absl::Hours(24);
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  const std::string first = SubmitReferral("nvn");
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), first) == v1::RECEIVED; }));
  // The sender is idle now; a second submission must wake it.
  const std::string second = SubmitReferral("nvn");
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), second) == v1::RECEIVED; }));
}

// Stands in for nvn's Exchange service: answers each delivery at once with a
// receipt signed by nvn's node key, except those `hold` picks, which it
// answers only on Release().
class HoldingPeer final : public v1::Exchange::CallbackService {
 public:
  using HoldIf = std::function<bool(const v1::EnvelopeHeader&)>;
  explicit HoldingPeer(HoldIf hold) : hold_(std::move(hold)), signer_(PkiSigner("nvn/node")) {}

  grpc::ServerUnaryReactor* Deliver(grpc::CallbackServerContext* context,
                                    const v1::DeliverRequest* request,
                                    v1::DeliverResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    v1::Envelope envelope;
    v1::EnvelopeHeader header;
    if (!envelope.ParseFromString(request->envelope()) ||
        !header.ParseFromString(envelope.header())) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not an envelope"));
      return reactor;
    }
    auto receipt = SignReceipt(
        *signer_, {header.message_id(), Sha256(request->envelope()), "toscana"}, absl::Now());
    if (!receipt.ok()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INTERNAL, "cannot sign"));
      return reactor;
    }
    response->set_receipt(*receipt);
    {
      absl::MutexLock lock(&mu_);
      if (!released_ && hold_(header)) {
        held_.push_back(reactor);
        return reactor;
      }
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  int holding() {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(held_.size());
  }
  void Release() {
    std::vector<grpc::ServerUnaryReactor*> held;
    {
      absl::MutexLock lock(&mu_);
      released_ = true;
      held.swap(held_);
    }
    for (grpc::ServerUnaryReactor* reactor : held) reactor->Finish(grpc::Status::OK);
  }

 private:
  const HoldIf hold_;
  const std::unique_ptr<Signer> signer_;
  absl::Mutex mu_;
  std::vector<grpc::ServerUnaryReactor*> held_ ABSL_GUARDED_BY(mu_);
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

// Serves `peer` on nvn's port with nvn's node certificate; null on failure.
std::unique_ptr<grpc::Server> ServeAsNvn(HoldingPeer* peer, int port) {
  auto credentials = broker::MutualTlsServerCredentials(
      {PkiPath("ca.crt"), PkiPath("nvn/node.crt"), PkiPath("nvn/node.key")});
  if (!credentials.ok()) return nullptr;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(Address(port), *credentials);
  builder.RegisterService(peer);
  return builder.BuildAndStart();
}

TEST_F(NetworkTest, ASlowDeliveryDoesNotHoldUpTheOthersBehindIt) {
  // Two in flight, and a call deadline no test waits for: the envelopes
  // queued behind the held one get through only if each answer frees its slot.
  options_["toscana"].in_flight_per_peer = 2;
  options_["toscana"].rpc_timeout = absl::Hours(1);
  ASSERT_TRUE(StartNode("toscana"));
  auto op = PkiSigner("toscana/operator");
  const std::string slow = NewUuid();

  HoldingPeer peer([&](const v1::EnvelopeHeader& h) { return h.referral_id() == slow; });
  ReleasePort("nvn");
  std::unique_ptr<grpc::Server> server = ServeAsNvn(&peer, ports_["nvn"]);
  ASSERT_NE(server, nullptr);

  ASSERT_OK(NodeAt("toscana").Submit(op->identity(), SignReferral(*op, slow, "nvn"),
                                     TestReferralKey(slow)));
  ASSERT_TRUE(WaitFor([&] { return peer.holding() == 1; }));
  for (int i = 0; i < 6; ++i) SubmitReferral("nvn");
  EXPECT_TRUE(WaitFor([&] {
    return OutboxCount(Store("toscana"), storage::OutboxState::kDelivered) == 6;
  })) << "the envelopes queued behind a held delivery were not sent";
  EXPECT_EQ(peer.holding(), 1);
  EXPECT_EQ(OutboxCount(Store("toscana"), storage::OutboxState::kPending), 1);

  peer.Release();
  EXPECT_TRUE(WaitFor(
      [&] { return OutboxCount(Store("toscana"), storage::OutboxState::kDelivered) == 7; }));
  StopNode("toscana");
  server->Shutdown();
}

TEST_F(NetworkTest, AnEmergencyIsSentWhileABacklogFillsTheWindow) {
  // Four in flight, and a peer that holds every delivery but the emergency's:
  // the backlog fills the window.
  options_["toscana"].in_flight_per_peer = 4;
  options_["toscana"].rpc_timeout = absl::Hours(1);
  ASSERT_TRUE(StartNode("toscana"));
  const std::string emergency = NewUuid();
  const std::string urgent = NewUuid();
  HoldingPeer peer([&](const v1::EnvelopeHeader& h) { return h.referral_id() != emergency; });
  ReleasePort("nvn");
  std::unique_ptr<grpc::Server> server = ServeAsNvn(&peer, ports_["nvn"]);
  ASSERT_NE(server, nullptr);

  for (int i = 0; i < 6; ++i) SubmitReferral("nvn");
  ASSERT_TRUE(WaitFor([&] { return peer.holding() == 4; }));
  SubmitReferral("nvn", v1::URGENCY_URGENT, urgent);
  SubmitReferral("nvn", v1::URGENCY_EMERGENCY_24H, emergency);
  EXPECT_TRUE(WaitFor([&] {
    return OutboxCount(Store("toscana"), storage::OutboxState::kDelivered) == 1;
  })) << "the emergency waited behind the backlog";
  auto sent = Store("toscana").OutboxForReferral(emergency);
  ASSERT_OK(sent);
  ASSERT_EQ(sent->size(), 1u);
  EXPECT_EQ((*sent)[0].state, storage::OutboxState::kDelivered);
  EXPECT_EQ((*sent)[0].urgency, v1::URGENCY_EMERGENCY_24H);
  // The urgent one takes no emergency slot: it waits, first in line.
  EXPECT_EQ(peer.holding(), 4);
  auto next = Store("toscana").DuePending("nvn", absl::InfiniteFuture(), 1);
  ASSERT_OK(next);
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ((*next)[0].urgency, v1::URGENCY_URGENT);

  peer.Release();
  EXPECT_TRUE(WaitFor(
      [&] { return OutboxCount(Store("toscana"), storage::OutboxState::kDelivered) == 8; }));
  StopNode("toscana");
  server->Shutdown();
}

TEST_F(NetworkTest, WhenThePeerAnswersAgainItsBacklogGoesAtOnceMostUrgentFirst) {
  // One at a time, so the order of delivery shows; retries an hour away, so
  // only the first answer after the outage can bring the backlog forward.
  options_["toscana"].in_flight_per_peer = 1;
  options_["toscana"].initial_backoff = absl::Hours(1);
  options_["toscana"].max_backoff = absl::Hours(1);
  ASSERT_TRUE(StartNode("toscana"));
  std::vector<std::string> backlog;
  for (int i = 0; i < 3; ++i) backlog.push_back(SubmitReferral("nvn"));
  auto attempts = [&](const std::string& referral_id) {
    auto sent = Store("toscana").OutboxForReferral(referral_id);
    return sent.ok() && sent->size() == 1 ? sent->front().attempts : -1;
  };
  // The first envelope goes out and fails. Only then the emergency: queued
  // with the backlog before the sender first looked, it would go first and
  // alone, and the first envelope would wait out the hour.
  ASSERT_TRUE(WaitFor([&] { return attempts(backlog[0]) >= 1; }));
  const std::string emergency = SubmitReferral("nvn", v1::URGENCY_EMERGENCY_24H);
  // It takes the slot beyond the window, or probes as the head of the queue
  // once nvn is known to be unreachable. Nothing else is tried.
  ASSERT_TRUE(WaitFor([&] { return attempts(emergency) >= 1; }));
  EXPECT_EQ(attempts(backlog[1]), 0) << "one envelope at a time while nvn is down";
  EXPECT_EQ(attempts(backlog[2]), 0) << "one envelope at a time while nvn is down";

  ASSERT_TRUE(StartNode("nvn"));
  // New work probes again, with the emergency (the head of the queue); the
  // first probe that nvn answers ends the outage. toscana's channel may need
  // a moment to reconnect: each time a probe fails, more new work asks for
  // another.
  auto emergency_entry = [&] {
    auto sent = Store("toscana").OutboxForReferral(emergency);
    return sent.ok() && sent->size() == 1 ? std::optional(sent->front()) : std::nullopt;
  };
  int probes_failed = attempts(emergency);
  const std::string after = SubmitReferral("nvn");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto e = emergency_entry();
        if (!e || e->state != storage::OutboxState::kPending) return true;
        if (e->attempts > probes_failed) {
          probes_failed = e->attempts;
          SubmitReferral("nvn");
        }
        return false;
      },
      absl::Seconds(60)))
      << "nvn never answered";
  EXPECT_EQ(emergency_entry()->state, storage::OutboxState::kDelivered);
  ASSERT_TRUE(WaitFor([&] {
    return OutboxCount(Store("toscana"), storage::OutboxState::kPending) == 0;
  })) << "the backlog still waits for its retry times";

  // nvn took them in this order (its inbox's receive times).
  auto received_at = [&](const std::string& referral_id) {
    absl::Time at = absl::InfinitePast();
    auto sent = Store("toscana").OutboxForReferral(referral_id);
    EXPECT_OK(sent);
    EXPECT_OK(Store("nvn").Transact([&](storage::Txn& txn) -> absl::Status {
      auto record = txn.FindInbox(sent->front().message_id);
      if (!record.ok()) return record.status();
      if (record->has_value()) at = (*record)->received_at;
      return absl::OkStatus();
    }));
    return at;
  };
  // The emergency was the probe; then the backlog, oldest first, then new work.
  EXPECT_LT(received_at(emergency), received_at(backlog[0]));
  EXPECT_LT(received_at(backlog[0]), received_at(backlog[1]));
  EXPECT_LT(received_at(backlog[1]), received_at(backlog[2]));
  EXPECT_LT(received_at(backlog[2]), received_at(after));
}

// One envelope per referral on the wire, oldest first: while a referral's
// first envelope waits for its receipt, its next one is not sent beside it,
// so the peer (and whoever it relays to) takes them in the order they were
// queued, whoever wrote them. Other referrals go on meanwhile.
TEST_F(NetworkTest, AReferralsEnvelopesGoOneAtATimeInTheOrderQueued) {
  ReleasePort("toscana");
  ReceiptingPeer toscana("toscana", ports_["toscana"]);
  toscana.Close();
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("nvn/operator");
  const std::string id = NewUuid();
  auto first =
      NodeAt("nvn").Submit(op->identity(), SignReferral(*op, id, "toscana"), TestReferralKey(id));
  ASSERT_OK(first);
  ASSERT_TRUE(WaitFor([&] { return toscana.waiting() == 1; }));
  // The origin withdraws it (its second envelope, same referral), and
  // another referral is queued after that.
  auto second =
      NodeAt("nvn").Submit(op->identity(), SignTransition(*op, id, v1::WITHDRAWN, "toscana", 2));
  ASSERT_OK(second);
  const std::string other = NewUuid();
  auto third = NodeAt("nvn").Submit(op->identity(), SignReferral(*op, other, "toscana"),
                                    TestReferralKey(other));
  ASSERT_OK(third);
  // The other referral goes at once; the withdrawal waits for the first.
  ASSERT_TRUE(WaitFor([&] { return toscana.waiting() == 2; }));
  const auto loop_after = [&](int64_t sleeps) {
    auto loop = broker::PeerSender::LoopStateForTesting(&Store("nvn"), "toscana");
    return loop && loop->sleeps > sleeps && loop->in_flight == 2;
  };
  auto now = broker::PeerSender::LoopStateForTesting(&Store("nvn"), "toscana");
  ASSERT_TRUE(now.has_value());
  NodeAt("nvn").WakeAllSenders();  // it looks again, and still holds it back
  ASSERT_TRUE(WaitFor([&] { return loop_after(now->sleeps); }));
  EXPECT_EQ(toscana.calls(), 2);

  // Each referral also carries its key release (PROTOCOL.md §11.3), queued
  // right after it: five envelopes in all.
  toscana.Open();
  ASSERT_TRUE(WaitFor([&] { return toscana.received().size() == 5; }));
  const std::vector<std::string> order = toscana.received();
  const std::string first_id = first->message_ids[0], second_id = second->message_ids[0];
  const auto at = [&](const std::string& m) {
    return std::find(order.begin(), order.end(), m) - order.begin();
  };
  EXPECT_LT(at(first_id), at(second_id));
  EXPECT_EQ(toscana.calls(), 5);
}

// The origin's withdrawal may overtake its referral (the referral's first
// attempt refused for a while): it waits, and the referral, once it comes,
// is taken in already withdrawn, with no RECEIVED to answer.
TEST_F(NetworkTest, AWithdrawalThatOvertookItsReferralEndsItOnArrival) {
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  const std::string id = NewUuid();
  ASSERT_OK(toscana.Deliver(SignTransition(*op, id, v1::WITHDRAWN, "nvn", 2)));
  EXPECT_EQ(StateAt(Store("nvn"), id), v1::REFERRAL_STATE_UNSPECIFIED);  // waits, unknown
  ASSERT_OK(toscana.Deliver(SignReferral(*op, id, "nvn")));
  EXPECT_EQ(StateAt(Store("nvn"), id), v1::WITHDRAWN);
  auto timeline = Store("nvn").Timeline(id);
  ASSERT_OK(timeline);
  std::vector<v1::ReferralState> states;
  for (const storage::Event& e : *timeline) states.push_back(e.to_state);
  EXPECT_EQ(states, (std::vector{v1::SUBMITTED, v1::WITHDRAWN}));
  auto queued = Store("nvn").ListOutbox(std::nullopt, 0);
  ASSERT_OK(queued);
  EXPECT_TRUE(queued->empty());  // no RECEIVED for toscana
}

TEST_F(NetworkTest, HealthServiceReportsServing) {
  ASSERT_TRUE(StartNode("nvn"));
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadPkiFile("ca.crt");
  tls.pem_cert_chain = ReadPkiFile("toscana/node.crt");
  tls.pem_private_key = ReadPkiFile("toscana/node.key");
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(Address(ports_["nvn"]), grpc::SslCredentials(tls)));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(NetworkTest, IdleConnectionsAreClosed) {
  options_["nvn"].idle_connection_timeout = absl::Seconds(1);
  ASSERT_TRUE(StartNode("nvn"));
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  auto op = PkiSigner("toscana/operator");
  ASSERT_OK(toscana.Deliver(SignReferral(*op, NewUuid(), "nvn")));
  ASSERT_EQ(toscana.channel()->GetState(false), GRPC_CHANNEL_READY);
  // The server sends GOAWAY after the idle time; the client channel goes idle.
  EXPECT_TRUE(WaitFor([&] { return toscana.channel()->GetState(false) == GRPC_CHANNEL_IDLE; },
                      absl::Seconds(20)));
}

}  // namespace
}  // namespace mir::testing
