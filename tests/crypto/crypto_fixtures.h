#ifndef MIR_TESTS_CRYPTO_CRYPTO_FIXTURES_H_
#define MIR_TESTS_CRYPTO_CRYPTO_FIXTURES_H_

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "crypto/envelope_bytes.h"
#include "crypto/signer.h"
#include "crypto/verifier.h"
#include "gtest/gtest.h"
#include "mir/v1/envelope.pb.h"
#include "tests/testing/test_env.h"

namespace mir::testing {

// Signer for a PKI-relative prefix, e.g. "toscana/operator".
inline std::unique_ptr<Signer> LoadSigner(const std::string& prefix) {
  auto signer = Signer::FromPemFiles(PkiPath(prefix + ".key"), PkiPath(prefix + ".crt"));
  EXPECT_TRUE(signer.ok()) << signer.status();
  return signer.ok() ? std::move(*signer) : nullptr;
}

inline google::protobuf::Timestamp ProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

inline v1::EnvelopeHeader MakeHeader(v1::MessageKind kind, const std::string& sender,
                                     const std::string& recipient, absl::Time created_at) {
  v1::EnvelopeHeader h;
  h.set_message_id(NewUuid());
  h.set_kind(kind);
  h.set_sender_node(sender);
  h.set_recipient_node(recipient);
  *h.mutable_created_at() = ProtoTime(created_at);
  h.set_referral_id(NewUuid());
  h.set_sequence(1);
  return h;
}

// Builds an envelope by hand, without Signer::SignEnvelope's author/sender
// filling, so tests can sign headers that lie.
inline std::string SignRaw(const Signer& signer, const v1::EnvelopeHeader& header,
                           const std::string& body) {
  v1::Envelope e;
  e.set_header(header.SerializeAsString());
  e.set_body(body);
  e.mutable_signature()->set_algorithm(v1::ED25519);
  e.mutable_signature()->set_certificate(signer.certificate_der());
  e.mutable_signature()->set_value(*signer.Sign(SignedBytes(e.header(), e.body())));
  return e.SerializeAsString();
}

// Signs with a PKI key and certificate that Signer itself refuses to load
// (e.g. an unknown role), to prove the verifier refuses them too.
inline std::string SignRawWithFiles(const std::string& prefix, const v1::EnvelopeHeader& header,
                                    const std::string& body) {
  auto read = [](const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    EXPECT_NE(f, nullptr) << path;
    return f;
  };
  std::FILE* kf = read(PkiPath(prefix + ".key"));
  EVP_PKEY* key = PEM_read_PrivateKey(kf, nullptr, nullptr, nullptr);
  std::fclose(kf);
  std::FILE* cf = read(PkiPath(prefix + ".crt"));
  X509* cert = PEM_read_X509(cf, nullptr, nullptr, nullptr);
  std::fclose(cf);
  unsigned char* der = nullptr;
  const int der_len = i2d_X509(cert, &der);
  v1::Envelope e;
  e.set_header(header.SerializeAsString());
  e.set_body(body);
  const std::string tbs = SignedBytes(e.header(), e.body());
  std::string sig(64, '\0');
  size_t sig_len = sig.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key);
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                 reinterpret_cast<const unsigned char*>(tbs.data()), tbs.size());
  EVP_MD_CTX_free(ctx);
  e.mutable_signature()->set_algorithm(v1::ED25519);
  e.mutable_signature()->set_certificate(std::string(reinterpret_cast<char*>(der), der_len));
  e.mutable_signature()->set_value(sig);
  OPENSSL_free(der);
  X509_free(cert);
  EVP_PKEY_free(key);
  return e.SerializeAsString();
}

inline std::unique_ptr<Verifier> MakeVerifier(const Clock* clock, VerifierOptions options = {}) {
  auto v = Verifier::FromCaPemFile(PkiPath("ca.crt"), clock, options);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? std::move(*v) : nullptr;
}

// A verifier on a fake clock and toscana's operator Anna, who signs.
class SignedByAnnaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    anna_ = LoadSigner("toscana/operator");
    ASSERT_NE(anna_, nullptr);
  }
  // The header of a valid REFERRAL by Anna from toscana to nvn.
  v1::EnvelopeHeader Header() const {
    v1::EnvelopeHeader h = MakeHeader(v1::REFERRAL, "toscana", "nvn", clock_.Now());
    h.set_author(anna_->identity().Uri());
    return h;
  }
  FakeClock clock_{absl::Now()};
  std::unique_ptr<Verifier> verifier_ = MakeVerifier(&clock_);
  std::unique_ptr<Signer> anna_;
};

}  // namespace mir::testing

#endif  // MIR_TESTS_CRYPTO_CRYPTO_FIXTURES_H_
