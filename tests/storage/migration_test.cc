// Schema versions: a hand-made version-1 file is upgraded in place with its
// data; a newer version and a corrupt file are refused.

#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "mir/v1/envelope.pb.h"
#include "storage/schema.h"
#include "storage/store.h"
#include "storage/store_internal.h"
#include "tests/storage/storage_test_util.h"
#include "tests/storage/v1_schema.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::NewTempDir;
using ::mir::testing::StatusIs;
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
      {18, "DROP INDEX held_events_by_sender; "},
      {17, "CREATE INDEX referrals_by_update ON referrals(updated_at_us); "},
      {16,
       "INSERT INTO streams (referral_id, sender_node, last_sequence) "
       "SELECT referral_id, sender_node, MAX(sequence) FROM events WHERE true "
       "GROUP BY referral_id, sender_node ON CONFLICT (referral_id, sender_node) "
       "DO UPDATE SET last_sequence = MAX(last_sequence, excluded.last_sequence); "},
      {15, "ALTER TABLE events DROP COLUMN envelope_event_id; "},
      {14,
       "UPDATE referrals SET referral_envelope = (SELECT envelope FROM events "
       "WHERE events.id = referrals.envelope_event_id) WHERE envelope_event_id IS NOT NULL; "
       "ALTER TABLE referrals DROP COLUMN envelope_event_id; "
       "CREATE TABLE outbox_v13 (id INTEGER PRIMARY KEY AUTOINCREMENT, "
       "message_id TEXT NOT NULL UNIQUE, peer TEXT NOT NULL, envelope BLOB NOT NULL, "
       "attempts INTEGER NOT NULL DEFAULT 0, enqueued_at_us INTEGER NOT NULL, "
       "next_attempt_at_us INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0, "
       "last_error TEXT NOT NULL DEFAULT '', receipt BLOB, referral_id TEXT, "
       "urgency INTEGER NOT NULL DEFAULT 3, receipt_sha256 BLOB); "
       "INSERT INTO outbox_v13 SELECT id, message_id, peer, CASE WHEN envelope_event_id IS NULL "
       "THEN envelope ELSE (SELECT e.envelope FROM events e WHERE e.id = outbox.envelope_event_id) "
       "END, attempts, enqueued_at_us, next_attempt_at_us, state, last_error, receipt, "
       "referral_id, urgency, receipt_sha256 FROM outbox; "
       "DROP TABLE outbox; ALTER TABLE outbox_v13 RENAME TO outbox; "
       "CREATE INDEX outbox_by_referral ON outbox(referral_id) WHERE referral_id IS NOT NULL; "
       "CREATE INDEX outbox_dead ON outbox(id) WHERE state = 2; "
       "CREATE INDEX outbox_due ON outbox(peer, urgency, id, next_attempt_at_us) "
       "WHERE state = 0; "},
      {13,
       "DROP TABLE statistics_reports; ALTER TABLE service_requests DROP COLUMN placed_with; "
       "ALTER TABLE service_requests DROP COLUMN placed_from; "},
      {12, "DROP TABLE roster; DROP TABLE service_request_events; DROP TABLE service_requests; "},
      {11, "DROP TABLE report_events; DROP TABLE report_contacts; DROP TABLE reports; "},
      {10,
       "DROP TABLE receipts; ALTER TABLE inbox DROP COLUMN receipt_sha256; "
       "ALTER TABLE outbox DROP COLUMN receipt_sha256; "},
      {9,
       "DROP INDEX referrals_retention; ALTER TABLE referrals DROP COLUMN erased_at_us; "
       "ALTER TABLE held_events DROP COLUMN envelope_sha256; "
       "DROP TABLE referral_keys; DROP TABLE erasures; DROP TABLE legal_holds; "
       "DROP TABLE erasure_answers; "},
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

// Every version from the newest down to 7 undone: what the tests of older
// steps start from.
std::string UndoNewestTo7() {
  std::string sql;
  for (int v = kSchemaVersion; v >= 7; --v) sql += Undo().at(v);
  return sql;
}

class MigrationTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = NewTempDir() + "/node.db"; }

  // With the node's KEK, which a file from before version 9 holding
  // envelopes needs (they are sealed at rest as it is migrated).
  absl::StatusOr<std::unique_ptr<Store>> Open(bool with_kek = true) {
    StoreOptions o;
    o.path = path_;
    if (with_kek) o.kek = &kek_;
    return Store::Open(o, &clock_);
  }

  // Open, which must leave the file at the newest schema version.
  absl::StatusOr<std::unique_ptr<Store>> OpenUpgraded(bool with_kek = true) {
    ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Open(with_kek));
    ASSIGN_OR_RETURN(std::string version, PragmaForTesting(*store, "user_version"));
    if (version != absl::StrCat(kSchemaVersion)) {
      return absl::InternalError(
          absl::StrCat("opened at schema version ", version, ", not ", kSchemaVersion));
    }
    return store;
  }

  // How many tables, indexes and triggers of the file match `where` (a
  // condition on sqlite_schema), read without a Store.
  std::string SchemaCount(absl::string_view where) {
    RawDb raw = OpenRaw(path_);
    return QueryText(raw.get(), absl::StrCat("SELECT COUNT(*) FROM sqlite_schema WHERE ", where));
  }

  std::string path_;
  FakeClock clock_{kT0};
  KeyEncryptionKey kek_ = TestKek();
};

