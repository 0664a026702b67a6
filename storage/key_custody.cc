#include "storage/key_custody.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "storage/lifecycle.h"
#include "storage/rows.h"
#include "storage/store_internal.h"

namespace mir::storage {

// Store::DueForErasure, by the partial index of schema version 9. The
// index's WHERE is repeated literal for literal (SQLite uses a partial index
// only when the query's WHERE contains its terms); INDEXED BY makes the
// statement fail to prepare rather than scan should they ever differ. The
// index drops a referral when it is erased (erased_at_us), so a pass reads
// the due referrals only, not every one erased before. The erasures test
// still stands for an erasure recorded before the referral arrived here.
const char kDueForErasureSql[] =
    "SELECT referral_id FROM referrals INDEXED BY referrals_retention "
    "WHERE erased_at_us IS NULL AND state IN (9, 10, 11, 12) "
    "AND state = ?1 AND updated_at_us <= ?2 "
    "AND NOT EXISTS (SELECT 1 FROM erasures e WHERE e.referral_id = referrals.referral_id) "
    "AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.referral_id = referrals.referral_id) "
    "ORDER BY updated_at_us, referral_id LIMIT ?3";
static_assert(v1::CLOSED_POSITIVE == 9 && v1::REJECTED == 10 && v1::CLOSED_NEGATIVE == 11 &&
              v1::WITHDRAWN == 12);

namespace keys {
namespace {

absl::Status NoKek() {
  return absl::FailedPreconditionError(
      "no key-encryption key configured (privacy.keyEncryptionKey): referral keys cannot be "
      "stored or read");
}

absl::Status UnknownKek(absl::string_view kek_id, const KeyRing& ring) {
  return absl::FailedPreconditionError(
      absl::StrCat("referral keys in the store are wrapped under key-encryption key ", kek_id,
                   ", which is not configured (the current one is ",
                   ring.current != nullptr ? ring.current->id() : "none",
                   "): list that key's file in privacy.previousKeyEncryptionKeys"));
}

}  // namespace

const KeyEncryptionKey* KeyRing::Find(absl::string_view kek_id) const {
  if (current != nullptr && current->id() == kek_id) return current;
  for (const KeyEncryptionKey* k : previous) {
    if (k != nullptr && k->id() == kek_id) return k;
  }
  return nullptr;
}

absl::Status Keep(Db& db, const KeyRing& ring, absl::Time now, const std::string& owner,
                  const SecretKey& key) {
  if (ring.current == nullptr) return NoKek();
  if (key.bytes().size() != kReferralKeyBytes) {
    return InvalidField(absl::StrCat("a referral key has ", kReferralKeyBytes, " bytes"));
  }
  // Bound to the owner: a wrapped key copied to another row does not unwrap.
  ASSIGN_OR_RETURN(std::string wrapped, ring.current->Wrap(owner, key));
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("INSERT OR IGNORE INTO referral_keys (referral_id, key_id, kek_id, "
                              "wrapped, stored_at_us) VALUES (?1, ?2, ?3, ?4, ?5)",
                              "store a referral key"));
  s.BindText(1, owner)
      .BindBlob(2, ReferralKeyId(key))
      .BindText(3, ring.current->id())
      .BindBlob(4, wrapped)
      .BindInt(5, Micros(now));
  return s.Run();
}

absl::Status Put(Db& db, const KeyRing& ring, absl::Time now, const std::string& referral_id,
                 const SecretKey& key) {
  if (referral_id.empty() || referral_id.size() > kMaxIdBytes) {
    return InvalidField("a referral key needs a referral id of 1-128 bytes");
  }
  if (ring.current == nullptr) return NoKek();
  ASSIGN_OR_RETURN(std::optional<ErasureRecord> erased, FindErasure(db, referral_id));
  if (erased.has_value()) {
    return MirError(
        absl::StatusCode::kFailedPrecondition, v1::ERASED,
        absl::StrCat("referral ", referral_id, " was erased at this node; it takes no new key"));
  }
  return Keep(db, ring, now, referral_id, key);
}

absl::StatusOr<std::optional<SecretKey>> Get(Db& db, const KeyRing& ring, const std::string& owner,
                                             const std::string& key_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT kek_id, wrapped FROM referral_keys "
                                           "WHERE referral_id = ?1 AND key_id = ?2",
                                           "read a referral key"));
  s.BindText(1, owner).BindBlob(2, key_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<SecretKey>();
  if (ring.current == nullptr) return NoKek();
  const std::string kek_id = s.Text(0);
  const KeyEncryptionKey* kek = ring.Find(kek_id);
  if (kek == nullptr) return UnknownKek(kek_id, ring);
  absl::StatusOr<SecretKey> key = kek->Unwrap(owner, s.Text(1));
  if (!key.ok()) {
    return MirError(absl::StatusCode::kDataLoss, v1::SEALED_TAMPERED,
                    absl::StrCat("a stored key of ", owner,
                                 " does not unwrap under key-encryption "
                                 "key ",
                                 kek_id, ": the row was altered"));
  }
  return std::optional<SecretKey>(*std::move(key));
}

