// Exchange.DeliverBatch (PROTOCOL.md §6.2.1) over real loopback mutual TLS:
// one receipt for a batch, refusals inside a batch, and senders meeting a
// node from before batches.

#include <set>

#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

// The receipt covers `envelope`: signed by `receiver`, with an entry for its
// message id and the SHA-256 of its exact bytes.
absl::Status Covers(const broker::Node& sender_node, const std::string& receipt,
                    const std::string& receiver, const std::string& envelope) {
  v1::Envelope e;
  v1::EnvelopeHeader h;
  if (!e.ParseFromString(envelope) || !h.ParseFromString(e.header())) {
    return absl::InvalidArgumentError("test envelope does not parse");
  }
  return VerifyReceipt(sender_node.verifier(), receipt, receiver, h.message_id(), Sha256(envelope))
      .status();
}

size_t ReferralCount(storage::Store& store) {
  auto referrals = store.ListReferrals(1000);
  EXPECT_OK(referrals);
  return referrals.ok() ? referrals->size() : 0;
}

TEST_F(NetworkTest, ABatchGetsOneReceiptCoveringEachEnvelope) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));  // its verifier checks nvn's receipts
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  auto op = PkiSigner("toscana/operator");
  std::vector<std::string> envelopes;
  for (int i = 0; i < 5; ++i) envelopes.push_back(SignReferral(*op, NewUuid(), "nvn"));

  auto answer = toscana.DeliverBatch(envelopes);
  ASSERT_OK(answer);
  EXPECT_TRUE(answer->refused().empty());
  EXPECT_EQ(ReceiptEntryCount(answer->receipt()), 5);
  for (const std::string& envelope : envelopes) {
    EXPECT_OK(Covers(NodeAt("toscana"), answer->receipt(), "nvn", envelope));
  }
  EXPECT_EQ(ReferralCount(Store("nvn")), 5u);

  // Stored once for the five, it is what a resend of any of them gets back.
  auto again = toscana.Deliver(envelopes[3]);
  ASSERT_OK(again);
  EXPECT_EQ(*again, answer->receipt());
  // A batch of the same envelopes again: covered anew, applied once.
  auto repeat = toscana.DeliverBatch(envelopes);
  ASSERT_OK(repeat);
  EXPECT_TRUE(repeat->refused().empty());
  for (const std::string& envelope : envelopes) {
    EXPECT_OK(Covers(NodeAt("toscana"), repeat->receipt(), "nvn", envelope));
  }
  EXPECT_EQ(ReferralCount(Store("nvn")), 5u);
}