TEST_F(MigrationTest, VersionOneFileIsUpgradedInPlaceKeepingItsData) {
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), kV1Schema), "");
    ASSERT_EQ(Exec(raw.get(), kV1Data), "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
  ASSERT_OK(opened);
  Store& store = **opened;
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
             absl::StrCat(UndoNewestTo7(),
                          "DROP INDEX referrals_by_state_recent; "
                          "CREATE INDEX referrals_by_state ON referrals(state, updated_at_us); "
                          // and version 6's step
                          "DROP INDEX outbox_dead; "
                          "CREATE INDEX events_by_message ON events(message_id); "
                          "CREATE INDEX outbox_by_state ON outbox(state, id); "
                          "PRAGMA user_version = 4;")),
        "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryText(raw.get(),
                        "SELECT sql FROM sqlite_schema WHERE name = "
                        "'referrals_by_state_recent'"),
              "CREATE INDEX referrals_by_state_recent ON referrals(state, updated_at_us DESC, "
              "referral_id)");
    EXPECT_EQ(SchemaCount("name = 'referrals_by_state'"), "0");
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
    ASSERT_EQ(Exec(raw.get(), absl::StrCat(UndoNewestTo7(),
                                           "DROP INDEX outbox_dead; "
                                           "CREATE INDEX events_by_message ON events(message_id); "
                                           "CREATE INDEX outbox_by_state ON outbox(state, id); "
                                           "PRAGMA user_version = 5;")),
              "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(SchemaCount("name IN ('events_by_message', 'outbox_by_state')"), "0");
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
    ASSERT_EQ(Exec(raw.get(), absl::StrCat(UndoNewestTo7(),
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
  EXPECT_EQ(SchemaCount("type = 'index' AND name = 'referrals_by_state'"), "1");
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
    ASSERT_EQ(Exec(raw.get(), absl::StrCat(UndoNewestTo7(), "PRAGMA user_version = 6;")), "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
  auto due = store.DuePending("lombardia", absl::InfiniteFuture(), 0);
  ASSERT_OK(due);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].message_id, "emergency-1");
  EXPECT_EQ((*due)[0].urgency, v1::URGENCY_EMERGENCY_24H);
  EXPECT_EQ((*due)[1].message_id, "relayed-1");
  EXPECT_EQ((*due)[1].urgency, v1::URGENCY_ORDINARY);
  EXPECT_EQ(SchemaCount("name = 'outbox_pending'"), "0");
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
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
  ASSERT_OK(opened);
  Store& store = **opened;
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
  // The whole plan: one walk of the partial index, no sort; each row's
  // envelope by the events row's key (schema v14).
  EXPECT_EQ(PlanOf(raw.get(), kAwaitingAckSql),
            "SCAN referrals USING INDEX referrals_awaiting_ack\n"
            "CORRELATED SCALAR SUBQUERY 1\n"
            "SEARCH events USING INTEGER PRIMARY KEY (rowid=?)");
  // Version 15: an event may name the row that holds its envelope.
  EXPECT_EQ(QueryText(raw.get(),
                      "SELECT COUNT(*) FROM pragma_table_info('events') "
                      "WHERE name = 'envelope_event_id'"),
            "1");
}

// The person code every old envelope below carries in clear.
constexpr char kPersonCode[] = "RSSMRA80A01H501U";

// Envelope bytes as a node before version 9 stored them: personal fields in
// clear. (Storage never parses them; they start as a serialized Envelope.)
std::string ClearEnvelope(const std::string& what) {
  return absl::StrCat("\x0a\x20", what, "|person_code=", kPersonCode, "|notes=in clear");
}

// Envelope bytes by message id.
template <typename Entries>
std::map<std::string, std::string> EnvelopesOf(const Entries& entries) {
  std::map<std::string, std::string> out;
  for (const OutboxEntry& e : entries) out[e.message_id] = e.envelope;
  return out;
}

// Version 9 seals at rest every envelope stored before it, which carried
// personal fields in clear. From every earlier version: without the KEK the
// file is refused and left alone; with it, the person code is afterwards in
// no byte of the files, every read gives the original bytes back and the
// audit chain verifies; a held event released later comes out whole; and
// erasing a referral empties its old envelopes while the chain still
// verifies.
TEST_P(EveryEarlierVersionTest, SealsEveryStoredEnvelopeAtRest) {
  const int version = GetParam();
  // The version-9 step's own test: files from 9 on are sealed already.
  if (version >= 9) GTEST_SKIP() << "version " << version << " stores envelopes sealed at rest";
  Event alpha = Submitted("alpha");
  alpha.envelope = ClearEnvelope("alpha submitted");
  Event alpha_received = Changed("alpha", NodeOf("lombardia"), 1, RECEIVED);
  alpha_received.envelope = ClearEnvelope("alpha received");
  // Lombardia's third event before its second: held.
  Event alpha_early =
      Changed("alpha", Operator("lombardia"), 3, INFO_REQUESTED, kT0 + absl::Minutes(3));
  alpha_early.envelope = ClearEnvelope("alpha info requested");
  Event beta = Submitted("beta");
  beta.envelope = ClearEnvelope("beta submitted");
  OutgoingEnvelope alpha_out = OutgoingAbout("alpha/out", "alpha");
  alpha_out.envelope = ClearEnvelope("alpha out");
  OutgoingEnvelope beta_out = OutgoingAbout("beta/out", "beta");
  beta_out.envelope = ClearEnvelope("beta out");
  OutgoingEnvelope loose = Outgoing("loose/out");  // about no referral
  loose.envelope = ClearEnvelope("loose out");
  const std::map<std::string, std::string> outbox = {{"alpha/out", alpha_out.envelope},
                                                     {"beta/out", beta_out.envelope},
                                                     {"loose/out", loose.envelope}};
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    Store& store = **opened;
    ASSERT_OK(store.RecordAndEnqueue(alpha, {alpha_out, loose}));
    ASSERT_OK(store.RecordAndEnqueue(alpha_received, {}));
    absl::StatusOr<ApplyResult> held = store.RecordAndEnqueue(alpha_early, {});
    ASSERT_OK(held);
    ASSERT_EQ(held->outcome, ApplyOutcome::kHeld);
    ASSERT_OK(store.RecordAndEnqueue(beta, {beta_out}));
  }
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), UndoTo(version)), "");
  }
  ASSERT_NE(FileContaining(path_, kPersonCode), "");  // in clear before

  const absl::Status refused = Open(/*with_kek=*/false).status();
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(refused.message(), HasSubstr("privacy.keyEncryptionKey"));
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryText(raw.get(), "PRAGMA user_version"), std::to_string(version));
  }

  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(FileContaining(path_, kPersonCode), "");
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryInt(raw.get(),
                       "SELECT COUNT(*) FROM events WHERE "
                       "hex(substr(envelope, 1, 7)) = '004D4952415231'"),
              3);
  }

  // Every read gives the original bytes back.
  absl::StatusOr<std::optional<ReferralRecord>> referral = store.GetReferral("alpha");
  ASSERT_OK(referral);
  ASSERT_TRUE(referral->has_value());
  EXPECT_EQ((*referral)->referral_envelope, alpha.envelope);
  absl::StatusOr<std::vector<ReferralRecord>> listed = store.ListReferrals(0);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  for (const ReferralRecord& r : *listed) {
    EXPECT_EQ(r.referral_envelope, r.meta.referral_id == "alpha" ? alpha.envelope : beta.envelope);
  }
  absl::StatusOr<std::vector<Event>> timeline = store.Timeline("alpha");
  ASSERT_OK(timeline);
  ASSERT_EQ(timeline->size(), 2u);
  EXPECT_EQ((*timeline)[0].envelope, alpha.envelope);
  EXPECT_EQ((*timeline)[1].envelope, alpha_received.envelope);
  absl::StatusOr<std::optional<OutboxEntry>> found = store.FindOutbox("loose/out");
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->envelope, loose.envelope);
  absl::StatusOr<std::vector<OutboxEntry>> entries = store.ListOutbox(std::nullopt, 0);
  ASSERT_OK(entries);
  EXPECT_EQ(EnvelopesOf(*entries), outbox);
  entries = store.DuePending("lombardia", absl::InfiniteFuture(), 0);
  ASSERT_OK(entries);
  EXPECT_EQ(EnvelopesOf(*entries), outbox);
  ASSERT_OK(store.Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<ReferralRecord> r, txn.GetReferral("beta"));
    EXPECT_EQ(r.value_or(ReferralRecord{}).referral_envelope, beta.envelope);
    ASSIGN_OR_RETURN(std::optional<OutboxEntry> o, txn.FindOutbox("alpha/out"));
    EXPECT_EQ(o.value_or(OutboxEntry{}).envelope, alpha_out.envelope);
    return absl::OkStatus();
  }));
  // The same message queued again is a repeat, not a conflict.
  EXPECT_THAT(MIR_STATUS(store.Transact([&](Txn& txn) { return txn.Enqueue(alpha_out); })),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::ERROR_REASON_UNSPECIFIED));
  absl::StatusOr<AuditCheck> audit = store.VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  EXPECT_EQ(audit->rows_checked, 3);

  // The held event, released by its predecessor, comes out as it went in.
  const Event alpha_evaluated =
      Changed("alpha", Operator("lombardia"), 2, UNDER_EVALUATION, kT0 + absl::Minutes(2));
  absl::StatusOr<ApplyResult> released = store.RecordAndEnqueue(alpha_evaluated, {});
  ASSERT_OK(released);
  ASSERT_EQ(released->applied.size(), 2u);
  EXPECT_EQ(released->applied[1].envelope, alpha_early.envelope);
  timeline = store.Timeline("alpha");
  ASSERT_OK(timeline);
  ASSERT_EQ(timeline->size(), 4u);
  EXPECT_EQ((*timeline)[3].envelope, alpha_early.envelope);
  {
    // New envelopes are stored as given (their personal fields are sealed
    // by their author); the released one stays sealed at rest.
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryBlob(raw.get(),
                        "SELECT envelope FROM events WHERE message_id = "
                        "'alpha/lombardia/2'"),
              alpha_evaluated.envelope);
    EXPECT_EQ(QueryText(raw.get(),
                        "SELECT hex(substr(envelope, 1, 7)) FROM events WHERE "
                        "message_id = 'alpha/lombardia/3'"),
              "004D4952415231");
  }
  audit = store.VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  EXPECT_EQ(audit->rows_checked, 5);

  // Erasing beta: its old envelopes read back empty, alpha's are untouched,
  // and the chain still verifies (the stored hashes stand in).
  ASSERT_OK(store.Transact([](Txn& txn) {
    return txn.EraseReferral("beta", ErasureRecord{kT0, v1::ERASURE_BY_OPERATOR,
                                                   "mir://toscana/operator/anna", "asked"});
  }));
  referral = store.GetReferral("beta");
  ASSERT_OK(referral);
  ASSERT_TRUE(referral->has_value());
  EXPECT_EQ((*referral)->referral_envelope, "");
  timeline = store.Timeline("beta");
  ASSERT_OK(timeline);
  ASSERT_EQ(timeline->size(), 1u);
  EXPECT_EQ((*timeline)[0].envelope, "");
  found = store.FindOutbox("beta/out");
  ASSERT_OK(found);
  ASSERT_TRUE(found->has_value());
  // Outbox rows from before version 4 do not name their referral: they were
  // sealed under a key of their own, which erasing the referral leaves.
  EXPECT_EQ((*found)->envelope, version >= 4 ? "" : beta_out.envelope);
  referral = store.GetReferral("alpha");
  ASSERT_OK(referral);
  EXPECT_EQ(referral->value_or(ReferralRecord{}).referral_envelope, alpha.envelope);
  audit = store.VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  EXPECT_EQ(audit->rows_checked, 5);

  opened->reset();
  EXPECT_EQ(FileContaining(path_, kPersonCode), "");
  auto reopened = Open();
  ASSERT_OK(reopened);
  audit = (*reopened)->VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
}

