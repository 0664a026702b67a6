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
//   action            node         operator          partner          console
//                     own  other   own    other      own       other  own   other
//   kDeliver          yes  yes     PEER   PEER       PEER      PEER   PEER  PEER
//   kList, kGet,
//   kWatch, kPrepare,
//   kSubmit           IDM  IDM     yes    IDM        yes (*)   IDM    CON   IDM
//   kCirculate,
//   kListDeadLetters,
//   kRequeue,
//   kErase,
//   kLegalHold,
//   kNodeStatus,
//   kStatistics,
//   kReports,
//   kServiceRequests  IDM  IDM     yes    IDM        ROLE      IDM    CON   IDM
//   kPublicReport     IDM  IDM     ROLE   IDM        ROLE      IDM    yes   IDM
//   kRouteOn          ROLE ROLE    yes at ROLE       ROLE      ROLE   ROLE  ROLE
//                                  the national node
//
//   PEER = PERMISSION_DENIED PEER_MISMATCH      (only nodes deliver)
//   IDM  = PERMISSION_DENIED IDENTITY_MISMATCH  (a node serves its own
//          staff and partners, never another node's, nor a node)
//   ROLE = PERMISSION_DENIED ROLE_NOT_ALLOWED
//   CON  = PERMISSION_DENIED CONSOLE_PROOF      (a console by itself may do
//          nothing: its calls are checked as the person its sign-in proof
//          names, ConsolePerson, PROTOCOL.md §13)
//   kPublicReport: the console by itself, for the public report form it
//          serves (PROTOCOL.md §14.4); no person is signed in there.
//   (*)  a partner reaches only the referrals circulated to it: any other is
//        NOT_FOUND UNKNOWN_REFERRAL, as if it did not exist (ReferralAccess).
//
// A node delivers the envelopes its own people wrote; a relay (the national
// node, by default) also those written at other nodes (DeliveredBy).
//
// Routing on (kRouteOn) embeds the original REFERRAL, every field of it, in
// the forward: only national operators, at the national node, get one.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/identity.h"
#include "crypto/verifier.h"

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
  kStatistics,
  kReports,          // Reports.Record, Triage, Link, List, Get
  kPublicReport,     // Reports.RecordPublic, FollowUp
  kServiceRequests,  // every ServiceRequests call, the roster's too
};
// The last action: tests walk every action up to it. A new action goes
// before it, or becomes it.
inline constexpr Action kLastAction = Action::kServiceRequests;

// The person a console call acts for, and until when (the proof's
// issued_at + the allowed age).
struct ConsoleCaller {
  Identity person;
  absl::Time until;
  std::string certificate;  // the person's, DER: a long call re-checks it
};

class ConsoleProofCache;

class Authorization {
 public:
  Authorization(std::string node_id, std::string national_node, std::vector<std::string> relays);

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

  // For a call whose TLS peer is `console`, this node's console: the
  // person named by `proofs`, every value of the call's metadata
  // mir-console-login-bin (a serialized v1::ConsoleLoginProof each), checked
  // with crypto/console_login.h VerifyConsoleLogin (this node, `now`,
  // `max_age`). Exactly one proof is required; any refusal is
  // PERMISSION_DENIED CONSOLE_PROOF, its message naming the underlying
  // reason. Verified proofs are remembered by SHA-256 (at most
  // kConsoleProofCacheEntries), so a console costs one signature check per
  // sign-in; the person's certificate is checked against `verifier` (validity
  // now, revocation) on every call. The caller then calls Check with the
  // person, never with the console.
  absl::StatusOr<ConsoleCaller> ConsolePerson(const Identity& console,
                                              const std::vector<absl::string_view>& proofs,
                                              const Verifier& verifier, absl::Time now,
                                              absl::Duration max_age) const;

  static constexpr size_t kConsoleProofCacheEntries = 4096;

  const std::string& node_id() const { return node_id_; }

 private:
  const std::string node_id_;
  const std::string national_node_;
  const std::vector<std::string> relays_;
  // Shared by copies; its own lock.
  std::shared_ptr<ConsoleProofCache> console_proofs_;
};

// "Deliver", "Circulate", ... for messages and test names.
const char* ActionName(Action action);

}  // namespace mir::broker

#endif  // MIR_BROKER_AUTHORIZATION_H_
