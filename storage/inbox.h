#ifndef MIR_STORAGE_INBOX_H_
#define MIR_STORAGE_INBOX_H_

// Internal to storage/: the inbox table, which makes receiving exactly-once
// (docs/STORAGE.md, "Inbox: exactly-once"). The broker's Node::Deliver
// looks a message id up (Txn::FindInbox) and records it with its receipt
// (Txn::InsertInbox) in the transaction that applies it, so a refused
// message leaves no row and its redelivery is judged again. Each function
// runs on the caller's connection and transaction.

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage {

// Keeps each receipt that covers several envelopes (a batch, PROTOCOL.md
// §6.2.1) once, in `receipts`; the rows it covers name it by its SHA-256.
// The rows of one batch are written one after another, so the last receipt
// is remembered: a batch's receipt is parsed, hashed and stored once, not
// once per row (which made a batch's bookkeeping quadratic in its size).
// One per transaction, on that transaction's connection.
class SharedReceipts {
 public:
  explicit SharedReceipts(Db& db) : db_(db) {}

  // The SHA-256 that names `receipt` in `receipts` when it covers several
  // envelopes; nullopt when it covers one (or does not parse) and is kept
  // inline in the row.
  absl::StatusOr<std::optional<std::string>> Keep(const std::string& receipt);
  // After a rollback that may have undone the last Keep.
  void Forget() { has_last_ = false; }

 private:
  Db& db_;
  bool has_last_ = false;
  std::string last_receipt_;
  std::optional<std::string> last_sha256_;
};

namespace inbox {

absl::StatusOr<std::optional<InboxRecord>> Find(Db& db, const std::string& message_id);
// ALREADY_EXISTS if the id is there (reason DUPLICATE_CONFLICT when its
// envelope_sha256 differs).
absl::Status Insert(Db& db, SharedReceipts& receipts, const InboxRecord& record);

}  // namespace inbox
}  // namespace mir::storage

#endif  // MIR_STORAGE_INBOX_H_
