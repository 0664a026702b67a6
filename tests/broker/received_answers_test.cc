// RECEIVED_ANSWERS (PROTOCOL.md §10.8) over real loopback mutual TLS: the
// RECEIVED answers of several referrals under one signature, applied one by
// one at the origin, a refused answer dropped alone, the envelope stored
// once, and the feature announced in receipts.

#include <string>
#include <vector>

#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "tests/broker/network_fixture.h"
#include "tests/storage/storage_test_util.h"

namespace mir::testing {
namespace {

struct Answer {
  std::string referral_id;
  uint64_t sequence = 1;
  std::string message_id = NewUuid();
};

class ReceivedAnswersTest : public NetworkTest {
 protected:
  // toscana's referrals for nvn, submitted while nvn is down: SUBMITTED at
  // toscana, waiting for nvn's RECEIVED.
  std::vector<std::string> SubmitWhileNvnIsDown(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back(SubmitReferral("nvn"));
    return ids;
  }

  // The message that made `referral_id` SUBMITTED at toscana.
  std::string SubmittedMessage(const std::string& referral_id) {
    auto timeline = Store("toscana").Timeline(referral_id);
    EXPECT_OK(timeline);
    return timeline.ok() && !timeline->empty() ? timeline->front().message_id : NewUuid();
  }

  // A RECEIVED_ANSWERS signed by nvn's node key, for toscana.
  std::string SignAnswers(const std::vector<Answer>& answers, const std::string& referral_id = "",
                          const std::string& author = "nvn/node",
                          const std::string& message_id = NewUuid()) {
    v1::ReceivedAnswers body;
    for (const Answer& a : answers) {
      v1::ReceivedAnswer* one = body.add_answers();
      one->set_message_id(a.message_id);
      one->set_referral_id(a.referral_id);
      one->set_sequence(a.sequence);
      one->set_submitted_message_id(SubmittedMessage(a.referral_id));
    }
    v1::EnvelopeHeader h;
    h.set_message_id(message_id);
    h.set_kind(v1::RECEIVED_ANSWERS);
    h.set_recipient_node("toscana");
    *h.mutable_created_at() = ToProtoTime(absl::Now());
    h.set_referral_id(referral_id);
    auto signer = PkiSigner(author);
    return *signer->SignEnvelope(h, body.SerializeAsString());
  }

  absl::StatusOr<v1::Receipt> DeliverAsNvn(const std::string& envelope) {
    ExchangeClient nvn(ports_["toscana"], "nvn/node");
    ASSIGN_OR_RETURN(std::string receipt, nvn.Deliver(envelope));
    return VerifyReceipt(NodeAt("toscana").verifier(), receipt, "toscana", MessageIdOf(envelope),
                         Sha256(envelope));
  }

  static std::string MessageIdOf(const std::string& envelope) {
    v1::Envelope e;
    v1::EnvelopeHeader h;
    if (!e.ParseFromString(envelope) || !h.ParseFromString(e.header())) return "";
    return h.message_id();
  }

  int64_t CountAtToscana(const std::string& sql) {
    storage::testing::RawDb raw = storage::testing::OpenRaw(options_["toscana"].database_path);
    return storage::testing::QueryInt(raw.get(), sql);
  }
};

TEST_F(ReceivedAnswersTest, OneEnvelopeMovesEachReferralToReceived) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::vector<std::string> ids = SubmitWhileNvnIsDown(3);
  std::vector<Answer> answers;
  for (const std::string& id : ids) answers.push_back({id});
  const std::string envelope = SignAnswers(answers);

