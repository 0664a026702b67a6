#ifndef MIR_STORAGE_LIFECYCLE_H_
#define MIR_STORAGE_LIFECYCLE_H_

// The referral lifecycle of proto/PROTOCOL.md §10 as one pure function, used by the
// Store on every applied event and usable by the broker and client to refuse
// early (docs/STORAGE.md, "Lifecycle"). Thread-safe; no I/O.
//
// Sides, from the referral's metadata: the actor is on the *origin* side when
// actor.node == origin_node, the *destination* when actor.node ==
// destination_node, and on the *receiving* side when it is not the origin but
// the destination or the *national* node (StoreOptions::national_node). Any
// other node has no part in the referral.
//
//   (unknown)            -> SUBMITTED            operator of the origin (meta required), or
//                                                of the national node routing it on here
//   UNDER_EVALUATION     -> SUBMITTED            operator of the national node, routing on a
//                                                referral addressed to it: meta names the
//                                                new destination
//   REJECTED             -> SUBMITTED            the same, once a region it routed the
//                                                referral to rejected it (the one way out
//                                                of a final state)
//   SUBMITTED            -> RECEIVED             node, receiving side
//   RECEIVED             -> UNDER_EVALUATION     operator, receiving side
//   UNDER_EVALUATION     -> INFO_REQUESTED       operator, receiving side
//   INFO_REQUESTED       -> UNDER_EVALUATION     operator, origin
//   UNDER_EVALUATION     -> PLACEMENT_PROPOSED   partner of the destination
//   PLACEMENT_PROPOSED   -> PLACEMENT_ACCEPTED   operator, origin
//   PLACEMENT_ACCEPTED   -> TRANSFER_SCHEDULED   operator of origin or destination
//   TRANSFER_SCHEDULED   -> PLACEMENT_CONFIRMED  partner of the destination
//   PLACEMENT_CONFIRMED  -> CLOSED_POSITIVE      operator or node of national or destination
//   UNDER_EVALUATION,
//   PLACEMENT_PROPOSED   -> REJECTED             operator or partner, receiving side
//   any open             -> CLOSED_NEGATIVE      operator or node of the national node
//   any open             -> WITHDRAWN            operator of the origin
//
// Open = not CLOSED_POSITIVE, REJECTED, CLOSED_NEGATIVE or WITHDRAWN.

#include <string>

#include "absl/status/status.h"
#include "mir/v1/status_change.pb.h"
#include "storage/store.h"

namespace mir::storage {

// OK if `event` may be applied to `current` (nullptr: the referral is
// unknown here). Refusals, each with a message naming states and roles only:
//   NOT_FOUND UNKNOWN_REFERRAL         unknown referral and to_state != SUBMITTED
//   INVALID_ARGUMENT INVALID_FIELD     SUBMITTED without (consistent) metadata,
//                                      or to_state not a lifecycle state
//   FAILED_PRECONDITION INVALID_TRANSITION
//                                      "cannot move referral from RECEIVED to
//                                      PLACEMENT_ACCEPTED"
//   PERMISSION_DENIED ROLE_MAY_NOT_TRANSITION
//                                      allowed transition, wrong role or side;
//                                      the message says who may make it
// Sequence numbers are not checked here (the Store does that).
absl::Status CheckTransition(const ReferralRecord* current, const Event& event,
                             const std::string& national_node);

// Not CLOSED_POSITIVE, REJECTED, CLOSED_NEGATIVE or WITHDRAWN (nor UNSPECIFIED).
bool IsOpenState(v1::ReferralState state);

// "UNDER_EVALUATION"; "UNKNOWN(n)" outside the enum.
std::string StateName(v1::ReferralState state);

}  // namespace mir::storage

#endif  // MIR_STORAGE_LIFECYCLE_H_
