#include "broker/node.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "broker/envelope_events.h"
#include "broker/stored_bodies.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "crypto/sealed_referral.h"
#include "storage/lifecycle.h"

namespace mir::broker {
namespace {

constexpr size_t kMaxEnvelopesPerAction = 4;

absl::Status UnknownReferral(const std::string& referral_id) {
  return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL,
                  absl::StrCat("referral ", referral_id, " is not known to you at this node"));
}

absl::Status BadAction(absl::string_view why) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD, why);
}

}  // namespace

absl::Status EnvelopeTooLarge(size_t size, size_t limit) {
  return MirError(absl::StatusCode::kResourceExhausted, v1::MESSAGE_TOO_LARGE,
                  absl::StrCat("envelope of ", size, " bytes exceeds the limit of ", limit));
}

Node::Node(BrokerOptions options, const Clock* clock, std::unique_ptr<Signer> signer,
           std::unique_ptr<Verifier> verifier, std::unique_ptr<Keyring> keyring,
           std::unique_ptr<storage::Store> store)
    : options_(std::move(options)),
      authorization_(options_.node_id, options_.national_node, options_.relays),
      clock_(clock),
      signer_(std::move(signer)),
      verifier_(std::move(verifier)),
      keyring_(std::move(keyring)),
      store_(std::move(store)) {}

std::shared_ptr<const Signer> Node::signer() const {
  absl::MutexLock lock(&signer_mu_);
  return signer_;
}

absl::Status Node::ReplaceSigner(std::unique_ptr<Signer> signer) {
  const Identity& identity = signer->identity();
  if (identity.role != Role::kNode || identity.node != options_.node_id) {
    return absl::InvalidArgumentError(absl::StrCat("node certificate is for ", identity.Uri(),
                                                   ", expected mir://", options_.node_id, "/node"));
  }
  absl::MutexLock lock(&signer_mu_);
  signer_ = std::move(signer);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Node>> Node::Create(const BrokerOptions& options,
                                                   const Clock* clock) {
  RETURN_IF_ERROR(Validate(options));
  ASSIGN_OR_RETURN(auto signer, Signer::FromPemFiles(options.node_key, options.node_certificate));
  if (signer->identity().role != Role::kNode || signer->identity().node != options.node_id) {
    return absl::InvalidArgumentError(absl::StrCat("node certificate is for ",
                                                   signer->identity().Uri(), ", expected mir://",
                                                   options.node_id, "/node"));
  }
  VerifierOptions verifier_options;
  verifier_options.max_envelope_bytes = options.max_envelope_bytes;
  verifier_options.max_clock_skew = options.max_clock_skew;
  ASSIGN_OR_RETURN(TrustMaterial trust,
                   ReadTrustMaterial(options.ca_certificate, options.crl_files));
  ASSIGN_OR_RETURN(auto verifier, Verifier::FromTrust(trust, clock, verifier_options));
  // Refuse rather than keep referrals where other local users can read them.
  const std::string data_folder =
      std::filesystem::path(options.database_path).parent_path().string();
  if (!data_folder.empty()) {
    RETURN_IF_ERROR(MakePrivateDirectory(data_folder));
    RETURN_IF_ERROR(CheckPrivateDirectory(data_folder));
  }
  ASSIGN_OR_RETURN(auto keyring, Keyring::Load(options, clock->Now()));
  storage::StoreOptions store_options;
  store_options.path = options.database_path;
  store_options.national_node = options.national_node;
  store_options.vfs_name = options.vfs_name;
  store_options.kek = &keyring->kek();
  store_options.previous_keks = keyring->previous_keks();
  ASSIGN_OR_RETURN(auto store, storage::Store::Open(store_options, clock));
  return std::unique_ptr<Node>(new Node(options, clock, std::move(signer), std::move(verifier),
                                        std::move(keyring), std::move(store)));
}

void Node::Notify(const std::vector<std::string>& peers) const {
  if (!outbox_listener_) return;
  for (const std::string& peer : peers) outbox_listener_(peer);
}

void Node::WakeAllSenders() const {
  std::vector<std::string> peers;
  for (const auto& [peer, address] : options_.peers) peers.push_back(peer);
  {
    absl::MutexLock lock(&peers_mu_);
    peers.insert(peers.end(), registry_peers_.begin(), registry_peers_.end());
  }
  Notify(peers);
}

std::optional<std::string> Node::NextHop(const std::string& destination) const {
  if (options_.peers.count(destination)) return destination;
  {
    absl::MutexLock lock(&peers_mu_);
    if (registry_peers_.count(destination)) return destination;
  }
  if (auto hop = options_.NextHop(destination)) return *hop;
  return std::nullopt;
}

void Node::AddPeer(const std::string& peer) {
  absl::MutexLock lock(&peers_mu_);
  registry_peers_.insert(peer);
}

int Node::AddEventListener(EventListener listener) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_[next_listener_] = std::make_shared<const EventListener>(std::move(listener));
  return next_listener_++;
}