  absl::StatusOr<v1::Receipt> receipt = DeliverAsNvn(envelope);
  ASSERT_OK(receipt);
  EXPECT_TRUE(Announces(*receipt, kReceivedAnswersFeature));
  for (size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(StateIs("toscana", ids[i], v1::RECEIVED)) << ids[i];
    auto timeline = Store("toscana").Timeline(ids[i]);
    ASSERT_OK(timeline);
    ASSERT_EQ(timeline->size(), 2u);
    const storage::Event& received = timeline->back();
    EXPECT_EQ(received.message_id, answers[i].message_id);
    EXPECT_EQ(received.sender_node, "nvn");
    EXPECT_EQ(received.sequence, 1u);
    EXPECT_EQ(received.actor.Uri(), "mir://nvn/node");
    EXPECT_EQ(received.envelope, envelope) << "each answer's proof is the signed envelope";
  }
  // The timeline staff see: each answer a RECEIVED by nvn's node, with the
  // envelope's delivery proof (its receipt from toscana).
  absl::StatusOr<v1::ReferralView> view = Staff("toscana/operator").Get(ids[2]);
  ASSERT_OK(view);
  ASSERT_EQ(view->timeline_size(), 2);
  const v1::TimelineEvent& shown = view->timeline(1);
  EXPECT_EQ(shown.state(), v1::RECEIVED);
  EXPECT_EQ(shown.actor(), "mir://nvn/node");
  ASSERT_EQ(shown.delivery_size(), 1);
  EXPECT_EQ(shown.delivery(0).status(), v1::DeliveryProof::RECEIVED_HERE);
  EXPECT_EQ(shown.delivery(0).envelope_sha256(), Sha256(envelope));
  // Kept once: the first answer's row holds the bytes, the others name it.
  EXPECT_EQ(CountAtToscana("SELECT COUNT(*) FROM events WHERE envelope_event_id IS NOT NULL "
                           "AND length(envelope) = 0"),
            2);
  auto audit = Store("toscana").VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;

  // The same bytes again: the receipt it had, nothing applied twice.
  ExchangeClient nvn(ports_["toscana"], "nvn/node");
  absl::StatusOr<std::string> again = nvn.Deliver(envelope);
  ASSERT_OK(again);
  EXPECT_OK(VerifyReceipt(NodeAt("toscana").verifier(), *again, "toscana", MessageIdOf(envelope),
                          Sha256(envelope)));
  for (const std::string& id : ids) EXPECT_EQ(Store("toscana").Timeline(id)->size(), 2u);
  EXPECT_EQ(CountAtToscana("SELECT COUNT(*) FROM dropped_events"), 0);
}

// In a DeliverBatch, beside a single RECEIVED: each envelope applied in its
// savepoint, the answers each in one of their own inside it.
TEST_F(ReceivedAnswersTest, AnEnvelopeOfAnswersGoesInABatchLikeAnyOther) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::vector<std::string> ids = SubmitWhileNvnIsDown(3);
  auto signer = PkiSigner("nvn/node");
  const std::vector<std::string> batch = {
      SignAnswers({{ids[0]}, {ids[1]}}),
      SignTransition(*signer, ids[2], v1::RECEIVED, "toscana", /*sequence=*/1)};
  ExchangeClient nvn(ports_["toscana"], "nvn/node");
  absl::StatusOr<v1::DeliverBatchResponse> answer = nvn.DeliverBatch(batch);
  ASSERT_OK(answer);
  EXPECT_EQ(answer->refused_size(), 0);
  for (const std::string& envelope : batch) {
    auto receipt = VerifyReceipt(NodeAt("toscana").verifier(), answer->receipt(), "toscana",
                                 MessageIdOf(envelope), Sha256(envelope));
    ASSERT_OK(receipt);
    EXPECT_TRUE(Announces(*receipt, kReceivedAnswersFeature));
  }
  for (const std::string& id : ids) EXPECT_TRUE(StateIs("toscana", id, v1::RECEIVED)) << id;
}

