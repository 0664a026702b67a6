#ifndef MIR_CLIENT_ACTIONS_H_
#define MIR_CLIENT_ACTIONS_H_

// One lifecycle action of a staff member or partner (a status change or a
// placement confirmation) and how its signed body is built from what the node
// said in PrepareResponse. Pure functions; thread-safe.

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crypto/signer.h"
#include "mir/v1/referrals.pb.h"
#include "mir/v1/status_change.pb.h"

namespace mir::client {

struct Action {
  v1::MessageKind kind = v1::STATUS_CHANGE;  // or PLACEMENT_CONFIRMATION
  std::string referral_id;
  // STATUS_CHANGE: to_state and the fields that state needs (reasons,
  // placement, transfer_date, forward.to_node). referral_id and from_state
  // are filled in when the body is built.
  v1::StatusChange change;
  // PLACEMENT_CONFIRMATION: project_ref and taken_in_charge_at.
  v1::PlacementConfirmation confirmation;
  // Prepare's destination_node: the region a forward goes to, else empty.
  std::string destination_node;
};

// The prefilled body the node sends with a STATUS_CHANGE's PrepareResponse
// (referral_id, from_state, and for a forward the whole `forward`); nullopt
// from a node that sends none.
std::optional<v1::StatusChange> BodyTemplate(const v1::PrepareResponse& response);

// The body to sign for a STATUS_CHANGE: `node_template` when the node sent
// one (else {referral_id, from_state = seen_state}), with the action's
// to_state, reasons, placement, transfer date and forward target laid over
// it. InvalidArgument if the template is for another referral, or if the
// result fails ValidateStatusChange.
absl::StatusOr<v1::StatusChange> BuildStatusChange(
    const Action& action, const std::optional<v1::StatusChange>& node_template,
    v1::ReferralState seen_state);

// The fields each to_state needs: a reason for REJECTED, CLOSED_NEGATIVE and
// WITHDRAWN (with reason_text for *_OTHER), reason_text of at most 500
// characters, placement for PLACEMENT_PROPOSED, transfer_date for
// TRANSFER_SCHEDULED, and for a forward (SUBMITTED) the target node and the
// original referral envelope. InvalidArgument naming the field.
absl::Status ValidateStatusChange(const v1::StatusChange& change);

absl::Status ValidateConfirmation(const v1::PlacementConfirmation& confirmation);

// The headers of `prepared` as SignUnderEachHeader signs them, before the
// signer fills author and sender_node: each must be of `kind` (an unset kind
// becomes it) and about `referral_id` (InvalidArgument otherwise, which would
// be a node bug); a header without created_at gets `now`. For a signer
// elsewhere (mir-console hands these to the browser).
absl::StatusOr<std::vector<v1::EnvelopeHeader>> HeadersToSign(const v1::PrepareResponse& prepared,
                                                              v1::MessageKind kind,
                                                              const std::string& referral_id,
                                                              absl::Time now);

// Signs the same `body` under every header of `prepared` (Signer fills author
// and sender_node). Each header must be of `kind` and about `referral_id`
// (InvalidArgument otherwise, which would be a node bug); a header without
// created_at gets `now`.
absl::StatusOr<std::vector<std::string>> SignUnderEachHeader(
    const Signer& signer, const v1::PrepareResponse& prepared, v1::MessageKind kind,
    const std::string& referral_id, const std::string& body, absl::Time now);

// The header of a new referral to `destination`, made by the client: a new
// referral needs nothing from the node but ids, so this spares Prepare's
// round trip. Fresh UUID v7 message and referral ids, sequence 1, created at
// `now`; in a PrepareResponse so that SignUnderEachHeader signs it.
v1::PrepareResponse NewReferralHeader(const std::string& destination, absl::Time now);

}  // namespace mir::client

#endif  // MIR_CLIENT_ACTIONS_H_
