#include "tests/testing/enc_cert.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace mir::testing {
namespace {

template <auto kFree>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Free<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Free<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free<X509_EXTENSION_free>>;

absl::Status OpenSslError(absl::string_view what) {
  const unsigned long err = ERR_get_error();
  ERR_clear_error();
  char buf[256] = "no OpenSSL error";
  if (err != 0) ERR_error_string_n(err, buf, sizeof(buf));
  return absl::InternalError(absl::StrCat(what, ": ", buf));
}

absl::StatusOr<BioPtr> OpenFile(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  return bio;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> MakeEncryptionCertificateForTesting(
    const std::string& ca_cert_path, const std::string& ca_key_path, const std::string& node,
    absl::Time not_before, absl::Time not_after) {
  TestEncryptionCertificateSpec spec;
  spec.node = node;
  spec.not_before = not_before;
  spec.not_after = not_after;
  spec.subject_alt_name = absl::StrCat("URI:mir://", node, "/node");
  return MakeEncryptionCertificateForTesting(ca_cert_path, ca_key_path, spec);
}

absl::StatusOr<std::pair<std::string, std::string>> MakeEncryptionCertificateForTesting(
    const std::string& ca_cert_path, const std::string& ca_key_path,
    const TestEncryptionCertificateSpec& spec) {
  auto ca_bio = OpenFile(ca_cert_path);
  if (!ca_bio.ok()) return ca_bio.status();
  X509Ptr ca(PEM_read_bio_X509(ca_bio->get(), nullptr, nullptr, nullptr));
  if (!ca) return OpenSslError(absl::StrCat("not a PEM certificate: ", ca_cert_path));
  auto ca_key_bio = OpenFile(ca_key_path);
  if (!ca_key_bio.ok()) return ca_key_bio.status();
  PkeyPtr ca_key(PEM_read_bio_PrivateKey(ca_key_bio->get(), nullptr, nullptr, nullptr));
  if (!ca_key) return OpenSslError(absl::StrCat("not a PEM private key: ", ca_key_path));

  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, spec.key_type));
  if (!key) return OpenSslError(absl::StrCat(spec.key_type, " key generation"));

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return OpenSslError("X509_new");
  }
  // A random positive 127-bit serial, as openssl x509 -CA makes one.
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) return OpenSslError("RAND_bytes");
  serial_bytes[0] &= 0x7f;
  BnPtr serial(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslError("serial number");
  }
  const std::string cn = absl::StrCat(spec.node, ".enc");
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(spec.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(spec.not_after)) == nullptr ||
      X509_set_pubkey(cert.get(), key.get()) != 1) {
    return OpenSslError("certificate fields");
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, std::string> extensions[] = {
      {NID_basic_constraints, spec.basic_constraints}, {NID_key_usage, spec.key_usage},
      {NID_subject_alt_name, spec.subject_alt_name},   {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  for (const auto& [nid, value] : extensions) {
    if (value.empty()) continue;
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return OpenSslError(absl::StrCat("extension ", OBJ_nid2sn(nid)));
    }
  }
  // Ed25519 (the network CA's key) takes no separate digest.
  if (X509_sign(cert.get(), ca_key.get(), nullptr) <= 0) return OpenSslError("X509_sign");

  BioPtr key_pem(BIO_new(BIO_s_mem()));
  BioPtr cert_pem(BIO_new(BIO_s_mem()));
  if (!key_pem || !cert_pem ||
      PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509(cert_pem.get(), cert.get()) != 1) {
    return OpenSslError("PEM output");
  }
  return std::make_pair(BioContents(key_pem.get()), BioContents(cert_pem.get()));
}

}  // namespace mir::testing
