#ifndef MIR_CRYPTO_CONSOLE_LOGIN_H_
#define MIR_CRYPTO_CONSOLE_LOGIN_H_

// Console sign-in (PROTOCOL.md §13, docs/CONSOLE-API.md): a person signs a
// short statement with their own Ed25519 key in the browser; mir-console
// checks it at sign-in and relays it to the broker on every call, which
// checks it again and acts as the person. The console itself signs nothing.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/identity.h"
#include "crypto/verifier.h"
#include "mir/v1/console.pb.h"

namespace mir {

// The statement's first line and the signature's domain-separation tag.
inline constexpr absl::string_view kConsoleLoginTag = "MIR-EXCHANGE/v1/console-login";
// The gRPC binary metadata a console's call to its broker carries: a
// serialized v1::ConsoleLoginProof.
inline constexpr absl::string_view kConsoleLoginMetadata = "mir-console-login-bin";
// Longest statement accepted (bytes).
inline constexpr size_t kMaxConsoleLoginStatement = 1024;

struct ConsoleLoginStatement {
  std::string origin;     // the console's web origin, e.g. "https://127.0.0.1:7443"
  std::string node;       // the node signed in to
  std::string challenge;  // 43 chars: base64url, no padding, of 32 random bytes
  absl::Time issued_at;   // whole seconds
};

// The statement text, five lines each ending in "\n":
//   MIR-EXCHANGE/v1/console-login
//   origin: <origin>
//   node: <node>
//   challenge: <challenge>
//   issued_at: <RFC 3339 UTC, whole seconds, "Z">
// issued_at is truncated to the second.
std::string FormatConsoleLoginStatement(const ConsoleLoginStatement& s);

// Exactly that format back, nothing more (at most kMaxConsoleLoginStatement
// bytes). InvalidArgument with reason MALFORMED_BODY when the lines are not
// the five above, INVALID_FIELD when a value is not valid (origin: printable
// ASCII without spaces, at most 256; node: a node id; challenge: 43 chars of
// base64url; issued_at: as formatted).
absl::StatusOr<ConsoleLoginStatement> ParseConsoleLoginStatement(absl::string_view text);

// The bytes signed: kConsoleLoginTag || 0x00 || u64be(len(statement)) || statement
// (as PROTOCOL.md §3 does for envelopes; the tag keeps a sign-in signature
// from ever verifying as an envelope's, and the reverse).
std::string ConsoleLoginSignedBytes(absl::string_view statement);

struct ConsoleLoginCheck {
  std::string node;                            // this node: the statement's and the person's node
  absl::Time now;                              // certificate validity and the age window use it
  absl::Duration max_age;                      // issued_at no earlier than now - max_age
  absl::Duration max_skew = absl::Minutes(5);  // issued_at no later than now + max_skew
};

struct VerifiedConsoleLogin {
  Identity person;  // an operator or partner of check.node
  ConsoleLoginStatement statement;
};

// Checks, in this order, each refusal with its reason (common/errors.h):
//   - sizes, and the statement parses: INVALID_ARGUMENT MALFORMED_BODY / INVALID_FIELD;
//   - its node is check.node: PERMISSION_DENIED NOT_FOR_THIS_NODE;
//   - issued_at not after now + max_skew: INVALID_ARGUMENT CLOCK_SKEW; not
//     before now - max_age: UNAUTHENTICATED CONSOLE_PROOF;
//   - the certificate chains to a CA of `verifier`, is not revoked, is valid
//     at check.now and holds an Ed25519 key: the Verifier's reasons
//     (MALFORMED_CERTIFICATE, UNTRUSTED_CERTIFICATE, REVOKED,
//     CERTIFICATE_EXPIRED, CERTIFICATE_NOT_YET_VALID, UNSUPPORTED_ALGORITHM);
//   - its identity is an operator or partner of check.node: PERMISSION_DENIED
//     ROLE_NOT_ALLOWED;
//   - the signature over ConsoleLoginSignedBytes(statement) verifies:
//     UNAUTHENTICATED BAD_SIGNATURE.
absl::StatusOr<VerifiedConsoleLogin> VerifyConsoleLogin(const Verifier& verifier,
                                                        const v1::ConsoleLoginProof& proof,
                                                        const ConsoleLoginCheck& check);

}  // namespace mir

#endif  // MIR_CRYPTO_CONSOLE_LOGIN_H_
