// Exchange.Deliver's exactly-once acceptance (Node::Deliver): a message the
// node refuses leaves no inbox row, so its redelivery is judged again rather
// than answered as a repeat. Real brokers over loopback mutual TLS.

#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

TEST_F(NetworkTest, RefusedDeliveryIsNotRecordedSoARedeliveryIsJudgedAgain) {
  ASSERT_TRUE(StartNode("nvn"));
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  auto op = PkiSigner("toscana/operator");
  const std::string id = NewUuid();
  ASSERT_OK(toscana.Deliver(SignReferral(*op, id, "nvn")));
  ASSERT_EQ(StateAt(Store("nvn"), id), v1::RECEIVED);  // nvn acknowledged it

  // The origin resumes an evaluation that nvn has not paused: refused.
  const std::string resume = SignTransition(*op, id, v1::UNDER_EVALUATION, "nvn", 2);
  v1::Envelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(resume));
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(envelope.header()));
  EXPECT_THAT(MIR_STATUS(toscana.Deliver(resume)),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION));
  auto recorded = Store("nvn").FindInboxRecord(header.message_id());
  ASSERT_OK(recorded);
  EXPECT_EQ(*recorded, std::nullopt);

  // nvn takes it into evaluation and asks for information; the same bytes
  // are now valid, and accepted once.
  Transition("nvn/operator", id, v1::UNDER_EVALUATION, "toscana");
  Transition("nvn/operator", id, v1::INFO_REQUESTED, "toscana");
  auto accepted = toscana.Deliver(resume);
  ASSERT_OK(accepted);
  EXPECT_EQ(StateAt(Store("nvn"), id), v1::UNDER_EVALUATION);
  recorded = Store("nvn").FindInboxRecord(header.message_id());
  ASSERT_OK(recorded);
  ASSERT_TRUE(recorded->has_value());
  EXPECT_EQ((*recorded)->receipt, *accepted);
  auto again = toscana.Deliver(resume);
  ASSERT_OK(again);
  EXPECT_EQ(*again, *accepted);
}

}  // namespace
}  // namespace mir::testing
