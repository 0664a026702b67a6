#include "console/sessions.h"

#include "console/errors.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace mir::console {
namespace {

using ::mir::testing::StatusIs;

class SessionsTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  SessionTable table_{&clock_, absl::Minutes(15), absl::Hours(12)};
  const Identity anna_{"toscana", Role::kOperator, "anna"};
};

TEST_F(SessionsTest, NewSessionHasRandomIdAndCsrf) {
  Session a = table_.Create(anna_, "der", "proof");
  Session b = table_.Create(anna_, "der", "proof");
  EXPECT_EQ(a.id.size(), 43u);
  EXPECT_EQ(a.csrf.size(), 43u);
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.csrf, b.csrf);
  EXPECT_NE(a.id, a.csrf);
  EXPECT_EQ(a.expires_at, clock_.Now() + absl::Hours(12));
  auto used = table_.Use(a.id);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(used->person, anna_);
  EXPECT_EQ(used->proof, "proof");
  EXPECT_EQ(used->certificate_der, "der");
}

TEST_F(SessionsTest, UnknownCookieIsRefused) {
  table_.Create(anna_, "der", "proof");
  for (const char* id : {"", "nope", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    auto s = table_.Use(id);
    EXPECT_THAT(s.status(), StatusIs(absl::StatusCode::kUnauthenticated));
    EXPECT_EQ(ReasonOf(s.status()), kSessionExpired);
  }
}

TEST_F(SessionsTest, IdleExpiryAndUseKeepsAlive) {
  Session s = table_.Create(anna_, "der", "proof");
  clock_.Advance(absl::Minutes(14));
  ASSERT_TRUE(table_.Use(s.id).ok());
  clock_.Advance(absl::Minutes(14));  // 28 min after sign-in, 14 after last use
  ASSERT_TRUE(table_.Use(s.id).ok());
  // Peek does not count as use.
  clock_.Advance(absl::Minutes(10));
  ASSERT_TRUE(table_.Peek(s.id).ok());
  clock_.Advance(absl::Minutes(5));  // 15 min idle
  auto gone = table_.Use(s.id);
  EXPECT_EQ(ReasonOf(gone.status()), kSessionExpired);
  EXPECT_EQ(table_.size(), 0u);
  // Once expired, it stays so.
  clock_.Set(s.created_at);
  EXPECT_FALSE(table_.Use(s.id).ok());
}

TEST_F(SessionsTest, AbsoluteExpiryEvenWhenBusy) {
  Session s = table_.Create(anna_, "der", "proof");
  for (int i = 0; i < 12 * 6 - 1; ++i) {
    clock_.Advance(absl::Minutes(10));
    ASSERT_TRUE(table_.Use(s.id).ok()) << i;
  }
  clock_.Advance(absl::Minutes(10));  // 12 h
  auto gone = table_.Use(s.id);
  EXPECT_THAT(gone.status(), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(ReasonOf(gone.status()), kSessionExpired);
}

TEST_F(SessionsTest, LogoutEndsOnlyThatSession) {
  Session a = table_.Create(anna_, "der", "proof");
  Session b = table_.Create(anna_, "der", "proof");
  table_.End(a.id);
  table_.End("unknown");
  EXPECT_FALSE(table_.Use(a.id).ok());
  EXPECT_FALSE(table_.Peek(a.id).ok());
  EXPECT_TRUE(table_.Use(b.id).ok());
}

TEST_F(SessionsTest, SweepRemovesExpired) {
  Session a = table_.Create(anna_, "der", "proof");
  clock_.Advance(absl::Minutes(10));
  Session b = table_.Create(anna_, "der", "proof");
  clock_.Advance(absl::Minutes(6));
  EXPECT_EQ(table_.Sweep(), 1u);
  EXPECT_TRUE(table_.Use(b.id).ok());
}

TEST_F(SessionsTest, BoundedTableDropsLeastRecentlyUsed) {
  SessionTable small(&clock_, absl::Minutes(15), absl::Hours(12), 2);
  Session a = small.Create(anna_, "", "");
  clock_.Advance(absl::Seconds(1));
  Session b = small.Create(anna_, "", "");
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(small.Use(a.id).ok());
  Session c = small.Create(anna_, "", "");
  EXPECT_TRUE(small.Use(a.id).ok());
  EXPECT_FALSE(small.Use(b.id).ok());
  EXPECT_TRUE(small.Use(c.id).ok());
}

}  // namespace
}  // namespace mir::console
