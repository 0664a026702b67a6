// Schema versions: a hand-made version-1 file is upgraded in place with its
// data; a newer version and a corrupt file are refused.

#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "storage/store_internal.h"
#include "tests/storage/storage_test_util.h"
#include "tests/storage/v1_schema.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::NewTempDir;
using ::mir::testing::StatusIsReason;
using ::testing::HasSubstr;
using namespace ::mir::storage::testing;  // NOLINT: event builders
using enum v1::ReferralState;

// One referral toscana -> lombardia, SUBMITTED then RECEIVED, plus an outbox
// entry and an inbox record; times in microseconds.
constexpr char kV1Data[] = R"sql(
INSERT INTO referrals VALUES ('old-ref', 'toscana', 'lombardia', 2, NULL, 2, 1700000000000000,
  1700000060000000, x'52454645');
INSERT INTO events VALUES (1, 'old-ref', 'toscana', 1, 'old-ref/toscana/1', 1, 'toscana',
  'operator', 'anna',
  1700000000000000, '', x'52454645', 'toscana', 'lombardia', 2, NULL, 1700000000000000);
INSERT INTO events VALUES (2, 'old-ref', 'lombardia', 1, 'old-ref/lombardia/1', 2, 'lombardia',
  'node', '',
  1700000060000000, '', x'5343', NULL, NULL, NULL, NULL, 1700000060000000);
INSERT INTO streams VALUES ('old-ref', 'toscana', 1), ('old-ref', 'lombardia', 1);
INSERT INTO outbox (message_id, peer, envelope, enqueued_at_us, next_attempt_at_us)
  VALUES ('old-ref/lombardia/1', 'toscana', x'5343', 1700000060000000, 1700000060000000);
INSERT INTO inbox VALUES ('old-ref/toscana/1', 'toscana', x'00', x'5245', 1700000000000000);
PRAGMA user_version = 1;
)sql";

// Undoes each step on a current file, kUndo[v] taking it from version v to
// v - 1 (the later tests make older versions from fresh files, newest step
// first). A new step adds its undo here, and EveryEarlierVersionUpgrades
// then tests it from every earlier version.
const std::map<int, std::string>& Undo() {
  static const auto* const kUndo = new std::map<int, std::string>{
      {8, "DROP INDEX referrals_awaiting_ack; "},
      {7,
       "DROP INDEX outbox_due; "
       "ALTER TABLE outbox DROP COLUMN urgency; "
       "CREATE INDEX outbox_pending ON outbox(peer, id, next_attempt_at_us) WHERE state = 0; "},
      {6,
       "DROP INDEX outbox_dead; "
       "CREATE INDEX events_by_message ON events(message_id); "
       "CREATE INDEX outbox_by_state ON outbox(state, id); "},
      {5,
       "DROP INDEX referrals_by_state_recent; "
       "CREATE INDEX referrals_by_state ON referrals(state, updated_at_us); "},
      {4, "DROP INDEX outbox_by_referral; ALTER TABLE outbox DROP COLUMN referral_id; "},
      {3, "DROP INDEX referrals_by_state; DROP TABLE partner_access; "},
      {2,
       "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; "
       "DROP TABLE audit_head; DROP TABLE dropped_events; "
       "ALTER TABLE events DROP COLUMN envelope_sha256; "
       "ALTER TABLE events DROP COLUMN prev_hash; ALTER TABLE events DROP COLUMN row_hash; "},
  };
  return *kUndo;
}

// The SQL that takes a current file back to `version`.
std::string UndoTo(int version) {
  std::string sql;
  for (int v = kSchemaVersion; v > version; --v) sql += Undo().at(v);
  return absl::StrCat(sql, "PRAGMA user_version = ", version, ";");
}

// Versions 8 and 7 undone: what the tests of older steps start from.
std::string UndoVersions8And7() { return Undo().at(8) + Undo().at(7); }

// The detail column of `sql`'s EXPLAIN QUERY PLAN, one line per step.
std::string PlanOf(sqlite3* db, const std::string& sql) {
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

class MigrationTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = NewTempDir() + "/node.db"; }

  absl::StatusOr<std::unique_ptr<Store>> Open() {
    StoreOptions o;
    o.path = path_;
    return Store::Open(o, &clock_);
  }

  std::string path_;
  FakeClock clock_{kT0};
};

