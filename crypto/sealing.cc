#include "crypto/sealing.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "crypto/certificate.h"
#include "crypto/envelope_bytes.h"
#include "crypto/openssl_util.h"
#include "crypto/sodium_util.h"

namespace mir {

using crypto_internal::OpenSslErrorText;
using crypto_internal::PkeyPtr;
using crypto_internal::X509Ptr;

static_assert(kReferralKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kSealNonceBytes == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kReferralKeyBytes == crypto_box_SECRETKEYBYTES);

namespace {

// Domain-separation strings (PROTOCOL.md §11): each hash and each AEAD use
// its own, so no value made for one purpose is accepted for another.
constexpr absl::string_view kSealedContext = "mir-exchange/v1 sealed";
constexpr absl::string_view kAtRestContext = "mir-exchange/v1 at rest";
constexpr absl::string_view kKeyIdHashKey = "mir-exchange/v1 key id";
constexpr absl::string_view kKekIdHashKey = "mir-exchange/v1 kek id";
constexpr size_t kKekIdBytes = 8;
constexpr size_t kKekHexDigits = 2 * kReferralKeyBytes;
constexpr size_t kX25519Bytes = crypto_box_PUBLICKEYBYTES;

const unsigned char* U8(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U8(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

absl::Status Tampered(absl::string_view message) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::SEALED_TAMPERED, message);
}

// A random generator that cannot start leaves nothing safe to return, and
// these two functions have no status to return it in.
void EnsureSodiumOrDie() {
  if (!crypto_internal::EnsureSodium().ok()) std::abort();
}

// Keyed BLAKE2b of `in` with `outlen` bytes of output. libsodium documents
// 16 as the minimum output length, but the one-shot function computes any
// length from 1 to 64 as RFC 7693 defines it (the KEK id uses 8).
std::string KeyedBlake2b(absl::string_view in, absl::string_view key, size_t outlen) {
  std::string out(outlen, '\0');
  if (crypto_generichash(U8(out), out.size(), U8(in), in.size(), U8(key), key.size()) != 0) {
    std::abort();  // only for lengths outside the limits, which are constants here
  }
  return out;
}

// A NUL inside a field would let two different (purpose, referral) pairs
// give the same associated data.
absl::Status CheckNoNul(absl::string_view what, absl::string_view value) {
  if (absl::StrContains(value, '\0')) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must not contain a NUL byte"));
  }
  return absl::OkStatus();
}

std::string SealedAssociatedData(absl::string_view purpose, absl::string_view referral_id,
                                 absl::string_view key_id) {
  return absl::StrCat(kSealedContext, absl::string_view("\0", 1), purpose,
                      absl::string_view("\0", 1), referral_id, absl::string_view("\0", 1), key_id);
}

std::string AtRestAssociatedData(absl::string_view referral_id) {
  return absl::StrCat(kAtRestContext, absl::string_view("\0", 1), referral_id);
}

// XChaCha20-Poly1305 (IETF): ciphertext || 16-byte tag.
std::string AeadEncrypt(const std::string& key, absl::string_view nonce,
                        absl::string_view plaintext, absl::string_view aad) {
  std::string out(plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  unsigned long long out_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(U8(out), &out_len, U8(plaintext), plaintext.size(),
                                             U8(aad), aad.size(), nullptr, U8(nonce), U8(key));
  out.resize(out_len);
  return out;
}

// False if `ciphertext` does not authenticate; `plaintext` is then empty.
bool AeadDecrypt(const std::string& key, absl::string_view nonce, absl::string_view ciphertext,
                 absl::string_view aad, std::string& plaintext) {
  plaintext.clear();
  if (ciphertext.size() < crypto_aead_xchacha20poly1305_ietf_ABYTES) return false;
  plaintext.resize(ciphertext.size() - crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(U8(plaintext), &len, nullptr, U8(ciphertext),
                                                 ciphertext.size(), U8(aad), aad.size(), U8(nonce),
                                                 U8(key)) != 0) {
    plaintext.clear();
    return false;
  }
  plaintext.resize(len);
  return true;
}

absl::Status CheckKeySize(const SecretKey& key) {
  if (key.bytes().size() != kReferralKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a referral key is ", kReferralKeyBytes, " bytes"));
  }
  return absl::OkStatus();
}

// A default-constructed KeyEncryptionKey holds no key.
absl::Status CheckKekLoaded(const SecretKey& kek) {
  if (kek.bytes().size() != kReferralKeyBytes) {
    return absl::FailedPreconditionError("no key-encryption key loaded");
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------- SecretKey

SecretKey::SecretKey(SecretKey&& other) noexcept : bytes_(std::move(other.bytes_)) { other.Wipe(); }

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    // libstdc++'s move assignment may hand our old buffer to `other`: wipe
    // it before, and `other` after.
    Wipe();
    bytes_ = std::move(other.bytes_);
    other.Wipe();
  }
  return *this;
}

SecretKey::~SecretKey() { Wipe(); }

void SecretKey::Wipe() {
  // The whole buffer, not only size() bytes: a shorter value assigned
  // earlier, or a short string's inline buffer, may keep older bytes beyond
  // size(). resize() within capacity never reallocates.
  bytes_.resize(bytes_.capacity());
  sodium_memzero(bytes_.data(), bytes_.size());
  bytes_.clear();
}

// ---------------------------------------------------------------- referral keys

SecretKey NewReferralKey() {
  EnsureSodiumOrDie();
  std::string bytes(kReferralKeyBytes, '\0');
  crypto_aead_xchacha20poly1305_ietf_keygen(U8(bytes));
  return SecretKey(std::move(bytes));
}

std::string RandomNonce() {
  EnsureSodiumOrDie();
  std::string nonce(kSealNonceBytes, '\0');
  randombytes_buf(nonce.data(), nonce.size());
  return nonce;
}

std::string ReferralKeyId(const SecretKey& key) {
  return KeyedBlake2b(key.bytes(), kKeyIdHashKey, kKeyIdBytes);
}

absl::StatusOr<v1::Sealed> Seal(const SecretKey& key, absl::string_view purpose,
                                absl::string_view referral_id, absl::string_view plaintext,
                                absl::string_view nonce) {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  RETURN_IF_ERROR(CheckKeySize(key));
  if (nonce.size() != kSealNonceBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a seal nonce is ", kSealNonceBytes, " bytes"));
  }
  RETURN_IF_ERROR(CheckNoNul("the purpose", purpose));
  RETURN_IF_ERROR(CheckNoNul("the referral id", referral_id));
  v1::Sealed sealed;
  sealed.set_key_id(ReferralKeyId(key));
  sealed.set_nonce(std::string(nonce));
  sealed.set_ciphertext(AeadEncrypt(key.bytes(), nonce, plaintext,
                                    SealedAssociatedData(purpose, referral_id, sealed.key_id())));
  return sealed;
}

absl::StatusOr<std::string> Open(const SecretKey& key, absl::string_view purpose,
                                 absl::string_view referral_id, const v1::Sealed& sealed) {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  RETURN_IF_ERROR(CheckKeySize(key));
  RETURN_IF_ERROR(CheckNoNul("the purpose", purpose));
  RETURN_IF_ERROR(CheckNoNul("the referral id", referral_id));
  const std::string key_id = ReferralKeyId(key);
  // Ids are public; a plain comparison leaks nothing.
  if (sealed.key_id() != key_id) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY,
                    "the sealed part names a key other than the one given");
  }
  if (sealed.nonce().size() != kSealNonceBytes) {
    return Tampered(absl::StrCat("the sealed part's nonce is not ", kSealNonceBytes, " bytes"));
  }
  std::string plaintext;
  if (!AeadDecrypt(key.bytes(), sealed.nonce(), sealed.ciphertext(),
                   SealedAssociatedData(purpose, referral_id, key_id), plaintext)) {
    return Tampered(
        "the sealed part does not authenticate under its key for this purpose and referral");
  }
  return plaintext;
}

