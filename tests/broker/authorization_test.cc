// Every role × action × relation of broker/authorization.h, against the
// table in that header: who may act at a node, and the refusal of each
// other caller. A new Action must be added here, or this test fails.

#include "broker/authorization.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace mir::broker {
namespace {

using ::absl::StatusCode;
using ::mir::testing::StatusIsReason;

struct Expected {
  StatusCode code = StatusCode::kOk;
  v1::ErrorReason reason = v1::ERROR_REASON_UNSPECIFIED;
};
constexpr Expected kYes{};
constexpr Expected kPeer{StatusCode::kPermissionDenied, v1::PEER_MISMATCH};
constexpr Expected kIdm{StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH};
constexpr Expected kRole{StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED};

// Callers, by role and relation to the node at hand.
struct Caller {
  std::string name;
  Identity identity;
};

std::vector<Caller> CallersOf(const std::string& here, const std::string& elsewhere) {
  return {
      {"node, own", {here, Role::kNode, ""}},
      {"node, other", {elsewhere, Role::kNode, ""}},
      {"operator, own", {here, Role::kOperator, "anna"}},
      {"operator, other", {elsewhere, Role::kOperator, "bruno"}},
      {"partner, own", {here, Role::kPartner, "casa-aurora"}},
      {"partner, other", {elsewhere, Role::kPartner, "casa-luce"}},
  };
}

// One row per action, one column per caller of CallersOf, in that order.
struct Row {
  Action action;
  std::vector<Expected> at_a_region;           // at toscana (caller "other": lombardia)
  std::vector<Expected> at_the_national_node;  // at nvn (caller "other": toscana)
};

const std::vector<Row>& Table() {
  static const std::vector<Row> rows = {
      {Action::kDeliver,
       {kYes, kYes, kPeer, kPeer, kPeer, kPeer},
       {kYes, kYes, kPeer, kPeer, kPeer, kPeer}},
      {Action::kList, {kIdm, kIdm, kYes, kIdm, kYes, kIdm}, {kIdm, kIdm, kYes, kIdm, kYes, kIdm}},
      {Action::kGet, {kIdm, kIdm, kYes, kIdm, kYes, kIdm}, {kIdm, kIdm, kYes, kIdm, kYes, kIdm}},
      {Action::kWatch, {kIdm, kIdm, kYes, kIdm, kYes, kIdm}, {kIdm, kIdm, kYes, kIdm, kYes, kIdm}},
      {Action::kPrepare,
       {kIdm, kIdm, kYes, kIdm, kYes, kIdm},
       {kIdm, kIdm, kYes, kIdm, kYes, kIdm}},
      {Action::kSubmit, {kIdm, kIdm, kYes, kIdm, kYes, kIdm}, {kIdm, kIdm, kYes, kIdm, kYes, kIdm}},
      {Action::kCirculate,
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm},
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm}},
      {Action::kListDeadLetters,
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm},
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm}},
      {Action::kRequeue,
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm},
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm}},
      {Action::kErase,
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm},
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm}},
      {Action::kLegalHold,
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm},
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm}},
      {Action::kNodeStatus,
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm},
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm}},
      {Action::kStatistics,
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm},
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm}},
      {Action::kReports,
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm},
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm}},
      // The public report form: only the node's console, by itself (below).
      {Action::kPublicReport,
       {kIdm, kIdm, kRole, kIdm, kRole, kIdm},
       {kIdm, kIdm, kRole, kIdm, kRole, kIdm}},
      // Service requests and the roster: the node's own operators only.
      {Action::kServiceRequests,
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm},
       {kIdm, kIdm, kYes, kIdm, kRole, kIdm}},
      // Routing on: national operators at the national node, nobody else,
      // not even a region's own operators.
      {Action::kRouteOn,
       {kRole, kRole, kRole, kRole, kRole, kRole},
       {kRole, kRole, kYes, kRole, kRole, kRole}},
  };
  return rows;
}

