// What mirctl prints: the list table, the timeline with each delivery proof
// set apart from the business event it carried, the referral view, JSON.

#include "client/format.h"

#include "client/values.h"
#include "tests/testing/test_env.h"

namespace mir::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

google::protobuf::Timestamp At(const char* rfc3339) {
  return ToTimestamp(*ParseTimeFlag(rfc3339, "t"));
}

v1::ReferralSummary Summary(const std::string& id, const std::string& origin,
                            const std::string& destination, v1::Urgency urgency,
                            v1::ReferralState state) {
  v1::ReferralSummary s;
  s.set_referral_id(id);
  s.set_origin_node(origin);
  s.set_destination_node(destination);
  s.set_urgency(urgency);
  s.set_state(state);
  *s.mutable_created_at() = At("2025-03-01T03:10:00Z");
  *s.mutable_updated_at() = At("2025-03-01T03:12:00Z");
  return s;
}

TEST(FormatTest, TableAlignsColumnsWithoutTrailingBlanks) {
  Table t({"A", "LONGER"});
  t.AddRow({"wide cell", "x"});
  t.AddRow({"b", ""});
  EXPECT_EQ(t.Render(),
            "A          LONGER\n"
            "wide cell  x\n"
            "b\n");
}

TEST(FormatTest, ListIsATableWithoutEnumPrefixesAndFlagsOverdue) {
  v1::ListResponse list;
  v1::ReferralSummary emergency = Summary("0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44", "toscana",
                                          "lombardia", v1::URGENCY_EMERGENCY_24H, v1::RECEIVED);
  *emergency.mutable_ack_deadline() = At("2025-03-01T03:25:00Z");
  emergency.set_overdue(true);
  *list.add_referrals() = emergency;
  *list.add_referrals() = Summary("5d0c2b8e-9f1a-4c3e-8b7d-1a2b3c4d5e6f", "lombardia", "toscana",
                                  v1::URGENCY_ORDINARY, v1::UNDER_EVALUATION);
  EXPECT_EQ(FormatSummaries(list, "toscana"),
            "ID                                    DIR  URGENCY        STATE             ORIGIN    "
            " DESTINATION  "
            "UPDATED               ACK DEADLINE\n"
            "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44  out  EMERGENCY_24H  RECEIVED          toscana   "
            " lombardia    "
            "2025-03-01 03:12 UTC  2025-03-01 03:25 UTC OVERDUE\n"
            "5d0c2b8e-9f1a-4c3e-8b7d-1a2b3c4d5e6f  in   ORDINARY       UNDER_EVALUATION  lombardia "
            " toscana      "
            "2025-03-01 03:12 UTC  -\n"
            "2 referrals, 1 OVERDUE for acknowledgement\n");
  EXPECT_THAT(FormatSummaries(list, "toscana"), Not(HasSubstr("URGENCY_")));
  EXPECT_EQ(FormatSummaries(v1::ListResponse(), "toscana"), "no referrals match\n");
}

TEST(FormatTest, DirectionIsDerivedFromTheOwnNode) {
  v1::ReferralSummary s = Summary("x", "toscana", "lombardia", v1::URGENCY_URGENT, v1::RECEIVED);
  EXPECT_EQ(Direction(s, "toscana"), "out");
  EXPECT_EQ(Direction(s, "lombardia"), "in");
  EXPECT_EQ(Direction(s, "nvn"), "via");
}

v1::DeliveryProof Proof(v1::DeliveryProof::Status status, const std::string& peer,
                        const char* at = nullptr, const std::string& error = "") {
  v1::DeliveryProof p;
  p.set_status(status);
  p.set_peer_node(peer);
  if (at != nullptr) *p.mutable_at() = At(at);
  p.set_last_error(error);
  return p;
}

