#ifndef MIR_TESTS_STORAGE_STORAGE_TEST_UTIL_H_
#define MIR_TESTS_STORAGE_STORAGE_TEST_UTIL_H_

// Event builders and raw-SQLite helpers shared by the storage tests.

#include <sqlite3.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/identity.h"
#include "crypto/sealing.h"
#include "mir/v1/envelope.pb.h"
#include "storage/store.h"

namespace mir::storage::testing {

inline const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

inline Identity Operator(const std::string& node, const std::string& name = "anna") {
  return Identity{node, Role::kOperator, name};
}
inline Identity Partner(const std::string& node, const std::string& name = "casa") {
  return Identity{node, Role::kPartner, name};
}
inline Identity NodeOf(const std::string& node) { return Identity{node, Role::kNode, ""}; }

// The SUBMITTED event of `ref`, from an operator of `origin` (sequence 1 of
// the origin's stream).
inline Event Submitted(const std::string& ref, const std::string& origin = "toscana",
                       const std::string& destination = "lombardia", absl::Time at = kT0) {
  Event e;
  e.referral_id = ref;
  e.message_id = absl::StrCat(ref, "/", origin, "/1");
  e.sender_node = origin;
  e.sequence = 1;
  e.to_state = v1::SUBMITTED;
  e.actor = Operator(origin);
  e.at = at;
  e.envelope = absl::StrCat("REFERRAL-ENVELOPE:", ref);
  ReferralMeta meta;
  meta.referral_id = ref;
  meta.origin_node = origin;
  meta.destination_node = destination;
  meta.urgency = v1::URGENCY_EMERGENCY_24H;
  meta.ack_deadline = at + absl::Hours(24);
  e.referral = meta;
  return e;
}

// A status change of `ref` by `actor`, sequence `seq` of the actor's node's stream.
inline Event Changed(const std::string& ref, const Identity& actor, uint64_t seq,
                     v1::ReferralState to, absl::Time at = kT0 + absl::Minutes(1)) {
  Event e;
  e.referral_id = ref;
  e.message_id = absl::StrCat(ref, "/", actor.node, "/", seq);
  e.sender_node = actor.node;
  e.sequence = seq;
  e.to_state = to;
  e.actor = actor;
  e.at = at;
  e.reason = to == v1::REJECTED ? "REJECTION_NO_PLACES" : "";
  e.envelope = absl::StrCat("STATUS-CHANGE:", e.message_id, ":", v1::ReferralState_Name(to));
  return e;
}

inline OutgoingEnvelope Outgoing(const std::string& message_id,
                                 const std::string& peer = "lombardia") {
  return {message_id, peer, absl::StrCat("ENVELOPE:", message_id), "", std::nullopt};
}

// An outgoing envelope about `referral_id`, as the broker describes it; a
// REFERRAL carries `urgency`.
inline OutgoingEnvelope OutgoingAbout(const std::string& message_id, const std::string& referral_id,
                                      v1::MessageKind kind = v1::STATUS_CHANGE,
                                      v1::Urgency urgency = v1::URGENCY_UNSPECIFIED,
                                      const std::string& peer = "lombardia") {
  OutgoingEnvelope out = Outgoing(message_id, peer);
  out.referral_id = referral_id;
  if (kind == v1::REFERRAL) out.urgency = urgency;
  return out;
}

struct RawDbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using RawDb = std::unique_ptr<sqlite3, RawDbCloser>;

// A plain connection to `path` with the default VFS, bypassing Store.
inline RawDb OpenRaw(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  sqlite3_busy_timeout(db, 5000);
  return RawDb(db);
}

// A receipt listing `entries` message ids, as storage sees it: an Envelope
// whose body is a Receipt (storage counts the entries, never verifies).
inline std::string ReceiptListing(int entries) {
  v1::Receipt receipt;
  receipt.set_receiver_node("toscana");
  for (int i = 0; i < entries; ++i) {
    auto* entry = receipt.add_entries();
    entry->set_message_id(absl::StrCat("in-", i));
    entry->set_envelope_sha256(std::string(32, static_cast<char>('a' + i)));
  }
  v1::Envelope envelope;
  envelope.set_header("receipt header");
  envelope.set_body(receipt.SerializeAsString());
  return envelope.SerializeAsString();
}

// Runs `sql`; returns "" on success, else SQLite's message.
inline std::string Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return "";
  std::string message = err != nullptr ? err : "error";
  sqlite3_free(err);
  return message;
}

// The first column of the first row of `sql` as text ("<error: ...>" on failure).
inline std::string QueryText(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return absl::StrCat("<error: ", sqlite3_errmsg(db), ">");
  }
  std::string out;
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(stmt, 0);
    out = t != nullptr ? reinterpret_cast<const char*>(t) : "";
  } else if (rc != SQLITE_DONE) {
    out = absl::StrCat("<error: ", sqlite3_errmsg(db), ">");
  }
  sqlite3_finalize(stmt);
  return out;
}

// The first column of the first row of `sql` as raw bytes ("" if none).
inline std::string QueryBlob(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    const void* blob = sqlite3_column_blob(stmt, 0);
    if (blob != nullptr) {
      out.assign(static_cast<const char*>(blob),
                 static_cast<size_t>(sqlite3_column_bytes(stmt, 0)));
    }
  }
  sqlite3_finalize(stmt);
  return out;
}

// The detail column of `sql`'s EXPLAIN QUERY PLAN, one line per step; the
// error instead if it does not prepare.
inline std::string PlanOf(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* plan = nullptr;
  if (sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &plan, nullptr) !=
      SQLITE_OK) {
    return absl::StrCat("<error: ", sqlite3_errmsg(db), ">");
  }
  std::string out;
  while (sqlite3_step(plan) == SQLITE_ROW) {
    absl::StrAppend(&out, out.empty() ? "" : "\n",
                    reinterpret_cast<const char*>(sqlite3_column_text(plan, 3)));
  }
  sqlite3_finalize(plan);
  return out;
}

inline int64_t QueryInt(sqlite3* db, const std::string& sql) {
  return std::stoll(QueryText(db, sql));
}

// A key-encryption key of 32 bytes `fill` (tests only; a node's comes from
// its 0600 key file).
inline KeyEncryptionKey TestKek(char fill = 'k') {
  absl::StatusOr<KeyEncryptionKey> kek = KeyEncryptionKey::FromBytes(std::string(32, fill));
  return *std::move(kek);  // FromBytes refuses only another length
}

// The first of the database file at `path` and its -wal and -shm files
// (a missing one counts as empty) whose bytes contain `needle`; "" if none.
inline std::string FileContaining(const std::string& path, absl::string_view needle) {
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle.data(), 0, needle.size()) != std::string::npos) return file;
  }
  return "";
}

}  // namespace mir::storage::testing

#endif  // MIR_TESTS_STORAGE_STORAGE_TEST_UTIL_H_