// An answer refused where it arrives (a referral withdrawn meanwhile, one
// this node does not know) is dropped and recorded; the envelope is
// accepted and every other answer applies.
TEST_F(ReceivedAnswersTest, AnAnswerTheOriginRefusesIsDroppedAlone) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::vector<std::string> ids = SubmitWhileNvnIsDown(2);
  Transition("toscana/operator", ids[1], v1::WITHDRAWN, "nvn");
  const std::string unknown = NewUuid();
  const std::string envelope = SignAnswers({{ids[0]}, {ids[1]}, {unknown}});

  absl::StatusOr<v1::Receipt> receipt = DeliverAsNvn(envelope);
  ASSERT_OK(receipt);
  ASSERT_TRUE(StateIs("toscana", ids[0], v1::RECEIVED));
  EXPECT_TRUE(StateIs("toscana", ids[1], v1::WITHDRAWN));
  EXPECT_EQ(CountAtToscana("SELECT COUNT(*) FROM dropped_events WHERE sender_node = 'nvn' "
                           "AND to_state = 2 AND status_reason = 'INVALID_TRANSITION'"),
            1);
  EXPECT_EQ(CountAtToscana("SELECT COUNT(*) FROM dropped_events WHERE referral_id = '" + unknown +
                           "' AND status_reason = 'UNKNOWN_REFERRAL'"),
            1);
  // The applied answer's row holds the envelope: the refused ones left none.
  auto timeline = Store("toscana").Timeline(ids[0]);
  ASSERT_OK(timeline);
  EXPECT_EQ(timeline->back().envelope, envelope);
  auto audit = Store("toscana").VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
}

// Refused whole, with nothing stored: a header naming a referral, an
// answer twice, an answer without a sequence, an author that is not a node,
// other signed bytes under a message id already received.
TEST_F(ReceivedAnswersTest, AMalformedEnvelopeIsRefusedWhole) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::vector<std::string> ids = SubmitWhileNvnIsDown(1);
  ExchangeClient nvn(ports_["toscana"], "nvn/node");

  EXPECT_THAT(MIR_STATUS(nvn.Deliver(SignAnswers({{ids[0]}}, /*referral_id=*/ids[0]))),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE));
  const Answer twice{ids[0]};
  EXPECT_THAT(MIR_STATUS(nvn.Deliver(SignAnswers({twice, {ids[0]}}))),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY));
  EXPECT_THAT(MIR_STATUS(nvn.Deliver(SignAnswers({{ids[0], /*sequence=*/0}}))),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY));
  EXPECT_THAT(MIR_STATUS(nvn.Deliver(SignAnswers({{ids[0]}}, "", "nvn/operator"))),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  EXPECT_TRUE(StateIs("toscana", ids[0], v1::SUBMITTED));

  const std::string first = SignAnswers({{ids[0]}});
  ASSERT_OK(nvn.Deliver(first));
  const std::string other_bytes = SignAnswers({{ids[0]}}, "", "nvn/node", MessageIdOf(first));
  EXPECT_THAT(MIR_STATUS(nvn.Deliver(other_bytes)),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
  EXPECT_EQ(CountAtToscana("SELECT COUNT(*) FROM dropped_events"), 0);
}

// A node from before the kind (played by turning it off) refuses it as it
// would any unknown kind, and its receipts announce nothing: a sender
// never gets to send it one.
TEST_F(ReceivedAnswersTest, ANodeFromBeforeTheKindRefusesItAndAnnouncesNothing) {
  options_["toscana"].accept_received_answers = false;
  ASSERT_TRUE(StartNode("toscana"));
  const std::vector<std::string> ids = SubmitWhileNvnIsDown(1);
  ExchangeClient nvn(ports_["toscana"], "nvn/node");
  EXPECT_THAT(MIR_STATUS(nvn.Deliver(SignAnswers({{ids[0]}}))),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE));

  auto signer = PkiSigner("nvn/node");
  const std::string single =
      SignTransition(*signer, ids[0], v1::RECEIVED, "toscana", /*sequence=*/1);
  absl::StatusOr<std::string> receipt_bytes = nvn.Deliver(single);
  ASSERT_OK(receipt_bytes);
  absl::StatusOr<v1::Receipt> receipt = VerifyReceipt(
      NodeAt("toscana").verifier(), *receipt_bytes, "toscana", MessageIdOf(single), Sha256(single));
  ASSERT_OK(receipt);
  EXPECT_FALSE(Announces(*receipt, kReceivedAnswersFeature));
  EXPECT_TRUE(StateIs("toscana", ids[0], v1::RECEIVED));
}

