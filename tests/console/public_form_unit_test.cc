// The public form's parts without a network: the form's fields read into a
// report and refused field by field, urlencoded bodies, the rate limiter
// (global and per client, bounded, keyed), the publicForm configuration and
// the pages' escaping.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "console/config.h"
#include "console/errors.h"
#include "console/form_once.h"
#include "console/public_pages.h"
#include "console/rate_limit.h"
#include "console/reports.h"

namespace mir::console {
namespace {

FormValues GoodForm() {
  return {{"reporter_type", "REPORTER_CITIZEN"},
          {"reason", "REASON_REPORT"},
          {"province", "fi"},
          {"municipality", "Prato"},
          {"suspected_exploitation", "EXPLOITATION_LABOUR"},
          {"suspected_exploitation", "EXPLOITATION_SEXUAL_INDOOR"},
          {"persons", "3"},
          {"minors_suspected", "1"},
          {"description", "fictional test description"},
          {"language", "ITA"}};
}

TEST(ReportFromFormTest, ReadsEveryField) {
  auto r = ReportFromForm(GoodForm());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->channel(), v1::CHANNEL_WEB_FORM);
  EXPECT_EQ(r->reporter_type(), v1::REPORTER_CITIZEN);
  EXPECT_EQ(r->reason(), v1::REASON_REPORT);
  EXPECT_EQ(r->province(), "FI");
  EXPECT_EQ(r->municipality(), "Prato");
  EXPECT_THAT(r->suspected_exploitation(),
              ::testing::ElementsAre(v1::EXPLOITATION_LABOUR, v1::EXPLOITATION_SEXUAL_INDOOR));
  EXPECT_EQ(r->persons(), 3u);
  EXPECT_TRUE(r->minors_suspected());
  EXPECT_FALSE(r->immediate_danger());
  EXPECT_EQ(r->language(), "ita");
  EXPECT_EQ(r->contact(), "");
}

TEST(ReportFromFormTest, RefusesFieldByField) {
  struct Case {
    const char* name;
    std::function<void(FormValues&)> mutate;
    const char* field;
  };
  auto set = [](const char* key, std::string value) {
    return [key, value](FormValues& f) {
      f.erase(key);
      f.emplace(key, value);
    };
  };
  const std::vector<Case> cases = {
      {"no reporter type", [](FormValues& f) { f.erase("reporter_type"); }, "reporter_type"},
      {"empty reporter type", set("reporter_type", ""), "reporter_type"},
      {"unknown reporter type", set("reporter_type", "REPORTER_MARTIAN"), "reporter_type"},
      {"no reason", [](FormValues& f) { f.erase("reason"); }, "reason"},
      {"bad province", set("province", "ZZ"), "province"},
      {"province too long", set("province", "FIR"), "province"},
      {"unknown language", set("language", "xxq"), "language"},
      {"no language", [](FormValues& f) { f.erase("language"); }, "language"},
      {"persons over 1000", set("persons", "1001"), "persons"},
      {"persons not a number", set("persons", "tre"), "persons"},
      {"persons negative", set("persons", "-1"), "persons"},
      {"unknown exploitation", set("suspected_exploitation", "EXPLOITATION_NOPE"),
       "suspected_exploitation"},
      {"description too long", set("description", std::string(4001, 'x')), "description"},
      {"description not UTF-8", set("description", "caf\xe9"), "description"},
      {"description with a control character",
       set("description",
           "a\x07"
           "b"),
       "description"},
      {"municipality too long", set("municipality", std::string(101, 'x')), "municipality"},
      {"contact too long", set("contact", std::string(201, 'x')), "contact"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FormValues form = GoodForm();
    c.mutate(form);
    auto r = ReportFromForm(form);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ReasonOf(r.status()), "INVALID_FIELD");
    EXPECT_EQ(ReportFieldOf(r.status()), c.field);
  }
  // At the limits: accepted.
  FormValues edge = GoodForm();
  set("description", std::string(4000, 'x'))(edge);
  set("persons", "1000")(edge);
  set("contact", std::string(200, 'x'))(edge);
  set("province", "")(edge);
  EXPECT_TRUE(ReportFromForm(edge).ok());
}

TEST(ReportFromFormTest, BrowsersLineEndsBecomeNewlines) {
  FormValues form = GoodForm();
  form.erase("description");
  form.emplace("description", "  first line\r\nsecond\rthird\n  ");
  auto r = ReportFromForm(form);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->description(), "first line\nsecond\nthird");
}