TEST_F(NetworkTest, EnvelopesRefusedInsideABatchAreNamedAndChangeNothing) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  auto op = PkiSigner("toscana/operator");
  auto lombardia_op = PkiSigner("lombardia/operator");

  const std::string first = SignReferral(*op, NewUuid(), "nvn");
  std::string tampered = SignReferral(*op, NewUuid(), "nvn");
  tampered.back() ^= 1;  // the signature value
  // The first's message id with other bytes.
  v1::Envelope e;
  e.ParseFromString(first);
  v1::Referral body;
  body.ParseFromString(e.body());
  body.set_danger_level(v1::DANGER_LEVEL_HIGH);
  v1::EnvelopeHeader header;
  header.ParseFromString(e.header());
  const std::string conflicting = *op->SignEnvelope(header, body.SerializeAsString());
  const std::string second = SignReferral(*op, NewUuid(), "nvn");

  struct Refused {
    uint32_t index;
    absl::StatusCode code;
    v1::ErrorReason reason;
  };
  const std::vector<std::string> batch = {
      first,                                          // 0 accepted
      tampered,                                       // 1
      SignReferral(*lombardia_op, NewUuid(), "nvn"),  // 2 another node's message
      SignReferral(*op, NewUuid(), "veneto"),         // 3 no route
      "\x0a\xff\xff",                                 // 4 not an envelope
      conflicting,                                    // 5 the first's id, other bytes
      second,                                         // 6 accepted
      first,                                          // 7 the first again: covered
  };
  const std::vector<Refused> expected = {
      {1, absl::StatusCode::kUnauthenticated, v1::BAD_SIGNATURE},
      {2, absl::StatusCode::kPermissionDenied, v1::PEER_MISMATCH},
      {3, absl::StatusCode::kNotFound, v1::UNKNOWN_NODE},
      {4, absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE},
      {5, absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT},
  };
  auto answer = toscana.DeliverBatch(batch);
  ASSERT_OK(answer);
  ASSERT_EQ(answer->refused_size(), static_cast<int>(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i);
    const v1::DeliverRefusal& refusal = answer->refused(static_cast<int>(i));
    EXPECT_EQ(refusal.index(), expected[i].index);
    EXPECT_EQ(refusal.code(), static_cast<int32_t>(expected[i].code));
    EXPECT_EQ(refusal.reason(), expected[i].reason);
    EXPECT_FALSE(refusal.message().empty());
  }
  EXPECT_EQ(ReceiptEntryCount(answer->receipt()), 3);  // 0, 6 and 7
  EXPECT_OK(Covers(NodeAt("toscana"), answer->receipt(), "nvn", first));
  EXPECT_OK(Covers(NodeAt("toscana"), answer->receipt(), "nvn", second));
  EXPECT_THAT(Covers(NodeAt("toscana"), answer->receipt(), "nvn", conflicting),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::RECEIPT_MISMATCH));

  // Only the two accepted referrals are there, as first sent.
  EXPECT_EQ(ReferralCount(Store("nvn")), 2u);
  auto stored = Store("nvn").GetReferral(header.referral_id());
  ASSERT_OK(stored);
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->referral_envelope, first);
}

TEST_F(NetworkTest, ABatchRefusedAsAWholeChangesNothing) {
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  ExchangeClient staff(ports_["nvn"], "toscana/operator");
  std::vector<std::string> too_many;
  for (size_t i = 0; i <= broker::Node::kMaxBatchEnvelopes; ++i) {
    too_many.push_back(SignReferral(*op, NewUuid(), "nvn"));
  }
  struct Case {
    std::string name;
    ExchangeClient* client;
    std::vector<std::string> envelopes;
    absl::StatusCode code;
    v1::ErrorReason reason;
  };
  std::vector<Case> cases = {
      {"no envelope", &toscana, {}, absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE},
      {"one more than a batch holds", &toscana, too_many, absl::StatusCode::kInvalidArgument,
       v1::MALFORMED_ENVELOPE},
      {"a staff certificate",
       &staff,
       {SignReferral(*op, NewUuid(), "nvn")},
       absl::StatusCode::kPermissionDenied,
       v1::PEER_MISMATCH},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(MIR_STATUS(c.client->DeliverBatch(c.envelopes)), StatusIsReason(c.code, c.reason));
  }
  EXPECT_EQ(ReferralCount(Store("nvn")), 0u);
}

// The receipts toscana holds for what it delivered to nvn: how many
// distinct ones, over how many envelopes.
std::pair<size_t, size_t> DistinctReceipts(storage::Store& store) {
  auto delivered = store.ListOutbox(storage::OutboxState::kDelivered, 1000);
  EXPECT_OK(delivered);
  std::set<std::string> receipts;
  for (const storage::OutboxEntry& entry : *delivered) receipts.insert(entry.receipt);
  return {receipts.size(), delivered->size()};
}

