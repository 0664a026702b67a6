// Console sign-in statements and proofs (PROTOCOL.md §13).

#include "crypto/console_login.h"

#include <sodium.h>

#include <fstream>
#include <map>

#include "tests/crypto/crypto_fixtures.h"

namespace mir::testing {
namespace {

constexpr char kChallenge[] = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA";

ConsoleLoginStatement Statement(const std::string& node, absl::Time at) {
  return {"https://127.0.0.1:7443", node, kChallenge, at};
}

v1::ConsoleLoginProof Proof(const Signer& signer, const std::string& statement) {
  v1::ConsoleLoginProof proof;
  proof.set_statement(statement);
  proof.set_certificate(signer.certificate_der());
  proof.set_signature(*signer.Sign(ConsoleLoginSignedBytes(statement)));
  return proof;
}

TEST(ConsoleLoginStatementTest, FormatsTheDocumentedText) {
  const absl::Time at = absl::FromUnixSeconds(1796432400);  // 2026-12-05T01:00:00Z
  const std::string text = FormatConsoleLoginStatement(Statement("toscana", at));
  EXPECT_EQ(text, absl::StrCat("MIR-EXCHANGE/v1/console-login\n"
                               "origin: https://127.0.0.1:7443\n"
                               "node: toscana\n"
                               "challenge: ",
                               kChallenge,
                               "\n"
                               "issued_at: 2026-12-05T01:00:00Z\n"));
  auto parsed = ParseConsoleLoginStatement(text);
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->origin, "https://127.0.0.1:7443");
  EXPECT_EQ(parsed->node, "toscana");
  EXPECT_EQ(parsed->challenge, kChallenge);
  EXPECT_EQ(parsed->issued_at, at);
  // Sub-second parts are dropped, never rounded up into the future.
  EXPECT_EQ(FormatConsoleLoginStatement(Statement("toscana", at + absl::Milliseconds(999))), text);
}

TEST(ConsoleLoginStatementTest, RefusesAnythingButTheExactFormat) {
  const std::string good =
      FormatConsoleLoginStatement(Statement("toscana", absl::FromUnixSeconds(1796432400)));
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  struct Case {
    std::string text;
    v1::ErrorReason reason;
  } cases[] = {
      {"", v1::MALFORMED_BODY},
      {good.substr(0, good.size() - 1), v1::MALFORMED_BODY},  // no final newline
      {good + "\n", v1::MALFORMED_BODY},
      {good + "extra: x\n", v1::MALFORMED_BODY},
      {replace("\n", "\r\n"), v1::MALFORMED_BODY},
      {replace("MIR-EXCHANGE/v1/console-login", "MIR-EXCHANGE/v1/envelope"), v1::MALFORMED_BODY},
      {replace("origin: ", "origin:  "), v1::INVALID_FIELD},
      {replace("origin: ", "Origin: "), v1::MALFORMED_BODY},
      {replace("node: toscana", "origin: toscana"), v1::MALFORMED_BODY},
      {replace("origin: https://127.0.0.1:7443", "origin: "), v1::INVALID_FIELD},
      {replace("127.0.0.1", "127.0.0.1 "), v1::INVALID_FIELD},
      {replace("127.0.0.1", "caf\xc3\xa9"), v1::INVALID_FIELD},
      {replace("node: toscana", "node: Toscana"), v1::INVALID_FIELD},
      {replace("node: toscana", "node: "), v1::INVALID_FIELD},
      {replace(kChallenge, "short"), v1::INVALID_FIELD},
      {replace(kChallenge, std::string(42, 'A') + "="), v1::INVALID_FIELD},
      {replace(kChallenge, std::string(42, 'A') + "+"), v1::INVALID_FIELD},
      {replace(kChallenge, std::string(42, 'A') + "B"), v1::INVALID_FIELD},  // not canonical
      {replace("2026-12-05T01:00:00Z", "2026-12-05T01:00:00.5Z"), v1::INVALID_FIELD},
      {replace("2026-12-05T01:00:00Z", "2026-12-05T02:00:00+01:00"), v1::INVALID_FIELD},
      {replace("2026-12-05T01:00:00Z", "2026-12-05 01:00:00Z"), v1::INVALID_FIELD},
      {replace("2026-12-05T01:00:00Z", "2026-12-5T01:00:00Z"), v1::INVALID_FIELD},
      {replace("2026-12-05T01:00:00Z", "2026-13-05T01:00:00Z"), v1::INVALID_FIELD},
      {replace("2026-12-05T01:00:00Z", "2026-12-05t01:00:00z"), v1::INVALID_FIELD},
      {replace("https://127.0.0.1:7443", std::string(1100, 'a')), v1::MALFORMED_BODY},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(MIR_STATUS(ParseConsoleLoginStatement(c.text)),
                StatusIsReason(absl::StatusCode::kInvalidArgument, c.reason));
  }
  EXPECT_OK(ParseConsoleLoginStatement(replace(kChallenge, std::string(42, 'A') + "E")));
}

TEST(ConsoleLoginStatementTest, SignedBytesAreTagZeroLengthStatement) {
  const std::string bytes = ConsoleLoginSignedBytes("abc");
  EXPECT_EQ(bytes, std::string("MIR-EXCHANGE/v1/console-login\0\0\0\0\0\0\0\0\x03"
                               "abc",
                               29 + 1 + 8 + 3));
  // Never the bytes of an envelope (PROTOCOL.md §3).
  EXPECT_NE(ConsoleLoginSignedBytes("abc").substr(0, 25), SignedBytes("abc", "").substr(0, 25));
}

TEST(ConsoleIdentityTest, ParsesAndAuthorsNothing) {
  auto console = ParseIdentity("mir://toscana/console");
  ASSERT_OK(console);
  EXPECT_EQ(console->role, Role::kConsole);
  EXPECT_EQ(console->node, "toscana");
  EXPECT_EQ(console->name, "");
  EXPECT_EQ(console->Uri(), "mir://toscana/console");
  EXPECT_EQ(RoleName(Role::kConsole), "console");
  for (const char* bad : {"mir://toscana/console/x", "mir://toscana/console/", "mir:///console"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(MIR_STATUS(ParseIdentity(bad)),
                StatusIsReason(absl::StatusCode::kInvalidArgument, v1::MALFORMED_CERTIFICATE));
  }
  for (int k = 0; k <= 64; ++k) {
    EXPECT_FALSE(RoleMayAuthor(Role::kConsole, static_cast<v1::MessageKind>(k))) << k;
  }
}

class ConsoleLoginTest : public ::testing::Test {
 protected:
  ConsoleLoginCheck Check(absl::Duration max_age = absl::Hours(12)) const {
    return {"toscana", clock_.Now(), max_age};
  }
  std::string Text(const std::string& node = "toscana") const {
    return FormatConsoleLoginStatement(Statement(node, clock_.Now()));
  }
  // Whole seconds, an hour on: the test PKI may be minutes old.
  FakeClock clock_{absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 3600)};
  std::unique_ptr<Verifier> verifier_ = MakeVerifier(&clock_);
};

TEST_F(ConsoleLoginTest, OperatorAndPartnerOfTheNodeSignIn) {
  for (const char* who : {"toscana/operator", "toscana/partner"}) {
    SCOPED_TRACE(who);
    auto signer = LoadSigner(who);
    ASSERT_NE(signer, nullptr);
    auto verified = VerifyConsoleLogin(*verifier_, Proof(*signer, Text()), Check());
    ASSERT_OK(verified);
    EXPECT_EQ(verified->person, signer->identity());
    EXPECT_EQ(verified->statement.node, "toscana");
    EXPECT_EQ(verified->statement.challenge, kChallenge);
    EXPECT_EQ(verified->statement.issued_at, clock_.Now());
  }
}

TEST_F(ConsoleLoginTest, AgeAndSkewWindow) {
  auto anna = LoadSigner("toscana/operator");
  ASSERT_NE(anna, nullptr);
  const auto proof = Proof(*anna, Text());
  ConsoleLoginCheck check = Check(absl::Seconds(120));
  check.now += absl::Seconds(120);
  EXPECT_OK(VerifyConsoleLogin(*verifier_, proof, check));
  check.now += absl::Seconds(1);
  EXPECT_THAT(MIR_STATUS(VerifyConsoleLogin(*verifier_, proof, check)),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::CONSOLE_PROOF));
  check.now = clock_.Now() - absl::Minutes(5);
  EXPECT_OK(VerifyConsoleLogin(*verifier_, proof, check));
  check.now -= absl::Seconds(1);
  EXPECT_THAT(MIR_STATUS(VerifyConsoleLogin(*verifier_, proof, check)),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::CLOCK_SKEW));
}

