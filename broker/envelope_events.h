#ifndef MIR_BROKER_ENVELOPE_EVENTS_H_
#define MIR_BROKER_ENVELOPE_EVENTS_H_

#include <string>
#include <vector>

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

// The events a verified RECEIVED_ANSWERS carries (PROTOCOL.md §10.8): one
// STATUS_CHANGE to RECEIVED per answer, each with the answer's message id,
// referral and sequence and the envelope's author, time and bytes.
// Refusals, of the whole envelope: MALFORMED_ENVELOPE (a header naming a
// referral or a sequence), MALFORMED_BODY (no answers, more than 64, an id
// that is not a canonical UUID, a sequence of 0, a message id or referral
// twice).
absl::StatusOr<std::vector<storage::Event>> AnswerEventsFromEnvelope(
    const VerifiedEnvelope& verified, const std::string& envelope_bytes);
inline constexpr int kMaxReceivedAnswers = 64;

// The rules only the node that opens a referral's sealed fields can check
// (its origin, at Submit): content rules and the notes' length.
absl::Status CheckOpenedReferral(const v1::Referral& opened);

using ::mir::FromProtoTime;
using ::mir::ToProtoTime;

}  // namespace mir::broker

#endif  // MIR_BROKER_ENVELOPE_EVENTS_H_
