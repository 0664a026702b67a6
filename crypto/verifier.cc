#include "crypto/verifier.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include <algorithm>
#include <array>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/certificate.h"
#include "crypto/envelope_bytes.h"
#include "crypto/openssl_util.h"
#include "crypto/sodium_util.h"

namespace mir {

using crypto_internal::X509Ptr;
using v1::ErrorReason;

namespace {

absl::Status Refuse(absl::StatusCode code, ErrorReason reason, absl::string_view message) {
  return MirError(code, reason, message);
}
absl::Status Unauthenticated(ErrorReason reason, absl::string_view message) {
  return Refuse(absl::StatusCode::kUnauthenticated, reason, message);
}
absl::Status Malformed(absl::string_view message) {
  return Refuse(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE, message);
}

}  // namespace

namespace {

// What we remember about a certificate that chained to the CA.
struct TrustedCertificate {
  Identity identity;
  absl::Time not_before;  // latest notBefore along the chain
  absl::Time not_after;   // earliest notAfter along the chain
  // The raw Ed25519 public key (RFC 8032), read once here so that each
  // envelope costs libsodium's verification alone.
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> public_key;
};

absl::Status CheckValidAt(const TrustedCertificate& cert, absl::Time t, absl::string_view when) {
  if (t < cert.not_before) {
    return Unauthenticated(
        v1::CERTIFICATE_NOT_YET_VALID,
        absl::StrCat("certificate of ", cert.identity.Uri(), " is not yet valid at ", when));
  }
  if (t > cert.not_after) {
    return Unauthenticated(
        v1::CERTIFICATE_EXPIRED,
        absl::StrCat("certificate of ", cert.identity.Uri(), " has expired at ", when));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

using CrlPtr = std::unique_ptr<X509_CRL, crypto_internal::OpenSslDeleter<X509_CRL_free>>;

std::string NameLine(const X509_NAME* name) {
  char buf[256];
  X509_NAME_oneline(name, buf, sizeof(buf));
  return buf;
}

// One consistent set of CAs and CRLs, never changed once built; a reload
// builds a new one. The certificate cache belongs to it, so nothing trusted
// under old material survives a swap.
struct Anchors {
  std::vector<X509Ptr> cas;
  std::vector<absl::Time> ca_not_before, ca_not_after;
  // crls[i] is signed by cas[crl_ca[i]] (checked when loaded).
  std::vector<CrlPtr> crls;
  std::vector<size_t> crl_ca;
  crypto_internal::X509StorePtr store;
  size_t cache_limit = 0;

  mutable absl::Mutex mu;
  mutable absl::flat_hash_map<std::string, std::shared_ptr<const TrustedCertificate>> cache
      ABSL_GUARDED_BY(mu);

  static absl::StatusOr<std::shared_ptr<const Anchors>> Build(const TrustMaterial& material,
                                                              size_t cache_limit);
  // Chains `leaf` to a CA of the set (validity times not checked) and
  // checks that CA's CRLs: UNTRUSTED_CERTIFICATE, REVOKED. The CA's index.
  absl::StatusOr<size_t> Chain(X509* leaf) const;
  absl::StatusOr<std::shared_ptr<const TrustedCertificate>> Trust(absl::string_view der) const;
};

absl::StatusOr<std::shared_ptr<const Anchors>> Anchors::Build(const TrustMaterial& material,
                                                              size_t cache_limit) {
  auto a = std::make_shared<Anchors>();
  a->cache_limit = std::max<size_t>(cache_limit, 1);
  a->store.reset(X509_STORE_new());
  if (!a->store) return absl::InternalError("cannot build the CA trust store");
  auto cas = crypto_internal::ParseCertificateBundlePem(material.ca_pem);
  if (!cas.ok()) return absl::InvalidArgumentError("the CA file holds no PEM certificate");
  a->cas = std::move(*cas);
  for (const X509Ptr& ca : a->cas) {
    ASSIGN_OR_RETURN(absl::Time nb, crypto_internal::Asn1TimeToAbsl(X509_get0_notBefore(ca.get())));
    ASSIGN_OR_RETURN(absl::Time na, crypto_internal::Asn1TimeToAbsl(X509_get0_notAfter(ca.get())));
    a->ca_not_before.push_back(nb);
    a->ca_not_after.push_back(na);
    if (X509_STORE_add_cert(a->store.get(), ca.get()) != 1) {
      ERR_clear_error();  // e.g. the same CA twice in the bundle: harmless
    }
    // OpenSSL 3.0 fills a certificate's cache of decoded extensions on first
    // use, under the certificate's lock, and then reads it without the lock:
    // two threads verifying at once through new anchors race there
    // (ThreadSanitizer shows one writing the key identifier another
    // compares). Filled here, before the anchors are shared, it is only read
    // afterwards.
    (void)X509_get_extension_flags(ca.get());
  }
  for (size_t f = 0; f < material.crl_pems.size(); ++f) {
    const std::string& pem = material.crl_pems[f];
    crypto_internal::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    size_t in_file = 0;
    while (X509_CRL* raw = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      CrlPtr crl(raw);
      ++in_file;
      size_t signer = a->cas.size();
      for (size_t i = 0; i < a->cas.size(); ++i) {
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(a->cas[i].get())) ==
                0 &&
            X509_CRL_verify(crl.get(), X509_get0_pubkey(a->cas[i].get())) == 1) {
          signer = i;
          break;
        }
      }
      ERR_clear_error();
      if (signer == a->cas.size()) {
        return absl::InvalidArgumentError(absl::StrCat("CRL ", f + 1, " (issuer ",
                                                       NameLine(X509_CRL_get_issuer(crl.get())),
                                                       ") is not signed by any CA of the bundle"));
      }
      a->crls.push_back(std::move(crl));
      a->crl_ca.push_back(signer);
    }
    ERR_clear_error();
    if (in_file == 0) {
      return absl::InvalidArgumentError(absl::StrCat("CRL ", f + 1, " holds no PEM X509 CRL"));
    }
  }
  return std::shared_ptr<const Anchors>(std::move(a));
}

absl::StatusOr<size_t> Anchors::Chain(X509* leaf) const {
  crypto_internal::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1) {
    return absl::InternalError("cannot set up certificate verification");
  }
  // Validity is checked by the caller (for an envelope at its time and at
  // now); revocation here, against the CRLs of the CA the chain ends at.
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return Unauthenticated(v1::UNTRUSTED_CERTIFICATE,
                           absl::StrCat("certificate does not chain to the network CA (",
                                        X509_verify_cert_error_string(err), ")"));
  }
  // Our chains are leaf -> CA: the CA is the chain's last element.
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  const int depth = chain == nullptr ? 0 : sk_X509_num(chain);
  X509* root = depth >= 2 ? sk_X509_value(chain, depth - 1) : nullptr;
  size_t ca_index = cas.size();
  for (size_t i = 0; root != nullptr && i < cas.size(); ++i) {
    if (X509_cmp(root, cas[i].get()) == 0) {
      ca_index = i;
      break;
    }
  }
  if (ca_index == cas.size()) {
    return Unauthenticated(v1::UNTRUSTED_CERTIFICATE,
                           "certificate does not chain to the network CA");
  }
  for (size_t i = 0; i < crls.size(); ++i) {
    if (crl_ca[i] != ca_index) continue;
    X509_REVOKED* entry = nullptr;
    if (X509_CRL_get0_by_serial(crls[i].get(), &entry, X509_get0_serialNumber(leaf)) == 1) {
      auto identity = CertificateIdentity(leaf);
      return Unauthenticated(
          v1::REVOKED,
          absl::StrCat("certificate of ",
                       identity.ok() ? identity->Uri() : NameLine(X509_get_subject_name(leaf)),
                       " is revoked by ", NameLine(X509_get_subject_name(root))));
    }
  }
  return ca_index;
}

