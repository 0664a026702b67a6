// The public report form on its own HTTPS listener (mir-console's
// PublicServer, cpp-httplib's SSLClient with the test PKI's web CA) in front
// of a real broker over mutual TLS on loopback, beside the staff listener:
// a report sent through the form is what staff then see; oversized and
// malformed posts are refused (413, 400 naming the field) and store nothing;
// the follow-up answers a wrong passphrase as it answers an unknown code;
// the rate limits answer 429; neither listener serves the other's routes;
// and nothing of the client's address or user agent is logged or stored.
//
// The client reaches the form at 127.0.0.3 (the name "localhost" mapped
// there, which the web certificate names): its address is then one nothing
// else in the test uses, so finding it anywhere means it was kept.

#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "console/errors.h"
#include "console/form_once.h"
#include "console/http_server.h"
#include "console/public_pages.h"
#include "console/public_server.h"
#include "console/service.h"
#include "crypto/console_login.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

constexpr char kOrigin[] = "https://console.test";
constexpr char kPublicOrigin[] = "https://segnala.test";
constexpr char kClientAddress[] = "127.0.0.3";
constexpr char kUserAgent[] = "MirAnonymityProbe/7.3 (test; ua-5d1f9c)";

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &out).ok()) << text;
  return out;
}
std::string Str(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? "" : it->second.string_value();
}

std::string FormBody(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : fields) {
    parts.push_back(absl::StrCat(k, "=", httplib::detail::encode_query_param(v)));
  }
  return absl::StrJoin(parts, "&");
}

std::vector<std::pair<std::string, std::string>> GoodReport(const std::string& description) {
  return {{"reporter_type", "REPORTER_CITIZEN"},
          {"reason", "REASON_REPORT"},
          {"province", "PO"},
          {"municipality", "Prato"},
          {"suspected_exploitation", "EXPLOITATION_LABOUR"},
          {"persons", "4"},
          {"minors_suspected", "1"},
          {"description", description},
          {"language", "ita"}};
}

// The text of the element with `id`, up to its first child tag. Plain
// string search: g++ 12 under the sanitizers warns (maybe-uninitialized)
// inside std::regex, and warnings are errors.
std::string Between(const std::string& html, const std::string& id) {
  const size_t at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  const size_t open = html.find('>', at);
  if (open == std::string::npos) return "";
  const size_t close = html.find('<', open + 1);
  if (close == std::string::npos) return "";
  return html.substr(open + 1, close - open - 1);
}

std::string FileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct Person {
  std::string cookie;
  std::string csrf;
};

class PublicFormTest : public NetworkTest {
 protected:
  void SetUp() override {
    NetworkTest::SetUp();
    ASSERT_TRUE(StartNode("toscana"));
    console::PublicFormOptions form;
    form.enabled = true;
    form.listen_address = absl::StrCat(kClientAddress, ":0");
    form.origin = kPublicOrigin;
    form.https_certificate = PkiPath("toscana/console-https.crt");
    form.https_key = PkiPath("toscana/console-https.key");
    form.global_per_minute = 10000;
    form.client_burst = 10000;
    form.client_per_hour = 10000;
    form.http_threads = 4;
    StartConsole(form);
  }
  void TearDown() override {
    StopConsole();
    NetworkTest::TearDown();
  }