// The audit chain opens envelopes sealed at rest to check their hash: one
// altered, or one whose key was removed without an erasure, is a broken row
// (tampering_test's shape).
TEST_F(MigrationTest, AlteredSealedEnvelopesBreakTheAuditChain) {
  struct Case {
    std::string name;
    std::string sql;  // run with sqlite3 on the migrated version-1 file
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"sealed envelope altered",
       "UPDATE events SET envelope = substr(envelope, 1, length(envelope) - 1) || x'00' "
       "WHERE id = 2",
       "event row 2 was modified: an envelope of old-ref sealed at rest does not open"},
      {"sealed envelope swapped for another row's",
       "UPDATE events SET envelope = (SELECT envelope FROM events WHERE id = 1) WHERE id = 2",
       "event row 2 was modified: its envelope does not match its hash"},
      {"key deleted without an erasure", "DELETE FROM referral_keys",
       "event row 1 was modified: the key of an envelope of old-ref sealed at rest is missing"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    path_ = NewTempDir() + "/node.db";
    {
      RawDb raw = OpenRaw(path_);
      ASSERT_EQ(Exec(raw.get(), kV1Schema), "");
      ASSERT_EQ(Exec(raw.get(), kV1Data), "");
    }
    ASSERT_OK(Open());  // migrates, then closes
    {
      RawDb raw = OpenRaw(path_);
      ASSERT_EQ(Exec(raw.get(), "DROP TRIGGER events_no_update; " + c.sql), "");
    }
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    absl::StatusOr<AuditCheck> audit = (*opened)->VerifyAuditChain();
    ASSERT_OK(audit);
    EXPECT_FALSE(audit->ok);
    EXPECT_THAT(audit->problem, HasSubstr(c.problem));
  }
}