// ---------------------------------------------------------------- X25519 keys

std::string EncryptionKeyId(absl::string_view public_key) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, U8(public_key), public_key.size());
  return std::string(reinterpret_cast<const char*>(digest), kKeyIdBytes);
}

absl::StatusOr<EncryptionKeyPair> EncryptionKeyPair::FromPem(absl::string_view pem) {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  crypto_internal::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // No passphrase callback would make OpenSSL prompt on the terminal for an
  // encrypted key: a broker would hang instead of failing.
  auto no_passphrase = [](char*, int, int, void*) { return -1; };
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) {
    return absl::InvalidArgumentError(absl::StrCat("not a PEM private key: ", OpenSslErrorText()));
  }
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_X25519) {
    return absl::InvalidArgumentError("not an X25519 key");
  }
  // Read straight into the string that becomes the SecretKey: no other copy
  // of the private key is made (OpenSSL wipes its own when freeing pkey).
  std::string secret(kX25519Bytes, '\0');
  size_t secret_len = secret.size();
  std::string public_key(kX25519Bytes, '\0');
  size_t public_len = public_key.size();
  const bool read = EVP_PKEY_get_raw_private_key(pkey.get(), U8(secret), &secret_len) == 1 &&
                    EVP_PKEY_get_raw_public_key(pkey.get(), U8(public_key), &public_len) == 1 &&
                    secret_len == kX25519Bytes && public_len == kX25519Bytes;
  EncryptionKeyPair pair;
  pair.secret_ = SecretKey(std::move(secret));
  if (!read) {
    return absl::InternalError(
        absl::StrCat("cannot read the X25519 key's raw bytes: ", OpenSslErrorText()));
  }
  pair.key_id_ = EncryptionKeyId(public_key);
  pair.public_key_ = std::move(public_key);
  return pair;
}

