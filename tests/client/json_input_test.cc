// Referrals from JSON: every refusal names the field and why, and never
// quotes a value from the file (which may be personal data).

#include "client/json_input.h"

#include "absl/strings/str_cat.h"
#include "tests/testing/test_env.h"

namespace mir::client {
namespace {

using ::mir::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// A complete, valid referral about a fictional person.
constexpr char kValid[] = R"({
  "personCode": "TOS-7Q2M",
  "origin_case_ref": "CW-12",
  "urgency": "URGENCY_EMERGENCY_24H",
  "dangerLevel": "DANGER_LEVEL_HIGH",
  "transferReasons": ["TRANSFER_REASON_SAFETY_RISK"],
  "requestedServices": ["SERVICE_EMERGENCY_SHELTER", "SERVICE_MEDIATOR"],
  "gender": "GENDER_FEMALE",
  "ageBand": "AGE_BAND_18_24",
  "nationality": "NG",
  "languages": ["pcm", "bin"],
  "mediatorSameGender": true,
  "needs": ["NEED_PREGNANCY"],
  "dependents": {"count": 1, "ageBands": ["AGE_BAND_0_13"]},
  "consent": {"given": true, "givenAt": "2025-03-01T09:30:00Z", "method": "CONSENT_WRITTEN"},
  "notes": "fictional"
})";

TEST(JsonInputTest, AValidReferralParsesInCamelCaseOrSnakeCase) {
  auto referral = ParseReferralJson(kValid);
  ASSERT_OK(referral);
  EXPECT_EQ(referral->person_code(), "TOS-7Q2M");
  EXPECT_EQ(referral->origin_case_ref(), "CW-12");
  EXPECT_EQ(referral->urgency(), v1::URGENCY_EMERGENCY_24H);
  EXPECT_EQ(referral->dependents().age_bands(0), v1::AGE_BAND_0_13);
  EXPECT_TRUE(referral->consent().given());
  EXPECT_OK(ValidateReferral(*referral));
}

TEST(JsonInputTest, InputErrorsNameTheField) {
  struct Case {
    std::string name;
    std::string json;
    std::string message;
  } cases[] = {
      {"unknown field", R"({"personCode": "X", "urgncy": "URGENCY_URGENT"})",
       "unknown field urgncy: not a field of Referral"},
      {"unknown nested field", R"({"consent": {"given": true, "signedBy": "someone"}})",
       "unknown field consent.signedBy: not a field of Consent"},
      {"string for a bool", R"({"consent": {"given": "yes"}})",
       "field consent.given must be true or false, without quotes"},
      {"number for a string", R"({"notes": 12345})",
       "field notes must be a string in double quotes"},
      {"object for a string", R"({"personCode": {"a": 1}})",
       "field person_code must be a string in double quotes"},
      {"single value for a list", R"({"needs": "NEED_LEGAL"})",
       "field needs must be a list in square brackets, e.g. [ ... ]"},
      {"bad enum value", R"({"urgency": "EMERGENCY"})",
       "field urgency must be one of URGENCY_EMERGENCY_24H, URGENCY_URGENT or URGENCY_ORDINARY"},
      {"enum as number", R"({"urgency": 7})",
       "field urgency must be one of URGENCY_EMERGENCY_24H, URGENCY_URGENT or URGENCY_ORDINARY"},
      {"bad enum in a list", R"({"needs": ["NEED_LEGAL", "LEGAL"]})",
       "field needs[1] must be one of "},
      {"bad time", R"({"consent": {"givenAt": "yesterday"}})",
       "field consent.given_at must be an RFC 3339 time such as \"2025-03-01T09:30:00Z\""},
      {"negative count", R"({"dependents": {"count": -1}})",
       "field dependents.count must be a whole number, 0 or more"},
      {"fractional count", R"({"dependents": {"count": 1.5}})",
       "field dependents.count must be a whole number, 0 or more"},
      {"not an object", R"(["a referral"])",
       "not a referral: the file must hold one JSON object { ... }"},
      {"syntax", R"({"notes": "abc",)", "not valid JSON: "},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto parsed = ParseReferralJson(c.json);
    EXPECT_THAT(parsed.status(), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.message));
    EXPECT_EQ(parsed.status().message().find('\n'), absl::string_view::npos);
  }
}