TEST(ReportFieldOfTest, NamesTheNodesField) {
  EXPECT_EQ(ReportFieldOf(absl::InvalidArgumentError("field report.province must be ...")),
            "province");
  EXPECT_EQ(ReportFieldOf(absl::InvalidArgumentError("field language must be ...")), "language");
  EXPECT_EQ(ReportFieldOf(absl::InvalidArgumentError("something else")), "");
}

TEST(ParseUrlEncodedTest, DecodesAndRefusesBrokenEscapes) {
  auto f = ParseUrlEncoded("a=1&b=x+y%21&c=%C3%A8&d&a=2");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->count("a"), 2u);
  EXPECT_EQ(f->find("b")->second, "x y!");
  EXPECT_EQ(f->find("c")->second, "\xc3\xa8");
  EXPECT_EQ(f->find("d")->second, "");
  for (const char* bad : {"a=%", "a=%4", "a=%zz", "%g1=2"}) {
    SCOPED_TRACE(bad);
    auto r = ParseUrlEncoded(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(RateLimiterTest, PerClientBurstThenRefillWithRetryAfter) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  RateLimiter limiter(RateLimits{1000, 2, 60, 100}, &clock);  // a token a minute
  absl::Duration retry;
  EXPECT_TRUE(limiter.Allow("192.0.2.1", &retry));
  EXPECT_TRUE(limiter.Allow("192.0.2.1", &retry));
  EXPECT_FALSE(limiter.Allow("192.0.2.1", &retry));
  EXPECT_GE(retry, absl::Seconds(60));
  EXPECT_LE(retry, absl::Seconds(61));
  // Another client is not held back by this one.
  EXPECT_TRUE(limiter.Allow("192.0.2.2", &retry));
  clock.Advance(absl::Seconds(30));
  EXPECT_FALSE(limiter.Allow("192.0.2.1", &retry));
  EXPECT_GE(retry, absl::Seconds(30));
  EXPECT_LE(retry, absl::Seconds(31));
  clock.Advance(absl::Seconds(31));
  EXPECT_TRUE(limiter.Allow("192.0.2.1", &retry));
}

TEST(RateLimiterTest, GlobalBucketHoldsEveryone) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  RateLimiter limiter(RateLimits{3, 10, 100, 100}, &clock);
  absl::Duration retry;
  EXPECT_TRUE(limiter.Allow("192.0.2.1", &retry));
  EXPECT_TRUE(limiter.Allow("192.0.2.2", &retry));
  EXPECT_TRUE(limiter.Allow("192.0.2.3", &retry));
  EXPECT_FALSE(limiter.Allow("192.0.2.4", &retry));
  EXPECT_GE(retry, absl::Seconds(20));  // 3 a minute
  EXPECT_LE(retry, absl::Seconds(21));
  clock.Advance(absl::Seconds(21));
  EXPECT_TRUE(limiter.Allow("192.0.2.4", &retry));
}

TEST(RateLimiterTest, TableIsBoundedForgettingTheLeastRecent) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  RateLimiter limiter(RateLimits{100000, 1, 1, 50}, &clock);
  absl::Duration retry;
  ASSERT_TRUE(limiter.Allow("198.51.100.0", &retry));
  for (int i = 1; i < 200; ++i) {
    ASSERT_TRUE(limiter.Allow(absl::StrCat("198.51.100.", i), &retry)) << i;
    EXPECT_LE(limiter.tracked(), 50u);
  }
  EXPECT_EQ(limiter.tracked(), 50u);
  // The most recent is still held; the first was forgotten.
  EXPECT_FALSE(limiter.Allow("198.51.100.199", &retry));
  EXPECT_TRUE(limiter.Allow("198.51.100.0", &retry));
}

