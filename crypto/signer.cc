#include "crypto/signer.h"

#include <openssl/pem.h>
#include <sodium.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/certificate.h"
#include "crypto/envelope_bytes.h"
#include "crypto/openssl_util.h"
#include "crypto/sodium_util.h"

namespace mir {

using crypto_internal::OpenSslErrorText;
using crypto_internal::PkeyPtr;
using crypto_internal::X509Ptr;

// libsodium's Ed25519 secret key: the 32-byte seed followed by the 32-byte
// public key. The only copy of the secret this process keeps; wiped on
// destruction, never copied.
struct Signer::Key {
  unsigned char secret[crypto_sign_SECRETKEYBYTES];

  Key() = default;
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  ~Key() { sodium_memzero(secret, sizeof(secret)); }
};

Signer::Signer(std::unique_ptr<Key> key, std::string cert_der, Identity identity)
    : key_(std::move(key)), cert_der_(std::move(cert_der)), identity_(std::move(identity)) {}

Signer::~Signer() = default;

namespace {

// Derives libsodium's secret key from the OpenSSL Ed25519 private key `pkey`
// into `secret` (crypto_sign_SECRETKEYBYTES), and checks that its public key
// is the certificate's.
absl::Status DeriveSecretKey(EVP_PKEY* pkey, X509* cert, unsigned char* secret) {
  unsigned char seed[crypto_sign_SEEDBYTES];
  size_t seed_len = sizeof(seed);
  if (EVP_PKEY_get_raw_private_key(pkey, seed, &seed_len) != 1 || seed_len != sizeof(seed)) {
    sodium_memzero(seed, sizeof(seed));
    return absl::InternalError(
        absl::StrCat("cannot read the Ed25519 private key: ", OpenSslErrorText()));
  }
  unsigned char derived_public[crypto_sign_PUBLICKEYBYTES];
  const int derived = crypto_sign_seed_keypair(derived_public, secret, seed);
  sodium_memzero(seed, sizeof(seed));
  if (derived != 0) return absl::InternalError("cannot derive the Ed25519 key pair");

  unsigned char cert_public[crypto_sign_PUBLICKEYBYTES];
  size_t cert_public_len = sizeof(cert_public);
  EVP_PKEY* cert_key = X509_get0_pubkey(cert);
  if (cert_key == nullptr || EVP_PKEY_get_id(cert_key) != EVP_PKEY_ED25519 ||
      EVP_PKEY_get_raw_public_key(cert_key, cert_public, &cert_public_len) != 1 ||
      cert_public_len != sizeof(cert_public) ||
      std::memcmp(cert_public, derived_public, sizeof(cert_public)) != 0) {
    OpenSslErrorText();
    return absl::InvalidArgumentError("the private key does not match the certificate");
  }
  return absl::OkStatus();
}

// `key` is a fresh Signer::Key (its type deduced: the name is private).
template <typename SecretKey>
absl::StatusOr<std::unique_ptr<Signer>> Build(PkeyPtr pkey, X509Ptr cert,
                                              std::unique_ptr<SecretKey> key, auto make_signer) {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("the private key is not an Ed25519 key");
  }
  RETURN_IF_ERROR(DeriveSecretKey(pkey.get(), cert.get(), key->secret));
  pkey.reset();  // OpenSSL wipes its copy when freeing it; `key` holds ours
  ASSIGN_OR_RETURN(Identity identity, CertificateIdentity(cert.get()));
  return make_signer(std::move(key), crypto_internal::CertificateToDer(cert.get()),
                     std::move(identity));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Signer>> Signer::FromPem(absl::string_view key_pem,
                                                        absl::string_view cert_pem) {
  crypto_internal::BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    return absl::InvalidArgumentError(absl::StrCat("not a PEM private key: ", OpenSslErrorText()));
  }
  ASSIGN_OR_RETURN(X509Ptr cert, crypto_internal::ParseCertificatePem(cert_pem));
  return Build(
      std::move(pkey), std::move(cert), std::make_unique<Key>(),
      [](std::unique_ptr<Key> key, std::string der, Identity id) {
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
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
  if (!pkey) return absl::InternalError(OpenSslErrorText());
  ASSIGN_OR_RETURN(X509Ptr cert, crypto_internal::ParseCertificateDer(cert_der));
  return Build(
      std::move(pkey), std::move(cert), std::make_unique<Key>(),
      [](std::unique_ptr<Key> key, std::string der, Identity id) {
        return std::unique_ptr<Signer>(new Signer(std::move(key), std::move(der), std::move(id)));
      });
}

absl::StatusOr<std::string> Signer::Sign(absl::string_view message) const {
  std::string sig(crypto_sign_BYTES, '\0');
  unsigned long long sig_len = 0;
  if (crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                           reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                           key_->secret) != 0 ||
      sig_len != crypto_sign_BYTES) {
    return absl::InternalError("Ed25519 signing failed");
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
