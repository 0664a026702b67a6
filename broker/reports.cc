// Citizen reports at a node (PROTOCOL.md §14): Node's report operations, and
// the CITIZEN_REPORT envelopes between nodes. The rules are report_rules.h;
// here they are applied inside one transaction per step, each step signed
// by this node as a REPORT_EVENT naming the person who took it.

#include <sodium.h>

#include "absl/strings/str_cat.h"
#include "broker/node.h"
#include "broker/node_records.h"
#include "broker/report_rules.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/sealing.h"

namespace mir::broker {
namespace {

constexpr char kReportPurpose[] = "report";
constexpr char kContactPurpose[] = "report-contact";
constexpr int kDefaultReportListLimit = 100;
constexpr int kMaxReportListLimit = 1000;

absl::Status UnknownReport(const std::string& report_id) {
  return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_REPORT,
                  absl::StrCat("report ", report_id, " is not known at this node"));
}

absl::StatusOr<std::string> OpenPart(storage::ReadTxn& txn, const char* purpose,
                                     const std::string& report_id, const std::string& stored) {
  return OpenRecordPart(txn, ReportKeyOwner(report_id), purpose, report_id, stored,
                        absl::StrCat("report ", report_id));
}

// What the report's sealed part holds, opened.
absl::StatusOr<v1::ReportPrivate> OpenPrivate(storage::ReadTxn& txn,
                                              const storage::ReportRecord& record) {
  const std::string& id = record.report_id;
  return OpenRecordMessage<v1::ReportPrivate>(txn, ReportKeyOwner(id), kReportPurpose, id,
                                              record.sealed, absl::StrCat("report ", id));
}

v1::ReportSummary SummaryOf(const storage::ReportRecord& r) {
  v1::ReportSummary s;
  s.set_report_id(r.report_id);
  s.set_state(r.state);
  s.set_triage(r.triage);
  s.set_channel(r.facts.channel());
  s.set_reporter_type(r.facts.reporter_type());
  s.set_reason(r.facts.reason());
  s.set_province(r.facts.province());
  s.set_immediate_danger(r.facts.immediate_danger());
  s.set_minors_suspected(r.facts.minors_suspected());
  *s.mutable_recorded_at() = ToProtoTime(r.recorded_at);
  s.set_origin_node(r.origin_node);
  s.set_routed_to(r.routed_to);
  s.set_referral_id(r.referral_id);
  s.set_has_contact(r.has_contact);
  return s;
}

// The event a stored REPORT_EVENT envelope carries (this node signed it).
absl::StatusOr<v1::ReportEvent> EventOf(const std::string& envelope_bytes,
                                        const std::string& report_id) {
  ASSIGN_OR_RETURN(v1::SignedReportEvent signed_event,
                   StoredRecordEvent(envelope_bytes, &v1::SignedReportEvent::report_id, report_id,
                                     absl::StrCat("report ", report_id)));
  return signed_event.event();
}

constexpr auto NewEvent = &NewRecordEvent<v1::ReportEvent>;

}  // namespace

absl::Status Node::InsertReport(storage::Txn& txn, storage::ReportRecord record,
                                const v1::CitizenReport& report, const SecretKey& key,
                                v1::ReportEvent first) {
  const std::string& id = record.report_id;
  v1::ReportPrivate part;
  part.set_municipality(report.municipality());
  part.set_description(report.description());
  ASSIGN_OR_RETURN(record.sealed,
                   SealRecordPart(key, kReportPurpose, id, part.SerializeAsString()));
  record.facts = ClearFacts(report);
  record.has_contact = !report.contact().empty();
  RETURN_IF_ERROR(txn.PutReferralKey(ReportKeyOwner(id), key));
  RETURN_IF_ERROR(txn.InsertReport(record));
  if (record.has_contact) {
    ASSIGN_OR_RETURN(std::string contact,
                     SealRecordPart(key, kContactPurpose, id, report.contact()));
    RETURN_IF_ERROR(txn.PutReportContact(id, contact));
  }
  first.set_sealed_sha256(Sha256(record.sealed));
  return AppendReportEvent(txn, id, std::move(first), &record.facts);
}

