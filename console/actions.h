#ifndef MIR_CONSOLE_ACTIONS_H_
#define MIR_CONSOLE_ACTIONS_H_

// Actions signed in the browser (docs/CONSOLE-API.md, "Signing an action in
// the browser"): the console prepares the headers and body, hands out the
// PROTOCOL.md §3 signed bytes under a single-use token, and on submit builds
// each envelope from the person's signatures. It never signs. Also: which
// actions the lifecycle and the person's role allow on a referral now.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "console/sessions.h"
#include "mir/v1/referrals.pb.h"

namespace mir::console {

// One prepared action, waiting for its signatures.
struct UnsignedAction {
  std::string session_id;
  v1::MessageKind kind = v1::MESSAGE_KIND_UNSPECIFIED;
  std::string referral_id;
  std::vector<std::string> headers;  // serialized EnvelopeHeader, author and sender filled
  std::string body;                  // serialized payload, the same under every header
  std::string referral_key;          // a new referral's key (SubmitRequest.referral_key)
};

// Headers (HeadersToSign of client/actions.h) made the person's: author and
// sender_node set as Signer::SignEnvelope does, then serialized once.
absl::StatusOr<UnsignedAction> MakeUnsigned(const Session& session,
                                            const v1::PrepareResponse& prepared,
                                            v1::MessageKind kind, const std::string& referral_id,
                                            std::string body, absl::Time now);

// Base64 of SignedBytes(header, body) for each header, in order.
std::vector<std::string> BytesToSign(const UnsignedAction& action);

// The envelopes, each with Signature{ED25519, certificate_der, signature}.
// INVALID_ARGUMENT (field "signatures") unless there is one base64 64-byte
// signature per header.
absl::StatusOr<std::vector<std::string>> SignedEnvelopes(
    const UnsignedAction& action, const std::string& certificate_der,
    const std::vector<std::string>& signatures);

// Prepared actions by token: good once, for `ttl`, for the session that
// prepared them. Thread-safe.
class PendingActions {
 public:
  PendingActions(const Clock* clock, absl::Duration ttl = absl::Minutes(5),
                 size_t max_pending = 10000);
  std::string Add(UnsignedAction action);
  // Removes and returns the action. INVALID_ARGUMENT TOKEN_UNKNOWN when the
  // token is unknown, used, expired, or another session's (then it stays).
  absl::StatusOr<UnsignedAction> Take(absl::string_view token, const std::string& session_id);
  // Drops every action of a session (logout).
  void EndSession(const std::string& session_id);
  size_t size() const;

 private:
  struct Entry {
    UnsignedAction action;
    absl::Time at;
  };
  const Clock* clock_;
  const absl::Duration ttl_;
  const size_t max_pending_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> pending_ ABSL_GUARDED_BY(mu_);  // by SHA-256 of token
};

// What the person may do now on the referral in `summary`, as a JSON array:
// [{"kind": "STATUS_CHANGE", "toState": "UNDER_EVALUATION", "reasons": [...],
//   "freeText": true, "fields": [...], "destinationNode": false}, ...].
// From storage/lifecycle.h (CheckTransition) for the person's role and node,
// and broker/authorization.h for routing on. A routing on also lists
// `destinations`, the suggestions the page offers for its node field, from
// `destinations` (asked only when a routing on is allowed).
std::string AllowedActionsJson(
    const v1::ReferralSummary& summary, const Identity& person, const std::string& national_node,
    const std::function<std::vector<std::string>()>& destinations = nullptr);

// The regions the national node's staff could route the referral in `view`
// on to, as suggestions: the node's peers in `status`, less the origin, the
// national node and every node that had the referral (its destination, an
// author in its timeline), which the lifecycle refuses (PROTOCOL.md §10.6).
// The node checks the choice again when it is signed.
std::vector<std::string> RouteOnCandidates(const v1::ReferralView& view,
                                           const v1::NodeStatus& status,
                                           const std::string& national_node);

}  // namespace mir::console

#endif  // MIR_CONSOLE_ACTIONS_H_
