#include "console/actions.h"

#include "absl/strings/escaping.h"
#include "console/errors.h"
#include "crypto/envelope_bytes.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace mir::console {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Session AnnaSession() {
  Session s;
  s.id = "session-a";
  s.person = Identity{"toscana", Role::kOperator, "anna"};
  return s;
}

v1::PrepareResponse TwoHeaders(const std::string& referral_id) {
  v1::PrepareResponse prepared;
  for (const char* to : {"nvn", "lombardia"}) {
    v1::EnvelopeHeader* h = prepared.add_headers();
    h->set_message_id(NewUuid());
    h->set_kind(v1::STATUS_CHANGE);
    h->set_referral_id(referral_id);
    h->set_recipient_node(to);
    h->set_sequence(3);
  }
  return prepared;
}

TEST(ConsoleActionsTest, HeadersAreThePersonsAndBytesToSignAreSection3) {
  const std::string id = NewUuid();
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  auto action = MakeUnsigned(AnnaSession(), TwoHeaders(id), v1::STATUS_CHANGE, id, "body", now);
  ASSERT_TRUE(action.ok()) << action.status();
  ASSERT_EQ(action->headers.size(), 2u);
  v1::EnvelopeHeader header;
  ASSERT_TRUE(header.ParseFromString(action->headers[0]));
  EXPECT_EQ(header.author(), "mir://toscana/operator/anna");
  EXPECT_EQ(header.sender_node(), "toscana");
  EXPECT_EQ(header.created_at().seconds(), 1'800'000'000);
  const std::vector<std::string> to_sign = BytesToSign(*action);
  ASSERT_EQ(to_sign.size(), 2u);
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(to_sign[1], &bytes));
  EXPECT_EQ(bytes, SignedBytes(action->headers[1], "body"));

  // A header about another referral is refused (a node bug).
  EXPECT_FALSE(
      MakeUnsigned(AnnaSession(), TwoHeaders(NewUuid()), v1::STATUS_CHANGE, id, "body", now).ok());
}

TEST(ConsoleActionsTest, EnvelopesFromSignatures) {
  const std::string id = NewUuid();
  auto action =
      MakeUnsigned(AnnaSession(), TwoHeaders(id), v1::STATUS_CHANGE, id, "body", absl::Now());
  ASSERT_TRUE(action.ok());
  const std::string sig = absl::Base64Escape(std::string(64, '\x01'));
  auto envelopes = SignedEnvelopes(*action, "der", {sig, sig});
  ASSERT_TRUE(envelopes.ok()) << envelopes.status();
  v1::Envelope envelope;
  ASSERT_TRUE(envelope.ParseFromString((*envelopes)[1]));
  EXPECT_EQ(envelope.header(), action->headers[1]);
  EXPECT_EQ(envelope.body(), "body");
  EXPECT_EQ(envelope.signature().algorithm(), v1::ED25519);
  EXPECT_EQ(envelope.signature().certificate(), "der");
  EXPECT_EQ(envelope.signature().value(), std::string(64, '\x01'));

  EXPECT_EQ(FieldOf(SignedEnvelopes(*action, "der", {sig}).status()), "signatures");
  EXPECT_FALSE(SignedEnvelopes(*action, "der", {sig, "AAAA"}).ok());
  EXPECT_FALSE(SignedEnvelopes(*action, "der", {sig, "not base64!"}).ok());
}

TEST(ConsoleActionsTest, TokensAreSingleUseForFiveMinutesInTheirSession) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  PendingActions pending(&clock);
  UnsignedAction a;
  a.session_id = "session-a";
  a.body = "a";
  const std::string token = pending.Add(a);
  EXPECT_EQ(token.size(), 43u);
  EXPECT_EQ(ReasonOf(pending.Take(token, "session-b").status()), kTokenUnknown);
  EXPECT_EQ(ReasonOf(pending.Take("altered" + token, "session-a").status()), kTokenUnknown);
  auto taken = pending.Take(token, "session-a");
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(taken->body, "a");
  EXPECT_EQ(ReasonOf(pending.Take(token, "session-a").status()), kTokenUnknown);

  const std::string late = pending.Add(a);
  clock.Advance(absl::Minutes(5));
  EXPECT_EQ(ReasonOf(pending.Take(late, "session-a").status()), kTokenUnknown);

  const std::string ended = pending.Add(a);
  pending.EndSession("session-a");
  EXPECT_FALSE(pending.Take(ended, "session-a").ok());
}

v1::ReferralSummary Summary(v1::ReferralState state, const std::string& origin,
                            const std::string& destination) {
  v1::ReferralSummary s;
  s.set_referral_id(NewUuid());
  s.set_origin_node(origin);
  s.set_destination_node(destination);
  s.set_state(state);
  return s;
}

