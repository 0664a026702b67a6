// mir-console over real HTTPS (cpp-httplib's SSLClient, the test PKI's web
// CA) in front of a real broker over mutual TLS on loopback: sign-in and its
// refusals, sessions and CSRF, the relay's authorization, actions prepared
// by the console and signed here with the person's key, the body limit and
// the event stream.

#include <httplib.h>

#include <atomic>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "console/errors.h"
#include "console/http_server.h"
#include "console/service.h"
#include "crypto/console_login.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

constexpr char kOrigin[] = "https://console.test";

google::protobuf::Struct Json(const std::string& text) {
  google::protobuf::Struct out;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &out).ok()) << text;
  return out;
}
std::string Str(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it == s.fields().end() ? "" : it->second.string_value();
}
std::string Reason(const std::string& body) {
  const google::protobuf::Struct parsed = Json(body);
  auto error = parsed.fields().find("error");
  if (error == parsed.fields().end()) return "";
  return Str(error->second.struct_value(), "reason");
}

struct Person {
  std::string cookie;  // "mir_session=..."
  std::string csrf;
};

class ConsoleTest : public NetworkTest {
 protected:
  void SetUp() override {
    NetworkTest::SetUp();
    ASSERT_TRUE(StartNode("toscana"));
    options_console_.node_id = "toscana";
    options_console_.ca_certificate = PkiPath("ca.crt");
    options_console_.crl_files = {PkiPath("crl.pem")};
    options_console_.listen_address = "127.0.0.1:0";
    options_console_.origin = kOrigin;
    options_console_.https_certificate = PkiPath("toscana/console-https.crt");
    options_console_.https_key = PkiPath("toscana/console-https.key");
    options_console_.certificate = PkiPath("toscana/console.crt");
    options_console_.key = PkiPath("toscana/console.key");
    options_console_.broker_address = Address(ports_["toscana"]);
    options_console_.http_threads = 8;
    auto service = console::ConsoleService::Create(options_console_, &clock_);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = std::move(*service);
    auto server = console::HttpServer::Create(service_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto port = server_->Bind();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    serving_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
    if (serving_.joinable()) serving_.join();
    server_.reset();
    service_.reset();
    NetworkTest::TearDown();
  }

  std::unique_ptr<httplib::SSLClient> Client() {
    auto cli = std::make_unique<httplib::SSLClient>("127.0.0.1", port_);
    cli->set_ca_cert_path(PkiPath("web-ca.crt").c_str());
    cli->enable_server_certificate_verification(true);
    cli->set_read_timeout(20, 0);
    return cli;
  }

  httplib::Result Post(const std::string& path, const std::string& body, const Person* p,
                       bool with_csrf = true, const std::string& origin = kOrigin) {
    httplib::Headers headers;
    if (!origin.empty()) headers.emplace("Origin", origin);
    if (p != nullptr) {
      headers.emplace("Cookie", p->cookie);
      if (with_csrf) headers.emplace("X-MIR-CSRF", p->csrf);
    }
    return Client()->Post(path.c_str(), headers, body, "application/json");
  }
  httplib::Result Get(const std::string& path, const Person* p) {
    httplib::Headers headers;
    if (p != nullptr) headers.emplace("Cookie", p->cookie);
    return Client()->Get(path.c_str(), headers);
  }

  std::string Statement() {
    auto res = Get("/api/login/challenge", nullptr);
    EXPECT_TRUE(res && res->status == 200);
    return Str(Json(res->body), "statement");
  }
  std::string LoginBody(const std::string& prefix, const std::string& statement,
                        const std::string& signed_statement = "") {
    auto signer = PkiSigner(prefix);
    const std::string signature = *signer->Sign(
        ConsoleLoginSignedBytes(signed_statement.empty() ? statement : signed_statement));
    return absl::StrCat("{\"statement\": ", console::JsonString(statement),
                        ", \"certificatePem\": ", console::JsonString(ReadPkiFile(prefix + ".crt")),
                        ", \"signature\": \"", absl::Base64Escape(signature), "\"}");
  }
  // Signs in as `prefix`; the answer as it came.
  httplib::Result TryLogin(const std::string& prefix) {
    return Post("/api/login", LoginBody(prefix, Statement()), nullptr);
  }
  Person Login(const std::string& prefix) {
    auto res = TryLogin(prefix);
    Person p;
    EXPECT_TRUE(res);
    if (!res) return p;
    EXPECT_EQ(res->status, 200) << res->body;
    const std::string cookie = res->get_header_value("Set-Cookie");
    p.cookie = cookie.substr(0, cookie.find(';'));
    p.csrf = Str(Json(res->body), "csrf");
    return p;
  }

  // Prepares `body` at `path`, signs every toSign with `prefix`'s key, submits.
  httplib::Result SignAndSubmit(const Person& p, const std::string& prefix, const std::string& path,
                                const std::string& body, bool tamper = false) {
    auto prepared = Post(path, body, &p);
    EXPECT_TRUE(prepared);
    EXPECT_EQ(prepared->status, 200) << prepared->body;
    const auto answer = Json(prepared->body);
    auto signer = PkiSigner(prefix);
    std::vector<std::string> signatures;
    for (const auto& v : answer.fields().at("toSign").list_value().values()) {
      std::string bytes;
      EXPECT_TRUE(absl::Base64Unescape(v.string_value(), &bytes));
      if (tamper) bytes.back() ^= 1;
      signatures.push_back(absl::StrCat("\"", absl::Base64Escape(*signer->Sign(bytes)), "\""));
    }
    return Post("/api/submit",
                absl::StrCat("{\"token\": \"", Str(answer, "token"), "\", \"signatures\": [",
                             absl::StrJoin(signatures, ", "), "]}"),
                &p);
  }

  FakeClock clock_{absl::Now()};
  console::ConsoleOptions options_console_;
  std::unique_ptr<console::ConsoleService> service_;
  std::unique_ptr<console::HttpServer> server_;
  std::thread serving_;
  int port_ = 0;
};

TEST_F(ConsoleTest, PageAndSecurityHeaders) {
  auto res = Get("/", nullptr);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_THAT(res->get_header_value("Content-Security-Policy"),
              ::testing::HasSubstr("default-src 'none'; script-src 'self'"));
  EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(res->get_header_value("X-Frame-Options"), "DENY");
  EXPECT_EQ(res->get_header_value("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(res->get_header_value("Strict-Transport-Security"), "max-age=31536000");
  for (const char* missing : {"/nope.js", "/../CMakeLists.txt", "/api/nope"}) {
    auto gone = Get(missing, nullptr);
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->status, 404) << missing;
    EXPECT_FALSE(gone->get_header_value("Content-Security-Policy").empty());
  }
  auto api = Get("/api/me", nullptr);
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 401);
  EXPECT_EQ(api->get_header_value("Cache-Control"), "no-store");
  EXPECT_EQ(Reason(api->body), "SESSION_EXPIRED");
}

TEST_F(ConsoleTest, OperatorSignsIn) {
  auto res = TryLogin("toscana/operator");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const std::string cookie = res->get_header_value("Set-Cookie");
  EXPECT_THAT(cookie, ::testing::StartsWith("mir_session="));
  EXPECT_THAT(cookie, ::testing::HasSubstr("; Path=/; Secure; HttpOnly; SameSite=Strict"));
  const auto me = Json(res->body);
  EXPECT_EQ(Str(me, "identity"), "mir://toscana/operator/op1");
  EXPECT_EQ(Str(me, "node"), "toscana");
  EXPECT_EQ(Str(me, "role"), "operator");
  EXPECT_EQ(Str(me, "csrf").size(), 43u);
  EXPECT_EQ(me.fields().at("idleTimeoutS").number_value(), 900);
  Person p{cookie.substr(0, cookie.find(';')), Str(me, "csrf")};
  auto again = Get("/api/me", &p);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(Str(Json(again->body), "identity"), "mir://toscana/operator/op1");
}

TEST_F(ConsoleTest, SignInRefusals) {
  struct Case {
    const char* what;
    std::string body;
    const char* reason;
  };
  std::vector<Case> cases;
  {
    const std::string s = Statement();
    const std::string body = LoginBody("toscana/operator", s);
    auto first = Post("/api/login", body, nullptr);
    ASSERT_TRUE(first);
    ASSERT_EQ(first->status, 200);
    cases.push_back({"replayed", body, "CHALLENGE_UNKNOWN"});
  }
  {
    ConsoleLoginStatement forged{kOrigin, "toscana", std::string(43, 'A'), clock_.Now()};
    const std::string s = FormatConsoleLoginStatement(forged);
    cases.push_back({"forged challenge", LoginBody("toscana/operator", s), "CHALLENGE_UNKNOWN"});
  }
  {
    const std::string s =
        absl::StrReplaceAll(Statement(), {{kOrigin, "https://elsewhere.example"}});
    cases.push_back({"wrong origin", LoginBody("toscana/operator", s), "CHALLENGE_UNKNOWN"});
  }
  {
    const std::string s = Statement();
    cases.push_back({"signature over other text", LoginBody("toscana/operator", s, Statement()),
                     "BAD_SIGNATURE"});
  }
  cases.push_back(
      {"expired certificate", LoginBody("test/expired", Statement()), "CERTIFICATE_EXPIRED"});
  cases.push_back({"other CA", LoginBody("test/other-ca-operator", Statement()), "UNKNOWN_CA"});
  cases.push_back({"revoked", LoginBody("test/revoked-operator", Statement()), "REVOKED"});
  cases.push_back({"node certificate", LoginBody("toscana/node", Statement()), "WRONG_ROLE"});
  cases.push_back(
      {"another node's operator", LoginBody("lombardia/operator", Statement()), "WRONG_ROLE"});
  cases.push_back({"not JSON", "statement=1", "MALFORMED"});
  cases.push_back(
      {"no certificate", "{\"statement\": \"x\", \"signature\": \"AA==\"}", "MALFORMED"});
  for (const Case& c : cases) {
    auto res = Post("/api/login", c.body, nullptr);
    ASSERT_TRUE(res) << c.what;
    EXPECT_EQ(res->status, 401) << c.what << ": " << res->body;
    EXPECT_EQ(Reason(res->body), c.reason) << c.what << ": " << res->body;
    EXPECT_TRUE(res->get_header_value("Set-Cookie").empty()) << c.what;
  }
  EXPECT_EQ(service_->sessions().size(), 1u);
}

TEST_F(ConsoleTest, SessionIdleAbsoluteLogoutAndUnknownCookie) {
  Person p = Login("toscana/operator");
  clock_.Advance(absl::Minutes(14));
  EXPECT_EQ(Get("/api/me", &p)->status, 200);
  clock_.Advance(absl::Minutes(15));
  auto idle = Get("/api/me", &p);
  EXPECT_EQ(idle->status, 401);
  EXPECT_EQ(Reason(idle->body), "SESSION_EXPIRED");

  // Busy all day: still ends 12 h after sign-in.
  Person q = Login("toscana/operator");
  for (int i = 0; i < 71; ++i) {
    clock_.Advance(absl::Minutes(10));
    ASSERT_EQ(Get("/api/me", &q)->status, 200) << i;
  }
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(Reason(Get("/api/me", &q)->body), "SESSION_EXPIRED");

  Person r = Login("toscana/operator");
  auto out = Post("/api/logout", "{}", &r);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200);
  EXPECT_THAT(out->get_header_value("Set-Cookie"), ::testing::HasSubstr("Max-Age=0"));
  EXPECT_EQ(Get("/api/me", &r)->status, 401);