  void StartConsole(const console::PublicFormOptions& form) {
    console::ConsoleOptions o;
    o.node_id = "toscana";
    o.ca_certificate = PkiPath("ca.crt");
    o.crl_files = {PkiPath("crl.pem")};
    o.listen_address = "127.0.0.1:0";
    o.origin = kOrigin;
    o.https_certificate = PkiPath("toscana/console-https.crt");
    o.https_key = PkiPath("toscana/console-https.key");
    o.certificate = PkiPath("toscana/console.crt");
    o.key = PkiPath("toscana/console.key");
    o.broker_address = Address(ports_["toscana"]);
    o.http_threads = 4;
    o.public_form = form;
    auto service = console::ConsoleService::Create(o, &clock_);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = std::move(*service);
    auto staff = console::HttpServer::Create(service_.get());
    ASSERT_TRUE(staff.ok()) << staff.status();
    staff_ = std::move(*staff);
    auto staff_port = staff_->Bind();
    ASSERT_TRUE(staff_port.ok()) << staff_port.status();
    staff_port_ = *staff_port;
    auto pub = console::PublicServer::Create(service_.get(), &clock_);
    ASSERT_TRUE(pub.ok()) << pub.status();
    public_ = std::move(*pub);
    auto public_port = public_->Bind();
    ASSERT_TRUE(public_port.ok()) << public_port.status();
    public_port_ = *public_port;
    staff_serving_ = std::thread([this] { staff_->Run(); });
    public_serving_ = std::thread([this] { public_->Run(); });
    // Both serving before anything else: a Stop before Run has begun would
    // be lost (httplib stops only a running server).
    ASSERT_TRUE(WaitFor([&] {
      auto pub = PublicClient()->Get("/form.css");
      auto staff = StaffClient()->Get("/style.css");
      return pub && pub->status == 200 && staff && staff->status == 200;
    }));
  }
  void StopConsole() {
    if (public_ != nullptr) public_->Stop();
    if (staff_ != nullptr) staff_->Stop();
    if (public_serving_.joinable()) public_serving_.join();
    if (staff_serving_.joinable()) staff_serving_.join();
    public_.reset();
    staff_.reset();
    service_.reset();
  }

  // The public form's client: as a browser would reach it, at 127.0.0.3.
  std::unique_ptr<httplib::SSLClient> PublicClient() {
    auto cli = std::make_unique<httplib::SSLClient>("localhost", public_port_);
    cli->set_hostname_addr_map({{"localhost", kClientAddress}});
    cli->set_ca_cert_path(PkiPath("web-ca.crt").c_str());
    cli->enable_server_certificate_verification(true);
    cli->set_read_timeout(20, 0);
    return cli;
  }
  httplib::Result PublicGet(const std::string& path) {
    return PublicClient()->Get(path.c_str(), httplib::Headers{{"User-Agent", kUserAgent}});
  }
  httplib::Result PublicPost(const std::string& path, const std::string& body,
                             httplib::Headers headers = {}) {
    headers.emplace("User-Agent", kUserAgent);
    return PublicClient()->Post(path.c_str(), headers, body, "application/x-www-form-urlencoded");
  }

  // The staff side, signed in as toscana's operator.
  std::unique_ptr<httplib::SSLClient> StaffClient() {
    auto cli = std::make_unique<httplib::SSLClient>("127.0.0.1", staff_port_);
    cli->set_ca_cert_path(PkiPath("web-ca.crt").c_str());
    cli->enable_server_certificate_verification(true);
    cli->set_read_timeout(20, 0);
    return cli;
  }
  Person Login(const std::string& prefix = "toscana/operator") {
    auto challenge = StaffClient()->Get("/api/login/challenge");
    EXPECT_TRUE(challenge && challenge->status == 200);
    const std::string statement = Str(Json(challenge->body), "statement");
    auto signer = PkiSigner(prefix);
    const std::string body =
        absl::StrCat("{\"statement\": ", console::JsonString(statement),
                     ", \"certificatePem\": ", console::JsonString(ReadPkiFile(prefix + ".crt")),
                     ", \"signature\": \"",
                     absl::Base64Escape(*signer->Sign(ConsoleLoginSignedBytes(statement))), "\"}");
    auto res = StaffClient()->Post("/api/login", httplib::Headers{{"Origin", kOrigin}}, body,
                                   "application/json");
    Person p;
    EXPECT_TRUE(res);
    if (!res) return p;
    EXPECT_EQ(res->status, 200) << res->body;
    const std::string cookie = res->get_header_value("Set-Cookie");
    p.cookie = cookie.substr(0, cookie.find(';'));
    p.csrf = Str(Json(res->body), "csrf");
    return p;
  }
  httplib::Result StaffGet(const Person& p, const std::string& path) {
    return StaffClient()->Get(path.c_str(), httplib::Headers{{"Cookie", p.cookie}});
  }
  // The reports toscana's staff see.
  std::vector<google::protobuf::Struct> StaffReports() {
    if (staff_person_.cookie.empty() || person_port_ != staff_port_) {
      staff_person_ = Login();
      person_port_ = staff_port_;
    }
    auto res = StaffGet(staff_person_, "/api/reports");
    std::vector<google::protobuf::Struct> out;
    EXPECT_TRUE(res);
    if (!res) return out;
    EXPECT_EQ(res->status, 200) << res->body;
    auto parsed = Json(res->body);
    auto it = parsed.fields().find("reports");
    if (it == parsed.fields().end()) return out;
    for (const auto& v : it->second.list_value().values()) out.push_back(v.struct_value());
    return out;
  }

