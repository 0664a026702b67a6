#ifndef MIR_BROKER_KEYRING_H_
#define MIR_BROKER_KEYRING_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "broker/config.h"
#include "crypto/sealing.h"
#include "mir/v1/registry.pb.h"

namespace mir::broker {

// A node's keys for sealed fields (PROTOCOL.md §11): its own X25519
// encryption key pairs (the first is current), the encryption certificates
// of every node (checked against the network CA), and its key-encryption
// keys. Read once at start; immutable, so thread-safe.
class Keyring {
 public:
  static absl::StatusOr<std::unique_ptr<Keyring>> Load(const BrokerOptions& options,
                                                       absl::Time now);

  // This node's pair with `key_id`, or null: a key released to an older
  // pair (before a rotation) still opens while its key file is listed.
  const EncryptionKeyPair* OwnPair(absl::string_view key_id) const;

  // The encryption certificate to wrap a referral key to `node` with: the
  // newest valid at `now` in the certificates folder, else the one
  // `registry` (may be null) lists for `node`, checked against the CA like
  // the others (PROTOCOL.md §12): a node that joins through the registry
  // needs no file copied to every region. FAILED_PRECONDITION UNKNOWN_KEY
  // when there is none.
  absl::StatusOr<EncryptionCertificate> CertificateFor(
      const std::string& node, absl::Time now, const v1::NodeRegistry* registry = nullptr) const;

  const KeyEncryptionKey& kek() const { return *kek_; }
  std::vector<const KeyEncryptionKey*> previous_keks() const;

 private:
  Keyring() = default;

  std::vector<EncryptionKeyPair> own_pairs_;
  std::multimap<std::string, EncryptionCertificate> certificates_;  // by node
  std::string ca_pem_;
  std::unique_ptr<KeyEncryptionKey> kek_;
  std::vector<std::unique_ptr<KeyEncryptionKey>> previous_keks_;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_KEYRING_H_
