// The console's words (console/web/texts.js, as embedded and served): every
// error reason, delivery proof and timeline event the node can send has a
// sentence in both languages, both languages have the same keys, and each
// enum offered in a form lists the proto's values in schema order. A value
// added to the protocol without its words fails here, not in front of staff.

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "console/web_files.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "mir/v1/common.pb.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/referrals.pb.h"
#include "mir/v1/report.pb.h"
#include "mir/v1/service_request.pb.h"
#include "mir/v1/status_change.pb.h"

namespace mir::console {
namespace {

using ::google::protobuf::EnumDescriptor;

absl::string_view TextsJs() {
  for (const WebFile& f : EmbeddedWebFiles()) {
    if (f.path == "texts.js") return f.content;
  }
  return {};
}

// The text between `begin` and the first `end` after it ("" when absent).
absl::string_view Between(absl::string_view text, absl::string_view begin, absl::string_view end) {
  const size_t from = text.find(begin);
  if (from == absl::string_view::npos) return {};
  const size_t to = text.find(end, from + begin.size());
  if (to == absl::string_view::npos) return {};
  return text.substr(from, to - from);
}

// The keys of a dictionary section: each line "  key: …" or "  'key': …".
std::set<std::string> KeysOf(absl::string_view section) {
  std::set<std::string> keys;
  for (absl::string_view line : absl::StrSplit(section, '\n')) {
    if (!absl::ConsumePrefix(&line, "  ") || line.empty() || line[0] == ' ' || line[0] == '/') {
      continue;
    }
    const bool quoted = absl::ConsumePrefix(&line, "'");
    const size_t end = line.find(quoted ? "':" : ":");
    if (end == absl::string_view::npos || end == 0) continue;
    keys.insert(std::string(line.substr(0, end)));
  }
  return keys;
}

// The values an enum offers in a form: the proto's, UNSPECIFIED left out.
std::vector<std::string> OfferedValues(const EnumDescriptor* e) {
  std::vector<std::string> out;
  for (int i = 0; i < e->value_count(); ++i) {
    if (absl::EndsWith(e->value(i)->name(), "UNSPECIFIED")) continue;
    out.push_back(e->value(i)->name());
  }
  return out;
}

// The names of the enums worded in one language's section, in order.
std::vector<std::string> WordedEnums(absl::string_view section) {
  std::vector<std::string> out;
  size_t at = 0;
  while ((at = section.find("\n    ", at)) != absl::string_view::npos) {
    const size_t start = at + 5;
    at = start;
    const size_t end = section.find(": {", start);
    if (end == absl::string_view::npos) break;
    const absl::string_view name = section.substr(start, end - start);
    if (!name.empty() &&
        name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") ==
            absl::string_view::npos) {
      out.emplace_back(name);
    }
  }
  return out;
}

// The proto values behind a worded enum. "Reason" words a status change's
// reason, which is one of three enums by the change it closes.
std::vector<std::string> ProtoValues(absl::string_view worded) {
  if (worded == "Reason") {
    std::vector<std::string> out;
    for (const EnumDescriptor* e :
         {v1::RejectionReason_descriptor(), v1::ClosureReason_descriptor(),
          v1::WithdrawalReason_descriptor()}) {
      for (std::string& v : OfferedValues(e)) out.push_back(std::move(v));
    }
    return out;
  }
  const EnumDescriptor* e =
      ::google::protobuf::DescriptorPool::generated_pool()->FindEnumTypeByName(
          absl::StrCat("mir.v1.", worded));
  if (e == nullptr) return {absl::StrCat("no enum mir.v1.", worded)};
  return OfferedValues(e);
}

// The names inside "Enum: { A: '…', B: '…' }" of one language's enums, in
// the order written.
std::vector<std::string> WordedValues(absl::string_view section, absl::string_view enum_name) {
  const absl::string_view body = Between(section, absl::StrCat("    ", enum_name, ": {"), "}");
  std::vector<std::string> out;
  size_t at = body.find('{');
  while (at != absl::string_view::npos && at < body.size()) {
    size_t start = body.find_first_not_of(" \n,", at + 1);
    if (start == absl::string_view::npos) break;
    const size_t colon = body.find(':', start);
    if (colon == absl::string_view::npos) break;
    out.emplace_back(body.substr(start, colon - start));
    // Past the value's quoted words.
    const size_t open = body.find('\'', colon);
    const size_t close = open == absl::string_view::npos ? open : body.find('\'', open + 1);
    if (close == absl::string_view::npos) break;
    at = close;
  }
  return out;
}

class TextsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(js_.empty()) << "texts.js is not among the embedded files";
    italian_ = Between(js_, "const it = {", "\n};");
    english_ = Between(js_, "const en = {", "\n};");
    ASSERT_FALSE(italian_.empty());
    ASSERT_FALSE(english_.empty());
    enums_it_ = Between(js_, "\n  it: {", "\n  },");
    enums_en_ = Between(js_, "\n  en: {", "\n  },");
    ASSERT_FALSE(enums_it_.empty());
    ASSERT_FALSE(enums_en_.empty());
  }

