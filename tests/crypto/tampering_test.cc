// Every way an envelope can lie or be damaged is refused with its own reason,
// and no byte string crashes the verifier.

#include <functional>
#include <random>

#include "tests/crypto/crypto_fixtures.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;

class TamperingTest : public SignedByAnnaTest {};

std::string FlipBit(std::string s, size_t byte, int bit) {
  s[byte] = static_cast<char>(s[byte] ^ (1 << bit));
  return s;
}

TEST_F(TamperingTest, EachTamperingIsRefusedWithItsOwnReason) {
  struct Case {
    std::string name;
    std::function<std::string()> make;  // returns the envelope bytes to verify
    StatusCode code;
    v1::ErrorReason reason;
  };
  auto resign_envelope = [this](std::function<void(v1::Envelope&)> mutate) {
    v1::Envelope e;
    e.ParseFromString(SignRaw(*anna_, Header(), "body"));
    mutate(e);
    return e.SerializeAsString();
  };
  auto signed_by = [this](const std::string& prefix, v1::MessageKind kind) {
    auto s = LoadSigner(prefix);
    v1::EnvelopeHeader h = MakeHeader(kind, s->identity().node, "nvn", clock_.Now());
    h.set_author(s->identity().Uri());
    return SignRaw(*s, h, "body");
  };
  const std::vector<Case> cases = {
      {"one bit flipped in the header",
       [&] {
         return resign_envelope([](v1::Envelope& e) { e.set_header(FlipBit(e.header(), 3, 1)); });
       },
       StatusCode::kUnauthenticated, v1::BAD_SIGNATURE},
      {"one bit flipped in the body",
       [&] {
         return resign_envelope([](v1::Envelope& e) { e.set_body(FlipBit(e.body(), 0, 0)); });
       },
       StatusCode::kUnauthenticated, v1::BAD_SIGNATURE},
      {"one bit flipped in the signature",
       [&] {
         return resign_envelope([](v1::Envelope& e) {
           e.mutable_signature()->set_value(FlipBit(e.signature().value(), 10, 7));
         });
       },
       StatusCode::kUnauthenticated, v1::BAD_SIGNATURE},
      {"header moved into the body (no domain confusion)",
       [&] {
         return resign_envelope([](v1::Envelope& e) {
           e.set_body(e.header() + e.body());
           e.set_header("");
         });
       },
       StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE},
      {"certificate swapped for another valid one",
       [&] {
         auto other = LoadSigner("toscana/partner");
         return resign_envelope([&](v1::Envelope& e) {
           e.mutable_signature()->set_certificate(other->certificate_der());
         });
       },
       StatusCode::kUnauthenticated, v1::BAD_SIGNATURE},
      {"certificate bytes garbled",
       [&] {
         return resign_envelope([](v1::Envelope& e) {
           e.mutable_signature()->set_certificate(e.signature().certificate().substr(0, 40));
         });
       },
       StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE},
      {"expired certificate", [&] { return signed_by("test/expired", v1::REFERRAL); },
       StatusCode::kUnauthenticated, v1::CERTIFICATE_EXPIRED},
      {"not-yet-valid certificate", [&] { return signed_by("test/not-yet-valid", v1::REFERRAL); },
       StatusCode::kUnauthenticated, v1::CERTIFICATE_NOT_YET_VALID},
      {"certificate from another CA",
       [&] { return signed_by("test/other-ca-operator", v1::REFERRAL); },
       StatusCode::kUnauthenticated, v1::UNTRUSTED_CERTIFICATE},
      {"certificate with an unknown role",
       [&] {
         v1::EnvelopeHeader h = Header();
         h.set_author("mir://toscana/auditor/op1");
         return SignRawWithFiles("test/wrong-role", h, "body");
       },
       StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED},
      {"partner submitting a referral", [&] { return signed_by("toscana/partner", v1::REFERRAL); },
       StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED},
      {"operator confirming a placement",
       [&] { return signed_by("toscana/operator", v1::PLACEMENT_CONFIRMATION); },
       StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED},
      {"operator signing a receipt", [&] { return signed_by("toscana/operator", v1::RECEIPT); },
       StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED},
      {"node submitting a referral", [&] { return signed_by("nvn/node", v1::REFERRAL); },
       StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED},
      {"author is someone else",
       [&] {
         v1::EnvelopeHeader h = Header();
         h.set_author("mir://toscana/operator/bob");
         return SignRaw(*anna_, h, "body");
       },
       StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH},
      {"sender node is another node",
       [&] {
         v1::EnvelopeHeader h = Header();
         h.set_sender_node("lombardia");
         return SignRaw(*anna_, h, "body");
       },
       StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH},
      {"created before the certificate was valid",
       [&] {
         v1::EnvelopeHeader h = Header();
         *h.mutable_created_at() = ProtoTime(clock_.Now() - absl::Hours(24 * 30));
         return SignRaw(*anna_, h, "body");
       },
       StatusCode::kUnauthenticated, v1::CERTIFICATE_NOT_YET_VALID},
      {"created beyond the allowed clock skew",
       [&] {
         v1::EnvelopeHeader h = Header();
         *h.mutable_created_at() = ProtoTime(clock_.Now() + absl::Hours(1));
         return SignRaw(*anna_, h, "body");
       },
       StatusCode::kInvalidArgument, v1::CLOCK_SKEW},
      {"header without a message id",
       [&] {
         v1::EnvelopeHeader h = Header();
         h.clear_message_id();
         return SignRaw(*anna_, h, "body");
       },
       StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE},
      {"unsupported signature algorithm",
       [&] {
         return resign_envelope([](v1::Envelope& e) {
           e.mutable_signature()->set_algorithm(v1::SIGNATURE_ALGORITHM_UNSPECIFIED);
         });
       },
       StatusCode::kInvalidArgument, v1::UNSUPPORTED_ALGORITHM},
      {"no signature",
       [&] { return resign_envelope([](v1::Envelope& e) { e.clear_signature(); }); },
       StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(MIR_STATUS(verifier_->Verify(c.make())), StatusIsReason(c.code, c.reason));
  }
}

TEST_F(TamperingTest, ValidAtSigningButExpiredNowIsRefused) {
  const std::string bytes = SignRaw(*anna_, Header(), "body");
  ASSERT_OK(verifier_->Verify(bytes));
  clock_.Advance(absl::Hours(24 * 900));  // dev leaf certificates last 825 days
  EXPECT_THAT(MIR_STATUS(verifier_->Verify(bytes)),
              StatusIsReason(StatusCode::kUnauthenticated, v1::CERTIFICATE_EXPIRED));
}

TEST_F(TamperingTest, SizeLimitIsExactAndCheckedBeforeParsing) {
  const std::string bytes = SignRaw(*anna_, Header(), std::string(1000, 'b'));
  VerifierOptions at_limit;
  at_limit.max_envelope_bytes = bytes.size();
  EXPECT_OK(MakeVerifier(&clock_, at_limit)->Verify(bytes));
  VerifierOptions one_below;
  one_below.max_envelope_bytes = bytes.size() - 1;
  EXPECT_THAT(MIR_STATUS(MakeVerifier(&clock_, one_below)->Verify(bytes)),
              StatusIsReason(StatusCode::kResourceExhausted, v1::MESSAGE_TOO_LARGE));
}

TEST_F(TamperingTest, MalformedBytesGiveAnErrorNeverACrash) {
  const std::string valid = SignRaw(*anna_, Header(), "body");
  // Every truncation of a valid envelope.
  for (size_t len = 0; len < valid.size(); ++len) {
    EXPECT_FALSE(verifier_->Verify(valid.substr(0, len)).ok()) << "length " << len;
  }
  // Random single-byte corruptions and random garbage.
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string s = valid;
    s[rng() % s.size()] = static_cast<char>(rng());
    if (s == valid) continue;
    EXPECT_FALSE(verifier_->Verify(s).ok());
  }
  for (int i = 0; i < 500; ++i) {
    std::string garbage(rng() % 300, '\0');
    for (char& c : garbage) c = static_cast<char>(rng());
    auto result = verifier_->Verify(garbage);
    EXPECT_FALSE(result.ok());
  }
  EXPECT_THAT(MIR_STATUS(verifier_->Verify("\xff\xff\xff")),
              StatusIsReason(StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE));
}

TEST_F(TamperingTest, CachedCertificateStillGetsItsTimeChecked) {
  // First use caches the chain result; validity must still be checked after.
  const std::string bytes = SignRaw(*anna_, Header(), "body");
  ASSERT_OK(verifier_->Verify(bytes));
  ASSERT_OK(verifier_->Verify(bytes));
  clock_.Advance(absl::Hours(24 * 900));
  EXPECT_THAT(MIR_STATUS(verifier_->Verify(bytes)),
              StatusIsReason(StatusCode::kUnauthenticated, v1::CERTIFICATE_EXPIRED));
}

}  // namespace
}  // namespace mir::testing
