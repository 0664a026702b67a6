#ifndef MIR_BROKER_CONTENT_RULES_H_
#define MIR_BROKER_CONTENT_RULES_H_

// The generic content rules of PROTOCOL.md §10, applied to every body a node
// accepts (Referral, StatusChange, PlacementConfirmation and what they
// embed), before anything in it is stored:
//   - an enum field holds a value its .proto defines (urgency 99 is refused);
//   - a Timestamp lies within 0001-01-01 .. 9999-12-31, nanos in [0, 1e9);
//   - a repeated field holds at most kMaxRepeatedEntries entries;
//   - a string field holds at most kMaxStringBytes bytes (notes and
//     reason_text have their own, larger limits; bytes fields are not
//     limited here: the envelope's size limit bounds them).
// Each refusal is INVALID_ARGUMENT, INVALID_FIELD, naming the field's path.

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace mir::broker {

inline constexpr int kMaxRepeatedEntries = 64;
inline constexpr size_t kMaxStringBytes = 200;

absl::Status CheckContentRules(const google::protobuf::Message& body);

}  // namespace mir::broker

#endif  // MIR_BROKER_CONTENT_RULES_H_
