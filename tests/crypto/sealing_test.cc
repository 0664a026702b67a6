// Sealed fields (PROTOCOL.md §11): a sealed part opens only under its key,
// for its purpose and referral; a referral key opens only for the node it is
// wrapped to, and at rest only under the node's KEK; encryption certificates
// are the CA's, X25519, keyAgreement, a node's, and in date.

#include "crypto/sealing.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "crypto/envelope_bytes.h"
#include "tests/testing/enc_cert.h"
#include "tests/testing/test_env.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kReferralId = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
constexpr absl::string_view kOtherReferralId = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";
constexpr absl::string_view kPlaintext = "person code TS-SEALED-0001, notes";

// 0x00, 0x01, ..., 0x1f: the key of the known-answer tests.
std::string CountingBytes() {
  std::string bytes(32, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i);
  return bytes;
}

std::string FlipBit(std::string s, size_t byte, int bit) {
  s[byte] = static_cast<char>(s[byte] ^ (1 << bit));
  return s;
}

void WriteText(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ASSERT_EQ(chmod(path.c_str(), mode), 0) << path;
}

// `key_pem` encrypted under a passphrase (AES-256-CBC, PKCS#8).
std::string EncryptPem(const std::string& key_pem) {
  BIO* in = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  char passphrase[] = "passphrase";
  EXPECT_EQ(PEM_write_bio_PKCS8PrivateKey(out, key, EVP_aes_256_cbc(), passphrase,
                                          sizeof(passphrase) - 1, nullptr, nullptr),
            1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(out);
  EVP_PKEY_free(key);
  BIO_free(in);
  return pem;
}

EncryptionKeyPair LoadPair(const std::string& rel) {
  auto pair = EncryptionKeyPair::FromPemFile(PkiPath(rel));
  EXPECT_TRUE(pair.ok()) << pair.status();
  return pair.ok() ? std::move(*pair) : EncryptionKeyPair();
}

// ---------------------------------------------------------------- Seal / Open

TEST(SealTest, SealThenOpenGivesThePlaintext) {
  const SecretKey key = NewReferralKey();
  ASSERT_EQ(key.bytes().size(), kReferralKeyBytes);
  auto sealed = Seal(key, kSealedReferralPurpose, kReferralId, kPlaintext, RandomNonce());
  ASSERT_OK(sealed);
  EXPECT_EQ(sealed->key_id(), ReferralKeyId(key));
  EXPECT_EQ(sealed->key_id().size(), kKeyIdBytes);
  EXPECT_EQ(sealed->nonce().size(), kSealNonceBytes);
  EXPECT_EQ(sealed->ciphertext().size(), kPlaintext.size() + 16);  // + Poly1305 tag
  EXPECT_THAT(sealed->ciphertext(), Not(HasSubstr("TS-SEALED")));
  auto opened = Open(key, kSealedReferralPurpose, kReferralId, *sealed);
  ASSERT_OK(opened);
  EXPECT_EQ(*opened, kPlaintext);
}

TEST(SealTest, EmptyPlaintextRoundTrips) {
  const SecretKey key = NewReferralKey();
  auto sealed = Seal(key, kSealedStatusTextPurpose, kReferralId, "", RandomNonce());
  ASSERT_OK(sealed);
  auto opened = Open(key, kSealedStatusTextPurpose, kReferralId, *sealed);
  ASSERT_OK(opened);
  EXPECT_EQ(*opened, "");
}

TEST(SealTest, FreshKeysAndNoncesDiffer) {
  EXPECT_NE(NewReferralKey().bytes(), NewReferralKey().bytes());
  EXPECT_NE(RandomNonce(), RandomNonce());
}

TEST(SealTest, EachTamperingIsRefusedWithItsOwnReason) {
  const SecretKey key = NewReferralKey();
  const SecretKey other_key = NewReferralKey();
  struct Input {
    v1::Sealed sealed;
    std::string purpose{kSealedReferralPurpose};
    std::string referral_id{kReferralId};
    const SecretKey* key = nullptr;
  };
  struct Case {
    std::string name;
    std::function<void(Input&)> mutate;
    StatusCode code;
    v1::ErrorReason reason;
  };
  const std::vector<Case> cases = {
      {"one bit flipped in the ciphertext",
       [](Input& in) { in.sealed.set_ciphertext(FlipBit(in.sealed.ciphertext(), 3, 0)); },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      {"one bit flipped in the tag",
       [](Input& in) {
         in.sealed.set_ciphertext(
             FlipBit(in.sealed.ciphertext(), in.sealed.ciphertext().size() - 1, 7));
       },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      {"ciphertext cut short",
       [](Input& in) { in.sealed.set_ciphertext(in.sealed.ciphertext().substr(0, 10)); },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      {"ciphertext empty", [](Input& in) { in.sealed.clear_ciphertext(); },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      {"one bit flipped in the nonce",
       [](Input& in) { in.sealed.set_nonce(FlipBit(in.sealed.nonce(), 23, 4)); },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      {"nonce of 12 bytes", [](Input& in) { in.sealed.set_nonce(in.sealed.nonce().substr(0, 12)); },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      {"nonce missing", [](Input& in) { in.sealed.clear_nonce(); }, StatusCode::kInvalidArgument,
       v1::SEALED_TAMPERED},
      {"other purpose", [](Input& in) { in.purpose = std::string(kSealedStatusTextPurpose); },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      {"other referral", [](Input& in) { in.referral_id = std::string(kOtherReferralId); },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      {"purpose and referral id run together differently",
       [](Input& in) {
         in.purpose = "referra";
         in.referral_id = "l" + in.referral_id;
       },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
      // The key id names the key to open with: an altered one names a key
      // the caller does not hold.
      {"one bit flipped in the key id",
       [](Input& in) { in.sealed.set_key_id(FlipBit(in.sealed.key_id(), 0, 0)); },
       StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY},
      {"key id missing", [](Input& in) { in.sealed.clear_key_id(); },
       StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY},
      {"opened with another key", [&](Input& in) { in.key = &other_key; },
       StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY},
      {"relabelled for another key and opened with it",
       [&](Input& in) {
         in.key = &other_key;
         in.sealed.set_key_id(ReferralKeyId(other_key));
       },
       StatusCode::kInvalidArgument, v1::SEALED_TAMPERED},
  };
  auto sealed = Seal(key, kSealedReferralPurpose, kReferralId, kPlaintext, RandomNonce());
  ASSERT_OK(sealed);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Input in;
    in.sealed = *sealed;
    in.key = &key;
    c.mutate(in);
    auto opened = Open(*in.key, in.purpose, in.referral_id, in.sealed);
    EXPECT_THAT(MIR_STATUS(opened), StatusIsReason(c.code, c.reason));
  }
  // ...and the untouched part still opens.
  EXPECT_OK(Open(key, kSealedReferralPurpose, kReferralId, *sealed));
}

TEST(SealTest, BadArgumentsAreRefused) {
  const SecretKey key = NewReferralKey();
  const SecretKey short_key(std::string(16, 'k'));
  EXPECT_THAT(MIR_STATUS(Seal(key, kSealedReferralPurpose, kReferralId, kPlaintext, "short")),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(
      MIR_STATUS(Seal(short_key, kSealedReferralPurpose, kReferralId, kPlaintext, RandomNonce())),
      StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MIR_STATUS(Seal(key, std::string("a\0b", 3), kReferralId, kPlaintext, RandomNonce())),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MIR_STATUS(Seal(key, kSealedReferralPurpose, std::string("x\0y", 3), kPlaintext,
                              RandomNonce())),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(
      MIR_STATUS(Seal(SecretKey(), kSealedReferralPurpose, kReferralId, kPlaintext, RandomNonce())),
      StatusIs(StatusCode::kInvalidArgument));
}

TEST(SealTest, ReferralKeyIdIsKeyedBlake2b128) {
  // Known answer from Python's hashlib: blake2b(key bytes, digest_size=16,
  // key=b"mir-exchange/v1 key id").
  EXPECT_EQ(ToHex(ReferralKeyId(SecretKey(CountingBytes()))), "8e346691e55e78cfcb016a45fda59d07");
}

TEST(SecretKeyTest, MoveLeavesTheSourceEmpty) {
  SecretKey a(CountingBytes());
  SecretKey b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): what we test
  EXPECT_EQ(b.bytes(), CountingBytes());
  SecretKey c = NewReferralKey();
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): what we test
  EXPECT_EQ(c.bytes(), CountingBytes());
}

// ---------------------------------------------------------------- X25519 wrapping

TEST(EncryptionKeyPairTest, DevPkiKeyLoads) {
  const EncryptionKeyPair pair = LoadPair("toscana/enc.key");
  ASSERT_EQ(pair.public_key().size(), 32u);
  EXPECT_EQ(pair.secret_key().bytes().size(), 32u);
  EXPECT_EQ(pair.key_id(), EncryptionKeyId(pair.public_key()));
  // The first 16 bytes of SHA-256, computed here by OpenSSL.
  EXPECT_EQ(pair.key_id(), Sha256(pair.public_key()).substr(0, 16));
  EXPECT_NE(pair.key_id(), LoadPair("nvn/enc.key").key_id());
}

TEST(EncryptionKeyPairTest, OtherKeysAreRefused) {
  auto ed25519 = EncryptionKeyPair::FromPemFile(PkiPath("toscana/node.key"));
  EXPECT_THAT(MIR_STATUS(ed25519), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(ed25519.status().message()), HasSubstr("not an X25519 key"));
  EXPECT_THAT(MIR_STATUS(EncryptionKeyPair::FromPem("not a key")),
              StatusIs(StatusCode::kInvalidArgument));
  // An encrypted key is refused, not prompted for (no terminal in a broker).
  auto plain = ReadFile(PkiPath("toscana/enc.key"));
  ASSERT_OK(plain);
  EXPECT_THAT(MIR_STATUS(EncryptionKeyPair::FromPem(EncryptPem(*plain))),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MIR_STATUS(EncryptionKeyPair::FromPemFile(PkiPath("toscana/missing.key"))),
              StatusIs(StatusCode::kNotFound));
}

TEST(WrapTest, OnlyTheRecipientUnwraps) {
  const EncryptionKeyPair toscana = LoadPair("toscana/enc.key");
  const EncryptionKeyPair nvn = LoadPair("nvn/enc.key");
  const SecretKey key = NewReferralKey();
  auto wrapped = WrapToRecipient(key, toscana.public_key());
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->size(), 80u);
  auto unwrapped = UnwrapWithKeyPair(*wrapped, toscana);
  ASSERT_OK(unwrapped);
  EXPECT_EQ(unwrapped->bytes(), key.bytes());

  // Randomized: a fresh ephemeral key each time.
  auto again = WrapToRecipient(key, toscana.public_key());
  ASSERT_OK(again);
  EXPECT_NE(*again, *wrapped);

  struct Case {
    std::string name;
    std::string wrapped;
    const EncryptionKeyPair* pair;
  };
  const std::vector<Case> cases = {
      {"another node's key pair", *wrapped, &nvn},
      {"one bit flipped", FlipBit(*wrapped, 40, 2), &toscana},
      {"ephemeral key altered", FlipBit(*wrapped, 0, 0), &toscana},
      {"cut short", wrapped->substr(0, 79), &toscana},
      {"one byte too many", *wrapped + "x", &toscana},
      {"empty", "", &toscana},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(MIR_STATUS(UnwrapWithKeyPair(c.wrapped, *c.pair)),
                StatusIsReason(StatusCode::kInvalidArgument, v1::SEALED_TAMPERED));
  }
}

TEST(WrapTest, BadArgumentsAreRefused) {
  const SecretKey key = NewReferralKey();
  EXPECT_THAT(MIR_STATUS(WrapToRecipient(key, std::string(31, 'p'))),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MIR_STATUS(WrapToRecipient(SecretKey("short"), LoadPair("nvn/enc.key").public_key())),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MIR_STATUS(UnwrapWithKeyPair(std::string(80, 'w'), EncryptionKeyPair())),
              StatusIs(StatusCode::kFailedPrecondition));
}

// ---------------------------------------------------------------- KEK

TEST(KeyEncryptionKeyTest, WrapsAtRestBoundToTheReferral) {
  auto kek = KeyEncryptionKey::FromBytes(CountingBytes());
  ASSERT_OK(kek);
  const SecretKey key = NewReferralKey();
  auto wrapped = kek->Wrap(kReferralId, key);
  ASSERT_OK(wrapped);
  EXPECT_EQ(wrapped->size(), 24u + 32u + 16u);  // nonce || key || tag
  auto unwrapped = kek->Unwrap(kReferralId, *wrapped);
  ASSERT_OK(unwrapped);
  EXPECT_EQ(unwrapped->bytes(), key.bytes());
  auto again = kek->Wrap(kReferralId, key);
  ASSERT_OK(again);
  EXPECT_NE(*again, *wrapped);  // random nonce

  std::string other_kek_bytes = CountingBytes();
  other_kek_bytes[0] = 'x';
  auto other_kek = KeyEncryptionKey::FromBytes(other_kek_bytes);
  ASSERT_OK(other_kek);
  struct Case {
    std::string name;
    const KeyEncryptionKey* kek;
    absl::string_view referral_id;
    std::string wrapped;
  };
  const std::vector<Case> cases = {
      {"another referral", &*kek, kOtherReferralId, *wrapped},
      {"another KEK", &*other_kek, kReferralId, *wrapped},
      {"one bit flipped in the nonce", &*kek, kReferralId, FlipBit(*wrapped, 5, 1)},
      {"one bit flipped in the ciphertext", &*kek, kReferralId, FlipBit(*wrapped, 30, 6)},
      {"one bit flipped in the tag", &*kek, kReferralId, FlipBit(*wrapped, 71, 0)},
      {"cut short", &*kek, kReferralId, wrapped->substr(0, 71)},
      {"empty", &*kek, kReferralId, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(MIR_STATUS(c.kek->Unwrap(c.referral_id, c.wrapped)),
                StatusIsReason(StatusCode::kInvalidArgument, v1::SEALED_TAMPERED));
  }
}

TEST(KeyEncryptionKeyTest, IdIsKeyedBlake2b64InHex) {
  auto kek = KeyEncryptionKey::FromBytes(CountingBytes());
  ASSERT_OK(kek);
  // Known answer from Python's hashlib: blake2b(kek, digest_size=8,
  // key=b"mir-exchange/v1 kek id").
  EXPECT_EQ(kek->id(), "afb469da923177ff");
  EXPECT_THAT(MIR_STATUS(KeyEncryptionKey::FromBytes(std::string(31, 'k'))),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(MIR_STATUS(KeyEncryptionKey().Wrap(kReferralId, NewReferralKey())),
              StatusIs(StatusCode::kFailedPrecondition));
}

TEST(KeyEncryptionKeyTest, FileOfMode0600Loads) {
  const std::string dir = NewTempDir();
  const std::string hex = ToHex(CountingBytes());
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  struct Case {
    std::string name;
    std::string content;
    mode_t mode;
  };
  const std::vector<Case> cases = {
      {"with a newline", hex + "\n", 0600},
      {"without a newline", hex, 0600},
      {"upper case", upper + "\n", 0600},
      {"read-only for its owner", hex + "\n", 0400},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir + "/kek.hex";
    std::filesystem::remove(path);
    WriteText(path, c.content, c.mode);
    auto kek = KeyEncryptionKey::FromFile(path);
    ASSERT_OK(kek);
    EXPECT_EQ(kek->id(), "afb469da923177ff");
  }
}

TEST(KeyEncryptionKeyTest, BadFilesAreRefusedWithoutShowingTheKey) {
  const std::string dir = NewTempDir();
  const std::string hex = ToHex(CountingBytes());
  struct Case {
    std::string name;
    std::string content;
    mode_t mode;
    StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"readable by group and others", hex + "\n", 0644, StatusCode::kFailedPrecondition,
       "must be mode 0600"},
      {"readable by group", hex + "\n", 0640, StatusCode::kFailedPrecondition, "must be mode 0600"},
      {"writable by others", hex + "\n", 0602, StatusCode::kFailedPrecondition,
       "must be mode 0600"},
      {"63 digits", hex.substr(1) + "\n", 0600, StatusCode::kInvalidArgument, "64 hex digits"},
      {"65 digits", hex + "0\n", 0600, StatusCode::kInvalidArgument, "64 hex digits"},
      {"not hex", "g" + hex.substr(1) + "\n", 0600, StatusCode::kInvalidArgument, "64 hex digits"},
      {"two newlines", hex + "\n\n", 0600, StatusCode::kInvalidArgument, "64 hex digits"},
      {"leading space", " " + hex, 0600, StatusCode::kInvalidArgument, "64 hex digits"},
      {"CRLF", hex + "\r\n", 0600, StatusCode::kInvalidArgument, "64 hex digits"},
      {"raw bytes", CountingBytes(), 0600, StatusCode::kInvalidArgument, "64 hex digits"},
      {"empty", "", 0600, StatusCode::kInvalidArgument, "64 hex digits"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir + "/kek.hex";
    std::filesystem::remove(path);
    WriteText(path, c.content, c.mode);
    auto kek = KeyEncryptionKey::FromFile(path);
    EXPECT_THAT(MIR_STATUS(kek), StatusIs(c.code));
    const std::string message(kek.status().message());
    EXPECT_THAT(message, HasSubstr(c.message));
    EXPECT_THAT(message, HasSubstr(path));
    EXPECT_THAT(message, Not(HasSubstr(hex.substr(2, 16))));
  }
  EXPECT_THAT(MIR_STATUS(KeyEncryptionKey::FromFile(dir + "/missing.hex")),
              StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(MIR_STATUS(KeyEncryptionKey::FromFile(dir)),
              StatusIs(StatusCode::kFailedPrecondition));
}

TEST(KeyEncryptionKeyTest, WriteNewThenLoadAndNeverOverwrite) {
  const std::string path = NewTempDir() + "/kek.hex";
  ASSERT_OK(WriteNewKeyEncryptionKey(path));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  auto content = ReadFile(path);
  ASSERT_OK(content);
  ASSERT_EQ(content->size(), 65u);
  EXPECT_EQ(content->back(), '\n');
  EXPECT_EQ(FromHex(content->substr(0, 64)).size(), 32u);

  auto kek = KeyEncryptionKey::FromFile(path);
  ASSERT_OK(kek);
  const SecretKey key = NewReferralKey();
  auto wrapped = kek->Wrap(kReferralId, key);
  ASSERT_OK(wrapped);

  EXPECT_THAT(MIR_STATUS(WriteNewKeyEncryptionKey(path)), StatusIs(StatusCode::kAlreadyExists));
  auto after = ReadFile(path);
  ASSERT_OK(after);
  EXPECT_EQ(*after, *content);
  auto reloaded = KeyEncryptionKey::FromFile(path);
  ASSERT_OK(reloaded);
  EXPECT_EQ(reloaded->id(), kek->id());
  auto unwrapped = reloaded->Unwrap(kReferralId, *wrapped);
  ASSERT_OK(unwrapped);
  EXPECT_EQ(unwrapped->bytes(), key.bytes());

  // Two fresh KEKs differ.
  const std::string second = NewTempDir() + "/kek.hex";
  ASSERT_OK(WriteNewKeyEncryptionKey(second));
  auto second_kek = KeyEncryptionKey::FromFile(second);
  ASSERT_OK(second_kek);
  EXPECT_NE(second_kek->id(), kek->id());
}

TEST(KeyEncryptionKeyTest, DevPkiKekLoads) {
  for (const char* node : {"nvn", "toscana"}) {
    SCOPED_TRACE(node);
    auto kek = KeyEncryptionKey::FromFile(PkiPath(std::string(node) + "/kek.hex"));
    ASSERT_OK(kek);
    EXPECT_EQ(kek->id().size(), 16u);
  }
}

// ---------------------------------------------------------------- certificates

TEST(EncryptionCertificateTest, DevPkiCertificateMatchesItsKey) {
  const std::string ca = ReadPkiFile("ca.crt");
  const absl::Time now = absl::Now();
  for (const char* node : {"nvn", "toscana", "lombardia"}) {
    SCOPED_TRACE(node);
    const std::string cert_pem = ReadPkiFile(std::string(node) + "/enc.crt");
    // The shared folder holds the same certificate.
    EXPECT_EQ(ReadPkiFile(std::string("enc/") + node + ".crt"), cert_pem);
    auto cert = ParseEncryptionCertificate(cert_pem, ca, now);
    ASSERT_OK(cert);
    EXPECT_EQ(cert->node, node);
    const EncryptionKeyPair pair = LoadPair(std::string(node) + "/enc.key");
    EXPECT_EQ(cert->public_key, pair.public_key());
    EXPECT_EQ(cert->key_id, pair.key_id());
    EXPECT_LE(cert->not_before, now);
    EXPECT_GT(cert->not_after, now + absl::Hours(24 * 800));

    // What is wrapped to the certificate opens with the key.
    const SecretKey key = NewReferralKey();
    auto wrapped = WrapToRecipient(key, cert->public_key);
    ASSERT_OK(wrapped);
    auto unwrapped = UnwrapWithKeyPair(*wrapped, pair);
    ASSERT_OK(unwrapped);
    EXPECT_EQ(unwrapped->bytes(), key.bytes());
  }
}

TEST(EncryptionCertificateTest, CertificateOfChosenDatesIsValidInThemOnly) {
  // Inside the CA's validity (not_before/not_after are narrowed to it), in
  // whole seconds as X.509 keeps them.
  const absl::Time nb = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())) + absl::Hours(1);
  const absl::Time na = nb + absl::Hours(24 * 90);
  auto made =
      MakeEncryptionCertificateForTesting(PkiPath("ca.crt"), PkiPath("ca.key"), "toscana", nb, na);
  ASSERT_OK(made);
  const std::string ca = ReadPkiFile("ca.crt");
  auto cert = ParseEncryptionCertificate(made->second, ca, nb + absl::Hours(1));
  ASSERT_OK(cert);
  EXPECT_EQ(cert->node, "toscana");
  EXPECT_EQ(cert->not_before, nb);
  EXPECT_EQ(cert->not_after, na);
  auto pair = EncryptionKeyPair::FromPem(made->first);
  ASSERT_OK(pair);
  EXPECT_EQ(cert->key_id, pair->key_id());
  EXPECT_NE(cert->key_id, LoadPair("toscana/enc.key").key_id());  // a fresh key: a rotation

  EXPECT_OK(ParseEncryptionCertificate(made->second, ca, nb));
  EXPECT_OK(ParseEncryptionCertificate(made->second, ca, na));
  EXPECT_THAT(MIR_STATUS(ParseEncryptionCertificate(made->second, ca, nb - absl::Seconds(1))),
              StatusIsReason(StatusCode::kUnauthenticated, v1::CERTIFICATE_NOT_YET_VALID));
  EXPECT_THAT(MIR_STATUS(ParseEncryptionCertificate(made->second, ca, na + absl::Seconds(1))),
              StatusIsReason(StatusCode::kUnauthenticated, v1::CERTIFICATE_EXPIRED));
}

TEST(EncryptionCertificateTest, EachBadCertificateIsRefusedWithItsOwnReason) {
  const std::string ca = ReadPkiFile("ca.crt");
  const absl::Time now = absl::Now();
  auto make = [&](absl::Time nb, absl::Time na) {
    auto made =
        MakeEncryptionCertificateForTesting(PkiPath("ca.crt"), PkiPath("ca.key"), "nvn", nb, na);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? made->second : std::string();
  };
  // A certificate as the script makes it, but for `change`.
  auto made_with = [&](std::function<void(TestEncryptionCertificateSpec&)> change) {
    TestEncryptionCertificateSpec spec;
    spec.node = "nvn";
    spec.not_before = now - absl::Hours(1);
    spec.not_after = now + absl::Hours(24);
    spec.subject_alt_name = "URI:mir://nvn/node";
    change(spec);
    auto made = MakeEncryptionCertificateForTesting(PkiPath("ca.crt"), PkiPath("ca.key"), spec);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? made->second : std::string();
  };
  ASSERT_OK(ParseEncryptionCertificate(made_with([](auto&) {}), ca, now));
  struct Case {
    std::string name;
    std::string cert_pem;
    StatusCode code;
    v1::ErrorReason reason;
  };
  const std::vector<Case> cases = {
      {"signed by another CA", ReadPkiFile("test/other-ca-enc.crt"), StatusCode::kUnauthenticated,
       v1::UNTRUSTED_CERTIFICATE},
      {"a node's TLS certificate (Ed25519)", ReadPkiFile("toscana/node.crt"),
       StatusCode::kUnauthenticated, v1::UNSUPPORTED_ALGORITHM},
      {"an operator's certificate (Ed25519)", ReadPkiFile("toscana/operator.crt"),
       StatusCode::kUnauthenticated, v1::UNSUPPORTED_ALGORITHM},
      {"the CA itself", ca, StatusCode::kUnauthenticated, v1::UNTRUSTED_CERTIFICATE},
      {"expired", make(now - absl::Hours(24 * 400), now - absl::Hours(24 * 35)),
       StatusCode::kUnauthenticated, v1::CERTIFICATE_EXPIRED},
      {"not yet valid", make(now + absl::Hours(24), now + absl::Hours(24 * 400)),
       StatusCode::kUnauthenticated, v1::CERTIFICATE_NOT_YET_VALID},
      {"CA:TRUE", made_with([](auto& s) { s.basic_constraints = "critical,CA:TRUE"; }),
       StatusCode::kUnauthenticated, v1::UNTRUSTED_CERTIFICATE},
      {"CA:TRUE and keyCertSign", made_with([](auto& s) {
         s.basic_constraints = "critical,CA:TRUE";
         s.key_usage = "critical,keyAgreement,keyCertSign";
       }),
       StatusCode::kUnauthenticated, v1::UNTRUSTED_CERTIFICATE},
      {"an Ed25519 key with keyAgreement", made_with([](auto& s) { s.key_type = "ED25519"; }),
       StatusCode::kUnauthenticated, v1::UNSUPPORTED_ALGORITHM},
      {"no keyUsage", made_with([](auto& s) { s.key_usage = ""; }), StatusCode::kUnauthenticated,
       v1::MALFORMED_CERTIFICATE},
      {"keyUsage without keyAgreement",
       made_with([](auto& s) { s.key_usage = "critical,digitalSignature"; }),
       StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE},
      {"no subjectAltName", made_with([](auto& s) { s.subject_alt_name = ""; }),
       StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE},
      {"two mir:// identities",
       made_with([](auto& s) { s.subject_alt_name = "URI:mir://nvn/node,URI:mir://toscana/node"; }),
       StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE},
      {"an operator's identity",
       made_with([](auto& s) { s.subject_alt_name = "URI:mir://nvn/operator/op1"; }),
       StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED},
      {"an unknown role",
       made_with([](auto& s) { s.subject_alt_name = "URI:mir://nvn/auditor/a"; }),
       StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED},
      {"not PEM", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
       StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE},
      {"empty", "", StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(MIR_STATUS(ParseEncryptionCertificate(c.cert_pem, ca, now)),
                StatusIsReason(c.code, c.reason));
  }
  // The other CA's certificate is good under its own CA: refused for the CA alone.
  EXPECT_OK(ParseEncryptionCertificate(ReadPkiFile("test/other-ca-enc.crt"),
                                       ReadPkiFile("test/other-ca/ca.crt"), now));
  EXPECT_THAT(MIR_STATUS(ParseEncryptionCertificate(ReadPkiFile("toscana/enc.crt"), "", now)),
              StatusIs(StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mir::testing
