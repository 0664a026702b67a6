#include "storage/lifecycle.h"

#include <initializer_list>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace mir::storage {
namespace {

using v1::ReferralState;

// What the actor is relative to one referral.
struct Actor {
  Role role;
  bool origin;       // actor.node == origin_node
  bool destination;  // actor.node == destination_node
  bool national;     // actor.node == national node
  // The destination, or the national node (which routes and coordinates);
  // never a node that has no part in the referral, nor one it was routed
  // away from.
  bool receiving() const { return !origin && (destination || national); }
};

struct Rule {
  std::vector<ReferralState> from;  // empty: any open state
  ReferralState to;
  bool (*allowed)(const Actor&);
  const char* who;  // completes "only <who> may move a referral from X to Y"
};

bool Is(const Actor& a, std::initializer_list<Role> roles) {
  for (Role r : roles) {
    if (a.role == r) return true;
  }
  return false;
}

const std::vector<Rule>& Rules() {
  using enum v1::ReferralState;
  static const auto* const kRules = new std::vector<Rule>{
      {{SUBMITTED},
       RECEIVED,
       [](const Actor& a) { return Is(a, {Role::kNode}) && a.receiving(); },
       "the receiving node (role node of the destination or the national node)"},
      {{UNDER_EVALUATION, REJECTED},
       SUBMITTED,
       [](const Actor& a) { return Is(a, {Role::kOperator}) && a.national; },
       "an operator of the national node, routing it on to another node"},
      {{RECEIVED},
       UNDER_EVALUATION,
       [](const Actor& a) { return Is(a, {Role::kOperator}) && a.receiving(); },
       "an operator of the destination or the national node"},
      {{UNDER_EVALUATION},
       INFO_REQUESTED,
       [](const Actor& a) { return Is(a, {Role::kOperator}) && a.receiving(); },
       "an operator of the destination or the national node"},
      {{INFO_REQUESTED},
       UNDER_EVALUATION,
       [](const Actor& a) { return Is(a, {Role::kOperator}) && a.origin; },
       "an operator of the origin node"},
      {{UNDER_EVALUATION},
       PLACEMENT_PROPOSED,
       [](const Actor& a) { return Is(a, {Role::kPartner}) && a.destination; },
       "a partner of the destination node"},
      {{PLACEMENT_PROPOSED},
       PLACEMENT_ACCEPTED,
       [](const Actor& a) { return Is(a, {Role::kOperator}) && a.origin; },
       "an operator of the origin node"},
      {{PLACEMENT_ACCEPTED},
       TRANSFER_SCHEDULED,
       [](const Actor& a) { return Is(a, {Role::kOperator}) && (a.origin || a.destination); },
       "an operator of the origin or destination node"},
      {{TRANSFER_SCHEDULED},
       PLACEMENT_CONFIRMED,
       [](const Actor& a) { return Is(a, {Role::kPartner}) && a.destination; },
       "a partner of the destination node"},
      {{PLACEMENT_CONFIRMED},
       CLOSED_POSITIVE,
       [](const Actor& a) {
         return Is(a, {Role::kOperator, Role::kNode}) && (a.national || a.destination);
       },
       "an operator or node of the national or destination node"},
      {{UNDER_EVALUATION, PLACEMENT_PROPOSED},
       REJECTED,
       [](const Actor& a) {
         return Is(a, {Role::kOperator, Role::kPartner}) && a.receiving();
       },
       "an operator or partner of the destination or the national node"},
      {{},
       CLOSED_NEGATIVE,
       [](const Actor& a) {
         return Is(a, {Role::kOperator, Role::kNode}) && a.national;
       },
       "an operator or node of the national node"},
      {{},
       WITHDRAWN,
       [](const Actor& a) { return Is(a, {Role::kOperator}) && a.origin; },
       "an operator of the origin node"},
  };
  return *kRules;
}

bool RuleCovers(const Rule& rule, ReferralState from, ReferralState to) {
  if (rule.to != to) return false;
  if (rule.from.empty()) return IsOpenState(from);
  for (ReferralState s : rule.from) {
    if (s == from) return true;
  }
  return false;
}

absl::Status CheckSubmission(const Event& event, const std::string& national_node) {
  if (!event.referral.has_value()) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    "a SUBMITTED event must carry the referral metadata");
  }
  const ReferralMeta& meta = *event.referral;
  if (meta.referral_id != event.referral_id) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    "referral metadata is for a different referral id than the event");
  }
  if (!IsValidNodeId(meta.origin_node) || !IsValidNodeId(meta.destination_node)) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    "referral metadata needs valid origin and destination node ids");
  }
  // The national node's operator submits a referral it routes on to a node
  // that has not seen it yet (the forward joins that node to the referral).
  const bool routed_on = event.actor.node == national_node && meta.origin_node != national_node;
  if (event.actor.role != Role::kOperator || (event.actor.node != meta.origin_node && !routed_on)) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION,
                    "only an operator of the origin node may submit a referral");
  }
  return absl::OkStatus();
}

