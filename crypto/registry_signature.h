#ifndef MIR_CRYPTO_REGISTRY_SIGNATURE_H_
#define MIR_CRYPTO_REGISTRY_SIGNATURE_H_

// The network authority's signature on the node registry (PROTOCOL.md §12.2).
//
// The authority signs with an Ed25519 key whose certificate chains to the
// network CA and carries exactly one mir:// URI SAN of the form
//   mir://<authority>/registry
// That URI is deliberately not one of ParseIdentity's forms
// (crypto/identity.h): the authority's certificate is refused for TLS and for
// envelopes, and a node's, operator's or partner's certificate is refused
// here.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mir/v1/registry.pb.h"

namespace mir {

// "MIR-EXCHANGE/v1/registry" || 0x00 || u64be(len(registry)) || registry
std::string RegistrySignedBytes(absl::string_view registry);

// Signs `registry` (a serialized NodeRegistry, kept byte for byte) with the
// authority's PEM Ed25519 key; checks that `cert_pem` is its certificate and
// carries a mir://<authority>/registry URI. Does not check the chain.
absl::StatusOr<v1::SignedRegistry> SignRegistry(absl::string_view registry,
                                                absl::string_view key_pem,
                                                absl::string_view cert_pem);

// Checks, in this order, each failure with its own ErrorReason:
//   certificate parses                        MALFORMED_CERTIFICATE
//   chains to the CA, is not a CA             UNTRUSTED_CERTIFICATE
//   valid at `now` (and the CA too)           CERTIFICATE_NOT_YET_VALID / CERTIFICATE_EXPIRED
//   exactly one mir:// URI, .../registry      ROLE_NOT_ALLOWED (MALFORMED_CERTIFICATE if none)
//   key is Ed25519                            UNSUPPORTED_ALGORITHM
//   signature over RegistrySignedBytes        BAD_SIGNATURE
//   registry bytes parse                      MALFORMED_BODY
// Returns the parsed registry; its entries are not validated here
// (broker/registry.h does). Thread-safe.
absl::StatusOr<v1::NodeRegistry> VerifyRegistrySignature(const v1::SignedRegistry& signed_registry,
                                                         absl::string_view ca_pem, absl::Time now);

}  // namespace mir

#endif  // MIR_CRYPTO_REGISTRY_SIGNATURE_H_
