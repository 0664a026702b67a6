#include "crypto/console_login.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/openssl_util.h"
#include "crypto/sodium_util.h"

namespace mir {
namespace {

constexpr absl::string_view kTimeFormat = "%Y-%m-%dT%H:%M:%SZ";
constexpr size_t kMaxOrigin = 256;
constexpr size_t kChallengeChars = 43;  // base64url of 32 bytes, no padding
constexpr size_t kMaxCertificate = 16 * 1024;

absl::Status Malformed(absl::string_view why) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY,
                  absl::StrCat("console sign-in statement ", why));
}
absl::Status BadField(absl::string_view field, absl::string_view why) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                  absl::StrCat("console sign-in statement: ", field, " ", why));
}

bool IsBase64Url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}
int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  return c == '-' ? 62 : 63;
}

// One "key: value" line; the value as is (no trimming: exact format only).
absl::StatusOr<absl::string_view> Field(absl::string_view line, absl::string_view key) {
  const std::string prefix = absl::StrCat(key, ": ");
  if (!absl::StartsWith(line, prefix)) {
    return Malformed(absl::StrCat("needs a line \"", key, ": ...\" here"));
  }
  return line.substr(prefix.size());
}

void AppendU64Be(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

}  // namespace

std::string FormatConsoleLoginStatement(const ConsoleLoginStatement& s) {
  return absl::StrCat(
      kConsoleLoginTag, "\norigin: ", s.origin, "\nnode: ", s.node, "\nchallenge: ", s.challenge,
      "\nissued_at: ", absl::FormatTime(kTimeFormat, s.issued_at, absl::UTCTimeZone()), "\n");
}

absl::StatusOr<ConsoleLoginStatement> ParseConsoleLoginStatement(absl::string_view text) {
  if (text.size() > kMaxConsoleLoginStatement) {
    return Malformed(absl::StrCat("exceeds ", kMaxConsoleLoginStatement, " bytes"));
  }
  if (!absl::EndsWith(text, "\n")) return Malformed("must end with a newline");
  std::vector<absl::string_view> lines = absl::StrSplit(text.substr(0, text.size() - 1), '\n');
  if (lines.size() != 5) return Malformed("must have exactly five lines");
  if (lines[0] != kConsoleLoginTag) {
    return Malformed(absl::StrCat("must start with the line ", kConsoleLoginTag));
  }
  ConsoleLoginStatement s;
  ASSIGN_OR_RETURN(absl::string_view origin, Field(lines[1], "origin"));
  ASSIGN_OR_RETURN(absl::string_view node, Field(lines[2], "node"));
  ASSIGN_OR_RETURN(absl::string_view challenge, Field(lines[3], "challenge"));
  ASSIGN_OR_RETURN(absl::string_view issued_at, Field(lines[4], "issued_at"));

  if (origin.empty() || origin.size() > kMaxOrigin) {
    return BadField("origin", "must be 1 to 256 characters");
  }
  for (char c : origin) {
    if (c <= 0x20 || c >= 0x7f) return BadField("origin", "must be printable ASCII, no spaces");
  }
  if (!IsValidNodeId(node)) return BadField("node", "is not a node id");
  if (challenge.size() != kChallengeChars) {
    return BadField("challenge", "must be 43 characters of base64url");
  }
  for (char c : challenge) {
    if (!IsBase64Url(c)) return BadField("challenge", "must be base64url without padding");
  }
  // 32 bytes fill 256 of the 258 bits: a canonical encoding's last two are 0.
  if ((Base64UrlValue(challenge.back()) & 3) != 0) {
    return BadField("challenge", "is not a canonical base64url encoding of 32 bytes");
  }
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(kTimeFormat, issued_at, absl::UTCTimeZone(), &t, &err) ||
      absl::FormatTime(kTimeFormat, t, absl::UTCTimeZone()) != issued_at) {
    return BadField("issued_at",
                    "must be RFC 3339 UTC in whole seconds, e.g. 2026-12-05T01:00:00Z");
  }
  s.origin = std::string(origin);
  s.node = std::string(node);
  s.challenge = std::string(challenge);
  s.issued_at = t;
  return s;
}

std::string ConsoleLoginSignedBytes(absl::string_view statement) {
  std::string out;
  out.reserve(kConsoleLoginTag.size() + 1 + 8 + statement.size());
  out.append(kConsoleLoginTag.data(), kConsoleLoginTag.size());
  out.push_back('\0');
  AppendU64Be(out, statement.size());
  out.append(statement.data(), statement.size());
  return out;
}

absl::StatusOr<VerifiedConsoleLogin> VerifyConsoleLogin(const Verifier& verifier,
                                                        const v1::ConsoleLoginProof& proof,
                                                        const ConsoleLoginCheck& check) {
  if (proof.certificate().empty() || proof.certificate().size() > kMaxCertificate) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_CERTIFICATE,
                    "console sign-in proof: the certificate is empty or too large");
  }
  ASSIGN_OR_RETURN(ConsoleLoginStatement statement, ParseConsoleLoginStatement(proof.statement()));
  if (statement.node != check.node) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::NOT_FOR_THIS_NODE,
                    absl::StrCat("console sign-in statement is for node ", statement.node, ", not ",
                                 check.node));
  }
  if (statement.issued_at > check.now + check.max_skew) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::CLOCK_SKEW,
                    "console sign-in statement is issued beyond the allowed clock skew");
  }
  if (statement.issued_at < check.now - check.max_age) {
    return MirError(absl::StatusCode::kUnauthenticated, v1::CONSOLE_PROOF,
                    "console sign-in is older than the session's longest life: sign in again");
  }
  ASSIGN_OR_RETURN(Identity person, verifier.VerifyCertificate(proof.certificate(), check.now));
  if ((person.role != Role::kOperator && person.role != Role::kPartner) ||
      person.node != check.node) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED,
                    absl::StrCat(person.Uri(), " may not sign in to the console of ", check.node,
                                 ": only its operators and partners"));
  }
  // The Verifier checked the chain and that the key is Ed25519; read it here.
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  ASSIGN_OR_RETURN(auto cert, crypto_internal::ParseCertificateDer(proof.certificate()));
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> key{};
  size_t key_len = key.size();
  EVP_PKEY* pkey = X509_get0_pubkey(cert.get());
  if (pkey == nullptr || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519 ||
      EVP_PKEY_get_raw_public_key(pkey, key.data(), &key_len) != 1 || key_len != key.size()) {
    ERR_clear_error();
    return MirError(absl::StatusCode::kUnauthenticated, v1::UNSUPPORTED_ALGORITHM,
                    "the signer's key is not Ed25519");
  }
  const std::string signed_bytes = ConsoleLoginSignedBytes(proof.statement());
  // libsodium also refuses a non-canonical S and small-order points.
  if (proof.signature().size() != crypto_sign_BYTES ||
      crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(proof.signature().data()),
                                  reinterpret_cast<const unsigned char*>(signed_bytes.data()),
                                  signed_bytes.size(), key.data()) != 0) {
    return MirError(absl::StatusCode::kUnauthenticated, v1::BAD_SIGNATURE,
                    "console sign-in signature does not verify");
  }
  return VerifiedConsoleLogin{std::move(person), std::move(statement)};
}

}  // namespace mir
