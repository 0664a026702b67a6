// Key custody and erasure (docs/STORAGE.md, "Key custody and erasure"):
// referral keys wrapped under the KEK, crypto-erasure and what it leaves in
// the files, legal holds, erasure answers, KEK rotation at open, and the
// retention list. Real database files.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "crypto/sealing.h"
#include "storage/store.h"
#include "storage/store_internal.h"
#include "tests/storage/storage_test_util.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::NewTempDir;
using ::mir::testing::StatusIs;
using ::mir::testing::StatusIsReason;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace ::mir::storage::testing;  // NOLINT: event builders
using enum v1::ReferralState;

constexpr char kRef[] = "3f1c2a9e-0000-4000-8000-00000000000a";
constexpr char kOther[] = "3f1c2a9e-0000-4000-8000-00000000000b";

ErasureRecord ByOperator(absl::Time at, std::string reason = "asked by the person") {
  return ErasureRecord{at, v1::ERASURE_BY_OPERATOR, "mir://toscana/operator/anna",
                       std::move(reason)};
}

LegalHoldRecord HoldBy(absl::Time since, std::string reason = "court order 12/2026") {
  return LegalHoldRecord{since, "mir://toscana/operator/bruno", std::move(reason)};
}

class KeyCustodyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = NewTempDir() + "/node.db";
    ASSERT_OK(Reopen(&kek_a_));
  }

  absl::Status Reopen(const KeyEncryptionKey* kek,
                      std::vector<const KeyEncryptionKey*> previous = {}) {
    store_.reset();
    StoreOptions o;
    o.path = path_;
    o.kek = kek;
    o.previous_keks = std::move(previous);
    absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(o, &clock_);
    if (!opened.ok()) return opened.status();
    store_ = *std::move(opened);
    return absl::OkStatus();
  }

  absl::Status Put(const std::string& ref, const SecretKey& key) {
    return store_->Transact([&](Txn& txn) { return txn.PutReferralKey(ref, key); });
  }
  // Read in a snapshot on the read connection.
  absl::StatusOr<std::optional<SecretKey>> Get(const std::string& ref, const std::string& key_id) {
    std::optional<SecretKey> out;
    RETURN_IF_ERROR(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(out, txn.GetReferralKey(ref, key_id));
      return absl::OkStatus();
    }));
    return out;
  }
  bool Holds(const std::string& ref, const SecretKey& key) {
    absl::StatusOr<std::optional<SecretKey>> got = Get(ref, ReferralKeyId(key));
    EXPECT_OK(got);
    if (!got.ok() || !got->has_value()) return false;
    EXPECT_EQ((*got)->bytes(), key.bytes());
    return true;
  }
  absl::Status Erase(const std::string& ref, const ErasureRecord& record) {
    return store_->Transact([&](Txn& txn) { return txn.EraseReferral(ref, record); });
  }
  absl::Status Hold(const std::string& ref, const std::optional<LegalHoldRecord>& hold) {
    return store_->Transact([&](Txn& txn) { return txn.SetLegalHold(ref, hold); });
  }
  std::optional<ErasureRecord> ErasureOf(const std::string& ref) {
    std::optional<ErasureRecord> out;
    EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(out, txn.GetErasure(ref));
      return absl::OkStatus();
    }));
    return out;
  }
  std::optional<LegalHoldRecord> HoldOf(const std::string& ref) {
    std::optional<LegalHoldRecord> out;
    EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(out, txn.GetLegalHold(ref));
      return absl::OkStatus();
    }));
    return out;
  }
  // The wrapped bytes of `ref`'s key `key` as stored, read with sqlite3.
  std::string WrappedOf(const std::string& ref, const SecretKey& key) {
    RawDb raw = OpenRaw(path_);
    return QueryBlob(raw.get(),
                     absl::StrCat("SELECT wrapped FROM referral_keys WHERE referral_id = '", ref,
                                  "' AND key_id = x'", ToHexString(ReferralKeyId(key)), "'"));
  }
  static std::string ToHexString(const std::string& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
    return out;
  }

  std::string path_;
  FakeClock clock_{kT0};
  KeyEncryptionKey kek_a_ = TestKek('a');
  KeyEncryptionKey kek_b_ = TestKek('b');
  KeyEncryptionKey kek_c_ = TestKek('c');
  std::unique_ptr<Store> store_;
};