// A form posted again within the time kept gets the first answer; its
// report is recorded once.
TEST(FormOnceTest, APostRepeatedGetsTheFirstAnswerAndRecordsOnce) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  FormOnce forms(&clock, absl::Minutes(10), 100);
  const std::string token = FormOnce::NewToken();
  ASSERT_TRUE(FormOnce::WellFormed(token));
  EXPECT_NE(token, FormOnce::NewToken());
  int recorded = 0;
  auto record = [&] { return FormOnce::Answer{200, absl::StrCat("receipt ", ++recorded)}; };
  EXPECT_EQ(forms.Once(token, "body", record).page, "receipt 1");
  EXPECT_EQ(forms.Once(token, "body", record).page, "receipt 1");
  EXPECT_EQ(recorded, 1);
  // The same form changed and sent again is a new report, and so is a new form.
  EXPECT_EQ(forms.Once(token, "body, corrected", record).page, "receipt 2");
  EXPECT_EQ(forms.Once(FormOnce::NewToken(), "body", record).page, "receipt 3");
  // Past the time kept, the answer is forgotten.
  clock.Advance(absl::Minutes(10));
  EXPECT_EQ(forms.Once(token, "body", record).page, "receipt 4");
  EXPECT_EQ(recorded, 4);
}

TEST(FormOnceTest, OnlyARecordedReportIsKept) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  FormOnce forms(&clock, absl::Minutes(10), 100);
  const std::string token = FormOnce::NewToken();
  int calls = 0;
  auto fails = [&] { return FormOnce::Answer{++calls == 1 ? 503 : 400, "trouble"}; };
  EXPECT_EQ(forms.Once(token, "body", fails).status, 503);
  EXPECT_EQ(forms.Once(token, "body", fails).status, 400);
  EXPECT_EQ(forms.kept(), 0u);
  EXPECT_EQ(forms.Once(token, "body", [] { return FormOnce::Answer{200, "ok"}; }).page, "ok");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(forms.kept(), 1u);
}

// A post whose recording threw (the server answers 500) does not leave its
// repeats waiting: the repeat is recorded.
TEST(FormOnceTest, APostThatThrewLetsItsRepeatThrough) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  FormOnce forms(&clock, absl::Minutes(10), 100);
  const std::string token = FormOnce::NewToken();
  EXPECT_THROW(
      forms.Once(token, "body", []() -> FormOnce::Answer { throw std::runtime_error("failed"); }),
      std::runtime_error);
  EXPECT_EQ(forms.Once(token, "body", [] { return FormOnce::Answer{200, "ok"}; }).page, "ok");
}

TEST(FormOnceTest, WithoutAWellFormedTokenEveryPostIsRecorded) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  FormOnce forms(&clock, absl::Minutes(10), 100);
  int recorded = 0;
  auto record = [&] { return FormOnce::Answer{200, absl::StrCat(++recorded)}; };
  for (const std::string token :
       {"", "short", "!!!!!!!!!!!!!!!!!!!!!!", "a-token-with-23-chars_x"}) {
    forms.Once(token, "body", record);
    forms.Once(token, "body", record);
  }
  EXPECT_EQ(recorded, 8);
  EXPECT_EQ(forms.kept(), 0u);
}

TEST(FormOnceTest, KeepsAtMostItsBoundForgettingTheOldest) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  FormOnce forms(&clock, absl::Minutes(10), 3);
  int recorded = 0;
  auto record = [&] { return FormOnce::Answer{200, absl::StrCat(++recorded)}; };
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) {
    tokens.push_back(FormOnce::NewToken());
    forms.Once(tokens.back(), "body", record);
    EXPECT_LE(forms.kept(), 3u);
  }
  EXPECT_EQ(forms.Once(tokens[4], "body", record).page, "5");  // kept
  EXPECT_EQ(forms.Once(tokens[0], "body", record).page, "6");  // forgotten
}

// Two posts of one form at once (a double click): one report, both answers
// its receipt, whichever arrives while the other is being recorded.
TEST(FormOnceTest, TwoPostsAtOnceRecordOneReport) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  FormOnce forms(&clock, absl::Minutes(10), 100);
  const std::string token = FormOnce::NewToken();
  std::atomic<int> recorded{0};
  absl::Notification first_started, let_it_finish;
  auto slow_record = [&] {
    const int n = ++recorded;
    first_started.Notify();
    let_it_finish.WaitForNotification();
    return FormOnce::Answer{200, absl::StrCat("receipt ", n)};
  };
  std::string first_page, second_page;
  std::thread first([&] { first_page = forms.Once(token, "body", slow_record).page; });
  first_started.WaitForNotification();
  std::thread second([&] {
    second_page = forms
                      .Once(token, "body",
                            [&] {
                              return FormOnce::Answer{200, absl::StrCat("receipt ", ++recorded)};
                            })
                      .page;
  });
  let_it_finish.Notify();
  first.join();
  second.join();
  EXPECT_EQ(recorded.load(), 1);
  EXPECT_EQ(first_page, "receipt 1");
  EXPECT_EQ(second_page, "receipt 1");
}

