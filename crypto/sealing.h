#ifndef MIR_CRYPTO_SEALING_H_
#define MIR_CRYPTO_SEALING_H_

// Sealed fields (PROTOCOL.md §11): a fresh key per referral seals its
// special-category fields (XChaCha20-Poly1305); the key travels wrapped to
// the destination node's X25519 encryption key (crypto_box_seal) and rests
// wrapped under the node's key-encryption key. libsodium does the work.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mir/v1/referral.pb.h"

namespace mir {

inline constexpr size_t kReferralKeyBytes = 32;
inline constexpr size_t kSealNonceBytes = 24;
inline constexpr size_t kKeyIdBytes = 16;

// Secret bytes, wiped when destroyed. Move-only.
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

// A fresh random referral key.
SecretKey NewReferralKey();

// A referral key's id: 16 bytes of keyed BLAKE2b over the key. A key
// release whose key does not hash to the id it claims is refused.
std::string ReferralKeyId(const SecretKey& key);

// What a sealed part is for; part of the associated data, so a ciphertext
// cannot be moved from one purpose or referral to another.
inline constexpr absl::string_view kSealedReferralPurpose = "referral";
inline constexpr absl::string_view kSealedStatusTextPurpose = "status-text";

// Seals `plaintext` under `key` for `referral_id`. `nonce` must be 24 bytes
// (random: see RandomNonce; fixed only in test vectors).
absl::StatusOr<v1::Sealed> Seal(const SecretKey& key, absl::string_view purpose,
                                absl::string_view referral_id, absl::string_view plaintext,
                                absl::string_view nonce);
std::string RandomNonce();

// Opens a sealed part. SEALED_TAMPERED (InvalidArgument) if it does not
// authenticate under `key` for this purpose and referral; UNKNOWN_KEY
// (FailedPrecondition) if its key_id is not `key`'s.
absl::StatusOr<std::string> Open(const SecretKey& key, absl::string_view purpose,
                                 absl::string_view referral_id, const v1::Sealed& sealed);

// A node's X25519 encryption key pair, read from PEM (OpenSSL) as raw bytes.
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
// validity at `now`.
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
// recipient's private key unwraps it.
absl::StatusOr<std::string> WrapToRecipient(const SecretKey& key, absl::string_view public_key);
// SEALED_TAMPERED if `wrapped` does not open with `pair`.
absl::StatusOr<SecretKey> UnwrapWithKeyPair(absl::string_view wrapped,
                                            const EncryptionKeyPair& pair);

// The node's key-encryption key (KEK): 32 random bytes, hex in a file of
// mode 0600 (a group- or world-readable file is refused).
class KeyEncryptionKey {
 public:
  static absl::StatusOr<KeyEncryptionKey> FromFile(const std::string& path);
  static absl::StatusOr<KeyEncryptionKey> FromBytes(std::string bytes);
  // 8 bytes of keyed BLAKE2b over the key, hex: names it in stored rows.
  const std::string& id() const { return id_; }

  // Wraps a referral key at rest, bound to `referral_id`: nonce || ciphertext.
  absl::StatusOr<std::string> Wrap(absl::string_view referral_id, const SecretKey& key) const;
  // SEALED_TAMPERED if `wrapped` does not open for `referral_id`.
  absl::StatusOr<SecretKey> Unwrap(absl::string_view referral_id, absl::string_view wrapped) const;

 private:
  SecretKey key_;
  std::string id_;
};

// Writes a fresh KEK file (hex, mode 0600); refuses to overwrite one.
absl::Status WriteNewKeyEncryptionKey(const std::string& path);

}  // namespace mir

#endif  // MIR_CRYPTO_SEALING_H_
