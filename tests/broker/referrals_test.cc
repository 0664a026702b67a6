// The staff and partner workflow through the Referrals API, across three
// real brokers over loopback mutual TLS.

#include <sqlite3.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>

#include "common/grpc_status.h"
#include "grpcpp/client_context.h"
#include "tests/broker/network_fixture.h"
#include "tests/broker/staff_client.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;

using ReferralsTest = NetworkTest;

TEST_F(ReferralsTest, CompleteMirAcrossThreeNodes) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  StaffClient national = Staff("nvn/operator");
  StaffClient lombardia = Staff("lombardia/operator");
  StaffClient shelter = Staff("lombardia/partner");

  // A Tuscany operator submits an emergency referral to the national node.
  auto id = anna.SubmitReferral("nvn", v1::URGENCY_EMERGENCY_24H);
  ASSERT_OK(id);
  ASSERT_TRUE(StateIs("toscana", *id, v1::RECEIVED));
  // National staff take it into evaluation and route it to Lombardy.
  ASSERT_OK(national.Transition(*id, v1::UNDER_EVALUATION));
  ASSERT_OK(national.Transition(*id, v1::SUBMITTED, "lombardia"));
  ASSERT_TRUE(StateIs("lombardia", *id, v1::RECEIVED));
  ASSERT_TRUE(StateIs("toscana", *id, v1::RECEIVED));
  // Lombardy evaluates, circulates it to a partner, who proposes a place.
  ASSERT_OK(lombardia.Transition(*id, v1::UNDER_EVALUATION));
  ASSERT_OK(lombardia.Circulate(*id, shelter.identity().Uri()));
  ASSERT_OK(shelter.Transition(*id, v1::PLACEMENT_PROPOSED));
  // Tuscany accepts and schedules the transfer.
  ASSERT_TRUE(StateIs("toscana", *id, v1::PLACEMENT_PROPOSED));
  ASSERT_OK(anna.Transition(*id, v1::PLACEMENT_ACCEPTED));
  ASSERT_TRUE(StateIs("lombardia", *id, v1::PLACEMENT_ACCEPTED));
  ASSERT_OK(anna.Transition(*id, v1::TRANSFER_SCHEDULED));
  // The partner confirms the placement; the national node closes the MIR.
  ASSERT_TRUE(StateIs("lombardia", *id, v1::TRANSFER_SCHEDULED));
  ASSERT_OK(shelter.Transition(*id, v1::PLACEMENT_CONFIRMED));
  ASSERT_TRUE(StateIs("nvn", *id, v1::PLACEMENT_CONFIRMED));
  ASSERT_OK(national.Transition(*id, v1::CLOSED_POSITIVE));
  for (const char* node : {"nvn", "toscana", "lombardia"}) {
    SCOPED_TRACE(node);
    EXPECT_TRUE(StateIs(node, *id, v1::CLOSED_POSITIVE));
  }

  // Tuscany's timeline: every step, who made it, and apart from it the
  // receipts proving each of its own messages arrived.
  ASSERT_TRUE(WaitFor([&] {
    auto view = anna.Get(*id);
    if (!view.ok()) return false;
    for (const auto& event : view->timeline()) {
      if (event.sender_node() != "toscana") continue;
      if (event.delivery_size() != 1 ||
          event.delivery(0).status() != v1::DeliveryProof::DELIVERED) {
        return false;
      }
    }
    return true;
  }));
  auto view = anna.Get(*id);
  ASSERT_OK(view);
  std::vector<v1::ReferralState> states;
  for (const auto& event : view->timeline()) states.push_back(event.state());
  EXPECT_EQ(states,
            (std::vector<v1::ReferralState>{
                v1::SUBMITTED, v1::RECEIVED, v1::UNDER_EVALUATION, v1::SUBMITTED, v1::RECEIVED,
                v1::UNDER_EVALUATION, v1::PLACEMENT_PROPOSED, v1::PLACEMENT_ACCEPTED,
                v1::TRANSFER_SCHEDULED, v1::PLACEMENT_CONFIRMED, v1::CLOSED_POSITIVE}));
  EXPECT_EQ(view->timeline(0).actor(), "mir://toscana/operator/op1");
  EXPECT_EQ(view->timeline(0).delivery(0).peer_node(), "nvn");
  EXPECT_FALSE(view->timeline(0).delivery(0).receipt().empty());
  EXPECT_EQ(view->timeline(6).actor(), "mir://lombardia/partner/shelter1");
  EXPECT_EQ(view->timeline(6).delivery(0).status(), v1::DeliveryProof::RECEIVED_HERE);
  EXPECT_EQ(view->summary().destination_node(), "lombardia");
  // Lombardy holds the original referral, verified end to end, and opened
  // with the key Toscana released to it.
  ASSERT_TRUE(WaitFor([&] {
    auto view = lombardia.Get(*id);
    return view.ok() && view->sealed_state() == v1::SEALED_OPEN;
  }));
  auto at_lombardia = lombardia.Get(*id);
  ASSERT_OK(at_lombardia);
  EXPECT_EQ(at_lombardia->referral().person_code(), "TEST-PERSON");
  EXPECT_EQ(at_lombardia->referral().origin_node(), "toscana");
}

