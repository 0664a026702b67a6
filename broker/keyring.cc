#include "broker/keyring.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status_macros.h"

namespace mir::broker {
namespace {

absl::Status InField(absl::string_view field, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("config field 'privacy.", field, "': ", status.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Keyring>> Keyring::Load(const BrokerOptions& options,
                                                       absl::Time now) {
  std::unique_ptr<Keyring> ring(new Keyring);
  ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(options.ca_certificate));
  ring->ca_pem_ = ca_pem;
  for (const auto& files : options.encryption_keys) {
    auto pair = EncryptionKeyPair::FromPemFile(files.key);
    if (!pair.ok()) return InField("encryption_keys", pair.status());
    ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(files.certificate));
    auto cert = ParseEncryptionCertificate(cert_pem, ca_pem, now);
    const bool current = ring->own_pairs_.empty();
    if (!current && ReasonOf(cert.status()) == v1::CERTIFICATE_EXPIRED) {
      // An older key after a rotation: nobody wraps to it any more, but a
      // release made before may still arrive, and it still opens.
      MIR_LOG(INFO) << "encryption key " << files.key << " kept to open older releases ("
                    << "its certificate has expired)";
      ring->own_pairs_.push_back(std::move(*pair));
      continue;
    }
    if (!cert.ok()) {
      return InField("encryption_keys",
                     absl::Status(cert.status().code(),
                                  absl::StrCat(files.certificate, ": ", cert.status().message())));
    }
    if (cert->node != options.node_id || cert->public_key != pair->public_key()) {
      return InField("encryption_keys", absl::InvalidArgumentError(absl::StrCat(
                                            files.certificate, " is not the certificate of ",
                                            files.key, " for node ", options.node_id)));
    }
    ring->own_pairs_.push_back(std::move(*pair));
  }
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator(options.encryption_certificates_dir, error)) {
    if (entry.path().extension() != ".crt") continue;
    ASSIGN_OR_RETURN(std::string pem, ReadFile(entry.path().string()));
    auto cert = ParseEncryptionCertificate(pem, ca_pem, now);
    if (!cert.ok()) {
      // One bad file must not stop a node: the others still serve.
      MIR_LOG(WARNING) << "ignoring encryption certificate " << entry.path().string() << ": "
                       << cert.status().message();
      continue;
    }
    ring->certificates_.emplace(cert->node, std::move(*cert));
  }
  if (error) {
    return InField(
        "encryption_certificates_dir",
        absl::NotFoundError(absl::StrCat("cannot read ", options.encryption_certificates_dir, ": ",
                                         error.message())));
  }
  auto kek = KeyEncryptionKey::FromFile(options.key_encryption_key);
  if (!kek.ok()) return InField("key_encryption_key", kek.status());
  ring->kek_ = std::make_unique<KeyEncryptionKey>(std::move(*kek));
  for (const std::string& path : options.previous_key_encryption_keys) {
    auto previous = KeyEncryptionKey::FromFile(path);
    if (!previous.ok()) return InField("previous_key_encryption_keys", previous.status());
    ring->previous_keks_.push_back(std::make_unique<KeyEncryptionKey>(std::move(*previous)));
  }
  return ring;
}

const EncryptionKeyPair* Keyring::OwnPair(absl::string_view key_id) const {
  for (const EncryptionKeyPair& pair : own_pairs_) {
    if (pair.key_id() == key_id) return &pair;
  }
  return nullptr;
}

namespace {

// PEM text of a DER certificate, for the parser the folder's files go through.
std::string CertificatePem(const std::string& der) {
  const std::string base64 = absl::Base64Escape(der);
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) absl::StrAppend(&pem, base64.substr(i, 64), "\n");
  return pem + "-----END CERTIFICATE-----\n";
}

}  // namespace

absl::StatusOr<EncryptionCertificate> Keyring::CertificateFor(
    const std::string& node, absl::Time now, const v1::NodeRegistry* registry) const {
  const EncryptionCertificate* newest = nullptr;
  auto [begin, end] = certificates_.equal_range(node);
  for (auto it = begin; it != end; ++it) {
    const EncryptionCertificate& cert = it->second;
    if (cert.not_before > now || cert.not_after < now) continue;
    if (newest == nullptr || cert.not_before > newest->not_before) newest = &cert;
  }
  if (newest == nullptr && registry != nullptr) {
    for (const v1::RegistryEntry& entry : registry->nodes()) {
      if (entry.node_id() != node || entry.encryption_certificate().empty()) continue;
      auto listed =
          ParseEncryptionCertificate(CertificatePem(entry.encryption_certificate()), ca_pem_, now);
      if (listed.ok() && listed->node == node) return *listed;
      MIR_LOG(WARNING) << "the registry's encryption certificate for node " << node
                       << " is not usable: "
                       << (listed.ok() ? "it names another node" : listed.status().message());
    }
  }
  if (newest == nullptr) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY,
                    absl::StrCat("no valid encryption certificate for node ", node,
                                 ": add it to privacy.encryptionCertificatesDir"));
  }
  return *newest;
}

std::vector<const KeyEncryptionKey*> Keyring::previous_keks() const {
  std::vector<const KeyEncryptionKey*> keks;
  for (const auto& kek : previous_keks_) keks.push_back(kek.get());
  return keks;
}

}  // namespace mir::broker
