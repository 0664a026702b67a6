#include "crypto/signer.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/certificate.h"
#include "crypto/envelope_bytes.h"
#include "crypto/openssl_util.h"

namespace mir {

using crypto_internal::OpenSslErrorText;
using crypto_internal::PkeyPtr;
using crypto_internal::X509Ptr;

struct Signer::Key {
  PkeyPtr pkey;
};

Signer::Signer(std::unique_ptr<Key> key, std::string cert_der, Identity identity)
    : key_(std::move(key)), cert_der_(std::move(cert_der)), identity_(std::move(identity)) {}

Signer::~Signer() = default;

namespace {

absl::StatusOr<std::unique_ptr<Signer>> Build(PkeyPtr pkey, X509Ptr cert,
                                              auto make_signer) {
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("the private key is not an Ed25519 key");
  }
  if (X509_check_private_key(cert.get(), pkey.get()) != 1) {
    OpenSslErrorText();
    return absl::InvalidArgumentError("the private key does not match the certificate");
  }
  ASSIGN_OR_RETURN(Identity identity, CertificateIdentity(cert.get()));
  return make_signer(std::move(pkey), crypto_internal::CertificateToDer(cert.get()),
                     std::move(identity));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Signer>> Signer::FromPem(absl::string_view key_pem,
                                                        absl::string_view cert_pem) {
  crypto_internal::BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM private key: ", OpenSslErrorText()));
  }
  ASSIGN_OR_RETURN(X509Ptr cert, crypto_internal::ParseCertificatePem(cert_pem));
  return Build(std::move(pkey), std::move(cert), [](PkeyPtr k, std::string der, Identity id) {
    auto key = std::make_unique<Key>();
    key->pkey = std::move(k);
    return std::unique_ptr<Signer>(new Signer(std::move(key), std::move(der), std::move(id)));
  });
}

absl::StatusOr<std::unique_ptr<Signer>> Signer::FromPemFiles(const std::string& key_path,
                                                             const std::string& cert_path) {
  ASSIGN_OR_RETURN(std::string key_pem, ReadFile(key_path));
  ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(cert_path));
  auto signer = FromPem(key_pem, cert_pem);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (!signer.ok()) {
    return absl::Status(signer.status().code(),
                        absl::StrCat(key_path, ": ", signer.status().message()));
  }
  return signer;
}

absl::StatusOr<std::unique_ptr<Signer>> Signer::FromSeed(absl::string_view seed,
                                                         absl::string_view cert_der) {
  if (seed.size() != 32) return absl::InvalidArgumentError("an Ed25519 seed is 32 bytes");
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()),
      seed.size()));
  if (!pkey) return absl::InternalError(OpenSslErrorText());
  ASSIGN_OR_RETURN(X509Ptr cert, crypto_internal::ParseCertificateDer(cert_der));
  return Build(std::move(pkey), std::move(cert), [](PkeyPtr k, std::string der, Identity id) {
    auto key = std::make_unique<Key>();
    key->pkey = std::move(k);
    return std::unique_ptr<Signer>(new Signer(std::move(key), std::move(der), std::move(id)));
  });
}

absl::StatusOr<std::string> Signer::Sign(absl::string_view message) const {
  crypto_internal::MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string sig(64, '\0');
  size_t sig_len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      sig_len != 64) {
    return absl::InternalError(absl::StrCat("Ed25519 signing failed: ", OpenSslErrorText()));
  }
  return sig;
}

absl::StatusOr<std::string> Signer::SignEnvelope(v1::EnvelopeHeader header,
                                                 absl::string_view body) const {
  header.set_author(identity_.Uri());
  header.set_sender_node(identity_.node);
  v1::Envelope envelope;
  if (!header.SerializeToString(envelope.mutable_header())) {
    return absl::InternalError("cannot serialize the envelope header");
  }
  envelope.set_body(std::string(body));
  ASSIGN_OR_RETURN(std::string sig, Sign(SignedBytes(envelope.header(), envelope.body())));
  envelope.mutable_signature()->set_algorithm(v1::ED25519);
  envelope.mutable_signature()->set_certificate(cert_der_);
  envelope.mutable_signature()->set_value(std::move(sig));
  return envelope.SerializeAsString();
}

}  // namespace mir