void Node::RemoveEventListener(int handle) {
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(handle);
}

void Node::Publish(const std::vector<storage::Event>& events) {
  if (events.empty()) return;
  std::vector<std::shared_ptr<const EventListener>> listeners;
  {
    absl::MutexLock lock(&listeners_mu_);
    for (const auto& [handle, listener] : listeners_) listeners.push_back(listener);
  }
  for (const auto& listener : listeners) (*listener)(events);
}

std::vector<std::string> Node::Recipients(const storage::ReferralMeta& referral,
                                          const std::string& new_destination) const {
  std::set<std::string> nodes = {
      referral.origin_node, new_destination.empty() ? referral.destination_node : new_destination};
  nodes.erase(options_.node_id);
  return {nodes.begin(), nodes.end()};
}

bool Node::IsOverdue(const storage::ReferralRecord& referral) const {
  return referral.meta.urgency == v1::URGENCY_EMERGENCY_24H &&
         (referral.state == v1::SUBMITTED || referral.state == v1::RECEIVED) &&
         referral.meta.ack_deadline.has_value() && clock_->Now() > *referral.meta.ack_deadline;
}

bool Node::IsSendingSide(const storage::ReferralRecord& referral) const {
  return referral.meta.origin_node == options_.node_id ||
         (options_.node_id == options_.national_node &&
          referral.meta.destination_node != options_.node_id);
}

void Node::SetAckDeadline(storage::Event& event) const {
  if (event.to_state != v1::SUBMITTED || !event.referral.has_value() ||
      event.referral->urgency != v1::URGENCY_EMERGENCY_24H) {
    return;
  }
  // The node's policy bounds the deadline: an author may ask for an earlier
  // one, never a later one. A routed-on referral (whose body still carries
  // the original request) needs a fresh acknowledgement from its new
  // destination, so only the policy applies.
  const absl::Time policy = event.at + options_.emergency_ack_timeout;
  std::optional<absl::Time>& deadline = event.referral->ack_deadline;
  if (!deadline.has_value() || *deadline > policy || !event.referral_envelope.empty()) {
    deadline = policy;
  }
}

absl::Status Node::CheckReferralAccess(const Identity& caller, const std::string& referral_id) {
  if (caller.role != Role::kPartner) return absl::OkStatus();
  ASSIGN_OR_RETURN(bool circulated, store_->PartnerHasAccess(referral_id, caller.Uri()));
  return authorization_.ReferralAccess(caller, referral_id, circulated);
}

absl::StatusOr<Node::SignedReceived> Node::SignReceived(const std::string& referral_id,
                                                        const std::string& recipient,
                                                        uint64_t sequence,
                                                        const std::string& message_id) const {
  v1::StatusChange change;
  change.set_referral_id(referral_id);
  change.set_from_state(v1::SUBMITTED);
  change.set_to_state(v1::RECEIVED);
  const std::string body = change.SerializeAsString();
  SignedReceived out;
  out.header.set_message_id(message_id.empty() ? NewUuid() : message_id);
  out.header.set_kind(v1::STATUS_CHANGE);
  out.header.set_recipient_node(recipient);
  *out.header.mutable_created_at() = ToProtoTime(clock_->Now());
  out.header.set_referral_id(referral_id);
  out.header.set_sequence(sequence);
  const std::shared_ptr<const Signer> node_signer = signer();
  ASSIGN_OR_RETURN(out.bytes, node_signer->SignEnvelope(out.header, body));
  ASSIGN_OR_RETURN(out.event, EventFromEnvelope(OwnEnvelope(*node_signer, out.header, body),
                                                out.bytes, *verifier_));
  return out;
}

VerifiedEnvelope Node::OwnEnvelope(const Signer& node_signer, const v1::EnvelopeHeader& header,
                                   const std::string& body) const {
  VerifiedEnvelope own;
  own.header = header;
  own.header.set_author(node_signer.identity().Uri());
  own.header.set_sender_node(options_.node_id);
  own.body = body;
  own.author = node_signer.identity();
  return own;
}

