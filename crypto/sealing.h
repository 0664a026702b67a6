#ifndef MIR_CRYPTO_SEALING_H_
#define MIR_CRYPTO_SEALING_H_

// Sealed fields (PROTOCOL.md §11): a fresh key per referral seals its
// special-category fields (XChaCha20-Poly1305); the key travels wrapped to
// the destination node's X25519 encryption key (crypto_box_seal) and rests
// wrapped under the node's key-encryption key. libsodium does the work.
//
// Every function here is thread-safe: none keeps state between calls, and
// the classes are immutable once made (their const methods may be called
// from any number of threads at once). No error message ever carries key
// bytes or plaintext.

#include <cstddef>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mir/v1/referral.pb.h"

namespace mir {

inline constexpr size_t kReferralKeyBytes = 32;
inline constexpr size_t kSealNonceBytes = 24;
inline constexpr size_t kKeyIdBytes = 16;

// Secret bytes, wiped (sodium_memzero) when destroyed, when assigned over and
// when moved from. Move-only: the only copies are those made through bytes().
class SecretKey {
 public:
  SecretKey() = default;
  explicit SecretKey(std::string bytes) : bytes_(std::move(bytes)) {}
  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey();

  const std::string& bytes() const { return bytes_; }
  bool empty() const { return bytes_.empty(); }

 private:
  void Wipe();
  std::string bytes_;
};

// A fresh random referral key (32 bytes). Aborts the process if libsodium
// cannot start: without its random generator no key is safe to issue.
SecretKey NewReferralKey();

// A referral key's id: 16 bytes of keyed BLAKE2b over the key. A key
// release whose key does not hash to the id it claims is refused.
std::string ReferralKeyId(const SecretKey& key);

// What a sealed part is for; part of the associated data, so a ciphertext
// cannot be moved from one purpose or referral to another.
inline constexpr absl::string_view kSealedReferralPurpose = "referral";
inline constexpr absl::string_view kSealedStatusTextPurpose = "status-text";

// Seals `plaintext` under `key` for `referral_id`. `nonce` must be 24 bytes
// (random: see RandomNonce; fixed only in test vectors). XChaCha20-Poly1305
// (IETF) with associated data
//   "mir-exchange/v1 sealed" || 0x00 || purpose || 0x00 || referral_id || 0x00 || key_id
// where key_id = ReferralKeyId(key), 16 raw bytes. InvalidArgument (no
// reason) if the key is not 32 bytes, the nonce not 24, or `purpose` or
// `referral_id` holds a NUL byte (it would make the associated data ambiguous).
absl::StatusOr<v1::Sealed> Seal(const SecretKey& key, absl::string_view purpose,
                                absl::string_view referral_id, absl::string_view plaintext,
                                absl::string_view nonce);
// 24 random bytes. Aborts like NewReferralKey if libsodium cannot start.
std::string RandomNonce();

// Opens a sealed part. Checks, in order:
//   1. sealed.key_id is ReferralKeyId(key)    else UNKNOWN_KEY (FailedPrecondition)
//   2. sealed.nonce is 24 bytes               else SEALED_TAMPERED (InvalidArgument)
//   3. it authenticates under `key` for this
//      purpose and referral                   else SEALED_TAMPERED (InvalidArgument)
// An altered key_id is therefore UNKNOWN_KEY: the id names the key to use,
// and no key this caller holds has that id.
absl::StatusOr<std::string> Open(const SecretKey& key, absl::string_view purpose,
                                 absl::string_view referral_id, const v1::Sealed& sealed);

// A node's X25519 encryption key pair, read from PEM (OpenSSL) as raw bytes.
// InvalidArgument "not an X25519 key" for any other kind of key; NotFound if
// the file cannot be read. Move-only (it holds the secret key).
class EncryptionKeyPair {
 public:
  static absl::StatusOr<EncryptionKeyPair> FromPemFile(const std::string& path);
  static absl::StatusOr<EncryptionKeyPair> FromPem(absl::string_view pem);
  const std::string& public_key() const { return public_key_; }  // 32 bytes
  const std::string& key_id() const { return key_id_; }          // EncryptionKeyId(public_key)
  const SecretKey& secret_key() const { return secret_; }