// The sending half: nvn, taking in a backlog of toscana's referrals,
// answers them in RECEIVED_ANSWERS when toscana's receipts announce it.
class SendingAnswersTest : public ReceivedAnswersTest {
 protected:
  void SetUp() override {
    ReceivedAnswersTest::SetUp();
    options_["nvn"].peers.erase("lombardia");  // not started: its sender would only retry
  }

  // One referral there and its RECEIVED back (a single answer: nvn has no
  // receipt of toscana's yet), whose receipt nvn records.
  std::string FirstExchange() {
    const std::string first = SubmitReferral("nvn");
    EXPECT_TRUE(StateIs("toscana", first, v1::RECEIVED));
    EXPECT_TRUE(
        WaitFor([&] { return OutboxCount(Store("nvn"), storage::OutboxState::kDelivered) >= 1; }));
    return first;
  }

  // With nvn down, toscana withdraws `first` (the head of its queue, what
  // its sender probes nvn with) and submits `n` referrals; then nvn starts
  // and takes them in, after the probe, in one batch.
  std::vector<std::string> BacklogForNvn(const std::string& first, int n) {
    StopNode("nvn");
    Transition("toscana/operator", first, v1::WITHDRAWN, "nvn");
    std::vector<std::string> ids = SubmitWhileNvnIsDown(n);
    EXPECT_TRUE(StartNode("nvn"));
    for (const std::string& id : ids) EXPECT_TRUE(StateIs("toscana", id, v1::RECEIVED)) << id;
    // toscana applies the answers before nvn records its receipt: wait for it.
    EXPECT_TRUE(
        WaitFor([&] { return OutboxCount(Store("nvn"), storage::OutboxState::kPending) == 0; }));
    return ids;
  }

  struct Queued {
    storage::OutboxEntry entry;
    v1::EnvelopeHeader header;
    v1::ReceivedAnswers answers;  // for a RECEIVED_ANSWERS
  };
  // What nvn queued for toscana, in order.
  std::vector<Queued> QueuedAtNvn() {
    std::vector<Queued> out;
    auto entries = Store("nvn").ListOutbox(std::nullopt, 0);
    EXPECT_OK(entries);
    if (!entries.ok()) return out;
    for (const storage::OutboxEntry& entry : *entries) {
      if (entry.peer != "toscana") continue;
      Queued q{entry, {}, {}};
      v1::Envelope e;
      EXPECT_TRUE(e.ParseFromString(entry.envelope) && q.header.ParseFromString(e.header()));
      if (q.header.kind() == v1::RECEIVED_ANSWERS) {
        EXPECT_TRUE(q.answers.ParseFromString(e.body()));
      }
      out.push_back(std::move(q));
    }
    return out;
  }
  static int Count(const std::vector<Queued>& queued, v1::MessageKind kind) {
    int n = 0;
    for (const Queued& q : queued) n += q.header.kind() == kind;
    return n;
  }
  // The RECEIVED event of `referral_id` at `node`.
  storage::Event ReceivedAt(const std::string& node, const std::string& referral_id) {
    auto timeline = Store(node).Timeline(referral_id);
    EXPECT_OK(timeline);
    if (timeline.ok()) {
      for (const storage::Event& e : *timeline) {
        if (e.to_state == v1::RECEIVED) return e;
      }
    }
    ADD_FAILURE() << "no RECEIVED for " << referral_id << " at " << node;
    return {};
  }
  // The one RECEIVED_ANSWERS among `queued`, or null.
  static const Queued* EnvelopeOfAnswers(const std::vector<Queued>& queued) {
    if (Count(queued, v1::RECEIVED_ANSWERS) != 1) return nullptr;
    for (const Queued& q : queued) {
      if (q.header.kind() == v1::RECEIVED_ANSWERS) return &q;
    }
    return nullptr;
  }
  static bool AuditChainHolds(storage::Store& store) {
    auto audit = store.VerifyAuditChain();
    return audit.ok() && audit->ok;
  }
};

