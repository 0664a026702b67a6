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

}  // namespace
}  // namespace mir::testing