absl::Status Node::AcknowledgeReceived(storage::Txn& txn, const storage::Event& submitted,
                                       const SignedReceived* presigned,
                                       std::vector<std::string>& woken,
                                       std::vector<storage::Event>& applied,
                                       std::vector<const SignedReceived*>* combined) {
  // The SUBMITTED just applied names the origin and the (new) destination,
  // as the projection now does: no need to read the referral back.
  if (!submitted.referral.has_value()) return UnknownReferral(submitted.referral_id);
  const std::vector<std::string> recipients = Recipients(*submitted.referral);
  ASSIGN_OR_RETURN(uint64_t sequence, txn.NextSequence(submitted.referral_id, options_.node_id));
  if (presigned != nullptr && presigned->group >= 0) {
    if (combined != nullptr && recipients.size() == 1 &&
        presigned->Answers(submitted.referral_id, recipients.front(), sequence)) {
      combined->push_back(presigned);  // applied and queued with its group
      return absl::OkStatus();
    }
    presigned = nullptr;  // answered otherwise: signed here, on its own
  }
  std::optional<storage::Event> received;
  std::vector<storage::OutgoingEnvelope> outgoing;
  for (const std::string& recipient : recipients) {
    auto hop = NextHop(recipient);
    if (!hop) {
      return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                      absl::StrCat("no route to node ", recipient));
    }
    SignedReceived signed_here;
    const SignedReceived* answer = presigned;
    if (answer == nullptr || !answer->Answers(submitted.referral_id, recipient, sequence)) {
      ASSIGN_OR_RETURN(signed_here, SignReceived(submitted.referral_id, recipient, sequence));
      answer = &signed_here;
    }
    presigned = nullptr;  // each recipient's envelope has its own message id
    if (!received.has_value()) received = answer->event;
    outgoing.push_back(
        {answer->header.message_id(), *hop, answer->bytes, submitted.referral_id, std::nullopt});
  }
  if (received.has_value()) {
    ASSIGN_OR_RETURN(storage::ApplyResult result, txn.ApplyEvent(*received));
    applied.insert(applied.end(), std::make_move_iterator(result.applied.begin()),
                   std::make_move_iterator(result.applied.end()));
  }
  // Queued after the event is applied, so that the first copy names its
  // events row instead of keeping the bytes again (schema v14).
  for (const storage::OutgoingEnvelope& out : outgoing) {
    RETURN_IF_ERROR(txn.Enqueue(out));
    woken.push_back(out.peer);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::PrepareResponse> Node::Prepare(const Identity& caller,
                                                  const v1::PrepareRequest& request) {
  RETURN_IF_ERROR(authorization_.Check(caller, Action::kPrepare));
  if (!RoleMayAuthor(caller.role, request.kind())) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED,
                    absl::StrCat("a ", RoleName(caller.role), " may not author ",
                                 v1::MessageKind_Name(request.kind())));
  }
  v1::PrepareResponse response;
  v1::EnvelopeHeader header;
  header.set_kind(request.kind());
  *header.mutable_created_at() = ToProtoTime(clock_->Now());

  if (request.kind() == v1::REFERRAL) {
    const std::string& destination = request.destination_node();
    if (!IsValidNodeId(destination) || destination == options_.node_id) {
      return BadAction("destination_node must name another node");
    }
    if (!NextHop(destination)) {
      return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                      absl::StrCat("no route to node ", destination));
    }
    RETURN_IF_ERROR(registry_.CheckDestination(destination, clock_->Now()));
    header.set_message_id(NewUuid());
    header.set_referral_id(request.referral_id().empty() ? NewUuid() : request.referral_id());
    header.set_recipient_node(destination);
    header.set_sequence(1);
    *response.add_headers() = header;
    return response;
  }

  const std::string& referral_id = request.referral_id();
  RETURN_IF_ERROR(CheckReferralAccess(caller, referral_id));
  const std::string& forward_to =
      request.kind() == v1::STATUS_CHANGE ? request.destination_node() : std::string();
  // A forward carries the original REFERRAL, every field of it: only those
  // who may route a referral on ever get one.
  if (!forward_to.empty()) RETURN_IF_ERROR(authorization_.Check(caller, Action::kRouteOn));
  std::optional<storage::ReferralRecord> referral;
  uint64_t sequence = 0;
  std::vector<std::pair<std::string, uint64_t>> streams;
  std::optional<SecretKey> key;
  // Reads only: one snapshot on the read connection, no write lock.
  RETURN_IF_ERROR(store_->Read([&](storage::ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(referral, txn.GetReferral(referral_id));
    if (!referral.has_value()) return UnknownReferral(referral_id);
    ASSIGN_OR_RETURN(sequence, txn.NextSequence(referral_id, options_.node_id));
    ASSIGN_OR_RETURN(streams, txn.StreamPositions(referral_id));
    // Staff seal their free text under the referral's key (§11.4). A
    // partner gets it too: it never gets the referral's ciphertext (§10.7),
    // and its texts are sealed like everyone's.
    auto body = StoredReferral(referral->referral_envelope);
    if (body.has_value() && body->has_sealed()) {
      ASSIGN_OR_RETURN(key, txn.GetReferralKey(referral_id, body->sealed().key_id()));
    }
    return absl::OkStatus();
  }));
  if (key.has_value()) response.set_referral_key(key->bytes());
  if (!forward_to.empty() && !NextHop(forward_to)) {
    return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                    absl::StrCat("no route to node ", forward_to));
  }
  if (!forward_to.empty()) RETURN_IF_ERROR(registry_.CheckDestination(forward_to, clock_->Now()));
  header.set_referral_id(referral_id);
  header.set_sequence(sequence);
  for (const std::string& recipient : Recipients(referral->meta, forward_to)) {
    header.set_message_id(NewUuid());
    header.set_recipient_node(recipient);
    *response.add_headers() = header;
  }
  if (request.kind() == v1::STATUS_CHANGE) {
    v1::StatusChange* body = response.mutable_body_template();
    body->set_referral_id(referral_id);
    body->set_from_state(referral->state);
    if (!forward_to.empty()) {
      body->set_to_state(v1::SUBMITTED);
      v1::Forward* forward = body->mutable_forward();
      forward->set_to_node(forward_to);
      forward->set_referral_envelope(referral->referral_envelope);
      for (const auto& [node, last] : streams) {
        v1::StreamPosition* position = forward->add_streams();
        position->set_sender_node(node);
        position->set_last_sequence(last);
      }
    }
  }
  return response;
}