TEST(FormatTest, EachDeliveryProofIsOnePhrase) {
  EXPECT_EQ(FormatDeliveryProof(Proof(v1::DeliveryProof::DELIVERED, "nvn", "2025-03-01T03:12:05Z")),
            "delivered to nvn, receipt verified at 2025-03-01 03:12:05 UTC");
  EXPECT_EQ(
      FormatDeliveryProof(Proof(v1::DeliveryProof::PENDING, "nvn", nullptr, "connection refused")),
      "pending: queued for nvn, not yet receipted (last error: connection refused)");
  EXPECT_EQ(FormatDeliveryProof(
                Proof(v1::DeliveryProof::DEAD_LETTER, "nvn", nullptr, "deadline exceeded")),
            "dead letter: not delivered to nvn, retries given up: deadline exceeded");
  EXPECT_EQ(FormatDeliveryProof(Proof(v1::DeliveryProof::REPLACED, "toscana", nullptr,
                                      "replaced by single STATUS_CHANGEs")),
            "replaced: toscana refused this envelope's kind; what it carried went again on its "
            "own: replaced by single STATUS_CHANGEs");
  EXPECT_EQ(FormatDeliveryProof(
                Proof(v1::DeliveryProof::RECEIVED_HERE, "toscana", "2025-03-01T03:12:05Z")),
            "received here from toscana at 2025-03-01 03:12:05 UTC, receipt given");
  EXPECT_EQ(FormatDeliveryProof(v1::DeliveryProof()), "delivery status unknown");
}

google::protobuf::RepeatedPtrField<v1::TimelineEvent> Timeline() {
  google::protobuf::RepeatedPtrField<v1::TimelineEvent> timeline;
  v1::TimelineEvent* submitted = timeline.Add();
  submitted->set_sequence(1);
  submitted->set_sender_node("toscana");
  submitted->set_state(v1::SUBMITTED);
  submitted->set_actor("mir://toscana/operator/op1");
  *submitted->mutable_at() = At("2025-03-01T03:12:00Z");
  *submitted->add_delivery() = Proof(v1::DeliveryProof::DELIVERED, "nvn", "2025-03-01T03:12:05Z");
  v1::TimelineEvent* rejected = timeline.Add();
  rejected->set_sequence(2);
  rejected->set_sender_node("nvn");
  rejected->set_state(v1::REJECTED);
  rejected->set_actor("mir://nvn/operator/op1");
  rejected->set_reason("NO_PLACES");
  *rejected->mutable_at() = At("2025-03-01T04:00:00Z");
  *rejected->add_delivery() =
      Proof(v1::DeliveryProof::DEAD_LETTER, "toscana", nullptr, "unreachable");
  return timeline;
}

TEST(FormatTest, TimelineSetsDeliveryProofsApartFromTheBusinessEvents) {
  EXPECT_EQ(
      FormatTimeline(Timeline()),
      "  2025-03-01 03:12:00 UTC  SUBMITTED  by mir://toscana/operator/op1 at toscana (#1)\n"
      "        delivery: delivered to nvn, receipt verified at 2025-03-01 03:12:05 UTC\n"
      "  2025-03-01 04:00:00 UTC  REJECTED   by mir://nvn/operator/op1 at nvn (#2)  reason: "
      "NO_PLACES\n"
      "        delivery: dead letter: not delivered to toscana, retries given up: unreachable\n");
}

TEST(FormatTest, ViewShowsSummaryFieldsAndTimeline) {
  v1::ReferralView view;
  *view.mutable_summary() = Summary("0b6f1c9e", "toscana", "nvn", v1::URGENCY_URGENT, v1::REJECTED);
  view.mutable_referral()->set_person_code("TOS-7Q2M");
  view.mutable_referral()->add_requested_services(v1::SERVICE_SECOND_RECEPTION);
  view.mutable_referral()->add_requested_services(v1::SERVICE_MEDIATOR);
  view.mutable_referral()->mutable_consent()->set_given(true);
  view.mutable_referral()->mutable_consent()->set_method(v1::CONSENT_WRITTEN);
  view.mutable_referral()->set_notes("line one\nline two");
  *view.mutable_timeline() = Timeline();
  const std::string out = FormatView(view, "toscana");
  EXPECT_EQ(out.substr(0, out.find("\nTimeline")),
            "Referral 0b6f1c9e\n"
            "  state        REJECTED\n"
            "  urgency      URGENT\n"
            "  origin       toscana\n"
            "  destination  nvn\n"
            "  direction    out\n"
            "  created      2025-03-01 03:10 UTC\n"
            "  updated      2025-03-01 03:12 UTC\n"
            "\n"
            "Fields\n"
            "  person code         TOS-7Q2M\n"
            "  requested services  SECOND_RECEPTION, MEDIATOR\n"
            "  consent given       yes\n"
            "  consent method      WRITTEN\n"
            "  notes               line one\n"
            "                      line two\n");
  EXPECT_THAT(
      out,
      HasSubstr("Timeline (what happened; indented \"delivery:\" lines are transport proofs, not "
                "answers)\n  2025-03-01 03:12:00 UTC  SUBMITTED"));
}

