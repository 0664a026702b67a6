// The test helpers themselves: EXPECT_OK / ASSERT_OK evaluate their
// argument once, failing or not, so a call with effects (a Submit, a
// Deliver) is never made twice by a failing assertion.

#include "tests/testing/test_env.h"

#include "absl/status/statusor.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace mir::testing {
namespace {

int calls = 0;

absl::Status Failing() {
  ++calls;
  return absl::InternalError("boom");
}

absl::StatusOr<int> FailingOr() {
  ++calls;
  return absl::InternalError("boom");
}

TEST(TestEnvTest, ExpectOkEvaluatesItsArgumentOnceWhenItFails) {
  calls = 0;
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(Failing()), "boom");
  EXPECT_EQ(calls, 1);
  calls = 0;
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(FailingOr()), "boom");
  EXPECT_EQ(calls, 1);
}

void AssertOkOnFailing() { ASSERT_OK(Failing()); }

TEST(TestEnvTest, AssertOkEvaluatesItsArgumentOnceWhenItFails) {
  calls = 0;
  EXPECT_FATAL_FAILURE(AssertOkOnFailing(), "boom");
  EXPECT_EQ(calls, 1);
}

TEST(TestEnvTest, OkPassesAndIsEvaluatedOnce) {
  calls = 0;
  auto ok = [] {
    ++calls;
    return absl::OkStatus();
  };
  EXPECT_OK(ok());
  ASSERT_OK(ok());
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace mir::testing
