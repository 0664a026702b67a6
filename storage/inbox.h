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

// Keeps a receipt that covers several envelopes once, in `receipts`, and
// returns its SHA-256, which the rows it covers reference.
absl::StatusOr<std::string> StoreSharedReceipt(Db& db, const std::string& receipt);

namespace inbox {

absl::StatusOr<std::optional<InboxRecord>> Find(Db& db, const std::string& message_id);
// ALREADY_EXISTS if the id is there (reason DUPLICATE_CONFLICT when its
// envelope_sha256 differs).
absl::Status Insert(Db& db, const InboxRecord& record);

}  // namespace inbox
}  // namespace mir::storage

#endif  // MIR_STORAGE_INBOX_H_