TEST_F(KeyCustodyTest, KeyRoundTripsWrappedUnderTheKek) {
  const SecretKey key = NewReferralKey();
  ASSERT_OK(Put(kRef, key));
  ASSERT_OK(Put(kRef, key));  // idempotent
  EXPECT_TRUE(Holds(kRef, key));
  // Inside a write transaction too, seeing its own write.
  const SecretKey second = NewReferralKey();
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    RETURN_IF_ERROR(txn.PutReferralKey(kRef, second));
    ASSIGN_OR_RETURN(std::optional<SecretKey> k, txn.GetReferralKey(kRef, ReferralKeyId(second)));
    EXPECT_TRUE(k.has_value());
    return absl::OkStatus();
  }));
  ASSERT_OK(Reopen(&kek_a_));
  EXPECT_TRUE(Holds(kRef, key));
  EXPECT_TRUE(Holds(kRef, second));

  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM referral_keys"), 2);
  EXPECT_EQ(QueryText(raw.get(), "SELECT DISTINCT kek_id FROM referral_keys"), kek_a_.id());
  // Wrapped: the key's own bytes are nowhere in the files.
  EXPECT_EQ(FileContaining(path_, key.bytes()), "");
  EXPECT_EQ(FileContaining(path_, second.bytes()), "");
}

TEST_F(KeyCustodyTest, KeyNotHeldIsNullopt) {
  const SecretKey key = NewReferralKey();
  ASSERT_OK(Put(kRef, key));
  const SecretKey other = NewReferralKey();
  for (const auto& [ref, key_id] : std::vector<std::pair<std::string, std::string>>{
           {kRef, ReferralKeyId(other)}, {kOther, ReferralKeyId(key)}, {kRef, ""}}) {
    absl::StatusOr<std::optional<SecretKey>> got = Get(ref, key_id);
    ASSERT_OK(got);
    EXPECT_FALSE(got->has_value());
  }
}

TEST_F(KeyCustodyTest, WithoutAKekNoKeyIsStored) {
  ASSERT_OK(Reopen(nullptr));  // an empty store opens without one
  const absl::Status status = Put(kRef, NewReferralKey());
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(status.message(), HasSubstr("no key-encryption key configured"));
}

TEST_F(KeyCustodyTest, MalformedKeysAreRefused) {
  struct Case {
    std::string name;
    std::string ref;
    std::string key;
  };
  for (const Case& c : std::vector<Case>{
           {"no referral id", "", std::string(32, 'x')},
           {"referral id over 128 bytes", std::string(129, 'r'), std::string(32, 'x')},
           {"key of 16 bytes", kRef, std::string(16, 'x')},
           {"empty key", kRef, ""},
       }) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(Put(c.ref, SecretKey(c.key)),
                StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  }
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM referral_keys"), 0);
}

TEST_F(KeyCustodyTest, EraseDestroysTheKeysAndRecordsWhy) {
  const SecretKey first = NewReferralKey();
  const SecretKey second = NewReferralKey();
  const SecretKey others = NewReferralKey();
  ASSERT_OK(Put(kRef, first));
  ASSERT_OK(Put(kRef, second));
  ASSERT_OK(Put(kOther, others));

  ASSERT_OK(Erase(kRef, ByOperator(kT0 + absl::Hours(1))));
  EXPECT_FALSE(Holds(kRef, first));
  EXPECT_FALSE(Holds(kRef, second));
  EXPECT_TRUE(Holds(kOther, others));
  std::optional<ErasureRecord> erased = ErasureOf(kRef);
  ASSERT_TRUE(erased.has_value());
  EXPECT_EQ(erased->at, kT0 + absl::Hours(1));
  EXPECT_EQ(erased->cause, v1::ERASURE_BY_OPERATOR);
  EXPECT_EQ(erased->by, "mir://toscana/operator/anna");
  EXPECT_EQ(erased->reason, "asked by the person");
  EXPECT_FALSE(ErasureOf(kOther).has_value());

  // A second erasure is OK and keeps the first record.
  ASSERT_OK(Erase(kRef, ErasureRecord{kT0 + absl::Hours(2), v1::ERASURE_BY_RETENTION,
                                      "mir://toscana/node", ""}));
  ASSERT_OK(Reopen(&kek_a_));
  erased = ErasureOf(kRef);
  ASSERT_TRUE(erased.has_value());
  EXPECT_EQ(erased->at, kT0 + absl::Hours(1));
  EXPECT_EQ(erased->cause, v1::ERASURE_BY_OPERATOR);
  EXPECT_FALSE(Holds(kRef, first));
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryInt(raw.get(), absl::StrCat("SELECT COUNT(*) FROM referral_keys WHERE "
                                             "referral_id = '",
                                             kRef, "'")),
            0);
}