TEST(FormatTest, APartnersReducedViewSaysSo) {
  v1::ReferralView view;
  *view.mutable_summary() =
      Summary("0b6f1c9e", "toscana", "lombardia", v1::URGENCY_URGENT, v1::RECEIVED);
  EXPECT_THAT(FormatView(view, "lombardia"), HasSubstr("Fields\n  (no fields visible to you)\n"));
}

TEST(FormatTest, JsonIsProtobufJsonWithFullEnumNames) {
  v1::ListResponse list;
  *list.add_referrals() = Summary("x", "toscana", "nvn", v1::URGENCY_EMERGENCY_24H, v1::RECEIVED);
  const std::string json = ToJson(list, /*pretty=*/false);
  EXPECT_EQ(json,
            "{\"referrals\":[{\"referralId\":\"x\",\"originNode\":\"toscana\",\"destinationNode\":"
            "\"nvn\","
            "\"urgency\":\"URGENCY_EMERGENCY_24H\",\"state\":\"RECEIVED\",\"createdAt\":\"2025-03-"
            "01T03:10:00Z\","
            "\"updatedAt\":\"2025-03-01T03:12:00Z\"}]}\n");
}

TEST(FormatTest, WatchDeadLettersAndSubmissionLines) {
  v1::WatchEvent event;
  *event.mutable_referral() =
      Summary("0b6f1c9e", "toscana", "lombardia", v1::URGENCY_EMERGENCY_24H, v1::RECEIVED);
  event.mutable_referral()->set_overdue(true);
  *event.mutable_event() = Timeline()[0];
  EXPECT_EQ(FormatWatchEvent(event),
            "2025-03-01 03:12:00 UTC  0b6f1c9e  EMERGENCY_24H  toscana -> lombardia  SUBMITTED by "
            "mir://toscana/operator/op1  OVERDUE\n");

  v1::ListDeadLettersResponse dead;
  EXPECT_THAT(FormatDeadLetters(dead), HasSubstr("no dead letters"));
  v1::DeadLetter* letter = dead.add_dead_letters();
  letter->set_message_id("m1");
  letter->set_referral_id("r1");
  letter->set_peer_node("nvn");
  letter->set_attempts(12);
  *letter->mutable_enqueued_at() = At("2025-03-01T03:12:00Z");
  letter->set_last_error("unreachable");
  EXPECT_EQ(FormatDeadLetters(dead),
            "MESSAGE  REFERRAL  PEER  ATTEMPTS  QUEUED                LAST ERROR\n"
            "m1       r1        nvn   12        2025-03-01 03:12 UTC  unreachable\n"
            "1 dead letter (retry with 'mirctl requeue MESSAGE' or 'mirctl requeue --all')\n");

  v1::SubmitResponse submitted;
  submitted.set_state(v1::PLACEMENT_ACCEPTED);
  submitted.add_message_ids("m2");
  EXPECT_EQ(FormatSubmitted(submitted, "referral r1: placement accepted"),
            "referral r1: placement accepted; state here: PLACEMENT_ACCEPTED (1 message queued for "
            "delivery)\n");
}

// mirctl node: a table of peers, and of early messages only while some wait.
TEST(FormatTest, NodeStatusListsEarlyMessagesOnlyWhileSomeWait) {
  v1::NodeStatus status;
  status.set_node_id("toscana");
  *status.mutable_at() = At("2025-03-01T03:12:00Z");
  v1::PeerStatus* nvn = status.add_peers();
  nvn->set_peer("nvn");
  nvn->set_reachable(true);
  *nvn->mutable_reachability_since() = At("2025-03-01T01:12:00Z");
  nvn->set_delivered(7);
  EXPECT_THAT(FormatNodeStatus(status), HasSubstr("nvn   yes, for 2h 0m  0        -       0     "));
  EXPECT_THAT(FormatNodeStatus(status), Not(HasSubstr("WAITING FROM")));

  v1::HeldMessages* held = status.add_held();
  held->set_node("lombardia");
  held->set_count(3);
  held->set_oldest_s(5400);
  EXPECT_THAT(FormatNodeStatus(status), HasSubstr("WAITING FROM  EARLY MESSAGES  OLDEST\n"
                                                  "lombardia     3               1h 30m\n"
                                                  "Early messages wait for the earlier ones"));
}

}  // namespace
}  // namespace mir::client
