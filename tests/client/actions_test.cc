// How a lifecycle action becomes the signed body: the node's template first,
// then the action's fields; one envelope per prepared header, same body.

#include "client/actions.h"

#include "client/values.h"
#include "crypto/envelope_bytes.h"
#include "crypto/verifier.h"
#include "tests/testing/test_env.h"

namespace mir::client {
namespace {

using ::mir::testing::PkiPath;
using ::mir::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kId[] = "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44";

Action Reject(v1::RejectionReason reason, const std::string& text = "") {
  Action a;
  a.referral_id = kId;
  a.change.set_to_state(v1::REJECTED);
  a.change.set_rejection_reason(reason);
  a.change.set_reason_text(text);
  return a;
}

TEST(ActionsTest, BodyTemplateIsReadWhenTheNodeSendsOne) {
  v1::PrepareResponse prepared;
  EXPECT_FALSE(BodyTemplate(prepared).has_value());
  prepared.mutable_body_template()->set_referral_id(kId);
  prepared.mutable_body_template()->set_from_state(v1::UNDER_EVALUATION);
  ASSERT_TRUE(BodyTemplate(prepared).has_value());
  EXPECT_EQ(BodyTemplate(prepared)->from_state(), v1::UNDER_EVALUATION);
}

TEST(ActionsTest, TheNodesTemplateIsTheStartingPoint) {
  v1::StatusChange node_template;
  node_template.set_referral_id(kId);
  node_template.set_from_state(v1::UNDER_EVALUATION);
  node_template.set_to_state(v1::SUBMITTED);
  node_template.mutable_forward()->set_to_node("lombardia");
  node_template.mutable_forward()->set_referral_envelope("original bytes");
  node_template.mutable_forward()->add_streams()->set_sender_node("toscana");

  Action forward;
  forward.referral_id = kId;
  forward.destination_node = "lombardia";
  forward.change.set_to_state(v1::SUBMITTED);
  forward.change.mutable_forward()->set_to_node("lombardia");
  forward.change.set_reason_text("places in Lombardy");
  auto body = BuildStatusChange(forward, node_template, v1::REFERRAL_STATE_UNSPECIFIED);
  ASSERT_OK(body);
  EXPECT_EQ(body->from_state(), v1::UNDER_EVALUATION);
  EXPECT_EQ(body->forward().referral_envelope(), "original bytes");
  EXPECT_EQ(body->forward().streams_size(), 1);
  EXPECT_EQ(body->forward().to_node(), "lombardia");
  EXPECT_EQ(body->reason_text(), "places in Lombardy");
}

TEST(ActionsTest, WithoutATemplateTheSeenStateIsTheFromState) {
  auto body =
      BuildStatusChange(Reject(v1::REJECTION_NO_PLACES), std::nullopt, v1::UNDER_EVALUATION);
  ASSERT_OK(body);
  EXPECT_EQ(body->referral_id(), kId);
  EXPECT_EQ(body->from_state(), v1::UNDER_EVALUATION);
  EXPECT_EQ(body->to_state(), v1::REJECTED);
  EXPECT_EQ(body->rejection_reason(), v1::REJECTION_NO_PLACES);
}

TEST(ActionsTest, ATemplateForAnotherReferralIsRefused) {
  v1::StatusChange other;
  other.set_referral_id("another");
  EXPECT_THAT(
      BuildStatusChange(Reject(v1::REJECTION_NO_PLACES), other, v1::UNDER_EVALUATION).status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ActionsTest, EachStateNeedsItsFields) {
  struct Case {
    std::string name;
    std::function<void(v1::StatusChange&)> make;
    std::string message;
  } cases[] = {
      {"reject without reason", [](v1::StatusChange& c) { c.set_to_state(v1::REJECTED); },
       "field rejection_reason is required"},
      {"close without reason", [](v1::StatusChange& c) { c.set_to_state(v1::CLOSED_NEGATIVE); },
       "field closure_reason is required"},
      {"withdraw without reason", [](v1::StatusChange& c) { c.set_to_state(v1::WITHDRAWN); },
       "field withdrawal_reason is required"},
      {"OTHER without text",
       [](v1::StatusChange& c) {
         c.set_to_state(v1::WITHDRAWN);
         c.set_withdrawal_reason(v1::WITHDRAWAL_OTHER);
       },
       "field reason_text is required when the reason is OTHER"},
      {"text too long",
       [](v1::StatusChange& c) {
         c.set_to_state(v1::UNDER_EVALUATION);
         c.set_reason_text(std::string(501, 'x'));
       },
       "field reason_text is 501 characters long, more than the 500 allowed"},
      {"proposal without project",
       [](v1::StatusChange& c) { c.set_to_state(v1::PLACEMENT_PROPOSED); },
       "field placement.project_ref is required"},
      {"proposal without date",
       [](v1::StatusChange& c) {
         c.set_to_state(v1::PLACEMENT_PROPOSED);
         c.mutable_placement()->set_project_ref("PRJ");
       },
       "field placement.available_from is required"},
      {"schedule without date", [](v1::StatusChange& c) { c.set_to_state(v1::TRANSFER_SCHEDULED); },
       "field transfer_date is required"},
      {"forward without node", [](v1::StatusChange& c) { c.set_to_state(v1::SUBMITTED); },
       "field forward.to_node must be the node id"},
      {"forward without the referral",
       [](v1::StatusChange& c) {
         c.set_to_state(v1::SUBMITTED);
         c.mutable_forward()->set_to_node("lombardia");
       },
       "field forward.referral_envelope is missing"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::StatusChange change;
    change.set_referral_id(kId);
    c.make(change);
    absl::Status status = ValidateStatusChange(change);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(status.message(), HasSubstr(c.message));
  }
  EXPECT_OK(ValidateStatusChange(*BuildStatusChange(
      Reject(v1::REJECTION_OTHER, "no places for families"), std::nullopt, v1::UNDER_EVALUATION)));
}

TEST(ActionsTest, TheSameBodyIsSignedUnderEveryHeader) {
  auto signer = Signer::FromPemFiles(PkiPath("nvn/operator.key"), PkiPath("nvn/operator.crt"));
  ASSERT_OK(signer);
  auto verifier = Verifier::FromCaPemFile(PkiPath("ca.crt"), RealClock::Get());
  ASSERT_OK(verifier);
  v1::PrepareResponse prepared;
  for (const char* recipient : {"toscana", "lombardia"}) {
    v1::EnvelopeHeader* h = prepared.add_headers();
    h->set_message_id(NewUuid());
    h->set_kind(v1::STATUS_CHANGE);
    h->set_recipient_node(recipient);
    h->set_referral_id(kId);
    h->set_sequence(4);
  }
  const std::string body = "the same body";
  auto envelopes =
      SignUnderEachHeader(**signer, prepared, v1::STATUS_CHANGE, kId, body, absl::Now());
  ASSERT_OK(envelopes);
  ASSERT_EQ(envelopes->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    auto verified = (*verifier)->Verify((*envelopes)[i]);
    ASSERT_OK(verified);
    EXPECT_EQ(verified->body, body);
    EXPECT_EQ(verified->header.recipient_node(),
              prepared.headers(static_cast<int>(i)).recipient_node());
    EXPECT_EQ(verified->header.author(), "mir://nvn/operator/op1");
    EXPECT_EQ(verified->header.sender_node(), "nvn");
  }
}

TEST(ActionsTest, HeadersForAnotherReferralOrKindAreNotSigned) {
  auto signer = Signer::FromPemFiles(PkiPath("nvn/operator.key"), PkiPath("nvn/operator.crt"));
  ASSERT_OK(signer);
  v1::PrepareResponse prepared;
  prepared.add_headers()->set_referral_id("another");
  EXPECT_THAT(
      SignUnderEachHeader(**signer, prepared, v1::STATUS_CHANGE, kId, "b", absl::Now()).status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
  prepared.mutable_headers(0)->set_referral_id(kId);
  prepared.mutable_headers(0)->set_kind(v1::REFERRAL);
  EXPECT_THAT(
      SignUnderEachHeader(**signer, prepared, v1::STATUS_CHANGE, kId, "b", absl::Now()).status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      SignUnderEachHeader(**signer, v1::PrepareResponse(), v1::STATUS_CHANGE, kId, "b", absl::Now())
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ActionsTest, ANewReferralsHeaderIsMadeHereWithFreshIds) {
  const absl::Time now = absl::FromUnixSeconds(1740821400);
  const v1::PrepareResponse a = NewReferralHeader("nvn", now);
  const v1::PrepareResponse b = NewReferralHeader("nvn", now);
  ASSERT_EQ(a.headers_size(), 1);
  const v1::EnvelopeHeader& h = a.headers(0);
  EXPECT_EQ(h.kind(), v1::REFERRAL);
  EXPECT_EQ(h.recipient_node(), "nvn");
  EXPECT_EQ(h.sequence(), 1u);
  EXPECT_EQ(h.created_at().seconds(), 1740821400);
  for (const std::string& id : {h.message_id(), h.referral_id()}) {
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '7') << id;  // UUID version 7: time-ordered for the stores' indexes
  }
  EXPECT_NE(h.message_id(), h.referral_id());
  EXPECT_NE(b.headers(0).referral_id(), h.referral_id());
  EXPECT_NE(b.headers(0).message_id(), h.message_id());
  // Signed like a prepared header.
  auto signer =
      Signer::FromPemFiles(PkiPath("toscana/operator.key"), PkiPath("toscana/operator.crt"));
  ASSERT_OK(signer);
  EXPECT_OK(SignUnderEachHeader(**signer, a, v1::REFERRAL, h.referral_id(), "b", now));
}

}  // namespace
}  // namespace mir::client