  // Each value of `e` (UNSPECIFIED aside) as "<prefix>.<NAME>" in both.
  void ExpectWordsForEveryValue(const EnumDescriptor* e, absl::string_view prefix) {
    const std::set<std::string> it = KeysOf(italian_), en = KeysOf(english_);
    for (const std::string& value : OfferedValues(e)) {
      const std::string key = absl::StrCat(prefix, ".", value);
      EXPECT_TRUE(it.count(key)) << key << " has no Italian words";
      EXPECT_TRUE(en.count(key)) << key << " has no English words";
    }
  }

  absl::string_view js_ = TextsJs();
  absl::string_view italian_, english_, enums_it_, enums_en_;
};

TEST_F(TextsTest, BothLanguagesHaveTheSameKeys) {
  const std::set<std::string> it = KeysOf(italian_), en = KeysOf(english_);
  EXPECT_GT(it.size(), 400u);  // the scan found the dictionary
  for (const std::string& key : it) EXPECT_TRUE(en.count(key)) << key << " is Italian only";
  for (const std::string& key : en) EXPECT_TRUE(it.count(key)) << key << " is English only";
}

TEST_F(TextsTest, EveryErrorReasonHasWords) {
  ExpectWordsForEveryValue(v1::ErrorReason_descriptor(), "reason");
}

TEST_F(TextsTest, EveryDeliveryProofHasWords) {
  ExpectWordsForEveryValue(v1::DeliveryProof::Status_descriptor(), "proof");
}

TEST_F(TextsTest, EveryTimelineEventHasWords) {
  ExpectWordsForEveryValue(v1::ServiceEvent::Kind_descriptor(), "srEvent");
  ExpectWordsForEveryValue(v1::ReportEvent::Kind_descriptor(), "rEvent");
}

TEST_F(TextsTest, FormEnumsListTheProtosValuesInSchemaOrder) {
  // Each proto file whose enums are worded, linked in so that its enums are
  // in the generated pool.
  for (const EnumDescriptor* e :
       {v1::Urgency_descriptor(), v1::ServiceKind_descriptor(), v1::ReportState_descriptor()}) {
    ASSERT_NE(e, nullptr);
  }
  const std::vector<std::string> italian = WordedEnums(enums_it_);
  EXPECT_EQ(italian, WordedEnums(enums_en_));
  EXPECT_GT(italian.size(), 20u);  // the scan found them
  for (const std::string& name : italian) {
    EXPECT_EQ(WordedValues(enums_it_, name), ProtoValues(name)) << name << " (Italian)";
    EXPECT_EQ(WordedValues(enums_en_, name), ProtoValues(name)) << name << " (English)";
  }
}

}  // namespace
}  // namespace mir::console
