#ifndef MIR_CRYPTO_VERIFIER_H_
#define MIR_CRYPTO_VERIFIER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "crypto/identity.h"
#include "mir/v1/envelope.pb.h"

namespace mir {

struct VerifierOptions {
  // How far an envelope's created_at may lie ahead of our clock. Too small
  // refuses honest nodes whose clocks drift; too large widens replay windows.
  absl::Duration max_clock_skew = absl::Minutes(5);
  // Envelopes larger than this are refused before any parsing.
  size_t max_envelope_bytes = 1 << 20;
  // Certificates that chained to the CA are remembered by SHA-256 of their
  // DER, so a burst from one author costs one chain check. Validity times are
  // still checked for every envelope.
  size_t certificate_cache_entries = 4096;
};

// An envelope whose signature, certificate, identity and role all checked out.
struct VerifiedEnvelope {
  v1::EnvelopeHeader header;
  std::string body;  // the payload bytes exactly as signed, not yet parsed
  Identity author;
  std::string envelope_sha256;  // SHA-256 of the exact envelope bytes verified
};

// What a Verifier trusts, as PEM text: one or more CA certificates (during a
// CA rotation the old and the new side by side, both trusted) and the CAs'
// certificate revocation lists, each of which must be signed by a CA of the
// bundle.
struct TrustMaterial {
  std::string ca_pem;
  std::vector<std::string> crl_pems;
};

// Reads the CA bundle and CRL files named in a node's configuration.
absl::StatusOr<TrustMaterial> ReadTrustMaterial(const std::string& ca_path,
                                                const std::vector<std::string>& crl_paths);

// A certificate or CRL of the trust material, for expiry warnings and metrics.
struct TrustItem {
  std::string subject;  // the CA's subject, or a CRL's issuer (one line)
  absl::Time until;     // a CA's notAfter, a CRL's nextUpdate (InfiniteFuture if none)
};

// Verifies envelopes against the network CA(s) and their revocation lists.
// Thread-safe. The trust material can be swapped while envelopes are being
// verified (Reload): each check runs wholly against the material that was
// current when it started, old or new, never a mix.
class Verifier {
 public:
  static absl::StatusOr<std::unique_ptr<Verifier>> FromCaPem(absl::string_view ca_pem,
                                                             const Clock* clock,
                                                             VerifierOptions options = {});
  static absl::StatusOr<std::unique_ptr<Verifier>> FromCaPemFile(const std::string& path,
                                                                 const Clock* clock,
                                                                 VerifierOptions options = {});
  static absl::StatusOr<std::unique_ptr<Verifier>> FromTrust(const TrustMaterial& material,
                                                             const Clock* clock,
                                                             VerifierOptions options = {});
  ~Verifier();

  // Checks `material` completely (every CA parses; every CRL parses and is
  // signed by a CA of the bundle) and only then makes it current, atomically;
  // on any error nothing changes and the error says what is wrong. The
  // certificate cache starts empty, so a newly revoked certificate is refused
  // from the next check on. A CRL whose nextUpdate has passed still revokes
  // what it lists and is otherwise ignored (fail open: a late CRL
  // publication must not stop the network; the broker logs it as stale,
  // docs/OPERATIONS.md).
  absl::Status Reload(const TrustMaterial& material);

  // The current CAs (subject, notAfter) and CRLs (issuer, nextUpdate).
  std::vector<TrustItem> Authorities() const;
  std::vector<TrustItem> RevocationLists() const;

  // Checks, in this order, each failure with its own ErrorReason
  // (PROTOCOL.md §6): size, envelope parse, algorithm, certificate parse and
  // chain to a CA of the bundle, not revoked by that CA's CRL, signature
  // over SignedBytes(header, body), header parse and required fields,
  // certificate validity at created_at and at now, clock
  // skew, author == certificate identity and author's node == sender_node,
  // role allowed for the kind. The body is never parsed here.
  absl::StatusOr<VerifiedEnvelope> Verify(absl::string_view envelope_bytes) const;

  // Checks that a DER certificate chains to a CA, is not revoked (REVOKED)
  // and is valid at `at`; returns its identity.
  absl::StatusOr<Identity> VerifyCertificate(absl::string_view der, absl::Time at) const;
  // Only the chain to a CA and the revocation check (UNTRUSTED_CERTIFICATE,
  // REVOKED), for a PEM certificate of any key type or identity: what the
  // TLS handshake asks on top of gRPC's own checks, against the material
  // current now.
  absl::Status CheckChainPem(absl::string_view pem) const;
  // The same for a PEM certificate (the TLS peer's, as gRPC gives it).
  absl::StatusOr<Identity> VerifyCertificatePem(absl::string_view pem, absl::Time at) const;

  const Clock* clock() const { return clock_; }

 private:
  struct Impl;
  Verifier(std::unique_ptr<Impl> impl, const Clock* clock, VerifierOptions options);

  std::unique_ptr<Impl> impl_;
  const Clock* clock_;
  VerifierOptions options_;
};

}  // namespace mir

#endif  // MIR_CRYPTO_VERIFIER_H_