// A file from before version 9 holding no envelope needs no KEK.
TEST_F(MigrationTest, OldFileWithoutEnvelopesNeedsNoKek) {
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), kV1Schema), "");
    ASSERT_EQ(Exec(raw.get(), "PRAGMA user_version = 1"), "");
  }
  EXPECT_OK(OpenUpgraded(/*with_kek=*/false));
}

// Sealing is part of the one migration transaction: a version-9 step that
// fails (a stray table holding a name it creates) leaves version 1 as it
// was, its envelopes in clear and no key.
TEST_F(MigrationTest, FailedVersionNineStepLeavesTheOldVersionUntouched) {
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), kV1Schema), "");
    ASSERT_EQ(Exec(raw.get(), kV1Data), "");
    ASSERT_EQ(Exec(raw.get(), "CREATE TABLE legal_holds (x)"), "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  EXPECT_FALSE(opened.ok());
  EXPECT_THAT(opened.status().message(), HasSubstr("migration 9"));
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "PRAGMA user_version"), "1");
  EXPECT_EQ(QueryText(raw.get(), "SELECT hex(envelope) FROM events WHERE id = 1"), "52454645");
  EXPECT_EQ(QueryText(raw.get(), "SELECT hex(referral_envelope) FROM referrals"), "52454645");
  EXPECT_EQ(SchemaCount("name = 'referral_keys'"), "0");
}

// Version 10 keeps a batch's receipt once. From every earlier version: the
// receipts rows already held stay inline and read back whole; afterwards a
// receipt covering several envelopes is stored once, by its hash, for the
// inbox and outbox rows it covers, and each reads it back.
TEST_P(EveryEarlierVersionTest, KeepsOldReceiptsAndStoresABatchReceiptOnce) {
  const int version = GetParam();
  const std::string single = ReceiptListing(1);
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    ASSERT_OK((*opened)->Transact([&](Txn& txn) {
      return txn.InsertInbox({"old-in", "lombardia", std::string(32, 'x'), single, kT0});
    }));
    ASSERT_OK((*opened)->RecordAndEnqueue(Submitted("alpha"), {Outgoing("old-out")}));
    absl::StatusOr<std::optional<OutboxEntry>> out = (*opened)->FindOutbox("old-out");
    ASSERT_OK(out);
    ASSERT_TRUE(out->has_value());
    ASSERT_OK((*opened)->MarkDelivered((*out)->id, single));
  }
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), UndoTo(version)), "");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  ASSERT_OK(opened);
  Store& store = **opened;
  absl::StatusOr<std::optional<InboxRecord>> old_in = store.FindInboxRecord("old-in");
  ASSERT_OK(old_in);
  ASSERT_TRUE(old_in->has_value());
  EXPECT_EQ((*old_in)->receipt, single);
  absl::StatusOr<std::optional<OutboxEntry>> old_out = store.FindOutbox("old-out");
  ASSERT_OK(old_out);
  ASSERT_TRUE(old_out->has_value());
  EXPECT_EQ((*old_out)->receipt, single);

  const std::string batch = ReceiptListing(3);
  ASSERT_OK(store.Transact([&](Txn& txn) -> absl::Status {
    for (const char* id : {"in-0", "in-1", "in-2"}) {
      RETURN_IF_ERROR(txn.InsertInbox({id, "lombardia", std::string(32, 'y'), batch, kT0}));
    }
    return absl::OkStatus();
  }));
  ASSERT_OK(store.RecordAndEnqueue(Submitted("beta"), {Outgoing("out-1"), Outgoing("out-2")}));
  std::vector<std::pair<int64_t, std::string>> delivered;
  for (const char* id : {"out-1", "out-2"}) {
    absl::StatusOr<std::optional<OutboxEntry>> out = store.FindOutbox(id);
    ASSERT_OK(out);
    ASSERT_TRUE(out->has_value());
    delivered.emplace_back((*out)->id, batch);
  }
  ASSERT_OK(store.MarkDeliveredMany(delivered));
  for (const char* id : {"in-0", "in-1", "in-2"}) {
    absl::StatusOr<std::optional<InboxRecord>> in = store.FindInboxRecord(id);
    ASSERT_OK(in);
    ASSERT_TRUE(in->has_value());
    EXPECT_EQ((*in)->receipt, batch) << id;
  }
  for (const char* id : {"out-1", "out-2"}) {
    absl::StatusOr<std::optional<OutboxEntry>> out = store.FindOutbox(id);
    ASSERT_OK(out);
    ASSERT_TRUE(out->has_value());
    EXPECT_EQ((*out)->receipt, batch) << id;
  }
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM receipts"), "1");
  EXPECT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM inbox WHERE length(receipt) > 0"), "1");
  EXPECT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM outbox WHERE receipt IS NOT NULL"), "1");
}

