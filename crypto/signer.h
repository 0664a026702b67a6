#ifndef MIR_CRYPTO_SIGNER_H_
#define MIR_CRYPTO_SIGNER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/identity.h"
#include "mir/v1/envelope.pb.h"

namespace mir {

// Signs envelopes as one identity (an operator, a partner or a node) with its
// Ed25519 key. Thread-safe after construction; the key never leaves it.
class Signer {
 public:
  // Loads a PEM private key and its PEM certificate, and checks that they
  // belong together and that the certificate carries a mir:// identity.
  static absl::StatusOr<std::unique_ptr<Signer>> FromPemFiles(const std::string& key_path,
                                                              const std::string& cert_path);
  static absl::StatusOr<std::unique_ptr<Signer>> FromPem(absl::string_view key_pem,
                                                         absl::string_view cert_pem);
  // From a raw 32-byte Ed25519 seed (RFC 8032) and a DER certificate: for
  // test vectors.
  static absl::StatusOr<std::unique_ptr<Signer>> FromSeed(absl::string_view seed,
                                                          absl::string_view cert_der);

  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  const Identity& identity() const { return identity_; }
  const std::string& certificate_der() const { return cert_der_; }

  // 64-byte Ed25519 signature over `message`.
  absl::StatusOr<std::string> Sign(absl::string_view message) const;

  // Builds a signed Envelope: header.author is set to this identity, and
  // header.sender_node to this identity's node. Returns the serialized
  // Envelope, the bytes that are stored, sent and hashed.
  absl::StatusOr<std::string> SignEnvelope(v1::EnvelopeHeader header, absl::string_view body) const;

 private:
  struct Key;
  Signer(std::unique_ptr<Key> key, std::string cert_der, Identity identity);

  std::unique_ptr<Key> key_;
  std::string cert_der_;
  Identity identity_;
};

}  // namespace mir

#endif  // MIR_CRYPTO_SIGNER_H_
