#ifndef MIR_BROKER_REFERRAL_VIEWS_H_
#define MIR_BROKER_REFERRAL_VIEWS_H_

#include "absl/status/statusor.h"
#include "broker/node.h"
#include "mir/v1/referrals.pb.h"

namespace mir::broker {

// What staff and partners see of a referral (Referrals.List / Get / Watch).

v1::ReferralSummary SummaryOf(const Node& node, const storage::ReferralRecord& referral);

// One event with the delivery proofs of the envelopes that carried it: the
// receipts this node holds for copies it sent (or relayed), and the receipt it
// gave when it received the event, kept apart from the event itself.
// `carrier`: for one of this node's RECEIVED answers sent several to an
// envelope (PROTOCOL.md §10.8), that envelope's outbox row.
v1::TimelineEvent TimelineEventOf(
    const storage::Event& event, const std::vector<storage::OutboxEntry>& outbox,
    const std::optional<storage::InboxRecord>& inbox,
    const std::optional<storage::OutboxEntry>& carrier = std::nullopt);

// The whole view. Partners get the placement fields of the referral only.
absl::StatusOr<v1::ReferralView> ViewOf(Node& node, const storage::ReferralRecord& referral,
                                        Role caller_role);

// The fields a partner needs to offer and prepare a place; nothing about
// the person's identity, history, exploitation or legal situation.
v1::Referral PartnerFieldsOf(const v1::Referral& referral);

v1::Erasure ErasureOf(const storage::ErasureRecord& record);
v1::LegalHold LegalHoldOf(const storage::LegalHoldRecord& record);

}  // namespace mir::broker

#endif  // MIR_BROKER_REFERRAL_VIEWS_H_