TEST_F(KeyCustodyTest, ErasedReferralTakesNoNewKey) {
  ASSERT_OK(Erase(kRef, ByOperator(kT0)));  // known here or not
  const SecretKey key = NewReferralKey();
  EXPECT_THAT(Put(kRef, key), StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::ERASED));
  EXPECT_FALSE(Holds(kRef, key));
  EXPECT_THAT(Erase(kRef, ErasureRecord{kT0, v1::ERASURE_CAUSE_UNSPECIFIED, "", ""}),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
}

TEST_F(KeyCustodyTest, LegalHoldStopsErasureUntilLifted) {
  const SecretKey key = NewReferralKey();
  ASSERT_OK(Put(kRef, key));
  ASSERT_OK(Hold(kRef, HoldBy(kT0)));
  EXPECT_THAT(Erase(kRef, ByOperator(kT0 + absl::Hours(1))),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::LEGAL_HOLD));
  // Nothing changed.
  EXPECT_TRUE(Holds(kRef, key));
  EXPECT_FALSE(ErasureOf(kRef).has_value());

  // Setting it again replaces the record; it survives a restart.
  ASSERT_OK(Hold(kRef, HoldBy(kT0 + absl::Minutes(5), "court order 13/2026")));
  ASSERT_OK(Reopen(&kek_a_));
  std::optional<LegalHoldRecord> hold = HoldOf(kRef);
  ASSERT_TRUE(hold.has_value());
  EXPECT_EQ(hold->since, kT0 + absl::Minutes(5));
  EXPECT_EQ(hold->by, "mir://toscana/operator/bruno");
  EXPECT_EQ(hold->reason, "court order 13/2026");

  ASSERT_OK(Hold(kRef, std::nullopt));
  ASSERT_OK(Hold(kRef, std::nullopt));  // idempotent
  EXPECT_FALSE(HoldOf(kRef).has_value());
  ASSERT_OK(Erase(kRef, ByOperator(kT0 + absl::Hours(2))));
  EXPECT_FALSE(Holds(kRef, key));
  ASSERT_TRUE(ErasureOf(kRef).has_value());
  // A hold set after the erasure does not turn a repeated erasure into a
  // refusal: the data is gone already.
  ASSERT_OK(Hold(kRef, HoldBy(kT0 + absl::Hours(3))));
  EXPECT_OK(Erase(kRef, ByOperator(kT0 + absl::Hours(4))));
}

// Crypto-erasure is only as good as the bytes it removes: the wrapped key
// must not survive in a free page, a page's free space or an old WAL frame.
TEST_F(KeyCustodyTest, ErasedKeyBytesLeaveTheDatabaseFiles) {
  const SecretKey key = NewReferralKey();
  const SecretKey kept = NewReferralKey();
  ASSERT_OK(Put(kRef, key));
  ASSERT_OK(Put(kOther, kept));
  for (int i = 0; i < 50; ++i) {  // more rows, more pages
    ASSERT_OK(Put(absl::StrCat("filler-", i), NewReferralKey()));
  }
  const std::string wrapped = WrappedOf(kRef, key);
  const std::string wrapped_kept = WrappedOf(kOther, kept);
  ASSERT_EQ(wrapped.size(), kSealNonceBytes + kReferralKeyBytes + 16);
  ASSERT_NE(FileContaining(path_, wrapped), "");  // the search does find it

  ASSERT_OK(Erase(kRef, ByOperator(kT0)));
  // While the store is still open: the WAL was checkpointed and truncated.
  EXPECT_EQ(FileContaining(path_, wrapped), "");
  std::error_code error;
  EXPECT_EQ(std::filesystem::file_size(path_ + "-wal", error), 0u);
  EXPECT_NE(FileContaining(path_, wrapped_kept), "");
  EXPECT_TRUE(Holds(kOther, kept));

  store_.reset();
  EXPECT_EQ(FileContaining(path_, wrapped), "");
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "PRAGMA integrity_check"), "ok");
}