absl::StatusOr<EncryptionKeyPair> EncryptionKeyPair::FromPemFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  auto pair = FromPem(pem);
  sodium_memzero(pem.data(), pem.size());
  if (!pair.ok()) {
    return absl::Status(pair.status().code(), absl::StrCat(path, ": ", pair.status().message()));
  }
  return pair;
}

absl::StatusOr<std::string> WrapToRecipient(const SecretKey& key, absl::string_view public_key) {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  RETURN_IF_ERROR(CheckKeySize(key));
  if (public_key.size() != kX25519Bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("an X25519 public key is ", kX25519Bytes, " bytes"));
  }
  std::string wrapped(key.bytes().size() + crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal(U8(wrapped), U8(key.bytes()), key.bytes().size(), U8(public_key)) != 0) {
    // libsodium refuses some degenerate public keys (small order).
    return absl::InvalidArgumentError("cannot wrap to this X25519 public key");
  }
  return wrapped;
}

absl::StatusOr<SecretKey> UnwrapWithKeyPair(absl::string_view wrapped,
                                            const EncryptionKeyPair& pair) {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  if (pair.public_key().size() != kX25519Bytes ||
      pair.secret_key().bytes().size() != kX25519Bytes) {
    return absl::FailedPreconditionError("no X25519 key pair loaded");
  }
  if (wrapped.size() != kReferralKeyBytes + crypto_box_SEALBYTES) {
    return Tampered("the wrapped key is not a sealed 32-byte key");
  }
  std::string key(kReferralKeyBytes, '\0');
  if (crypto_box_seal_open(U8(key), U8(wrapped), wrapped.size(), U8(pair.public_key()),
                           U8(pair.secret_key().bytes())) != 0) {
    SecretKey wipe(std::move(key));
    return Tampered("the wrapped key does not open with this node's encryption key");
  }
  return SecretKey(std::move(key));
}

// ---------------------------------------------------------------- certificates

