#ifndef MIR_CLIENT_SERVICE_FORMAT_H_
#define MIR_CLIENT_SERVICE_FORMAT_H_

// What `mirctl service ...` prints. Enum values without their prefixes
// (MEDIATOR, IN_PERSON, SCHEDULED, HELD), times in UTC, "-" for what is not
// set. Pure; thread-safe.
//
// Only FormatServiceView prints a request's sealed parts (requester, notes),
// for `mirctl service show`; every other output goes through
// WithoutSealedParts first or never reads them.

#include <string>

#include "mir/v1/service_request.pb.h"

namespace mir::client {

// `view` with requester and notes cleared: what create and the steps may
// print (also with --json).
v1::ServiceRequestView WithoutSealedParts(v1::ServiceRequestView view);

// `service list`: a table and a count line ("3 service requests, 1 awaiting
// a roster entry"); "no service requests match" when empty.
std::string FormatServiceSummaries(const v1::ListServiceRequestsResponse& list);

// `service request`: "service request ID created: REQUESTED, awaiting a
// roster entry".
std::string FormatServiceCreated(const v1::ServiceRequestView& view);

// `service assign|schedule|done|cancel`: one line with the state that
// follows, e.g. "service request ID: ASSIGNED to MED-0007".
std::string FormatServiceStep(const v1::ServiceRequestView& view);

// The events, oldest first: when, what, by whom, and the roster code, time,
// outcome or reason of the step.
std::string FormatServiceEvents(const v1::ServiceRequestView& view);

// `service show`: summary, the request with its sealed parts, the events.
// Control characters in the free text are shown as '?'.
std::string FormatServiceView(const v1::ServiceRequestView& view);

// `service roster list`: a table by code; "the roster is empty" when empty.
std::string FormatRoster(const v1::ListRosterResponse& roster);

// `service roster put`: "roster entry MED-0007 saved: MEDIATOR, available".
std::string FormatRosterSaved(const v1::RosterEntry& entry);

}  // namespace mir::client

#endif  // MIR_CLIENT_SERVICE_FORMAT_H_
