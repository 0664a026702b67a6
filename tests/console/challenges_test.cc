#include "console/challenges.h"

#include "absl/strings/str_replace.h"
#include "console/errors.h"
#include "crypto/console_login.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace mir::console {
namespace {

class ChallengesTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  ChallengeTable table_{&clock_, "https://127.0.0.1:7443", "toscana"};
};

TEST_F(ChallengesTest, StatementNamesOriginNodeAndFreshChallenge) {
  const std::string text = table_.Issue();
  auto parsed = ParseConsoleLoginStatement(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->origin, "https://127.0.0.1:7443");
  EXPECT_EQ(parsed->node, "toscana");
  EXPECT_EQ(parsed->challenge.size(), 43u);
  EXPECT_EQ(parsed->issued_at, clock_.Now());
  EXPECT_NE(ParseConsoleLoginStatement(table_.Issue())->challenge, parsed->challenge);
}

TEST_F(ChallengesTest, GoodOnce) {
  const std::string text = table_.Issue();
  EXPECT_TRUE(table_.Redeem(text).ok());
  absl::Status again = table_.Redeem(text);
  EXPECT_EQ(ReasonOf(again), kChallengeUnknown);
  EXPECT_EQ(again.code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(ChallengesTest, ExpiresAfter120Seconds) {
  const std::string early = table_.Issue();
  const std::string late = table_.Issue();
  clock_.Advance(absl::Seconds(119));
  EXPECT_TRUE(table_.Redeem(early).ok());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(ReasonOf(table_.Redeem(late)), kChallengeUnknown);
}

TEST_F(ChallengesTest, ForgedOrAlteredStatementsRefused) {
  const std::string text = table_.Issue();
  // Another origin around the real challenge.
  EXPECT_EQ(ReasonOf(table_.Redeem(
                absl::StrReplaceAll(text, {{"https://127.0.0.1:7443", "https://evil.example"}}))),
            kChallengeUnknown);
  // A challenge never issued.
  ConsoleLoginStatement forged = *ParseConsoleLoginStatement(text);
  forged.challenge = std::string(43, 'A');
  EXPECT_EQ(ReasonOf(table_.Redeem(FormatConsoleLoginStatement(forged))), kChallengeUnknown);
  EXPECT_EQ(ReasonOf(table_.Redeem("not a statement")), kChallengeUnknown);
  // The altered attempts did not use the real one up.
  EXPECT_TRUE(table_.Redeem(text).ok());
}

TEST_F(ChallengesTest, BoundedPending) {
  ChallengeTable small(&clock_, "https://x", "toscana", absl::Seconds(120), 3);
  const std::string first = small.Issue();
  clock_.Advance(absl::Seconds(1));
  for (int i = 0; i < 3; ++i) small.Issue();
  EXPECT_EQ(small.pending(), 3u);
  EXPECT_FALSE(small.Redeem(first).ok());
}

}  // namespace
}  // namespace mir::console