absl::StatusOr<EncryptionCertificate> ParseEncryptionCertificate(absl::string_view cert_pem,
                                                                 absl::string_view ca_pem,
                                                                 absl::Time now) {
  auto refuse = [](v1::ErrorReason reason, absl::string_view message) {
    return MirError(absl::StatusCode::kUnauthenticated, reason, message);
  };
  ASSIGN_OR_RETURN(std::vector<X509Ptr> cas, crypto_internal::ParseCertificateBundlePem(ca_pem));
  auto parsed = crypto_internal::ParseCertificatePem(cert_pem);
  if (!parsed.ok()) {
    return refuse(v1::MALFORMED_CERTIFICATE, "the encryption certificate is not PEM");
  }
  X509* cert = parsed->get();

  // 2. Issued by the CA (by one CA of the bundle, during a CA rotation). One
  // level only: the network has no intermediates.
  const X509* ca = nullptr;
  for (const X509Ptr& candidate : cas) {
    EVP_PKEY* ca_key = X509_get0_pubkey(candidate.get());
    if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(candidate.get())) == 0 &&
        ca_key != nullptr && X509_verify(cert, ca_key) == 1) {
      ca = candidate.get();
      break;
    }
  }
  ERR_clear_error();
  if (ca == nullptr) {
    return refuse(v1::UNTRUSTED_CERTIFICATE,
                  "the encryption certificate is not signed by the network CA");
  }
  // 3. X509_check_ca alone passes CA:TRUE without keyCertSign; refuse both.
  if ((X509_get_extension_flags(cert) & EXFLAG_CA) != 0 || X509_check_ca(cert) != 0) {
    return refuse(v1::UNTRUSTED_CERTIFICATE, "a CA certificate is not an encryption certificate");
  }
  // 4.
  EVP_PKEY* key = X509_get0_pubkey(cert);
  std::string public_key(kX25519Bytes, '\0');
  size_t public_len = public_key.size();
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_X25519 ||
      EVP_PKEY_get_raw_public_key(key, U8(public_key), &public_len) != 1 ||
      public_len != kX25519Bytes) {
    ERR_clear_error();
    return refuse(v1::UNSUPPORTED_ALGORITHM, "the encryption certificate's key is not X25519");
  }
  // 5. X509_get_key_usage answers "all usages" when the extension is absent,
  // so its presence is checked apart.
  const uint32_t flags = X509_get_extension_flags(cert);
  if ((flags & EXFLAG_INVALID) != 0 || (flags & EXFLAG_KUSAGE) == 0 ||
      (X509_get_key_usage(cert) & KU_KEY_AGREEMENT) == 0) {
    return refuse(v1::MALFORMED_CERTIFICATE,
                  "the encryption certificate's keyUsage must include keyAgreement");
  }
  // 6.
  ASSIGN_OR_RETURN(Identity identity, CertificateIdentity(cert));
  if (identity.role != Role::kNode) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED,
                    absl::StrCat("an encryption certificate is a node's, not ", identity.Uri()));
  }
  // 7.
  ASSIGN_OR_RETURN(absl::Time nb, crypto_internal::Asn1TimeToAbsl(X509_get0_notBefore(cert)));
  ASSIGN_OR_RETURN(absl::Time na, crypto_internal::Asn1TimeToAbsl(X509_get0_notAfter(cert)));
  ASSIGN_OR_RETURN(absl::Time ca_nb, crypto_internal::Asn1TimeToAbsl(X509_get0_notBefore(ca)));
  ASSIGN_OR_RETURN(absl::Time ca_na, crypto_internal::Asn1TimeToAbsl(X509_get0_notAfter(ca)));
  EncryptionCertificate out;
  out.not_before = std::max(nb, ca_nb);
  out.not_after = std::min(na, ca_na);
  if (now < out.not_before) {
    return refuse(v1::CERTIFICATE_NOT_YET_VALID, absl::StrCat("the encryption certificate of ",
                                                              identity.node, " is not yet valid"));
  }
  if (now > out.not_after) {
    return refuse(v1::CERTIFICATE_EXPIRED,
                  absl::StrCat("the encryption certificate of ", identity.node, " has expired"));
  }
  out.node = std::move(identity.node);
  out.key_id = EncryptionKeyId(public_key);
  out.public_key = std::move(public_key);
  return out;
}

// ---------------------------------------------------------------- KEK

absl::StatusOr<KeyEncryptionKey> KeyEncryptionKey::FromBytes(std::string bytes) {
  SecretKey key(std::move(bytes));  // wiped on every path out
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  if (key.bytes().size() != kReferralKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a key-encryption key is ", kReferralKeyBytes, " bytes"));
  }
  KeyEncryptionKey kek;
  kek.id_ = ToHex(KeyedBlake2b(key.bytes(), kKekIdHashKey, kKekIdBytes));
  kek.key_ = std::move(key);
  return kek;
}

