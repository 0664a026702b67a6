#ifndef MIR_BROKER_NODE_H_
#define MIR_BROKER_NODE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "broker/config.h"
#include "common/clock.h"
#include "crypto/identity.h"
#include "crypto/signer.h"
#include "crypto/verifier.h"
#include "storage/store.h"

namespace mir::broker {

struct SubmitResult {
  std::string referral_id;
  std::string message_id;
  v1::ReferralState state = v1::REFERRAL_STATE_UNSPECIFIED;  // at this node, after it
};

// The node's core, below the RPC layer: what happens to an envelope that
// arrives from a peer node or is submitted by a local operator or partner.
// Thread-safe.
class Node {
 public:
  // Loads the node's key and certificate and the CA, and opens the store.
  static absl::StatusOr<std::unique_ptr<Node>> Create(const BrokerOptions& options,
                                                      const Clock* clock);

  // Exchange.Deliver from the TLS-authenticated `peer`. Verifies the
  // envelope, checks the peer may deliver it, and in one transaction stores
  // it in the inbox exactly once, applies its event (or, at a relay, queues
  // it unchanged for the next hop) and signs the receipt. Returns the
  // receipt envelope, durable when returned. A duplicate returns the
  // original receipt and changes nothing.
  absl::StatusOr<std::string> Deliver(const Identity& peer, const std::string& envelope_bytes);

  // An envelope authored at this node (an operator's referral, a status
  // change, a partner's confirmation): verified, applied and queued for its
  // recipient in one transaction. `caller` is the TLS identity, which must be
  // the envelope's author.
  absl::StatusOr<SubmitResult> Submit(const Identity& caller, const std::string& envelope_bytes);

  // Called after a commit that queued envelopes for `peer`.
  void SetOutboxListener(std::function<void(const std::string& peer)> listener) {
    outbox_listener_ = std::move(listener);
  }

  const BrokerOptions& options() const { return options_; }
  storage::Store& store() { return *store_; }
  const Verifier& verifier() const { return *verifier_; }
  const Signer& signer() const { return *signer_; }
  const Clock* clock() const { return clock_; }

 private:
  Node(BrokerOptions options, const Clock* clock, std::unique_ptr<Signer> signer,
       std::unique_ptr<Verifier> verifier, std::unique_ptr<storage::Store> store);

  // Inside a transaction: the node's own RECEIVED event for a referral it
  // has just taken in, signed by the node and queued back to the origin.
  absl::Status AcknowledgeReceived(storage::Txn& txn, const storage::Event& submitted,
                                   std::vector<std::string>& woken);
  void Notify(const std::vector<std::string>& peers) const;

  const BrokerOptions options_;
  const Clock* const clock_;
  const std::unique_ptr<Signer> signer_;
  const std::unique_ptr<Verifier> verifier_;
  const std::unique_ptr<storage::Store> store_;
  std::function<void(const std::string&)> outbox_listener_;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_NODE_H_