TEST(JsonInputTest, ErrorsNeverQuoteTheInput) {
  for (const char* json :
       {R"({"personCode": 4242424242})", R"({"gender": "SECRET-WORD"})",
        R"({"notes": "SECRET-WORD" "x"})", "SECRET-WORD", R"({"SECRET-WORD": 1})"}) {
    SCOPED_TRACE(json);
    auto parsed = ParseReferralJson(json);
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(parsed.status().message(), Not(HasSubstr("4242424242")));
    if (absl::string_view(json) != R"({"SECRET-WORD": 1})") {  // a key is a field name, not data
      EXPECT_THAT(parsed.status().message(), Not(HasSubstr("SECRET")));
    }
  }
}

// Nesting is refused before protobuf's parser, whose time grows with the
// square of the depth (30,000 levels never finished): one sentence, at once.
TEST(JsonInputTest, DeepNestingIsRefusedBeforeParsing) {
  for (int depth : {17, 30000, 1000000}) {
    SCOPED_TRACE(depth);
    const std::string json =
        "{\"notes\": " + std::string(depth, '[') + std::string(depth, ']') + "}";
    auto parsed = ParseReferralJson(json);
    EXPECT_THAT(parsed.status(), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(parsed.status().message(), HasSubstr("nests deeper than 16 levels"));
  }
  // Brackets inside strings are text, not nesting.
  const std::string in_text = "{\"notes\": \"" + std::string(100, '[') + "\"}";
  EXPECT_THAT(ParseReferralJson(in_text).status().message(), Not(HasSubstr("nests deeper")));
}

v1::Referral Valid() { return *ParseReferralJson(kValid); }

TEST(JsonInputTest, ValidationRefusesWhatMustNotBeSigned) {
  struct Case {
    std::string name;
    std::function<void(v1::Referral&)> mutate;
    std::string message;
  } cases[] = {
      {"consent missing", [](v1::Referral& r) { r.clear_consent(); },
       "the person's consent is not recorded (consent.given is not true)"},
      {"consent false", [](v1::Referral& r) { r.mutable_consent()->set_given(false); },
       "consent.given is not true"},
      {"consent withdrawn",
       [](v1::Referral& r) { r.mutable_consent()->mutable_withdrawn_at()->set_seconds(1); },
       "consent was withdrawn (consent.withdrawn_at is set)"},
      {"notes too long", [](v1::Referral& r) { r.set_notes(std::string(2001, 'x')); },
       "field notes is 2001 characters long, more than the 2,000 allowed"},
      {"notes not UTF-8", [](v1::Referral& r) { r.set_notes("\xff\xfe"); },
       "field notes is not valid UTF-8"},
      {"no person code", [](v1::Referral& r) { r.clear_person_code(); },
       "field person_code is required"},
      {"no urgency", [](v1::Referral& r) { r.clear_urgency(); }, "field urgency is required"},
      {"undefined enum", [](v1::Referral& r) { r.add_needs(static_cast<v1::Need>(99)); },
       "field needs must be one of NEED_HEALTH_URGENT"},
      {"bad destination", [](v1::Referral& r) { r.set_destination_node("Lombardia!"); },
       "field destination_node must be a node id"},
      {"bad nationality", [](v1::Referral& r) { r.set_nationality("ng"); },
       "field nationality must be an ISO 3166-1 alpha-2 code"},
      {"bad language", [](v1::Referral& r) { r.add_languages("english"); },
       "field languages[2] must be an ISO 639-3 code"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Referral referral = Valid();
    c.mutate(referral);
    absl::Status status = ValidateReferral(referral);
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(status.message(), HasSubstr(c.message));
  }
}

TEST(JsonInputTest, NotesAreCountedInCharactersNotBytes) {
  v1::Referral referral = Valid();
  std::string notes;
  for (int i = 0; i < 2000; ++i) notes += "\xc3\xa8";  // "è", two bytes
  referral.set_notes(notes);
  EXPECT_OK(ValidateReferral(referral));
  referral.set_notes(notes + "x");
  EXPECT_THAT(ValidateReferral(referral).message(), HasSubstr("is 2001 characters long"));
}

TEST(JsonInputTest, ConsentMissingInAFileIsRefusedBeforeSigning) {
  auto parsed = ParseReferralJson(R"({"personCode": "X", "urgency": "URGENCY_URGENT"})");
  ASSERT_OK(parsed);
  EXPECT_THAT(ValidateReferral(*parsed).message(), HasSubstr("cannot be submitted without it"));
}

}  // namespace
}  // namespace mir::client