// Version 11 adds citizen reports. From every earlier version, with a
// referral already held: the referral is still there and its chain
// verifies; a report, its contact and its events are stored and read back
// after reopening; QueryReports reads a range of reports_recent, no sort; the
// receipt code is unique and the report events are append-only.
TEST_P(EveryEarlierVersionTest, AddsCitizenReports) {
  const int version = GetParam();
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    ASSERT_OK((*opened)->RecordAndEnqueue(Submitted("alpha"), {}));
  }
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), UndoTo(version)), "");
    // From version 11 on the report tables are there already.
    if (version < 11) {
      ASSERT_EQ(SchemaCount("name LIKE 'report%'"), "0");
    }
  }
  ReportRecord report;
  report.report_id = "report-1";
  report.origin_node = "toscana";
  report.recorded_at = kT0;
  report.updated_at = kT0;
  report.state = v1::REPORT_RECEIVED;
  report.facts.set_province("FI");
  report.sealed = "SEALED";
  report.request_sha256 = std::string(32, 'a');
  report.receipt_code = "AAAA-BBBB-CCCC";
  report.passphrase_hash = std::string(32, 'h');
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
    ASSERT_OK(opened);
    Store& store = **opened;
    EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
    ASSERT_OK(store.Transact([&](Txn& txn) -> absl::Status {
      RETURN_IF_ERROR(txn.InsertReport(report));
      RETURN_IF_ERROR(txn.PutReportContact("report-1", "SEALED-CONTACT"));
      return txn.AppendReportEvent("report-1", 1, "E1");
    }));
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  ASSERT_OK(opened);
  Store& store = **opened;
  absl::StatusOr<std::optional<ReferralRecord>> alpha = store.GetReferral("alpha");
  ASSERT_OK(alpha);
  EXPECT_TRUE(alpha->has_value());
  absl::StatusOr<AuditCheck> audit = store.VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  ASSERT_OK(store.Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<ReportRecord> got,
                     txn.FindReportByReceiptCode("AAAA-BBBB-CCCC"));
    EXPECT_EQ(got.has_value() ? got->report_id : "", "report-1");
    ASSIGN_OR_RETURN(std::optional<std::string> contact, txn.ReportContact("report-1"));
    EXPECT_EQ(contact, "SEALED-CONTACT");
    ASSIGN_OR_RETURN(std::vector<std::string> events, txn.ReportEvents("report-1"));
    EXPECT_EQ(events, std::vector<std::string>{"E1"});
    return absl::OkStatus();
  }));
  absl::StatusOr<std::vector<ReportRecord>> listed = store.QueryReports(ReportQuery{});
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].report_id, "report-1");
  report.report_id = "report-2";
  EXPECT_THAT(store.Transact([&](Txn& txn) { return txn.InsertReport(report); }),
              StatusIs(absl::StatusCode::kAlreadyExists));
  RawDb raw = OpenRaw(path_);
  // The whole plan: one range of the index, in list order, no sort.
  EXPECT_EQ(PlanOf(raw.get(), kReportsSql),
            "SEARCH reports USING INDEX reports_recent (recorded_at_us>? AND recorded_at_us<?)");
  EXPECT_THAT(Exec(raw.get(), "DELETE FROM report_events"), HasSubstr("append-only"));
  EXPECT_THAT(Exec(raw.get(), "UPDATE report_events SET envelope = x'00'"),
              HasSubstr("append-only"));
}

// A REQUESTED mediator request as the store keeps it ("request-1").
ServiceRequestRecord MediatorRequest() {
  ServiceRequestRecord request;
  request.request_id = "request-1";
  request.origin_node = "toscana";
  request.created_at = kT0;
  request.updated_at = kT0;
  request.state = v1::SERVICE_REQUESTED;
  request.facts.set_kind(v1::SERVICE_KIND_MEDIATOR);
  request.facts.set_language("pcm");
  *request.facts.mutable_window_start() = ToProtoTime(kT0 + absl::Hours(1));
  *request.facts.mutable_window_end() = ToProtoTime(kT0 + absl::Hours(2));
  request.sealed = "SEALED";
  request.request_sha256 = std::string(32, 'a');
  return request;
}