TEST_F(SendingAnswersTest, TheAnswersOfABacklogTravelTogether) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  const std::string first = FirstExchange();
  // nvn restarts in BacklogForNvn: what toscana announced is read back from
  // its outbox, so the backlog right after the start is answered together.
  const std::vector<std::string> ids = BacklogForNvn(first, 4);

  const std::vector<Queued> queued = QueuedAtNvn();
  const Queued* together = EnvelopeOfAnswers(queued);
  ASSERT_NE(together, nullptr) << "one RECEIVED_ANSWERS for the four";
  EXPECT_EQ(together->entry.state, storage::OutboxState::kDelivered);
  EXPECT_EQ(together->entry.referral_id, "");
  ASSERT_EQ(together->answers.answers_size(), 4);
  for (int i = 0; i < 4; ++i) {
    const v1::ReceivedAnswer& answer = together->answers.answers(i);
    EXPECT_EQ(answer.referral_id(), ids[i]);
    EXPECT_EQ(answer.sequence(), 1u);
    EXPECT_EQ(answer.submitted_message_id(), SubmittedMessage(ids[i]));
    // The same event at both ends: its id, and the envelope as its proof.
    const storage::Event there = ReceivedAt("toscana", ids[i]);
    const storage::Event here = ReceivedAt("nvn", ids[i]);
    EXPECT_EQ(there.message_id, answer.message_id());
    EXPECT_EQ(here.message_id, answer.message_id());
    EXPECT_EQ(there.envelope, together->entry.envelope);
    EXPECT_EQ(here.envelope, together->entry.envelope);
  }
  // nvn's staff see each answer delivered, by the envelope that carried it.
  absl::StatusOr<v1::ReferralView> view = Staff("nvn/operator").Get(ids[1]);
  ASSERT_OK(view);
  ASSERT_EQ(view->timeline_size(), 2);
  const v1::TimelineEvent& answered = view->timeline(1);
  EXPECT_EQ(answered.state(), v1::RECEIVED);
  ASSERT_EQ(answered.delivery_size(), 1);
  EXPECT_EQ(answered.delivery(0).status(), v1::DeliveryProof::DELIVERED);
  EXPECT_EQ(answered.delivery(0).peer_node(), "toscana");
  EXPECT_EQ(answered.delivery(0).envelope_sha256(), Sha256(together->entry.envelope));
  // nvn keeps the envelope once, in its first answer's row.
  storage::testing::RawDb raw = storage::testing::OpenRaw(options_["nvn"].database_path);
  EXPECT_EQ(storage::testing::QueryInt(raw.get(),
                                       "SELECT COUNT(*) FROM events WHERE envelope_event_id IS "
                                       "NOT NULL AND length(envelope) = 0 AND to_state = 2"),
            3);
  // No single RECEIVED of these referrals went besides (the first one's did).
  EXPECT_EQ(Count(queued, v1::STATUS_CHANGE), 1);
  EXPECT_EQ(CountAtToscana("SELECT COUNT(*) FROM dropped_events"), 0);
  EXPECT_TRUE(AuditChainHolds(Store("nvn")));
  EXPECT_TRUE(AuditChainHolds(Store("toscana")));
}