  Person unknown{"mir_session=" + std::string(43, 'A'), ""};
  EXPECT_EQ(Reason(Get("/api/me", &unknown)->body), "SESSION_EXPIRED");
  EXPECT_EQ(Get("/api/referrals", &unknown)->status, 401);
}

TEST_F(ConsoleTest, PostsWithoutCsrfTokenOrOriginChangeNothing) {
  Person p = Login("toscana/operator");
  Person wrong{p.cookie, std::string(43, 'B')};
  struct Case {
    const char* what;
    httplib::Result res;
  };
  std::vector<Case> cases;
  cases.push_back({"no token", Post("/api/logout", "{}", &p, /*with_csrf=*/false)});
  cases.push_back({"wrong token", Post("/api/logout", "{}", &wrong)});
  cases.push_back({"wrong origin", Post("/api/logout", "{}", &p, true, "https://evil.example")});
  cases.push_back({"no origin", Post("/api/logout", "{}", &p, true, "")});
  cases.push_back(
      {"sign-in from another origin", Post("/api/login", LoginBody("toscana/operator", Statement()),
                                           nullptr, true, "https://evil.example")});
  for (Case& c : cases) {
    ASSERT_TRUE(c.res) << c.what;
    EXPECT_EQ(c.res->status, 403) << c.what;
    EXPECT_EQ(Reason(c.res->body), "CSRF") << c.what;
  }
  // Still signed in, and only once.
  EXPECT_EQ(Get("/api/me", &p)->status, 200);
  EXPECT_EQ(service_->sessions().size(), 1u);

  // A prepared action is still there after a refused submit.
  const std::string id = SubmitReferral("nvn");
  auto prepared = Post(absl::StrCat("/api/referrals/", id, "/prepare"),
                       R"({"kind": "STATUS_CHANGE", "body": {"toState": "WITHDRAWN",
                           "withdrawalReason": "WITHDRAWAL_PERSON_LEFT"}})",
                       &p);
  ASSERT_EQ(prepared->status, 200) << prepared->body;
  const std::string token = Str(Json(prepared->body), "token");
  auto refused = Post("/api/submit",
                      absl::StrCat(R"({"token": ")", token, R"(", "signatures": []})"), &p, false);
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(StateAt(Store("toscana"), id), v1::SUBMITTED);
}

