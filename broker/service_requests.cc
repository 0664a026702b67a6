// Service requests at a node (PROTOCOL.md §15): Node's service request and
// roster operations. The rules are service_request_rules.h; here they are
// applied inside one transaction per step, each step signed by this node as
// a SERVICE_EVENT naming the person who took it. Node-local: no request
// leaves the node yet, and the roster never will.

#include "absl/strings/str_cat.h"
#include "broker/node.h"
#include "broker/node_records.h"
#include "broker/service_request_rules.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/sealing.h"

namespace mir::broker {
namespace {

constexpr char kServicePurpose[] = "service-request";
constexpr int kDefaultServiceListLimit = 100;
constexpr int kMaxServiceListLimit = 1000;

absl::Status UnknownServiceRequest(const std::string& request_id) {
  return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_SERVICE_REQUEST,
                  absl::StrCat("service request ", request_id, " is not known at this node"));
}

// What the request's sealed part holds, opened.
absl::StatusOr<v1::ServiceRequestPrivate> OpenPrivate(storage::ReadTxn& txn,
                                                      const storage::ServiceRequestRecord& r) {
  return OpenRecordMessage<v1::ServiceRequestPrivate>(
      txn, ServiceKeyOwner(r.request_id), kServicePurpose, r.request_id, r.sealed,
      absl::StrCat("service request ", r.request_id));
}

v1::ServiceRequestSummary SummaryOf(const storage::ServiceRequestRecord& r) {
  v1::ServiceRequestSummary s;
  s.set_request_id(r.request_id);
  s.set_state(r.state);
  s.set_kind(r.facts.kind());
  s.set_language(r.facts.language());
  s.set_attendance(r.facts.attendance());
  s.set_province(r.facts.province());
  *s.mutable_window_start() = r.facts.window_start();
  *s.mutable_window_end() = r.facts.window_end();
  *s.mutable_created_at() = ToProtoTime(r.created_at);
  s.set_origin_node(r.origin_node);
  s.set_roster_code(r.roster_code);
  if (r.scheduled_at.has_value()) *s.mutable_scheduled_at() = ToProtoTime(*r.scheduled_at);
  s.set_outcome(r.outcome);
  s.set_cancel_reason(r.cancel_reason);
  s.set_referral_id(r.facts.referral_id());
  s.set_placed_from(r.placed_from);
  s.set_placed_with(r.placed_with);
  return s;
}

// The event a stored SERVICE_EVENT envelope carries (this node signed it).
absl::StatusOr<v1::ServiceEvent> EventOf(const std::string& envelope_bytes,
                                         const std::string& request_id) {
  ASSIGN_OR_RETURN(v1::SignedServiceEvent signed_event,
                   StoredRecordEvent(envelope_bytes, &v1::SignedServiceEvent::request_id,
                                     request_id, absl::StrCat("service request ", request_id)));
  return signed_event.event();
}

constexpr auto NewEvent = &NewRecordEvent<v1::ServiceEvent>;

}  // namespace

absl::Status Node::AppendServiceEvent(storage::Txn& txn, const std::string& request_id,
                                      v1::ServiceEvent event, const v1::ServiceRequest* facts) {
  ASSIGN_OR_RETURN(std::vector<std::string> events, txn.ServiceRequestEvents(request_id));
  const uint64_t sequence = events.size() + 1;
  v1::SignedServiceEvent body;
  body.set_request_id(request_id);
  body.set_sequence(sequence);
  *body.mutable_event() = std::move(event);
  if (facts != nullptr) *body.mutable_request() = *facts;
  ASSIGN_OR_RETURN(std::string bytes,
                   SignRecordEvent(*signer(), v1::SERVICE_EVENT, options_.node_id, request_id,
                                   sequence, clock_->Now(), body.SerializeAsString()));
  return txn.AppendServiceRequestEvent(request_id, sequence, bytes);
}

absl::Status Node::StoreServiceStep(storage::Txn& txn, storage::ServiceRequestRecord& record,
                                    v1::ServiceEvent event) {
  record.updated_at = FromProtoTime(event.at());
  RETURN_IF_ERROR(AppendServiceEvent(txn, record.request_id, std::move(event), nullptr));
  return txn.UpdateServiceRequest(record);
}