  FakeClock clock_{absl::Now()};
  std::unique_ptr<console::ConsoleService> service_;
  std::unique_ptr<console::HttpServer> staff_;
  std::unique_ptr<console::PublicServer> public_;
  std::thread staff_serving_, public_serving_;
  int staff_port_ = 0, public_port_ = 0;
  Person staff_person_;
  int person_port_ = -1;
};

TEST_F(PublicFormTest, TheFormPageWorksWithoutScriptAndLoadsNothingFromElsewhere) {
  auto res = PublicGet("/");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  const std::string csp = res->get_header_value("Content-Security-Policy");
  EXPECT_THAT(csp, ::testing::HasSubstr("default-src 'none'"));
  EXPECT_THAT(csp, ::testing::HasSubstr("script-src 'self'"));
  EXPECT_THAT(csp, ::testing::HasSubstr("form-action 'self'"));
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(res->get_header_value("Referrer-Policy"), "no-referrer");
  EXPECT_TRUE(res->get_header_value("Set-Cookie").empty());
  EXPECT_THAT(res->body, ::testing::HasSubstr("<form method=\"post\" action=\"/report\""));
  EXPECT_THAT(res->body, ::testing::HasSubstr("<html lang=\"it\">"));
  EXPECT_THAT(res->body, ::testing::HasSubstr(std::string(console::kCall112)));
  EXPECT_THAT(res->body, ::testing::HasSubstr("Contatto — facoltativo"));
  auto en = PublicGet("/?lang=en");
  ASSERT_TRUE(en);
  EXPECT_THAT(en->body, ::testing::HasSubstr("<html lang=\"en\">"));
  EXPECT_THAT(en->body, ::testing::HasSubstr("Contact — optional"));
  for (const char* file : {"/form.js", "/form.css"}) {
    auto f = PublicGet(file);
    ASSERT_TRUE(f) << file;
    EXPECT_EQ(f->status, 200) << file;
  }
}

TEST_F(PublicFormTest, AReportFromTheFormIsWhatStaffSee) {
  // A textarea's lines arrive as CR LF.
  auto res =
      PublicPost("/report", FormBody(GoodReport("fictional report through the form\r\nline two")));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const std::string code = Between(res->body, "receipt-code");
  const std::string passphrase = Between(res->body, "passphrase");
  EXPECT_FALSE(code.empty());
  EXPECT_FALSE(passphrase.empty());
  EXPECT_THAT(res->body, ::testing::Not(::testing::HasSubstr(std::string(console::kCall112) +
                                                             "</p></div>\n<h1>")));

  auto reports = StaffReports();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(Str(reports[0], "channel"), "CHANNEL_WEB_FORM");
  EXPECT_EQ(Str(reports[0], "reporterType"), "REPORTER_CITIZEN");
  EXPECT_EQ(Str(reports[0], "province"), "PO");
  EXPECT_EQ(Str(reports[0], "state"), "REPORT_RECEIVED");
  const std::string id = Str(reports[0], "reportId");
  auto view = StaffGet(staff_person_, absl::StrCat("/api/reports/", id));
  ASSERT_TRUE(view);
  ASSERT_EQ(view->status, 200) << view->body;
  EXPECT_THAT(view->body, ::testing::HasSubstr("fictional report through the form\\nline two"));
  EXPECT_THAT(view->body, ::testing::HasSubstr("Prato"));

  // Someone in danger: the answer says to call 112, at the top.
  auto body = GoodReport("fictional danger report");
  body.emplace_back("immediate_danger", "1");
  auto danger = PublicPost("/report", FormBody(body));
  ASSERT_TRUE(danger);
  ASSERT_EQ(danger->status, 200) << danger->body;
  EXPECT_THAT(danger->body,
              ::testing::HasSubstr(absl::StrCat("<div id=\"danger-112\" class=\"danger\" "
                                                "role=\"alert\"><p>",
                                                console::kCall112)));
  EXPECT_EQ(StaffReports().size(), 2u);
}

