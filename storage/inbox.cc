#include "storage/inbox.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "storage/rows.h"

namespace mir::storage::inbox {

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

}  // namespace mir::storage::inbox