TEST_F(ConsoleTest, OversizedBodyIs413) {
  Person p = Login("toscana/operator");
  const std::string big(300 * 1024, 'x');
  auto res = Post("/api/submit", big, &p);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(Reason(res->body), "TOO_LARGE");
  auto login = Post("/api/login", big, nullptr);
  ASSERT_TRUE(login);
  EXPECT_EQ(login->status, 413);
  EXPECT_EQ(Get("/api/me", &p)->status, 200);
}

TEST_F(ConsoleTest, RelayAuthorizationFollowsTheRole) {
  const std::string id = SubmitReferral("nvn");
  Person op = Login("toscana/operator");
  Person partner = Login("toscana/partner");

  auto dead = Get("/api/dead-letters", &partner);
  EXPECT_EQ(dead->status, 403) << dead->body;
  EXPECT_EQ(Reason(dead->body), "ROLE_NOT_ALLOWED");
  auto node = Get("/api/node", &partner);
  EXPECT_EQ(node->status, 403);
  auto requeue = Post("/api/dead-letters/requeue", "{}", &partner);
  EXPECT_EQ(requeue->status, 403);
  const std::string circulate = absl::StrCat("/api/referrals/", id, "/circulate");
  const std::string partner_uri = PkiSigner("toscana/partner")->identity().Uri();
  const std::string partners = absl::StrCat(R"({"partners": [")", partner_uri, R"("]})");
  auto refused = Post(circulate, partners, &partner);
  EXPECT_EQ(refused->status, 403);
  EXPECT_EQ(Reason(refused->body), "ROLE_NOT_ALLOWED");
  // Not circulated: the partner does not see it.
  auto hidden = Get(absl::StrCat("/api/referrals/", id), &partner);
  EXPECT_EQ(hidden->status, 404) << hidden->body;
  EXPECT_EQ(Reason(hidden->body), "UNKNOWN_REFERRAL");

  EXPECT_EQ(Get("/api/dead-letters", &op)->status, 200);
  auto status = Get("/api/node", &op);
  EXPECT_EQ(status->status, 200);
  EXPECT_EQ(Str(Json(status->body), "nodeId"), "toscana");
  auto done = Post(circulate, partners, &op);
  EXPECT_EQ(done->status, 200) << done->body;
  auto seen = Get(absl::StrCat("/api/referrals/", id), &partner);
  EXPECT_EQ(seen->status, 200) << seen->body;

  auto list = Get("/api/referrals?direction=OUTBOUND&state=SUBMITTED", &op);
  ASSERT_EQ(list->status, 200) << list->body;
  EXPECT_THAT(list->body, ::testing::HasSubstr(id));
  auto filtered = Get("/api/referrals?q=ffffffff", &op);
  EXPECT_THAT(filtered->body, ::testing::Not(::testing::HasSubstr(id)));
  auto bad = Get("/api/referrals?state=NOPE", &op);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(ConsoleTest, ActionsOfAReferralFollowTheLifecycle) {
  const std::string id = SubmitReferral("nvn");
  Person op = Login("toscana/operator");
  auto view = Get(absl::StrCat("/api/referrals/", id), &op);
  ASSERT_EQ(view->status, 200) << view->body;
  const auto answer = Json(view->body);
  std::vector<std::string> to;
  for (const auto& a : answer.fields().at("actions").list_value().values()) {
    to.push_back(Str(a.struct_value(), "toState"));
  }
  // The origin's operator, on a SUBMITTED referral: only withdraw.
  EXPECT_THAT(to, ::testing::ElementsAre("WITHDRAWN"));
  EXPECT_EQ(
      Str(answer.fields().at("view").struct_value().fields().at("summary").struct_value(), "state"),
      "SUBMITTED");
}

TEST_F(ConsoleTest, PrepareSignSubmitAppliesTheAction) {
  const std::string id = SubmitReferral("nvn");
  Person op = Login("toscana/operator");
  const std::string path = absl::StrCat("/api/referrals/", id, "/prepare");
  const std::string withdraw = R"({"kind": "STATUS_CHANGE", "body": {"toState": "WITHDRAWN",
      "withdrawalReason": "WITHDRAWAL_OTHER", "reasonText": "fictional test reason"}})";

  // Signatures over other bytes: refused, nothing applied.
  auto tampered = SignAndSubmit(op, "toscana/operator", path, withdraw, /*tamper=*/true);
  ASSERT_TRUE(tampered);
  EXPECT_EQ(tampered->status, 400) << tampered->body;
  EXPECT_EQ(Reason(tampered->body), "BAD_SIGNATURE");
  EXPECT_EQ(StateAt(Store("toscana"), id), v1::SUBMITTED);

  // Someone else's key: refused by the node.
  auto other = SignAndSubmit(op, "toscana/partner", path, withdraw);
  EXPECT_NE(other->status, 200);
  EXPECT_EQ(StateAt(Store("toscana"), id), v1::SUBMITTED);

  // An unknown or altered token.
  auto unknown = Post("/api/submit", R"({"token": "nope", "signatures": []})", &op);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_EQ(Reason(unknown->body), "TOKEN_UNKNOWN");

  // A missing reason is the field's refusal, before anything is signed.
  auto incomplete =
      Post(path, R"({"kind": "STATUS_CHANGE", "body": {"toState": "WITHDRAWN"}})", &op);
  EXPECT_EQ(incomplete->status, 400);
  EXPECT_EQ(Reason(incomplete->body), "INVALID_FIELD");

  auto good = SignAndSubmit(op, "toscana/operator", path, withdraw);
  ASSERT_TRUE(good);
  ASSERT_EQ(good->status, 200) << good->body;
  EXPECT_EQ(Str(Json(good->body), "state"), "WITHDRAWN");
  EXPECT_EQ(StateAt(Store("toscana"), id), v1::WITHDRAWN);
}