TEST_F(KeyCustodyTest, ErasureAnswersKeepTheirArrivalOrderAndTheLatestOutcome) {
  auto answer = [&](const std::string& node, v1::ErasureOutcome outcome, absl::Time at) {
    return store_->Transact([&](Txn& txn) {
      return txn.RecordErasureAnswer(kRef, ErasureAnswerRecord{node, outcome, at});
    });
  };
  ASSERT_OK(answer("lombardia", v1::ERASURE_HELD, kT0 + absl::Minutes(1)));
  ASSERT_OK(answer("nvn", v1::ERASURE_DONE, kT0 + absl::Minutes(2)));
  ASSERT_OK(answer("lombardia", v1::ERASURE_DONE, kT0 + absl::Minutes(3)));  // hold lifted there
  EXPECT_THAT(answer("not a node!", v1::ERASURE_DONE, kT0),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_THAT(answer("veneto", v1::ERASURE_OUTCOME_UNSPECIFIED, kT0),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));

  std::vector<ErasureAnswerRecord> answers;
  ASSERT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(answers, txn.ErasureAnswers(kRef));
    return absl::OkStatus();
  }));
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].node, "lombardia");
  EXPECT_EQ(answers[0].outcome, v1::ERASURE_DONE);
  EXPECT_EQ(answers[0].at, kT0 + absl::Minutes(3));
  EXPECT_EQ(answers[1].node, "nvn");
  EXPECT_EQ(answers[1].outcome, v1::ERASURE_DONE);
}

// KEK rotation: the node is given a new KEK and lists the old one as
// previous; Open rewraps every key, after which the old KEK is not needed.
TEST_F(KeyCustodyTest, OpenRewrapsEveryKeyUnderANewKek) {
  std::vector<std::pair<std::string, SecretKey>> keys;
  for (int i = 0; i < 300; ++i) {  // more than one page of the rewrap
    keys.emplace_back(absl::StrCat("ref-", i % 120), NewReferralKey());
    ASSERT_OK(Put(keys.back().first, keys.back().second));
  }
  const std::string wrapped_under_a = WrappedOf(keys[0].first, keys[0].second);

  ASSERT_OK(Reopen(&kek_b_, {&kek_a_}));
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryInt(raw.get(), absl::StrCat("SELECT COUNT(*) FROM referral_keys WHERE "
                                               "kek_id = '",
                                               kek_b_.id(), "'")),
              300);
    EXPECT_EQ(QueryInt(raw.get(), "SELECT COUNT(*) FROM referral_keys"), 300);
  }
  for (const auto& [ref, key] : keys) EXPECT_TRUE(Holds(ref, key));
  // The old wrapping left the files with the rotation.
  EXPECT_EQ(FileContaining(path_, wrapped_under_a), "");

  // B alone is enough from now on.
  ASSERT_OK(Reopen(&kek_b_));
  for (const auto& [ref, key] : keys) EXPECT_TRUE(Holds(ref, key));

  // A KEK that wrapped nothing here, without the one that did: refused with
  // what to do, and nothing changed.
  absl::Status refused = Reopen(&kek_c_, {&kek_a_});
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(refused.message(), HasSubstr(kek_b_.id()));
  EXPECT_THAT(refused.message(), HasSubstr("privacy.previousKeyEncryptionKeys"));
  refused = Reopen(nullptr);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(refused.message(), HasSubstr("privacy.keyEncryptionKey"));
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryInt(raw.get(), absl::StrCat("SELECT COUNT(*) FROM referral_keys WHERE "
                                               "kek_id = '",
                                               kek_b_.id(), "'")),
              300);
  }
  ASSERT_OK(Reopen(&kek_b_));
  EXPECT_TRUE(Holds(keys[7].first, keys[7].second));
}

// Rows altered behind the store's back (tampering_test's shape).
TEST_F(KeyCustodyTest, AlteredKeyRowsAreRefused) {
  struct Case {
    std::string name;
    std::string sql;  // run with sqlite3 on the row of kRef
    std::string read_as;
    absl::StatusCode code;
    v1::ErrorReason reason;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"wrapped key altered", "UPDATE referral_keys SET wrapped = zeroblob(length(wrapped))", kRef,
       absl::StatusCode::kDataLoss, v1::SEALED_TAMPERED, "does not unwrap"},
      {"row moved to another referral",
       absl::StrCat("UPDATE referral_keys SET referral_id = '", kOther, "'"), kOther,
       absl::StatusCode::kDataLoss, v1::SEALED_TAMPERED, "does not unwrap"},
      {"row under a KEK not configured", "UPDATE referral_keys SET kek_id = '00112233deadbeef'",
       kRef, absl::StatusCode::kFailedPrecondition, v1::ERROR_REASON_UNSPECIFIED,
       "00112233deadbeef"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    path_ = NewTempDir() + "/node.db";
    ASSERT_OK(Reopen(&kek_a_));
    const SecretKey key = NewReferralKey();
    ASSERT_OK(Put(kRef, key));
    {
      RawDb raw = OpenRaw(path_);
      ASSERT_EQ(Exec(raw.get(), c.sql), "");
    }
    const absl::StatusOr<std::optional<SecretKey>> got = Get(c.read_as, ReferralKeyId(key));
    EXPECT_THAT(got.status(), StatusIsReason(c.code, c.reason));
    EXPECT_THAT(got.status().message(), HasSubstr(c.message));
    EXPECT_EQ(got.status().message().find(key.bytes()), std::string::npos);
  }
}

