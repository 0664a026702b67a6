#include <set>
#include <string>

#include "absl/time/clock.h"
#include "crypto/envelope_bytes.h"
#include "gtest/gtest.h"

namespace mir {
namespace {

uint64_t MillisOf(const std::string& uuid) {
  return std::stoull(uuid.substr(0, 8) + uuid.substr(9, 4), nullptr, 16);
}

TEST(NewUuidTest, IsAVersion7UuidInCanonicalForm) {
  const uint64_t before = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  const std::string id = NewUuid();
  const uint64_t after = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  ASSERT_EQ(id.size(), 36u);
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      EXPECT_EQ(id[i], '-') << id;
    } else {
      EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(id[i])) && !std::isupper(id[i])) << id;
    }
  }
  // Version 7, RFC 9562 variant.
  EXPECT_EQ(id[14], '7') << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  EXPECT_GE(MillisOf(id), before);
  EXPECT_LE(MillisOf(id), after);
}

TEST(NewUuidTest, IdsAreUniqueAndLaterOnesSortAfter) {
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(seen.insert(NewUuid()).second);
  const std::string first = NewUuid();
  // Later: once the clock has passed first's millisecond.
  while (static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())) <= MillisOf(first)) {
    absl::SleepFor(absl::Microseconds(100));
  }
  EXPECT_LT(first, NewUuid());
}

TEST(IsCanonicalUuidTest, OnlyLowercaseEightFourFourFourTwelve) {
  EXPECT_TRUE(IsCanonicalUuid(NewUuid()));
  EXPECT_TRUE(IsCanonicalUuid("3f1c2a9e-7b4d-4e8a-9c61-0d2f5b7e8a14"));  // version 4
  EXPECT_TRUE(IsCanonicalUuid("00000000-0000-0000-0000-000000000000"));
  for (const char* bad :
       {"", "3F1C2A9E-7B4D-4E8A-9C61-0D2F5B7E8A14", "{3f1c2a9e-7b4d-4e8a-9c61-0d2f5b7e8a14}",
        "urn:uuid:3f1c2a9e-7b4d-4e8a-9c61-0d2f5b7e8a14", "3f1c2a9e7b4d4e8a9c610d2f5b7e8a14",
        "3f1c2a9e-7b4d-4e8a-9c61-0d2f5b7e8a1", "3f1c2a9e-7b4d-4e8a-9c61-0d2f5b7e8a14\n",
        "3f1c2a9e-7b4d-4e8a-9c61_0d2f5b7e8a14", "3f1c2a9g-7b4d-4e8a-9c61-0d2f5b7e8a14"}) {
    EXPECT_FALSE(IsCanonicalUuid(bad)) << bad;
  }
}

}  // namespace
}  // namespace mir