// The first column of the first row of `sql` on the node database at
// `path`, read-only beside the running broker; "<error>" if it fails.
std::string QueryNodeDb(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out = "<error>";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out = text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db);
  return out;
}

// Schema v14: the referral toscana forwards and the RECEIVED nvn answers
// with are each kept once, in the events row their outbox row (and at the
// origin the referral's row) names; the referral still reads whole.
TEST_F(ReferralsTest, EachNodeKeepsTheEnvelopesItForwardsOnce) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  auto id = anna.SubmitReferral("nvn", v1::URGENCY_ORDINARY);
  ASSERT_OK(id);
  ASSERT_TRUE(StateIs("toscana", *id, v1::RECEIVED));
  const std::string kNamedEmpty = "SELECT COUNT(*) FROM outbox WHERE referral_id = '" + *id +
                                  "' AND length(envelope) = 0 AND envelope_event_id IS NOT NULL";
  const std::string kInline =
      "SELECT COUNT(*) FROM outbox WHERE referral_id = '" + *id + "' AND length(envelope) > 0";
  // toscana: the REFERRAL (and the key release, which is no event, inline).
  EXPECT_EQ(QueryNodeDb(options_["toscana"].database_path, kNamedEmpty), "1");
  EXPECT_EQ(QueryNodeDb(options_["toscana"].database_path,
                        "SELECT length(referral_envelope) FROM referrals WHERE referral_id = '" +
                            *id + "'"),
            "0");
  // nvn: its RECEIVED answer.
  EXPECT_EQ(QueryNodeDb(options_["nvn"].database_path, kNamedEmpty), "1");
  EXPECT_EQ(QueryNodeDb(options_["nvn"].database_path, kInline), "0");
  auto view = anna.Get(*id);
  ASSERT_OK(view);
  EXPECT_EQ(view->referral().person_code(), "TEST-PERSON");
}

