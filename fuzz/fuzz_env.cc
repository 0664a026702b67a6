#include "fuzz/fuzz_env.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "crypto/envelope_bytes.h"
#include "google/protobuf/stubs/logging.h"

namespace mir::fuzz {
namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "fuzz env: %s\n", why.c_str());
  std::abort();
}

template <auto kFree>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Free<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

const std::map<std::string, std::string>& Vectors() {
  static const auto* const kVectors = [] {
    const char* env = std::getenv("MIR_SOURCE_DIR");
    const std::string path =
        std::string(env != nullptr ? env : MIR_SOURCE_DIR_DEFAULT) + "/proto/testvectors/v1.txt";
    std::ifstream in(path);
    if (!in) Die("cannot read " + path + " (set MIR_SOURCE_DIR)");
    auto* vectors = new std::map<std::string, std::string>();
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits(": ", 1));
      if (kv.size() != 2) continue;
      const bool raw = absl::EndsWith(kv[0], "_text") || absl::EndsWith(kv[0], "_unix");
      (*vectors)[kv[0]] = raw ? kv[1] : FromHex(kv[1]);
    }
    return vectors;
  }();
  return *kVectors;
}

std::vector<std::string>& TempDirs() {
  static auto* const kDirs = new std::vector<std::string>();
  return *kDirs;
}

// The test-vector signer of `who` ("author", "node"); dies if it cannot load.
const Signer* VectorSigner(const std::string& who) {
  auto s = Signer::FromSeed(Vector(who + "_seed"), Vector(who + "_certificate_der"));
  if (!s.ok()) Die(std::string(s.status().message()));
  return s->release();
}

}  // namespace

const std::string& Vector(const std::string& name) {
  auto it = Vectors().find(name);
  if (it == Vectors().end()) Die("no test vector " + name);
  return it->second;
}

absl::Time VerifyAt() { return absl::FromUnixSeconds(std::stoll(Vector("verify_at_unix"))); }

std::string CertificatePem(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (cert == nullptr || bio == nullptr || PEM_write_bio_X509(bio.get(), cert.get()) != 1) {
    Die("cannot write a certificate as PEM");
  }
  return BioText(bio.get());
}

std::string SeedKeyPem(const std::string& seed) {
  PkeyPtr key(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (key == nullptr || bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    Die("cannot write a key as PEM");
  }
  return BioText(bio.get());
}

const Signer& Author() {
  static const Signer* const kAuthor = VectorSigner("author");
  return *kAuthor;
}

const Signer& NationalNode() {
  static const Signer* const kNode = VectorSigner("node");
  return *kNode;
}

std::string Resign(v1::Envelope envelope, bool new_message_id) {
  v1::EnvelopeHeader header;
  const bool parsed = header.ParseFromString(envelope.header());
  if (parsed && new_message_id) {
    // A UUID v4 (lowercase) made of the input's hash: new per input, yet
    // the same on a replay of the same input.
    std::string h = ToHex(Sha256(envelope.SerializeAsString())).substr(0, 32);
    h[12] = '4';
    h[16] = '8';
    header.set_message_id(absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4),
                                       "-", h.substr(16, 4), "-", h.substr(20, 12)));
    envelope.set_header(header.SerializeAsString());
  }
  const bool as_node = parsed && header.author() == NationalNode().identity().Uri();
  const Signer& signer = as_node ? NationalNode() : Author();
  auto signature = signer.Sign(SignedBytes(envelope.header(), envelope.body()));
  if (!signature.ok()) Die("cannot sign");
  v1::Signature* s = envelope.mutable_signature();
  s->set_algorithm(v1::ED25519);
  s->set_certificate(signer.certificate_der());
  s->set_value(*signature);
  return envelope.SerializeAsString();
}

void Quiet() {
  log_internal::SetLoggingEnabled(false);
  google::protobuf::SetLogHandler(nullptr);
}

std::string TempDir(const std::string& name) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/mir-fuzz-" + name + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) Die("cannot make a temp dir");
  if (TempDirs().empty() && std::getenv("MIR_FUZZ_KEEP") == nullptr) {
    std::atexit([] {
      std::error_code ignored;
      for (const std::string& dir : TempDirs()) std::filesystem::remove_all(dir, ignored);
    });
  }
  TempDirs().push_back(pattern);
  return pattern;
}

}  // namespace mir::fuzz