absl::StatusOr<v1::ServiceRequestView> Node::CreateServiceRequest(
    const Identity& caller, const v1::CreateServiceRequestRequest& request) {
  RETURN_IF_ERROR(CheckRecordId("request_id", request.request_id()));
  RETURN_IF_ERROR(CheckServiceRequest(request.request(), clock_->Now()));
  const std::string& id = request.request_id();
  std::string request_bytes;
  request.SerializeToString(&request_bytes);
  const std::string request_sha256 = Sha256(request_bytes);
  const SecretKey key = NewReferralKey();
  bool repeated = false;
  RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(auto existing, txn.GetServiceRequest(id));
    if (existing.has_value()) {
      if (existing->request_sha256 != request_sha256) {
        return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                        absl::StrCat("service request ", id, " was created with other content"));
      }
      repeated = true;
      return absl::OkStatus();
    }
    const v1::ServiceRequest& asked = request.request();
    if (!asked.referral_id().empty()) {
      ASSIGN_OR_RETURN(auto referral, txn.GetReferral(asked.referral_id()));
      if (!referral.has_value()) {
        return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL,
                        "field referral_id names a referral not known at this node");
      }
    }
    const absl::Time now = txn.Now();
    storage::ServiceRequestRecord record;
    record.request_id = id;
    record.origin_node = options_.node_id;
    record.created_at = now;
    record.updated_at = now;
    record.state = v1::SERVICE_REQUESTED;
    record.request_sha256 = request_sha256;
    record.facts = ClearServiceFacts(asked);
    v1::ServiceRequestPrivate part;
    part.set_requester(asked.requester());
    part.set_notes(asked.notes());
    ASSIGN_OR_RETURN(record.sealed,
                     SealRecordPart(key, kServicePurpose, id, part.SerializeAsString()));
    RETURN_IF_ERROR(txn.PutReferralKey(ServiceKeyOwner(id), key));
    RETURN_IF_ERROR(txn.InsertServiceRequest(record));
    v1::ServiceEvent first = NewEvent(v1::ServiceEvent::REQUESTED, caller.Uri(), now);
    first.set_sealed_sha256(Sha256(record.sealed));
    return AppendServiceEvent(txn, id, std::move(first), &record.facts);
  }));
  if (!repeated) {
    MIR_LOG(INFO) << "service request " << id << " ("
                  << v1::ServiceKind_Name(request.request().kind()) << ") created by "
                  << caller.Uri();
  }
  return ServiceRequestViewOf(id);
}

absl::StatusOr<v1::ServiceRequestView> Node::StepServiceRequest(
    const Identity& caller, const std::string& request_id, v1::ServiceEvent::Kind kind,
    const std::function<absl::Status(storage::Txn&, storage::ServiceRequestRecord&,
                                     v1::ServiceEvent&)>& step,
    const ServiceStep& placed_step) {
  RETURN_IF_ERROR(CheckRecordId("request_id", request_id));
  std::vector<std::string> woken;
  std::string serving;  // the node it was placed with, if any
  RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
    woken.clear();
    ASSIGN_OR_RETURN(auto record, txn.GetServiceRequest(request_id));
    if (!record.has_value()) return UnknownServiceRequest(request_id);
    const absl::Time now = txn.Now();
    v1::ServiceEvent event = NewEvent(kind, caller.Uri(), now);
    serving = record->placed_with;
    if (!record->placed_with.empty()) {
      if (!placed_step) {
        return MirError(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION,
                        absl::StrCat("service request ", request_id, " was placed with node ",
                                     record->placed_with, ", which takes its steps"));
      }
      // Its state stays what the serving node last said.
      return placed_step(txn, *record, event, woken);
    }
    RETURN_IF_ERROR(step(txn, *record, event));
    RETURN_IF_ERROR(StoreServiceStep(txn, *record, std::move(event)));
    return ReportServiceProgress(txn, *record, woken);
  }));
  Notify(woken);
  MIR_LOG(INFO) << "service request " << request_id << " " << v1::ServiceEvent::Kind_Name(kind)
                << (serving.empty() ? "" : " asked of " + serving) << " by " << caller.Uri();
  return ServiceRequestViewOf(request_id);
}

