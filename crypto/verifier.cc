#include "crypto/verifier.h"

#include <openssl/err.h>
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

struct Verifier::Impl {
  X509Ptr ca;
  absl::Time ca_not_before, ca_not_after;
  crypto_internal::X509StorePtr store;
  size_t cache_limit = 0;

  mutable absl::Mutex mu;
  mutable absl::flat_hash_map<std::string, std::shared_ptr<const TrustedCertificate>> cache
      ABSL_GUARDED_BY(mu);

  absl::StatusOr<std::shared_ptr<const TrustedCertificate>> Trust(absl::string_view der) const {
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
    crypto_internal::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf->get(), nullptr) != 1) {
      return absl::InternalError("cannot set up certificate verification");
    }
    // Validity is checked by us at the envelope's time and at now, below.
    X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
    if (X509_verify_cert(ctx.get()) != 1) {
      const int err = X509_STORE_CTX_get_error(ctx.get());
      ERR_clear_error();
      return Unauthenticated(v1::UNTRUSTED_CERTIFICATE,
                             absl::StrCat("certificate does not chain to the network CA (",
                                          X509_verify_cert_error_string(err), ")"));
    }
    if (X509_check_ca(leaf->get()) != 0) {
      return Unauthenticated(v1::UNTRUSTED_CERTIFICATE, "a CA certificate may not sign messages");
    }
    ASSIGN_OR_RETURN(Identity identity, CertificateIdentity(leaf->get()));
    ASSIGN_OR_RETURN(absl::Time nb,
                     crypto_internal::Asn1TimeToAbsl(X509_get0_notBefore(leaf->get())));
    ASSIGN_OR_RETURN(absl::Time na,
                     crypto_internal::Asn1TimeToAbsl(X509_get0_notAfter(leaf->get())));
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
    trusted->not_before = std::max(nb, ca_not_before);
    trusted->not_after = std::min(na, ca_not_after);
    absl::MutexLock lock(&mu);
    if (cache.size() >= cache_limit) cache.clear();
    cache.emplace(fingerprint, trusted);
    return trusted;
  }
};

Verifier::Verifier(std::unique_ptr<Impl> impl, const Clock* clock, VerifierOptions options)
    : impl_(std::move(impl)), clock_(clock), options_(options) {}

Verifier::~Verifier() = default;

absl::StatusOr<std::unique_ptr<Verifier>> Verifier::FromCaPem(absl::string_view ca_pem,
                                                              const Clock* clock,
                                                              VerifierOptions options) {
  RETURN_IF_ERROR(crypto_internal::EnsureSodium());
  auto impl = std::make_unique<Impl>();
  ASSIGN_OR_RETURN(impl->ca, crypto_internal::ParseCertificatePem(ca_pem));
  ASSIGN_OR_RETURN(impl->ca_not_before,
                   crypto_internal::Asn1TimeToAbsl(X509_get0_notBefore(impl->ca.get())));
  ASSIGN_OR_RETURN(impl->ca_not_after,
                   crypto_internal::Asn1TimeToAbsl(X509_get0_notAfter(impl->ca.get())));
  impl->store.reset(X509_STORE_new());
  if (!impl->store || X509_STORE_add_cert(impl->store.get(), impl->ca.get()) != 1) {
    return absl::InternalError("cannot build the CA trust store");
  }
  // OpenSSL 3.0 fills the CA certificate's cache of decoded extensions on
  // first use, under the certificate's lock, and then reads it without the
  // lock: two threads verifying at once through a new Verifier race there
  // (ThreadSanitizer shows one writing the key identifier another compares).
  // Filled here, before the Verifier is shared, it is only read afterwards.
  (void)X509_get_extension_flags(impl->ca.get());
  impl->cache_limit = std::max<size_t>(options.certificate_cache_entries, 1);
  return std::unique_ptr<Verifier>(new Verifier(std::move(impl), clock, options));
}

absl::StatusOr<std::unique_ptr<Verifier>> Verifier::FromCaPemFile(const std::string& path,
                                                                  const Clock* clock,
                                                                  VerifierOptions options) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  return FromCaPem(pem, clock, options);
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