TEST(PublicFormConfigTest, OffByDefaultAndCheckedWhenPresent) {
  broker::NodeConfig config;
  config.set_node_id("toscana");
  config.set_ca_certificate("ca.crt");
  config.set_listen_address("127.0.0.1:7102");
  broker::Console* c = config.mutable_console();
  c->set_listen_address("127.0.0.1:7443");
  c->set_https_certificate("web.crt");
  c->set_https_key("web.key");
  c->set_certificate("console.crt");
  c->set_key("console.key");
  auto off = ConsoleOptionsFromConfig(config);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->public_form.enabled);

  c->mutable_public_form()->set_listen_address("0.0.0.0:7543");
  auto on = ConsoleOptionsFromConfig(config);
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->public_form.enabled);
  EXPECT_EQ(on->public_form.origin, "https://0.0.0.0:7543");
  EXPECT_EQ(on->public_form.https_certificate, "web.crt");
  EXPECT_EQ(on->public_form.https_key, "web.key");
  EXPECT_EQ(on->public_form.max_body_bytes, 16u * 1024);
  EXPECT_EQ(on->public_form.global_per_minute, 30);

  struct Case {
    const char* name;
    std::function<void(broker::PublicForm*)> mutate;
    const char* mentions;
  };
  const std::vector<Case> cases = {
      {"no address", [](broker::PublicForm* p) { p->clear_listen_address(); }, "listenAddress"},
      {"the staff's address",
       [](broker::PublicForm* p) { p->set_listen_address("127.0.0.1:7443"); }, "must differ"},
      {"origin with a path",
       [](broker::PublicForm* p) { p->set_origin("https://segnala.example/form"); }, "origin"},
      {"certificate without key",
       [](broker::PublicForm* p) { p->set_https_certificate("other.crt"); }, "httpsKey"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    broker::NodeConfig bad = config;
    k.mutate(bad.mutable_console()->mutable_public_form());
    auto r = ConsoleOptionsFromConfig(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr(k.mentions));
  }
}

TEST(PublicPagesTest, EscapesWhatWasTypedAndShows112WhenTicked) {
  FormValues typed = GoodForm();
  typed.erase("description");
  typed.emplace("description", "<script>alert(1)</script>\"'&");
  typed.emplace("immediate_danger", "1");
  const std::string page = FormPage(PageLang::kIt, typed, "province", "Controlla il campo", "tok");
  EXPECT_THAT(page, ::testing::Not(::testing::HasSubstr("<script>alert")));
  EXPECT_THAT(page, ::testing::HasSubstr("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
  EXPECT_THAT(page, ::testing::HasSubstr("id=\"province-error\""));
  EXPECT_THAT(page, ::testing::HasSubstr(std::string(kCall112)));
  // Ticked: the 112 sentence is not hidden, even without the script.
  EXPECT_THAT(page, ::testing::HasSubstr("id=\"danger-112\" class=\"danger\" role=\"alert\"><p>"));
  const std::string fresh = FormPage(PageLang::kEn, {}, "", "", "tok");
  EXPECT_THAT(fresh, ::testing::HasSubstr("role=\"alert\" hidden>"));
  EXPECT_THAT(fresh, ::testing::HasSubstr("<html lang=\"en\">"));
  // Nothing from elsewhere.
  EXPECT_THAT(fresh, ::testing::Not(::testing::HasSubstr("http://")));
  EXPECT_THAT(fresh, ::testing::Not(::testing::HasSubstr("https://")));

  v1::PublicReportResponse receipt;
  receipt.set_receipt_code("K7QF-3MZP-XW2D");
  receipt.set_passphrase("<b>");
  const std::string answer = ReceiptPage(PageLang::kIt, receipt, true);
  EXPECT_THAT(answer, ::testing::HasSubstr("K7QF-3MZP-XW2D"));
  EXPECT_THAT(answer, ::testing::HasSubstr("&lt;b&gt;"));
  EXPECT_THAT(answer, ::testing::HasSubstr(std::string(kCall112)));
}

}  // namespace
}  // namespace mir::console
