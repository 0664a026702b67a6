// The sending half of RECEIVED_ANSWERS (PROTOCOL.md §10.8): the RECEIVED
// answers of one DeliverBatch signed once per origin, the peers' features
// that allow it, and the downgrade to single answers.

#include <algorithm>
#include <iterator>
#include <map>

#include "broker/envelope_events.h"
#include "broker/node.h"
#include "broker/stored_bodies.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"

namespace mir::broker {
namespace {

// The more urgent of two (EMERGENCY_24H = 1 is the most; 0 names none).
v1::Urgency MoreUrgent(v1::Urgency a, v1::Urgency b) {
  if (a == v1::URGENCY_UNSPECIFIED) return b;
  if (b == v1::URGENCY_UNSPECIFIED) return a;
  return std::min(a, b);
}

}  // namespace

absl::StatusOr<Node::SignedAnswers> Node::SignAnswers(const std::string& recipient,
                                                      const v1::ReceivedAnswers& answers) const {
  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::RECEIVED_ANSWERS);
  header.set_recipient_node(recipient);
  *header.mutable_created_at() = ToProtoTime(clock_->Now());
  const std::string body = answers.SerializeAsString();
  const std::shared_ptr<const Signer> node_signer = signer();
  SignedAnswers out;
  out.message_id = header.message_id();
  ASSIGN_OR_RETURN(out.bytes, node_signer->SignEnvelope(header, body));
  ASSIGN_OR_RETURN(out.events,
                   AnswerEventsFromEnvelope(OwnEnvelope(*node_signer, header, body), out.bytes));
  return out;
}

void Node::PresignReceived(CheckedDelivery& d) const {
  if (d.answer_to.empty()) return;
  // Wasted only when the answer turns out otherwise (a duplicate).
  auto answer = SignReceived(d.verified.header.referral_id(), d.answer_to, 1);
  if (answer.ok()) d.received = *std::move(answer);
}

std::vector<Node::AnswerGroup> Node::PresignAnswers(
    std::vector<absl::StatusOr<CheckedDelivery>>& checked) {
  std::map<std::string, int> envelopes_per_referral;
  for (const auto& c : checked) {
    if (c.ok()) ++envelopes_per_referral[c->verified.header.referral_id()];
  }
  std::map<std::string, std::vector<CheckedDelivery*>> by_origin;
  for (auto& c : checked) {
    if (!c.ok() || c->answer_to.empty()) continue;
    const std::string& origin = c->answer_to;
    if (envelopes_per_referral[c->verified.header.referral_id()] == 1 &&
        NextHop(origin) == origin && peer_features_.TakesReceivedAnswers(origin)) {
      by_origin[origin].push_back(&*c);
    } else {
      PresignReceived(*c);
    }
  }
  std::vector<AnswerGroup> groups;
  for (auto& [origin, deliveries] : by_origin) {
    for (size_t first = 0; first < deliveries.size(); first += kMaxReceivedAnswers) {
      const size_t end = std::min(deliveries.size(), first + kMaxReceivedAnswers);
      if (end - first < 2) {  // one answer: as it always went
        for (size_t i = first; i < end; ++i) PresignReceived(*deliveries[i]);
        continue;
      }
      v1::ReceivedAnswers body;
      for (size_t i = first; i < end; ++i) {
        v1::ReceivedAnswer* answer = body.add_answers();
        answer->set_message_id(NewUuid());
        answer->set_referral_id(deliveries[i]->verified.header.referral_id());
        answer->set_sequence(1);
        answer->set_submitted_message_id(deliveries[i]->verified.header.message_id());
      }
      absl::StatusOr<SignedAnswers> signed_answers = SignAnswers(origin, body);
      if (!signed_answers.ok()) {  // signed again inside, singly
        for (size_t i = first; i < end; ++i) PresignReceived(*deliveries[i]);
        continue;
      }
      const int group = static_cast<int>(groups.size());
      for (size_t i = first; i < end; ++i) {
        CheckedDelivery& d = *deliveries[i];
        const v1::ReceivedAnswer& answer = body.answers(static_cast<int>(i - first));
        SignedReceived member;
        member.header.set_message_id(answer.message_id());
        member.header.set_kind(v1::STATUS_CHANGE);
        member.header.set_recipient_node(origin);
        member.header.set_referral_id(answer.referral_id());
        member.header.set_sequence(answer.sequence());
        member.event = signed_answers->events[i - first];
        member.group = group;
        member.submitted_message_id = answer.submitted_message_id();
        if (d.event.has_value() && d.event->referral.has_value()) {
          member.urgency = d.event->referral->urgency;
        }
        d.received = std::move(member);
      }
      groups.push_back({origin, *std::move(signed_answers)});
    }
  }
  return groups;
}