class BatchSenderTest : public NetworkTest {
 protected:
  // 30 referrals queued at toscana while nvn is down, then nvn started:
  // every one delivered once, each delivery's receipt verified.
  void DeliverABacklog() {
    ASSERT_TRUE(StartNode("toscana"));
    for (int i = 0; i < 30; ++i) ids_.push_back(SubmitReferral("nvn"));
    ASSERT_TRUE(StartNode("nvn"));
    ASSERT_TRUE(WaitFor(
        [&] { return OutboxCount(Store("toscana"), storage::OutboxState::kDelivered) == 30; }));
    for (const std::string& id : ids_) {
      ASSERT_TRUE(StateIs("toscana", id, v1::RECEIVED));
      auto timeline = Store("nvn").Timeline(id);
      ASSERT_OK(timeline);
      EXPECT_EQ(timeline->size(), 2u) << "one SUBMITTED and one RECEIVED, nothing twice";
    }
    auto delivered = Store("toscana").ListOutbox(storage::OutboxState::kDelivered, 100);
    ASSERT_OK(delivered);
    for (const storage::OutboxEntry& entry : *delivered) {
      EXPECT_OK(VerifyReceipt(NodeAt("toscana").verifier(), entry.receipt, "nvn", entry.message_id,
                              Sha256(entry.envelope)));
    }
  }
  std::vector<std::string> ids_;
};

TEST_F(BatchSenderTest, ABacklogGoesInBatchesWithOneReceiptEach) {
  options_["toscana"].delivery_batch_max = 8;
  DeliverABacklog();
  const auto [receipts, envelopes] = DistinctReceipts(Store("toscana"));
  EXPECT_EQ(envelopes, 30u);
  EXPECT_LT(receipts, envelopes) << "some envelopes shared their batch's receipt";
  EXPECT_GE(receipts, 30u / 8) << "no batch above delivery_batch_max";
}

// nvn has no route to veneto. The referral for veneto goes in the batch
// with the backlog's others (its key release follows it, one envelope per
// referral on the wire): both are refused for good and become dead letters
// with the reason, and the others of that batch are delivered.
TEST_F(BatchSenderTest, ARefusalInsideABatchDeadLettersThatEnvelopeAlone) {
  ASSERT_TRUE(LetToscanaSealForVeneto());
  ASSERT_TRUE(StartNode("toscana"));
  for (int i = 0; i < 6; ++i) ids_.push_back(SubmitReferral("nvn"));
  SubmitReferral("veneto");
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(WaitFor([&] {
    return OutboxCount(Store("toscana"), storage::OutboxState::kDelivered) == 6 &&
           OutboxCount(Store("toscana"), storage::OutboxState::kDead) == 2;
  }));
  auto dead = Store("toscana").ListOutbox(storage::OutboxState::kDead, 10);
  ASSERT_OK(dead);
  for (const storage::OutboxEntry& entry : *dead) {
    EXPECT_NE(entry.last_error.find("UNKNOWN_NODE"), std::string::npos) << entry.last_error;
  }
  for (const std::string& id : ids_) ASSERT_TRUE(StateIs("toscana", id, v1::RECEIVED));
  const auto [receipts, envelopes] = DistinctReceipts(Store("toscana"));
  EXPECT_LT(receipts, envelopes) << "the deliveries came in a batch";
}

TEST_F(BatchSenderTest, ANodeFromBeforeBatchesGetsEachEnvelopeByDeliver) {
  // nvn plays a node from before batches: it answers DeliverBatch
  // UNIMPLEMENTED and sends each envelope by Deliver.
  options_["nvn"].serve_delivery_batches = false;
  options_["nvn"].delivery_batch_max = 1;
  DeliverABacklog();
  const auto [receipts, envelopes] = DistinctReceipts(Store("toscana"));
  EXPECT_EQ(receipts, envelopes) << "one receipt per envelope: each went by Deliver";
  auto dead = Store("toscana").ListOutbox(storage::OutboxState::kDead, 10);
  ASSERT_OK(dead);
  EXPECT_TRUE(dead->empty()) << "UNIMPLEMENTED is not a refusal of the envelopes";
  // And back the other way: the old node's RECEIVED answers reached toscana
  // (asserted above), each by Deliver from a sender that never batched. nvn
  // records each delivery once toscana's receipt is back: wait for it.
  ASSERT_TRUE(
      WaitFor([&] { return OutboxCount(Store("nvn"), storage::OutboxState::kDelivered) == 30; }));
  const auto [back_receipts, back_envelopes] = DistinctReceipts(Store("nvn"));
  EXPECT_EQ(back_receipts, 30u);
  EXPECT_EQ(back_envelopes, 30u);
}

}  // namespace
}  // namespace mir::testing