namespace {

// Whether these exact envelopes were all accepted here before: a client
// resending after a lost answer. Every submitted envelope stays in the
// outbox, bytes and all. Other bytes under a known id, or an action only
// partly known, is a conflict, never a repeat.
absl::StatusOr<bool> AcceptedBefore(storage::Txn& txn,
                                    const std::vector<VerifiedEnvelope>& verified,
                                    const std::vector<std::string>& envelopes) {
  size_t known = 0;
  for (size_t i = 0; i < verified.size(); ++i) {
    const std::string& id = verified[i].header.message_id();
    ASSIGN_OR_RETURN(auto queued, txn.FindOutbox(id));
    if (!queued.has_value()) continue;
    if (queued->envelope != envelopes[i]) {
      return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                      absl::StrCat("message ", id, " was accepted here with other bytes"));
    }
    ++known;
  }
  if (known != 0 && known != verified.size()) {
    return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                    "part of this action was accepted here as another action");
  }
  return known != 0;
}

}  // namespace

absl::StatusOr<SubmitResult> Node::Submit(const Identity& caller,
                                          const std::vector<std::string>& envelopes,
                                          const std::string& referral_key) {
  RETURN_IF_ERROR(authorization_.Check(caller, Action::kSubmit));
  if (envelopes.empty() || envelopes.size() > kMaxEnvelopesPerAction) {
    return BadAction("an action is 1 to 4 signed envelopes, one per recipient");
  }
  std::vector<VerifiedEnvelope> verified;
  for (const std::string& bytes : envelopes) {
    if (bytes.size() > options_.max_envelope_bytes) {
      return EnvelopeTooLarge(bytes.size(), options_.max_envelope_bytes);
    }
    ASSIGN_OR_RETURN(VerifiedEnvelope v, verifier_->Verify(bytes));
    if (v.author != caller || caller.node != options_.node_id) {
      return MirError(
          absl::StatusCode::kPermissionDenied, v1::IDENTITY_MISMATCH,
          absl::StrCat("the envelope is signed by ", v.author.Uri(), " but submitted by ",
                       caller.Uri(), " at node ", options_.node_id));
    }
    verified.push_back(std::move(v));
  }
  const v1::EnvelopeHeader& first = verified.front().header;
  std::set<std::string> recipients;
  for (const VerifiedEnvelope& v : verified) {
    if (v.header.kind() != first.kind() || v.header.referral_id() != first.referral_id() ||
        v.header.sequence() != first.sequence() || v.body != verified.front().body) {
      return BadAction(
          "the envelopes of one action must carry the same referral, sequence and body");
    }
    if (v.header.recipient_node() == options_.node_id ||
        !recipients.insert(v.header.recipient_node()).second) {
      return BadAction("each envelope of an action goes to a different other node");
    }
  }
  // A new referral's header may be made by the client (no Prepare), so what
  // Prepare would have decided is checked here: one recipient, sequence 1.
  if (first.kind() == v1::REFERRAL) {
    if (verified.size() != 1) {
      return BadAction("a new referral is one envelope, addressed to its destination");
    }
    if (first.sequence() != 1) return BadAction("a new referral's sequence is 1");
  } else if (!referral_key.empty()) {
    return BadAction("referral_key goes with a new REFERRAL only");
  }
  const std::string& referral_id = first.referral_id();
  if (first.kind() != v1::REFERRAL) RETURN_IF_ERROR(CheckReferralAccess(caller, referral_id));
  ASSIGN_OR_RETURN(storage::Event event,
                   EventFromEnvelope(verified.front(), envelopes.front(), *verifier_));
  if (!event.referral_envelope.empty()) {
    RETURN_IF_ERROR(authorization_.Check(caller, Action::kRouteOn));
  }
  SetAckDeadline(event);
  // The key must open what it claims to: a referral whose sealed fields no
  // one could read is refused here, not discovered at the destination.
  std::optional<SecretKey> key;
  if (first.kind() == v1::REFERRAL) {
    if (referral_key.size() != kReferralKeyBytes) {
      return BadAction(
          "a new referral needs referral_key: the 32-byte key its sealed fields are sealed under");
    }
    key.emplace(referral_key);
    v1::Referral body;
    if (!body.ParseFromString(verified.front().body)) {
      return BadAction("the referral body does not parse");
    }
    ASSIGN_OR_RETURN(v1::Referral opened, OpenReferral(body, *key));
    RETURN_IF_ERROR(CheckOpenedReferral(opened));
  }
  std::vector<std::string> hops;
  for (const VerifiedEnvelope& v : verified) {
    auto hop = NextHop(v.header.recipient_node());
    if (!hop) {
      return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                      absl::StrCat("no route to node ", v.header.recipient_node()));
    }
    // A new referral, or the referral a routing on forwards (PROTOCOL.md §12.3).
    if (v.header.kind() == v1::REFERRAL) {
      RETURN_IF_ERROR(registry_.CheckDestination(v.header.recipient_node(), clock_->Now()));
    }
    hops.push_back(*hop);
  }

  std::vector<std::string> woken;
  storage::ApplyResult applied;
  bool repeated = false;
  absl::Status status = store_->Transact([&](storage::Txn& txn) -> absl::Status {
    woken.clear();
    // A repeat first: once applied, the checks below would refuse it as stale.
    ASSIGN_OR_RETURN(repeated, AcceptedBefore(txn, verified, envelopes));
    if (repeated) return absl::OkStatus();
    ASSIGN_OR_RETURN(auto referral, txn.GetReferral(referral_id));
    if (referral.has_value() && first.kind() == v1::REFERRAL) {
      return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                      absl::StrCat("referral ", referral_id,
                                   " already exists at this node, made by another message"));
    }
    if (referral.has_value()) {
      ASSIGN_OR_RETURN(uint64_t next, txn.NextSequence(referral_id, options_.node_id));
      if (first.sequence() != next) {
        return MirError(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION,
                        absl::StrCat("referral ", referral_id,
                                     " changed since this action was "
                                     "prepared (it is now ",
                                     storage::StateName(referral->state), "); prepare it again"));
      }
      const std::vector<std::string> expected =
          Recipients(referral->meta, event.to_state == v1::SUBMITTED && event.referral.has_value()
                                         ? event.referral->destination_node
                                         : "");
      if (std::vector<std::string>(recipients.begin(), recipients.end()) != expected) {
        return BadAction(absl::StrCat("this action must be sent to ",
                                      absl::StrJoin(expected, " and "), "; prepare it again"));
      }
    } else if (first.kind() != v1::REFERRAL) {
      return UnknownReferral(referral_id);
    }
    ASSIGN_OR_RETURN(applied, txn.ApplyEvent(event));
    if (applied.outcome != storage::ApplyOutcome::kApplied) {
      return MirError(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION,
                      "the action is out of sequence; prepare it again");
    }
    for (size_t i = 0; i < verified.size(); ++i) {
      storage::OutgoingEnvelope out{verified[i].header.message_id(), hops[i], envelopes[i],
                                    referral_id, std::nullopt};
      if (first.kind() == v1::REFERRAL && event.referral.has_value()) {
        out.urgency = event.referral->urgency;
      }
      RETURN_IF_ERROR(txn.Enqueue(out));
      woken.push_back(hops[i]);
    }
    // Queued after the referral, so that it goes first (one envelope of a
    // referral on the wire at a time) and RECEIVED is not delayed.
    if (key.has_value()) {
      RETURN_IF_ERROR(txn.PutReferralKey(referral_id, *key));
      // Addressed to the hub, the referral waits for its routing (§11.4).
      const std::string& destination = event.referral->destination_node;
      if (destination != options_.national_node) {
        RETURN_IF_ERROR(ReleaseKey(txn, referral_id, *key, destination, woken));
      }
    }
    return AfterApplied(txn, applied.applied, woken);
  });
  if (!status.ok()) return status;
  SubmitResult result;
  result.referral_id = referral_id;
  for (const VerifiedEnvelope& v : verified) result.message_ids.push_back(v.header.message_id());
  // What this action made of the referral here, so a repeat answers the same
  // (its own stream has no held successors that the action could release).
  result.state = event.to_state;
  if (repeated) {
    MIR_LOG(INFO) << "repeated " << v1::MessageKind_Name(first.kind()) << " on referral "
                  << referral_id << " by " << caller.Uri() << " (message " << first.message_id()
                  << "): already accepted, nothing changed";
    return result;
  }
  MIR_LOG(INFO) << "submitted " << v1::MessageKind_Name(first.kind()) << " on referral "
                << referral_id << " by " << caller.Uri() << " to "
                << absl::StrJoin(recipients, ", ");
  Notify(woken);
  Publish(applied.applied);
  return result;
}