TEST_F(ConsoleTest, TokenIsSingleUseAndBoundToItsSession) {
  const std::string id = SubmitReferral("nvn");
  Person op = Login("toscana/operator");
  Person other = Login("toscana/operator");
  auto prepared = Post(absl::StrCat("/api/referrals/", id, "/prepare"),
                       R"({"kind": "STATUS_CHANGE", "body": {"toState": "WITHDRAWN",
                           "withdrawalReason": "WITHDRAWAL_PERSON_LEFT"}})",
                       &op);
  ASSERT_EQ(prepared->status, 200) << prepared->body;
  const auto answer = Json(prepared->body);
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(
      answer.fields().at("toSign").list_value().values(0).string_value(), &bytes));
  const std::string submit =
      absl::StrCat(R"({"token": ")", Str(answer, "token"), R"(", "signatures": [")",
                   absl::Base64Escape(*PkiSigner("toscana/operator")->Sign(bytes)), R"("]})");
  auto stolen = Post("/api/submit", submit, &other);
  EXPECT_EQ(Reason(stolen->body), "TOKEN_UNKNOWN");
  auto good = Post("/api/submit", submit, &op);
  EXPECT_EQ(good->status, 200) << good->body;
  auto again = Post("/api/submit", submit, &op);
  EXPECT_EQ(Reason(again->body), "TOKEN_UNKNOWN");
}

TEST_F(ConsoleTest, NewReferralSealedAndSignedInTheBrowser) {
  Person op = Login("toscana/operator");
  const std::string referral = R"({"referral": {
      "destinationNode": "nvn", "personCode": "TEST-PERSON", "urgency": "URGENCY_ORDINARY",
      "gender": "GENDER_FEMALE", "languages": ["eng"], "notes": "fictional test notes",
      "consent": {"given": true, "method": "CONSENT_WRITTEN"}}})";
  auto no_consent =
      Post("/api/referrals/prepare",
           absl::StrReplaceAll(referral, {{"\"given\": true", "\"given\": false"}}), &op);
  EXPECT_EQ(no_consent->status, 400) << no_consent->body;
  EXPECT_EQ(Reason(no_consent->body), "INVALID_FIELD");
  EXPECT_THAT(no_consent->body, ::testing::HasSubstr("\"field\": \"consent"));

  Person partner = Login("toscana/partner");
  auto refused = Post("/api/referrals/prepare", referral, &partner);
  EXPECT_EQ(refused->status, 403);

  auto done = SignAndSubmit(op, "toscana/operator", "/api/referrals/prepare", referral);
  ASSERT_EQ(done->status, 200) << done->body;
  const std::string id = Str(Json(done->body), "referralId");
  EXPECT_EQ(StateAt(Store("toscana"), id), v1::SUBMITTED);
  auto view = Get(absl::StrCat("/api/referrals/", id), &op);
  ASSERT_EQ(view->status, 200);
  // Sealed by the console, opened by the node for its operator.
  EXPECT_THAT(view->body, ::testing::HasSubstr("fictional test notes"));
}

TEST_F(ConsoleTest, EventsStreamUntilTheSessionEnds) {
  Person op = Login("toscana/operator");
  std::atomic<bool> connected{false};
  std::atomic<bool> got_event{false};
  std::atomic<bool> ended{false};
  std::string seen;
  std::mutex mu;
  std::thread reader([&] {
    auto cli = Client();
    // As a browser asks (a compressed stream would hold events back).
    httplib::Headers headers{{"Cookie", op.cookie}, {"Accept-Encoding", "gzip, deflate, br"}};
    cli->Get("/api/events", headers, [&](const char* data, size_t n) {
      std::lock_guard<std::mutex> lock(mu);
      seen.append(data, n);
      if (seen.find(": connected") != std::string::npos) connected = true;
      if (seen.find("data: {") != std::string::npos) got_event = true;
      return true;
    });
    ended = true;
  });
  EXPECT_TRUE(WaitFor([&] { return connected.load(); }, absl::Seconds(10)));
  // One event, delivered at once (not held back in a compressor).
  SubmitReferral("nvn");
  EXPECT_TRUE(WaitFor([&] { return got_event.load(); }, absl::Seconds(5)));
  EXPECT_FALSE(ended);
  ASSERT_EQ(Post("/api/logout", "{}", &op)->status, 200);
  EXPECT_TRUE(WaitFor([&] { return ended.load(); }, absl::Seconds(10)));
  reader.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(seen, ::testing::HasSubstr("event: end"));
  EXPECT_THAT(seen, ::testing::HasSubstr("SESSION_EXPIRED"));
}

}  // namespace
}  // namespace mir::testing

