#ifndef MIR_BROKER_STORED_BODIES_H_
#define MIR_BROKER_STORED_BODIES_H_

// Bodies of envelopes this node stored after verifying them: parsed again,
// without a second verification.

#include <optional>
#include <string>

#include "mir/v1/envelope.pb.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/status_change.pb.h"
#include "storage/store.h"

namespace mir::broker {

std::optional<v1::EnvelopeHeader> StoredHeader(const std::string& envelope_bytes);
// The referral a stored REFERRAL envelope carries; nullopt for other kinds,
// and for an envelope erased at rest (empty).
std::optional<v1::Referral> StoredReferral(const std::string& envelope_bytes);
std::optional<v1::StatusChange> StoredStatusChange(const std::string& envelope_bytes);
std::optional<v1::ReceivedAnswers> StoredReceivedAnswers(const std::string& envelope_bytes);

// A WITHDRAWN for consent withdrawn: every node that holds the referral
// erases its personal data and answers the origin (PROTOCOL.md §11.5).
bool IsPurgeOrder(const storage::Event& event);

}  // namespace mir::broker

#endif  // MIR_BROKER_STORED_BODIES_H_