absl::Status Node::SendCombinedAnswers(storage::Txn& txn, const std::vector<AnswerGroup>& groups,
                                       const std::vector<const SignedReceived*>& combined,
                                       std::vector<std::string>& woken,
                                       std::vector<storage::Event>& applied_events) {
  for (size_t g = 0; g < groups.size(); ++g) {
    const AnswerGroup& group = groups[g];
    std::vector<const SignedReceived*> members;
    for (const SignedReceived* answer : combined) {
      if (answer->group == static_cast<int>(g)) members.push_back(answer);
    }
    if (members.empty()) continue;
    const SignedAnswers* to_send = &group.answers;
    SignedAnswers signed_here;
    if (members.size() != group.answers.events.size()) {
      // Some referrals were not taken in (a duplicate, a refusal): their
      // answers must not travel. Signed again, inside, for the others.
      v1::ReceivedAnswers body;
      for (const SignedReceived* m : members) {
        v1::ReceivedAnswer* answer = body.add_answers();
        answer->set_message_id(m->header.message_id());
        answer->set_referral_id(m->header.referral_id());
        answer->set_sequence(m->header.sequence());
        answer->set_submitted_message_id(m->submitted_message_id);
      }
      ASSIGN_OR_RETURN(signed_here, SignAnswers(group.recipient, body));
      to_send = &signed_here;
    }
    v1::Urgency urgency = v1::URGENCY_UNSPECIFIED;
    for (size_t i = 0; i < members.size(); ++i) {
      const storage::Event& event =
          to_send == &group.answers ? members[i]->event : signed_here.events[i];
      // Nothing else of the batch is about this referral: as it was right
      // after its SUBMITTED, the RECEIVED applies.
      ASSIGN_OR_RETURN(storage::ApplyResult result, txn.ApplyEvent(event));
      applied_events.insert(applied_events.end(), std::make_move_iterator(result.applied.begin()),
                            std::make_move_iterator(result.applied.end()));
      urgency = MoreUrgent(urgency, members[i]->urgency);
    }
    // Queued in the place of its most urgent referral: an emergency's
    // RECEIVED does not wait behind a backlog.
    RETURN_IF_ERROR(txn.Enqueue(storage::OutgoingEnvelope{to_send->message_id, group.recipient,
                                                          to_send->bytes, "", urgency}));
    woken.push_back(group.recipient);
  }
  return absl::OkStatus();
}

void Node::RecallPeerFeatures(const std::string& peer) {
  absl::StatusOr<std::optional<std::string>> receipt = store_->NewestReceipt(peer);
  if (!receipt.ok() || !receipt->has_value()) return;  // single answers until one comes
  absl::StatusOr<v1::Receipt> verified = VerifyReceiptSignature(*verifier_, **receipt, peer);
  if (verified.ok()) peer_features_.Learn(peer, *verified);
}

absl::StatusOr<bool> Node::ReplaceAnswersWithSingles(const storage::OutboxEntry& entry,
                                                     const absl::Status& refusal) {
  const std::optional<v1::EnvelopeHeader> header = StoredHeader(entry.envelope);
  const std::optional<v1::ReceivedAnswers> answers = StoredReceivedAnswers(entry.envelope);
  // Only this node's own: a relay never answers in another node's name.
  if (!header || !answers || header->sender_node() != options_.node_id) return false;
  peer_features_.Forget(entry.peer);
  // Nothing of the refused envelope was applied there: each answer goes as
  // the STATUS_CHANGE it stands for, under its own id and sequence.
  std::vector<SignedReceived> singles;
  for (const v1::ReceivedAnswer& answer : answers->answers()) {
    ASSIGN_OR_RETURN(SignedReceived single,
                     SignReceived(answer.referral_id(), header->recipient_node(), answer.sequence(),
                                  answer.message_id()));
    singles.push_back(std::move(single));
  }
  RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
    for (const SignedReceived& single : singles) {
      absl::Status queued = txn.Enqueue(
          storage::OutgoingEnvelope{single.header.message_id(), entry.peer, single.bytes,
                                    single.header.referral_id(), std::nullopt});
      // Queued by an earlier refusal of the same envelope (it was resent).
      if (queued.code() == absl::StatusCode::kAlreadyExists) continue;
      RETURN_IF_ERROR(queued);
    }
    // In the same commit: the envelope is never both gone and unreplaced.
    return txn.MarkReplaced(entry.id, absl::StrCat("replaced by single STATUS_CHANGEs: ",
                                                   entry.peer, " refused RECEIVED_ANSWERS (",
                                                   refusal.message().substr(0, 100), ")"));
  }));
  MIR_LOG(WARNING) << entry.peer << " refused RECEIVED_ANSWERS " << entry.message_id << ": its "
                   << singles.size() << " answers go as single STATUS_CHANGEs";
  Notify({entry.peer});
  return true;
}

}  // namespace mir::broker