TEST_F(MigrationTest, VersionOneFileIsUpgradedInPlaceKeepingItsData) {
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), kV1Schema), "");
    ASSERT_EQ(Exec(raw.get(), kV1Data), "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(*PragmaForTesting(store, "user_version"), std::to_string(kSchemaVersion));
  EXPECT_EQ(*PragmaForTesting(store, "journal_mode"), "wal");

  // The old rows are there and now form a verified chain.
  absl::StatusOr<AuditCheck> audit = store.VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  EXPECT_EQ(audit->rows_checked, 2);
  absl::StatusOr<std::optional<ReferralRecord>> ref = store.GetReferral("old-ref");
  ASSERT_OK(ref);
  ASSERT_TRUE(ref->has_value());
  EXPECT_EQ((*ref)->state, RECEIVED);
  EXPECT_EQ((*ref)->created_at, absl::FromUnixSeconds(1700000000));
  absl::StatusOr<std::vector<Event>> timeline = store.Timeline("old-ref");
  ASSERT_OK(timeline);
  ASSERT_EQ(timeline->size(), 2u);
  EXPECT_EQ((*timeline)[0].actor, Operator("toscana"));
  ASSERT_TRUE((*timeline)[0].referral.has_value());
  EXPECT_EQ((*timeline)[0].referral->destination_node, "lombardia");
  EXPECT_TRUE((*store.FindOutbox("old-ref/lombardia/1")).has_value());

  // And the store carries on from them.
  ASSERT_OK(
      store.RecordAndEnqueue(Changed("old-ref", Operator("lombardia"), 2, UNDER_EVALUATION), {}));
  audit = store.VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  EXPECT_EQ(audit->rows_checked, 3);
  EXPECT_THAT(
      MIR_STATUS(store.RecordAndEnqueue(Changed("old-ref", NodeOf("lombardia"), 1, RECEIVED), {})),
      StatusIsReason(absl::StatusCode::kAlreadyExists, v1::ERROR_REASON_UNSPECIFIED));
}

// The whole upgrade is one transaction: a step that fails leaves version 1.
TEST_F(MigrationTest, FailedUpgradeLeavesTheOldVersionUntouched) {
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), kV1Schema), "");
    ASSERT_EQ(Exec(raw.get(), kV1Data), "");
    // A stray table with a name version 2 wants makes step 2 fail midway.
    ASSERT_EQ(Exec(raw.get(), "CREATE TABLE dropped_events (x)"), "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  EXPECT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("migration 2"));
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "PRAGMA user_version"), "1");
  EXPECT_EQ(QueryText(raw.get(),
                      "SELECT COUNT(*) FROM pragma_table_info('events') WHERE name = 'row_hash'"),
            "0");
  EXPECT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM events"), "2");
}

TEST_F(MigrationTest, NewerVersionIsRefusedAndLeftAlone) {
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), "CREATE TABLE future (x); PRAGMA user_version = 99;"), "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(opened.status().message(), HasSubstr("version 99 is newer than this build supports"));
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "PRAGMA user_version"), "99");
  EXPECT_EQ(QueryText(raw.get(), "PRAGMA journal_mode"), "delete");  // not even switched to WAL
}

TEST_F(MigrationTest, FileThatIsNotADatabaseIsDataLoss) {
  {
    std::ofstream out(path_, std::ios::binary);
    out << std::string(8192, 'G');
  }
  EXPECT_THAT(Open().status(), StatusIsReason(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE));
}