// A double click, or a reload that posts the form again: one report, and
// the repeat shows the same receipt. The same form changed and sent again
// is a new report; a refusal keeps the form's token for the corrected post.
TEST_F(PublicFormTest, AFormPostedTwiceRecordsOneReport) {
  auto TokenOf = [](const std::string& page) {
    const std::string field = "name=\"form_token\" value=\"";
    const size_t at = page.find(field);
    if (at == std::string::npos) return std::string();
    return page.substr(at + field.size(), page.find('"', at + field.size()) - at - field.size());
  };
  auto page = PublicGet("/");
  ASSERT_TRUE(page);
  const std::string token = TokenOf(page->body);
  ASSERT_TRUE(console::FormOnce::WellFormed(token)) << token;
  auto another = PublicGet("/");
  ASSERT_TRUE(another);
  EXPECT_NE(TokenOf(another->body), token);

  auto fields = GoodReport("fictional report sent twice");
  fields.emplace_back("form_token", token);
  auto first = PublicPost("/report", FormBody(fields));
  auto again = PublicPost("/report", FormBody(fields));
  ASSERT_TRUE(first);
  ASSERT_TRUE(again);
  ASSERT_EQ(first->status, 200) << first->body;
  ASSERT_EQ(again->status, 200) << again->body;
  const std::string code = Between(first->body, "receipt-code");
  EXPECT_FALSE(code.empty());
  EXPECT_EQ(Between(again->body, "receipt-code"), code);
  EXPECT_EQ(Between(again->body, "passphrase"), Between(first->body, "passphrase"));
  EXPECT_EQ(StaffReports().size(), 1u);

  // Refused (no reporter type), then corrected: the form keeps its token,
  // and the corrected post is recorded.
  auto changed = GoodReport("fictional report, changed and sent again");
  changed.erase(changed.begin());
  changed.emplace_back("form_token", token);
  auto refused = PublicPost("/report", FormBody(changed));
  ASSERT_TRUE(refused);
  ASSERT_EQ(refused->status, 400) << refused->body;
  EXPECT_EQ(TokenOf(refused->body), token);
  changed.emplace_back("reporter_type", "REPORTER_CITIZEN");
  auto corrected = PublicPost("/report", FormBody(changed));
  ASSERT_TRUE(corrected);
  ASSERT_EQ(corrected->status, 200) << corrected->body;
  EXPECT_NE(Between(corrected->body, "receipt-code"), code);
  EXPECT_EQ(StaffReports().size(), 2u);

  // A post without a token (a page from before tokens) is recorded each time.
  auto untokened = GoodReport("fictional report without a token");
  ASSERT_EQ(PublicPost("/report", FormBody(untokened))->status, 200);
  ASSERT_EQ(PublicPost("/report", FormBody(untokened))->status, 200);
  EXPECT_EQ(StaffReports().size(), 4u);
}

TEST_F(PublicFormTest, OversizedPostIs413AndStoresNothing) {
  auto res = PublicPost("/report", FormBody(GoodReport(std::string(20 * 1024, 'x'))));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_THAT(res->body, ::testing::HasSubstr("troppo lungo"));
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_TRUE(StaffReports().empty());
}

