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

// An event envelope of `kind` (REPORT_EVENT, SERVICE_EVENT) about record
// `id`, from node `node_id` to itself, at `sequence`, carrying `body`,
// signed by `signer`.
absl::StatusOr<std::string> SignRecordEvent(const Signer& signer, v1::MessageKind kind,
                                            const std::string& node_id, const std::string& id,
                                            uint64_t sequence, absl::Time at,
                                            const std::string& body);

}  // namespace mir::broker

#endif  // MIR_BROKER_NODE_RECORDS_H_
