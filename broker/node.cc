#include "broker/node.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "broker/envelope_events.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"

namespace mir::broker {
namespace {

absl::Status TooLarge(size_t size, size_t limit) {
  return MirError(absl::StatusCode::kResourceExhausted, v1::MESSAGE_TOO_LARGE,
                  absl::StrCat("envelope of ", size, " bytes exceeds the limit of ", limit));
}

}  // namespace

Node::Node(BrokerOptions options, const Clock* clock, std::unique_ptr<Signer> signer,
           std::unique_ptr<Verifier> verifier, std::unique_ptr<storage::Store> store)
    : options_(std::move(options)),
      clock_(clock),
      signer_(std::move(signer)),
      verifier_(std::move(verifier)),
      store_(std::move(store)) {}

absl::StatusOr<std::unique_ptr<Node>> Node::Create(const BrokerOptions& options,
                                                   const Clock* clock) {
  RETURN_IF_ERROR(Validate(options));
  ASSIGN_OR_RETURN(auto signer, Signer::FromPemFiles(options.node_key, options.node_certificate));
  if (signer->identity().role != Role::kNode || signer->identity().node != options.node_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("node certificate is for ", signer->identity().Uri(), ", expected mir://",
                     options.node_id, "/node"));
  }
  VerifierOptions verifier_options;
  verifier_options.max_envelope_bytes = options.max_envelope_bytes;
  verifier_options.max_clock_skew = options.max_clock_skew;
  ASSIGN_OR_RETURN(auto verifier,
                   Verifier::FromCaPemFile(options.ca_certificate, clock, verifier_options));
  storage::StoreOptions store_options;
  store_options.path = options.database_path;
  ASSIGN_OR_RETURN(auto store, storage::Store::Open(store_options, clock));
  return std::unique_ptr<Node>(new Node(options, clock, std::move(signer), std::move(verifier),
                                        std::move(store)));
}

void Node::Notify(const std::vector<std::string>& peers) const {
  if (!outbox_listener_) return;
  for (const std::string& peer : peers) outbox_listener_(peer);
}

absl::StatusOr<std::string> Node::Deliver(const Identity& peer,
                                          const std::string& envelope_bytes) {
  if (envelope_bytes.size() > options_.max_envelope_bytes) {
    return TooLarge(envelope_bytes.size(), options_.max_envelope_bytes);
  }
  if (peer.role != Role::kNode) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::PEER_MISMATCH,
                    absl::StrCat(peer.Uri(), " is not a node: only nodes deliver envelopes"));
  }
  ASSIGN_OR_RETURN(VerifiedEnvelope verified, verifier_->Verify(envelope_bytes));
  const v1::EnvelopeHeader& h = verified.header;
  const bool peer_is_relay =
      std::find(options_.relays.begin(), options_.relays.end(), peer.node) != options_.relays.end();
  if (peer.node != h.sender_node() && !peer_is_relay) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::PEER_MISMATCH,
                    absl::StrCat("node ", peer.node, " may not deliver envelopes sent by ",
                                 h.sender_node()));
  }

  // Decide before the transaction what this envelope is for.
  std::optional<storage::Event> event;
  std::optional<std::string> forward_to;
  if (h.recipient_node() == options_.node_id) {
    ASSIGN_OR_RETURN(event, EventFromEnvelope(verified, envelope_bytes));
  } else {
    if (!options_.relay) {
      return MirError(absl::StatusCode::kInvalidArgument, v1::NOT_FOR_THIS_NODE,
                      absl::StrCat("node ", options_.node_id, " does not relay; the envelope is for ",
                                   h.recipient_node()));
    }
    auto hop = options_.NextHop(h.recipient_node());
    if (!hop || *hop == peer.node) {
      return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                      absl::StrCat("no route to node ", h.recipient_node()));
    }
    forward_to = *hop;
  }

  std::string receipt;
  std::vector<std::string> woken;
  absl::Status status = store_->Transact([&](storage::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(auto existing, txn.FindInbox(h.message_id()));
    if (existing) {
      if (existing->envelope_sha256 != verified.envelope_sha256) {
        return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                        absl::StrCat("message ", h.message_id(), " was received with other bytes"));
      }
      receipt = existing->receipt;
      return absl::OkStatus();
    }
    const absl::Time now = clock_->Now();
    ASSIGN_OR_RETURN(receipt, SignReceipt(*signer_,
                                          {h.message_id(), verified.envelope_sha256, peer.node},
                                          now));
    storage::InboxRecord record;
    record.message_id = h.message_id();
    record.sender_node = h.sender_node();
    record.envelope_sha256 = verified.envelope_sha256;
    record.receipt = receipt;
    record.received_at = now;
    RETURN_IF_ERROR(txn.InsertInbox(record));
    if (forward_to) {
      RETURN_IF_ERROR(txn.Enqueue({h.message_id(), *forward_to, envelope_bytes}));
      woken.push_back(*forward_to);
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(storage::ApplyResult applied, txn.ApplyEvent(*event));
    for (const storage::Event& e : applied.applied) {
      if (e.to_state == v1::SUBMITTED) RETURN_IF_ERROR(AcknowledgeReceived(txn, e, woken));
    }
    return absl::OkStatus();
  });
  if (!status.ok()) {
    MIR_LOG(WARNING) << "refused message " << h.message_id() << " from " << peer.node << ": "
                     << ReasonName(status) << " " << status.message();
    return status;
  }
  MIR_LOG(INFO) << "received message " << h.message_id() << " ("
                << v1::MessageKind_Name(h.kind()) << ", referral " << h.referral_id() << ") from "
                << peer.node << (forward_to ? " for relay to " + *forward_to : "");
  Notify(woken);
  return receipt;
}

