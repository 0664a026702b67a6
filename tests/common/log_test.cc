// What every log line goes through: one line whatever a value holds, and
// bounded, so input from the network can neither forge nor flood lines.

#include "common/log.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mir::log_internal {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(LogTest, ControlCharactersAreEscapedSoALineStaysOneLine) {
  const std::string line = EscapeLogLine(
      "refused message abc\n2026-12-04T00:00:00.000Z INFO forged\r\x1b[2J\x7f", kMaxLogLineBytes);
  EXPECT_EQ(line, "refused message abc\\x0a2026-12-04T00:00:00.000Z INFO forged\\x0d\\x1b[2J\\x7f");
  EXPECT_THAT(line, Not(HasSubstr("\n")));
}

TEST(LogTest, PrintableTextAndUtf8PassUnchanged) {
  EXPECT_EQ(EscapeLogLine("nodo toscana: città, 42 referral(s)", kMaxLogLineBytes),
            "nodo toscana: città, 42 referral(s)");
}

TEST(LogTest, ALongLineIsCutAndSaysHowMuchWasLeftOut) {
  const std::string line = EscapeLogLine(std::string(200'000, 'a'), kMaxLogLineBytes);
  EXPECT_LT(line.size(), kMaxLogLineBytes + 40);
  EXPECT_THAT(line, EndsWith(absl::StrCat("...[", 200'000 - kMaxLogLineBytes, " more bytes]")));
}

}  // namespace
}  // namespace mir::log_internal