TEST_F(PublicFormTest, MalformedPostsAre400NamingTheFieldAndStoreNothing) {
  struct Case {
    const char* name;
    std::string key;  // replaced (or removed when value is nullopt-like "<remove>")
    std::string value;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"bad province", "province", "ZZ", "province"},
      {"unknown language", "language", "xxq", "language"},
      {"missing reporter type", "reporter_type", "<remove>", "reporter_type"},
      {"persons over 1000", "persons", "1001", "persons"},
      {"description over 4000 bytes", "description", std::string(4001, 'y'), "description"},
      {"contact over 200 bytes", "contact", std::string(201, 'c'), "contact"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto fields = GoodReport("fictional malformed report");
    std::erase_if(fields, [&](const auto& kv) { return kv.first == c.key; });
    if (c.value != "<remove>") fields.emplace_back(c.key, c.value);
    auto res = PublicPost("/report", FormBody(fields));
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400);
    // Named in the summary and at the field, the field marked, what was
    // typed kept.
    EXPECT_THAT(res->body, ::testing::HasSubstr(absl::StrCat("href=\"#", c.field, "\"")));
    EXPECT_THAT(res->body, ::testing::HasSubstr(absl::StrCat("id=\"", c.field, "-error\"")));
    EXPECT_THAT(res->body, ::testing::HasSubstr("aria-invalid=\"true\""));
    EXPECT_THAT(res->body, ::testing::HasSubstr("value=\"Prato\""));
  }
  auto broken = PublicPost("/report", "description=%zz");
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->status, 400);
  EXPECT_TRUE(StaffReports().empty());
}

TEST_F(PublicFormTest, FollowUpAnswersAWrongPassphraseAsAnUnknownCode) {
  auto sent = PublicPost("/report", FormBody(GoodReport("fictional report to follow")));
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->status, 200) << sent->body;
  const std::string code = Between(sent->body, "receipt-code");
  const std::string passphrase = Between(sent->body, "passphrase");
  ASSERT_FALSE(code.empty());

  auto page = PublicGet("/follow-up");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, ::testing::HasSubstr("action=\"/follow-up\""));

  auto good =
      PublicPost("/follow-up", FormBody({{"receipt_code", code}, {"passphrase", passphrase}}));
  ASSERT_TRUE(good);
  ASSERT_EQ(good->status, 200) << good->body;
  EXPECT_THAT(good->body, ::testing::HasSubstr("data-progress=\"RECEIVED\""));
  // Typed in lower case, with spaces around: the same report.
  std::string lower = code;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto typed = PublicPost(
      "/follow-up", FormBody({{"receipt_code", " " + lower + " "}, {"passphrase", passphrase}}));
  ASSERT_TRUE(typed);
  EXPECT_EQ(typed->status, 200) << typed->body;

  auto wrong = PublicPost("/follow-up",
                          FormBody({{"receipt_code", code}, {"passphrase", passphrase + "x"}}));
  auto unknown = PublicPost(
      "/follow-up", FormBody({{"receipt_code", "AAAA-BBBB-CCCC"}, {"passphrase", passphrase}}));
  ASSERT_TRUE(wrong);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(wrong->status, 404);
  EXPECT_EQ(unknown->status, wrong->status);
  EXPECT_EQ(unknown->body, wrong->body);
  EXPECT_THAT(wrong->body, ::testing::HasSubstr("Nessuna segnalazione corrisponde"));

  auto empty = PublicPost("/follow-up", FormBody({{"receipt_code", code}, {"passphrase", ""}}));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  EXPECT_THAT(empty->body, ::testing::HasSubstr("id=\"passphrase-error\""));
}