namespace mir::testing {
namespace {

// Event streams hold a server thread each: at most half of them (here 4 of
// 8), and the other calls are still served.
TEST_F(ConsoleTest, EventStreamsAreBounded) {
  Person op = Login("toscana/operator");
  std::atomic<bool> stop{false};
  std::atomic<int> open{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] {
      auto cli = Client();
      bool counted = false;
      cli->Get("/api/events", httplib::Headers{{"Cookie", op.cookie}}, [&](const char*, size_t) {
        if (!counted) {
          counted = true;
          ++open;
        }
        return !stop.load();
      });
    });
  }
  EXPECT_TRUE(WaitFor([&] { return open.load() == 4; }, absl::Seconds(10)));
  auto refused = Get("/api/events", &op);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(Get("/api/me", &op)->status, 200);
  stop = true;
  // The readers stop at their next keepalive or at logout.
  ASSERT_EQ(Post("/api/logout", "{}", &op)->status, 200);
  for (std::thread& t : readers) t.join();
  // Freed again.
  Person again = Login("toscana/operator");
  std::atomic<bool> reopened{false};
  std::thread one([&] {
    Client()->Get("/api/events", httplib::Headers{{"Cookie", again.cookie}},
                  [&](const char*, size_t) {
                    reopened = true;
                    return false;
                  });
  });
  one.join();
  EXPECT_TRUE(reopened);
}

}  // namespace
}  // namespace mir::testing

namespace mir::testing {
namespace {

// The relay accepts only its own node's broker (mir://toscana/node): pointed
// at nvn, nothing is sent and the answer says so.
TEST_F(ConsoleTest, RelayRefusesAnotherNodesBroker) {
  ASSERT_TRUE(StartNode("nvn"));
  console::ConsoleOptions wrong = options_console_;
  wrong.broker_address = Address(ports_["nvn"]);
  auto service = console::ConsoleService::Create(wrong, &clock_);
  ASSERT_TRUE(service.ok()) << service.status();
  auto signer = PkiSigner("toscana/operator");
  console::Session s =
      (*service)->sessions().Create(signer->identity(), signer->certificate_der(), "proof");
  auto listed = (*service)->ListReferrals(s, {});
  EXPECT_EQ(listed.status().code(), absl::StatusCode::kUnavailable) << listed.status();
  EXPECT_THAT(std::string(listed.status().message()),
              ::testing::HasSubstr("is not this console's node"));
}

}  // namespace
}  // namespace mir::testing

namespace mir::testing {
namespace {

// When the broker stops accepting the person's proof (here: older than the
// node's console.sessionAbsoluteS), the console's session ends with it.
TEST_F(ConsoleTest, BrokerRefusingTheProofEndsTheSession) {
  StopNode("toscana");
  options_["toscana"].console_session_absolute = absl::Seconds(2);
  ASSERT_TRUE(StartNode("toscana"));
  Person op = Login("toscana/operator");
  ASSERT_EQ(Get("/api/referrals", &op)->status, 200);
  absl::SleepFor(absl::Seconds(3));
  auto refused = Get("/api/referrals", &op);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401) << refused->body;
  EXPECT_EQ(Reason(refused->body), "SESSION_EXPIRED");
  EXPECT_EQ(Get("/api/me", &op)->status, 401);
}

}  // namespace
}  // namespace mir::testing

namespace mir::testing {
namespace {

const google::protobuf::Struct& Member(const google::protobuf::Struct& s, const std::string& key) {
  static const google::protobuf::Struct kEmpty;
  auto it = s.fields().find(key);
  return it == s.fields().end() ? kEmpty : it->second.struct_value();
}
// The table `name` of a GET /api/statistics answer.
google::protobuf::Struct Table(const google::protobuf::Struct& statistics,
                               const std::string& name) {
  auto tables = statistics.fields().find("tables");
  if (tables == statistics.fields().end()) return {};
  for (const auto& t : tables->second.list_value().values()) {
    if (Str(t.struct_value(), "name") == name) return t.struct_value();
  }
  return {};
}
bool Bool(const google::protobuf::Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it != s.fields().end() && it->second.bool_value();
}
std::string ErrorField(const std::string& body) {
  return Str(Member(Json(body), "error"), "field");
}

// GET /api/statistics relays GetStatistics as the person: suppressed by
// default (a hidden count carries no value at all), raw=1 the internal
// counts, days checked here, and a partner refused.
TEST_F(ConsoleTest, StatisticsSuppressedOrRawForOperatorsOnly) {
  for (int i = 0; i < 3; ++i) SubmitReferral("nvn");
  Person op = Login("toscana/operator");

  auto shown = Get("/api/statistics", &op);
  ASSERT_TRUE(shown);
  ASSERT_EQ(shown->status, 200) << shown->body;
  const google::protobuf::Struct published = Json(shown->body);
  EXPECT_EQ(Str(published, "nodeId"), "toscana");
  EXPECT_TRUE(Bool(published, "suppressed"));
  for (const char* name : {"mir_by_month_outbound", "mir_by_month_inbound", "origin_destination",
                           "rejection_reasons", "emergencies_by_hour"}) {
    const google::protobuf::Struct table = Table(published, name);
    EXPECT_FALSE(Str(table, "title").empty()) << name;
    EXPECT_FALSE(Str(table, "csv").empty()) << name;
  }
  const google::protobuf::Struct out = Table(published, "mir_by_month_outbound");
  const google::protobuf::Struct& hidden = Member(out, "grandTotal");
  EXPECT_TRUE(Bool(hidden, "hidden")) << shown->body;
  EXPECT_FALSE(hidden.fields().count("value")) << shown->body;
  EXPECT_FALSE(Member(published, "timeToPlacement").fields().count("medianHours"));

  auto raw = Get("/api/statistics?raw=1", &op);
  ASSERT_EQ(raw->status, 200) << raw->body;
  const google::protobuf::Struct internal = Json(raw->body);
  EXPECT_FALSE(Bool(internal, "suppressed"));
  EXPECT_TRUE(internal.fields().count("suppressed"));
  const google::protobuf::Struct counted = Table(internal, "mir_by_month_outbound");
  EXPECT_EQ(Str(Member(counted, "grandTotal"), "value"), "3") << raw->body;
  EXPECT_FALSE(Bool(Member(counted, "grandTotal"), "hidden"));

  // A period with nothing in it: zeros, not hidden.
  auto empty = Get("/api/statistics?from=2020-01-01&to=2020-02-01&raw=0", &op);
  ASSERT_EQ(empty->status, 200) << empty->body;
  EXPECT_EQ(Str(Member(Table(Json(empty->body), "mir_by_month_outbound"), "grandTotal"), "value"),
            "0");

  for (const auto& [query, field] :
       std::vector<std::pair<std::string, std::string>>{{"from=2026-13-01", "from"},
                                                        {"from=1.3.2026", "from"},
                                                        {"to=2026-02-30", "to"},
                                                        {"from=2026-03-01&to=2026-03-01", "to"},
                                                        {"raw=yes", "raw"},
                                                        {"national=yes", "national"}}) {
    auto bad = Get(absl::StrCat("/api/statistics?", query), &op);
    EXPECT_EQ(bad->status, 400) << query << ": " << bad->body;
    EXPECT_EQ(Reason(bad->body), "INVALID_FIELD") << query;
    EXPECT_EQ(ErrorField(bad->body), field) << query;
  }

  // National statistics are kept at nvn: toscana's node says so.
  auto national = Get("/api/statistics?national=1", &op);
  EXPECT_EQ(national->status, 409) << national->body;
  EXPECT_THAT(national->body, ::testing::HasSubstr("national node nvn"));

  Person partner = Login("toscana/partner");
  auto refused = Get("/api/statistics", &partner);
  EXPECT_EQ(refused->status, 403) << refused->body;
  EXPECT_EQ(Reason(refused->body), "ROLE_NOT_ALLOWED");
  EXPECT_EQ(Get("/api/statistics", nullptr)->status, 401);
}

// Service requests through the console: a time `hours` from now, RFC 3339.
std::string InHours(int hours) {
  return absl::FormatTime(absl::RFC3339_sec, absl::Now() + absl::Hours(hours), absl::UTCTimeZone());
}
std::string MediatorRequest(const std::string& id, const std::string& language) {
  return absl::StrCat(R"({"requestId": ")", id, R"(", "request": {"kind": "SERVICE_KIND_MEDIATOR",
      "language": ")",
                      language, R"(", "sameGenderWanted": true, "gender": "GENDER_FEMALE",
      "attendance": "ATTENDANCE_IN_PERSON", "province": "fi", "windowStart": ")",
                      InHours(1), R"(", "windowEnd": ")", InHours(48),
                      R"(", "requester": "DEMO requester", "notes": "DEMO notes"}})");
}
std::string StateOf(const std::string& view_body) {
  return Str(Member(Json(view_body), "summary"), "state");
}
int EventsOf(const std::string& view_body) {
  const auto parsed = Json(view_body);
  auto it = parsed.fields().find("events");
  return it == parsed.fields().end() ? 0 : it->second.list_value().values_size();
}