absl::StatusOr<v1::ServiceRequestView> Node::AssignServiceRequest(
    const Identity& caller, const v1::AssignServiceRequestRequest& request) {
  const std::string& code = request.roster_code();
  return StepServiceRequest(caller, request.request_id(), v1::ServiceEvent::ASSIGNED,
                            [&](storage::Txn& txn, storage::ServiceRequestRecord& record,
                                v1::ServiceEvent& event) -> absl::Status {
                              std::optional<v1::RosterEntry> entry;
                              if (record.state == v1::SERVICE_REQUESTED && !code.empty()) {
                                ASSIGN_OR_RETURN(entry, txn.GetRosterEntry(code));
                              }
                              RETURN_IF_ERROR(CheckAssign(record, code, entry));
                              record.state = v1::SERVICE_ASSIGNED;
                              record.roster_code = code;
                              event.set_roster_code(code);
                              return absl::OkStatus();
                            });
}

absl::StatusOr<v1::ServiceRequestView> Node::ScheduleServiceRequest(
    const Identity& caller, const v1::ScheduleServiceRequestRequest& request) {
  std::optional<absl::Time> at;
  if (request.has_at()) at = FromProtoTime(request.at());
  return StepServiceRequest(caller, request.request_id(), v1::ServiceEvent::SCHEDULED,
                            [&](storage::Txn&, storage::ServiceRequestRecord& record,
                                v1::ServiceEvent& event) -> absl::Status {
                              RETURN_IF_ERROR(CheckSchedule(record, at));
                              record.state = v1::SERVICE_SCHEDULED;
                              record.scheduled_at = at;
                              *event.mutable_scheduled_at() = ToProtoTime(*at);
                              return absl::OkStatus();
                            });
}

absl::StatusOr<v1::ServiceRequestView> Node::CompleteServiceRequest(
    const Identity& caller, const v1::CompleteServiceRequestRequest& request) {
  return StepServiceRequest(caller, request.request_id(), v1::ServiceEvent::DONE,
                            [&](storage::Txn&, storage::ServiceRequestRecord& record,
                                v1::ServiceEvent& event) -> absl::Status {
                              RETURN_IF_ERROR(CheckComplete(record, request.outcome()));
                              record.state = v1::SERVICE_DONE;
                              record.outcome = request.outcome();
                              event.set_outcome(request.outcome());
                              return absl::OkStatus();
                            });
}

absl::StatusOr<v1::ServiceRequestView> Node::CancelServiceRequest(
    const Identity& caller, const v1::CancelServiceRequestRequest& request) {
  return StepServiceRequest(
      caller, request.request_id(), v1::ServiceEvent::CANCELLED,
      [&](storage::Txn&, storage::ServiceRequestRecord& record,
          v1::ServiceEvent& event) -> absl::Status {
        RETURN_IF_ERROR(CheckCancel(record, request.reason()));
        record.state = v1::SERVICE_CANCELLED;
        record.cancel_reason = request.reason();
        event.set_cancel_reason(request.reason());
        return absl::OkStatus();
      },
      // Placed elsewhere: recalled, cancelled where it is served.
      [&](storage::Txn& txn, storage::ServiceRequestRecord& record, v1::ServiceEvent& event,
          std::vector<std::string>& woken) -> absl::Status {
        RETURN_IF_ERROR(CheckRecall(record, request.reason()));
        return AskToCancel(txn, record, request.reason(), std::move(event), woken);
      });
}

absl::Status Node::AskToCancel(storage::Txn& txn, storage::ServiceRequestRecord& record,
                               v1::ServiceCancelReason reason, v1::ServiceEvent event,
                               std::vector<std::string>& woken) {
  v1::ServiceRequestUpdate ask;
  ask.set_request_id(record.request_id);
  ask.set_state(v1::SERVICE_CANCELLED);
  ask.set_cancel_reason(reason);
  RETURN_IF_ERROR(QueueNodeMessage(txn, v1::SERVICE_UPDATE, record.placed_with, record.request_id,
                                   ask.SerializeAsString(), woken));
  event.set_kind(v1::ServiceEvent::CANCEL_ASKED);
  event.set_node(record.placed_with);
  event.set_cancel_reason(reason);
  return StoreServiceStep(txn, record, std::move(event));
}

absl::StatusOr<v1::ListServiceRequestsResponse> Node::ListServiceRequests(
    const v1::ListServiceRequestsRequest& request) {
  storage::ServiceRequestQuery query;
  for (int state : request.states()) {
    if (!v1::ServiceRequestState_IsValid(state) || state == v1::SERVICE_REQUEST_STATE_UNSPECIFIED) {
      return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                      "field states holds a value the protocol does not define");
    }
    query.states.push_back(static_cast<v1::ServiceRequestState>(state));
  }
  ASSIGN_OR_RETURN(query.limit, RecordListLimit(request.limit(), kDefaultServiceListLimit,
                                                kMaxServiceListLimit));
  ASSIGN_OR_RETURN(std::vector<storage::ServiceRequestRecord> records,
                   store_->QueryServiceRequests(query));
  v1::ListServiceRequestsResponse response;
  for (const storage::ServiceRequestRecord& r : records) *response.add_requests() = SummaryOf(r);
  return response;
}

