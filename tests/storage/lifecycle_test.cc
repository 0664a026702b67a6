#include "storage/lifecycle.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/storage/storage_test_util.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::StatusIsReason;
using ::testing::HasSubstr;
using namespace ::mir::storage::testing;  // NOLINT: event builders
using enum v1::ReferralState;

constexpr char kRef[] = "3f1c2a9e-0000-4000-8000-000000000001";
const std::string kNational = "nvn";

// A referral from toscana (origin) to lombardia (destination); the national
// node nvn is neither.
ReferralRecord RecordIn(v1::ReferralState state) {
  ReferralRecord r;
  r.meta.referral_id = kRef;
  r.meta.origin_node = "toscana";
  r.meta.destination_node = "lombardia";
  r.meta.urgency = v1::URGENCY_URGENT;
  r.state = state;
  return r;
}

absl::Status Check(v1::ReferralState from, const Identity& actor, v1::ReferralState to) {
  const ReferralRecord current = RecordIn(from);
  return CheckTransition(&current, Changed(kRef, actor, 1, to), kNational);
}

struct Case {
  std::string name;
  v1::ReferralState from;
  v1::ReferralState to;
  Identity actor;
  bool allowed;
};

std::vector<Case> TransitionCases() {
  std::vector<Case> cases = {
      // SUBMITTED -> RECEIVED: node, receiving side.
      {"received by destination node", SUBMITTED, RECEIVED, NodeOf("lombardia"), true},
      {"received by national node relaying", SUBMITTED, RECEIVED, NodeOf("nvn"), true},
      {"received by an operator", SUBMITTED, RECEIVED, Operator("lombardia"), false},
      {"received by the origin node", SUBMITTED, RECEIVED, NodeOf("toscana"), false},
      // RECEIVED -> UNDER_EVALUATION: operator, receiving side.
      {"evaluation by receiving operator", RECEIVED, UNDER_EVALUATION, Operator("lombardia"), true},
      {"evaluation by national operator", RECEIVED, UNDER_EVALUATION, Operator("nvn"), true},
      {"evaluation by receiving node", RECEIVED, UNDER_EVALUATION, NodeOf("lombardia"), false},
      {"evaluation by origin operator", RECEIVED, UNDER_EVALUATION, Operator("toscana"), false},
      // A node with no part in the referral (never had it, or it was routed
      // away from) is on no side.
      {"received by a node with no part", SUBMITTED, RECEIVED, NodeOf("veneto"), false},
      {"evaluation by a node with no part", RECEIVED, UNDER_EVALUATION, Operator("veneto"), false},
      {"info request by a node with no part", UNDER_EVALUATION, INFO_REQUESTED, Operator("veneto"),
       false},
      {"rejection by a node with no part", UNDER_EVALUATION, REJECTED, Operator("veneto"), false},
      {"rejection by a partner with no part", PLACEMENT_PROPOSED, REJECTED, Partner("veneto"),
       false},
      // UNDER_EVALUATION -> INFO_REQUESTED: operator, receiving side.
      {"info asked by receiving operator", UNDER_EVALUATION, INFO_REQUESTED, Operator("lombardia"),
       true},
      {"info asked by origin operator", UNDER_EVALUATION, INFO_REQUESTED, Operator("toscana"),
       false},
      {"info asked by receiving partner", UNDER_EVALUATION, INFO_REQUESTED, Partner("lombardia"),
       false},
      // INFO_REQUESTED -> UNDER_EVALUATION: operator, origin.
      {"info answered by origin operator", INFO_REQUESTED, UNDER_EVALUATION, Operator("toscana"),
       true},
      {"info answered by receiving operator", INFO_REQUESTED, UNDER_EVALUATION,
       Operator("lombardia"), false},
      {"info answered by origin node", INFO_REQUESTED, UNDER_EVALUATION, NodeOf("toscana"), false},
      // UNDER_EVALUATION -> PLACEMENT_PROPOSED: partner of the destination.
      {"place offered by destination partner", UNDER_EVALUATION, PLACEMENT_PROPOSED,
       Partner("lombardia"), true},
      {"place offered by national partner", UNDER_EVALUATION, PLACEMENT_PROPOSED, Partner("nvn"),
       false},
      {"place offered by destination operator", UNDER_EVALUATION, PLACEMENT_PROPOSED,
       Operator("lombardia"), false},
      // PLACEMENT_PROPOSED -> PLACEMENT_ACCEPTED: operator, origin.
      {"place accepted by origin operator", PLACEMENT_PROPOSED, PLACEMENT_ACCEPTED,
       Operator("toscana"), true},
      {"place accepted by destination operator", PLACEMENT_PROPOSED, PLACEMENT_ACCEPTED,
       Operator("lombardia"), false},
      {"place accepted by origin partner", PLACEMENT_PROPOSED, PLACEMENT_ACCEPTED,
       Partner("toscana"), false},
      // PLACEMENT_ACCEPTED -> TRANSFER_SCHEDULED: operator of origin or destination.
      {"transfer by origin operator", PLACEMENT_ACCEPTED, TRANSFER_SCHEDULED, Operator("toscana"),
       true},
      {"transfer by destination operator", PLACEMENT_ACCEPTED, TRANSFER_SCHEDULED,
       Operator("lombardia"), true},
      {"transfer by national operator", PLACEMENT_ACCEPTED, TRANSFER_SCHEDULED, Operator("nvn"),
       false},
      {"transfer by destination partner", PLACEMENT_ACCEPTED, TRANSFER_SCHEDULED,
       Partner("lombardia"), false},
      // TRANSFER_SCHEDULED -> PLACEMENT_CONFIRMED: partner of the destination.
      {"arrival by destination partner", TRANSFER_SCHEDULED, PLACEMENT_CONFIRMED,
       Partner("lombardia"), true},
      {"arrival by destination operator", TRANSFER_SCHEDULED, PLACEMENT_CONFIRMED,
       Operator("lombardia"), false},
      {"arrival by origin partner", TRANSFER_SCHEDULED, PLACEMENT_CONFIRMED, Partner("toscana"),
       false},
      // PLACEMENT_CONFIRMED -> CLOSED_POSITIVE: operator or node of national or destination.
      {"closed by national operator", PLACEMENT_CONFIRMED, CLOSED_POSITIVE, Operator("nvn"), true},
      {"closed by national node", PLACEMENT_CONFIRMED, CLOSED_POSITIVE, NodeOf("nvn"), true},
      {"closed by destination operator", PLACEMENT_CONFIRMED, CLOSED_POSITIVE,
       Operator("lombardia"), true},
      {"closed by destination node", PLACEMENT_CONFIRMED, CLOSED_POSITIVE, NodeOf("lombardia"),
       true},
      {"closed by origin operator", PLACEMENT_CONFIRMED, CLOSED_POSITIVE, Operator("toscana"),
       false},
      {"closed by destination partner", PLACEMENT_CONFIRMED, CLOSED_POSITIVE, Partner("lombardia"),
       false},
      // UNDER_EVALUATION / PLACEMENT_PROPOSED -> REJECTED: operator or partner, receiving.
      {"rejected by receiving operator", UNDER_EVALUATION, REJECTED, Operator("lombardia"), true},
      {"rejected by receiving partner", UNDER_EVALUATION, REJECTED, Partner("lombardia"), true},
      {"rejected by national operator", UNDER_EVALUATION, REJECTED, Operator("nvn"), true},
      {"rejected by origin operator", UNDER_EVALUATION, REJECTED, Operator("toscana"), false},
      {"rejected by receiving node", UNDER_EVALUATION, REJECTED, NodeOf("lombardia"), false},
      {"proposal rejected by partner", PLACEMENT_PROPOSED, REJECTED, Partner("lombardia"), true},
      {"proposal rejected by origin operator", PLACEMENT_PROPOSED, REJECTED, Operator("toscana"),
       false},
  };
  // Every open state -> CLOSED_NEGATIVE (national) and -> WITHDRAWN (origin operator).
  for (v1::ReferralState from :
       {SUBMITTED, RECEIVED, UNDER_EVALUATION, INFO_REQUESTED, PLACEMENT_PROPOSED,
        PLACEMENT_ACCEPTED, TRANSFER_SCHEDULED, PLACEMENT_CONFIRMED}) {
    const std::string s = v1::ReferralState_Name(from);
    cases.push_back({s + " closed negatively by national operator", from, CLOSED_NEGATIVE,
                     Operator("nvn"), true});
    cases.push_back(
        {s + " closed negatively by national node", from, CLOSED_NEGATIVE, NodeOf("nvn"), true});
    cases.push_back({s + " closed negatively by destination operator", from, CLOSED_NEGATIVE,
                     Operator("lombardia"), false});
    cases.push_back({s + " closed negatively by origin operator", from, CLOSED_NEGATIVE,
                     Operator("toscana"), false});
    cases.push_back({s + " closed negatively by national partner", from, CLOSED_NEGATIVE,
                     Partner("nvn"), false});
    cases.push_back(
        {s + " withdrawn by origin operator", from, WITHDRAWN, Operator("toscana"), true});
    cases.push_back({s + " withdrawn by origin node", from, WITHDRAWN, NodeOf("toscana"), false});
    cases.push_back(
        {s + " withdrawn by destination operator", from, WITHDRAWN, Operator("lombardia"), false});
  }
  return cases;
}

