#ifndef MIR_BROKER_NODE_RECORDS_H_
#define MIR_BROKER_NODE_RECORDS_H_

// What a node's own records — citizen reports (PROTOCOL.md §14) and service
// requests (§15) — share: their personal parts sealed under a key of the
// record's own, which the node keeps like a referral key, and their steps
// as events the node signs and keeps. Thread-safe; no I/O but the reads of
// the transaction given.

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/sealing.h"
#include "crypto/signer.h"
#include "mir/v1/envelope.pb.h"
#include "storage/store.h"

namespace mir::broker {

// INVALID_ARGUMENT INVALID_FIELD naming `field` unless `id` is a lowercase
// canonical UUID.
absl::Status CheckRecordId(absl::string_view field, const std::string& id);

// `plain` sealed under `key` for `purpose`, bound to the record `id` (§11.2
// with the record's id in place of a referral's): a serialized v1::Sealed.
absl::StatusOr<std::string> SealRecordPart(const SecretKey& key, absl::string_view purpose,
                                           const std::string& id, const std::string& plain);

// A part SealRecordPart made, opened with the key kept under `key_owner`.
// DATA_LOSS SEALED_TAMPERED if it does not parse or open; FAILED_PRECONDITION
// UNKNOWN_KEY if the node does not hold the key. `what` names the record in
// messages, e.g. "report 0193...".
absl::StatusOr<std::string> OpenRecordPart(storage::ReadTxn& txn, const std::string& key_owner,
                                           absl::string_view purpose, const std::string& id,
                                           const std::string& stored, absl::string_view what);

// DATA_LOSS errors naming the record `what` (e.g. "report 0193..."): its
// sealed part, or one of its events, does not parse.
absl::Status SealedRecordPartDoesNotParse(absl::string_view what);
absl::Status RecordEventDoesNotParse(absl::string_view what);

// OpenRecordPart's bytes parsed as `Part` (ReportPrivate,
// ServiceRequestPrivate); DATA_LOSS SEALED_TAMPERED if they do not parse.
template <typename Part>
absl::StatusOr<Part> OpenRecordMessage(storage::ReadTxn& txn, const std::string& key_owner,
                                       absl::string_view purpose, const std::string& id,
                                       const std::string& stored, absl::string_view what) {
  ASSIGN_OR_RETURN(std::string bytes, OpenRecordPart(txn, key_owner, purpose, id, stored, what));
  Part part;
  if (!part.ParseFromString(bytes)) return SealedRecordPartDoesNotParse(what);
  return part;
}
// The body of an event envelope this node signed and kept (SignRecordEvent),
// parsed as `Signed` (SignedReportEvent, SignedServiceEvent) and about the
// record `id`, which `id_of` reads; DATA_LOSS MALFORMED_BODY otherwise.
template <typename Signed>
absl::StatusOr<Signed> StoredRecordEvent(const std::string& envelope_bytes,
                                         const std::string& (Signed::*id_of)() const,
                                         const std::string& id, absl::string_view what) {
  v1::Envelope envelope;
  Signed signed_event;
  if (!envelope.ParseFromString(envelope_bytes) || !signed_event.ParseFromString(envelope.body()) ||
      (signed_event.*id_of)() != id) {
    return RecordEventDoesNotParse(what);
  }
  return signed_event;
}
// A new step (ReportEvent, ServiceEvent) of `kind`, taken by `actor` at `at`.
template <typename Event>
Event NewRecordEvent(typename Event::Kind kind, const std::string& actor, absl::Time at) {
  Event event;
  event.set_kind(kind);
  event.set_actor(actor);
  *event.mutable_at() = ToProtoTime(at);
  return event;
}

// How many records a list returns: `asked`, or `default_limit` for 0;
// INVALID_FIELD naming the field `limit` outside 0..`max_limit`.
absl::StatusOr<int> RecordListLimit(int asked, int default_limit, int max_limit);

// An event envelope of `kind` (REPORT_EVENT, SERVICE_EVENT) about record
// `id`, from node `node_id` to itself, at `sequence`, carrying `body`,
// signed by `signer`.
absl::StatusOr<std::string> SignRecordEvent(const Signer& signer, v1::MessageKind kind,
                                            const std::string& node_id, const std::string& id,
                                            uint64_t sequence, absl::Time at,
                                            const std::string& body);

}  // namespace mir::broker

#endif  // MIR_BROKER_NODE_RECORDS_H_