TEST_F(ReferralsTest, EachRoleIsRefusedWhereItMayNotAct) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  StaffClient toscana_partner = Staff("toscana/partner");
  auto id = anna.SubmitReferral("nvn");
  ASSERT_OK(id);
  ASSERT_TRUE(StateIs("toscana", *id, v1::RECEIVED));

  // A partner may not submit a referral.
  EXPECT_THAT(MIR_STATUS(toscana_partner.SubmitReferral("nvn")),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  // The origin may not take its own referral into evaluation.
  auto own = anna.Transition(*id, v1::UNDER_EVALUATION);
  EXPECT_THAT(MIR_STATUS(own),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION));
  // An invalid transition names the current state.
  auto early = anna.Transition(*id, v1::PLACEMENT_ACCEPTED);
  EXPECT_THAT(MIR_STATUS(early),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_NE(early.status().message().find("RECEIVED"), std::string::npos) << early.status();
  // Staff of another node may not use this node's API, nor may a node.
  StaffClient intruder(ports_["toscana"], "lombardia/operator");
  EXPECT_THAT(MIR_STATUS(intruder.List(v1::ListRequest())),
              StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
  StaffClient node(ports_["toscana"], "toscana/node");
  EXPECT_THAT(MIR_STATUS(node.List(v1::ListRequest())),
              StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
  // Only operators circulate.
  EXPECT_THAT(toscana_partner.Circulate(*id, toscana_partner.identity().Uri()),
              StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  // No referral without recorded consent.
  EXPECT_THAT(MIR_STATUS(anna.SubmitReferral("nvn", v1::URGENCY_URGENT, /*consent=*/false)),
              StatusIsReason(StatusCode::kFailedPrecondition, v1::CONSENT_MISSING));
}

TEST_F(ReferralsTest, PartnerSeesOnlyItsCirculatedReferralsAndOnlyPlacementFields) {
  StartAll();
  StaffClient veneto_like = Staff("toscana/operator");
  StaffClient lombardia = Staff("lombardia/operator");
  StaffClient shelter1 = Staff("lombardia/partner");
  StaffClient shelter2(ports_["lombardia"], "test/lombardia-partner2");
  auto mine = veneto_like.SubmitReferral("lombardia");
  auto theirs = veneto_like.SubmitReferral("lombardia");
  ASSERT_OK(mine);
  ASSERT_OK(theirs);
  ASSERT_TRUE(StateIs("lombardia", *mine, v1::RECEIVED));
  ASSERT_TRUE(StateIs("lombardia", *theirs, v1::RECEIVED));
  ASSERT_OK(lombardia.Circulate(*mine, shelter1.identity().Uri()));
  ASSERT_OK(lombardia.Circulate(*theirs, shelter2.identity().Uri()));

  auto listed = shelter1.List(v1::ListRequest());
  ASSERT_OK(listed);
  ASSERT_EQ(listed->referrals_size(), 1);
  EXPECT_EQ(listed->referrals(0).referral_id(), *mine);
  EXPECT_THAT(MIR_STATUS(shelter1.Get(*theirs)),
              StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_REFERRAL));
  EXPECT_THAT(MIR_STATUS(shelter1.Transition(*theirs, v1::REJECTED)),
              StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_REFERRAL));
  auto view = shelter1.Get(*mine);
  ASSERT_OK(view);
  EXPECT_EQ(view->referral().gender(), v1::GENDER_FEMALE);  // needed for a place
  EXPECT_EQ(view->referral().languages_size(), 1);
  EXPECT_TRUE(view->referral().person_code().empty());  // not needed: withheld
  EXPECT_TRUE(view->referral().origin_case_ref().empty());
  EXPECT_TRUE(view->referral().notes().empty());
  EXPECT_EQ(view->referral().exploitation_types_size(), 0);
  // The operator sees everything.
  auto full = lombardia.Get(*mine);
  ASSERT_OK(full);
  EXPECT_EQ(full->referral().person_code(), "TEST-PERSON");
}

// Role × call × field: no call gives a caller a referral field its role may
// not see. The test referral carries distinctive sealed values (person code,
// case reference, notes); a partner's answers must not contain them anywhere,
// and only national staff get a forward, which embeds the whole referral.
TEST_F(ReferralsTest, NoCallGivesACallerAFieldItsRoleMayNotSee) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  StaffClient national = Staff("nvn/operator");
  StaffClient lombardia = Staff("lombardia/operator");
  StaffClient shelter = Staff("lombardia/partner");
  auto id = anna.SubmitReferral("nvn");
  ASSERT_OK(id);
  ASSERT_TRUE(StateIs("nvn", *id, v1::RECEIVED));
  ASSERT_OK(national.Transition(*id, v1::UNDER_EVALUATION));
  ASSERT_OK(national.Transition(*id, v1::SUBMITTED, "lombardia"));
  ASSERT_TRUE(StateIs("lombardia", *id, v1::RECEIVED));
  ASSERT_OK(lombardia.Transition(*id, v1::UNDER_EVALUATION));
  ASSERT_OK(lombardia.Circulate(*id, shelter.identity().Uri()));
  // The referral's key reaches Lombardy from Toscana once it learns the routing.
  ASSERT_TRUE(WaitFor([&] {
    auto view = lombardia.Get(*id);
    return view.ok() && view->sealed_state() == v1::SEALED_OPEN;
  }));

  auto prepare = [&](StaffClient& who, v1::MessageKind kind, const std::string& destination) {
    return [&who, kind, destination, &id]() -> absl::StatusOr<std::string> {
      v1::PrepareRequest request;
      request.set_kind(kind);
      request.set_referral_id(*id);
      request.set_destination_node(destination);
      grpc::ClientContext context;
      v1::PrepareResponse response;
      grpc::Status status = who.stub().Prepare(&context, request, &response);
      if (!status.ok()) return FromGrpcStatus(status);
      return response.SerializeAsString();
    };
  };
  auto get = [&](StaffClient& who) {
    return [&who, &id]() -> absl::StatusOr<std::string> {
      auto view = who.Get(*id);
      if (!view.ok()) return view.status();
      return view->SerializeAsString();
    };
  };
  auto list = [&](StaffClient& who) {
    return [&who]() -> absl::StatusOr<std::string> {
      auto listed = who.List(v1::ListRequest());
      if (!listed.ok()) return listed.status();
      return listed->SerializeAsString();
    };
  };
  enum Expect { kNoSealedField, kSealedFieldsShown, kRefused };
  struct Case {
    std::string name;
    std::function<absl::StatusOr<std::string>()> call;
    Expect expect;
  };
  const std::vector<Case> cases = {
      {"partner Prepare forward to toscana", prepare(shelter, v1::STATUS_CHANGE, "toscana"),
       kRefused},
      {"partner Prepare forward to nvn", prepare(shelter, v1::STATUS_CHANGE, "nvn"), kRefused},
      {"partner Prepare status change", prepare(shelter, v1::STATUS_CHANGE, ""), kNoSealedField},
      {"partner Prepare confirmation", prepare(shelter, v1::PLACEMENT_CONFIRMATION, ""),
       kNoSealedField},
      {"partner Get", get(shelter), kNoSealedField},
      {"partner List", list(shelter), kNoSealedField},
      {"regional operator Prepare forward", prepare(lombardia, v1::STATUS_CHANGE, "toscana"),
       kRefused},
      {"origin operator Prepare forward", prepare(anna, v1::STATUS_CHANGE, "lombardia"), kRefused},
      {"regional operator Get", get(lombardia), kSealedFieldsShown},
      // The forward carries the original referral, sealed: the hub's staff
      // never see the sealed fields (PROTOCOL.md §11).
      {"national operator Prepare forward", prepare(national, v1::STATUS_CHANGE, "toscana"),
       kNoSealedField},
      {"national operator Get", get(national), kNoSealedField},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::string> answer = c.call();
    if (c.expect == kRefused) {
      EXPECT_THAT(answer.status(),
                  StatusIsReason(StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
      continue;
    }
    ASSERT_OK(answer);
    for (const char* sealed : {"TEST-PERSON", "TEST-CASE", "fictional test notes"}) {
      const bool shown = answer->find(sealed) != std::string::npos;
      EXPECT_EQ(shown, c.expect == kSealedFieldsShown) << sealed;
    }
  }

  // Field by field: what a partner's Get holds is within the placement fields.
  const std::set<std::string> placement_fields = {
      "referral_id", "origin_node", "destination_node", "urgency",           "requested_services",
      "gender",      "age_band",    "languages",        "mediator_language", "mediator_same_gender",
      "needs",       "dependents",  "programme_phase"};
  auto view = shelter.Get(*id);
  ASSERT_OK(view);
  std::vector<const google::protobuf::FieldDescriptor*> set_fields;
  view->referral().GetReflection()->ListFields(view->referral(), &set_fields);
  EXPECT_FALSE(set_fields.empty());
  for (const auto* field : set_fields) {
    EXPECT_TRUE(placement_fields.count(field->name())) << field->name() << " shown to a partner";
  }
}

TEST_F(ReferralsTest, ListFiltersByDirectionAndState) {
  StartAll();
  StaffClient anna = Staff("toscana/operator");
  StaffClient lombardia = Staff("lombardia/operator");
  auto outbound = anna.SubmitReferral("lombardia");
  auto inbound = lombardia.SubmitReferral("toscana", v1::URGENCY_URGENT);
  ASSERT_OK(outbound);
  ASSERT_OK(inbound);
  ASSERT_TRUE(StateIs("toscana", *inbound, v1::RECEIVED));
  ASSERT_TRUE(StateIs("toscana", *outbound, v1::RECEIVED));
  v1::ListRequest out_only;
  out_only.set_direction(v1::DIRECTION_OUTBOUND);
  auto listed = anna.List(out_only);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->referrals_size(), 1);
  EXPECT_EQ(listed->referrals(0).referral_id(), *outbound);
  v1::ListRequest urgent_inbound;
  urgent_inbound.set_direction(v1::DIRECTION_INBOUND);
  urgent_inbound.set_urgency(v1::URGENCY_URGENT);
  urgent_inbound.add_states(v1::RECEIVED);
  listed = anna.List(urgent_inbound);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->referrals_size(), 1);
  EXPECT_EQ(listed->referrals(0).referral_id(), *inbound);
}

