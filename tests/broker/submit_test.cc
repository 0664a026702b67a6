// Referrals.Submit on its own: a new referral whose header the client made
// (no Prepare), and the same submission sent again after a lost answer.
// Real brokers over loopback mutual TLS, real SQLite files.

#include "broker/envelope_events.h"
#include "broker/stored_bodies.h"
#include "common/grpc_status.h"
#include "grpcpp/client_context.h"
#include "tests/broker/network_fixture.h"
#include "tests/broker/staff_client.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;

// A header as a client makes it for a new referral.
v1::EnvelopeHeader NewReferralHeader(const std::string& recipient) {
  v1::EnvelopeHeader h;
  h.set_message_id(NewUuid());
  h.set_kind(v1::REFERRAL);
  h.set_recipient_node(recipient);
  *h.mutable_created_at() = broker::ToProtoTime(absl::Now());
  h.set_referral_id(NewUuid());
  h.set_sequence(1);
  return h;
}

// A fictional referral under `h`, from the signer's node to `destination`.
std::string SignReferralUnder(const Signer& author, const v1::EnvelopeHeader& h,
                              const std::string& person_code = "TEST-PERSON",
                              std::string destination = "") {
  v1::Referral r;
  r.set_referral_id(h.referral_id());
  r.set_origin_node(author.identity().node);
  r.set_destination_node(destination.empty() ? h.recipient_node() : destination);
  r.set_person_code(person_code);
  r.set_urgency(v1::URGENCY_URGENT);
  r.mutable_consent()->set_given(true);
  SealForTest(r);
  auto signed_envelope = author.SignEnvelope(h, r.SerializeAsString());
  EXPECT_OK(signed_envelope);
  return signed_envelope.ok() ? *signed_envelope : "";
}

absl::StatusOr<v1::SubmitResponse> Submit(StaffClient& client,
                                          const std::vector<std::string>& envelopes) {
  v1::SubmitRequest request;
  for (const std::string& e : envelopes) request.add_envelopes(e);
  // A new referral goes with the key SealForTest sealed it under.
  auto header = envelopes.empty() ? std::nullopt : broker::StoredHeader(envelopes.front());
  if (header.has_value() && header->kind() == v1::REFERRAL) {
    request.set_referral_key(TestReferralKey(header->referral_id()));
  }
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::SubmitResponse response;
  grpc::Status status = client.stub().Submit(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

class SubmitTest : public NetworkTest {
 protected:
  // Events of `referral_id` at `node` in `sender`'s stream.
  int EventsFrom(const std::string& node, const std::string& referral_id,
                 const std::string& sender) {
    auto timeline = Store(node).Timeline(referral_id);
    EXPECT_OK(timeline);
    int n = 0;
    if (timeline.ok()) {
      for (const storage::Event& e : *timeline) n += e.sender_node == sender;
    }
    return n;
  }
  int OutboxRows(const std::string& node) {
    auto rows = Store(node).ListOutbox(std::nullopt, 0);
    EXPECT_OK(rows);
    return rows.ok() ? static_cast<int>(rows->size()) : -1;
  }
  int Referrals(const std::string& node) {
    auto all = Store(node).ListReferrals(0);
    EXPECT_OK(all);
    return all.ok() ? static_cast<int>(all->size()) : -1;
  }
};

TEST_F(SubmitTest, RepeatedReferralGetsTheFirstAnswerAndChangesNothing) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  StaffClient anna = Staff("toscana/operator");
  const v1::EnvelopeHeader h = NewReferralHeader("nvn");
  const std::string envelope = SignReferralUnder(*PkiSigner("toscana/operator"), h);

  auto first = Submit(anna, {envelope});
  ASSERT_OK(first);
  EXPECT_EQ(first->referral_id(), h.referral_id());
  EXPECT_EQ(first->state(), v1::SUBMITTED);
  // The referral moves on (nvn's RECEIVED) before the answer-less client resends.
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), h.referral_id()) == v1::RECEIVED; }));

  auto again = Submit(anna, {envelope});
  ASSERT_OK(again);
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(again->state(), v1::SUBMITTED);  // what the submission did, as the first time
  EXPECT_EQ(Referrals("toscana"), 1);
  EXPECT_EQ(EventsFrom("toscana", h.referral_id(), "toscana"), 1);
  EXPECT_EQ(OutboxRows("toscana"), 1);
  EXPECT_EQ(StateAt(Store("toscana"), h.referral_id()), v1::RECEIVED);
  EXPECT_EQ(EventsFrom("nvn", h.referral_id(), "toscana"), 1);
}

TEST_F(SubmitTest, RepeatedStatusChangeGetsTheFirstAnswerAndChangesNothing) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  StaffClient anna = Staff("toscana/operator");
  StaffClient national = Staff("nvn/operator");
  auto id = anna.SubmitReferral("nvn");
  ASSERT_OK(id);
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), *id) == v1::RECEIVED; }));
  auto first = national.Transition(*id, v1::UNDER_EVALUATION);
  ASSERT_OK(first);
  const int outbox = OutboxRows("nvn");

  auto again = Submit(national, national.last_signed());
  ASSERT_OK(again);
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(EventsFrom("nvn", *id, "nvn"), 2);  // RECEIVED, UNDER_EVALUATION: no second one
  EXPECT_EQ(OutboxRows("nvn"), outbox);
}

