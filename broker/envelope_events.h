#ifndef MIR_BROKER_ENVELOPE_EVENTS_H_
#define MIR_BROKER_ENVELOPE_EVENTS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "crypto/verifier.h"
#include "storage/store.h"

namespace mir::broker {

// Turns a verified envelope into the lifecycle event it carries, parsing the
// body only now (after verification). Refusals: MALFORMED_BODY (body does not
// parse, or disagrees with the header: referral id, origin, destination),
// CONSENT_MISSING (a referral without given consent), INVALID_FIELD (a
// status change to a state it cannot name, a reason missing), and
// MALFORMED_ENVELOPE for a RECEIPT (receipts are returned, never delivered).
// A status change that routes the referral on (to_state SUBMITTED with a
// Forward) carries the original REFERRAL envelope: it is verified here with
// `verifier`, end to end, and becomes the event's referral metadata.
absl::StatusOr<storage::Event> EventFromEnvelope(const VerifiedEnvelope& verified,
                                                 const std::string& envelope_bytes,
                                                 const Verifier& verifier);

// The rules only the node that opens a referral's sealed fields can check
// (its origin, at Submit): content rules and the notes' length.
absl::Status CheckOpenedReferral(const v1::Referral& opened);

using ::mir::FromProtoTime;
using ::mir::ToProtoTime;

}  // namespace mir::broker

#endif  // MIR_BROKER_ENVELOPE_EVENTS_H_