absl::StatusOr<std::optional<ErasureRecord>> FindErasure(Db& db, const std::string& referral_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT at_us, cause, by_identity, reason FROM erasures "
                                           "WHERE referral_id = ?1",
                                           "read an erasure"));
  s.BindText(1, referral_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<ErasureRecord>();
  ErasureRecord r;
  r.at = FromMicros(s.Int(0));
  r.cause = static_cast<v1::ErasureCause>(s.Int(1));
  r.by = s.Text(2);
  r.reason = s.Text(3);
  return std::optional<ErasureRecord>(std::move(r));
}

absl::StatusOr<std::optional<LegalHoldRecord>> FindLegalHold(Db& db,
                                                             const std::string& referral_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT since_us, by_identity, reason FROM legal_holds "
                                           "WHERE referral_id = ?1",
                                           "read a legal hold"));
  s.BindText(1, referral_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<LegalHoldRecord>();
  return std::optional<LegalHoldRecord>(
      LegalHoldRecord{FromMicros(s.Int(0)), s.Text(1), s.Text(2)});
}

absl::StatusOr<std::vector<ErasureAnswerRecord>> Answers(Db& db, const std::string& referral_id) {
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT node, outcome, at_us FROM erasure_answers "
                                           "WHERE referral_id = ?1 ORDER BY rowid",
                                           "read erasure answers"));
  s.BindText(1, referral_id);
  std::vector<ErasureAnswerRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ErasureAnswerRecord{s.Text(0), static_cast<v1::ErasureOutcome>(s.Int(1)),
                                      FromMicros(s.Int(2))});
  }
  return out;
}