absl::StatusOr<KeyEncryptionKey> KeyEncryptionKey::FromFile(const std::string& path) {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::Status(
        err == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kFailedPrecondition,
        absl::StrCat("cannot read the key-encryption key ", path, ": ", strerror(err)));
  }
  // The mode of the file we read, not of whatever the path names later.
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("the key-encryption key ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat("the key-encryption key ", path,
                                                      " must be mode 0600 (chmod 600 ", path,
                                                      "): group or others may read it"));
  }
  // One byte more than the longest valid content tells "too long" apart.
  char buf[kKekHexDigits + 2];
  size_t len = 0;
  while (len < sizeof(buf)) {
    const ssize_t n = read(fd, buf + len, sizeof(buf) - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  close(fd);
  size_t digits = len;
  if (digits == kKekHexDigits + 1 && buf[kKekHexDigits] == '\n') digits = kKekHexDigits;
  std::string bytes(kReferralKeyBytes, '\0');
  size_t bin_len = 0;
  const char* end = nullptr;
  const bool ok =
      digits == kKekHexDigits &&
      sodium_hex2bin(U8(bytes), bytes.size(), buf, digits, nullptr, &bin_len, &end) == 0 &&
      bin_len == kReferralKeyBytes && end == buf + kKekHexDigits;
  sodium_memzero(buf, sizeof(buf));
  if (!ok) {
    SecretKey wipe(std::move(bytes));
    return absl::InvalidArgumentError(absl::StrCat(
        "the key-encryption key ", path, " must hold 64 hex digits (32 bytes) and nothing else"));
  }
  return FromBytes(std::move(bytes));
}

absl::StatusOr<std::string> KeyEncryptionKey::Wrap(absl::string_view referral_id,
                                                   const SecretKey& key) const {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  RETURN_IF_ERROR(CheckKekLoaded(key_));
  RETURN_IF_ERROR(CheckKeySize(key));
  RETURN_IF_ERROR(CheckNoNul("the referral id", referral_id));
  const std::string nonce = RandomNonce();
  return absl::StrCat(
      nonce, AeadEncrypt(key_.bytes(), nonce, key.bytes(), AtRestAssociatedData(referral_id)));
}

absl::StatusOr<SecretKey> KeyEncryptionKey::Unwrap(absl::string_view referral_id,
                                                   absl::string_view wrapped) const {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  RETURN_IF_ERROR(CheckKekLoaded(key_));
  RETURN_IF_ERROR(CheckNoNul("the referral id", referral_id));
  if (wrapped.size() !=
      kSealNonceBytes + kReferralKeyBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return Tampered("the key wrapped at rest has the wrong length");
  }
  std::string key;
  if (!AeadDecrypt(key_.bytes(), wrapped.substr(0, kSealNonceBytes),
                   wrapped.substr(kSealNonceBytes), AtRestAssociatedData(referral_id), key)) {
    return Tampered(
        "the key wrapped at rest does not open under this key-encryption key for this referral");
  }
  return SecretKey(std::move(key));
}

absl::Status WriteNewKeyEncryptionKey(const std::string& path) {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  // O_EXCL: never replace a KEK, even one made a moment ago by another process.
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return absl::AlreadyExistsError(absl::StrCat(
          path,
          " exists; a key-encryption key is never overwritten (the keys wrapped under it "
          "would be lost)"));
    }
    return absl::FailedPreconditionError(absl::StrCat("cannot create ", path, ": ", strerror(err)));
  }
  unsigned char key[kReferralKeyBytes];
  randombytes_buf(key, sizeof(key));
  char hex[kKekHexDigits + 1];  // sodium_bin2hex writes a terminating NUL
  sodium_bin2hex(hex, sizeof(hex), key, sizeof(key));
  sodium_memzero(key, sizeof(key));
  hex[kKekHexDigits] = '\n';
  size_t written = 0;
  while (written < sizeof(hex)) {
    const ssize_t n = write(fd, hex + written, sizeof(hex) - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  sodium_memzero(hex, sizeof(hex));
  // open()'s mode passed through the umask, which may have taken bits away;
  // fchmod sets 0600 exactly. The sync makes the KEK outlive a power cut, as
  // the keys wrapped under it will.
  const bool ok = written == sizeof(hex) && fchmod(fd, 0600) == 0 && fsync(fd) == 0;
  const int err = errno;
  close(fd);
  if (!ok) {
    unlink(path.c_str());  // a partial key must not be mistaken for one later
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", strerror(err)));
  }
  // ...and its name too: sync the folder.
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  const int dir_fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0 || fsync(dir_fd) != 0) {
    const int dir_err = errno;
    if (dir_fd >= 0) close(dir_fd);
    return absl::InternalError(
        absl::StrCat("cannot sync the folder of ", path, ": ", strerror(dir_err)));
  }
  close(dir_fd);
  return absl::OkStatus();
}

}  // namespace mir
