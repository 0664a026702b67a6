#ifndef MIR_STORAGE_INBOX_H_
#define MIR_STORAGE_INBOX_H_

// Exactly-once acceptance of an inbound envelope (docs/STORAGE.md, "Inbox").
//
// One transaction: look the message id up in the inbox; if it is new, apply
// its lifecycle event (if any), enqueue what it causes to be sent, make the
// receipt and record the message with that receipt. A redelivery of the same
// bytes returns the stored receipt and changes nothing, so the sender can
// retry blindly; the same id with different bytes is refused.

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage {

namespace inbox {
// Internal to storage/: the inbox table, on the caller's connection and
// transaction (Txn::FindInbox, Txn::InsertInbox, Store::FindInboxRecord).
absl::StatusOr<std::optional<InboxRecord>> Find(Db& db, const std::string& message_id);
absl::Status Insert(Db& db, const InboxRecord& record);
}  // namespace inbox

struct InboundEnvelope {
  std::string message_id;   // from the verified header
  std::string sender_node;  // the node that delivered it
  std::string envelope;     // the exact bytes received
};

struct InboundResult {
  // True when the message id was already in the inbox with the same bytes:
  // nothing was applied or enqueued, `receipt` is the stored one.
  bool duplicate = false;
  std::string receipt;
  std::string envelope_sha256;  // 32 raw bytes
  ApplyResult apply;            // what `event` did; empty if none or duplicate
};

// Makes the receipt for a new message: receives the SHA-256 of the envelope
// (32 raw bytes, as crypto/receipt.h's ReceivedEnvelope wants) and the
// receive time (the Store's clock). Runs inside the write transaction: keep
// it short and free of I/O.
using ReceiptMaker = absl::FunctionRef<absl::StatusOr<std::string>(
    const std::string& envelope_sha256, absl::Time received_at)>;

// Durable (COMMIT on disk) when it returns OK; then the receipt may be sent.
// Refusals: ALREADY_EXISTS DUPLICATE_CONFLICT (same id, different bytes);
// INVALID_ARGUMENT INVALID_FIELD (no message id); any ApplyEvent or Enqueue
// refusal, with nothing recorded (so a corrected redelivery is judged anew);
// the Store's fail-stop and disk errors.
absl::StatusOr<InboundResult> AcceptInbound(Store& store, const InboundEnvelope& inbound,
                                            const std::optional<Event>& event,
                                            const std::vector<OutgoingEnvelope>& outgoing,
                                            ReceiptMaker make_receipt);

// The same inside a caller's transaction (to accept a batch in one commit).
absl::StatusOr<InboundResult> AcceptInboundInTxn(Txn& txn, const InboundEnvelope& inbound,
                                                 const std::optional<Event>& event,
                                                 const std::vector<OutgoingEnvelope>& outgoing,
                                                 ReceiptMaker make_receipt);

// SHA-256 of `envelope`, 32 raw bytes (the inbox's envelope_sha256).
std::string EnvelopeSha256(absl::string_view envelope);

}  // namespace mir::storage

#endif  // MIR_STORAGE_INBOX_H_
