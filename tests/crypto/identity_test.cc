#include "crypto/identity.h"

#include "tests/testing/test_env.h"

namespace mir::testing {
namespace {

TEST(IdentityTest, ParsesTheThreeForms) {
  auto node = ParseIdentity("mir://nvn/node");
  ASSERT_OK(node);
  EXPECT_EQ(node->node, "nvn");
  EXPECT_EQ(node->role, Role::kNode);
  auto op = ParseIdentity("mir://toscana/operator/anna");
  ASSERT_OK(op);
  EXPECT_EQ(op->role, Role::kOperator);
  EXPECT_EQ(op->name, "anna");
  EXPECT_EQ(op->Uri(), "mir://toscana/operator/anna");
  auto partner = ParseIdentity("mir://toscana/partner/casa-aurora");
  ASSERT_OK(partner);
  EXPECT_EQ(partner->role, Role::kPartner);
}

TEST(IdentityTest, RefusesEverythingElse) {
  for (const char* bad :
       {"", "https://toscana/node", "mir://", "mir://Toscana/node", "mir://toscana/node/extra",
        "mir://toscana/operator", "mir://toscana/operator/", "mir://toscana/operator/a/b",
        "mir://tos cana/node", "mir://-x/node", "mir://toscana/operator/An na"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(MIR_STATUS(ParseIdentity(bad)),
                StatusIsReason(absl::StatusCode::kInvalidArgument, v1::MALFORMED_CERTIFICATE));
  }
  EXPECT_THAT(MIR_STATUS(ParseIdentity("mir://toscana/auditor/x")),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
}

TEST(IdentityTest, RolePolicy) {
  EXPECT_TRUE(RoleMayAuthor(Role::kOperator, v1::REFERRAL));
  EXPECT_FALSE(RoleMayAuthor(Role::kPartner, v1::REFERRAL));
  EXPECT_FALSE(RoleMayAuthor(Role::kNode, v1::REFERRAL));
  EXPECT_TRUE(RoleMayAuthor(Role::kPartner, v1::PLACEMENT_CONFIRMATION));
  EXPECT_FALSE(RoleMayAuthor(Role::kOperator, v1::PLACEMENT_CONFIRMATION));
  EXPECT_TRUE(RoleMayAuthor(Role::kNode, v1::RECEIPT));
  EXPECT_FALSE(RoleMayAuthor(Role::kOperator, v1::RECEIPT));
  EXPECT_FALSE(RoleMayAuthor(Role::kPartner, v1::RECEIPT));
  for (Role r : {Role::kNode, Role::kOperator, Role::kPartner}) {
    EXPECT_TRUE(RoleMayAuthor(r, v1::STATUS_CHANGE));
    EXPECT_FALSE(RoleMayAuthor(r, v1::MESSAGE_KIND_UNSPECIFIED));
  }
}

}  // namespace
}  // namespace mir::testing
