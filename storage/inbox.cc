#include "storage/inbox.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "storage/rows.h"

namespace mir::storage {

absl::StatusOr<std::optional<std::string>> SharedReceipts::Keep(const std::string& receipt) {
  if (has_last_ && receipt == last_receipt_) return last_sha256_;
  std::optional<std::string> sha256;
  if (ReceiptEntryCount(receipt) > 1) {
    sha256 = Sha256(receipt);
    ASSIGN_OR_RETURN(
        Statement s,
        db_.Prepare("INSERT OR IGNORE INTO receipts (sha256, envelope) VALUES (?1, ?2)",
                    "store a batch receipt"));
    s.BindBlob(1, *sha256).BindBlob(2, receipt);
    RETURN_IF_ERROR(s.Run());
  }
  has_last_ = true;
  last_receipt_ = receipt;
  last_sha256_ = sha256;
  return sha256;
}

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

absl::Status Insert(Db& db, SharedReceipts& receipts, const InboxRecord& record) {
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
  ASSIGN_OR_RETURN(std::optional<std::string> shared, receipts.Keep(record.receipt));
  ASSIGN_OR_RETURN(Statement s, db.Prepare("INSERT INTO inbox (message_id, sender_node, "
                                           "envelope_sha256, receipt, received_at_us, "
                                           "receipt_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                           "write inbox"));
  s.BindText(1, record.message_id)
      .BindText(2, record.sender_node)
      .BindBlob(3, record.envelope_sha256)
      .BindBlob(4, shared.has_value() ? std::string() : record.receipt)
      .BindInt(5, Micros(record.received_at));
  if (shared.has_value()) {
    s.BindBlob(6, *shared);
  } else {
    s.BindNull(6);
  }
  return s.Run();
}

}  // namespace inbox
}  // namespace mir::storage