TEST_F(MigrationTest, CorruptPagesAreDataLoss) {
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    for (int i = 0; i < 50; ++i) {
      ASSERT_OK((*opened)->RecordAndEnqueue(Submitted(absl::StrCat("ref-", i)), {}));
    }
  }  // closing checkpoints the WAL into the file
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(QueryText(raw.get(), "PRAGMA integrity_check"), "ok");
    ASSERT_GE(QueryInt(raw.get(), "PRAGMA page_count"), 4);
  }
  {
    // Scribble over pages 2 and 3 (b-tree pages), keeping the header valid.
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    const std::string junk(8192, '\xa5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const absl::Status status = Open().status();
  EXPECT_THAT(status, StatusIsReason(absl::StatusCode::kDataLoss, v1::STORE_UNAVAILABLE));
  EXPECT_THAT(status.message(), HasSubstr("restore from backup"));
}

// Version 5 replaces version 3's referrals_by_state with
// referrals_by_state_recent. A version-4 file (made here from a fresh one by
// undoing exactly that step and version 6's) upgrades in place: the index is built over the
// existing rows, and filtered lists use it.
TEST_F(MigrationTest, VersionFourFileGetsTheStateListIndex) {
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    for (int i = 0; i < 6; ++i) {
      const std::string ref = absl::StrCat("ref-", i);
      ASSERT_OK((*opened)->RecordAndEnqueue(
          Submitted(ref, "toscana", "lombardia", kT0 + absl::Seconds(i)), {}));
      if (i % 2 == 0) {
        ASSERT_OK((*opened)->RecordAndEnqueue(
            Changed(ref, NodeOf("lombardia"), 1, RECEIVED, kT0 + absl::Seconds(10 + i)), {}));
      }
    }
  }
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(
        Exec(raw.get(),
             absl::StrCat(UndoVersions8And7(),
                          "DROP INDEX referrals_by_state_recent; "
                          "CREATE INDEX referrals_by_state ON referrals(state, updated_at_us); "
                          // and version 6's step
                          "DROP INDEX outbox_dead; "
                          "CREATE INDEX events_by_message ON events(message_id); "
                          "CREATE INDEX outbox_by_state ON outbox(state, id); "
                          "PRAGMA user_version = 4;")),
        "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(*PragmaForTesting(store, "user_version"), absl::StrCat(kSchemaVersion));
  EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryText(raw.get(),
                        "SELECT sql FROM sqlite_schema WHERE name = "
                        "'referrals_by_state_recent'"),
              "CREATE INDEX referrals_by_state_recent ON referrals(state, updated_at_us DESC, "
              "referral_id)");
    EXPECT_EQ(QueryText(raw.get(),
                        "SELECT COUNT(*) FROM sqlite_schema WHERE name = "
                        "'referrals_by_state'"),
              "0");
  }
  ReferralQuery q;
  q.states = {RECEIVED, SUBMITTED};
  absl::StatusOr<std::vector<ReferralRecord>> listed = store.QueryReferrals(q);
  ASSERT_OK(listed);
  std::vector<std::string> ids;
  for (const ReferralRecord& r : *listed) ids.push_back(r.meta.referral_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"ref-4", "ref-2", "ref-0", "ref-5", "ref-3", "ref-1"}));
  q.states = {RECEIVED};
  q.limit = 2;
  listed = store.QueryReferrals(q);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].meta.referral_id, "ref-4");
  EXPECT_EQ((*listed)[1].meta.referral_id, "ref-2");
}

// Version 6 drops two indexes no query needs on the write path and adds
// outbox_dead. A version-5 file (made from a fresh one by undoing exactly
// that step) upgrades in place; dead letters are listed through the new
// index, and every outbox state still lists.
TEST_F(MigrationTest, VersionFiveFileLosesTheUnusedIndexesAndListsDeadLetters) {
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    Store& store = **opened;
    for (int i = 0; i < 3; ++i) {
      const std::string ref = absl::StrCat("ref-", i);
      ASSERT_OK(store.RecordAndEnqueue(Submitted(ref, "toscana", "lombardia"),
                                       {Outgoing(absl::StrCat(ref, "/m"))}));
    }
    auto pending = store.ListOutbox(OutboxState::kPending, 0);
    ASSERT_OK(pending);
    ASSERT_EQ(pending->size(), 3u);
    ASSERT_OK(store.MarkDelivered((*pending)[0].id, "receipt"));
    ASSERT_OK(store.MarkDead((*pending)[1].id, "refused"));
  }
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), absl::StrCat(UndoVersions8And7(),
                                           "DROP INDEX outbox_dead; "
                                           "CREATE INDEX events_by_message ON events(message_id); "
                                           "CREATE INDEX outbox_by_state ON outbox(state, id); "
                                           "PRAGMA user_version = 5;")),
              "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(*PragmaForTesting(store, "user_version"), absl::StrCat(kSchemaVersion));
  EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryText(raw.get(),
                        "SELECT COUNT(*) FROM sqlite_schema WHERE name IN "
                        "('events_by_message', 'outbox_by_state')"),
              "0");
    sqlite3_stmt* plan = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw.get(),
                                 "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE state = 2 "
                                 "ORDER BY id",
                                 -1, &plan, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(plan), SQLITE_ROW);
    EXPECT_THAT(reinterpret_cast<const char*>(sqlite3_column_text(plan, 3)),
                HasSubstr("outbox_dead"));
    sqlite3_finalize(plan);
  }
  for (const auto& [state, message] :
       std::vector<std::pair<OutboxState, std::string>>{{OutboxState::kDelivered, "ref-0/m"},
                                                        {OutboxState::kDead, "ref-1/m"},
                                                        {OutboxState::kPending, "ref-2/m"}}) {
    auto listed = store.ListOutbox(state, 0);
    ASSERT_OK(listed);
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].message_id, message);
  }
}

// A version-5 step that fails leaves the version-4 file as it was.
TEST_F(MigrationTest, FailedVersionFiveStepLeavesVersionFour) {
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    ASSERT_OK((*opened)->RecordAndEnqueue(Submitted("ref-1"), {}));
  }
  {
    RawDb raw = OpenRaw(path_);
    // Version 4 as above, plus a stray table holding the name version 5 wants.
    ASSERT_EQ(Exec(raw.get(), absl::StrCat(UndoVersions8And7(),
                                           "DROP INDEX referrals_by_state_recent; "
                                           "CREATE INDEX referrals_by_state ON referrals(state, "
                                           "updated_at_us); "
                                           "CREATE TABLE referrals_by_state_recent (x); "
                                           "PRAGMA user_version = 4;")),
              "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  EXPECT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("migration 5"));
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "PRAGMA user_version"), "4");
  EXPECT_EQ(QueryText(raw.get(),
                      "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND "
                      "name = 'referrals_by_state'"),
            "1");
  EXPECT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM referrals"), "1");
}