TEST_F(SubmitTest, SameMessageIdWithOtherBytesIsRefusedAndChangesNothing) {
  ASSERT_TRUE(StartNode("toscana"));  // nvn down: toscana's outbox stays as submitted
  StaffClient anna = Staff("toscana/operator");
  auto op = PkiSigner("toscana/operator");
  const v1::EnvelopeHeader h = NewReferralHeader("nvn");
  ASSERT_OK(Submit(anna, {SignReferralUnder(*op, h)}));

  v1::EnvelopeHeader later = h;
  later.mutable_created_at()->set_seconds(h.created_at().seconds() + 1);
  v1::EnvelopeHeader other_referral = h;
  other_referral.set_referral_id(NewUuid());
  const struct {
    const char* name;
    std::string envelope;
  } cases[] = {
      {"other contents", SignReferralUnder(*op, h, "TEST-OTHER")},
      {"other created_at", SignReferralUnder(*op, later)},
      {"a new referral's id", SignReferralUnder(*op, other_referral)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(MIR_STATUS(Submit(anna, {c.envelope})),
                StatusIsReason(StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
  }
  EXPECT_EQ(Referrals("toscana"), 1);
  EXPECT_EQ(EventsFrom("toscana", h.referral_id(), "toscana"), 1);
  EXPECT_EQ(OutboxRows("toscana"), 1);
  auto queued = Store("toscana").FindOutbox(h.message_id());
  ASSERT_OK(queued);
  ASSERT_TRUE(queued->has_value());
  EXPECT_EQ((*queued)->envelope, SignReferralUnder(*op, h));  // Ed25519 is deterministic
}

TEST_F(SubmitTest, NewReferralWithoutPrepareIsCheckedAsPrepareWouldCheckIt) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  StaffClient anna = Staff("toscana/operator");
  auto op = PkiSigner("toscana/operator");
  auto existing = NewReferralHeader("nvn");
  ASSERT_OK(Submit(anna, {SignReferralUnder(*op, existing)}));
  // Settled at both nodes before counting what each refusal leaves.
  ASSERT_TRUE(
      WaitFor([&] { return StateAt(Store("toscana"), existing.referral_id()) == v1::RECEIVED; }));

  auto to = [](const std::string& node) { return NewReferralHeader(node); };
  v1::EnvelopeHeader second = to("nvn");
  second.set_sequence(2);
  v1::EnvelopeHeader reused = to("nvn");
  reused.set_referral_id(existing.referral_id());
  const v1::EnvelopeHeader twice = to("nvn");
  v1::EnvelopeHeader twice_copy = twice;
  twice_copy.set_message_id(NewUuid());
  twice_copy.set_recipient_node("lombardia");
  const struct {
    const char* name;
    std::string as;  // PKI prefix; submits at its own node
    std::vector<v1::EnvelopeHeader> headers;
    StatusCode code;
    v1::ErrorReason reason;
  } cases[] = {
      {"by a partner",
       "toscana/partner",
       {to("nvn")},
       StatusCode::kPermissionDenied,
       v1::ROLE_NOT_ALLOWED},
      {"to an unknown node",
       "nvn/operator",
       {to("umbria")},
       StatusCode::kNotFound,
       v1::UNKNOWN_NODE},
      {"to its own node",
       "toscana/operator",
       {to("toscana")},
       StatusCode::kInvalidArgument,
       v1::INVALID_FIELD},
      {"to two nodes",
       "toscana/operator",
       {twice, twice_copy},
       StatusCode::kInvalidArgument,
       v1::INVALID_FIELD},
      {"with sequence 2",
       "toscana/operator",
       {second},
       StatusCode::kInvalidArgument,
       v1::INVALID_FIELD},
      {"under an existing referral's id",
       "toscana/operator",
       {reused},
       StatusCode::kAlreadyExists,
       v1::DUPLICATE_CONFLICT},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto author = PkiSigner(c.as);
    const std::string node = author->identity().node;
    std::vector<std::string> envelopes;
    for (const v1::EnvelopeHeader& h : c.headers) {
      envelopes.push_back(
          SignReferralUnder(*author, h, "TEST-PERSON", c.headers[0].recipient_node()));
    }
    const int referrals = Referrals(node), outbox = OutboxRows(node);
    StaffClient client = Staff(c.as);
    EXPECT_THAT(MIR_STATUS(Submit(client, envelopes)), StatusIsReason(c.code, c.reason));
    EXPECT_EQ(Referrals(node), referrals);
    EXPECT_EQ(OutboxRows(node), outbox);
  }
  EXPECT_EQ(EventsFrom("toscana", existing.referral_id(), "toscana"), 1);
}

}  // namespace
}  // namespace mir::testing