TEST_F(ConsoleLoginTest, StatementForAnotherNodeIsRefused) {
  auto anna = LoadSigner("toscana/operator");
  ASSERT_NE(anna, nullptr);
  EXPECT_THAT(MIR_STATUS(VerifyConsoleLogin(*verifier_, Proof(*anna, Text("nvn")), Check())),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::NOT_FOR_THIS_NODE));
}

TEST_F(ConsoleLoginTest, OnlyOperatorsAndPartnersOfThisNode) {
  for (const char* who : {"nvn/operator", "lombardia/partner", "toscana/node", "toscana/console"}) {
    SCOPED_TRACE(who);
    auto signer = LoadSigner(who);
    ASSERT_NE(signer, nullptr);
    EXPECT_THAT(MIR_STATUS(VerifyConsoleLogin(*verifier_, Proof(*signer, Text()), Check())),
                StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  }
}

TEST_F(ConsoleLoginTest, CertificateChecksAreTheVerifiers) {
  struct Case {
    const char* who;
    v1::ErrorReason reason;
  } cases[] = {{"test/expired", v1::CERTIFICATE_EXPIRED},
               {"test/not-yet-valid", v1::CERTIFICATE_NOT_YET_VALID},
               {"test/other-ca-operator", v1::UNTRUSTED_CERTIFICATE}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.who);
    auto signer = LoadSigner(c.who);
    ASSERT_NE(signer, nullptr);
    EXPECT_THAT(MIR_STATUS(VerifyConsoleLogin(*verifier_, Proof(*signer, Text()), Check())),
                StatusIsReason(absl::StatusCode::kUnauthenticated, c.reason));
  }
  auto with_crl = Verifier::FromTrust({ReadPkiFile("ca.crt"), {ReadPkiFile("crl.pem")}}, &clock_);
  ASSERT_OK(with_crl);
  auto revoked = LoadSigner("test/revoked-operator");
  ASSERT_NE(revoked, nullptr);
  EXPECT_THAT(MIR_STATUS(VerifyConsoleLogin(**with_crl, Proof(*revoked, Text()), Check())),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::REVOKED));
  v1::ConsoleLoginProof garbage = Proof(*revoked, Text());
  garbage.set_certificate("not a certificate");
  EXPECT_THAT(MIR_STATUS(VerifyConsoleLogin(**with_crl, garbage, Check())),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE));
  garbage.clear_certificate();
  EXPECT_THAT(MIR_STATUS(VerifyConsoleLogin(**with_crl, garbage, Check())),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::MALFORMED_CERTIFICATE));
}

