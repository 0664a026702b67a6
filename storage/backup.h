#ifndef MIR_STORAGE_BACKUP_H_
#define MIR_STORAGE_BACKUP_H_

// Online backup, restore and verification of a node's database
// (docs/OPERATIONS.md §6, RELIABILITY.md §11).
//
// BackupDatabase copies a database that a running node may be writing, from
// another process, through its own read-only SQLite connection: one read
// transaction holds one snapshot (the last commit before it began) for the
// whole copy, and SQLite's online backup API copies its pages in small
// batches. With WAL a reader never blocks the node's writer, so the node's
// commits go on during the copy; they are simply not in it. Two things of
// the node do wait for the copy: a checkpoint cannot pass the snapshot (the
// WAL grows meanwhile), and an erasure's TRUNCATE checkpoint waits up to
// the store's busy_timeout for this reader, under the write lock
// (docs/STORAGE.md): an erasure during a backup stalls commits that long.
//
// The copy is a single file in rollback-journal mode (no -wal/-shm beside
// it), mode 0600, written under a temporary name in the destination's folder,
// synced, then linked to its name (never replacing a file: ALREADY_EXISTS)
// and the folder synced: when BackupDatabase returns OK the copy is durable.
//
// A copy holds the referral keys wrapped under the node's key-encryption key
// (KEK), never the KEK itself: it is of no use without the KEK of its time
// (docs/PRIVACY.md §5).
//
// Thread safety: free functions, no shared state; the verifier passed to
// VerifyDatabase must outlive the call.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/sealing.h"
#include "crypto/verifier.h"
#include "storage/store.h"

namespace mir::storage {

struct BackupOptions {
  // Pages (4 KiB) copied per sqlite3_backup_step. Larger: fewer steps, longer
  // moments holding the source's shared lock; nothing the node's writer
  // waits on in WAL mode, but more CPU taken from it at a stretch.
  int pages_per_step = 64;
  // Pause after each step, leaving the CPU and the disk to the node. Longer:
  // a slower backup that pins its snapshot (and grows the WAL) longer.
  absl::Duration pause_between_steps = absl::Milliseconds(1);
};

struct BackupStats {
  int64_t pages = 0;
  int64_t bytes = 0;  // of the copy
  int64_t steps = 0;
  absl::Duration elapsed;
};

// Copies the database at `source` to a new file `destination` (see above).
// ALREADY_EXISTS if `destination` exists (checked first, and again at the
// final link); NOT_FOUND if `source` does not; the mapped SQLite error
// otherwise. On any error nothing is left at `destination` or beside it.
absl::StatusOr<BackupStats> BackupDatabase(const std::string& source,
                                           const std::string& destination,
                                           const BackupOptions& options = {});

// Restores the copy `backup` as the database `database_path` of a node that
// is not running: creates its folder (0700) if missing, refuses
// (ALREADY_EXISTS) if the database, its -wal or -shm exists, and copies it
// there (0600, as BackupDatabase). Check the copy first (VerifyDatabase).
absl::Status RestoreDatabase(const std::string& backup, const std::string& database_path);

struct VerifyOptions {
  // The node the database belongs to: inbox receipts must be signed by it.
  std::string node_id;
  std::string national_node = "nvn";
  // The KEK (and previous ones) its referral keys are wrapped under; not
  // owned. Opening a database that holds keys needs the right one.
  const KeyEncryptionKey* kek = nullptr;
  std::vector<const KeyEncryptionKey*> previous_keks;
  // The network CA's certificate, PEM (receipts are checked against it).
  std::string ca_pem;
  // A private folder for the scratch copy the checks open (a Store opening a
  // file may write to it, so the checks never open `path` itself). Empty:
  // the system's temp folder. Needs room for one copy of the database.
  std::string scratch_dir;
};

struct VerifyReport {
  bool integrity_ok = false;
  int schema_version = 0;
  AuditCheck audit;
  int64_t referrals = 0;
  int64_t outbox_receipts_checked = 0;  // delivered rows: the peer's receipt
  int64_t inbox_receipts_checked = 0;   // received rows: our own receipt
  // Delivered rows whose envelope is gone (queued before schema version 9,
  // referral erased since): their receipt cannot be matched to the bytes.
  int64_t receipts_not_checkable = 0;
  // One line per problem, naming tables and message ids, never contents.
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

// Checks the database (or backup) at `path` without changing it, on a
// scratch copy: PRAGMA integrity_check; a schema version this build knows;
// the store opens with the KEK; the audit chain verifies
// (Store::VerifyAuditChain); every delivered outbox row's receipt verifies
// (crypto/receipt.h: signed by the row's peer, naming its message id and the
// SHA-256 of its envelope) and every inbox row's receipt (signed by
// `node_id` for that message id and hash). Certificates are checked as of
// each receipt's own time, so a receipt signed before a certificate expired
// still verifies. Problems found are in the report; an error status means
// the checks could not run (unreadable file, no room for the copy).
absl::StatusOr<VerifyReport> VerifyDatabase(const std::string& path, const VerifyOptions& options);

}  // namespace mir::storage

#endif  // MIR_STORAGE_BACKUP_H_