 private:
  std::string public_key_;
  std::string key_id_;
  SecretKey secret_;
};

// 16 bytes of SHA-256 over a raw X25519 public key.
std::string EncryptionKeyId(absl::string_view public_key);

// A node's encryption certificate: an X.509 certificate whose subject key is
// X25519, with keyUsage keyAgreement and SAN mir://<node>/node, signed by
// the network CA. Parse checks all of that (the CA given as PEM) and the
// validity at `now`. Checks, in order:
//   1. cert_pem is a PEM certificate            else MALFORMED_CERTIFICATE
//      (ca_pem not a PEM certificate: InvalidArgument, no reason)
//   2. its issuer name is the CA's subject and
//      the CA's key verifies its signature       else UNTRUSTED_CERTIFICATE
//   3. it is not itself a CA (CA:TRUE or
//      keyCertSign)                              else UNTRUSTED_CERTIFICATE
//   4. its subject key is X25519                 else UNSUPPORTED_ALGORITHM
//   5. keyUsage is present with keyAgreement     else MALFORMED_CERTIFICATE
//   6. exactly one mir:// SAN, of a known role   else MALFORMED_CERTIFICATE /
//                                                     ROLE_NOT_ALLOWED
//      and that role is node                     else ROLE_NOT_ALLOWED
//   7. valid at `now`                            else CERTIFICATE_NOT_YET_VALID /
//                                                     CERTIFICATE_EXPIRED
// Codes are Unauthenticated, except PermissionDenied for ROLE_NOT_ALLOWED
// (as Verifier). not_before/not_after are the certificate's narrowed to the
// CA's own validity, as Verifier narrows them: the window it is usable in.
struct EncryptionCertificate {
  std::string node;
  std::string public_key;  // 32 bytes
  std::string key_id;      // EncryptionKeyId(public_key)
  absl::Time not_before;
  absl::Time not_after;
};
absl::StatusOr<EncryptionCertificate> ParseEncryptionCertificate(absl::string_view cert_pem,
                                                                 absl::string_view ca_pem,
                                                                 absl::Time now);

// Wraps `key` to a recipient's X25519 public key (crypto_box_seal): only the
// recipient's private key unwraps it. 80 bytes (32 + crypto_box_SEALBYTES);
// randomized (a fresh ephemeral key each time). InvalidArgument if the key
// is not 32 bytes or the public key not 32 bytes.
absl::StatusOr<std::string> WrapToRecipient(const SecretKey& key, absl::string_view public_key);
// SEALED_TAMPERED (InvalidArgument) if `wrapped` does not open with `pair`
// (altered, or wrapped to another key) or does not hold a 32-byte key.
absl::StatusOr<SecretKey> UnwrapWithKeyPair(absl::string_view wrapped,
                                            const EncryptionKeyPair& pair);

// The node's key-encryption key (KEK): 32 random bytes, hex in a file of
// mode 0600 (a group- or world-readable file is refused).
//
// FromFile: the file holds exactly 64 hex digits, optionally followed by one
// newline. FailedPrecondition "... must be mode 0600" if group or others have
// any permission on it; NotFound if it is missing; InvalidArgument naming the
// path (never the content) if it holds anything else. FromBytes:
// InvalidArgument unless 32 bytes. Move-only.
class KeyEncryptionKey {
 public:
  static absl::StatusOr<KeyEncryptionKey> FromFile(const std::string& path);
  static absl::StatusOr<KeyEncryptionKey> FromBytes(std::string bytes);
  // 8 bytes of keyed BLAKE2b over the key, hex: names it in stored rows.
  const std::string& id() const { return id_; }

  // Wraps a referral key at rest, bound to `referral_id`: a random 24-byte
  // nonce || XChaCha20-Poly1305(kek, associated data
  // "mir-exchange/v1 at rest" || 0x00 || referral_id). InvalidArgument (no
  // reason) if the key is not 32 bytes or referral_id holds a NUL byte.
  absl::StatusOr<std::string> Wrap(absl::string_view referral_id, const SecretKey& key) const;
  // SEALED_TAMPERED if `wrapped` does not open for `referral_id`.
  absl::StatusOr<SecretKey> Unwrap(absl::string_view referral_id, absl::string_view wrapped) const;

 private:
  SecretKey key_;
  std::string id_;
};

// Writes a fresh KEK file (64 hex digits and a newline, mode 0600 whatever
// the umask), durable (file and folder synced) when it returns OK.
// AlreadyExists if `path` exists: a KEK is never replaced, the keys wrapped
// under it would be lost.
absl::Status WriteNewKeyEncryptionKey(const std::string& path);

}  // namespace mir

#endif  // MIR_CRYPTO_SEALING_H_