absl::StatusOr<v1::ServiceRequestView> Node::GetServiceRequest(
    const v1::GetServiceRequestRequest& request) {
  RETURN_IF_ERROR(CheckRecordId("request_id", request.request_id()));
  return ServiceRequestViewOf(request.request_id());
}

absl::StatusOr<v1::ServiceRequestView> Node::ServiceRequestViewOf(const std::string& request_id) {
  v1::ServiceRequestView view;
  RETURN_IF_ERROR(store_->Read([&](storage::ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(auto record, txn.GetServiceRequest(request_id));
    if (!record.has_value()) return UnknownServiceRequest(request_id);
    *view.mutable_summary() = SummaryOf(*record);
    *view.mutable_request() = record->facts;
    ASSIGN_OR_RETURN(v1::ServiceRequestPrivate part, OpenPrivate(txn, *record));
    view.mutable_request()->set_requester(part.requester());
    view.mutable_request()->set_notes(part.notes());
    ASSIGN_OR_RETURN(std::vector<std::string> events, txn.ServiceRequestEvents(request_id));
    for (const std::string& bytes : events) {
      ASSIGN_OR_RETURN(*view.add_events(), EventOf(bytes, request_id));
    }
    return absl::OkStatus();
  }));
  return view;
}

absl::StatusOr<v1::RosterEntry> Node::PutRosterEntry(const Identity& caller,
                                                     const v1::PutRosterEntryRequest& request) {
  RETURN_IF_ERROR(CheckRosterEntry(request.entry()));
  RETURN_IF_ERROR(
      store_->Transact([&](storage::Txn& txn) { return txn.PutRosterEntry(request.entry()); }));
  MIR_LOG(INFO) << "roster entry " << request.entry().code() << " put by " << caller.Uri()
                << (request.entry().available() ? " (available)" : " (not available)");
  return request.entry();
}

absl::StatusOr<v1::ListRosterResponse> Node::ListRoster() {
  ASSIGN_OR_RETURN(std::vector<v1::RosterEntry> entries, store_->Roster());
  v1::ListRosterResponse response;
  for (v1::RosterEntry& e : entries) *response.add_entries() = std::move(e);
  return response;
}

// --- Between nodes (PROTOCOL.md §15.5) ---

absl::StatusOr<v1::ServiceRequestView> Node::PlaceServiceRequest(
    const Identity& caller, const v1::PlaceServiceRequestRequest& request) {
  RETURN_IF_ERROR(CheckRecordId("request_id", request.request_id()));
  const std::string& id = request.request_id();
  const std::string& node = request.node();
  storage::ServiceRequestRecord probe;
  probe.state = v1::SERVICE_REQUESTED;
  RETURN_IF_ERROR(CheckPlace(probe, node, options_.node_id));
  if (!NextHop(node)) {
    return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                    absl::StrCat("no route to node ", node));
  }
  RETURN_IF_ERROR(registry_.CheckDestination(node, clock_->Now()));
  const std::shared_ptr<const v1::NodeRegistry> registry = registry_.current();
  ASSIGN_OR_RETURN(EncryptionCertificate recipient,
                   keyring_->CertificateFor(node, clock_->Now(), registry.get()));
  std::vector<std::string> woken;
  RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
    woken.clear();
    ASSIGN_OR_RETURN(auto record, txn.GetServiceRequest(id));
    if (!record.has_value()) return UnknownServiceRequest(id);
    RETURN_IF_ERROR(CheckPlace(*record, node, options_.node_id));
    ASSIGN_OR_RETURN(v1::ServiceRequestPrivate part, OpenPrivate(txn, *record));
    const SecretKey key = NewReferralKey();
    v1::ServiceRequestTransfer transfer;
    transfer.set_request_id(id);
    *transfer.mutable_request() = record->facts;
    transfer.set_origin_node(record->origin_node);
    *transfer.mutable_created_at() = ToProtoTime(record->created_at);
    ASSIGN_OR_RETURN(*transfer.mutable_wrapped_key(), WrapToRecipient(key, recipient.public_key));
    transfer.set_recipient_key_id(recipient.key_id);
    ASSIGN_OR_RETURN(*transfer.mutable_sealed(),
                     Seal(key, kServicePurpose, id, part.SerializeAsString(), RandomNonce()));
    RETURN_IF_ERROR(
        QueueNodeMessage(txn, v1::SERVICE_REQUEST, node, id, transfer.SerializeAsString(), woken));
    const absl::Time now = txn.Now();
    v1::ServiceEvent placed = NewEvent(v1::ServiceEvent::PLACED, caller.Uri(), now);
    placed.set_node(node);
    record->state = v1::SERVICE_PLACED;
    record->placed_with = node;
    return StoreServiceStep(txn, *record, std::move(placed));
  }));
  Notify(woken);
  MIR_LOG(INFO) << "service request " << id << " placed with " << node << " by " << caller.Uri();
  return ServiceRequestViewOf(id);
}