void ExpectTable(const Authorization& authz, const std::vector<Caller>& callers,
                 std::vector<Expected> Row::*column) {
  for (const Row& row : Table()) {
    const std::vector<Expected>& expected = row.*column;
    ASSERT_EQ(expected.size(), callers.size());
    for (size_t i = 0; i < callers.size(); ++i) {
      SCOPED_TRACE(
          absl::StrCat(ActionName(row.action), " by ", callers[i].name, " at ", authz.node_id()));
      const absl::Status status = authz.Check(callers[i].identity, row.action);
      if (expected[i].code == StatusCode::kOk) {
        EXPECT_TRUE(status.ok()) << status;
      } else {
        EXPECT_THAT(status, StatusIsReason(expected[i].code, expected[i].reason));
      }
    }
  }
}

TEST(AuthorizationTest, EveryRoleActionAndRelationAtARegion) {
  ExpectTable(Authorization("toscana", "nvn", {"nvn"}), CallersOf("toscana", "lombardia"),
              &Row::at_a_region);
}

TEST(AuthorizationTest, EveryRoleActionAndRelationAtTheNationalNode) {
  ExpectTable(Authorization("nvn", "nvn", {"nvn"}), CallersOf("nvn", "toscana"),
              &Row::at_the_national_node);
}

TEST(AuthorizationTest, TheTableCoversEveryAction) {
  std::vector<bool> seen(static_cast<size_t>(kLastAction) + 1);
  for (const Row& row : Table()) seen[static_cast<size_t>(row.action)] = true;
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_TRUE(seen[i]) << "action " << i;
}

// A console by itself takes public reports for its own node only, and does
// nothing else without a person's sign-in proof.
TEST(AuthorizationTest, AConsoleByItselfTakesOnlyItsNodesPublicReports) {
  const Authorization authz("toscana", "nvn", {"nvn"});
  const Identity own{"toscana", Role::kConsole, ""};
  const Identity other{"lombardia", Role::kConsole, ""};
  EXPECT_TRUE(authz.Check(own, Action::kPublicReport).ok());
  EXPECT_THAT(authz.Check(other, Action::kPublicReport),
              StatusIsReason(StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
  EXPECT_THAT(authz.Check(own, Action::kReports),
              StatusIsReason(StatusCode::kPermissionDenied, v1::CONSOLE_PROOF));
}

// A partner reaches a referral only once it was circulated to it; to
// everyone else allowed by Check the referral is simply there.
TEST(AuthorizationTest, APartnerReachesOnlyReferralsCirculatedToIt) {
  const Authorization authz("lombardia", "nvn", {"nvn"});
  const std::string id = "0b6f1c9e-3c1d-4f7a-9a51-2f0c7e1d9b44";
  const Identity partner{"lombardia", Role::kPartner, "casa-aurora"};
  const Identity op{"lombardia", Role::kOperator, "carla"};
  EXPECT_TRUE(authz.ReferralAccess(partner, id, /*circulated_to_caller=*/true).ok());
  EXPECT_THAT(authz.ReferralAccess(partner, id, /*circulated_to_caller=*/false),
              StatusIsReason(StatusCode::kNotFound, v1::UNKNOWN_REFERRAL));
  for (bool circulated : {true, false}) {
    EXPECT_TRUE(authz.ReferralAccess(op, id, circulated).ok());
  }
}

// Who may hand over an envelope written at which node: its own node, or a
// relay for any node.
TEST(AuthorizationTest, ANodeDeliversItsOwnEnvelopesAndARelayAnyones) {
  const Authorization authz("toscana", "nvn", {"nvn"});
  const Identity lombardia{"lombardia", Role::kNode, ""};
  const Identity nvn{"nvn", Role::kNode, ""};
  EXPECT_TRUE(authz.DeliveredBy(lombardia, "lombardia").ok());
  EXPECT_THAT(authz.DeliveredBy(lombardia, "veneto"),
              StatusIsReason(StatusCode::kPermissionDenied, v1::PEER_MISMATCH));
  for (const char* sender : {"nvn", "lombardia", "veneto"}) {
    SCOPED_TRACE(sender);
    EXPECT_TRUE(authz.DeliveredBy(nvn, sender).ok());
  }
}

}  // namespace
}  // namespace mir::broker
