#include "storage/inbox.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "storage/audit_chain.h"
#include "storage/rows.h"

namespace mir::storage {

namespace inbox {

absl::StatusOr<std::optional<InboxRecord>> Find(Db& db, const std::string& message_id) {
  ASSIGN_OR_RETURN(
      Statement s,
      db.Prepare("SELECT " MIR_INBOX_COLUMNS " FROM inbox WHERE message_id = ?1", "read inbox"));
  s.BindText(1, message_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::nullopt;
  return InboxFrom(s);
}

absl::Status Insert(Db& db, const InboxRecord& record) {
  if (record.message_id.empty() || record.message_id.size() > kMaxIdBytes) {
    return InvalidField("inbox record needs a message id of 1-128 bytes");
  }
  ASSIGN_OR_RETURN(std::optional<InboxRecord> existing, Find(db, record.message_id));
  if (existing.has_value()) {
    if (existing->envelope_sha256 != record.envelope_sha256) {
      return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                      absl::StrCat("message ", record.message_id,
                                   " was already received with different bytes"));
    }
    return absl::AlreadyExistsError(
        absl::StrCat("message ", record.message_id, " was already received"));
  }
  ASSIGN_OR_RETURN(Statement s, db.Prepare("INSERT INTO inbox (" MIR_INBOX_COLUMNS
                                           ") VALUES (?1, ?2, ?3, ?4, ?5)",
                                           "write inbox"));
  s.BindText(1, record.message_id)
      .BindText(2, record.sender_node)
      .BindBlob(3, record.envelope_sha256)
      .BindBlob(4, record.receipt)
      .BindInt(5, Micros(record.received_at));
  return s.Run();
}

}  // namespace inbox

std::string EnvelopeSha256(absl::string_view envelope) { return Sha256(envelope); }

absl::StatusOr<InboundResult> AcceptInboundInTxn(Txn& txn, const InboundEnvelope& inbound,
                                                 const std::optional<Event>& event,
                                                 const std::vector<OutgoingEnvelope>& outgoing,
                                                 ReceiptMaker make_receipt) {
  if (inbound.message_id.empty()) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    "inbound envelope has no message id");
  }
  InboundResult result;
  result.envelope_sha256 = EnvelopeSha256(inbound.envelope);
  ASSIGN_OR_RETURN(std::optional<InboxRecord> seen, txn.FindInbox(inbound.message_id));
  if (seen.has_value()) {
    if (seen->envelope_sha256 != result.envelope_sha256) {
      return MirError(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT,
                      absl::StrCat("message ", inbound.message_id,
                                   " was already received with different bytes"));
    }
    result.duplicate = true;
    result.receipt = seen->receipt;
    return result;
  }
  // All of it or none of it, even when the caller batches several messages
  // in one transaction and carries on after this one is refused.
  RETURN_IF_ERROR(txn.Atomically([&]() -> absl::Status {
    if (event.has_value()) {
      ASSIGN_OR_RETURN(result.apply, txn.ApplyEvent(*event));
    }
    for (const OutgoingEnvelope& o : outgoing) RETURN_IF_ERROR(txn.Enqueue(o));
    const absl::Time now = txn.Now();
    ASSIGN_OR_RETURN(result.receipt, make_receipt(result.envelope_sha256, now));
    InboxRecord record;
    record.message_id = inbound.message_id;
    record.sender_node = inbound.sender_node;
    record.envelope_sha256 = result.envelope_sha256;
    record.receipt = result.receipt;
    record.received_at = now;
    return txn.InsertInbox(record);
  }));
  return result;
}

absl::StatusOr<InboundResult> AcceptInbound(Store& store, const InboundEnvelope& inbound,
                                            const std::optional<Event>& event,
                                            const std::vector<OutgoingEnvelope>& outgoing,
                                            ReceiptMaker make_receipt) {
  InboundResult result;
  RETURN_IF_ERROR(store.Transact([&](Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(result, AcceptInboundInTxn(txn, inbound, event, outgoing, make_receipt));
    return absl::OkStatus();
  }));
  return result;
}

}  // namespace mir::storage
