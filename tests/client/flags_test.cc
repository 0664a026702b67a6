// The flag parser and the enum, time and duration readers behind every flag.

#include "client/flags.h"

#include "client/values.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/referrals.pb.h"
#include "mir/v1/status_change.pb.h"
#include "tests/testing/test_env.h"

namespace mir::client {
namespace {

using ::mir::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = FlagSpec::Kind;

const std::vector<FlagSpec> kSpecs = {
    {"to", Kind::kValue, "NODE", "where"},
    {"state", Kind::kRepeated, "STATE", "which"},
    {"json", Kind::kBool, "", "machine output"},
    {"help", Kind::kBool, "", "help"},
};

TEST(FlagsTest, ReadsValuesRepeatedFlagsBooleansAndPositionals) {
  auto parsed = ParseFlags(
      {"ID", "--to", "nvn", "--state", "RECEIVED", "--json", "--state=SUBMITTED", "more"}, kSpecs);
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->Get("to"), "nvn");
  EXPECT_THAT(parsed->GetAll("state"), ElementsAre("RECEIVED", "SUBMITTED"));
  EXPECT_TRUE(parsed->Has("json"));
  EXPECT_FALSE(parsed->Has("help"));
  EXPECT_THAT(parsed->positional(), ElementsAre("ID", "more"));
  EXPECT_EQ(parsed->Get("absent", "fallback"), "fallback");
}

TEST(FlagsTest, DashDashEndsFlagsAndDashHIsHelp) {
  auto parsed = ParseFlags({"-h", "--", "--to"}, kSpecs);
  ASSERT_OK(parsed);
  EXPECT_TRUE(parsed->Has("help"));
  EXPECT_THAT(parsed->positional(), ElementsAre("--to"));
}

TEST(FlagsTest, EachMistakeIsOneSentenceNamingTheFlag) {
  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {"unknown", {"--stat", "X"}, "unknown flag --stat"},
      {"single dash", {"-x"}, "unknown flag -x"},
      {"missing value at end", {"--to"}, "flag --to needs a value (NODE)"},
      {"missing value before flag", {"--to", "--json"}, "flag --to needs a value (NODE)"},
      {"twice", {"--to", "a", "--to", "b"}, "flag --to was given twice"},
      {"boolean with value", {"--json=yes"}, "flag --json takes no value"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto parsed = ParseFlags(c.args, kSpecs);
    EXPECT_THAT(parsed.status(), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(parsed.status().message(), c.message);
  }
}

TEST(FlagsTest, HelpAlignsTheDescriptions) {
  EXPECT_EQ(FlagHelp({kSpecs[0], kSpecs[2]}),
            "  --to NODE   where\n"
            "  --json      machine output\n");
}

TEST(ValuesTest, EnumNamesLoseTheSharedPrefix) {
  EXPECT_EQ(ShortName(v1::URGENCY_EMERGENCY_24H), "EMERGENCY_24H");
  EXPECT_EQ(ShortName(v1::REJECTION_NO_PLACES), "NO_PLACES");
  EXPECT_EQ(ShortName(v1::WITHDRAWAL_CONSENT_WITHDRAWN), "CONSENT_WITHDRAWN");
  EXPECT_EQ(ShortName(v1::AGE_BAND_45_PLUS), "45_PLUS");
  EXPECT_EQ(ShortName(v1::PLACEMENT_CONFIRMED), "PLACEMENT_CONFIRMED");  // no shared prefix
  EXPECT_EQ(ShortName(v1::DeliveryProof::DEAD_LETTER), "DEAD_LETTER");
  EXPECT_EQ(ShortName(static_cast<v1::Urgency>(42)), "UNKNOWN(42)");
  EXPECT_THAT(ShortEnumNames(v1::Urgency_descriptor()),
              ElementsAre("EMERGENCY_24H", "URGENT", "ORDINARY"));
}

TEST(ValuesTest, EnumValuesReadShortFullLowercaseOrDashed) {
  EXPECT_EQ(*ParseEnum<v1::Urgency>("EMERGENCY_24H", "--urgency"), v1::URGENCY_EMERGENCY_24H);
  EXPECT_EQ(*ParseEnum<v1::Urgency>("URGENCY_URGENT", "--urgency"), v1::URGENCY_URGENT);
  EXPECT_EQ(*ParseEnum<v1::Urgency>("ordinary", "--urgency"), v1::URGENCY_ORDINARY);
  EXPECT_EQ(*ParseEnum<v1::AgeBand>("0-13", "--age-band"), v1::AGE_BAND_0_13);
  EXPECT_EQ(*ParseEnum<v1::ReferralState>("under_evaluation", "--state"), v1::UNDER_EVALUATION);
}

TEST(ValuesTest, UnknownOrUnspecifiedEnumValuesListTheChoices) {
  for (const char* text : {"SOON", "UNSPECIFIED", "URGENCY_UNSPECIFIED", ""}) {
    SCOPED_TRACE(text);
    auto parsed = ParseEnum<v1::Urgency>(text, "--urgency");
    EXPECT_THAT(parsed.status(), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_EQ(parsed.status().message(), "--urgency must be EMERGENCY_24H, URGENT or ORDINARY");
  }
}

TEST(ValuesTest, TimesAreDatesInUtcOrRfc3339) {
  EXPECT_EQ(*ParseTimeFlag("2025-03-01", "--date"),
            absl::FromCivil(absl::CivilDay(2025, 3, 1), absl::UTCTimeZone()));
  EXPECT_EQ(*ParseTimeFlag("2025-03-01T09:30:00+01:00", "--date"),
            absl::FromCivil(absl::CivilMinute(2025, 3, 1, 8, 30), absl::UTCTimeZone()));
  auto bad = ParseTimeFlag("tomorrow", "--date");
  EXPECT_THAT(bad.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(bad.status().message(), HasSubstr("--date must be a date such as 2025-03-01"));
  EXPECT_EQ(FormatSecond(ToTimestamp(*ParseTimeFlag("2025-03-01T09:30:05Z", "t"))),
            "2025-03-01 09:30:05 UTC");
  EXPECT_EQ(FormatMinute(google::protobuf::Timestamp()), "-");
}

TEST(ValuesTest, DurationsArePositive) {
  EXPECT_EQ(*ParseDurationFlag("30s", "--timeout"), absl::Seconds(30));
  for (const char* text : {"0s", "-1s", "ten"}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(ParseDurationFlag(text, "--timeout").status(),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

}  // namespace
}  // namespace mir::client