absl::StatusOr<std::shared_ptr<const TrustedCertificate>> Anchors::Trust(
    absl::string_view der) const {
  const std::string fingerprint = Sha256(der);
  {
    absl::MutexLock lock(&mu);
    auto it = cache.find(fingerprint);
    if (it != cache.end()) return it->second;
  }
  auto leaf = crypto_internal::ParseCertificateDer(der);
  if (!leaf.ok()) {
    return Unauthenticated(v1::MALFORMED_CERTIFICATE, "the signer's certificate does not parse");
  }
  ASSIGN_OR_RETURN(size_t ca_index, Chain(leaf->get()));
  if (X509_check_ca(leaf->get()) != 0) {
    return Unauthenticated(v1::UNTRUSTED_CERTIFICATE, "a CA certificate may not sign messages");
  }
  ASSIGN_OR_RETURN(Identity identity, CertificateIdentity(leaf->get()));
  ASSIGN_OR_RETURN(absl::Time nb,
                   crypto_internal::Asn1TimeToAbsl(X509_get0_notBefore(leaf->get())));
  ASSIGN_OR_RETURN(absl::Time na, crypto_internal::Asn1TimeToAbsl(X509_get0_notAfter(leaf->get())));
  auto trusted = std::make_shared<TrustedCertificate>();
  EVP_PKEY* key = X509_get0_pubkey(leaf->get());
  size_t key_len = trusted->public_key.size();
  if (key == nullptr || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519 ||
      EVP_PKEY_get_raw_public_key(key, trusted->public_key.data(), &key_len) != 1 ||
      key_len != trusted->public_key.size()) {
    ERR_clear_error();
    return Unauthenticated(v1::UNSUPPORTED_ALGORITHM, "the signer's key is not Ed25519");
  }
  trusted->identity = std::move(identity);
  trusted->not_before = std::max(nb, ca_not_before[ca_index]);
  trusted->not_after = std::min(na, ca_not_after[ca_index]);
  absl::MutexLock lock(&mu);
  if (cache.size() >= cache_limit) cache.clear();
  cache.emplace(fingerprint, trusted);
  return trusted;
}

}  // namespace