TEST(LifecycleTest, EachTransitionAllowsItsActorAndRefusesOthersWithReason) {
  for (const Case& c : TransitionCases()) {
    SCOPED_TRACE(c.name);
    const absl::Status status = Check(c.from, c.actor, c.to);
    if (c.allowed) {
      EXPECT_OK(status);
    } else {
      EXPECT_THAT(status,
                  StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION));
      EXPECT_THAT(status.message(), HasSubstr("only "));
      EXPECT_THAT(status.message(), HasSubstr(absl::StrCat("from ", v1::ReferralState_Name(c.from),
                                                           " to ", v1::ReferralState_Name(c.to))));
    }
  }
}

TEST(LifecycleTest, RefusalSaysWhoMayMakeTheTransition) {
  EXPECT_THAT(
      Check(PLACEMENT_PROPOSED, Operator("lombardia"), PLACEMENT_ACCEPTED).message(),
      HasSubstr(
          "only an operator of the origin node may move a referral from PLACEMENT_PROPOSED to "
          "PLACEMENT_ACCEPTED"));
  EXPECT_THAT(Check(UNDER_EVALUATION, Operator("lombardia"), PLACEMENT_PROPOSED).message(),
              HasSubstr("a partner of the destination node"));
}

// Every (from, to) pair outside the table is INVALID_TRANSITION, whoever asks,
// and the message names both states.
TEST(LifecycleTest, EveryPairOutsideTheTableIsAnInvalidTransition) {
  std::set<std::pair<int, int>> allowed;
  for (const Case& c : TransitionCases()) allowed.insert({c.from, c.to});
  // Routing on: RoutingOnByTheNationalNode, ARegionsRejectionIsRoutedOnByTheNationalNode.
  allowed.insert({UNDER_EVALUATION, SUBMITTED});
  allowed.insert({REJECTED, SUBMITTED});
  const std::vector<Identity> actors = {Operator("toscana"), Operator("lombardia"),
                                        Operator("nvn"),     Partner("lombardia"),
                                        NodeOf("lombardia"), NodeOf("nvn")};
  int checked = 0;
  for (int from = SUBMITTED; from <= WITHDRAWN; ++from) {
    for (int to = SUBMITTED; to <= WITHDRAWN; ++to) {
      if (allowed.count({from, to}) > 0) continue;
      const auto f = static_cast<v1::ReferralState>(from);
      const auto t = static_cast<v1::ReferralState>(to);
      for (const Identity& actor : actors) {
        SCOPED_TRACE(absl::StrCat(v1::ReferralState_Name(f), " -> ", v1::ReferralState_Name(t),
                                  " by ", actor.Uri()));
        const absl::Status status = Check(f, actor, t);
        EXPECT_THAT(status,
                    StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
        EXPECT_THAT(status.message(),
                    HasSubstr(absl::StrCat("cannot move referral from ", v1::ReferralState_Name(f),
                                           " to ", v1::ReferralState_Name(t))));
        ++checked;
      }
    }
  }
  // 12x12 pairs minus the 13 pairs of single-state rules and 2x8 "any open" ones.
  EXPECT_EQ(checked, (144 - 13 - 16) * static_cast<int>(actors.size()));
}

TEST(LifecycleTest, ExampleMessageNamesCurrentAndRequestedState) {
  const absl::Status status = Check(RECEIVED, Operator("toscana"), PLACEMENT_ACCEPTED);
  EXPECT_THAT(status,
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_EQ(status.message(), "cannot move referral from RECEIVED to PLACEMENT_ACCEPTED");
}

// The national node routes a referral it is evaluating on to a region:
// UNDER_EVALUATION -> SUBMITTED with metadata naming the new destination; the
// region, which has never seen the referral, accepts the same event as its
// submission.
TEST(LifecycleTest, RoutingOnByTheNationalNode) {
  ReferralRecord at_nvn = RecordIn(UNDER_EVALUATION);
  at_nvn.meta.destination_node = "nvn";
  Event routed = Changed(kRef, Operator("nvn"), 3, SUBMITTED);
  routed.referral = at_nvn.meta;
  routed.referral->destination_node = "lombardia";
  EXPECT_OK(CheckTransition(&at_nvn, routed, kNational));
  EXPECT_OK(CheckTransition(nullptr, routed, kNational));  // at lombardia, joining

  Event by_region = routed;
  by_region.actor = Operator("toscana");
  EXPECT_THAT(CheckTransition(&at_nvn, by_region, kNational),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION));
  Event same_destination = routed;
  same_destination.referral->destination_node = "nvn";
  EXPECT_THAT(CheckTransition(&at_nvn, same_destination, kNational),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  Event no_meta = routed;
  no_meta.referral.reset();
  EXPECT_THAT(CheckTransition(&at_nvn, no_meta, kNational),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  Event by_third_region = routed;
  by_third_region.actor = Operator("veneto");
  EXPECT_THAT(CheckTransition(nullptr, by_third_region, kNational),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION));
  Event to_origin = routed;
  to_origin.referral->destination_node = "toscana";
  EXPECT_THAT(CheckTransition(&at_nvn, to_origin, kNational),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  at_nvn.state = RECEIVED;
  EXPECT_THAT(CheckTransition(&at_nvn, routed, kNational),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));

  // Once a region evaluates it, the national node no longer moves it: the
  // region was never told and would go on with it alone.
  ReferralRecord at_region = RecordIn(UNDER_EVALUATION);  // addressed to lombardia
  Event elsewhere = routed;
  elsewhere.referral->destination_node = "veneto";
  const absl::Status status = CheckTransition(&at_region, elsewhere, kNational);
  EXPECT_THAT(status,
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_THAT(status.message(), HasSubstr("under evaluation at lombardia"));
}

// A region the national node routed a referral to rejects it: the national
// node may route it on to a region that has not seen it (REJECTED ->
// SUBMITTED), the only way out of a final state.
TEST(LifecycleTest, ARegionsRejectionIsRoutedOnByTheNationalNode) {
  const ReferralRecord rejected = RecordIn(REJECTED);  // toscana -> (nvn) -> lombardia
  Event routed = Changed(kRef, Operator("nvn"), 5, SUBMITTED);
  routed.referral = rejected.meta;
  routed.referral->destination_node = "veneto";
  routed.join_streams = {{"toscana", 1}, {"nvn", 4}, {"lombardia", 3}};
  EXPECT_OK(CheckTransition(&rejected, routed, kNational));
  EXPECT_OK(CheckTransition(nullptr, routed, kNational));  // at veneto, joining

  Event by_region = routed;
  by_region.actor = Operator("lombardia");
  EXPECT_THAT(CheckTransition(&rejected, by_region, kNational),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION));
  for (const auto& [node, what] :
       std::vector<std::pair<std::string, std::string>>{{"lombardia", "its current destination"},
                                                        {"toscana", "its origin"},
                                                        {"nvn", "the national node"}}) {
    SCOPED_TRACE(node);
    Event back = routed;
    back.referral->destination_node = node;
    const absl::Status status = CheckTransition(&rejected, back, kNational);
    EXPECT_THAT(status, StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
    EXPECT_EQ(status.message(),
              absl::StrCat("a referral is routed on to another region, and ", node, " is ", what));
  }
  // A region that held it before (rejected it earlier) keeps its copy closed.
  Event seen_before = routed;
  seen_before.join_streams.emplace_back("veneto", 3);
  const absl::Status seen = CheckTransition(&rejected, seen_before, kNational);
  EXPECT_THAT(seen, StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_THAT(seen.message(), HasSubstr("veneto had this referral before"));

  // Rejected by the national node itself, or sent by it: final.
  ReferralRecord rejected_at_nvn = rejected;
  rejected_at_nvn.meta.destination_node = "nvn";
  EXPECT_THAT(CheckTransition(&rejected_at_nvn, routed, kNational),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  ReferralRecord from_nvn = rejected;
  from_nvn.meta.origin_node = "nvn";
  Event from_nvn_routed = routed;
  from_nvn_routed.referral->origin_node = "nvn";
  EXPECT_THAT(CheckTransition(&from_nvn, from_nvn_routed, kNational),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  // No other final state is left.
  for (v1::ReferralState final_state : {CLOSED_POSITIVE, CLOSED_NEGATIVE, WITHDRAWN}) {
    SCOPED_TRACE(v1::ReferralState_Name(final_state));
    ReferralRecord closed = rejected;
    closed.state = final_state;
    EXPECT_THAT(CheckTransition(&closed, routed, kNational),
                StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  }
}

TEST(LifecycleTest, SubmissionOfUnknownReferral) {
  struct SubmitCase {
    std::string name;
    Event event;
    absl::StatusCode code;
    v1::ErrorReason reason;
  };
  Event ok = Submitted(kRef);
  Event by_partner = ok;
  by_partner.actor = Partner("toscana");
  Event by_other_node = ok;
  by_other_node.actor = Operator("lombardia");
  Event by_node = ok;
  by_node.actor = NodeOf("toscana");
  Event no_meta = ok;
  no_meta.referral.reset();
  Event other_id = ok;
  other_id.referral->referral_id = "another";
  Event bad_destination = ok;
  bad_destination.referral->destination_node = "Not A Node";
  Event unspecified = ok;
  unspecified.to_state = REFERRAL_STATE_UNSPECIFIED;
  const std::vector<SubmitCase> cases = {
      {"origin operator", ok, absl::StatusCode::kOk, v1::ERROR_REASON_UNSPECIFIED},
      {"origin partner", by_partner, absl::StatusCode::kPermissionDenied,
       v1::ROLE_MAY_NOT_TRANSITION},
      {"operator of another node", by_other_node, absl::StatusCode::kPermissionDenied,
       v1::ROLE_MAY_NOT_TRANSITION},
      {"origin node", by_node, absl::StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION},
      {"no metadata", no_meta, absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD},
      {"metadata for another referral", other_id, absl::StatusCode::kInvalidArgument,
       v1::INVALID_FIELD},
      {"bad destination id", bad_destination, absl::StatusCode::kInvalidArgument,
       v1::INVALID_FIELD},
      {"unspecified state", unspecified, absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD},
  };
  for (const SubmitCase& c : cases) {
    SCOPED_TRACE(c.name);
    const absl::Status status = CheckTransition(nullptr, c.event, kNational);
    if (c.code == absl::StatusCode::kOk) {
      EXPECT_OK(status);
    } else {
      EXPECT_THAT(status, StatusIsReason(c.code, c.reason));
    }
  }
}

TEST(LifecycleTest, AnythingButSubmissionOnAnUnknownReferralIsNotFound) {
  for (int to = RECEIVED; to <= WITHDRAWN; ++to) {
    const auto t = static_cast<v1::ReferralState>(to);
    SCOPED_TRACE(v1::ReferralState_Name(t));
    EXPECT_THAT(CheckTransition(nullptr, Changed(kRef, Operator("toscana"), 2, t), kNational),
                StatusIsReason(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL));
  }
}

TEST(LifecycleTest, OpenStates) {
  for (int s = SUBMITTED; s <= WITHDRAWN; ++s) {
    const auto state = static_cast<v1::ReferralState>(s);
    SCOPED_TRACE(v1::ReferralState_Name(state));
    const bool closed = state == CLOSED_POSITIVE || state == REJECTED || state == CLOSED_NEGATIVE ||
                        state == WITHDRAWN;
    EXPECT_EQ(IsOpenState(state), !closed);
  }
  EXPECT_FALSE(IsOpenState(REFERRAL_STATE_UNSPECIFIED));
}

}  // namespace
}  // namespace mir::storage