// REQUESTED -> ASSIGNED -> SCHEDULED -> DONE through the console's API, the
// roster entry put first; a step out of order is the node's refusal and
// changes nothing; the sealed parts come back opened.
TEST_F(ConsoleTest, ServiceRequestCreateAssignScheduleComplete) {
  Person op = Login("toscana/operator");
  auto put = Post("/api/roster", R"({"entry": {"code": "med-0001", "kind": "ROSTER_MEDIATOR",
      "languages": ["PCM", "eng"], "provinces": ["fi"], "available": true,
      "gender": "GENDER_FEMALE"}})",
                  &op);
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 200) << put->body;
  EXPECT_EQ(Str(Json(put->body), "code"), "MED-0001");
  auto roster = Get("/api/roster", &op);
  ASSERT_EQ(roster->status, 200) << roster->body;
  EXPECT_THAT(roster->body, ::testing::HasSubstr("MED-0001"));
  EXPECT_THAT(roster->body, ::testing::HasSubstr("pcm"));

  const std::string id = NewUuid();
  // Built once: its window is "now" plus hours, to the second, and a resend
  // carries the very same request.
  const std::string request = MediatorRequest(id, "pcm");
  auto created = Post("/api/service-requests", request, &op);
  ASSERT_EQ(created->status, 200) << created->body;
  EXPECT_EQ(StateOf(created->body), "SERVICE_REQUESTED");
  EXPECT_EQ(Str(Member(Json(created->body), "summary"), "requestId"), id);
  EXPECT_EQ(Str(Member(Json(created->body), "summary"), "province"), "FI");
  // Sent again after a lost answer: the same request, once.
  auto again = Post("/api/service-requests", request, &op);
  EXPECT_EQ(again->status, 200) << again->body;

  const std::string path = absl::StrCat("/api/service-requests/", id);
  // Scheduling before assigning: the node's reason, nothing changed.
  auto early = Post(path + "/schedule", absl::StrCat(R"({"at": ")", InHours(2), R"("})"), &op);
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 409) << early->body;
  EXPECT_EQ(Reason(early->body), "INVALID_TRANSITION");
  EXPECT_THAT(early->body, ::testing::HasSubstr("SERVICE_REQUESTED"));
  auto unchanged = Get(path, &op);
  ASSERT_EQ(unchanged->status, 200) << unchanged->body;
  EXPECT_EQ(StateOf(unchanged->body), "SERVICE_REQUESTED");
  EXPECT_EQ(EventsOf(unchanged->body), 1);

  auto assigned = Post(path + "/assign", R"({"rosterCode": "med-0001"})", &op);
  ASSERT_EQ(assigned->status, 200) << assigned->body;
  EXPECT_EQ(StateOf(assigned->body), "SERVICE_ASSIGNED");
  EXPECT_EQ(Str(Member(Json(assigned->body), "summary"), "rosterCode"), "MED-0001");
  auto outside = Post(path + "/schedule", absl::StrCat(R"({"at": ")", InHours(72), R"("})"), &op);
  EXPECT_EQ(outside->status, 400) << outside->body;
  EXPECT_EQ(ErrorField(outside->body), "at");
  auto scheduled = Post(path + "/schedule", absl::StrCat(R"({"at": ")", InHours(2), R"("})"), &op);
  ASSERT_EQ(scheduled->status, 200) << scheduled->body;
  EXPECT_EQ(StateOf(scheduled->body), "SERVICE_SCHEDULED");
  auto done = Post(path + "/complete", R"({"outcome": "HELD"})", &op);
  ASSERT_EQ(done->status, 200) << done->body;
  EXPECT_EQ(StateOf(done->body), "SERVICE_DONE");
  EXPECT_EQ(Str(Member(Json(done->body), "summary"), "outcome"), "OUTCOME_HELD");

  auto view = Get(path, &op);
  ASSERT_EQ(view->status, 200) << view->body;
  EXPECT_EQ(EventsOf(view->body), 4);
  EXPECT_EQ(Str(Member(Json(view->body), "request"), "requester"), "DEMO requester");
  EXPECT_EQ(Str(Member(Json(view->body), "request"), "notes"), "DEMO notes");
  // Final: no cancelling a request that was held.
  auto late = Post(path + "/cancel", R"({"reason": "NO_LONGER_NEEDED"})", &op);
  EXPECT_EQ(late->status, 409) << late->body;
  EXPECT_EQ(Reason(late->body), "INVALID_TRANSITION");

  auto listed = Get("/api/service-requests?state=DONE", &op);
  ASSERT_EQ(listed->status, 200) << listed->body;
  EXPECT_THAT(listed->body, ::testing::HasSubstr(id));
  auto other = Get("/api/service-requests?state=SERVICE_REQUESTED,ASSIGNED", &op);
  ASSERT_EQ(other->status, 200) << other->body;
  EXPECT_THAT(other->body, ::testing::Not(::testing::HasSubstr(id)));
  EXPECT_EQ(Get("/api/service-requests?state=NOPE", &op)->status, 400);

  // Another one, cancelled while requested.
  const std::string second = NewUuid();
  ASSERT_EQ(Post("/api/service-requests", MediatorRequest(second, "eng"), &op)->status, 200);
  auto cancelled = Post(absl::StrCat("/api/service-requests/", second, "/cancel"),
                        R"({"reason": "NO_ONE_AVAILABLE"})", &op);
  ASSERT_EQ(cancelled->status, 200) << cancelled->body;
  EXPECT_EQ(StateOf(cancelled->body), "SERVICE_CANCELLED");
  EXPECT_EQ(Str(Member(Json(cancelled->body), "summary"), "cancelReason"),
            "CANCEL_NO_ONE_AVAILABLE");
}

