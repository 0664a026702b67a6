#ifndef MIR_STORAGE_AUDIT_CHAIN_H_
#define MIR_STORAGE_AUDIT_CHAIN_H_

// The hash chain over the events table (docs/STORAGE.md, "Audit chain").
//
//   row_hash = SHA-256(prev_hash || CanonicalEventBytes(row))
//
// prev_hash is the previous row's row_hash, or 32 zero bytes for the first
// row. The canonical bytes are a domain tag followed by every stored column
// of the row (except the two hashes, and with the envelope represented by
// its SHA-256 so that envelope bytes can later be purged under a retention
// policy without breaking the chain) in a fixed order, each encoded as
//   type (1 byte: 0 NULL, 1 INTEGER, 2 TEXT/BLOB) || u64be(length) || value
// where an INTEGER is its 8-byte big-endian two's complement and NULL has
// length 0. The encoding functions are pure and thread-safe; the two on a
// Db (internal to storage/) run on the caller's connection and transaction.

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/key_custody.h"
#include "storage/sqlite_util.h"
#include "storage/store.h"

namespace mir::storage {

inline constexpr absl::string_view kAuditDomainTag = "MIR-EXCHANGE/v1/audit-event";
inline constexpr size_t kHashBytes = 32;

// One row of the events table, exactly as stored.
struct AuditRow {
  int64_t id = 0;
  std::string referral_id;
  std::string sender_node;
  int64_t sequence = 0;
  std::string message_id;
  int64_t to_state = 0;
  std::string actor_node;
  std::string actor_role;
  std::string actor_name;
  int64_t at_us = 0;
  std::string reason;
  std::string envelope_sha256;  // SHA-256 of the envelope bytes, 32 raw bytes
  std::optional<std::string> origin_node;
  std::optional<std::string> destination_node;
  std::optional<int64_t> urgency;
  std::optional<int64_t> ack_deadline_us;
  int64_t applied_at_us = 0;
};

// The genesis prev_hash: 32 zero bytes.
std::string GenesisHash();

std::string CanonicalEventBytes(const AuditRow& row);

// SHA-256(prev_hash || CanonicalEventBytes(row)), 32 raw bytes.
std::string ChainHash(absl::string_view prev_hash, const AuditRow& row);

// An event's envelope as stored when that is not `Event::envelope`: sealed
// at rest (a held event from before schema version 9, at_rest.h), with the
// SHA-256 of the envelope it seals, which is what the chain covers.
struct StoredEnvelope {
  std::string bytes;
  std::string sha256;
};

// Appends `event` to the events table, linked to the chain head (not to
// whatever row is last, so deleted last rows stay visible), and moves the
// head. Inside the caller's write transaction. `stored`, if given, is what
// the row keeps in place of `event.envelope`; `envelope_event_id`, the row
// that holds the envelope instead (schema v15). Returns the new row's id.
absl::StatusOr<int64_t> AppendToChain(Db& db, const Event& event, int64_t applied_at_us,
                                      const StoredEnvelope* stored = nullptr,
                                      std::optional<int64_t> envelope_event_id = std::nullopt);

// Walks the events in id order and reports the first broken link
// (docs/STORAGE.md, "Audit chain"). Run it inside one read transaction so
// that the rows and the head come from one snapshot. An envelope sealed at
// rest is opened with its key from `ring` to be hashed; once its referral
// was erased (the key is gone) its stored hash stands for it, as for an
// empty envelope. One that does not open, or whose key is missing with no
// erasure recorded, is a broken row.
absl::StatusOr<AuditCheck> WalkAuditChain(Db& db, const keys::KeyRing& ring);

}  // namespace mir::storage

#endif  // MIR_STORAGE_AUDIT_CHAIN_H_
