#include "storage/at_rest.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/envelope_bytes.h"

namespace mir::storage::at_rest {
namespace {

bool NeedsSealing(absl::string_view stored) { return !stored.empty() && !IsSealed(stored); }

struct OutboxRow {
  int64_t id = 0;
  std::string owner;
  std::string envelope;
};

struct HeldRow {
  std::string referral_id;
  std::string sender_node;
  int64_t sequence = 0;
  std::string envelope;
};

absl::Status SealEventRow(Db& db, const SecretKey& key, const std::string& owner, int64_t id,
                          const std::string& envelope) {
  ASSIGN_OR_RETURN(std::string sealed, Seal(key, owner, envelope));
  ASSIGN_OR_RETURN(Statement u, db.Prepare("UPDATE events SET envelope = ?2 WHERE id = ?1",
                                           "seal an event's envelope at rest"));
  u.BindInt(1, id).BindBlob(2, sealed);
  return u.Run();
}

absl::Status SealHeldRow(Db& db, const SecretKey& key, const HeldRow& r) {
  ASSIGN_OR_RETURN(std::string sealed, Seal(key, r.referral_id, r.envelope));
  ASSIGN_OR_RETURN(Statement u,
                   db.Prepare("UPDATE held_events SET envelope = ?4, envelope_sha256 = ?5 "
                              "WHERE referral_id = ?1 AND sender_node = ?2 AND sequence = ?3",
                              "seal a held event's envelope at rest"));
  u.BindText(1, r.referral_id)
      .BindText(2, r.sender_node)
      .BindInt(3, r.sequence)
      .BindBlob(4, sealed)
      .BindBlob(5, Sha256(r.envelope));
  return u.Run();
}

absl::Status SealOutboxRow(Db& db, const SecretKey& key, const OutboxRow& r) {
  ASSIGN_OR_RETURN(std::string sealed, Seal(key, r.owner, r.envelope));
  ASSIGN_OR_RETURN(Statement u, db.Prepare("UPDATE outbox SET envelope = ?2 WHERE id = ?1",
                                           "seal an outbox envelope at rest"));
  u.BindInt(1, r.id).BindBlob(2, sealed);
  return u.Run();
}

// Every envelope of `referral_id` in events, held_events and outbox (each
// read by its referral_id index), sealed under `key`.
absl::Status SealRowsOf(Db& db, const SecretKey& key, const std::string& referral_id) {
  {
    std::vector<std::pair<int64_t, std::string>> rows;
    ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT id, envelope FROM events "
                                             "WHERE referral_id = ?1",
                                             "read a referral's events to seal"));
    s.BindText(1, referral_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      if (std::string env = s.Text(1); NeedsSealing(env))
        rows.emplace_back(s.Int(0), std::move(env));
    }
    for (const auto& [id, env] : rows) RETURN_IF_ERROR(SealEventRow(db, key, referral_id, id, env));
  }
  {
    std::vector<HeldRow> rows;
    ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT sender_node, sequence, envelope "
                                             "FROM held_events WHERE referral_id = ?1",
                                             "read a referral's held events to seal"));
    s.BindText(1, referral_id);
    while (true) {
      ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      if (std::string env = s.Text(2); NeedsSealing(env))
        rows.push_back(HeldRow{referral_id, s.Text(0), s.Int(1), std::move(env)});
    }
    for (const HeldRow& r : rows) RETURN_IF_ERROR(SealHeldRow(db, key, r));
  }
  std::vector<OutboxRow> rows;
  ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT id, envelope FROM outbox WHERE referral_id = ?1",
                                           "read a referral's outbox rows to seal"));
  s.BindText(1, referral_id);
  while (true) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (std::string env = s.Text(1); NeedsSealing(env))
      rows.push_back(OutboxRow{s.Int(0), referral_id, std::move(env)});
  }
  for (const OutboxRow& r : rows) RETURN_IF_ERROR(SealOutboxRow(db, key, r));
  return absl::OkStatus();
}

// Pass 1: per referral, a fresh key, its REFERRAL envelope and every other
// envelope about it. Referrals are read in pages by rowid, and each page's
// rows before any is updated: memory stays flat however large the file, and
// no statement steps over a table while it is written.
absl::Status SealReferrals(Db& db, const keys::KeyRing& ring, absl::Time now) {
  int64_t after = 0;
  while (true) {
    struct Row {
      int64_t rowid;
      std::string referral_id, envelope;
    };
    std::vector<Row> page;
    {
      ASSIGN_OR_RETURN(Statement s,
                       db.Prepare("SELECT rowid, referral_id, referral_envelope FROM referrals "
                                  "WHERE rowid > ?1 ORDER BY rowid LIMIT 128",
                                  "read referrals to seal"));
      s.BindInt(1, after);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        page.push_back(Row{s.Int(0), s.Text(1), s.Text(2)});
      }
    }
    if (page.empty()) return absl::OkStatus();
    for (const Row& r : page) {
      const SecretKey key = NewReferralKey();
      RETURN_IF_ERROR(keys::Keep(db, ring, now, r.referral_id, key));
      if (NeedsSealing(r.envelope)) {
        ASSIGN_OR_RETURN(std::string sealed, Seal(key, r.referral_id, r.envelope));
        ASSIGN_OR_RETURN(Statement u,
                         db.Prepare("UPDATE referrals SET referral_envelope = ?2 WHERE rowid = ?1",
                                    "seal a referral envelope at rest"));
        u.BindInt(1, r.rowid).BindBlob(2, sealed);
        RETURN_IF_ERROR(u.Run());
      }
      RETURN_IF_ERROR(SealRowsOf(db, key, r.referral_id));
    }
    after = page.back().rowid;
  }
}

