#ifndef MIR_CRYPTO_OPENSSL_UTIL_H_
#define MIR_CRYPTO_OPENSSL_UTIL_H_

// RAII owners for the OpenSSL handles we use, and small conversions.
// Internal to crypto/.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mir::crypto_internal {

template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpenSslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpenSslDeleter<X509_STORE_CTX_free>>;

// The last OpenSSL error as text (and clears the queue). Never secret.
std::string OpenSslErrorText();

absl::StatusOr<X509Ptr> ParseCertificatePem(absl::string_view pem);
// Every certificate of a PEM bundle, in order; InvalidArgument if none.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificateBundlePem(absl::string_view pem);
absl::StatusOr<X509Ptr> ParseCertificateDer(absl::string_view der);
std::string CertificateToDer(X509* cert);
absl::StatusOr<absl::Time> Asn1TimeToAbsl(const ASN1_TIME* t);

}  // namespace mir::crypto_internal

#endif  // MIR_CRYPTO_OPENSSL_UTIL_H_