// --- Sealed fields and erasure (PROTOCOL.md §11) ---

bool Node::ReadsSealedFields(const storage::ReferralRecord& referral) const {
  return referral.meta.origin_node == options_.node_id ||
         (referral.meta.destination_node == options_.node_id &&
          options_.node_id != options_.national_node);
}

absl::Status Node::ReleaseKey(storage::Txn& txn, const std::string& referral_id,
                              const SecretKey& key, const std::string& recipient,
                              std::vector<std::string>& woken) {
  const std::shared_ptr<const v1::NodeRegistry> registry = registry_.current();
  ASSIGN_OR_RETURN(EncryptionCertificate cert,
                   keyring_->CertificateFor(recipient, clock_->Now(), registry.get()));
  ASSIGN_OR_RETURN(std::string wrapped, WrapToRecipient(key, cert.public_key));
  v1::KeyRelease release;
  release.set_referral_id(referral_id);
  release.set_key_id(ReferralKeyId(key));
  release.set_recipient_node(recipient);
  release.set_recipient_key_id(cert.key_id);
  release.set_wrapped_key(wrapped);
  RETURN_IF_ERROR(QueueNodeMessage(txn, v1::KEY_RELEASE, recipient, referral_id,
                                   release.SerializeAsString(), woken));
  MIR_LOG(INFO) << "releasing the key of referral " << referral_id << " to " << recipient;
  return absl::OkStatus();
}