// The keys of pass 2, one per owner met there.
class OrphanKeys {
 public:
  OrphanKeys(Db& db, const keys::KeyRing& ring, absl::Time now) : db_(db), ring_(ring), now_(now) {}

  absl::StatusOr<const SecretKey*> For(const std::string& owner) {
    auto it = keys_.find(owner);
    if (it == keys_.end()) {
      SecretKey key = NewReferralKey();
      RETURN_IF_ERROR(keys::Keep(db_, ring_, now_, owner, key));
      it = keys_.emplace(owner, std::move(key)).first;
    }
    return &it->second;
  }

 private:
  Db& db_;
  const keys::KeyRing& ring_;
  const absl::Time now_;
  absl::flat_hash_map<std::string, SecretKey> keys_;
};

// The rows still in clear as SQL sees them (a blob's first 7 bytes); the
// C++ check after it decides.
#define MIR_IN_CLEAR(column) \
  "length(" column ") > 0 AND substr(" column ", 1, 7) IS NOT x'004d4952415231'"

// Pass 2: envelopes about no referral held here (held events that came
// before their referral, a relay's outbox rows, outbox rows about none),
// each table walked once in key order.
absl::Status SealOrphans(Db& db, const keys::KeyRing& ring, absl::Time now) {
  OrphanKeys keys(db, ring, now);
  // Events name a referral held here (a foreign key): none is expected,
  // but a row written with foreign keys off is not left in clear.
  for (int64_t after = 0;;) {
    struct EventRow {
      int64_t id;
      std::string referral_id, envelope;
    };
    std::vector<EventRow> page;
    {
      ASSIGN_OR_RETURN(Statement s,
                       db.Prepare("SELECT id, referral_id, envelope FROM events WHERE id > ?1 "
                                  "AND " MIR_IN_CLEAR("envelope") " ORDER BY id LIMIT 256",
                                  "read unsealed events"));
      s.BindInt(1, after);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        page.push_back(EventRow{s.Int(0), s.Text(1), s.Text(2)});
      }
    }
    if (page.empty()) break;
    for (const EventRow& r : page) {
      if (!NeedsSealing(r.envelope)) continue;
      ASSIGN_OR_RETURN(const SecretKey* key, keys.For(r.referral_id));
      RETURN_IF_ERROR(SealEventRow(db, *key, r.referral_id, r.id, r.envelope));
    }
    after = page.back().id;
  }
  {
    HeldRow last;
    while (true) {
      std::vector<HeldRow> page;
      {
        ASSIGN_OR_RETURN(
            Statement s,
            db.Prepare(
                "SELECT referral_id, sender_node, sequence, envelope FROM held_events "
                "WHERE (referral_id, sender_node, sequence) > (?1, ?2, ?3) AND " MIR_IN_CLEAR(
                    "envelope") " ORDER BY referral_id, sender_node, sequence LIMIT 256",
                "read unsealed held events"));
        s.BindText(1, last.referral_id).BindText(2, last.sender_node).BindInt(3, last.sequence);
        while (true) {
          ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) break;
          page.push_back(HeldRow{s.Text(0), s.Text(1), s.Int(2), s.Text(3)});
        }
      }
      if (page.empty()) break;
      for (const HeldRow& r : page) {
        if (!NeedsSealing(r.envelope)) continue;
        ASSIGN_OR_RETURN(const SecretKey* key, keys.For(r.referral_id));
        RETURN_IF_ERROR(SealHeldRow(db, *key, r));
      }
      last = page.back();
    }
  }
  for (int64_t after = 0;;) {
    std::vector<OutboxRow> page;
    {
      ASSIGN_OR_RETURN(Statement s, db.Prepare("SELECT id, referral_id, message_id, envelope "
                                               "FROM outbox WHERE id > ?1 AND " MIR_IN_CLEAR(
                                                   "envelope") " ORDER BY id LIMIT 256",
                                               "read unsealed outbox rows"));
      s.BindInt(1, after);
      while (true) {
        ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        page.push_back(OutboxRow{s.Int(0), OutboxOwner(s.Text(1), s.Text(2)), s.Text(3)});
      }
    }
    if (page.empty()) break;
    for (const OutboxRow& r : page) {
      if (!NeedsSealing(r.envelope)) continue;
      ASSIGN_OR_RETURN(const SecretKey* key, keys.For(r.owner));
      RETURN_IF_ERROR(SealOutboxRow(db, *key, r));
    }
    after = page.back().id;
  }
  return absl::OkStatus();
}

