// Sign/verify round trips and receipts with certificates from certs/.

#include "crypto/receipt.h"
#include "tests/crypto/crypto_fixtures.h"

namespace mir::testing {
namespace {

class SignVerifyTest : public ::testing::Test {
 protected:
  FakeClock clock_{absl::Now()};
  std::unique_ptr<Verifier> verifier_ = MakeVerifier(&clock_);
};

TEST_F(SignVerifyTest, OperatorReferralRoundTrip) {
  auto anna = LoadSigner("toscana/operator");
  ASSERT_NE(anna, nullptr);
  EXPECT_EQ(anna->identity().Uri(), "mir://toscana/operator/op1");
  v1::EnvelopeHeader h = MakeHeader(v1::REFERRAL, "", "nvn", clock_.Now());
  auto bytes = anna->SignEnvelope(h, "referral body bytes");
  ASSERT_OK(bytes);

  auto verified = verifier_->Verify(*bytes);
  ASSERT_OK(verified);
  EXPECT_EQ(verified->author, anna->identity());
  EXPECT_EQ(verified->header.author(), "mir://toscana/operator/op1");
  EXPECT_EQ(verified->header.sender_node(), "toscana");
  EXPECT_EQ(verified->header.message_id(), h.message_id());
  EXPECT_EQ(verified->body, "referral body bytes");
  EXPECT_EQ(verified->envelope_sha256, Sha256(*bytes));
}

TEST_F(SignVerifyTest, EveryRoleSignsWhatItMayAuthor) {
  struct Case {
    std::string signer;
    v1::MessageKind kind;
  } cases[] = {
      {"toscana/operator", v1::REFERRAL},       {"toscana/operator", v1::STATUS_CHANGE},
      {"lombardia/partner", v1::STATUS_CHANGE}, {"lombardia/partner", v1::PLACEMENT_CONFIRMATION},
      {"nvn/node", v1::STATUS_CHANGE},          {"nvn/node", v1::RECEIPT}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.signer + " " + v1::MessageKind_Name(c.kind));
    auto signer = LoadSigner(c.signer);
    ASSERT_NE(signer, nullptr);
    auto bytes = signer->SignEnvelope(MakeHeader(c.kind, "", "toscana", clock_.Now()), "b");
    ASSERT_OK(bytes);
    EXPECT_OK(verifier_->Verify(*bytes));
  }
}

TEST_F(SignVerifyTest, SignaturesAreDeterministic) {
  auto anna = LoadSigner("toscana/operator");
  ASSERT_NE(anna, nullptr);
  EXPECT_EQ(*anna->Sign("same bytes"), *anna->Sign("same bytes"));
  EXPECT_NE(*anna->Sign("same bytes"), *anna->Sign("other bytes"));
}

TEST_F(SignVerifyTest, KeyThatDoesNotMatchCertificateIsRefusedAtLoad) {
  auto mixed =
      Signer::FromPemFiles(PkiPath("toscana/operator.key"), PkiPath("toscana/partner.crt"));
  EXPECT_THAT(mixed.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  auto missing = Signer::FromPemFiles(PkiPath("nope.key"), PkiPath("toscana/partner.crt"));
  EXPECT_THAT(missing.status(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(SignVerifyTest, ReceiptCoversTheExactEnvelopeBytes) {
  auto anna = LoadSigner("toscana/operator");
  auto nvn = LoadSigner("nvn/node");
  ASSERT_NE(anna, nullptr);
  ASSERT_NE(nvn, nullptr);
  auto bytes = anna->SignEnvelope(MakeHeader(v1::REFERRAL, "", "nvn", clock_.Now()), "body");
  ASSERT_OK(bytes);
  auto verified = verifier_->Verify(*bytes);
  ASSERT_OK(verified);

  auto receipt = SignReceipt(
      *nvn, {verified->header.message_id(), verified->envelope_sha256, "toscana"}, clock_.Now());
  ASSERT_OK(receipt);
  auto checked =
      VerifyReceipt(*verifier_, *receipt, "nvn", verified->header.message_id(), Sha256(*bytes));
  ASSERT_OK(checked);
  EXPECT_EQ(checked->receiver_node(), "nvn");

  // The same receipt does not prove other bytes, nor come from another node.
  EXPECT_THAT(MIR_STATUS(VerifyReceipt(*verifier_, *receipt, "nvn", verified->header.message_id(),
                                       Sha256(*bytes + "x"))),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::RECEIPT_MISMATCH));
  EXPECT_THAT(MIR_STATUS(VerifyReceipt(*verifier_, *receipt, "lombardia",
                                       verified->header.message_id(), Sha256(*bytes))),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH));
}

TEST_F(SignVerifyTest, ReceiptSignedByAnOperatorIsRefused) {
  auto anna = LoadSigner("toscana/operator");
  ASSERT_NE(anna, nullptr);
  auto fake = SignReceipt(*anna, {"m", std::string(32, 'x'), "nvn"}, clock_.Now());
  ASSERT_OK(fake);
  EXPECT_THAT(MIR_STATUS(VerifyReceipt(*verifier_, *fake, "toscana", "m", std::string(32, 'x'))),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
}

TEST_F(SignVerifyTest, VerifyCertificateChecksChainAndTime) {
  auto nvn = LoadSigner("nvn/node");
  ASSERT_NE(nvn, nullptr);
  auto id = verifier_->VerifyCertificate(nvn->certificate_der(), clock_.Now());
  ASSERT_OK(id);
  EXPECT_EQ(id->Uri(), "mir://nvn/node");
  EXPECT_THAT(MIR_STATUS(verifier_->VerifyCertificate(nvn->certificate_der(),
                                                      clock_.Now() + absl::Hours(24 * 3650))),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::CERTIFICATE_EXPIRED));
}

}  // namespace
}  // namespace mir::testing
