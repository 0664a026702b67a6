// crypto/ signs and verifies Ed25519 with libsodium, while OpenSSL parses the
// keys and certificates. These tests check the two libraries against each
// other directly: the same signatures both ways (Ed25519 is deterministic),
// the same refusals, and that a malleated signature (S + L) is refused.

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "crypto/openssl_util.h"
#include "tests/crypto/crypto_fixtures.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;
using crypto_internal::BioPtr;
using crypto_internal::MdCtxPtr;
using crypto_internal::PkeyPtr;
using crypto_internal::X509Ptr;

// The group order L = 2^252 + 27742317777372353535851937790883648493,
// little-endian, as Ed25519 encodes S.
constexpr unsigned char kGroupOrder[32] = {
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

// The signature with S replaced by S + L: the same point equation holds, so
// a verifier that does not insist on S < L (RFC 8032 §5.1.7) accepts it.
std::string AddGroupOrderToS(std::string sig) {
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {
    const unsigned sum = static_cast<unsigned char>(sig[32 + i]) + kGroupOrder[i] + carry;
    sig[32 + i] = static_cast<char>(sum & 0xff);
    carry = sum >> 8;
  }
  EXPECT_EQ(carry, 0u);  // S < L < 2^253, so S + L < 2^254 fits
  return sig;
}

PkeyPtr OpenSslPrivateKey(const std::string& prefix) {
  auto pem = ReadFile(PkiPath(prefix + ".key"));
  EXPECT_TRUE(pem.ok()) << pem.status();
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  EXPECT_NE(key, nullptr);
  return key;
}

X509Ptr OpenSslCertificate(const std::string& prefix) {
  auto pem = ReadFile(PkiPath(prefix + ".crt"));
  EXPECT_TRUE(pem.ok()) << pem.status();
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  EXPECT_NE(cert, nullptr);
  return cert;
}

std::string OpenSslSign(EVP_PKEY* key, const std::string& message) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t sig_len = sig.size();
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                           reinterpret_cast<const unsigned char*>(message.data()), message.size()),
            1);
  EXPECT_EQ(sig_len, 64u);
  return sig;
}

bool OpenSslVerifies(EVP_PKEY* public_key, const std::string& sig, const std::string& message) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EXPECT_EQ(EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, public_key), 1);
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

// An envelope carrying `sig` as its signature, whatever it is.
std::string EnvelopeWithSignature(const Signer& signer, const v1::EnvelopeHeader& header,
                                  const std::string& body, const std::string& sig) {
  v1::Envelope e;
  e.set_header(header.SerializeAsString());
  e.set_body(body);
  e.mutable_signature()->set_algorithm(v1::ED25519);
  e.mutable_signature()->set_certificate(signer.certificate_der());
  e.mutable_signature()->set_value(sig);
  return e.SerializeAsString();
}

class OpenSslCrossCheckTest : public SignedByAnnaTest {
 protected:
  void SetUp() override {
    SignedByAnnaTest::SetUp();
    anna_key_ = OpenSslPrivateKey("toscana/operator");
    anna_cert_ = OpenSslCertificate("toscana/operator");
    ASSERT_NE(anna_key_, nullptr);
    ASSERT_NE(anna_cert_, nullptr);
  }
  PkeyPtr anna_key_;
  X509Ptr anna_cert_;
};

TEST_F(OpenSslCrossCheckTest, SignerGivesOpenSslsSignatureByteForByte) {
  for (size_t size : {0, 1, 63, 64, 1100, 70000}) {
    SCOPED_TRACE(size);
    std::string message(size, '\0');
    for (size_t i = 0; i < size; ++i) message[i] = static_cast<char>(i * 7 + size);
    auto ours = anna_->Sign(message);
    ASSERT_OK(ours);
    EXPECT_EQ(ToHex(*ours), ToHex(OpenSslSign(anna_key_.get(), message)));
  }
}

TEST_F(OpenSslCrossCheckTest, OurSignaturesVerifyWithOpenSsl) {
  const v1::EnvelopeHeader h = Header();
  const std::string bytes = SignRaw(*anna_, h, "referral body");
  v1::Envelope e;
  ASSERT_TRUE(e.ParseFromString(bytes));
  EXPECT_TRUE(OpenSslVerifies(X509_get0_pubkey(anna_cert_.get()), e.signature().value(),
                              SignedBytes(e.header(), e.body())));
  // And OpenSSL refuses what it should refuse of ours.
  EXPECT_FALSE(OpenSslVerifies(X509_get0_pubkey(anna_cert_.get()), e.signature().value(),
                               SignedBytes(e.header(), e.body() + "x")));
  ERR_clear_error();
}

