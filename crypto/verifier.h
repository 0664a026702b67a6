#ifndef MIR_CRYPTO_VERIFIER_H_
#define MIR_CRYPTO_VERIFIER_H_

#include <memory>
#include <string>

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

// Verifies envelopes against the network CA. Thread-safe.
class Verifier {
 public:
  static absl::StatusOr<std::unique_ptr<Verifier>> FromCaPem(absl::string_view ca_pem,
                                                             const Clock* clock,
                                                             VerifierOptions options = {});
  static absl::StatusOr<std::unique_ptr<Verifier>> FromCaPemFile(const std::string& path,
                                                                 const Clock* clock,
                                                                 VerifierOptions options = {});
  ~Verifier();

  // Checks, in this order, each failure with its own ErrorReason
  // (PROTOCOL.md §6): size, envelope parse, algorithm, certificate parse and
  // chain to the CA, signature over SignedBytes(header, body), header parse
  // and required fields, certificate validity at created_at and at now, clock
  // skew, author == certificate identity and author's node == sender_node,
  // role allowed for the kind. The body is never parsed here.
  absl::StatusOr<VerifiedEnvelope> Verify(absl::string_view envelope_bytes) const;

  // Checks that a DER certificate chains to the CA and is valid at `at`;
  // returns its identity.
  absl::StatusOr<Identity> VerifyCertificate(absl::string_view der, absl::Time at) const;

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