#undef MIR_IN_CLEAR

}  // namespace

bool IsSealed(absl::string_view stored) { return absl::StartsWith(stored, kMagic); }

std::string OutboxOwner(absl::string_view referral_id, absl::string_view message_id) {
  if (!referral_id.empty()) return std::string(referral_id);
  return absl::StrCat("outbox-message:", message_id);
}

absl::StatusOr<std::string> Seal(const SecretKey& key, absl::string_view owner,
                                 absl::string_view envelope) {
  ASSIGN_OR_RETURN(v1::Sealed sealed, ::mir::Seal(key, kPurpose, owner, envelope, RandomNonce()));
  std::string out(kMagic);
  if (!sealed.AppendToString(&out)) return absl::InternalError("could not serialize a Sealed");
  return out;
}

absl::StatusOr<std::string> Reveal(Db& db, const keys::KeyRing& ring, const std::string& owner,
                                   std::string stored) {
  if (!IsSealed(stored)) return stored;
  v1::Sealed sealed;
  const absl::string_view body = absl::string_view(stored).substr(kMagic.size());
  if (!sealed.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return MirError(absl::StatusCode::kDataLoss, v1::SEALED_TAMPERED,
                    absl::StrCat("an envelope of ", owner, " sealed at rest does not parse"));
  }
  ASSIGN_OR_RETURN(std::optional<SecretKey> key, keys::Get(db, ring, owner, sealed.key_id()));
  if (!key.has_value()) {
    ASSIGN_OR_RETURN(std::optional<ErasureRecord> erased, keys::FindErasure(db, owner));
    if (erased.has_value()) return std::string();  // crypto-erased: nothing left to read
    return MirError(absl::StatusCode::kDataLoss, v1::UNKNOWN_KEY,
                    absl::StrCat("the key of an envelope of ", owner,
                                 " sealed at rest is missing, and no erasure of it is recorded"));
  }
  absl::StatusOr<std::string> opened = ::mir::Open(*key, kPurpose, owner, sealed);
  if (!opened.ok()) {
    return MirError(
        absl::StatusCode::kDataLoss, v1::SEALED_TAMPERED,
        absl::StrCat("an envelope of ", owner, " sealed at rest does not open: it was altered"));
  }
  return opened;
}

absl::Status RevealIn(Db& db, const keys::KeyRing& ring, ReferralRecord& record) {
  ASSIGN_OR_RETURN(record.referral_envelope,
                   Reveal(db, ring, record.meta.referral_id, std::move(record.referral_envelope)));
  return absl::OkStatus();
}

absl::Status RevealIn(Db& db, const keys::KeyRing& ring, OutboxEntry& entry) {
  ASSIGN_OR_RETURN(entry.envelope,
                   Reveal(db, ring, OutboxOwner(entry.referral_id, entry.message_id),
                          std::move(entry.envelope)));
  return absl::OkStatus();
}

absl::Status RevealIn(Db& db, const keys::KeyRing& ring, Event& event) {
  ASSIGN_OR_RETURN(event.envelope, Reveal(db, ring, event.referral_id, std::move(event.envelope)));
  ASSIGN_OR_RETURN(event.referral_envelope,
                   Reveal(db, ring, event.referral_id, std::move(event.referral_envelope)));
  return absl::OkStatus();
}

absl::Status SealStoredEnvelopes(Db& db, const keys::KeyRing& ring, absl::Time now) {
  int64_t envelopes = 0;
  {
    ASSIGN_OR_RETURN(
        Statement count,
        db.Prepare("SELECT (SELECT COUNT(*) FROM referrals WHERE length(referral_envelope) > 0) + "
                   "(SELECT COUNT(*) FROM events WHERE length(envelope) > 0) + "
                   "(SELECT COUNT(*) FROM held_events WHERE length(envelope) > 0) + "
                   "(SELECT COUNT(*) FROM outbox WHERE length(envelope) > 0)",
                   "count envelopes to seal"));
    ASSIGN_OR_RETURN(bool row, count.Step());
    if (row) envelopes = count.Int(0);
  }
  if (envelopes == 0) return absl::OkStatus();
  if (ring.current == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("the database holds ", envelopes,
                     " envelope(s) written before schema version 9, with personal fields in clear; "
                     "sealing them at rest needs the node's key-encryption key: set "
                     "privacy.keyEncryptionKey (nothing was changed)"));
  }
  RETURN_IF_ERROR(SealReferrals(db, ring, now));
  RETURN_IF_ERROR(SealOrphans(db, ring, now));
  db.RequestWalTruncate();
  return absl::OkStatus();
}

}  // namespace mir::storage::at_rest
