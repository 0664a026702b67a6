// Node::Deliver and Node::DeliverBatch: envelopes from peer nodes
// (PROTOCOL.md §6.2, §6.2.1), and how a relay observes what it passes on.

#include <iterator>
#include <map>

#include "absl/strings/str_cat.h"
#include "broker/envelope_events.h"
#include "broker/node.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/receipt.h"
#include "crypto/sealed_referral.h"

namespace mir::broker {
namespace {

storage::InboxRecord InboxRecordOf(const VerifiedEnvelope& verified, const std::string& receipt,
                                   absl::Time now) {
  storage::InboxRecord record;
  record.message_id = verified.header.message_id();
  record.sender_node = verified.header.sender_node();
  record.envelope_sha256 = verified.envelope_sha256;
  record.receipt = receipt;
  record.received_at = now;
  return record;
}

// A failure of the store, or one nobody explained: it fails the whole
// batch (retried by the sender) rather than one envelope, which a refusal
// with a permanent code would dead-letter.
bool FailsTheBatch(const absl::Status& status) {
  const v1::ErrorReason reason = ReasonOf(status);
  return reason == v1::ERROR_REASON_UNSPECIFIED || reason == v1::STORE_FULL ||
         reason == v1::STORE_UNAVAILABLE;
}

// For the log: what a header's referral_id holds, by kind.
const char* WhatTheIdNames(v1::MessageKind kind) {
  switch (kind) {
    case v1::CITIZEN_REPORT:
      return ", report ";
    case v1::SERVICE_REQUEST:
    case v1::SERVICE_UPDATE:
      return ", service request ";
    case v1::STATISTICS_REPORT:
      return ", statistics";
    case v1::RECEIVED_ANSWERS:
      return "";
    default:
      return ", referral ";
  }
}

}  // namespace

absl::StatusOr<Node::CheckedDelivery> Node::CheckDelivery(const Identity& peer,
                                                          const std::string& envelope_bytes) {
  if (envelope_bytes.size() > options_.max_envelope_bytes) {
    return EnvelopeTooLarge(envelope_bytes.size(), options_.max_envelope_bytes);
  }
  RETURN_IF_ERROR(authorization_.Check(peer, Action::kDeliver));
  CheckedDelivery d;
  d.bytes = &envelope_bytes;
  ASSIGN_OR_RETURN(d.verified, verifier_->Verify(envelope_bytes));
  const v1::EnvelopeHeader& h = d.verified.header;
  RETURN_IF_ERROR(authorization_.DeliveredBy(peer, h.sender_node()));

  if (h.kind() == v1::REPORT_EVENT) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                    "a REPORT_EVENT stays at the node that signed it (PROTOCOL.md §14.2)");
  }
  if (h.kind() == v1::SERVICE_EVENT) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                    "a SERVICE_EVENT stays at the node that signed it (PROTOCOL.md §15.2)");
  }
  if (h.kind() == v1::RECEIVED_ANSWERS && !options_.accept_received_answers) {
    // What a node from before the kind answers (a test plays one).
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                    "header kind is not a message kind");
  }
  d.lifecycle = h.kind() != v1::KEY_RELEASE && h.kind() != v1::ERASURE_CONFIRMATION &&
                h.kind() != v1::CITIZEN_REPORT && h.kind() != v1::SERVICE_REQUEST &&
                h.kind() != v1::SERVICE_UPDATE && h.kind() != v1::STATISTICS_REPORT &&
                h.kind() != v1::RECEIVED_ANSWERS;
  if (h.recipient_node() == options_.node_id) {
    if (h.kind() == v1::RECEIVED_ANSWERS) {
      ASSIGN_OR_RETURN(d.answers, AnswerEventsFromEnvelope(d.verified, envelope_bytes));
    } else if (h.kind() == v1::KEY_RELEASE) {
      ASSIGN_OR_RETURN(d.released_key, UnwrapKeyRelease(d.verified));
    } else if (h.kind() == v1::CITIZEN_REPORT) {
      ASSIGN_OR_RETURN(d.report, OpenReportTransfer(d.verified));
    } else if (h.kind() == v1::SERVICE_REQUEST) {
      ASSIGN_OR_RETURN(d.service_request, OpenServiceRequestTransfer(d.verified));
    } else if (h.kind() == v1::STATISTICS_REPORT) {
      ASSIGN_OR_RETURN(d.statistics_report, OpenStatisticsReport(d.verified));
    } else if (d.lifecycle) {
      ASSIGN_OR_RETURN(d.event, EventFromEnvelope(d.verified, envelope_bytes, *verifier_));
      SetAckDeadline(*d.event);
      const std::optional<storage::ReferralMeta>& meta = d.event->referral;
      if (h.kind() == v1::REFERRAL && meta.has_value() &&
          meta->destination_node == options_.node_id && meta->origin_node != options_.node_id) {
        d.answer_to = meta->origin_node;
      }
    }
    return d;
  }
  if (!options_.relay) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::NOT_FOR_THIS_NODE,
                    absl::StrCat("node ", options_.node_id, " does not relay; the envelope is for ",
                                 h.recipient_node()));
  }
  auto hop = NextHop(h.recipient_node());
  if (!hop || *hop == peer.node) {
    return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                    absl::StrCat("no route to node ", h.recipient_node()));
  }
  if (h.kind() == v1::REFERRAL) {
    RETURN_IF_ERROR(registry_.CheckDestination(h.recipient_node(), clock_->Now()));
    // A relay never queues special-category fields in clear (PROTOCOL.md §11.1).
    v1::Referral carried;
    if (carried.ParseFromString(d.verified.body)) {
      if (!carried.has_sealed() || !SealedFieldsInClear(carried).empty()) {
        return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                        "a referral with special-category fields in clear is not relayed: they "
                        "travel sealed");
      }
      // A relay that does not hold the referral queues it by the urgency it carries.
      d.urgency = carried.urgency();
    }
  }
  d.forward_to = *hop;
  return d;
}