absl::Status Node::AppendReportEvent(storage::Txn& txn, const std::string& report_id,
                                     v1::ReportEvent event, const v1::CitizenReport* facts) {
  ASSIGN_OR_RETURN(std::vector<std::string> events, txn.ReportEvents(report_id));
  const uint64_t sequence = events.size() + 1;
  v1::SignedReportEvent body;
  body.set_report_id(report_id);
  body.set_sequence(sequence);
  *body.mutable_event() = std::move(event);
  if (facts != nullptr) *body.mutable_report() = *facts;
  ASSIGN_OR_RETURN(std::string bytes,
                   SignRecordEvent(*signer(), v1::REPORT_EVENT, options_.node_id, report_id,
                                   sequence, clock_->Now(), body.SerializeAsString()));
  return txn.AppendReportEvent(report_id, sequence, bytes);
}

absl::StatusOr<v1::ReportView> Node::RecordReport(const Identity& caller,
                                                  const v1::RecordReportRequest& request) {
  RETURN_IF_ERROR(CheckRecordId("report_id", request.report_id()));
  RETURN_IF_ERROR(CheckReport(request.report()));
  const std::string& id = request.report_id();
  std::string request_bytes;
  request.SerializeToString(&request_bytes);
  const std::string request_sha256 = Sha256(request_bytes);
  const SecretKey key = NewReferralKey();
  bool repeated = false;
  RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(auto existing, txn.GetReport(id));
    if (existing.has_value()) {
      if (existing->request_sha256 != request_sha256) {
        return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                        absl::StrCat("report ", id, " was recorded with other content"));
      }
      repeated = true;
      return absl::OkStatus();
    }
    const absl::Time now = txn.Now();
    storage::ReportRecord record;
    record.report_id = id;
    record.origin_node = options_.node_id;
    record.recorded_at = now;
    record.updated_at = now;
    record.state = v1::REPORT_RECEIVED;
    record.request_sha256 = request_sha256;
    return InsertReport(txn, std::move(record), request.report(), key,
                        NewEvent(v1::ReportEvent::RECORDED, caller.Uri(), now));
  }));
  if (!repeated) {
    MIR_LOG(INFO) << "report " << id << " recorded by " << caller.Uri() << " ("
                  << v1::ContactChannel_Name(request.report().channel()) << ")";
  }
  return ReportViewOf(id, /*include_contact=*/false);
}

absl::StatusOr<v1::PublicReportResponse> Node::RecordPublicReport(
    const v1::PublicReportRequest& request) {
  v1::CitizenReport report = request.report();
  report.set_channel(v1::CHANNEL_WEB_FORM);
  RETURN_IF_ERROR(CheckReport(report));
  const std::string id = NewUuid();
  const SecretKey key = NewReferralKey();
  v1::PublicReportResponse response;
  response.set_passphrase(NewPassphrase());
  // A code already taken (one chance in 2^60 per report) is drawn again.
  for (int attempt = 0;; ++attempt) {
    response.set_receipt_code(NewReceiptCode());
    const absl::Status status = store_->Transact([&](storage::Txn& txn) -> absl::Status {
      const absl::Time now = txn.Now();
      storage::ReportRecord record;
      record.report_id = id;
      record.origin_node = options_.node_id;
      record.recorded_at = now;
      record.updated_at = now;
      record.state = v1::REPORT_RECEIVED;
      record.request_sha256 = Sha256(id);
      record.receipt_code = response.receipt_code();
      record.passphrase_hash = PassphraseHash(response.receipt_code(), response.passphrase());
      return InsertReport(txn, std::move(record), report, key,
                          NewEvent(v1::ReportEvent::RECORDED, signer()->identity().Uri(), now));
    });
    if (status.ok()) break;
    if (!absl::IsAlreadyExists(status) || attempt >= 2) return status;
  }
  MIR_LOG(INFO) << "report " << id << " recorded from the public form";
  return response;
}

