#ifndef MIR_TESTS_TESTING_ENC_CERT_H_
#define MIR_TESTS_TESTING_ENC_CERT_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mir::testing {

// A fresh X25519 key and an encryption certificate for it, as
// certs/make-dev-pki.sh makes them (CN=<node>.enc, SAN mir://<node>/node,
// keyUsage critical keyAgreement, basicConstraints critical CA:FALSE), signed
// by the CA in `ca_cert_path`/`ca_key_path` (PEM), valid from `not_before`
// to `not_after`: certificates of chosen dates for rotation and expiry tests.
// Returns {key PEM (PKCS#8), certificate PEM}. Tests only.
absl::StatusOr<std::pair<std::string, std::string>> MakeEncryptionCertificateForTesting(
    const std::string& ca_cert_path, const std::string& ca_key_path, const std::string& node,
    absl::Time not_before, absl::Time not_after);

// The same with any part changed, to make the certificates a validator must
// refuse. Empty strings leave the extension out.
struct TestEncryptionCertificateSpec {
  std::string node;
  absl::Time not_before;
  absl::Time not_after;
  std::string subject_alt_name;  // e.g. "URI:mir://<node>/node"
  std::string key_usage = "critical,keyAgreement";
  std::string basic_constraints = "critical,CA:FALSE";
  const char* key_type = "X25519";  // an EVP_PKEY_Q_keygen name: "ED25519" for a signing key
};
absl::StatusOr<std::pair<std::string, std::string>> MakeEncryptionCertificateForTesting(
    const std::string& ca_cert_path, const std::string& ca_key_path,
    const TestEncryptionCertificateSpec& spec);

}  // namespace mir::testing

#endif  // MIR_TESTS_TESTING_ENC_CERT_H_
