#ifndef MIR_BROKER_AUTHORIZATION_H_
#define MIR_BROKER_AUTHORIZATION_H_

// Who may do what at a node: the one place for the caller checks of the
// Exchange and Referrals services (PROTOCOL.md §6, §10.7). The identity is
// always the TLS peer's (broker/tls.h PeerIdentity); which kinds a role may
// author is the message-level policy of crypto/identity.h (RoleMayAuthor),
// which the verifier applies to every envelope; which transitions a role may
// make is storage/lifecycle.h. Thread-safe; no I/O.
//
// Relation: whether the caller belongs to this node ("own") or another.
//
//   action            node         operator          partner
//                     own  other   own    other      own       other
//   kDeliver          yes  yes     PEER   PEER       PEER      PEER
//   kList, kGet,
//   kWatch, kPrepare,
//   kSubmit           IDM  IDM     yes    IDM        yes (*)   IDM
//   kCirculate,
//   kListDeadLetters,
//   kRequeue,
//   kErase,
//   kLegalHold,
//   kNodeStatus       IDM  IDM     yes    IDM        ROLE      IDM
//   kRouteOn          ROLE ROLE    yes at ROLE       ROLE      ROLE
//                                  the national node
//
//   PEER = PERMISSION_DENIED PEER_MISMATCH      (only nodes deliver)
//   IDM  = PERMISSION_DENIED IDENTITY_MISMATCH  (a node serves its own
//          staff and partners, never another node's, nor a node)
//   ROLE = PERMISSION_DENIED ROLE_NOT_ALLOWED
//   (*)  a partner reaches only the referrals circulated to it: any other is
//        NOT_FOUND UNKNOWN_REFERRAL, as if it did not exist (ReferralAccess).
//
// A node delivers the envelopes its own people wrote; a relay (the national
// node, by default) also those written at other nodes (DeliveredBy).
//
// Routing on (kRouteOn) embeds the original REFERRAL, every field of it, in
// the forward: only national operators, at the national node, get one.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "crypto/identity.h"

namespace mir::broker {

enum class Action {
  kDeliver,
  kList,
  kGet,
  kWatch,
  kPrepare,
  kSubmit,
  kCirculate,
  kListDeadLetters,
  kRequeue,
  kErase,
  kLegalHold,
  kNodeStatus,
  kRouteOn,
};

class Authorization {
 public:
  Authorization(std::string node_id, std::string national_node, std::vector<std::string> relays)
      : node_id_(std::move(node_id)),
        national_node_(std::move(national_node)),
        relays_(std::move(relays)) {}

  // OK if `caller` may take `action` at this node; the refusal of the table
  // above otherwise, its message naming identities and the action only.
  absl::Status Check(const Identity& caller, Action action) const;

  // For a call about one referral that `Check` allowed: OK unless the caller
  // is a partner to whom the referral was not circulated (then NOT_FOUND
  // UNKNOWN_REFERRAL, the answer for a referral that does not exist).
  absl::Status ReferralAccess(const Identity& caller, const std::string& referral_id,
                              bool circulated_to_caller) const;

  // For a Deliver that `Check` allowed: OK if node `peer` may deliver an
  // envelope whose sender node is `sender_node` (its own, or any as a
  // relay); PERMISSION_DENIED PEER_MISMATCH otherwise.
  absl::Status DeliveredBy(const Identity& peer, const std::string& sender_node) const;

  const std::string& node_id() const { return node_id_; }

 private:
  const std::string node_id_;
  const std::string national_node_;
  const std::vector<std::string> relays_;
};

// "Deliver", "Circulate", ... for messages and test names.
const char* ActionName(Action action);

}  // namespace mir::broker

#endif  // MIR_BROKER_AUTHORIZATION_H_