absl::StatusOr<v1::ReportView> Node::TriageReport(const Identity& caller,
                                                  const v1::TriageReportRequest& request) {
  RETURN_IF_ERROR(CheckRecordId("report_id", request.report_id()));
  const std::string& id = request.report_id();
  const std::string& route_to = request.route_to();
  // What routing needs from outside the store, before the write lock.
  std::optional<EncryptionCertificate> recipient;
  if (!route_to.empty()) {
    storage::ReportRecord probe;
    probe.state = v1::REPORT_RECEIVED;
    RETURN_IF_ERROR(CheckTriage(probe, request.triage(), route_to, options_.node_id));
    if (!NextHop(route_to)) {
      return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                      absl::StrCat("no route to node ", route_to));
    }
    RETURN_IF_ERROR(registry_.CheckDestination(route_to, clock_->Now()));
    const std::shared_ptr<const v1::NodeRegistry> registry = registry_.current();
    ASSIGN_OR_RETURN(recipient, keyring_->CertificateFor(route_to, clock_->Now(), registry.get()));
  }
  std::vector<std::string> woken;
  RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
    woken.clear();
    ASSIGN_OR_RETURN(auto record, txn.GetReport(id));
    if (!record.has_value()) return UnknownReport(id);
    RETURN_IF_ERROR(CheckTriage(*record, request.triage(), route_to, options_.node_id));
    const absl::Time now = txn.Now();
    v1::ReportEvent triaged = NewEvent(v1::ReportEvent::TRIAGED, caller.Uri(), now);
    triaged.set_triage(request.triage());
    RETURN_IF_ERROR(AppendReportEvent(txn, id, std::move(triaged), nullptr));
    record->triage = request.triage();
    record->state = v1::REPORT_TRIAGED;
    record->updated_at = now;
    if (recipient.has_value()) {
      ASSIGN_OR_RETURN(v1::ReportPrivate part, OpenPrivate(txn, *record));
      const SecretKey transfer_key = NewReferralKey();
      v1::ReportTransfer transfer;
      transfer.set_report_id(id);
      *transfer.mutable_report() = record->facts;
      transfer.set_triage(request.triage());
      *transfer.mutable_recorded_at() = ToProtoTime(record->recorded_at);
      ASSIGN_OR_RETURN(*transfer.mutable_wrapped_key(),
                       WrapToRecipient(transfer_key, recipient->public_key));
      transfer.set_recipient_key_id(recipient->key_id);
      ASSIGN_OR_RETURN(*transfer.mutable_sealed(), Seal(transfer_key, kReportPurpose, id,
                                                        part.SerializeAsString(), RandomNonce()));
      RETURN_IF_ERROR(QueueNodeMessage(txn, v1::CITIZEN_REPORT, route_to, id,
                                       transfer.SerializeAsString(), woken));
      v1::ReportEvent routed = NewEvent(v1::ReportEvent::ROUTED, caller.Uri(), now);
      routed.set_node(route_to);
      RETURN_IF_ERROR(AppendReportEvent(txn, id, std::move(routed), nullptr));
      record->state = v1::REPORT_ROUTED;
      record->routed_to = route_to;
    }
    return txn.UpdateReport(*record);
  }));
  Notify(woken);
  MIR_LOG(INFO) << "report " << id << " triaged " << v1::Triage_Name(request.triage()) << " by "
                << caller.Uri() << (route_to.empty() ? "" : " and sent on to " + route_to);
  return ReportViewOf(id, /*include_contact=*/false);
}

