// How the node core uses its store: Deliver's exactly-once acceptance (a
// refused message leaves no inbox row, so its redelivery is judged again),
// and Prepare, which only reads, never waiting for a write. Real brokers over
// loopback mutual TLS.

#include <chrono>
#include <future>
#include <thread>

#include "absl/synchronization/notification.h"
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

// Prepare reads a snapshot on the read connection: a write stuck under the
// write lock (here a Transact that waits) does not hold it up.
TEST_F(NetworkTest, PrepareDoesNotWaitForTheWriteLock) {
  ASSERT_TRUE(StartNode("toscana"));
  const std::string id = SubmitReferral("lombardia");
  absl::Notification entered;
  absl::Notification release;
  std::thread writer([&] {
    EXPECT_OK(Store("toscana").Transact([&](storage::Txn&) -> absl::Status {
      entered.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    }));
  });
  entered.WaitForNotification();
  auto op = PkiSigner("toscana/operator");
  v1::PrepareRequest request;
  request.set_kind(v1::STATUS_CHANGE);
  request.set_referral_id(id);
  auto prepared = std::async(std::launch::async,
                             [&] { return NodeAt("toscana").Prepare(op->identity(), request); });
  const bool answered = prepared.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  release.Notify();
  writer.join();
  EXPECT_TRUE(answered) << "Prepare waited for a write to finish";
  absl::StatusOr<v1::PrepareResponse> response = prepared.get();
  ASSERT_OK(response);
  ASSERT_EQ(response->headers_size(), 1);
  EXPECT_EQ(response->headers(0).sequence(), 2u);
  EXPECT_EQ(response->body_template().from_state(), v1::SUBMITTED);
}

}  // namespace
}  // namespace mir::testing
