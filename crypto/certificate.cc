#include "crypto/certificate.h"

#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "common/errors.h"
#include "crypto/openssl_util.h"

namespace mir {

absl::StatusOr<Identity> CertificateIdentity(X509* cert) {
  using GeneralNamesPtr =
      std::unique_ptr<GENERAL_NAMES, crypto_internal::OpenSslDeleter<GENERAL_NAMES_free>>;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  std::string uri;
  int found = 0;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
    absl::string_view value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                            static_cast<size_t>(ASN1_STRING_length(s)));
    if (!absl::StartsWith(value, "mir://")) continue;
    uri = std::string(value);
    ++found;
  }
  if (found != 1) {
    return MirError(absl::StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE,
                    "certificate must carry exactly one mir:// URI in subjectAltName");
  }
  auto identity = ParseIdentity(uri);
  if (!identity.ok()) {
    const v1::ErrorReason reason = ReasonOf(identity.status());
    return MirError(reason == v1::ROLE_NOT_ALLOWED ? absl::StatusCode::kPermissionDenied
                                                   : absl::StatusCode::kUnauthenticated,
                    reason, identity.status().message());
  }
  return identity;
}

}  // namespace mir
