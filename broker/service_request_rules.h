#ifndef MIR_BROKER_SERVICE_REQUEST_RULES_H_
#define MIR_BROKER_SERVICE_REQUEST_RULES_H_

// The rules of service requests (PROTOCOL.md §15): what a request and a
// roster entry may hold, and which step may follow which. Pure functions,
// no I/O, no clock (`now` is passed in): the node applies them inside its
// transactions. Refusals name the field or the state, never a value a
// person typed.
//
//   step      from                              needs
//   Create    -                                 CheckServiceRequest
//   Assign    REQUESTED                         an available roster entry of this node
//                                               that fits (CheckAssign)
//   Schedule  ASSIGNED                          a time within the window
//   Complete  SCHEDULED                         an outcome
//   Cancel    REQUESTED, ASSIGNED, SCHEDULED    a reason
//   Place     REQUESTED                         another node (CheckPlace); then
//                                               PLACED, and the serving node's
//                                               updates move it (CheckUpdate)
//
// Any other step is FAILED_PRECONDITION INVALID_TRANSITION naming the
// request's state; DONE and CANCELLED are final.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "mir/v1/service_request.pb.h"
#include "storage/store.h"

namespace mir::broker {

inline constexpr size_t kMaxServiceRequesterBytes = 200;
inline constexpr size_t kMaxServiceNotesBytes = 2000;
inline constexpr size_t kMaxRosterCodeBytes = 32;
inline constexpr int kMaxRosterLanguages = 32;
inline constexpr int kMaxRosterProvinces = 120;

// INVALID_ARGUMENT INVALID_FIELD naming the first field that is missing or
// wrong, in this order: kind required; language required for a mediator,
// and when given an ISO 639-3 code; gender required (and known) when the
// same gender is wanted; attendance required; province required in person,
// and when given an Italian province code; window_start and window_end
// required, the end after the start and not before `now`; venue required
// for an identification interview; referral_id empty or a UUID; requester
// and notes valid UTF-8 within their limits, without control characters.
absl::Status CheckServiceRequest(const v1::ServiceRequest& request, absl::Time now);

// The request without its sealed parts (requester, notes): what is kept in
// clear and signed in its events.
v1::ServiceRequest ClearServiceFacts(const v1::ServiceRequest& request);

// INVALID_ARGUMENT INVALID_FIELD naming the first field that is wrong: code
// 1-32 of A-Z, 0-9 and '-' (an opaque code, never a name); kind required;
// languages ISO 639-3 codes, at least one for a mediator, at most 32;
// provinces Italian province codes, at most 120; gender one the protocol
// defines.
absl::Status CheckRosterEntry(const v1::RosterEntry& entry);

// REQUESTED → ASSIGNED to `entry` (nullopt: none with `code` here, NOT_FOUND
// UNKNOWN_ROSTER_ENTRY). FAILED_PRECONDITION INVALID_FIELD naming
// roster_code if the entry is not available, or does not fit: a mediator
// request needs a mediator who speaks its language, serves its province
// when in person, and is of the gender wanted when the same gender is.
absl::Status CheckAssign(const storage::ServiceRequestRecord& request, const std::string& code,
                         const std::optional<v1::RosterEntry>& entry);

// ASSIGNED → SCHEDULED at `at`, which must lie within the request's window
// (INVALID_ARGUMENT INVALID_FIELD naming at).
absl::Status CheckSchedule(const storage::ServiceRequestRecord& request,
                           const std::optional<absl::Time>& at);

// SCHEDULED → DONE with an outcome the protocol defines.
absl::Status CheckComplete(const storage::ServiceRequestRecord& request,
                           v1::ServiceOutcome outcome);

// REQUESTED, ASSIGNED or SCHEDULED → CANCELLED with a reason the protocol
// defines.
absl::Status CheckCancel(const storage::ServiceRequestRecord& request,
                         v1::ServiceCancelReason reason);

// A request placed with another node, and not done or cancelled as far as
// this node knows, may be recalled: that node is asked to cancel it, with a
// reason the protocol defines.
absl::Status CheckRecall(const storage::ServiceRequestRecord& request,
                         v1::ServiceCancelReason reason);

// REQUESTED → PLACED with `node` from node `self`: a valid node id other
// than `self` (INVALID_ARGUMENT INVALID_FIELD naming node).
absl::Status CheckPlace(const storage::ServiceRequestRecord& request, const std::string& node,
                        const std::string& self);

// Whether a SERVICE_UPDATE from `sender` may move `request`: the request was
// placed with `sender` (else PERMISSION_DENIED NOT_A_HOLDER); the update's
// state is ASSIGNED, SCHEDULED, DONE or CANCELLED with what that state
// needs (INVALID_FIELD). Returns false for an update that would not move it
// forward (a repeat, or older than what is known): taken in, nothing done.
absl::StatusOr<bool> CheckUpdate(const storage::ServiceRequestRecord& request,
                                 const std::string& sender, const v1::ServiceRequestUpdate& update);

// Whether a SERVICE_UPDATE from the node that placed `request` here asks
// something to be done: it must be CANCELLED with a reason (else
// INVALID_ARGUMENT INVALID_FIELD naming state or cancel_reason). Returns
// false when the request is done or cancelled here already: taken in,
// nothing done (the placing node has, or will have, that state).
absl::StatusOr<bool> CheckCancelAsked(const storage::ServiceRequestRecord& request,
                                      const v1::ServiceRequestUpdate& update);

// The owner of a request's key in the key table: "service:<request_id>".
std::string ServiceKeyOwner(absl::string_view request_id);

}  // namespace mir::broker

#endif  // MIR_BROKER_SERVICE_REQUEST_RULES_H_
