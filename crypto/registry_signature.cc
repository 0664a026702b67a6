#include "crypto/registry_signature.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/identity.h"
#include "crypto/openssl_util.h"

namespace mir {
namespace {

using crypto_internal::BioPtr;
using crypto_internal::MdCtxPtr;
using crypto_internal::PkeyPtr;
using crypto_internal::X509Ptr;

constexpr absl::string_view kTag = "MIR-EXCHANGE/v1/registry";

absl::Status Refuse(v1::ErrorReason reason, absl::string_view message) {
  return MirError(absl::StatusCode::kUnauthenticated, reason,
                  absl::StrCat("node registry: ", message));
}

// The single mir:// URI SAN of `cert`, or an error.
absl::StatusOr<std::string> MirUri(X509* cert) {
  using GeneralNamesPtr =
      std::unique_ptr<GENERAL_NAMES, crypto_internal::OpenSslDeleter<GENERAL_NAMES_free>>;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  std::vector<std::string> uris;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
    absl::string_view value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                            static_cast<size_t>(ASN1_STRING_length(s)));
    if (absl::StartsWith(value, "mir://")) uris.emplace_back(value);
  }
  if (uris.size() != 1) {
    return Refuse(v1::MALFORMED_CERTIFICATE,
                  "the authority certificate must carry exactly one mir:// URI");
  }
  return uris.front();
}

// OK if `uri` is mir://<authority>/registry.
absl::Status CheckAuthorityUri(absl::string_view uri) {
  std::vector<absl::string_view> parts = absl::StrSplit(uri.substr(6), '/');
  if (parts.size() != 2 || !IsValidNodeId(parts[0]) || parts[1] != "registry") {
    return MirError(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED,
                    absl::StrCat("node registry: signed by ", uri,
                                 ", not by a mir://<authority>/registry certificate"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string RegistrySignedBytes(absl::string_view registry) {
  std::string out(kTag);
  out.push_back('\0');
  const uint64_t n = registry.size();
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(registry.data(), registry.size());
  return out;
}

absl::StatusOr<v1::SignedRegistry> SignRegistry(absl::string_view registry,
                                                absl::string_view key_pem,
                                                absl::string_view cert_pem) {
  ASSIGN_OR_RETURN(X509Ptr cert, crypto_internal::ParseCertificatePem(cert_pem));
  ASSIGN_OR_RETURN(std::string uri, MirUri(cert.get()));
  RETURN_IF_ERROR(CheckAuthorityUri(uri));
  BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the authority key is not a PEM Ed25519 private key");
  }
  if (EVP_PKEY_eq(key.get(), X509_get0_pubkey(cert.get())) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the authority key does not belong to its certificate");
  }
  const std::string message = RegistrySignedBytes(registry);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string signature(64, '\0');
  size_t length = signature.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1 ||
      length != 64) {
    return absl::InternalError(
        absl::StrCat("cannot sign the registry: ", crypto_internal::OpenSslErrorText()));
  }
  v1::SignedRegistry out;
  out.set_registry(std::string(registry));
  out.set_signature(signature);
  out.set_certificate(crypto_internal::CertificateToDer(cert.get()));
  return out;
}

absl::StatusOr<v1::NodeRegistry> VerifyRegistrySignature(const v1::SignedRegistry& signed_registry,
                                                         absl::string_view ca_pem, absl::Time now) {
  ASSIGN_OR_RETURN(X509Ptr ca, crypto_internal::ParseCertificatePem(ca_pem));
  auto leaf = crypto_internal::ParseCertificateDer(signed_registry.certificate());
  if (!leaf.ok()) return Refuse(v1::MALFORMED_CERTIFICATE, "the certificate does not parse");

  crypto_internal::X509StorePtr store(X509_STORE_new());
  crypto_internal::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf->get(), nullptr) != 1) {
    ERR_clear_error();
    return absl::InternalError("cannot set up certificate verification");
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);  // checked below against `now`
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Refuse(v1::UNTRUSTED_CERTIFICATE,
                  absl::StrCat("the certificate does not chain to the network CA (",
                               X509_verify_cert_error_string(err), ")"));
  }
  if (X509_check_ca(leaf->get()) != 0) {
    return Refuse(v1::UNTRUSTED_CERTIFICATE, "a CA certificate may not sign the registry");
  }
  for (X509* cert : {leaf->get(), ca.get()}) {
    ASSIGN_OR_RETURN(absl::Time nb, crypto_internal::Asn1TimeToAbsl(X509_get0_notBefore(cert)));
    ASSIGN_OR_RETURN(absl::Time na, crypto_internal::Asn1TimeToAbsl(X509_get0_notAfter(cert)));
    if (now < nb) return Refuse(v1::CERTIFICATE_NOT_YET_VALID, "the certificate is not yet valid");
    if (now > na) return Refuse(v1::CERTIFICATE_EXPIRED, "the certificate has expired");
  }
  ASSIGN_OR_RETURN(std::string uri, MirUri(leaf->get()));
  RETURN_IF_ERROR(CheckAuthorityUri(uri));
  EVP_PKEY* key = X509_get0_pubkey(leaf->get());
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
    ERR_clear_error();
    return Refuse(v1::UNSUPPORTED_ALGORITHM, "the authority key is not Ed25519");
  }
  const std::string message = RegistrySignedBytes(signed_registry.registry());
  MdCtxPtr md(EVP_MD_CTX_new());
  const std::string& sig = signed_registry.signature();
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, nullptr, nullptr, key) != 1 ||
      EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) != 1) {
    ERR_clear_error();
    return Refuse(v1::BAD_SIGNATURE, "the signature does not verify");
  }
  v1::NodeRegistry registry;
  if (!registry.ParseFromString(signed_registry.registry())) {
    return Refuse(v1::MALFORMED_BODY, "the signed bytes are not a NodeRegistry");
  }
  return registry;
}

}  // namespace mir