// Routing on (§10.6) starts where the national node stands on the referral:
// evaluating it itself (it was addressed to the national node), or after a
// region it routed it to rejected it. It keeps the origin and names a new
// destination that never held the referral: not the origin, not the national
// node, not a region it was routed to before (whose copy stays closed).
absl::Status CheckRoutedOn(const ReferralRecord& current, const Event& event,
                           const std::string& national_node) {
  const ReferralMeta& meta = current.meta;
  const bool at_national = meta.destination_node == national_node;
  if (current.state == v1::UNDER_EVALUATION && !at_national) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION,
                    absl::StrCat("cannot move referral from UNDER_EVALUATION to SUBMITTED: it is "
                                 "under evaluation at ",
                                 meta.destination_node,
                                 ", and only the national node's own evaluation is routed on"));
  }
  if (current.state == v1::REJECTED && (at_national || meta.origin_node == national_node)) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION,
                    "cannot move referral from REJECTED to SUBMITTED: only a referral that the "
                    "national node routed on to a region, and that region rejected, is routed on "
                    "again");
  }
  if (!event.referral.has_value() || event.referral->origin_node != meta.origin_node ||
      !IsValidNodeId(event.referral->destination_node)) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    "routing a referral on needs its metadata with the same origin and a new "
                    "destination node");
  }
  const std::string& to = event.referral->destination_node;
  const char* what = to == meta.origin_node        ? "its origin"
                     : to == national_node         ? "the national node"
                     : to == meta.destination_node ? "its current destination"
                                                   : nullptr;
  if (what != nullptr) {
    return MirError(
        absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
        absl::StrCat("a referral is routed on to another region, and ", to, " is ", what));
  }
  for (const auto& [sender, last_sequence] : event.join_streams) {
    if (sender == to) {
      return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                      absl::StrCat(to,
                                   " had this referral before: route it on to a region that "
                                   "has not seen it"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsOpenState(v1::ReferralState state) {
  switch (state) {
    case v1::SUBMITTED:
    case v1::RECEIVED:
    case v1::UNDER_EVALUATION:
    case v1::INFO_REQUESTED:
    case v1::PLACEMENT_PROPOSED:
    case v1::PLACEMENT_ACCEPTED:
    case v1::TRANSFER_SCHEDULED:
    case v1::PLACEMENT_CONFIRMED:
      return true;
    default:
      return false;
  }
}

std::string StateName(v1::ReferralState state) {
  if (!v1::ReferralState_IsValid(state))
    return absl::StrCat("UNKNOWN(", static_cast<int>(state), ")");
  return v1::ReferralState_Name(state);
}

absl::Status CheckTransition(const ReferralRecord* current, const Event& event,
                             const std::string& national_node) {
  const ReferralState to = event.to_state;
  if (to == v1::REFERRAL_STATE_UNSPECIFIED || !v1::ReferralState_IsValid(to)) {
    return MirError(
        absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
        absl::StrCat("event target state ", StateName(to), " is not a lifecycle state"));
  }
  if (current == nullptr) {
    if (to != v1::SUBMITTED) {
      return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL,
                      absl::StrCat("referral ", event.referral_id,
                                   " is unknown here; cannot move it to ", StateName(to)));
    }
    return CheckSubmission(event, national_node);
  }
  if (to == v1::SUBMITTED &&
      (current->state == v1::UNDER_EVALUATION || current->state == v1::REJECTED)) {
    absl::Status routed = CheckRoutedOn(*current, event, national_node);
    if (!routed.ok()) return routed;
  }

  const ReferralState from = current->state;
  const Rule* match = nullptr;
  for (const Rule& rule : Rules()) {
    if (RuleCovers(rule, from, to)) {
      match = &rule;
      break;
    }
  }
  if (match == nullptr) {
    return MirError(
        absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION,
        absl::StrCat("cannot move referral from ", StateName(from), " to ", StateName(to)));
  }
  const ReferralMeta& meta = current->meta;
  const Actor actor{event.actor.role, event.actor.node == meta.origin_node,
                    event.actor.node == meta.destination_node, event.actor.node == national_node};
  if (!match->allowed(actor)) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION,
                    absl::StrCat("only ", match->who, " may move a referral from ", StateName(from),
                                 " to ", StateName(to), "; not a ", RoleName(event.actor.role),
                                 " of node ", event.actor.node));
  }
  return absl::OkStatus();
}

}  // namespace mir::storage