absl::StatusOr<TrustMaterial> ReadTrustMaterial(const std::string& ca_path,
                                                const std::vector<std::string>& crl_paths) {
  TrustMaterial material;
  ASSIGN_OR_RETURN(material.ca_pem, ReadFile(ca_path));
  for (const std::string& path : crl_paths) {
    ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
    material.crl_pems.push_back(std::move(pem));
  }
  return material;
}

struct Verifier::Impl {
  size_t cache_limit = 0;
  mutable absl::Mutex mu;
  std::shared_ptr<const Anchors> anchors ABSL_GUARDED_BY(mu);

  std::shared_ptr<const Anchors> Current() const {
    absl::MutexLock lock(&mu);
    return anchors;
  }
  absl::StatusOr<std::shared_ptr<const TrustedCertificate>> Trust(absl::string_view der) const {
    return Current()->Trust(der);
  }
};

Verifier::Verifier(std::unique_ptr<Impl> impl, const Clock* clock, VerifierOptions options)
    : impl_(std::move(impl)), clock_(clock), options_(options) {}

Verifier::~Verifier() = default;

absl::StatusOr<std::unique_ptr<Verifier>> Verifier::FromCaPem(absl::string_view ca_pem,
                                                              const Clock* clock,
                                                              VerifierOptions options) {
  return FromTrust(TrustMaterial{std::string(ca_pem), {}}, clock, options);
}

absl::StatusOr<std::unique_ptr<Verifier>> Verifier::FromTrust(const TrustMaterial& material,
                                                              const Clock* clock,
                                                              VerifierOptions options) {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  auto impl = std::make_unique<Impl>();
  impl->cache_limit = std::max<size_t>(options.certificate_cache_entries, 1);
  ASSIGN_OR_RETURN(auto anchors, Anchors::Build(material, impl->cache_limit));
  {
    absl::MutexLock lock(&impl->mu);
    impl->anchors = std::move(anchors);
  }
  return std::unique_ptr<Verifier>(new Verifier(std::move(impl), clock, options));
}

absl::StatusOr<std::unique_ptr<Verifier>> Verifier::FromCaPemFile(const std::string& path,
                                                                  const Clock* clock,
                                                                  VerifierOptions options) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  return FromCaPem(pem, clock, options);
}

absl::Status Verifier::Reload(const TrustMaterial& material) {
  ASSIGN_OR_RETURN(auto anchors, Anchors::Build(material, impl_->cache_limit));
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->anchors.swap(anchors);
  }
  // `anchors` now holds the old set: released here, or by the last check
  // still using it.
  return absl::OkStatus();
}

std::vector<TrustItem> Verifier::Authorities() const {
  auto anchors = impl_->Current();
  std::vector<TrustItem> out;
  for (size_t i = 0; i < anchors->cas.size(); ++i) {
    out.push_back(
        {NameLine(X509_get_subject_name(anchors->cas[i].get())), anchors->ca_not_after[i]});
  }
  return out;
}

std::vector<TrustItem> Verifier::RevocationLists() const {
  auto anchors = impl_->Current();
  std::vector<TrustItem> out;
  for (const CrlPtr& crl : anchors->crls) {
    absl::Time until = absl::InfiniteFuture();
    if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get()); next != nullptr) {
      if (auto t = crypto_internal::Asn1TimeToAbsl(next); t.ok()) until = *t;
    }
    out.push_back({NameLine(X509_CRL_get_issuer(crl.get())), until});
  }
  return out;
}

absl::Status Verifier::CheckChainPem(absl::string_view pem) const {
  auto cert = crypto_internal::ParseCertificatePem(pem);
  if (!cert.ok()) {
    return Unauthenticated(v1::MALFORMED_CERTIFICATE, "the certificate does not parse");
  }
  return impl_->Current()->Chain(cert->get()).status();
}

absl::StatusOr<Identity> Verifier::VerifyCertificatePem(absl::string_view pem,
                                                        absl::Time at) const {
  auto cert = crypto_internal::ParseCertificatePem(pem);
  if (!cert.ok()) {
    return Unauthenticated(v1::MALFORMED_CERTIFICATE, "the certificate does not parse");
  }
  return VerifyCertificate(crypto_internal::CertificateToDer(cert->get()), at);
}