TEST_F(ConsoleLoginTest, SignatureMustCoverTheStatementUnderTheTag) {
  auto anna = LoadSigner("toscana/operator");
  auto partner = LoadSigner("toscana/partner");
  ASSERT_NE(anna, nullptr);
  ASSERT_NE(partner, nullptr);
  const std::string text = Text();
  auto refused = [&](const v1::ConsoleLoginProof& p) {
    EXPECT_THAT(MIR_STATUS(VerifyConsoleLogin(*verifier_, p, Check())),
                StatusIsReason(absl::StatusCode::kUnauthenticated, v1::BAD_SIGNATURE));
  };
  v1::ConsoleLoginProof p = Proof(*anna, text);
  p.mutable_signature()->at(10) ^= 1;
  refused(p);
  p = Proof(*anna, text);
  p.mutable_signature()->pop_back();
  refused(p);
  p = Proof(*anna, text);
  p.set_statement(FormatConsoleLoginStatement(
      {"https://evil.example", "toscana", kChallenge, clock_.Now()}));  // another origin
  refused(p);
  p = Proof(*anna, text);
  p.set_certificate(partner->certificate_der());  // someone else's name on anna's signature
  refused(p);
  p = Proof(*anna, text);
  p.set_signature(*anna->Sign(text));  // the statement alone, no tag
  refused(p);
}