absl::Status Erase(Db& db, const std::string& referral_id, const ErasureRecord& record) {
  if (referral_id.empty() || referral_id.size() > kMaxIdBytes) {
    return InvalidField("an erasure needs a referral id of 1-128 bytes");
  }
  if (!v1::ErasureCause_IsValid(record.cause) || record.cause == v1::ERASURE_CAUSE_UNSPECIFIED) {
    return InvalidField("an erasure needs a cause");
  }
  if (record.by.size() > kMaxReasonBytes || record.reason.size() > kMaxReasonBytes) {
    return InvalidField("an erasure's identity and reason are at most 1024 bytes each");
  }
  ASSIGN_OR_RETURN(std::optional<ErasureRecord> erased, FindErasure(db, referral_id));
  if (erased.has_value()) return absl::OkStatus();  // gone already; the first record tells when
  ASSIGN_OR_RETURN(std::optional<LegalHoldRecord> hold, FindLegalHold(db, referral_id));
  if (hold.has_value()) {
    return MirError(
        absl::StatusCode::kFailedPrecondition, v1::LEGAL_HOLD,
        absl::StrCat("referral ", referral_id, " is under a legal hold; lift it before erasing"));
  }
  {
    // secure_delete (set on the write connection) zeroes the deleted cells
    // in the new page images; the WAL truncation after the commit removes
    // the older images that still hold them.
    ASSIGN_OR_RETURN(Statement s, db.Prepare("DELETE FROM referral_keys WHERE referral_id = ?1",
                                             "destroy a referral's keys"));
    s.BindText(1, referral_id);
    RETURN_IF_ERROR(s.Run());
  }
  {
    ASSIGN_OR_RETURN(Statement s,
                     db.Prepare("INSERT INTO erasures (referral_id, at_us, cause, by_identity, "
                                "reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                                "record an erasure"));
    s.BindText(1, referral_id)
        .BindInt(2, Micros(record.at))
        .BindInt(3, record.cause)
        .BindText(4, record.by)
        .BindText(5, record.reason);
    RETURN_IF_ERROR(s.Run());
  }
  {
    // Leaves the retention index: later passes do not walk it again.
    ASSIGN_OR_RETURN(Statement s,
                     db.Prepare("UPDATE referrals SET erased_at_us = ?2 WHERE referral_id = ?1",
                                "mark a referral erased"));
    s.BindText(1, referral_id).BindInt(2, Micros(record.at));
    RETURN_IF_ERROR(s.Run());
  }
  db.RequestWalTruncate();
  return absl::OkStatus();
}

absl::Status SetLegalHold(Db& db, const std::string& referral_id,
                          const std::optional<LegalHoldRecord>& hold) {
  if (referral_id.empty() || referral_id.size() > kMaxIdBytes) {
    return InvalidField("a legal hold needs a referral id of 1-128 bytes");
  }
  if (!hold.has_value()) {
    ASSIGN_OR_RETURN(Statement s, db.Prepare("DELETE FROM legal_holds WHERE referral_id = ?1",
                                             "lift a legal hold"));
    s.BindText(1, referral_id);
    return s.Run();
  }
  if (hold->by.size() > kMaxReasonBytes || hold->reason.size() > kMaxReasonBytes) {
    return InvalidField("a legal hold's identity and reason are at most 1024 bytes each");
  }
  ASSIGN_OR_RETURN(
      Statement s,
      db.Prepare("INSERT INTO legal_holds (referral_id, since_us, by_identity, reason) "
                 "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (referral_id) DO UPDATE SET "
                 "since_us = excluded.since_us, by_identity = excluded.by_identity, "
                 "reason = excluded.reason",
                 "set a legal hold"));
  s.BindText(1, referral_id)
      .BindInt(2, Micros(hold->since))
      .BindText(3, hold->by)
      .BindText(4, hold->reason);
  return s.Run();
}

absl::Status RecordAnswer(Db& db, const std::string& referral_id,
                          const ErasureAnswerRecord& answer) {
  if (referral_id.empty() || referral_id.size() > kMaxIdBytes) {
    return InvalidField("an erasure answer needs a referral id of 1-128 bytes");
  }
  if (!IsValidNodeId(answer.node)) return InvalidField("an erasure answer names an invalid node");
  if (!v1::ErasureOutcome_IsValid(answer.outcome) ||
      answer.outcome == v1::ERASURE_OUTCOME_UNSPECIFIED) {
    return InvalidField("an erasure answer needs an outcome");
  }
  // An upsert keeps the rowid, so the node keeps its place in the arrival
  // order (ErasureAnswers sorts by rowid).
  ASSIGN_OR_RETURN(Statement s,
                   db.Prepare("INSERT INTO erasure_answers (referral_id, node, outcome, at_us) "
                              "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (referral_id, node) DO UPDATE "
                              "SET outcome = excluded.outcome, at_us = excluded.at_us",
                              "record an erasure answer"));
  s.BindText(1, referral_id)
      .BindText(2, answer.node)
      .BindInt(3, answer.outcome)
      .BindInt(4, Micros(answer.at));
  return s.Run();
}

absl::StatusOr<std::vector<std::string>> DueForErasure(Db& db, v1::ReferralState state,
                                                       absl::Time reached_by, int limit) {
  if (!v1::ReferralState_IsValid(state) || state == v1::REFERRAL_STATE_UNSPECIFIED ||
      IsOpenState(state)) {
    return InvalidField(
        absl::StrCat("retention applies to terminal states only, not ", StateName(state)));
  }
  ASSIGN_OR_RETURN(Statement s, db.Prepare(kDueForErasureSql, "list referrals due for erasure"));
  s.BindInt(1, state).BindInt(2, Micros(reached_by)).BindInt(3, SqlLimit(limit));
  std::vector<std::string> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(s.Text(0));
  }
  return out;
}

absl::StatusOr<int> RewrapUnderCurrent(Db& db, const KeyRing& ring) {
  std::vector<std::string> old_keks;
  {
    ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT DISTINCT kek_id FROM referral_keys",
                                             "list the key-encryption keys in use"));
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      std::string kek_id = s.Text(0);
      if (ring.current == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the store holds referral keys wrapped under key-encryption key ", kek_id,
            ", and no key-encryption key is configured: set privacy.keyEncryptionKey"));
      }
      if (kek_id == ring.current->id()) continue;
      if (ring.Find(kek_id) == nullptr) return UnknownKek(kek_id, ring);
      old_keks.push_back(std::move(kek_id));
    }
  }
  int rewrapped = 0;
  for (const std::string& kek_id : old_keks) {
    const KeyEncryptionKey* old = ring.Find(kek_id);
    // Keyset pages in primary-key order: memory stays flat however many
    // keys, and each page starts where the last ended.
    std::string after_owner;
    std::string after_key_id;
    while (true) {
      struct Row {
        std::string owner, key_id, wrapped;
      };
      std::vector<Row> page;
      {
        ASSIGN_OR_RETURN(Statement s,
                         db.Prepare("SELECT referral_id, key_id, wrapped FROM referral_keys "
                                    "WHERE kek_id = ?1 AND (referral_id, key_id) > (?2, ?3) "
                                    "ORDER BY referral_id, key_id LIMIT 256",
                                    "read keys to rewrap"));
        s.BindText(1, kek_id).BindText(2, after_owner).BindBlob(3, after_key_id);
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) break;
          page.push_back(Row{s.Text(0), s.Text(1), s.Text(2)});
        }
      }
      if (page.empty()) break;
      for (const Row& r : page) {
        absl::StatusOr<SecretKey> key = old->Unwrap(r.owner, r.wrapped);
        if (!key.ok()) {
          return MirError(absl::StatusCode::kDataLoss, v1::SEALED_TAMPERED,
                          absl::StrCat("a stored key of ", r.owner,
                                       " does not unwrap under key-encryption key ", kek_id,
                                       ": the row was altered"));
        }
        ASSIGN_OR_RETURN(std::string wrapped, ring.current->Wrap(r.owner, *key));
        ASSIGN_OR_RETURN(Statement u,
                         db.Prepare("UPDATE referral_keys SET kek_id = ?3, wrapped = ?4 "
                                    "WHERE referral_id = ?1 AND key_id = ?2",
                                    "rewrap a referral key"));
        u.BindText(1, r.owner)
            .BindBlob(2, r.key_id)
            .BindText(3, ring.current->id())
            .BindBlob(4, wrapped);
        RETURN_IF_ERROR(u.Run());
        ++rewrapped;
      }
      after_owner = page.back().owner;
      after_key_id = page.back().key_id;
    }
  }
  if (rewrapped > 0) db.RequestWalTruncate();
  return rewrapped;
}

}  // namespace keys
}  // namespace mir::storage