// Version 7 gives outbox rows their referral's urgency. A version-6 file
// upgrades in place: its pending rows of referrals held here take the
// referral's urgency, the others (a relay's) ORDINARY, and the due rows
// come most urgent first.
TEST_F(MigrationTest, VersionSixFileQueuesEmergenciesFirst) {
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    Store& store = **opened;
    ASSERT_OK(store.RecordAndEnqueue(Submitted("emergency-ref"), {}));  // EMERGENCY_24H
    ASSERT_OK(store.Transact([](Txn& txn) -> absl::Status {
      RETURN_IF_ERROR(txn.Enqueue(OutgoingAbout("relayed-1", "relayed-ref")));
      return txn.Enqueue(OutgoingAbout("emergency-1", "emergency-ref"));
    }));
  }
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), absl::StrCat(UndoVersions8And7(), "PRAGMA user_version = 6;")), "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(*PragmaForTesting(store, "user_version"), absl::StrCat(kSchemaVersion));
  EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
  auto due = store.DuePending("lombardia", absl::InfiniteFuture(), 0);
  ASSERT_OK(due);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].message_id, "emergency-1");
  EXPECT_EQ((*due)[0].urgency, v1::URGENCY_EMERGENCY_24H);
  EXPECT_EQ((*due)[1].message_id, "relayed-1");
  EXPECT_EQ((*due)[1].urgency, v1::URGENCY_ORDINARY);
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(
      QueryText(raw.get(), "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'outbox_pending'"),
      "0");
}

// Version 8 indexes the emergencies awaiting acknowledgement. A file of
// every earlier version (a current one with the later steps undone) upgrades
// in place to the latest, keeps its data and its audit chain, and the
// deadline watcher's list reads through the new index.
class EveryEarlierVersionTest : public MigrationTest, public ::testing::WithParamInterface<int> {};

TEST_P(EveryEarlierVersionTest, UpgradesToTheLatestAndListsEmergenciesByIndex) {
  const int version = GetParam();
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    Store& store = **opened;
    Event urgent = Submitted("urgent", "toscana", "lombardia", kT0 + absl::Seconds(4));
    urgent.referral->urgency = v1::URGENCY_URGENT;
    urgent.referral->ack_deadline.reset();
    for (const Event& e :
         {Submitted("waiting", "toscana", "lombardia", kT0 + absl::Seconds(1)),
          Submitted("received", "toscana", "lombardia", kT0 + absl::Seconds(2)),
          Submitted("evaluated", "toscana", "lombardia", kT0 + absl::Seconds(3)), urgent,
          Changed("received", NodeOf("lombardia"), 1, RECEIVED, kT0 + absl::Seconds(5)),
          Changed("evaluated", NodeOf("lombardia"), 1, RECEIVED, kT0 + absl::Seconds(6)),
          Changed("evaluated", Operator("lombardia"), 2, UNDER_EVALUATION,
                  kT0 + absl::Seconds(7))}) {
      ASSERT_OK(store.RecordAndEnqueue(e, {}));
    }
  }
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), UndoTo(version)), "");
    ASSERT_EQ(QueryText(raw.get(), "PRAGMA user_version"), std::to_string(version));
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(*PragmaForTesting(store, "user_version"), absl::StrCat(kSchemaVersion));
  EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
  absl::StatusOr<std::vector<ReferralRecord>> waiting = store.EmergenciesAwaitingAck();
  ASSERT_OK(waiting);
  std::vector<std::string> ids;
  for (const ReferralRecord& r : *waiting) ids.push_back(r.meta.referral_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"received", "waiting"}));
  absl::StatusOr<AuditCheck> audit = store.VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  EXPECT_EQ(audit->rows_checked, 7);
  RawDb raw = OpenRaw(path_);
  // The whole plan: one walk of the partial index, no sort.
  EXPECT_EQ(PlanOf(raw.get(), kAwaitingAckSql),
            "SCAN referrals USING INDEX referrals_awaiting_ack");
}

INSTANTIATE_TEST_SUITE_P(FromVersion, EveryEarlierVersionTest, ::testing::Range(1, kSchemaVersion),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return absl::StrCat("V", info.param);
                         });

}  // namespace
}  // namespace mir::storage