absl::Status Node::QueueNodeMessage(storage::Txn& txn, v1::MessageKind kind,
                                    const std::string& recipient, const std::string& referral_id,
                                    const std::string& body, std::vector<std::string>& woken) {
  auto hop = NextHop(recipient);
  if (!hop) {
    return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                    absl::StrCat("no route to node ", recipient));
  }
  v1::EnvelopeHeader header;
  header.set_message_id(NewUuid());
  header.set_kind(kind);
  header.set_recipient_node(recipient);
  *header.mutable_created_at() = ToProtoTime(clock_->Now());
  header.set_referral_id(referral_id);
  ASSIGN_OR_RETURN(std::string bytes, signer()->SignEnvelope(header, body));
  RETURN_IF_ERROR(txn.Enqueue({header.message_id(), *hop, bytes, referral_id, std::nullopt}));
  woken.push_back(*hop);
  return absl::OkStatus();
}

absl::StatusOr<SecretKey> Node::UnwrapKeyRelease(const VerifiedEnvelope& verified) const {
  v1::KeyRelease release;
  if (!release.ParseFromString(verified.body)) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY,
                    "KEY_RELEASE body does not parse");
  }
  if (release.referral_id() != verified.header.referral_id() ||
      verified.header.referral_id().empty()) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY,
                    "referral_id differs between header and body");
  }
  if (release.recipient_node() != options_.node_id) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::KEY_NOT_FOR_THIS_NODE,
                    absl::StrCat("the key is wrapped for node ", release.recipient_node(), ", not ",
                                 options_.node_id));
  }
  const EncryptionKeyPair* pair = keyring_->OwnPair(release.recipient_key_id());
  if (pair == nullptr) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY,
                    "the key is wrapped to an encryption key this node does not have");
  }
  ASSIGN_OR_RETURN(SecretKey key, UnwrapWithKeyPair(release.wrapped_key(), *pair));
  // The id names the key: a release cannot put another key under it.
  if (ReferralKeyId(key) != release.key_id()) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::SEALED_TAMPERED,
                    "the released key does not match its key id");
  }
  return key;
}

absl::Status Node::AcceptKeyRelease(storage::Txn& txn, const VerifiedEnvelope& verified,
                                    const SecretKey& key) {
  const std::string& referral_id = verified.header.referral_id();
  ASSIGN_OR_RETURN(auto referral, txn.GetReferral(referral_id));
  if (referral.has_value() && referral->meta.origin_node != verified.header.sender_node()) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::NOT_A_HOLDER,
                    absl::StrCat("only the origin of referral ", referral_id, " releases its key"));
  }
  ASSIGN_OR_RETURN(auto erased, txn.GetErasure(referral_id));
  if (erased.has_value()) return absl::OkStatus();  // taken in, and not kept
  return txn.PutReferralKey(referral_id, key);
}