TEST_F(OpenSslCrossCheckTest, OpenSslSignaturesVerifyWithOurVerifier) {
  const v1::EnvelopeHeader h = Header();
  const std::string tbs = SignedBytes(h.SerializeAsString(), "referral body");
  const std::string sig = OpenSslSign(anna_key_.get(), tbs);
  auto verified = verifier_->Verify(EnvelopeWithSignature(*anna_, h, "referral body", sig));
  ASSERT_OK(verified);
  EXPECT_EQ(verified->author, anna_->identity());
  // The test helper that signs through OpenSSL from the PKI files, too.
  EXPECT_OK(verifier_->Verify(SignRawWithFiles("toscana/operator", h, "referral body")));
  // A signature by OpenSSL with another key does not verify as anna's.
  PkeyPtr other = OpenSslPrivateKey("toscana/partner");
  ASSERT_NE(other, nullptr);
  EXPECT_THAT(MIR_STATUS(verifier_->Verify(EnvelopeWithSignature(*anna_, h, "referral body",
                                                                 OpenSslSign(other.get(), tbs)))),
              StatusIsReason(StatusCode::kUnauthenticated, v1::BAD_SIGNATURE));
}

TEST_F(OpenSslCrossCheckTest, MalleatedSignatureIsRefused) {
  const v1::EnvelopeHeader h = Header();
  const std::string body = "referral body";
  const std::string tbs = SignedBytes(h.SerializeAsString(), body);
  auto sig = anna_->Sign(tbs);
  ASSERT_OK(sig);
  ASSERT_OK(verifier_->Verify(EnvelopeWithSignature(*anna_, h, body, *sig)));

  const std::string malleated = AddGroupOrderToS(*sig);
  ASSERT_NE(malleated, *sig);
  EXPECT_THAT(MIR_STATUS(verifier_->Verify(EnvelopeWithSignature(*anna_, h, body, malleated))),
              StatusIsReason(StatusCode::kUnauthenticated, v1::BAD_SIGNATURE));
  // OpenSSL agrees (RFC 8032 requires S < L).
  EXPECT_FALSE(OpenSslVerifies(X509_get0_pubkey(anna_cert_.get()), malleated, tbs));
  ERR_clear_error();

  // S = L exactly (a non-canonical encoding of 0), and S with the top bits set.
  std::string s_is_l = *sig;
  s_is_l.replace(32, 32, reinterpret_cast<const char*>(kGroupOrder), 32);
  std::string high_bits = *sig;
  high_bits[63] = static_cast<char>(high_bits[63] | 0xe0);
  for (const std::string& bad : {s_is_l, high_bits}) {
    EXPECT_THAT(MIR_STATUS(verifier_->Verify(EnvelopeWithSignature(*anna_, h, body, bad))),
                StatusIsReason(StatusCode::kUnauthenticated, v1::BAD_SIGNATURE));
  }
}

TEST_F(OpenSslCrossCheckTest, WrongLengthSignaturesAreRefused) {
  const v1::EnvelopeHeader h = Header();
  auto sig = anna_->Sign(SignedBytes(h.SerializeAsString(), "b"));
  ASSERT_OK(sig);
  for (const std::string& bad : {std::string(), sig->substr(0, 63), *sig + std::string(1, '\0')}) {
    SCOPED_TRACE(bad.size());
    EXPECT_THAT(MIR_STATUS(verifier_->Verify(EnvelopeWithSignature(*anna_, h, "b", bad))),
                StatusIsReason(StatusCode::kUnauthenticated, v1::BAD_SIGNATURE));
  }
}

TEST_F(OpenSslCrossCheckTest, NonEd25519OrForeignKeysAreRefusedAtLoad) {
  auto cert_pem = ReadFile(PkiPath("toscana/operator.crt"));
  ASSERT_OK(cert_pem);
  // A P-256 key: not Ed25519.
  PkeyPtr ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_NE(ec, nullptr);
  BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), ec.get(), nullptr, nullptr, 0, nullptr, nullptr),
            1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  EXPECT_THAT(Signer::FromPem(std::string(data, static_cast<size_t>(len)), *cert_pem).status(),
              StatusIs(StatusCode::kInvalidArgument));
  // An Ed25519 seed whose public key is not the certificate's.
  EXPECT_THAT(Signer::FromSeed(std::string(32, '\x01'), anna_->certificate_der()).status(),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(Signer::FromSeed(std::string(31, '\x01'), anna_->certificate_der()).status(),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(OpenSslCrossCheckTest, OneSignerAndVerifierServeManyThreads) {
  const std::string bytes = SignRaw(*anna_, Header(), "body");
  const std::string expected = *anna_->Sign("shared message");
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (!verifier_->Verify(bytes).ok()) ++failures[t];
        auto sig = anna_->Sign("shared message");
        if (!sig.ok() || *sig != expected) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace mir::testing
