#ifndef MIR_CRYPTO_CERTIFICATE_H_
#define MIR_CRYPTO_CERTIFICATE_H_

#include <openssl/x509.h>

#include "absl/status/statusor.h"
#include "crypto/identity.h"

namespace mir {

// The mir:// identity in `cert`'s subjectAltName. Exactly one mir:// URI SAN
// is required; its absence or a second one is MALFORMED_CERTIFICATE, an
// unknown role is ROLE_NOT_ALLOWED.
absl::StatusOr<Identity> CertificateIdentity(X509* cert);

}  // namespace mir

#endif  // MIR_CRYPTO_CERTIFICATE_H_