absl::Status Node::AcceptErasureAnswer(storage::Txn& txn, const VerifiedEnvelope& verified) {
  v1::ErasureConfirmation answer;
  if (!answer.ParseFromString(verified.body) ||
      answer.referral_id() != verified.header.referral_id() ||
      !v1::ErasureOutcome_IsValid(answer.outcome()) ||
      answer.outcome() == v1::ERASURE_OUTCOME_UNSPECIFIED) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY,
                    "ERASURE_CONFIRMATION body does not parse or disagrees with its header");
  }
  const std::string& referral_id = answer.referral_id();
  const std::string& sender = verified.header.sender_node();
  ASSIGN_OR_RETURN(auto referral, txn.GetReferral(referral_id));
  if (!referral.has_value() || referral->meta.origin_node != options_.node_id) {
    return UnknownReferral(referral_id);
  }
  // The holders are the nodes the origin sent it to: the destination, and
  // the hub, which may have held it for routing.
  if (sender != referral->meta.destination_node && sender != options_.national_node) {
    return MirError(absl::StatusCode::kPermissionDenied, v1::NOT_A_HOLDER,
                    absl::StrCat("node ", sender, " never held referral ", referral_id));
  }
  storage::ErasureAnswerRecord record;
  record.node = sender;
  record.outcome = answer.outcome();
  record.at = answer.has_at() ? FromProtoTime(answer.at()) : txn.Now();
  return txn.RecordErasureAnswer(referral_id, record);
}

absl::StatusOr<bool> Node::EraseUnlessHeld(storage::Txn& txn, const std::string& referral_id,
                                           v1::ErasureCause cause, const std::string& by) {
  ASSIGN_OR_RETURN(auto hold, txn.GetLegalHold(referral_id));
  if (hold.has_value()) return false;
  storage::ErasureRecord record;
  record.at = txn.Now();
  record.cause = cause;
  record.by = by;
  RETURN_IF_ERROR(txn.EraseReferral(referral_id, record));
  return true;
}

absl::Status Node::CarryOutPurge(storage::Txn& txn, const std::string& referral_id,
                                 const std::string& ordered_by, std::vector<std::string>& woken) {
  ASSIGN_OR_RETURN(auto referral, txn.GetReferral(referral_id));
  if (!referral.has_value()) return UnknownReferral(referral_id);
  ASSIGN_OR_RETURN(bool erased,
                   EraseUnlessHeld(txn, referral_id, v1::ERASURE_BY_PURGE_ORDER, ordered_by));
  const v1::ErasureOutcome outcome = erased ? v1::ERASURE_DONE : v1::ERASURE_HELD;
  MIR_LOG(INFO) << "purge order on referral " << referral_id << ": "
                << v1::ErasureOutcome_Name(outcome);
  const std::string& origin = referral->meta.origin_node;
  if (origin == options_.node_id) return absl::OkStatus();
  v1::ErasureConfirmation answer;
  answer.set_referral_id(referral_id);
  answer.set_outcome(outcome);
  *answer.mutable_at() = ToProtoTime(txn.Now());
  return QueueNodeMessage(txn, v1::ERASURE_CONFIRMATION, origin, referral_id,
                          answer.SerializeAsString(), woken);
}

absl::Status Node::EraseOnRejection(storage::Txn& txn, const storage::Event& rejected) {
  const std::string& national = options_.national_node;
  if (options_.node_id == national) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto referral, txn.GetReferral(rejected.referral_id));
  if (!referral.has_value() || referral->meta.destination_node != options_.node_id ||
      referral->meta.origin_node == options_.node_id) {
    return absl::OkStatus();
  }
  // Routed here: the original REFERRAL was addressed to the national node.
  auto original = StoredReferral(referral->referral_envelope);
  if (!original.has_value() || original->destination_node() != national) return absl::OkStatus();
  ASSIGN_OR_RETURN(bool erased, EraseUnlessHeld(txn, rejected.referral_id, v1::ERASURE_ON_REJECTION,
                                                rejected.actor.Uri()));
  MIR_LOG(INFO) << "referral " << rejected.referral_id
                << " rejected here: back to the national node"
                << (erased ? ", its sealed fields erased here"
                           : "; a legal hold keeps its sealed fields");
  return absl::OkStatus();
}

absl::Status Node::AfterApplied(storage::Txn& txn, const std::vector<storage::Event>& applied,
                                std::vector<std::string>& woken) {
  for (const storage::Event& e : applied) {
    if (IsPurgeOrder(e)) {
      RETURN_IF_ERROR(CarryOutPurge(txn, e.referral_id, e.actor.Uri(), woken));
      continue;
    }
    if (e.to_state == v1::REJECTED) {
      RETURN_IF_ERROR(EraseOnRejection(txn, e));
      continue;
    }
    // The origin learns that the hub routed its referral on: the new
    // destination cares for the person and gets the key (§11.4).
    const bool routed_on = !e.referral_envelope.empty() && e.referral.has_value();
    if (!routed_on || e.referral->origin_node != options_.node_id) continue;
    auto body = StoredReferral(e.referral_envelope);
    if (!body.has_value() || !body->has_sealed()) continue;
    ASSIGN_OR_RETURN(auto key, txn.GetReferralKey(e.referral_id, body->sealed().key_id()));
    if (!key.has_value()) {
      MIR_LOG(WARNING) << "referral " << e.referral_id << " was routed on to "
                       << e.referral->destination_node
                       << " but this node no longer holds its key: nothing to release";
      continue;
    }
    // Without its key the new destination could not read the referral: the
    // routing is refused here until it can be released (a missing
    // encryption certificate: the hub's sender dead-letters the routing,
    // its staff requeue it once the certificate is in place), never
    // applied with the key left behind (§11.4).
    RETURN_IF_ERROR(ReleaseKey(txn, e.referral_id, *key, e.referral->destination_node, woken));
  }
  return absl::OkStatus();
}

