// The code lists a report or service request is checked against: a real
// code passes, a made-up or mis-cased one does not.

#include "common/codes.h"

#include "gtest/gtest.h"

namespace mir {
namespace {

TEST(CodesTest, LanguagesOfTheHotlineAreKnown) {
  for (const char* code : {"ita", "eng", "pcm", "bin", "yor", "ron", "ukr", "zho", "ara"}) {
    EXPECT_TRUE(IsIso639_3(code)) << code;
  }
}

TEST(CodesTest, AnUnknownOrMalformedLanguageCodeIsRefused) {
  for (const char* code : {"", "it", "ITA", "xxq", "zzz", "itaa", "i a", "en-GB"}) {
    EXPECT_FALSE(IsIso639_3(code)) << code;
  }
}

TEST(CodesTest, ProvincesIncludeFirstAndLastOfTheListAndSardinia) {
  for (const char* code : {"AG", "VV", "FI", "PO", "MI", "RM", "SU", "OT", "VS"}) {
    EXPECT_TRUE(IsItalianProvince(code)) << code;
  }
  for (const char* code : {"", "F", "fi", "XX", "FIR", "ZZ"}) {
    EXPECT_FALSE(IsItalianProvince(code)) << code;
  }
}

}  // namespace
}  // namespace mir