absl::StatusOr<v1::ReportView> Node::LinkReport(const Identity& caller,
                                                const v1::LinkReportRequest& request) {
  RETURN_IF_ERROR(CheckRecordId("report_id", request.report_id()));
  const std::string& id = request.report_id();
  const std::string& referral_id = request.referral_id();
  if (!IsCanonicalUuid(referral_id)) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    "field referral_id must be a lowercase UUID (8-4-4-4-12 hex digits)");
  }
  RETURN_IF_ERROR(store_->Transact([&](storage::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(auto record, txn.GetReport(id));
    if (!record.has_value()) return UnknownReport(id);
    RETURN_IF_ERROR(CheckLink(*record));
    ASSIGN_OR_RETURN(auto referral, txn.GetReferral(referral_id));
    if (!referral.has_value()) {
      return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL,
                      absl::StrCat("referral ", referral_id, " is not known at this node"));
    }
    const absl::Time now = txn.Now();
    v1::ReportEvent linked = NewEvent(v1::ReportEvent::LINKED, caller.Uri(), now);
    linked.set_referral_id(referral_id);
    RETURN_IF_ERROR(AppendReportEvent(txn, id, std::move(linked), nullptr));
    record->referral_id = referral_id;
    record->updated_at = now;
    return txn.UpdateReport(*record);
  }));
  MIR_LOG(INFO) << "report " << id << " linked to referral " << referral_id << " by "
                << caller.Uri();
  return ReportViewOf(id, /*include_contact=*/false);
}

absl::StatusOr<v1::ListReportsResponse> Node::ListReports(const v1::ListReportsRequest& request) {
  storage::ReportQuery query;
  for (int state : request.states()) {
    if (!v1::ReportState_IsValid(state) || state == v1::REPORT_STATE_UNSPECIFIED) {
      return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                      "field states holds a value the protocol does not define");
    }
    query.states.push_back(static_cast<v1::ReportState>(state));
  }
  ASSIGN_OR_RETURN(query.limit,
                   RecordListLimit(request.limit(), kDefaultReportListLimit, kMaxReportListLimit));
  ASSIGN_OR_RETURN(std::vector<storage::ReportRecord> records, store_->QueryReports(query));
  v1::ListReportsResponse response;
  for (const storage::ReportRecord& r : records) *response.add_reports() = SummaryOf(r);
  return response;
}

absl::StatusOr<v1::ReportView> Node::GetReport(const Identity& caller,
                                               const v1::GetReportRequest& request) {
  RETURN_IF_ERROR(CheckRecordId("report_id", request.report_id()));
  ASSIGN_OR_RETURN(v1::ReportView view,
                   ReportViewOf(request.report_id(), request.include_contact()));
  if (request.include_contact() && view.summary().has_contact()) {
    MIR_LOG(INFO) << caller.Uri() << " read the reporter's contact of report "
                  << request.report_id();
  }
  return view;
}

absl::StatusOr<v1::ReportView> Node::ReportViewOf(const std::string& report_id,
                                                  bool include_contact) {
  v1::ReportView view;
  RETURN_IF_ERROR(store_->Read([&](storage::ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(auto record, txn.GetReport(report_id));
    if (!record.has_value()) return UnknownReport(report_id);
    *view.mutable_summary() = SummaryOf(*record);
    *view.mutable_report() = record->facts;
    ASSIGN_OR_RETURN(v1::ReportPrivate part, OpenPrivate(txn, *record));
    view.mutable_report()->set_municipality(part.municipality());
    view.mutable_report()->set_description(part.description());
    if (include_contact && record->has_contact) {
      ASSIGN_OR_RETURN(auto stored, txn.ReportContact(report_id));
      if (stored.has_value()) {
        ASSIGN_OR_RETURN(std::string contact, OpenPart(txn, kContactPurpose, report_id, *stored));
        view.mutable_report()->set_contact(contact);
      }
    }
    ASSIGN_OR_RETURN(std::vector<std::string> events, txn.ReportEvents(report_id));
    for (const std::string& bytes : events) {
      ASSIGN_OR_RETURN(*view.add_events(), EventOf(bytes, report_id));
    }
    return absl::OkStatus();
  }));
  return view;
}