absl::Status Node::AcknowledgeReceived(storage::Txn& txn, const storage::Event& submitted,
                                       std::vector<std::string>& woken) {
  const std::string& origin = submitted.referral->origin_node;
  auto hop = options_.NextHop(origin);
  if (!hop) {
    return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                    absl::StrCat("no route back to origin node ", origin));
  }
  ASSIGN_OR_RETURN(uint64_t sequence, txn.NextSequence(submitted.referral_id, options_.node_id));
  v1::StatusChange change;
  change.set_referral_id(submitted.referral_id);
  change.set_from_state(v1::SUBMITTED);
  change.set_to_state(v1::RECEIVED);
  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(v1::STATUS_CHANGE);
  header.set_recipient_node(origin);
  *header.mutable_created_at() = ToProtoTime(clock_->Now());
  header.set_referral_id(submitted.referral_id);
  header.set_sequence(sequence);
  ASSIGN_OR_RETURN(std::string bytes, signer_->SignEnvelope(header, change.SerializeAsString()));
  ASSIGN_OR_RETURN(VerifiedEnvelope verified, verifier_->Verify(bytes));
  ASSIGN_OR_RETURN(storage::Event received, EventFromEnvelope(verified, bytes));
  RETURN_IF_ERROR(txn.ApplyEvent(received).status());
  RETURN_IF_ERROR(txn.Enqueue({header.message_id(), *hop, bytes}));
  woken.push_back(*hop);
  return absl::OkStatus();
}

absl::StatusOr<SubmitResult> Node::Submit(const Identity& caller,
                                          const std::string& envelope_bytes) {
  if (envelope_bytes.size() > options_.max_envelope_bytes) {
    return TooLarge(envelope_bytes.size(), options_.max_envelope_bytes);
  }
  ASSIGN_OR_RETURN(VerifiedEnvelope verified, verifier_->Verify(envelope_bytes));
  if (verified.author != caller || caller.node != options_.node_id) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH,
                    absl::StrCat("the envelope is signed by ", verified.author.Uri(),
                                 " but submitted by ", caller.Uri(), " at node ", options_.node_id));
  }
  const v1::EnvelopeHeader& h = verified.header;
  ASSIGN_OR_RETURN(storage::Event event, EventFromEnvelope(verified, envelope_bytes));
  std::vector<storage::OutgoingEnvelope> outgoing;
  if (h.recipient_node() != options_.node_id) {
    auto hop = options_.NextHop(h.recipient_node());
    if (!hop) {
      return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                      absl::StrCat("no route to node ", h.recipient_node()));
    }
    outgoing.push_back({h.message_id(), *hop, envelope_bytes});
  }
  ASSIGN_OR_RETURN(storage::ApplyResult applied, store_->RecordAndEnqueue(event, outgoing));
  SubmitResult result;
  result.referral_id = h.referral_id();
  result.message_id = h.message_id();
  result.state = applied.applied.empty() ? v1::REFERRAL_STATE_UNSPECIFIED
                                         : applied.applied.back().to_state;
  MIR_LOG(INFO) << "submitted message " << h.message_id() << " ("
                << v1::MessageKind_Name(h.kind()) << ", referral " << h.referral_id() << ") by "
                << caller.Uri();
  if (!outgoing.empty()) Notify({outgoing.front().peer});
  return result;
}

}  // namespace mir::broker