TEST_F(ReferralsTest, WatchPushesNewInboundReferralsAndStatusChanges) {
  StartAll();
  StaffClient national = Staff("nvn/operator");
  StaffClient anna = Staff("toscana/operator");
  grpc::ClientContext context;
  auto reader = national.stub().Watch(&context, v1::WatchRequest());
  // Initial metadata arrives once the server has subscribed the stream.
  reader->WaitForInitialMetadata();
  auto id = anna.SubmitReferral("nvn", v1::URGENCY_EMERGENCY_24H);
  ASSERT_OK(id);
  v1::WatchEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.referral().referral_id(), *id);
  EXPECT_EQ(event.event().state(), v1::SUBMITTED);
  EXPECT_EQ(event.referral().urgency(), v1::URGENCY_EMERGENCY_24H);
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.event().state(), v1::RECEIVED);
  context.TryCancel();
  while (reader->Read(&event)) {
  }
}

class DeadlineTest : public NetworkTest {
 protected:
  DeadlineTest() { clock_ = &fake_; }
  FakeClock fake_{absl::Now()};
};

TEST_F(DeadlineTest, OverdueEmergencyAlarmsOnTheSendingSideAndClears) {
  options_["toscana"].deadline_check_interval = absl::Hours(1);  // the test drives Check()
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  StaffClient anna(ports_["toscana"], "toscana/operator");
  StaffClient national(ports_["nvn"], "nvn/operator");
  auto id = anna.SubmitReferral("nvn", v1::URGENCY_EMERGENCY_24H);
  auto ordinary = anna.SubmitReferral("nvn", v1::URGENCY_ORDINARY);
  // An author may not push the deadline past the node's policy.
  auto relaxed =
      anna.SubmitReferral("nvn", v1::URGENCY_EMERGENCY_24H, true, fake_.Now() + absl::Hours(24));
  ASSERT_OK(id);
  ASSERT_OK(ordinary);
  ASSERT_OK(relaxed);
  ASSERT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), *id) == v1::RECEIVED; }));
  EXPECT_TRUE(brokers_["toscana"]->deadlines().Check().empty());

  fake_.Advance(absl::Minutes(16));  // past the 15-minute default
  auto alarms = brokers_["toscana"]->deadlines().Check();
  std::sort(alarms.begin(), alarms.end());
  std::vector<std::string> expected = {*id, *relaxed};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(alarms, expected);
  v1::ListRequest overdue;
  overdue.set_overdue_only(true);
  auto listed = anna.List(overdue);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->referrals_size(), 2);
  EXPECT_TRUE(listed->referrals(0).overdue());
  // nvn is the receiving side: it shows the referral overdue but raises no alarm.
  EXPECT_TRUE(brokers_["nvn"]->deadlines().Check().empty());

  for (const std::string* referral : {&*id, &*relaxed}) {
    ASSERT_OK(national.Transition(*referral, v1::UNDER_EVALUATION));
    ASSERT_TRUE(
        WaitFor([&] { return StateAt(Store("toscana"), *referral) == v1::UNDER_EVALUATION; }));
  }
  EXPECT_TRUE(brokers_["toscana"]->deadlines().Check().empty());
  listed = anna.List(overdue);
  ASSERT_OK(listed);
  EXPECT_EQ(listed->referrals_size(), 0);
}

}  // namespace
}  // namespace mir::testing