TEST_F(PublicFormTest, NeitherAddressNorUserAgentIsLoggedOrStored) {
  ::testing::internal::CaptureStderr();
  auto sent = PublicPost("/report", FormBody(GoodReport("fictional anonymous report")));
  auto bad = PublicPost("/report", FormBody({{"reporter_type", "REPORTER_SELF"}}));
  auto big = PublicPost("/report", std::string(20 * 1024, 'z'));
  auto follow = PublicPost("/follow-up", FormBody({{"receipt_code", "X"}, {"passphrase", "y"}}));
  auto missing = PublicGet("/nope?who=me");
  auto page = PublicGet("/");
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(sent && bad && big && follow && missing && page);
  ASSERT_EQ(sent->status, 200) << sent->body;
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(follow->status, 404);
  EXPECT_EQ(missing->status, 404);
  // Each request was logged, with nothing of who sent it.
  EXPECT_THAT(log, ::testing::HasSubstr("public form: POST /report 200"));
  EXPECT_THAT(log, ::testing::HasSubstr("public form: GET (other) 404"));
  EXPECT_THAT(log, ::testing::Not(::testing::HasSubstr(kClientAddress)));
  EXPECT_THAT(log, ::testing::Not(::testing::HasSubstr("ua-5d1f9c")));
  EXPECT_THAT(log, ::testing::Not(::testing::HasSubstr("MirAnonymityProbe")));
  EXPECT_THAT(log, ::testing::Not(::testing::HasSubstr("who=me")));

  ASSERT_EQ(StaffReports().size(), 1u);
  // The node's store, every file of it, as bytes.
  std::string store;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    if (entry.path().filename().string().rfind("toscana.db", 0) == 0) {
      store += FileBytes(entry.path().string());
    }
  }
  ASSERT_FALSE(store.empty());
  for (const char* needle : {kClientAddress, "127.0.0.1", "ua-5d1f9c", "MirAnonymityProbe"}) {
    EXPECT_EQ(store.find(needle), std::string::npos) << needle;
  }
}

TEST_F(PublicFormTest, RateLimitsAnswer429WithRetryAfter) {
  StopConsole();
  console::PublicFormOptions form;
  form.enabled = true;
  form.listen_address = absl::StrCat(kClientAddress, ":0");
  form.origin = kPublicOrigin;
  form.https_certificate = PkiPath("toscana/console-https.crt");
  form.https_key = PkiPath("toscana/console-https.key");
  form.global_per_minute = 1000;
  form.client_burst = 3;
  form.client_per_hour = 6;  // one every 10 minutes
  StartConsole(form);
  // Refused posts count too: a guesser of passphrases is held back as much.
  const std::string bad = FormBody({{"reporter_type", ""}});
  for (int i = 0; i < 3; ++i) {
    auto res = PublicPost("/report", bad);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << i;
  }
  auto limited = PublicPost("/report", FormBody(GoodReport("fictional limited report")));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  int retry_after = 0;
  EXPECT_TRUE(absl::SimpleAtoi(limited->get_header_value("Retry-After"), &retry_after));
  EXPECT_GE(retry_after, 599);
  EXPECT_LE(retry_after, 601);
  EXPECT_THAT(limited->body, ::testing::HasSubstr("Troppe richieste"));
  auto follow = PublicPost("/follow-up", FormBody({{"receipt_code", "X"}, {"passphrase", "y"}}));
  EXPECT_EQ(follow->status, 429);
  // Pages are not limited.
  EXPECT_EQ(PublicGet("/")->status, 200);
  clock_.Advance(absl::Minutes(10));
  auto again = PublicPost("/report", bad);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 400);
}

TEST_F(PublicFormTest, EachListenerServesOnlyItsOwnRoutes) {
  for (const char* path : {"/api/me", "/api/login/challenge", "/api/reports", "/index.html",
                           "/app.js", "/texts.js", "/api/events"}) {
    auto res = PublicGet(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
  }
  for (const char* path : {"/api/login", "/api/reports", "/api/logout"}) {
    auto res = PublicPost(path, "{}", {{"Origin", kPublicOrigin}});
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
  }
  auto staff = StaffClient();
  for (const char* path : {"/follow-up", "/form.js", "/form.css"}) {
    auto res = staff->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
  }
  auto post = staff->Post("/report", httplib::Headers{{"Origin", kOrigin}},
                          FormBody(GoodReport("fictional report at the staff door")),
                          "application/x-www-form-urlencoded");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 404);
  // The staff page is still the staff page.
  auto index = staff->Get("/");
  ASSERT_TRUE(index);
  EXPECT_THAT(index->body, ::testing::HasSubstr("app.js"));
  EXPECT_TRUE(StaffReports().empty());
}