// The retention list: referrals in the given terminal state, reached by the
// given time, neither erased nor held; oldest first; by its partial index.
TEST_F(KeyCustodyTest, DueForErasureHonoursStateTimeErasureAndHold) {
  auto withdrawn = [&](const std::string& ref, absl::Duration after) {
    ASSERT_OK(store_->RecordAndEnqueue(Submitted(ref), {}));
    ASSERT_OK(
        store_->RecordAndEnqueue(Changed(ref, Operator("toscana"), 2, WITHDRAWN, kT0 + after), {}));
  };
  withdrawn("w-old", absl::Hours(1));
  withdrawn("w-tie", absl::Hours(1));
  withdrawn("w-held", absl::Hours(2));
  withdrawn("w-erased", absl::Hours(3));
  withdrawn("w-new", absl::Hours(10));
  ASSERT_OK(store_->RecordAndEnqueue(Submitted("n-old"), {}));
  ASSERT_OK(store_->RecordAndEnqueue(
      Changed("n-old", Operator("nvn"), 1, CLOSED_NEGATIVE, kT0 + absl::Hours(1)), {}));
  ASSERT_OK(store_->RecordAndEnqueue(Submitted("open"), {}));
  // Erased before it reached this node: stays out of the list once here.
  ASSERT_OK(Erase("w-late", ByOperator(kT0)));
  withdrawn("w-late", absl::Hours(1));
  ASSERT_OK(Hold("w-held", HoldBy(kT0)));
  ASSERT_OK(Erase("w-erased", ByOperator(kT0 + absl::Hours(4))));

  auto due = [&](v1::ReferralState state, absl::Duration by, int limit = 0) {
    absl::StatusOr<std::vector<std::string>> ids = store_->DueForErasure(state, kT0 + by, limit);
    EXPECT_OK(ids);
    return ids.ok() ? *ids : std::vector<std::string>{"<error>"};
  };
  EXPECT_THAT(due(WITHDRAWN, absl::Minutes(59)), IsEmpty());
  EXPECT_THAT(due(WITHDRAWN, absl::Hours(1)), ElementsAre("w-old", "w-tie"));
  EXPECT_THAT(due(WITHDRAWN, absl::Hours(9)), ElementsAre("w-old", "w-tie"));
  EXPECT_THAT(due(WITHDRAWN, absl::Hours(10)), ElementsAre("w-old", "w-tie", "w-new"));
  EXPECT_THAT(due(WITHDRAWN, absl::Hours(10), 1), ElementsAre("w-old"));
  EXPECT_THAT(due(CLOSED_NEGATIVE, absl::Hours(10)), ElementsAre("n-old"));
  EXPECT_THAT(due(CLOSED_POSITIVE, absl::Hours(10)), IsEmpty());
  ASSERT_OK(Hold("w-held", std::nullopt));
  EXPECT_THAT(due(WITHDRAWN, absl::Hours(9)), ElementsAre("w-old", "w-tie", "w-held"));
  ASSERT_OK(Erase("w-old", ByOperator(kT0 + absl::Hours(11))));
  EXPECT_THAT(due(WITHDRAWN, absl::Hours(9)), ElementsAre("w-tie", "w-held"));

  for (v1::ReferralState open : {SUBMITTED, UNDER_EVALUATION, REFERRAL_STATE_UNSPECIFIED}) {
    EXPECT_THAT(MIR_STATUS(store_->DueForErasure(open, kT0, 0)),
                StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  }
  RawDb raw = OpenRaw(path_);
  // Erased referrals leave the index: a pass reads only what is still there.
  EXPECT_EQ(QueryInt(raw.get(),
                     "SELECT COUNT(*) FROM referrals INDEXED BY referrals_retention "
                     "WHERE erased_at_us IS NULL AND state IN (9, 10, 11, 12)"),
            5);  // w-tie, w-held, w-new, n-old, w-late
  EXPECT_THAT(PlanOf(raw.get(), kDueForErasureSql),
              HasSubstr("SEARCH referrals USING INDEX referrals_retention (state=? AND "
                        "updated_at_us<?)"));
  EXPECT_THAT(PlanOf(raw.get(), kDueForErasureSql), Not(HasSubstr("TEMP B-TREE")));
}

}  // namespace
}  // namespace mir::storage
