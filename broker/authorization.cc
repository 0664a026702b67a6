#include "broker/authorization.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace mir::broker {
namespace {

enum class Audience {
  kNodes,          // any node of the network
  kOwnStaff,       // this node's operators and partners
  kOwnOperators,   // this node's operators
  kNationalStaff,  // the national node's operators, at the national node
};

// The table of authorization.h, as data.
Audience AudienceOf(Action action) {
  switch (action) {
    case Action::kDeliver:
      return Audience::kNodes;
    case Action::kList:
    case Action::kGet:
    case Action::kWatch:
    case Action::kPrepare:
    case Action::kSubmit:
      return Audience::kOwnStaff;
    case Action::kCirculate:
    case Action::kListDeadLetters:
    case Action::kRequeue:
    case Action::kErase:
    case Action::kLegalHold:
    case Action::kNodeStatus:
      return Audience::kOwnOperators;
    case Action::kRouteOn:
      return Audience::kNationalStaff;
  }
  return Audience::kOwnOperators;
}

absl::Status Denied(v1::ErrorReason reason, absl::string_view message) {
  return MirError(absl::StatusCode::kPermissionDenied, reason, message);
}

}  // namespace

const char* ActionName(Action action) {
  switch (action) {
    case Action::kDeliver:
      return "Deliver";
    case Action::kList:
      return "List";
    case Action::kGet:
      return "Get";
    case Action::kWatch:
      return "Watch";
    case Action::kPrepare:
      return "Prepare";
    case Action::kSubmit:
      return "Submit";
    case Action::kCirculate:
      return "Circulate";
    case Action::kListDeadLetters:
      return "ListDeadLetters";
    case Action::kRequeue:
      return "Requeue";
    case Action::kErase:
      return "Erase";
    case Action::kLegalHold:
      return "SetLegalHold";
    case Action::kNodeStatus:
      return "GetNodeStatus";
    case Action::kRouteOn:
      return "RouteOn";
  }
  return "?";
}

absl::Status Authorization::Check(const Identity& caller, Action action) const {
  const Audience audience = AudienceOf(action);
  if (audience == Audience::kNodes) {
    if (caller.role == Role::kNode) return absl::OkStatus();
    return Denied(v1::PEER_MISMATCH,
                  absl::StrCat(caller.Uri(), " is not a node: only nodes deliver envelopes"));
  }
  if (audience == Audience::kNationalStaff) {
    if (caller.role == Role::kOperator && caller.node == national_node_ &&
        node_id_ == national_node_) {
      return absl::OkStatus();
    }
    return Denied(v1::ROLE_NOT_ALLOWED,
                  absl::StrCat("only operators of the national node ", national_node_,
                               " route a referral on to another node"));
  }
  if (caller.node != node_id_ || caller.role == Role::kNode) {
    return Denied(v1::IDENTITY_MISMATCH,
                  absl::StrCat("node ", node_id_, " serves its own operators and partners, not ",
                               caller.Uri()));
  }
  if (audience == Audience::kOwnOperators && caller.role != Role::kOperator) {
    return Denied(v1::ROLE_NOT_ALLOWED, "only operators may do this");
  }
  return absl::OkStatus();
}

absl::Status Authorization::ReferralAccess(const Identity& caller, const std::string& referral_id,
                                           bool circulated_to_caller) const {
  if (caller.role != Role::kPartner || circulated_to_caller) return absl::OkStatus();
  return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL,
                  absl::StrCat("referral ", referral_id, " is not known to you at this node"));
}

absl::Status Authorization::DeliveredBy(const Identity& peer,
                                        const std::string& sender_node) const {
  if (peer.node == sender_node ||
      std::find(relays_.begin(), relays_.end(), peer.node) != relays_.end()) {
    return absl::OkStatus();
  }
  return Denied(
      v1::PEER_MISMATCH,
      absl::StrCat("node ", peer.node, " may not deliver envelopes sent by ", sender_node));
}

}  // namespace mir::broker