// Refusals name their field, whether the console refuses first (a request
// the node would refuse never leaves it) or the node does (the roster's
// fit, which only the node knows); nothing is created.
TEST_F(ConsoleTest, ServiceRequestRefusalsNameTheField) {
  Person op = Login("toscana/operator");
  const std::string id = NewUuid();
  auto bad_language = Post("/api/service-requests", MediatorRequest(id, "xx"), &op);
  ASSERT_TRUE(bad_language);
  EXPECT_EQ(bad_language->status, 400) << bad_language->body;
  EXPECT_EQ(Reason(bad_language->body), "INVALID_FIELD");
  EXPECT_EQ(ErrorField(bad_language->body), "language");
  EXPECT_THAT(bad_language->body, ::testing::Not(::testing::HasSubstr("DEMO")));
  EXPECT_EQ(Get(absl::StrCat("/api/service-requests/", id), &op)->status, 404);

  const std::string interview = absl::StrCat(
      R"({"request": {"kind": "SERVICE_KIND_IDENTIFICATION_INTERVIEW",
      "attendance": "ATTENDANCE_REMOTE", "windowStart": ")",
      InHours(1), R"(", "windowEnd": ")", InHours(48), R"("}})");
  auto no_venue = Post("/api/service-requests", interview, &op);
  EXPECT_EQ(no_venue->status, 400) << no_venue->body;
  EXPECT_EQ(ErrorField(no_venue->body), "venue");
  const std::string backwards_json = absl::StrCat(
      R"({"request": {"kind": "SERVICE_KIND_IDENTIFICATION_INTERVIEW", "venue": "VENUE_CAS",
      "attendance": "ATTENDANCE_REMOTE", "windowStart": ")",
      InHours(48), R"(", "windowEnd": ")", InHours(1), R"("}})");
  auto backwards = Post("/api/service-requests", backwards_json, &op);
  EXPECT_EQ(backwards->status, 400) << backwards->body;
  EXPECT_EQ(ErrorField(backwards->body), "window_end");
  auto listed = Get("/api/service-requests", &op);
  ASSERT_EQ(listed->status, 200) << listed->body;
  EXPECT_EQ(Json(listed->body).fields().at("requests").list_value().values_size(), 0)
      << listed->body;

  auto bad_entry = Post("/api/roster", R"({"entry": {"code": "MED-0002",
      "kind": "ROSTER_MEDIATOR", "languages": ["ara", "x1"]}})",
                        &op);
  EXPECT_EQ(bad_entry->status, 400) << bad_entry->body;
  EXPECT_EQ(ErrorField(bad_entry->body), "languages[1]");
  auto named = Post("/api/roster", R"({"entry": {"code": "Mario Rossi",
      "kind": "ROSTER_MEDIATOR", "languages": ["ara"]}})",
                    &op);
  EXPECT_EQ(named->status, 400) << named->body;
  EXPECT_EQ(ErrorField(named->body), "code");

  // The node's refusal: an entry that does not speak the language.
  ASSERT_EQ(Post("/api/roster", R"({"entry": {"code": "MED-0003", "kind": "ROSTER_MEDIATOR",
      "languages": ["ara"], "provinces": ["FI"], "available": true,
      "gender": "GENDER_FEMALE"}})",
                 &op)
                ->status,
            200);
  ASSERT_EQ(Post("/api/service-requests", MediatorRequest(id, "pcm"), &op)->status, 200);
  const std::string path = absl::StrCat("/api/service-requests/", id);
  auto unfit = Post(path + "/assign", R"({"rosterCode": "MED-0003"})", &op);
  EXPECT_EQ(unfit->status, 409) << unfit->body;
  EXPECT_EQ(Reason(unfit->body), "INVALID_FIELD");
  EXPECT_EQ(ErrorField(unfit->body), "roster_code");
  auto unknown = Post(path + "/assign", R"({"rosterCode": "MED-9999"})", &op);
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  EXPECT_EQ(Reason(unknown->body), "UNKNOWN_ROSTER_ENTRY");
  auto no_outcome = Post(path + "/complete", R"({"outcome": "MAYBE"})", &op);
  EXPECT_EQ(no_outcome->status, 400) << no_outcome->body;
  EXPECT_EQ(ErrorField(no_outcome->body), "outcome");
  auto no_time = Post(path + "/schedule", R"({"at": "tomorrow"})", &op);
  EXPECT_EQ(no_time->status, 400) << no_time->body;
  EXPECT_EQ(ErrorField(no_time->body), "at");
  EXPECT_EQ(StateOf(Get(path, &op)->body), "SERVICE_REQUESTED");
  EXPECT_EQ(Get(absl::StrCat("/api/service-requests/", NewUuid()), &op)->status, 404);
  // Not a lowercase UUID: refused here, naming the id.
  auto upper = Get(absl::StrCat("/api/service-requests/", absl::AsciiStrToUpper(NewUuid())), &op);
  EXPECT_EQ(upper->status, 400) << upper->body;
  EXPECT_EQ(ErrorField(upper->body), "id");
}