absl::StatusOr<Identity> Verifier::VerifyCertificate(absl::string_view der, absl::Time at) const {
  ASSIGN_OR_RETURN(auto trusted, impl_->Trust(der));
  RETURN_IF_ERROR(CheckValidAt(*trusted, at, "the time of use"));
  return trusted->identity;
}

absl::StatusOr<VerifiedEnvelope> Verifier::Verify(absl::string_view envelope_bytes) const {
  if (envelope_bytes.size() > options_.max_envelope_bytes) {
    return Refuse(absl::StatusCode::kResourceExhausted, v1::MESSAGE_TOO_LARGE,
                  absl::StrCat("envelope of ", envelope_bytes.size(),
                               " bytes exceeds the limit of ", options_.max_envelope_bytes));
  }
  v1::Envelope envelope;
  if (!envelope.ParseFromArray(envelope_bytes.data(), static_cast<int>(envelope_bytes.size()))) {
    return Malformed("envelope bytes do not parse");
  }
  if (!envelope.has_signature() || envelope.header().empty()) {
    return Malformed("envelope has no header or no signature");
  }
  const v1::Signature& sig = envelope.signature();
  if (sig.algorithm() != v1::ED25519) {
    return Refuse(absl::StatusCode::kInvalidArgument, v1::UNSUPPORTED_ALGORITHM,
                  "signature algorithm must be ED25519");
  }
  ASSIGN_OR_RETURN(auto trusted, impl_->Trust(sig.certificate()));

  // libsodium refuses, besides wrong signatures, a non-canonical S (S ≥ L,
  // e.g. a malleated S + L) and small-order R or public keys.
  const std::string signed_bytes = SignedBytes(envelope.header(), envelope.body());
  if (sig.value().size() != crypto_sign_BYTES ||
      crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.value().data()),
                                  reinterpret_cast<const unsigned char*>(signed_bytes.data()),
                                  signed_bytes.size(), trusted->public_key.data()) != 0) {
    return Unauthenticated(v1::BAD_SIGNATURE, "signature does not verify");
  }

  VerifiedEnvelope out;
  if (!out.header.ParseFromString(envelope.header())) {
    return Malformed("signed header does not parse");
  }
  const v1::EnvelopeHeader& h = out.header;
  if (h.message_id().empty() || h.kind() == v1::MESSAGE_KIND_UNSPECIFIED ||
      !IsValidNodeId(h.sender_node()) || !IsValidNodeId(h.recipient_node()) || h.author().empty() ||
      !h.has_created_at()) {
    return Malformed(
        "header needs message_id, kind, sender_node, recipient_node, author and created_at");
  }
  if (!v1::MessageKind_IsValid(h.kind())) return Malformed("header kind is not a message kind");
  if (!IsCanonicalUuid(h.message_id()) ||
      (!h.referral_id().empty() && !IsCanonicalUuid(h.referral_id()))) {
    return Malformed("message_id and referral_id must be lowercase canonical UUIDs");
  }
  if (!IsValidTimestamp(h.created_at())) {
    return Malformed("created_at lies outside 0001-01-01 .. 9999-12-31 or has invalid nanos");
  }
  const absl::Time created_at =
      absl::FromUnixSeconds(h.created_at().seconds()) + absl::Nanoseconds(h.created_at().nanos());
  const absl::Time now = clock_->Now();
  RETURN_IF_ERROR(CheckValidAt(*trusted, created_at, "the envelope's time"));
  RETURN_IF_ERROR(CheckValidAt(*trusted, now, "now"));
  if (created_at > now + options_.max_clock_skew) {
    return Refuse(absl::StatusCode::kInvalidArgument, v1::CLOCK_SKEW,
                  "envelope created_at lies beyond the allowed clock skew");
  }
  const Identity& author = trusted->identity;
  if (h.author() != author.Uri()) {
    return Refuse(absl::StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH,
                  absl::StrCat("header author ", h.author(), " is not the certificate's identity ",
                               author.Uri()));
  }
  if (h.sender_node() != author.node) {
    return Refuse(
        absl::StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH,
        absl::StrCat("sender node ", h.sender_node(), " is not the author's node ", author.node));
  }
  if (!RoleMayAuthor(author.role, h.kind())) {
    return Refuse(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED,
                  absl::StrCat("a ", RoleName(author.role), " may not author ",
                               v1::MessageKind_Name(h.kind())));
  }
  out.author = author;
  out.body = std::move(*envelope.mutable_body());
  out.envelope_sha256 = Sha256(envelope_bytes);
  return out;
}

}  // namespace mir