absl::StatusOr<std::optional<storage::InboxRecord>> Node::ApplyDelivery(
    storage::Txn& txn, const CheckedDelivery& d, std::vector<std::string>& woken,
    std::vector<storage::Event>& applied_events, std::vector<const SignedReceived*>* combined) {
  const v1::EnvelopeHeader& h = d.verified.header;
  ASSIGN_OR_RETURN(auto existing, txn.FindInbox(h.message_id()));
  if (existing) {
    if (existing->envelope_sha256 != d.verified.envelope_sha256) {
      return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                      absl::StrCat("message ", h.message_id(), " was received with other bytes"));
    }
    return existing;
  }
  if (d.forward_to) {
    // Applied first, so that the queued copy can name the events row
    // instead of keeping the bytes again (docs/STORAGE.md, schema v14).
    if (d.lifecycle) RETURN_IF_ERROR(Observe(txn, d.verified, *d.bytes, applied_events, woken));
    RETURN_IF_ERROR(txn.Enqueue(storage::OutgoingEnvelope{h.message_id(), *d.forward_to, *d.bytes,
                                                          h.referral_id(), d.urgency}));
    woken.push_back(*d.forward_to);
    return std::nullopt;
  }
  if (d.released_key.has_value()) {
    RETURN_IF_ERROR(AcceptKeyRelease(txn, d.verified, *d.released_key));
    return std::nullopt;
  }
  if (h.kind() == v1::ERASURE_CONFIRMATION) {
    RETURN_IF_ERROR(AcceptErasureAnswer(txn, d.verified));
    return std::nullopt;
  }
  if (d.report.has_value()) {
    RETURN_IF_ERROR(AcceptReportTransfer(txn, d.verified, *d.report));
    return std::nullopt;
  }
  if (d.service_request.has_value()) {
    RETURN_IF_ERROR(AcceptServiceRequestTransfer(txn, d.verified, *d.service_request));
    return std::nullopt;
  }
  if (h.kind() == v1::SERVICE_UPDATE) {
    RETURN_IF_ERROR(AcceptServiceUpdate(txn, d.verified, woken));
    return std::nullopt;
  }
  if (h.kind() == v1::RECEIVED_ANSWERS) {
    RETURN_IF_ERROR(ApplyAnswers(txn, d, woken, applied_events));
    return std::nullopt;
  }
  if (d.statistics_report.has_value()) {
    const v1::StatisticsReport& report = *d.statistics_report;
    // An older report than the one kept (a retry overtaken) changes nothing.
    ASSIGN_OR_RETURN(
        bool kept, txn.PutStatisticsReport({report.node_id(), FromProtoTime(report.month_start()),
                                            FromProtoTime(report.counted_at()), d.verified.body}));
    if (kept) MIR_LOG(INFO) << "statistics report of " << report.node_id() << " kept";
    return std::nullopt;
  }
  ASSIGN_OR_RETURN(storage::ApplyResult applied, txn.ApplyEvent(*d.event));
  // A successor released with the SUBMITTED (the origin's WITHDRAWN that
  // overtook its referral) may have moved it on: then there is nothing left
  // to acknowledge, and a RECEIVED would be refused by the lifecycle.
  auto still_submitted = [&](const std::string& referral_id) {
    v1::ReferralState last = v1::REFERRAL_STATE_UNSPECIFIED;
    for (const storage::Event& e : applied.applied) {
      if (e.referral_id == referral_id) last = e.to_state;
    }
    return last == v1::SUBMITTED;
  };
  for (const storage::Event& e : applied.applied) {
    applied_events.push_back(e);
    if (e.to_state == v1::SUBMITTED && e.referral.has_value() &&
        e.referral->destination_node == options_.node_id && still_submitted(e.referral_id)) {
      const bool answers_this = d.received.has_value() && e.message_id == h.message_id();
      RETURN_IF_ERROR(AcknowledgeReceived(txn, e, answers_this ? &*d.received : nullptr, woken,
                                          applied_events, combined));
    }
  }
  RETURN_IF_ERROR(AfterApplied(txn, applied.applied, woken));
  return std::nullopt;
}