// Placing a REQUESTED request with another node (here nvn): the console
// checks the node id first; then the request is PLACED with placed_with set,
// and its steps are nvn's, not this node's.
TEST_F(ConsoleTest, ServiceRequestPlacedWithAnotherNode) {
  ASSERT_TRUE(StartNode("nvn"));
  Person op = Login("toscana/operator");
  const std::string id = NewUuid();
  ASSERT_EQ(Post("/api/service-requests", MediatorRequest(id, "pcm"), &op)->status, 200);
  const std::string path = absl::StrCat("/api/service-requests/", id);
  for (const char* body : {R"({"node": "toscana"})", R"({"node": "Not a node"})", "{}"}) {
    auto refused = Post(path + "/place", body, &op);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 400) << body << ": " << refused->body;
    EXPECT_EQ(ErrorField(refused->body), "node") << body;
  }
  EXPECT_EQ(StateOf(Get(path, &op)->body), "SERVICE_REQUESTED");

  auto placed = Post(path + "/place", R"({"node": "nvn"})", &op);
  ASSERT_EQ(placed->status, 200) << placed->body;
  EXPECT_EQ(StateOf(placed->body), "SERVICE_PLACED");
  EXPECT_EQ(Str(Member(Json(placed->body), "summary"), "placedWith"), "nvn");
  EXPECT_EQ(Str(Member(Json(placed->body), "summary"), "placedFrom"), "");
  const auto events = Json(placed->body).fields().at("events").list_value();
  ASSERT_EQ(events.values_size(), 2) << placed->body;
  EXPECT_EQ(Str(events.values(1).struct_value(), "kind"), "PLACED");
  EXPECT_EQ(Str(events.values(1).struct_value(), "node"), "nvn");
  auto listed = Get("/api/service-requests?state=PLACED", &op);
  ASSERT_EQ(listed->status, 200) << listed->body;
  EXPECT_THAT(listed->body, ::testing::HasSubstr(id));

  // Its steps are nvn's now: refused here with the node's reason.
  auto here = Post(path + "/assign", R"({"rosterCode": "MED-0001"})", &op);
  EXPECT_EQ(here->status, 409) << here->body;
  EXPECT_EQ(Reason(here->body), "INVALID_TRANSITION");
  EXPECT_THAT(here->body, ::testing::HasSubstr("placed with node nvn"));
  auto again = Post(path + "/place", R"({"node": "nvn"})", &op);
  EXPECT_EQ(again->status, 409) << again->body;
  EXPECT_EQ(StateOf(Get(path, &op)->body), "SERVICE_PLACED");
  // Cancelling recalls it: nvn is asked, the state stays nvn's to change.
  auto recalled = Post(path + "/cancel", R"({"reason": "REQUESTER_WITHDREW"})", &op);
  ASSERT_EQ(recalled->status, 200) << recalled->body;
  EXPECT_EQ(StateOf(recalled->body), "SERVICE_PLACED");
  const auto after = Json(recalled->body).fields().at("events").list_value();
  ASSERT_EQ(after.values_size(), 3) << recalled->body;
  EXPECT_EQ(Str(after.values(2).struct_value(), "kind"), "CANCEL_ASKED");
  EXPECT_EQ(Str(after.values(2).struct_value(), "node"), "nvn");
  EXPECT_EQ(Str(after.values(2).struct_value(), "cancelReason"), "CANCEL_REQUESTER_WITHDREW");
}

// Operators only: a partner is refused every call; no CSRF token, no change.
TEST_F(ConsoleTest, ServiceRequestsAreForOperatorsOnly) {
  Person op = Login("toscana/operator");
  const std::string id = NewUuid();
  ASSERT_EQ(Post("/api/service-requests", MediatorRequest(id, "pcm"), &op)->status, 200);
  auto no_csrf = Post(absl::StrCat("/api/service-requests/", id, "/cancel"),
                      R"({"reason": "OTHER"})", &op, /*with_csrf=*/false);
  EXPECT_EQ(no_csrf->status, 403) << no_csrf->body;
  EXPECT_EQ(Reason(no_csrf->body), "CSRF");

  Person partner = Login("toscana/partner");
  for (const char* path : {"/api/service-requests", "/api/roster"}) {
    auto refused = Get(path, &partner);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403) << path << ": " << refused->body;
    EXPECT_EQ(Reason(refused->body), "ROLE_NOT_ALLOWED") << path;
  }
  auto view = Get(absl::StrCat("/api/service-requests/", id), &partner);
  EXPECT_EQ(view->status, 403) << view->body;
  auto create = Post("/api/service-requests", MediatorRequest(NewUuid(), "pcm"), &partner);
  EXPECT_EQ(create->status, 403) << create->body;
  EXPECT_EQ(Reason(create->body), "ROLE_NOT_ALLOWED");
  auto cancel = Post(absl::StrCat("/api/service-requests/", id, "/cancel"),
                     R"({"reason": "OTHER"})", &partner);
  EXPECT_EQ(cancel->status, 403) << cancel->body;
  auto entry = Post("/api/roster", R"({"entry": {"code": "MED-0004", "kind": "ROSTER_MEDIATOR",
      "languages": ["ara"]}})",
                    &partner);
  EXPECT_EQ(entry->status, 403) << entry->body;
  EXPECT_EQ(Get("/api/service-requests", nullptr)->status, 401);

  EXPECT_EQ(StateOf(Get(absl::StrCat("/api/service-requests/", id), &op)->body),
            "SERVICE_REQUESTED");
  auto roster = Get("/api/roster", &op);
  EXPECT_THAT(roster->body, ::testing::Not(::testing::HasSubstr("MED-0004")));
}

}  // namespace
}  // namespace mir::testing