// Version 12 adds service requests and the roster. From every earlier
// version, with a referral already held: the referral is still there and its
// chain verifies; a request, its events and a roster entry are stored and
// read back after reopening; QueryServiceRequests reads a range of
// service_requests_recent, no sort; the request events are append-only.
TEST_P(EveryEarlierVersionTest, AddsServiceRequests) {
  const int version = GetParam();
  if (version >= 12) GTEST_SKIP() << "version " << version << " has service requests already";
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    ASSERT_OK((*opened)->RecordAndEnqueue(Submitted("alpha"), {}));
  }
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), UndoTo(version)), "");
    ASSERT_EQ(SchemaCount("name LIKE 'service_request%' OR name = 'roster'"), "0");
  }
  const ServiceRequestRecord request = MediatorRequest();
  v1::RosterEntry entry;
  entry.set_code("MED-0007");
  entry.set_kind(v1::ROSTER_MEDIATOR);
  entry.add_languages("pcm");
  entry.set_available(true);
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
    ASSERT_OK(opened);
    Store& store = **opened;
    EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
    ASSERT_OK(store.Transact([&](Txn& txn) -> absl::Status {
      RETURN_IF_ERROR(txn.InsertServiceRequest(request));
      RETURN_IF_ERROR(txn.AppendServiceRequestEvent("request-1", 1, "E1"));
      return txn.PutRosterEntry(entry);
    }));
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = Open();
  ASSERT_OK(opened);
  Store& store = **opened;
  absl::StatusOr<std::optional<ReferralRecord>> alpha = store.GetReferral("alpha");
  ASSERT_OK(alpha);
  EXPECT_TRUE(alpha->has_value());
  absl::StatusOr<AuditCheck> audit = store.VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  ASSERT_OK(store.Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<ServiceRequestRecord> got, txn.GetServiceRequest("request-1"));
    EXPECT_EQ(got.has_value() ? got->facts.language() : "", "pcm");
    ASSIGN_OR_RETURN(std::vector<std::string> events, txn.ServiceRequestEvents("request-1"));
    EXPECT_EQ(events, std::vector<std::string>{"E1"});
    ASSIGN_OR_RETURN(std::optional<v1::RosterEntry> kept, txn.GetRosterEntry("MED-0007"));
    EXPECT_TRUE(kept.has_value() && kept->available());
    return absl::OkStatus();
  }));
  absl::StatusOr<std::vector<ServiceRequestRecord>> listed =
      store.QueryServiceRequests(ServiceRequestQuery{});
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].request_id, "request-1");
  RawDb raw = OpenRaw(path_);
  // The whole plan: one range of the index, in list order, no sort.
  EXPECT_EQ(PlanOf(raw.get(), kServiceRequestsSql),
            "SEARCH service_requests USING INDEX service_requests_recent (created_at_us>? AND "
            "created_at_us<?)");
  EXPECT_THAT(Exec(raw.get(), "DELETE FROM service_request_events"), HasSubstr("append-only"));
  EXPECT_THAT(Exec(raw.get(), "UPDATE service_request_events SET envelope = x'00'"),
              HasSubstr("append-only"));
}

// Version 13: service requests between nodes and the national statistics.
// From every earlier version: a request stored before the step (at version
// 12) is kept, placed nowhere; placed_from and placed_with are stored and
// read back; a statistics report is kept per node and month, replaced by a
// later count and not by an earlier one.
TEST_P(EveryEarlierVersionTest, AddsPlacementAndStatisticsReports) {
  const int version = GetParam();
  const ServiceRequestRecord request = MediatorRequest();
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    ASSERT_OK((*opened)->Transact(
        [&](Txn& txn) -> absl::Status { return txn.InsertServiceRequest(request); }));
  }
  {
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), UndoTo(version)), "");
  }
  ASSERT_EQ(SchemaCount("name = 'statistics_reports'"), version < 13 ? "0" : "1");
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
  ServiceRequestRecord placed = request;
  placed.request_id = "request-2";
  placed.placed_from = "nvn";
  const absl::Time march = kT0 - absl::Hours(24 * 60);
  ASSERT_OK(store.Transact([&](Txn& txn) -> absl::Status {
    if (version < 12) RETURN_IF_ERROR(txn.InsertServiceRequest(request));
    RETURN_IF_ERROR(txn.InsertServiceRequest(placed));
    ServiceRequestRecord sent_on = placed;
    sent_on.state = v1::SERVICE_PLACED;
    sent_on.placed_with = "lombardia";
    RETURN_IF_ERROR(txn.UpdateServiceRequest(sent_on));
    for (const auto& [counted_at, body] :
         {std::pair{kT0, "first"}, std::pair{kT0 + absl::Hours(1), "second"},
          std::pair{kT0 - absl::Hours(1), "older"}}) {
      RETURN_IF_ERROR(txn.PutStatisticsReport({"toscana", march, counted_at, body}).status());
    }
    return txn.PutStatisticsReport({"lombardia", march, kT0, "theirs"}).status();
  }));
  ASSERT_OK(store.Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<ServiceRequestRecord> kept, txn.GetServiceRequest("request-1"));
    EXPECT_TRUE(kept.has_value() && kept->placed_from.empty() && kept->placed_with.empty());
    ASSIGN_OR_RETURN(std::optional<ServiceRequestRecord> got, txn.GetServiceRequest("request-2"));
    EXPECT_TRUE(got.has_value() && got->placed_from == "nvn" && got->placed_with == "lombardia" &&
                got->state == v1::SERVICE_PLACED);
    return absl::OkStatus();
  }));
  absl::StatusOr<std::vector<StatisticsReportRecord>> reports =
      store.StatisticsReports(march, march + absl::Hours(1));
  ASSERT_OK(reports);
  ASSERT_EQ(reports->size(), 2u);
  EXPECT_EQ((*reports)[0].node_id, "lombardia");
  EXPECT_EQ((*reports)[1].node_id, "toscana");
  EXPECT_EQ((*reports)[1].report, "second");
  EXPECT_EQ((*reports)[1].counted_at, kT0 + absl::Hours(1));
}