// A node whose receipts never announced the feature (one from before it)
// is never sent the kind: every answer travels on its own.
TEST_F(SendingAnswersTest, ANodeThatNeverAnnouncedItGetsSingleAnswers) {
  options_["toscana"].accept_received_answers = false;
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  const std::string first = FirstExchange();
  const std::vector<std::string> ids = BacklogForNvn(first, 4);

  const std::vector<Queued> queued = QueuedAtNvn();
  EXPECT_EQ(Count(queued, v1::RECEIVED_ANSWERS), 0);
  EXPECT_EQ(Count(queued, v1::STATUS_CHANGE), 5);
  EXPECT_FALSE(NodeAt("nvn").peer_features().TakesReceivedAnswers("toscana"));
  for (const std::string& id : ids) {
    EXPECT_EQ(ReceivedAt("toscana", id).message_id, ReceivedAt("nvn", id).message_id);
  }
}

// toscana rolled back to a release from before the kind, after announcing
// it: nvn's envelope of answers is refused, and each answer goes again as
// its own STATUS_CHANGE, under the same id. Nothing is lost, and nothing
// becomes a dead letter: the envelope is marked replaced, which no alert on
// dead letters counts.
TEST_F(SendingAnswersTest, ARefusalOfTheKindFallsBackToSingleAnswers) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  const std::string first = FirstExchange();
  StopNode("toscana");
  options_["toscana"].accept_received_answers = false;
  ASSERT_TRUE(StartNode("toscana"));
  BacklogForNvn(first, 3);

  const std::vector<Queued> queued = QueuedAtNvn();
  const Queued* refused = EnvelopeOfAnswers(queued);
  ASSERT_NE(refused, nullptr) << "one RECEIVED_ANSWERS, refused";
  EXPECT_EQ(refused->entry.state, storage::OutboxState::kReplaced);
  EXPECT_THAT(refused->entry.last_error, ::testing::HasSubstr("replaced by single STATUS_CHANGEs"));
  ASSERT_EQ(refused->answers.answers_size(), 3);
  for (const v1::ReceivedAnswer& answer : refused->answers.answers()) {
    auto single = Store("nvn").FindOutbox(answer.message_id());
    ASSERT_OK(single);
    ASSERT_TRUE(single->has_value()) << "each answer queued on its own, under its id";
    EXPECT_TRUE(WaitFor([&] {
      auto now = Store("nvn").FindOutbox(answer.message_id());
      return now.ok() && now->has_value() && (*now)->state == storage::OutboxState::kDelivered;
    }));
    const storage::Event there = ReceivedAt("toscana", answer.referral_id());
    EXPECT_EQ(there.message_id, answer.message_id());
    EXPECT_EQ(there.sequence, answer.sequence());
  }
  EXPECT_FALSE(NodeAt("nvn").peer_features().TakesReceivedAnswers("toscana"));
  EXPECT_EQ(CountAtToscana("SELECT COUNT(*) FROM dropped_events"), 0);
  EXPECT_TRUE(AuditChainHolds(Store("nvn")));
  absl::StatusOr<std::vector<storage::OutboxEntry>> dead =
      Store("nvn").ListOutbox(storage::OutboxState::kDead, 0);
  ASSERT_OK(dead);
  EXPECT_THAT(*dead, ::testing::IsEmpty());
  // nvn's staff see both: the envelope replaced, then the answer delivered.
  absl::StatusOr<v1::ReferralView> view =
      Staff("nvn/operator").Get(refused->answers.answers(0).referral_id());
  ASSERT_OK(view);
  ASSERT_EQ(view->timeline_size(), 2);
  std::vector<v1::DeliveryProof::Status> shown;
  for (const v1::DeliveryProof& proof : view->timeline(1).delivery()) {
    shown.push_back(proof.status());
  }
  EXPECT_THAT(shown, ::testing::UnorderedElementsAre(v1::DeliveryProof::REPLACED,
                                                     v1::DeliveryProof::DELIVERED));
}