absl::Status Node::ApplyAnswers(storage::Txn& txn, const CheckedDelivery& d,
                                std::vector<std::string>& woken,
                                std::vector<storage::Event>& applied_events) {
  for (const storage::Event& answer : d.answers) {
    const size_t woken_before = woken.size();
    std::vector<storage::Event> applied;
    absl::Status one = txn.Atomically([&]() -> absl::Status {
      ASSIGN_OR_RETURN(storage::ApplyResult result, txn.ApplyEvent(answer));
      applied = std::move(result.applied);
      return AfterApplied(txn, applied, woken);
    });
    if (one.ok()) {
      applied_events.insert(applied_events.end(), applied.begin(), applied.end());
      continue;
    }
    woken.resize(woken_before);
    // The same answer applied before (a resend of its envelope would be
    // found in the inbox first; this is one answered again): no effect.
    if (one.code() == absl::StatusCode::kAlreadyExists &&
        ReasonOf(one) == v1::ERROR_REASON_UNSPECIFIED) {
      continue;
    }
    if (FailsTheBatch(one)) return one;
    RETURN_IF_ERROR(txn.RecordDropped(answer, one));
    MIR_LOG(WARNING) << "dropped answer " << answer.message_id << " (RECEIVED, referral "
                     << answer.referral_id << ") of message " << d.verified.header.message_id()
                     << " from " << answer.sender_node << ": " << ReasonName(one) << " "
                     << one.message();
  }
  return absl::OkStatus();
}

std::vector<std::string> Node::ReceiptFeatures() const {
  if (!options_.accept_received_answers) return {};
  return {std::string(kReceivedAnswersFeature)};
}

void Node::LogReceived(const CheckedDelivery& d, const Identity& peer) const {
  const v1::EnvelopeHeader& h = d.verified.header;
  MIR_LOG(INFO) << "received message " << h.message_id() << " (" << v1::MessageKind_Name(h.kind())
                << WhatTheIdNames(h.kind()) << h.referral_id()
                << (d.answers.empty() ? "" : absl::StrCat(", ", d.answers.size(), " answers"))
                << ") from " << peer.node << (d.forward_to ? " for relay to " + *d.forward_to : "");
}

