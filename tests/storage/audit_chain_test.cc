// The events hash chain: edits, deletions (middle and last) and insertions
// made behind the store's back are found, with the first bad row.

#include "storage/audit_chain.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "crypto/envelope_bytes.h"
#include "storage/store.h"
#include "tests/storage/storage_test_util.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::NewTempDir;
using ::testing::HasSubstr;
using namespace ::mir::storage::testing;  // NOLINT: event builders
using enum v1::ReferralState;

constexpr int kRows = 10;

class AuditChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = NewTempDir() + "/node.db";
    Reopen();
    // Ten events: five referrals submitted, each then received.
    for (int i = 0; i < kRows / 2; ++i) {
      const std::string ref = absl::StrCat("ref-", i);
      ASSERT_OK(store_->RecordAndEnqueue(Submitted(ref), {}));
      ASSERT_OK(store_->RecordAndEnqueue(Changed(ref, NodeOf("lombardia"), 1, RECEIVED), {}));
    }
  }

  void Reopen() {
    store_.reset();
    StoreOptions o;
    o.path = path_;
    absl::StatusOr<std::unique_ptr<Store>> s = Store::Open(o, &clock_);
    ASSERT_OK(s);
    store_ = *std::move(s);
  }

  // Runs `sql` with a raw connection, as someone with file access would,
  // after removing the append-only triggers that would stop them.
  void Tamper(const std::string& sql) {
    store_.reset();
    {
      RawDb raw = OpenRaw(path_);
      ASSERT_EQ(Exec(raw.get(), "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;"),
                "");
      ASSERT_EQ(Exec(raw.get(), sql), "");
    }
    Reopen();
  }

  AuditCheck Verify() {
    absl::StatusOr<AuditCheck> check = store_->VerifyAuditChain();
    EXPECT_OK(check);
    return check.ok() ? *check : AuditCheck{};
  }

  std::string path_;
  FakeClock clock_{kT0};
  std::unique_ptr<Store> store_;
};

TEST_F(AuditChainTest, IntactChainVerifies) {
  const AuditCheck check = Verify();
  EXPECT_TRUE(check.ok) << check.problem;
  EXPECT_EQ(check.rows_checked, kRows);
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(
      check.head_hash,
      QueryText(raw.get(), "SELECT lower(hex(row_hash)) FROM events ORDER BY id DESC LIMIT 1"));
  EXPECT_EQ(QueryText(raw.get(), "SELECT hex(prev_hash) FROM events WHERE id = 1"),
            std::string(64, '0'));
}

TEST_F(AuditChainTest, TriggersRefuseEditsThroughSql) {
  store_.reset();
  RawDb raw = OpenRaw(path_);
  EXPECT_THAT(Exec(raw.get(), "UPDATE events SET reason = 'x' WHERE id = 3"),
              HasSubstr("append-only"));
  EXPECT_THAT(Exec(raw.get(), "DELETE FROM events WHERE id = 3"), HasSubstr("append-only"));
}

TEST_F(AuditChainTest, EditedRowIsFound) {
  Tamper("UPDATE events SET reason = 'REJECTION_OTHER' WHERE id = 5");
  const AuditCheck check = Verify();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad_row, 5);
  EXPECT_THAT(check.problem, HasSubstr("modified"));
}

TEST_F(AuditChainTest, EditedEnvelopeIsFound) {
  Tamper("UPDATE events SET envelope = x'00' WHERE id = 2");
  const AuditCheck check = Verify();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad_row, 2);
  EXPECT_THAT(check.problem, HasSubstr("envelope does not match"));
}

TEST_F(AuditChainTest, EnvelopeAndItsHashEditedTogetherAreFound) {
  Tamper(
      "UPDATE events SET envelope = x'00', envelope_sha256 = "
      "x'6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d' WHERE id = 4");
  const AuditCheck check = Verify();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad_row, 4);
  EXPECT_THAT(check.problem, HasSubstr("contents do not match"));
}

// The chain covers the envelope's hash, not its bytes: purging an envelope
// under a retention policy (leaving it empty) keeps the chain verifiable.
TEST_F(AuditChainTest, PurgedEnvelopeKeepsTheChainValid) {
  Tamper("UPDATE events SET envelope = x'' WHERE id = 3");
  const AuditCheck check = Verify();
  EXPECT_TRUE(check.ok) << check.problem;
}

TEST_F(AuditChainTest, DeletedMiddleRowIsFound) {
  Tamper("DELETE FROM events WHERE id = 5");
  const AuditCheck check = Verify();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad_row, 6);
  EXPECT_THAT(check.problem, HasSubstr("missing"));
}

TEST_F(AuditChainTest, DeletedLastRowIsFound) {
  Tamper(absl::StrCat("DELETE FROM events WHERE id = ", kRows));
  const AuditCheck check = Verify();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad_row, kRows);
  EXPECT_THAT(check.problem, HasSubstr("missing"));
  // New appends link to the head, so the gap stays visible afterwards.
  ASSERT_OK(store_->RecordAndEnqueue(Submitted("later"), {}));
  EXPECT_FALSE(Verify().ok);
}