// Schema v14: an outbox row or referral whose envelope an events row holds
// keeps no copy of it, and the outbox has no AUTOINCREMENT. Files from
// version 9 on are converted (earlier ones had their envelopes sealed at
// rest by version 9, one nonce per copy: they stay inline); every read
// returns the same bytes as before.
TEST_P(EveryEarlierVersionTest, StoresEachEnvelopeOnce) {
  const int version = GetParam();
  if (version >= 14) GTEST_SKIP() << "a file of version 14 on was written so";
  const Event submitted = Submitted("ref-1", "toscana", "nvn");
  const Event received = Changed("ref-1", NodeOf("nvn"), 1, RECEIVED);
  OutgoingEnvelope forward{submitted.message_id, "nvn", submitted.envelope, "ref-1", std::nullopt};
  OutgoingEnvelope answer{received.message_id, "toscana", received.envelope, "ref-1", std::nullopt};
  const OutgoingEnvelope other = OutgoingAbout("ref-1/toscana/erasure", "ref-1");
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    ASSERT_OK((*opened)->RecordAndEnqueue(submitted, {forward, other}));
    ASSERT_OK((*opened)->RecordAndEnqueue(received, {answer}));
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryText(raw.get(),
                        "SELECT COUNT(*) FROM outbox WHERE length(envelope) = 0 "
                        "AND envelope_event_id IS NOT NULL"),
              "2");
    ASSERT_EQ(Exec(raw.get(), UndoTo(version)), "");
    ASSERT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM outbox WHERE length(envelope) > 0"), "3");
    ASSERT_EQ(SchemaCount("sql LIKE '%AUTOINCREMENT%'"), "1");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(*PragmaForTesting(store, "integrity_check"), "ok");
  const std::string converted = version >= 9 ? "2" : "0";
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(SchemaCount("sql LIKE '%AUTOINCREMENT%'"), "0");
    EXPECT_EQ(QueryText(raw.get(),
                        "SELECT COUNT(*) FROM outbox WHERE length(envelope) = 0 "
                        "AND envelope_event_id IS NOT NULL"),
              converted);
    EXPECT_EQ(QueryText(raw.get(),
                        "SELECT COUNT(*) FROM referrals WHERE "
                        "length(referral_envelope) = 0 AND envelope_event_id IS NOT NULL"),
              version >= 9 ? "1" : "0");
  }
  // What every reader sees is unchanged.
  for (const OutgoingEnvelope& o : {forward, answer, other}) {
    absl::StatusOr<std::optional<OutboxEntry>> entry = store.FindOutbox(o.message_id);
    ASSERT_OK(entry);
    ASSERT_TRUE(entry->has_value()) << o.message_id;
    EXPECT_EQ((*entry)->envelope, o.envelope) << o.message_id;
  }
  absl::StatusOr<std::vector<OutboxEntry>> due = store.DuePending("nvn", kT0, 0);
  ASSERT_OK(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].envelope, submitted.envelope);
  absl::StatusOr<std::optional<ReferralRecord>> referral = store.GetReferral("ref-1");
  ASSERT_OK(referral);
  ASSERT_TRUE(referral->has_value());
  EXPECT_EQ((*referral)->referral_envelope, submitted.envelope);
  // The same message queued again is still recognised, and other bytes
  // still conflict.
  EXPECT_EQ(store.Transact([&](Txn& txn) { return txn.Enqueue(forward); }).code(),
            absl::StatusCode::kAlreadyExists);
  forward.envelope += "changed";
  EXPECT_THAT(store.Transact([&](Txn& txn) { return txn.Enqueue(forward); }),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
  // New rows take ids after the old ones, and are stored once.
  const Event next = Submitted("ref-2", "toscana", "nvn");
  ASSERT_OK(store.RecordAndEnqueue(
      next, {{next.message_id, "nvn", next.envelope, "ref-2", std::nullopt}}));
  absl::StatusOr<std::optional<OutboxEntry>> queued = store.FindOutbox(next.message_id);
  ASSERT_OK(queued);
  ASSERT_TRUE(queued->has_value());
  EXPECT_EQ((*queued)->id, 4);
  EXPECT_EQ((*queued)->envelope, next.envelope);
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "SELECT length(envelope) FROM outbox WHERE id = 4"), "0");
  EXPECT_EQ(
      QueryText(raw.get(),
                "SELECT length(referral_envelope) FROM referrals WHERE referral_id = 'ref-2'"),
      "0");
  absl::StatusOr<AuditCheck> audit = store.VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
}