absl::StatusOr<std::string> Node::Deliver(const Identity& peer, const std::string& envelope_bytes) {
  ASSIGN_OR_RETURN(CheckedDelivery d, CheckDelivery(peer, envelope_bytes));
  PresignReceived(d);
  const v1::EnvelopeHeader& h = d.verified.header;
  // Signed before the write lock, which other deliveries wait for; wasted
  // only on a duplicate, which gets the receipt it had.
  const absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(const std::string signed_receipt,
                   SignReceipt(*signer(), {h.message_id(), d.verified.envelope_sha256, peer.node},
                               now, ReceiptFeatures()));
  std::string receipt;
  std::vector<std::string> woken;
  std::vector<storage::Event> applied_events;
  absl::Status status = store_->Transact([&](storage::Txn& txn) -> absl::Status {
    woken.clear();
    applied_events.clear();
    ASSIGN_OR_RETURN(auto existing, ApplyDelivery(txn, d, woken, applied_events));
    if (existing) {
      receipt = existing->receipt;
      return absl::OkStatus();
    }
    receipt = signed_receipt;
    return txn.InsertInbox(InboxRecordOf(d.verified, receipt, now));
  });
  if (!status.ok()) {
    MIR_LOG(WARNING) << "refused message " << h.message_id() << " from " << peer.node << ": "
                     << ReasonName(status) << " " << status.message();
    return status;
  }
  LogReceived(d, peer);
  Notify(woken);
  Publish(applied_events);
  return receipt;
}