TEST_F(AuditChainTest, InsertedRowWithGarbageLinkIsFound) {
  Tamper(absl::StrCat(
      "INSERT INTO events (id, referral_id, sender_node, sequence, message_id, to_state, "
      "actor_node, actor_role, "
      "actor_name, at_us, reason, envelope, applied_at_us, envelope_sha256, prev_hash, row_hash) "
      "SELECT ",
      kRows + 1,
      ", referral_id, sender_node, sequence + 1, 'forged', to_state, actor_node, actor_role, "
      "actor_name, at_us, "
      "reason, envelope, applied_at_us, envelope_sha256, x'00', x'00' FROM events WHERE id = 2"));
  const AuditCheck check = Verify();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad_row, kRows + 1);
}

// Someone who knows the encoding forges a row with a correct link and hash
// but cannot move the head without being noticed (the head is also the
// value to copy elsewhere).
TEST_F(AuditChainTest, CorrectlyHashedInsertedRowIsCaughtByTheHead) {
  store_.reset();
  std::string last_hash;
  {
    RawDb raw = OpenRaw(path_);
    last_hash = QueryText(raw.get(), "SELECT hex(row_hash) FROM events WHERE id = 10");
  }
  AuditRow forged;
  forged.id = kRows + 1;
  forged.referral_id = "ref-0";
  forged.sender_node = "toscana";
  forged.sequence = 2;
  forged.message_id = "forged";
  forged.to_state = WITHDRAWN;
  forged.actor_node = "toscana";
  forged.actor_role = "operator";
  forged.actor_name = "mallory";
  forged.envelope_sha256 = Sha256("x");
  std::string prev;
  for (size_t i = 0; i < last_hash.size(); i += 2)
    prev.push_back(static_cast<char>(std::stoi(last_hash.substr(i, 2), nullptr, 16)));
  const std::string hash = ChainHash(prev, forged);
  Tamper(absl::StrCat(
      "INSERT INTO events (id, referral_id, sender_node, sequence, message_id, to_state, "
      "actor_node, "
      "actor_role, actor_name, at_us, reason, envelope, applied_at_us, envelope_sha256, prev_hash, "
      "row_hash) VALUES (",
      kRows + 1, ", 'ref-0', 'toscana', 2, 'forged', ", static_cast<int>(WITHDRAWN),
      ", 'toscana', 'operator', 'mallory', 0, '', 'x', 0, x'", ToHex(Sha256("x")), "', x'",
      last_hash, "', x'", ToHex(hash), "')"));
  const AuditCheck check = Verify();
  EXPECT_FALSE(check.ok);
  EXPECT_EQ(check.first_bad_row, kRows + 1);
  EXPECT_THAT(check.problem, HasSubstr("outside the store"));
}

TEST_F(AuditChainTest, ChainContinuesAcrossReopen) {
  Reopen();
  ASSERT_OK(store_->RecordAndEnqueue(Submitted("after-reopen"), {}));
  const AuditCheck check = Verify();
  EXPECT_TRUE(check.ok) << check.problem;
  EXPECT_EQ(check.rows_checked, kRows + 1);
}

// The encoding documented in docs/STORAGE.md, rebuilt by hand.
TEST(AuditEncodingTest, CanonicalBytesFollowTheDocumentedLayout) {
  AuditRow r;
  r.id = 7;
  r.referral_id = "r";
  r.sender_node = "toscana";
  r.sequence = 2;
  r.message_id = "m";
  r.to_state = 2;
  r.actor_node = "lombardia";
  r.actor_role = "node";
  r.actor_name = "";
  r.at_us = -1;
  r.reason = "";
  r.envelope_sha256 = Sha256(std::string("\x00\x01", 2));
  r.urgency = 3;
  r.applied_at_us = 256;

  auto u64 = [](uint64_t v) {
    std::string out;
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
    return out;
  };
  auto bytes = [&](const std::string& v) { return std::string(1, '\x02') + u64(v.size()) + v; };
  auto integer = [&](int64_t v) {
    return std::string(1, '\x01') + u64(8) + u64(static_cast<uint64_t>(v));
  };
  const std::string null = std::string(1, '\x00') + u64(0);
  const std::string expected = bytes("MIR-EXCHANGE/v1/audit-event") + integer(7) + bytes("r") +
                               bytes("toscana") + integer(2) + bytes("m") + integer(2) +
                               bytes("lombardia") + bytes("node") + bytes("") + integer(-1) +
                               bytes("") + bytes(Sha256(std::string("\x00\x01", 2))) + null + null +
                               integer(3) + null + integer(256);
  EXPECT_EQ(ToHex(CanonicalEventBytes(r)), ToHex(expected));
  EXPECT_EQ(ChainHash(GenesisHash(), r), Sha256(GenesisHash() + expected));
  EXPECT_EQ(ToHex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace mir::storage