absl::StatusOr<v1::FollowUpResponse> Node::FollowUpReport(const v1::FollowUpRequest& request) {
  const absl::Status unknown = MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_REPORT,
                                        "no report has this receipt code and passphrase");
  ASSIGN_OR_RETURN(std::string code, CanonicalReceiptCode(request.receipt_code()));
  if (request.passphrase().empty() || request.passphrase().size() > 64) return unknown;
  std::optional<storage::ReportRecord> record;
  RETURN_IF_ERROR(store_->Read([&](storage::ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(record, txn.FindReportByReceiptCode(code));
    return absl::OkStatus();
  }));
  // The hash is computed whether or not the code exists: the answer takes
  // the same work either way.
  const std::string hash = PassphraseHash(code, request.passphrase());
  if (!record.has_value() || record->passphrase_hash.size() != hash.size() ||
      sodium_memcmp(record->passphrase_hash.data(), hash.data(), hash.size()) != 0) {
    return unknown;
  }
  v1::FollowUpResponse response;
  response.set_progress(ProgressOf(*record));
  const absl::Time day = absl::FromCivil(absl::ToCivilDay(record->recorded_at, absl::UTCTimeZone()),
                                         absl::UTCTimeZone());
  *response.mutable_received_on() = ToProtoTime(day);
  return response;
}

// --- Between nodes ---

absl::StatusOr<Node::CheckedDelivery::ArrivedReport> Node::OpenReportTransfer(
    const VerifiedEnvelope& verified) const {
  CheckedDelivery::ArrivedReport arrived;
  const std::string& id = verified.header.referral_id();
  if (!arrived.transfer.ParseFromString(verified.body) || arrived.transfer.report_id() != id ||
      !IsCanonicalUuid(id)) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY,
                    "CITIZEN_REPORT body does not parse or disagrees with its header");
  }
  const v1::CitizenReport& facts = arrived.transfer.report();
  if (!facts.description().empty() || !facts.municipality().empty() || !facts.contact().empty()) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    "a CITIZEN_REPORT carries its description and municipality sealed, and "
                    "never the reporter's contact");
  }
  RETURN_IF_ERROR(CheckReport(facts));
  const EncryptionKeyPair* pair = keyring_->OwnPair(arrived.transfer.recipient_key_id());
  if (pair == nullptr) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::UNKNOWN_KEY,
                    "the report key is wrapped to an encryption key this node does not have");
  }
  ASSIGN_OR_RETURN(arrived.key, UnwrapWithKeyPair(arrived.transfer.wrapped_key(), *pair));
  ASSIGN_OR_RETURN(std::string part,
                   Open(arrived.key, kReportPurpose, id, arrived.transfer.sealed()));
  if (!arrived.sealed_part.ParseFromString(part)) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::SEALED_TAMPERED,
                    "the sealed part of the report does not parse");
  }
  v1::CitizenReport full = facts;
  full.set_municipality(arrived.sealed_part.municipality());
  full.set_description(arrived.sealed_part.description());
  RETURN_IF_ERROR(CheckReport(full));
  return arrived;
}

absl::Status Node::AcceptReportTransfer(storage::Txn& txn, const VerifiedEnvelope& verified,
                                        const CheckedDelivery::ArrivedReport& arrived) {
  const std::string& id = arrived.transfer.report_id();
  ASSIGN_OR_RETURN(auto existing, txn.GetReport(id));
  if (existing.has_value()) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION,
                    absl::StrCat("report ", id, " is already at this node"));
  }
  v1::CitizenReport report = arrived.transfer.report();
  report.set_municipality(arrived.sealed_part.municipality());
  report.set_description(arrived.sealed_part.description());
  const absl::Time now = txn.Now();
  storage::ReportRecord record;
  record.report_id = id;
  record.origin_node = verified.header.sender_node();
  record.recorded_at =
      arrived.transfer.has_recorded_at() ? FromProtoTime(arrived.transfer.recorded_at()) : now;
  record.updated_at = now;
  record.state = v1::REPORT_RECEIVED;
  record.request_sha256 = verified.envelope_sha256;
  v1::ReportEvent event = NewEvent(v1::ReportEvent::ARRIVED, verified.author.Uri(), now);
  event.set_node(verified.header.sender_node());
  event.set_triage(arrived.transfer.triage());
  RETURN_IF_ERROR(InsertReport(txn, std::move(record), report, arrived.key, std::move(event)));
  MIR_LOG(INFO) << "report " << id << " arrived from " << verified.header.sender_node();
  return absl::OkStatus();
}

}  // namespace mir::broker