TEST_F(PublicFormTest, CrossOriginPostsAreRefused) {
  const std::string body = FormBody(GoodReport("fictional cross-origin report"));
  struct Case {
    const char* name;
    httplib::Headers headers;
  };
  const std::vector<Case> cases = {
      {"another origin", {{"Origin", "https://evil.example"}}},
      {"the staff console's origin", {{"Origin", kOrigin}}},
      {"cross-site fetch", {{"Sec-Fetch-Site", "cross-site"}}},
      {"same-site fetch", {{"Origin", kPublicOrigin}, {"Sec-Fetch-Site", "same-site"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto res = PublicPost("/report", body, c.headers);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403);
  }
  EXPECT_TRUE(StaffReports().empty());
  // The form's own page posting: accepted.
  auto own = PublicPost("/report", FormBody({{"reporter_type", ""}}),
                        {{"Origin", kPublicOrigin}, {"Sec-Fetch-Site", "same-origin"}});
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status, 400);
}

// The staff side of the same reports (docs/CONSOLE-API.md, "Citizen
// reports (staff)"): a phone contact recorded once however often it is sent,
// refusals naming the field, the contact only on request (and never in the
// log), triage and the link to a referral, the page's calls refused to a
// partner.
TEST_F(PublicFormTest, StaffRecordTriageLinkAndReadTheContactOnRequest) {
  const Person op = Login();
  auto post = [&](const Person& p, const std::string& path, const std::string& body) {
    return StaffClient()->Post(
        path.c_str(),
        httplib::Headers{{"Origin", kOrigin}, {"Cookie", p.cookie}, {"X-MIR-CSRF", p.csrf}}, body,
        "application/json");
  };
  const std::string id = NewUuid();
  const std::string report = absl::StrCat(R"({"reportId": ")", id, R"(", "report": {
      "channel": "CHANNEL_PHONE", "reporterType": "REPORTER_CLIENT_FRIEND_COLLEAGUE",
      "reason": "REASON_HELP", "province": "FI", "language": "ron", "persons": 2,
      "immediateDanger": true, "description": "fictional phone call",
      "contact": "fictional contact 3330000000"}})");
  auto recorded = post(op, "/api/reports", report);
  ASSERT_TRUE(recorded);
  ASSERT_EQ(recorded->status, 200) << recorded->body;
  EXPECT_THAT(recorded->body, ::testing::HasSubstr("\"hasContact\":true"));
  EXPECT_THAT(recorded->body, ::testing::Not(::testing::HasSubstr("3330000000")));
  // Sent again (a lost answer): recorded once.
  auto again = post(op, "/api/reports", report);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(StaffReports().size(), 1u);
  // The same id with other content.
  auto other = post(op, "/api/reports",
                    absl::StrReplaceAll(report, {{"fictional phone call", "another call"}}));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 409) << other->body;

  struct Case {
    const char* name;
    std::string body;
    const char* field;
  };
  const std::vector<Case> cases = {
      {"no reporter type",
       absl::StrReplaceAll(report, {{R"("reporterType": "REPORTER_CLIENT_FRIEND_COLLEAGUE",)", ""},
                                    {id, NewUuid()}}),
       "reporter_type"},
      {"unknown language", absl::StrReplaceAll(report, {{"\"ron\"", "\"xxq\""}, {id, NewUuid()}}),
       "language"},
      {"bad province", absl::StrReplaceAll(report, {{"\"FI\"", "\"ZZ\""}, {id, NewUuid()}}),
       "province"},
      {"id not a UUID", absl::StrReplaceAll(report, {{id, "report-1"}}), "reportId"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto res = post(op, "/api/reports", c.body);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << res->body;
    EXPECT_THAT(res->body, ::testing::HasSubstr(absl::StrCat("\"field\": \"", c.field, "\"")));
  }
  EXPECT_EQ(StaffReports().size(), 1u);

  // The contact: only when asked, and the log says who asked, never what.
  auto plain = StaffGet(op, absl::StrCat("/api/reports/", id));
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200) << plain->body;
  EXPECT_THAT(plain->body, ::testing::HasSubstr("fictional phone call"));
  EXPECT_THAT(plain->body, ::testing::Not(::testing::HasSubstr("3330000000")));
  ::testing::internal::CaptureStderr();
  auto asked = StaffGet(op, absl::StrCat("/api/reports/", id, "?contact=1"));
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(asked);
  ASSERT_EQ(asked->status, 200) << asked->body;
  EXPECT_THAT(asked->body, ::testing::HasSubstr("fictional contact 3330000000"));
  EXPECT_THAT(log, ::testing::HasSubstr(absl::StrCat("contact of report ", id,
                                                     " shown to mir://toscana/operator/op1")));
  EXPECT_THAT(log, ::testing::Not(::testing::HasSubstr("3330000000")));

  auto unknown = StaffGet(op, absl::StrCat("/api/reports/", NewUuid()));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, ::testing::HasSubstr("UNKNOWN_REPORT"));

  // Triage: a route only with a pertinent report; then once.
  const std::string triage = absl::StrCat("/api/reports/", id, "/triage");
  auto bad_route = post(op, triage, R"({"triage": "NOT_PERTINENT", "routeTo": "lombardia"})");
  ASSERT_TRUE(bad_route);
  EXPECT_EQ(bad_route->status, 400) << bad_route->body;
  EXPECT_THAT(bad_route->body, ::testing::HasSubstr("\"field\": \"route_to\""));
  auto bad_value = post(op, triage, R"({"triage": "MAYBE"})");
  EXPECT_EQ(bad_value->status, 400);
  auto triaged = post(op, triage, R"({"triage": "PERTINENT"})");
  ASSERT_TRUE(triaged);
  ASSERT_EQ(triaged->status, 200) << triaged->body;
  EXPECT_THAT(triaged->body, ::testing::HasSubstr("\"state\":\"REPORT_TRIAGED\""));
  auto twice = post(op, triage, R"({"triage": "QUALIFIED"})");
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 409) << twice->body;

  // The referral it became.
  const std::string referral = SubmitReferral("nvn");
  auto linked = post(op, absl::StrCat("/api/reports/", id, "/link"),
                     absl::StrCat(R"({"referralId": ")", referral, R"("})"));
  ASSERT_TRUE(linked);
  ASSERT_EQ(linked->status, 200) << linked->body;
  EXPECT_THAT(linked->body, ::testing::HasSubstr(absl::StrCat("\"referralId\":\"", referral)));
  auto listed = StaffGet(op, "/api/reports?state=TRIAGED");
  ASSERT_TRUE(listed);
  EXPECT_THAT(listed->body, ::testing::HasSubstr(id));
  auto none = StaffGet(op, "/api/reports?state=RECEIVED");
  ASSERT_TRUE(none);
  EXPECT_THAT(none->body, ::testing::Not(::testing::HasSubstr(id)));
  EXPECT_EQ(StaffGet(op, "/api/reports?state=NOPE")->status, 400);

  // A partner of the node: the node refuses every report call.
  const Person partner = Login("toscana/partner");
  auto refused = StaffGet(partner, "/api/reports");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403) << refused->body;
  EXPECT_THAT(refused->body, ::testing::HasSubstr("ROLE_NOT_ALLOWED"));
  auto not_recorded = post(partner, "/api/reports", absl::StrReplaceAll(report, {{id, NewUuid()}}));
  ASSERT_TRUE(not_recorded);
  EXPECT_EQ(not_recorded->status, 403);

  // Without the CSRF token: nothing recorded.
  auto no_csrf = StaffClient()->Post(
      "/api/reports", httplib::Headers{{"Origin", kOrigin}, {"Cookie", op.cookie}},
      absl::StrReplaceAll(report, {{id, NewUuid()}}), "application/json");
  ASSERT_TRUE(no_csrf);
  EXPECT_EQ(no_csrf->status, 403);
  EXPECT_EQ(StaffReports().size(), 1u);
}

}  // namespace
}  // namespace mir::testing