absl::StatusOr<Node::CheckedDelivery::ArrivedServiceRequest> Node::OpenServiceRequestTransfer(
    const VerifiedEnvelope& verified) const {
  CheckedDelivery::ArrivedServiceRequest arrived;
  const std::string& id = verified.header.referral_id();
  if (!arrived.transfer.ParseFromString(verified.body) || arrived.transfer.request_id() != id ||
      !IsCanonicalUuid(id) || !IsValidNodeId(arrived.transfer.origin_node())) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY,
                    "SERVICE_REQUEST body does not parse or disagrees with its header");
  }
  const v1::ServiceRequest& facts = arrived.transfer.request();
  if (!facts.requester().empty() || !facts.notes().empty()) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    "a SERVICE_REQUEST carries its requester and notes sealed");
  }
  const EncryptionKeyPair* pair = keyring_->OwnPair(arrived.transfer.recipient_key_id());
  if (pair == nullptr) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY,
                    "the request key is wrapped to an encryption key this node does not have");
  }
  ASSIGN_OR_RETURN(arrived.key, UnwrapWithKeyPair(arrived.transfer.wrapped_key(), *pair));
  ASSIGN_OR_RETURN(std::string part,
                   Open(arrived.key, kServicePurpose, id, arrived.transfer.sealed()));
  if (!arrived.sealed_part.ParseFromString(part)) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::SEALED_TAMPERED,
                    "the sealed part of the service request does not parse");
  }
  v1::ServiceRequest full = facts;
  full.set_requester(arrived.sealed_part.requester());
  full.set_notes(arrived.sealed_part.notes());
  // Checked as made, except for time: a window may have begun on the way.
  RETURN_IF_ERROR(CheckServiceRequest(full, absl::InfinitePast()));
  return arrived;
}

absl::Status Node::AcceptServiceRequestTransfer(
    storage::Txn& txn, const VerifiedEnvelope& verified,
    const CheckedDelivery::ArrivedServiceRequest& arrived) {
  const std::string& id = arrived.transfer.request_id();
  ASSIGN_OR_RETURN(auto existing, txn.GetServiceRequest(id));
  if (existing.has_value()) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION,
                    absl::StrCat("service request ", id, " is already at this node"));
  }
  const absl::Time now = txn.Now();
  storage::ServiceRequestRecord record;
  record.request_id = id;
  record.origin_node = arrived.transfer.origin_node();
  record.created_at =
      arrived.transfer.has_created_at() ? FromProtoTime(arrived.transfer.created_at()) : now;
  record.updated_at = now;
  record.state = v1::SERVICE_REQUESTED;
  record.request_sha256 = verified.envelope_sha256;
  record.facts = arrived.transfer.request();
  record.placed_from = verified.header.sender_node();
  ASSIGN_OR_RETURN(record.sealed, SealRecordPart(arrived.key, kServicePurpose, id,
                                                 arrived.sealed_part.SerializeAsString()));
  RETURN_IF_ERROR(txn.PutReferralKey(ServiceKeyOwner(id), arrived.key));
  RETURN_IF_ERROR(txn.InsertServiceRequest(record));
  v1::ServiceEvent event = NewEvent(v1::ServiceEvent::ARRIVED, verified.author.Uri(), now);
  event.set_node(record.placed_from);
  event.set_sealed_sha256(Sha256(record.sealed));
  RETURN_IF_ERROR(AppendServiceEvent(txn, id, std::move(event), &record.facts));
  MIR_LOG(INFO) << "service request " << id << " placed here by " << record.placed_from;
  return absl::OkStatus();
}