TEST(ConsoleActionsTest, AllowedActionsFollowLifecycleAndRole) {
  const Identity toscana_op{"toscana", Role::kOperator, "anna"};
  const Identity lombardia_op{"lombardia", Role::kOperator, "bea"};
  const Identity lombardia_partner{"lombardia", Role::kPartner, "casa"};
  const Identity nvn_op{"nvn", Role::kOperator, "carla"};

  // The origin's operator on SUBMITTED: withdraw only.
  const std::string origin =
      AllowedActionsJson(Summary(v1::SUBMITTED, "toscana", "lombardia"), toscana_op, "nvn");
  EXPECT_THAT(origin, HasSubstr("\"toState\": \"WITHDRAWN\""));
  EXPECT_THAT(origin, HasSubstr("WITHDRAWAL_PERSON_LEFT"));
  EXPECT_THAT(origin, Not(HasSubstr("UNDER_EVALUATION")));

  // The destination's operator on RECEIVED: evaluate; never withdraw.
  const std::string dest =
      AllowedActionsJson(Summary(v1::RECEIVED, "toscana", "lombardia"), lombardia_op, "nvn");
  EXPECT_THAT(dest, HasSubstr("\"toState\": \"UNDER_EVALUATION\""));
  EXPECT_THAT(dest, Not(HasSubstr("WITHDRAWN")));

  // The destination's partner under evaluation: propose or reject.
  const std::string partner = AllowedActionsJson(
      Summary(v1::UNDER_EVALUATION, "toscana", "lombardia"), lombardia_partner, "nvn");
  EXPECT_THAT(partner, HasSubstr("\"toState\": \"PLACEMENT_PROPOSED\""));
  EXPECT_THAT(partner, HasSubstr("placement.projectRef"));
  EXPECT_THAT(partner, HasSubstr("\"toState\": \"REJECTED\""));
  EXPECT_THAT(partner, Not(HasSubstr("INFO_REQUESTED")));

  // The partner confirms a placement with a PLACEMENT_CONFIRMATION.
  const std::string confirm = AllowedActionsJson(
      Summary(v1::TRANSFER_SCHEDULED, "toscana", "lombardia"), lombardia_partner, "nvn");
  EXPECT_THAT(confirm, HasSubstr("\"kind\": \"PLACEMENT_CONFIRMATION\""));

  // Routing on: national operators only, from UNDER_EVALUATION.
  const std::string national =
      AllowedActionsJson(Summary(v1::UNDER_EVALUATION, "toscana", "nvn"), nvn_op, "nvn");
  EXPECT_THAT(national, HasSubstr("\"toState\": \"SUBMITTED\""));
  EXPECT_THAT(national, HasSubstr("\"destinationNode\": true"));
  EXPECT_THAT(AllowedActionsJson(Summary(v1::UNDER_EVALUATION, "toscana", "lombardia"),
                                 lombardia_op, "nvn"),
              Not(HasSubstr("\"toState\": \"SUBMITTED\"")));
  // A region's evaluation is its own: the national node does not route it on...
  EXPECT_THAT(
      AllowedActionsJson(Summary(v1::UNDER_EVALUATION, "toscana", "lombardia"), nvn_op, "nvn"),
      Not(HasSubstr("\"toState\": \"SUBMITTED\"")));
  // ...until the region rejects it: then, to another region.
  const std::string rejected =
      AllowedActionsJson(Summary(v1::REJECTED, "toscana", "lombardia"), nvn_op, "nvn");
  EXPECT_THAT(rejected, HasSubstr("\"toState\": \"SUBMITTED\""));
  EXPECT_THAT(rejected, HasSubstr("\"destinationNode\": true"));
  EXPECT_EQ(AllowedActionsJson(Summary(v1::REJECTED, "toscana", "nvn"), nvn_op, "nvn"), "[]");
  EXPECT_EQ(AllowedActionsJson(Summary(v1::REJECTED, "toscana", "lombardia"), toscana_op, "nvn"),
            "[]");

  // Nothing else leaves a terminal state.
  EXPECT_EQ(AllowedActionsJson(Summary(v1::WITHDRAWN, "toscana", "lombardia"), toscana_op, "nvn"),
            "[]");
}

// The national node's staff get the regions a referral could be routed on
// to as suggestions: its peers, less the origin, itself and every node that
// had the referral.
TEST(ConsoleActionsTest, RoutingOnSuggestsOnlyRegionsThatNeverHadTheReferral) {
  v1::ReferralView view;
  *view.mutable_summary() = Summary(v1::REJECTED, "toscana", "lombardia");
  for (const char* sender : {"toscana", "nvn", "veneto", "lombardia"}) {
    view.add_timeline()->set_sender_node(sender);  // veneto rejected it before
  }
  v1::NodeStatus status;
  for (const char* peer : {"toscana", "lombardia", "veneto", "piemonte", "lazio"}) {
    status.add_peers()->set_peer(peer);
  }
  EXPECT_EQ(RouteOnCandidates(view, status, "nvn"),
            (std::vector<std::string>{"lazio", "piemonte"}));

  const Identity nvn_op{"nvn", Role::kOperator, "carla"};
  auto suggested = [] { return std::vector<std::string>{"lazio", "piemonte"}; };
  EXPECT_THAT(AllowedActionsJson(view.summary(), nvn_op, "nvn", suggested),
              HasSubstr("\"destinationNode\": true, \"destinations\": [\"lazio\", \"piemonte\"]}"));
  // Only a routing on carries them, and they are asked for only then.
  int asked = 0;
  auto counted = [&] {
    ++asked;
    return std::vector<std::string>{"lazio"};
  };
  EXPECT_THAT(AllowedActionsJson(Summary(v1::RECEIVED, "toscana", "nvn"), nvn_op, "nvn", counted),
              Not(HasSubstr("destinations")));
  EXPECT_THAT(AllowedActionsJson(Summary(v1::UNDER_EVALUATION, "toscana", "lombardia"), nvn_op,
                                 "nvn", counted),
              Not(HasSubstr("destinations")));
  EXPECT_EQ(asked, 0);
}

}  // namespace
}  // namespace mir::console