absl::StatusOr<Node::BatchDelivery> Node::DeliverBatch(const Identity& peer,
                                                       const std::vector<std::string>& envelopes) {
  RETURN_IF_ERROR(authorization_.Check(peer, Action::kDeliver));
  if (envelopes.empty() || envelopes.size() > kMaxBatchEnvelopes) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                    absl::StrCat("a batch holds 1 to ", kMaxBatchEnvelopes, " envelopes, not ",
                                 envelopes.size()));
  }
  // Verification, the costly part, before the write lock.
  std::vector<absl::StatusOr<CheckedDelivery>> checked;
  checked.reserve(envelopes.size());
  for (const std::string& bytes : envelopes) checked.push_back(CheckDelivery(peer, bytes));
  // Their RECEIVED answers too: several to one origin signed as one.
  const std::vector<AnswerGroup> answer_groups = PresignAnswers(checked);

  // The receipt as it will be when every envelope that verified is
  // accepted, the usual case: signed before the write lock, which other
  // deliveries wait for. Signed again inside only when some were refused.
  const absl::Time now = clock_->Now();
  std::vector<ReceivedEnvelope> expected;
  for (const auto& c : checked) {
    if (c.ok()) {
      expected.push_back({c->verified.header.message_id(), c->verified.envelope_sha256, peer.node});
    }
  }
  std::string expected_receipt;
  if (!expected.empty()) {
    ASSIGN_OR_RETURN(expected_receipt,
                     SignBatchReceipt(*signer(), expected, now, ReceiptFeatures()));
  }

  BatchDelivery out;
  std::vector<size_t> accepted;
  std::vector<std::string> woken;
  std::vector<storage::Event> applied_events;
  absl::Status status = store_->Transact([&](storage::Txn& txn) -> absl::Status {
    out = BatchDelivery{};
    accepted.clear();
    woken.clear();
    applied_events.clear();
    std::vector<ReceivedEnvelope> entries;
    std::vector<const SignedReceived*> combined;       // answers sent as a group
    std::vector<const CheckedDelivery*> fresh;         // to record in the inbox
    std::map<std::string, std::string> in_this_batch;  // message id -> SHA-256
    for (size_t i = 0; i < checked.size(); ++i) {
      if (!checked[i].ok()) {
        out.refused.emplace_back(i, checked[i].status());
        continue;
      }
      const CheckedDelivery& d = *checked[i];
      const std::string& id = d.verified.header.message_id();
      const std::string& sha256 = d.verified.envelope_sha256;
      if (auto it = in_this_batch.find(id); it != in_this_batch.end()) {
        if (it->second != sha256) {
          out.refused.emplace_back(
              i, MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                          absl::StrCat("message ", id, " was received with other bytes")));
        } else {
          entries.push_back({id, sha256, peer.node});
        }
        continue;
      }
      const size_t woken_before = woken.size();
      const size_t applied_before = applied_events.size();
      const size_t combined_before = combined.size();
      bool duplicate = false;
      absl::Status one = txn.Atomically([&]() -> absl::Status {
        ASSIGN_OR_RETURN(auto existing, ApplyDelivery(txn, d, woken, applied_events, &combined));
        duplicate = existing.has_value();
        return absl::OkStatus();
      });
      if (!one.ok()) {
        woken.resize(woken_before);
        applied_events.resize(applied_before);
        combined.resize(combined_before);
        if (FailsTheBatch(one)) return one;
        out.refused.emplace_back(i, std::move(one));
        continue;
      }
      in_this_batch.emplace(id, sha256);
      entries.push_back({id, sha256, peer.node});
      accepted.push_back(i);
      if (!duplicate) fresh.push_back(&d);
    }
    RETURN_IF_ERROR(SendCombinedAnswers(txn, answer_groups, combined, woken, applied_events));
    if (entries.empty()) return absl::OkStatus();
    if (entries == expected) {
      out.receipt = expected_receipt;
    } else {
      ASSIGN_OR_RETURN(out.receipt, SignBatchReceipt(*signer(), entries, now, ReceiptFeatures()));
    }
    for (const CheckedDelivery* d : fresh) {
      RETURN_IF_ERROR(txn.InsertInbox(InboxRecordOf(d->verified, out.receipt, now)));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    MIR_LOG(WARNING) << "refused a batch of " << envelopes.size() << " from " << peer.node << ": "
                     << ReasonName(status) << " " << status.message();
    return status;
  }
  for (const auto& [index, refusal] : out.refused) {
    MIR_LOG(WARNING) << "refused envelope " << index << " of a batch from " << peer.node << ": "
                     << ReasonName(refusal) << " " << refusal.message();
  }
  for (size_t index : accepted) {
    LogReceived(*checked[index], peer);
    out.accepted_kinds.push_back(v1::MessageKind_Name(checked[index]->verified.header.kind()));
  }
  Notify(woken);
  Publish(applied_events);
  return out;
}

absl::Status Node::Observe(storage::Txn& txn, const VerifiedEnvelope& verified,
                           const std::string& envelope_bytes, std::vector<storage::Event>& applied,
                           std::vector<std::string>& woken) {
  const std::string& referral_id = verified.header.referral_id();
  ASSIGN_OR_RETURN(auto known, txn.GetReferral(referral_id));
  if (!known.has_value()) return absl::OkStatus();  // a pure relay for this referral
  auto event = EventFromEnvelope(verified, envelope_bytes, *verifier_);
  absl::Status observed = event.status();
  if (observed.ok()) {
    SetAckDeadline(*event);
    const size_t woken_before = woken.size();
    observed = txn.Atomically([&]() -> absl::Status {
      ASSIGN_OR_RETURN(storage::ApplyResult result, txn.ApplyEvent(*event));
      RETURN_IF_ERROR(AfterApplied(txn, result.applied, woken));
      applied.insert(applied.end(), std::make_move_iterator(result.applied.begin()),
                     std::make_move_iterator(result.applied.end()));
      return absl::OkStatus();
    });
    if (!observed.ok()) woken.resize(woken_before);
  }
  if (!observed.ok()) {
    MIR_LOG(WARNING) << "relayed message " << verified.header.message_id()
                     << " not applied to this node's copy of referral " << referral_id << ": "
                     << ReasonName(observed);
  }
  return absl::OkStatus();
}

}  // namespace mir::broker