absl::Status Node::ReportServiceProgress(storage::Txn& txn,
                                         const storage::ServiceRequestRecord& record,
                                         std::vector<std::string>& woken) {
  if (record.placed_from.empty()) return absl::OkStatus();
  v1::ServiceRequestUpdate update;
  update.set_request_id(record.request_id);
  update.set_state(record.state);
  update.set_roster_code(record.roster_code);
  if (record.scheduled_at.has_value()) {
    *update.mutable_scheduled_at() = ToProtoTime(*record.scheduled_at);
  }
  update.set_outcome(record.outcome);
  update.set_cancel_reason(record.cancel_reason);
  return QueueNodeMessage(txn, v1::SERVICE_UPDATE, record.placed_from, record.request_id,
                          update.SerializeAsString(), woken);
}

absl::Status Node::AcceptServiceUpdate(storage::Txn& txn, const VerifiedEnvelope& verified,
                                       std::vector<std::string>& woken) {
  v1::ServiceRequestUpdate update;
  const std::string& id = verified.header.referral_id();
  if (!update.ParseFromString(verified.body) || update.request_id() != id) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY,
                    "SERVICE_UPDATE body does not parse or disagrees with its header");
  }
  ASSIGN_OR_RETURN(auto record, txn.GetServiceRequest(id));
  if (!record.has_value()) return UnknownServiceRequest(id);
  const std::string& sender = verified.header.sender_node();
  if (!record->placed_from.empty() && sender == record->placed_from) {
    return AcceptCancelAsked(txn, verified, *record, update, woken);
  }
  ASSIGN_OR_RETURN(bool moves, CheckUpdate(*record, sender, update));
  if (!moves) return absl::OkStatus();  // a repeat or an older step: taken in, nothing to do
  const absl::Time now = txn.Now();
  v1::ServiceEvent event = NewEvent(v1::ServiceEvent::UPDATED, verified.author.Uri(), now);
  event.set_node(sender);
  event.set_state(update.state());
  event.set_roster_code(update.roster_code());
  if (update.has_scheduled_at()) *event.mutable_scheduled_at() = update.scheduled_at();
  event.set_outcome(update.outcome());
  event.set_cancel_reason(update.cancel_reason());
  record->state = update.state();
  record->roster_code = update.roster_code();
  record->scheduled_at = update.has_scheduled_at()
                             ? std::optional<absl::Time>(FromProtoTime(update.scheduled_at()))
                             : std::nullopt;
  record->outcome = update.outcome();
  record->cancel_reason = update.cancel_reason();
  RETURN_IF_ERROR(StoreServiceStep(txn, *record, std::move(event)));
  MIR_LOG(INFO) << "service request " << id << " is "
                << v1::ServiceRequestState_Name(update.state()) << " at " << sender;
  // A node that placed it on tells the node that placed it here.
  return ReportServiceProgress(txn, *record, woken);
}

absl::Status Node::AcceptCancelAsked(storage::Txn& txn, const VerifiedEnvelope& verified,
                                     storage::ServiceRequestRecord& record,
                                     const v1::ServiceRequestUpdate& update,
                                     std::vector<std::string>& woken) {
  ASSIGN_OR_RETURN(bool open, CheckCancelAsked(record, update));
  if (!open) return absl::OkStatus();  // done or cancelled here: the update back says so
  const std::string& sender = verified.header.sender_node();
  const absl::Time now = txn.Now();
  v1::ServiceEvent event = NewEvent(v1::ServiceEvent::CANCELLED, verified.author.Uri(), now);
  event.set_node(sender);
  if (!record.placed_with.empty()) {
    // Placed on from here: the node serving it is asked in turn.
    MIR_LOG(INFO) << "service request " << record.request_id << ": " << sender
                  << " asked to cancel it; asking " << record.placed_with;
    return AskToCancel(txn, record, update.cancel_reason(), std::move(event), woken);
  }
  event.set_cancel_reason(update.cancel_reason());
  record.state = v1::SERVICE_CANCELLED;
  record.cancel_reason = update.cancel_reason();
  RETURN_IF_ERROR(StoreServiceStep(txn, record, std::move(event)));
  MIR_LOG(INFO) << "service request " << record.request_id << " cancelled, asked by " << sender;
  // As for any step here: the placing node learns it is cancelled.
  return ReportServiceProgress(txn, record, woken);
}

}  // namespace mir::broker