absl::StatusOr<storage::ErasureRecord> Node::Erase(const Identity& caller,
                                                   const std::string& referral_id,
                                                   const std::string& reason) {
  RETURN_IF_ERROR(authorization_.Check(caller, Action::kErase));
  if (reason.empty() || reason.size() > 500) {
    return BadAction("an erasure needs a reason of 1 to 500 bytes (no personal data)");
  }
  storage::ErasureRecord record;
  record.cause = v1::ERASURE_BY_OPERATOR;
  record.by = caller.Uri();
  record.reason = reason;
  std::optional<storage::ErasureRecord> stored;
  RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(auto referral, txn.GetReferral(referral_id));
    if (!referral.has_value()) return UnknownReferral(referral_id);
    record.at = txn.Now();
    RETURN_IF_ERROR(txn.EraseReferral(referral_id, record));
    ASSIGN_OR_RETURN(stored, txn.GetErasure(referral_id));
    return absl::OkStatus();
  }));
  MIR_LOG(INFO) << "referral " << referral_id << " erased by " << caller.Uri();
  return stored.value_or(record);
}

absl::StatusOr<std::optional<storage::LegalHoldRecord>> Node::SetLegalHold(
    const Identity& caller, const std::string& referral_id, bool held, const std::string& reason) {
  RETURN_IF_ERROR(authorization_.Check(caller, Action::kLegalHold));
  if (held && (reason.empty() || reason.size() > 500)) {
    return BadAction("a legal hold needs a reason of 1 to 500 bytes (no personal data)");
  }
  std::optional<storage::LegalHoldRecord> hold;
  std::vector<std::string> woken;
  RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(auto referral, txn.GetReferral(referral_id));
    if (!referral.has_value()) return UnknownReferral(referral_id);
    if (held) {
      hold = storage::LegalHoldRecord{txn.Now(), caller.Uri(), reason};
      return txn.SetLegalHold(referral_id, hold);
    }
    hold.reset();
    return txn.SetLegalHold(referral_id, std::nullopt);
  }));
  if (!held) {
    // A purge order the hold kept waiting is carried out now.
    ASSIGN_OR_RETURN(std::vector<storage::Event> events, store_->Timeline(referral_id));
    for (const storage::Event& e : events) {
      if (!IsPurgeOrder(e)) continue;
      RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
        woken.clear();
        ASSIGN_OR_RETURN(auto hold_now, txn.GetLegalHold(referral_id));
        ASSIGN_OR_RETURN(auto erased, txn.GetErasure(referral_id));
        if (hold_now.has_value() || erased.has_value()) return absl::OkStatus();
        return CarryOutPurge(txn, referral_id, e.actor.Uri(), woken);
      }));
      Notify(woken);
      break;
    }
  }
  MIR_LOG(INFO) << "legal hold on referral " << referral_id << (held ? " set" : " lifted") << " by "
                << caller.Uri();
  return hold;
}

absl::StatusOr<int> Node::SweepRetention() {
  const absl::Time now = clock_->Now();
  int erased = 0;
  for (const auto& [state, keep] : options_.retention) {
    ASSIGN_OR_RETURN(std::vector<std::string> due,
                     store_->DueForErasure(state, now - keep, /*limit=*/256));
    for (const std::string& referral_id : due) {
      storage::ErasureRecord record;
      record.at = now;
      record.cause = v1::ERASURE_BY_RETENTION;
      record.by = signer()->identity().Uri();
      absl::Status status = store_->Transact([&](storage::Txn& txn) -> absl::Status {
        return txn.EraseReferral(referral_id, record);
      });
      if (!status.ok()) {
        // A hold set meanwhile: skipped, and looked at again next pass.
        MIR_LOG(WARNING) << "retention could not erase referral " << referral_id << ": "
                         << ReasonName(status);
        continue;
      }
      ++erased;
    }
  }
  if (erased > 0) MIR_LOG(INFO) << "retention erased " << erased << " referrals";
  return erased;
}

}  // namespace mir::broker