// Schema v16: `streams` keeps only the positions the events key cannot show
// (here a join's starting point beyond any event of that stream); the rest
// go, and every position reads as before, and moves on as before.
TEST_P(EveryEarlierVersionTest, KeepsOnlyTheStreamPositionsEventsCannotShow) {
  const int version = GetParam();
  if (version >= 16) GTEST_SKIP() << "a file of version 16 on was written so";
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    ASSERT_OK((*opened)->RecordAndEnqueue(Submitted("ref-1", "toscana", "nvn"), {}));
    ASSERT_OK((*opened)->RecordAndEnqueue(Changed("ref-1", NodeOf("nvn"), 1, RECEIVED), {}));
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM streams"), "0");
    ASSERT_EQ(Exec(raw.get(), UndoTo(version)), "");
    ASSERT_EQ(Exec(raw.get(), "INSERT INTO streams VALUES ('ref-1', 'lombardia', 4)"), "");
    ASSERT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM streams"), "3");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
  ASSERT_OK(opened);
  Store& store = **opened;
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryText(raw.get(),
                        "SELECT referral_id || ' ' || sender_node || ' ' || "
                        "last_sequence FROM streams"),
              "ref-1 lombardia 4");
  }
  std::vector<std::pair<std::string, uint64_t>> positions;
  ASSERT_OK(store.Transact([&](Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(positions, txn.StreamPositions("ref-1"));
    return absl::OkStatus();
  }));
  EXPECT_THAT(positions, ::testing::ElementsAre(std::pair<std::string, uint64_t>{"lombardia", 4},
                                                std::pair<std::string, uint64_t>{"nvn", 1},
                                                std::pair<std::string, uint64_t>{"toscana", 1}));
  // Applied events move positions on without a streams row.
  ASSERT_OK(store.RecordAndEnqueue(Changed("ref-1", Operator("nvn"), 2, UNDER_EVALUATION), {}));
  uint64_t next_nvn = 0, next_lombardia = 0;
  ASSERT_OK(store.Transact([&](Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(next_nvn, txn.NextSequence("ref-1", "nvn"));
    ASSIGN_OR_RETURN(next_lombardia, txn.NextSequence("ref-1", "lombardia"));
    return absl::OkStatus();
  }));
  EXPECT_EQ(next_nvn, 3u);
  EXPECT_EQ(next_lombardia, 5u);
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM streams"), "1");
}

// Schema v17: no index by time alone; a list without a state filter merges
// the per-state walks, in the same order as before the upgrade.
TEST_P(EveryEarlierVersionTest, ListsWithoutTheIndexByTimeAlone) {
  const int version = GetParam();
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    Store& store = **opened;
    ASSERT_OK(store.RecordAndEnqueue(Submitted("ref-a", "toscana", "lombardia", kT0), {}));
    ASSERT_OK(store.RecordAndEnqueue(
        Submitted("ref-b", "veneto", "lombardia", kT0 + absl::Minutes(2)), {}));
    ASSERT_OK(store.RecordAndEnqueue(Submitted("ref-c", "toscana", "lombardia", kT0), {}));
    ASSERT_OK(store.RecordAndEnqueue(
        Changed("ref-c", NodeOf("lombardia"), 1, RECEIVED, kT0 + absl::Minutes(3)), {}));
    ASSERT_OK(store.RecordAndEnqueue(Submitted("ref-d", "toscana", "lombardia", kT0), {}));
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), UndoTo(version)), "");
    ASSERT_EQ(SchemaCount("name = 'referrals_by_update'"), version < 17 ? "1" : "0");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
  ASSERT_OK(opened);
  Store& store = **opened;
  EXPECT_EQ(SchemaCount("name = 'referrals_by_update'"), "0");
  auto ids = [](const absl::StatusOr<std::vector<ReferralRecord>>& listed) {
    std::vector<std::string> out;
    if (listed.ok()) {
      for (const ReferralRecord& r : *listed) out.push_back(r.meta.referral_id);
    }
    return out;
  };
  // Newest update first; a tie on the time goes to the smaller id.
  EXPECT_THAT(ids(store.ListReferrals(0)),
              ::testing::ElementsAre("ref-c", "ref-b", "ref-a", "ref-d"));
  EXPECT_THAT(ids(store.ListReferrals(2)), ::testing::ElementsAre("ref-c", "ref-b"));
  ReferralQuery from_toscana;
  from_toscana.origin_node = "toscana";
  EXPECT_THAT(ids(store.QueryReferrals(from_toscana)),
              ::testing::ElementsAre("ref-c", "ref-a", "ref-d"));
  ReferralQuery recent;
  recent.updated_since = kT0 + absl::Minutes(1);
  EXPECT_THAT(ids(store.QueryReferrals(recent)), ::testing::ElementsAre("ref-c", "ref-b"));
}

// Schema v18: held events are counted per sender through an index, which
// covers the events held before the upgrade; they are still released.
TEST_P(EveryEarlierVersionTest, HeldEventsAreCountedPerSender) {
  const int version = GetParam();
  {
    absl::StatusOr<std::unique_ptr<Store>> opened = Open();
    ASSERT_OK(opened);
    absl::StatusOr<ApplyResult> held =
        (*opened)->RecordAndEnqueue(Changed("ref-h", Operator("toscana"), 2, WITHDRAWN), {});
    ASSERT_OK(held);
    ASSERT_EQ(held->outcome, ApplyOutcome::kHeld);
    RawDb raw = OpenRaw(path_);
    ASSERT_EQ(Exec(raw.get(), UndoTo(version)), "");
    ASSERT_EQ(SchemaCount("name = 'held_events_by_sender'"), "0");
  }
  absl::StatusOr<std::unique_ptr<Store>> opened = OpenUpgraded();
  ASSERT_OK(opened);
  EXPECT_EQ(SchemaCount("name = 'held_events_by_sender'"), "1");
  {
    RawDb raw = OpenRaw(path_);
    EXPECT_EQ(QueryText(raw.get(),
                        "SELECT COUNT(*) FROM held_events INDEXED BY held_events_by_sender "
                        "WHERE sender_node = 'toscana'"),
              "1");
  }
  absl::StatusOr<ApplyResult> released =
      (*opened)->RecordAndEnqueue(Submitted("ref-h", "toscana", "lombardia", kT0), {});
  ASSERT_OK(released);
  EXPECT_EQ(released->applied.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(FromVersion, EveryEarlierVersionTest, ::testing::Range(1, kSchemaVersion),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return absl::StrCat("V", info.param);
                         });

}  // namespace
}  // namespace mir::storage
