#ifndef MIR_CLIENT_FORMAT_H_
#define MIR_CLIENT_FORMAT_H_

// What mirctl prints: aligned tables, the referral view with its timeline,
// and protobuf JSON for --json. States and urgencies appear without their enum
// prefixes (EMERGENCY_24H, not URGENCY_EMERGENCY_24H); times in UTC. Pure;
// thread-safe. Only FormatView and FormatReferralFields print personal fields,
// for `mirctl show`.

#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "mir/v1/referrals.pb.h"

namespace mir::client {

// Columns aligned on the widest cell, two spaces apart, no trailing blanks.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// Protobuf's JSON mapping; `pretty` adds newlines and indentation, otherwise
// one line (for streams). Always ends with a newline.
std::string ToJson(const google::protobuf::Message& message, bool pretty = true);

// "out" when `own_node` is the origin, "in" when it is the destination,
// "via" otherwise (the national node routing it).
std::string Direction(const v1::ReferralSummary& summary, const std::string& own_node);

// The `list` table and a count line; "no referrals match" when empty.
std::string FormatSummaries(const v1::ListResponse& list, const std::string& own_node);

// The proof of one envelope's delivery, one phrase: "delivered to nvn,
// receipt verified at ...", "pending: ...", "dead letter: ...", "received here ...".
std::string FormatDeliveryProof(const v1::DeliveryProof& proof);

// The timeline: per event what, who, which node, when and why; under each,
// indented and marked "delivery:", the proof of each envelope that carried it.
std::string FormatTimeline(const google::protobuf::RepeatedPtrField<v1::TimelineEvent>& timeline);

// Every field set in `referral`, one per line (personal: for `show` only).
std::string FormatReferralFields(const v1::Referral& referral);

// `show`: summary, fields, timeline.
std::string FormatView(const v1::ReferralView& view, const std::string& own_node);

// Whether the sealed fields can be read here, and any erasure, legal hold or
// answers to a purge order.
std::string FormatPrivacy(const v1::ReferralView& view);

// The node's page (mirctl node): peers, queues, alarms, certificates.
std::string FormatNodeStatus(const v1::NodeStatus& status);

// `watch`: one line per event.
std::string FormatWatchEvent(const v1::WatchEvent& event);

// `dead-letters`: a table, or a line saying there are none.
std::string FormatDeadLetters(const v1::ListDeadLettersResponse& response);

// After a submission: "<headline>; state here: X (N messages queued for delivery)".
std::string FormatSubmitted(const v1::SubmitResponse& response, const std::string& headline);

}  // namespace mir::client

#endif  // MIR_CLIENT_FORMAT_H_