TEST_F(ConsoleLoginTest, AConsoleCertificateSignsNoEnvelope) {
  auto console = LoadSigner("toscana/console");
  ASSERT_NE(console, nullptr);
  for (v1::MessageKind kind :
       {v1::REFERRAL, v1::STATUS_CHANGE, v1::PLACEMENT_CONFIRMATION, v1::RECEIPT, v1::KEY_RELEASE,
        v1::ERASURE_CONFIRMATION, v1::REPORT_EVENT, v1::CITIZEN_REPORT, v1::SERVICE_EVENT,
        v1::SERVICE_REQUEST, v1::SERVICE_UPDATE, v1::STATISTICS_REPORT}) {
    SCOPED_TRACE(v1::MessageKind_Name(kind));
    auto bytes = console->SignEnvelope(MakeHeader(kind, "", "nvn", clock_.Now()), "b");
    ASSERT_OK(bytes);
    EXPECT_THAT(MIR_STATUS(verifier_->Verify(*bytes)),
                StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  }
}

// proto/testvectors/console-login-v1.txt, made with the openssl CLI alone.
TEST(ConsoleLoginVectorTest, ReproducesTheVector) {
  std::ifstream in(SourcePath("proto/testvectors/console-login-v1.txt"));
  ASSERT_TRUE(in) << "console-login-v1.txt not found";
  std::map<std::string, std::string> v;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t colon = line.find(": ");
    ASSERT_NE(colon, std::string::npos) << line;
    v[line.substr(0, colon)] = line.substr(colon + 2);
  }
  const std::string statement = FromHex(v["statement"]);
  const ConsoleLoginStatement fields{v["origin_text"], v["node_text"], v["challenge_text"],
                                     absl::FromUnixSeconds(std::stoll(v["issued_at_unix"]))};
  EXPECT_EQ(FormatConsoleLoginStatement(fields), statement);
  auto parsed = ParseConsoleLoginStatement(statement);
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->challenge, fields.challenge);
  EXPECT_EQ(parsed->issued_at, fields.issued_at);
  const std::string signed_bytes = ConsoleLoginSignedBytes(statement);
  EXPECT_EQ(ToHex(signed_bytes), v["signed_bytes"]);

  ASSERT_GE(sodium_init(), 0);
  const std::string seed = FromHex(v["seed"]);
  ASSERT_EQ(seed.size(), crypto_sign_SEEDBYTES);
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, reinterpret_cast<const unsigned char*>(seed.data()));
  EXPECT_EQ(ToHex(std::string(reinterpret_cast<char*>(pk), sizeof(pk))), v["public_key"]);
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(signed_bytes.data()),
                       signed_bytes.size(), sk);
  EXPECT_EQ(ToHex(std::string(reinterpret_cast<char*>(sig), sizeof(sig))), v["signature"]);
}

}  // namespace
}  // namespace mir::testing
