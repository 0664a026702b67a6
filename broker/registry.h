#ifndef MIR_BROKER_REGISTRY_H_
#define MIR_BROKER_REGISTRY_H_

// The node registry a node holds (PROTOCOL.md §12): signed by the network
// authority, checked here against the CA, and asked which destinations are
// inside their validity dates.

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "mir/v1/registry.pb.h"

namespace mir::broker {

// The entries' rules (PROTOCOL.md §12.1), each failure INVALID_FIELD
// (InvalidArgument) naming the entry and field: node_id a node id and
// unique; role set; region_code "IT", ISO 3166-2 "IT-<2 alphanumerics>" or
// NUTS-2 "IT<letter><digit>"; address "host:port"; valid_from present;
// valid_until, when present, after valid_from; version > 0.
absl::Status ValidateRegistry(const v1::NodeRegistry& registry);

// Parses serialized SignedRegistry bytes (as `mir-registry sign` writes
// them, and as GetRegistry carries them), verifies them with the CA (PEM
// text) at `now` (crypto/registry_signature.h) and validates the entries.
absl::StatusOr<v1::NodeRegistry> VerifySignedRegistry(const std::string& signed_bytes,
                                                      const std::string& ca_pem, absl::Time now);
// The same for a file; errors start with its path.
absl::StatusOr<v1::NodeRegistry> LoadSignedRegistryFile(const std::string& path,
                                                        const std::string& ca_pem, absl::Time now);

// The newest verified registry this node has. Thread-safe.
class NodeRegistryHolder {
 public:
  // Takes `registry` (already verified and validated) if its version is
  // higher than the one held; returns whether it did. An older or equal
  // version is ignored: a replayed old registry cannot bring back a node
  // whose registration ended.
  // `signed_bytes` are what it was verified from, handed on by GetRegistry.
  bool Offer(v1::NodeRegistry registry, std::string signed_bytes = "");

  // 0 when none is held.
  uint64_t version() const;
  // The held registry's SignedRegistry bytes ("" when none).
  std::string signed_bytes() const;
  // The held registry, or null.
  std::shared_ptr<const v1::NodeRegistry> current() const;

  // OK when no registry is held, when `node` is not in it (routing decides,
  // PROTOCOL.md §7), or when `at` lies in [valid_from, valid_until).
  // Otherwise FAILED_PRECONDITION NODE_NOT_VALID: "node X's registration
  // ended on <date>" / "begins on <date>".
  absl::Status CheckDestination(const std::string& node, absl::Time at) const;

  // node id -> address of every entry valid at `at`: the peers a relay
  // learns from the registry.
  std::map<std::string, std::string> Addresses(absl::Time at) const;

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const v1::NodeRegistry> registry_ ABSL_GUARDED_BY(mu_);
  std::string signed_bytes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mir::broker

#endif  // MIR_BROKER_REGISTRY_H_