// A referral of the batch not taken in (here a duplicate) leaves its
// answer out: the envelope is signed again for the others before anything
// is stored, and takes the place of its most urgent referral.
TEST_F(SendingAnswersTest, OnlyTheAnswersOfReferralsTakenInTravel) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  FirstExchange();
  StopNode("toscana");  // what nvn queues for it stays in the outbox

  auto op = PkiSigner("toscana/operator");
  const std::string a = NewUuid(), b = NewUuid(), c = NewUuid();
  const std::string again = SignReferral(*op, c, "nvn");
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  ASSERT_OK(toscana.Deliver(again));
  absl::StatusOr<v1::DeliverBatchResponse> answer = toscana.DeliverBatch(
      {SignReferral(*op, a, "nvn"), SignReferral(*op, b, "nvn", v1::URGENCY_EMERGENCY_24H), again});
  ASSERT_OK(answer);
  EXPECT_EQ(answer->refused_size(), 0);

  const std::vector<Queued> queued = QueuedAtNvn();
  const Queued* sent = EnvelopeOfAnswers(queued);
  ASSERT_NE(sent, nullptr);
  ASSERT_EQ(sent->answers.answers_size(), 2);
  EXPECT_EQ(sent->answers.answers(0).referral_id(), a);
  EXPECT_EQ(sent->answers.answers(1).referral_id(), b);
  EXPECT_EQ(sent->entry.urgency, v1::URGENCY_EMERGENCY_24H);
  EXPECT_EQ(ReceivedAt("nvn", a).envelope, sent->entry.envelope);
  EXPECT_EQ(ReceivedAt("nvn", b).envelope, sent->entry.envelope);
  // c was answered once, on its own, when it first came.
  auto timeline = Store("nvn").Timeline(c);
  ASSERT_OK(timeline);
  EXPECT_EQ(timeline->size(), 2u);
  EXPECT_TRUE(AuditChainHolds(Store("nvn")));
}

// A relay never answers in another node's name: an envelope of answers it
// passed on, refused by a node from before the kind, is a dead letter as
// any refusal, and nothing is signed in its place.
TEST_F(SendingAnswersTest, ARelayNeverReplacesAnotherNodesAnswers) {
  options_["nvn"].peers["lombardia"] = Address(ports_["lombardia"]);
  options_["lombardia"].accept_received_answers = false;
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("lombardia"));
  v1::ReceivedAnswers body;
  v1::ReceivedAnswer* answer = body.add_answers();
  answer->set_message_id(NewUuid());
  answer->set_referral_id(NewUuid());
  answer->set_sequence(1);
  answer->set_submitted_message_id(NewUuid());
  v1::EnvelopeHeader h;
  h.set_message_id(NewUuid());
  h.set_kind(v1::RECEIVED_ANSWERS);
  h.set_recipient_node("lombardia");
  *h.mutable_created_at() = ToProtoTime(absl::Now());
  auto envelope = PkiSigner("toscana/node")->SignEnvelope(h, body.SerializeAsString());
  ASSERT_OK(envelope);
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  ASSERT_OK(toscana.Deliver(*envelope));  // relayed: nvn does not look inside

  ASSERT_TRUE(WaitFor([&] {
    auto relayed = Store("nvn").FindOutbox(h.message_id());
    return relayed.ok() && relayed->has_value() && (*relayed)->state == storage::OutboxState::kDead;
  }));
  auto relayed = Store("nvn").FindOutbox(h.message_id());
  ASSERT_OK(relayed);
  EXPECT_THAT((*relayed)->last_error, ::testing::HasSubstr("MALFORMED_ENVELOPE"));
  EXPECT_THAT((*relayed)->last_error, ::testing::Not(::testing::HasSubstr("replaced")));
  auto single = Store("nvn").FindOutbox(answer->message_id());
  ASSERT_OK(single);
  EXPECT_FALSE(single->has_value()) << "nvn signed an answer in toscana's name";
  EXPECT_TRUE(NodeAt("nvn").peer_features().TakesReceivedAnswers("lombardia") == false);
}

}  // namespace
}  // namespace mir::testing
