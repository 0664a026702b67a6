// Citizen reports in the store (schema v11, storage/reports.h): insert, get,
// update and list; idempotency by request hash; receipt codes; the contact
// kept apart and once; report events appended in sequence only and never
// changed. Real database files; a refused write changes nothing, and what
// was written is there after reopening.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/sealing.h"
#include "storage/store.h"
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
using namespace ::mir::storage::testing;  // NOLINT: builders and raw helpers

constexpr char kReport[] = "7d0c1b2a-0000-4000-8000-000000000001";

// A report taken at toscana at kT0 + `minute` minutes, awaiting triage,
// with its sealed parts as opaque bytes.
ReportRecord Report(const std::string& id, int minute = 0) {
  ReportRecord r;
  r.report_id = id;
  r.origin_node = "toscana";
  r.recorded_at = kT0 + absl::Minutes(minute);
  r.updated_at = r.recorded_at;
  r.state = v1::REPORT_RECEIVED;
  r.facts.set_channel(v1::CHANNEL_PHONE);
  r.facts.set_reporter_type(v1::REPORTER_CITIZEN);
  r.facts.set_reason(v1::REASON_REPORT);
  r.facts.set_province("FI");
  r.facts.add_suspected_exploitation(v1::EXPLOITATION_LABOUR);
  r.facts.set_persons(2);
  r.facts.set_immediate_danger(true);
  r.facts.set_language("ita");
  r.sealed = absl::StrCat("SEALED:", id);
  r.request_sha256 = std::string(32, 'a');
  return r;
}

std::vector<std::string> IdsOf(const absl::StatusOr<std::vector<ReportRecord>>& reports) {
  std::vector<std::string> ids;
  if (reports.ok()) {
    for (const ReportRecord& r : *reports) ids.push_back(r.report_id);
  }
  return ids;
}

class ReportStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = NewTempDir() + "/node.db";
    Reopen();
  }

  void Reopen() {
    store_.reset();
    StoreOptions o;
    o.path = path_;
    o.kek = &kek_;
    absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(o, &clock_);
    ASSERT_OK(opened);
    store_ = *std::move(opened);
  }

  absl::Status Insert(const ReportRecord& r) {
    return store_->Transact([&](Txn& txn) { return txn.InsertReport(r); });
  }
  absl::Status Update(const ReportRecord& r) {
    return store_->Transact([&](Txn& txn) { return txn.UpdateReport(r); });
  }
  absl::Status PutContact(const std::string& id, const std::string& sealed) {
    return store_->Transact([&](Txn& txn) { return txn.PutReportContact(id, sealed); });
  }
  absl::Status Append(const std::string& id, uint64_t sequence, const std::string& envelope) {
    return store_->Transact(
        [&](Txn& txn) { return txn.AppendReportEvent(id, sequence, envelope); });
  }

  std::optional<ReportRecord> Get(const std::string& id) {
    std::optional<ReportRecord> out;
    EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(out, txn.GetReport(id));
      return absl::OkStatus();
    }));
    return out;
  }
  std::optional<ReportRecord> ByCode(const std::string& code) {
    std::optional<ReportRecord> out;
    EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(out, txn.FindReportByReceiptCode(code));
      return absl::OkStatus();
    }));
    return out;
  }
  std::vector<std::string> Events(const std::string& id) {
    std::vector<std::string> out;
    EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(out, txn.ReportEvents(id));
      return absl::OkStatus();
    }));
    return out;
  }
  std::optional<std::string> Contact(const std::string& id) {
    std::optional<std::string> out;
    EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(out, txn.ReportContact(id));
      return absl::OkStatus();
    }));
    return out;
  }

  // Every row of the three report tables, to show a refused write left them.
  std::string Dump() {
    RawDb raw = OpenRaw(path_);
    return absl::StrCat(
        QueryText(raw.get(),
                  "SELECT group_concat(report_id || '|' || state || '|' || triage || '|' || "
                  "routed_to || '|' || referral_id || '|' || updated_at_us || '|' || "
                  "has_contact || '|' || hex(request_sha256) || '|' || "
                  "COALESCE(receipt_code, '-'), ';') FROM reports"),
        "/",
        QueryText(raw.get(),
                  "SELECT group_concat(report_id || hex(sealed), ';') "
                  "FROM report_contacts"),
        "/",
        QueryText(raw.get(),
                  "SELECT group_concat(report_id || sequence || hex(envelope), ';') "
                  "FROM report_events"));
  }

  std::string path_;
  FakeClock clock_{kT0};
  KeyEncryptionKey kek_ = TestKek();
  std::unique_ptr<Store> store_;
};

TEST_F(ReportStoreTest, InsertedReportReadsBackWholeAndAfterReopening) {
  ReportRecord r = Report(kReport);
  r.receipt_code = "K7QF-3MZP-XW2D";
  r.passphrase_hash = std::string(32, 'p');
  ASSERT_OK(Insert(r));
  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass == 0 ? "as written" : "after reopening");
    std::optional<ReportRecord> got = Get(kReport);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->report_id, kReport);
    EXPECT_EQ(got->origin_node, "toscana");
    EXPECT_EQ(got->recorded_at, kT0);
    EXPECT_EQ(got->updated_at, kT0);
    EXPECT_EQ(got->state, v1::REPORT_RECEIVED);
    EXPECT_EQ(got->triage, v1::TRIAGE_UNSPECIFIED);
    EXPECT_EQ(got->routed_to, "");
    EXPECT_EQ(got->referral_id, "");
    EXPECT_EQ(got->facts.SerializeAsString(), r.facts.SerializeAsString());
    EXPECT_EQ(got->sealed, r.sealed);
    EXPECT_FALSE(got->has_contact);
    EXPECT_EQ(got->request_sha256, r.request_sha256);
    EXPECT_EQ(got->receipt_code, "K7QF-3MZP-XW2D");
    EXPECT_EQ(got->passphrase_hash, r.passphrase_hash);
    Reopen();
  }
  EXPECT_FALSE(Get("no-such-report").has_value());
  // The columns statistics count, beside the facts.
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(),
                      "SELECT channel || reporter_type || reason || province || "
                      "immediate_danger FROM reports"),
            "123FI1");
}

TEST_F(ReportStoreTest, StaffReportHasNoReceiptCode) {
  ASSERT_OK(Insert(Report(kReport)));
  ASSERT_OK(Insert(Report("second")));  // two empty codes do not collide
  std::optional<ReportRecord> got = Get(kReport);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->receipt_code, "");
  EXPECT_EQ(got->passphrase_hash, "");
  EXPECT_FALSE(ByCode("").has_value());
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM reports WHERE receipt_code IS NULL"), "2");
}

TEST_F(ReportStoreTest, InsertRefusesBadRecordsAndChangesNothing) {
  ASSERT_OK(Insert(Report("kept")));
  const std::string before = Dump();
  struct Case {
    const char* name;
    void (*mutate)(ReportRecord&);
  };
  const Case kCases[] = {
      {"empty id", [](ReportRecord& r) { r.report_id.clear(); }},
      // "report:" + id must fit the key owner (keys::Put takes 128 bytes).
      {"id too long for its key owner",
       [](ReportRecord& r) { r.report_id = std::string(122, 'r'); }},
      {"empty origin", [](ReportRecord& r) { r.origin_node.clear(); }},
      {"unspecified state", [](ReportRecord& r) { r.state = v1::REPORT_STATE_UNSPECIFIED; }},
      {"unknown state", [](ReportRecord& r) { r.state = static_cast<v1::ReportState>(99); }},
      {"unknown triage", [](ReportRecord& r) { r.triage = static_cast<v1::Triage>(99); }},
      {"municipality in clear", [](ReportRecord& r) { r.facts.set_municipality("Prato"); }},
      {"description in clear", [](ReportRecord& r) { r.facts.set_description("visto"); }},
      {"contact in clear", [](ReportRecord& r) { r.facts.set_contact("333 1234567"); }},
      {"receipt code without passphrase hash",
       [](ReportRecord& r) { r.receipt_code = "AAAA-BBBB-CCCC"; }},
      {"passphrase hash without receipt code",
       [](ReportRecord& r) { r.passphrase_hash = std::string(32, 'p'); }},
      {"receipt code too long",
       [](ReportRecord& r) {
         r.receipt_code = std::string(129, 'C');
         r.passphrase_hash = std::string(32, 'p');
       }},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    ReportRecord r = Report(kReport);
    c.mutate(r);
    absl::Status status = Insert(r);
    EXPECT_THAT(status, StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
    // Ids only: never a field's value.
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("Prato")));
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("visto")));
    EXPECT_THAT(std::string(status.message()), Not(HasSubstr("333")));
  }
  EXPECT_EQ(Dump(), before);
  // The longest id whose key owner still fits.
  EXPECT_OK(Insert(Report(std::string(121, 'r'))));
  EXPECT_TRUE(Get(std::string(121, 'r')).has_value());
}

TEST_F(ReportStoreTest, SameIdIsAlreadyExistsAndConflictWhenTheRequestDiffers) {
  ASSERT_OK(Insert(Report(kReport)));
  const std::string before = Dump();
  // The same request again: ALREADY_EXISTS, no conflict; the caller answers
  // with what the first recorded.
  ReportRecord again = Report(kReport, 5);
  absl::Status same = Insert(again);
  EXPECT_THAT(same, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(ReasonOf(same), v1::ERROR_REASON_UNSPECIFIED);
  ReportRecord other = Report(kReport);
  other.request_sha256 = std::string(32, 'b');
  EXPECT_THAT(Insert(other),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
  EXPECT_EQ(Dump(), before);
  EXPECT_EQ(Get(kReport)->recorded_at, kT0);
}

TEST_F(ReportStoreTest, ReceiptCodeIsUniqueAndFindsItsReport) {
  ReportRecord first = Report("first");
  first.receipt_code = "AAAA-BBBB-CCCC";
  first.passphrase_hash = std::string(32, 'h');
  ASSERT_OK(Insert(first));
  const std::string before = Dump();
  ReportRecord second = Report("second");
  second.receipt_code = "AAAA-BBBB-CCCC";
  second.passphrase_hash = std::string(32, 'i');
  absl::Status taken = Insert(second);
  EXPECT_THAT(taken, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(std::string(taken.message()), Not(HasSubstr("AAAA")));
  EXPECT_EQ(Dump(), before);
  second.receipt_code = "DDDD-EEEE-FFFF";
  ASSERT_OK(Insert(second));

  std::optional<ReportRecord> found = ByCode("AAAA-BBBB-CCCC");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->report_id, "first");
  EXPECT_EQ(found->passphrase_hash, std::string(32, 'h'));
  EXPECT_EQ(ByCode("DDDD-EEEE-FFFF")->report_id, "second");
  EXPECT_FALSE(ByCode("AAAA-BBBB-CCCD").has_value());
  // The database refuses a second holder too, not only InsertReport.
  RawDb raw = OpenRaw(path_);
  EXPECT_THAT(Exec(raw.get(),
                   "UPDATE reports SET receipt_code = 'AAAA-BBBB-CCCC' "
                   "WHERE report_id = 'second'"),
              HasSubstr("UNIQUE"));
}

TEST_F(ReportStoreTest, UpdateStoresWhatChangesOnly) {
  ASSERT_OK(Insert(Report(kReport)));
  ReportRecord triaged = Report(kReport);
  triaged.state = v1::REPORT_ROUTED;
  triaged.triage = v1::TRIAGE_QUALIFIED;
  triaged.routed_to = "lombardia";
  triaged.referral_id = "ref-1";
  triaged.updated_at = kT0 + absl::Hours(1);
  // Not changed by an update, whatever the record says.
  triaged.origin_node = "elsewhere";
  triaged.recorded_at = kT0 + absl::Hours(2);
  triaged.sealed = "OTHER";
  triaged.facts.set_province("MI");
  triaged.request_sha256 = std::string(32, 'z');
  ASSERT_OK(Update(triaged));
  Reopen();
  std::optional<ReportRecord> got = Get(kReport);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->state, v1::REPORT_ROUTED);
  EXPECT_EQ(got->triage, v1::TRIAGE_QUALIFIED);
  EXPECT_EQ(got->routed_to, "lombardia");
  EXPECT_EQ(got->referral_id, "ref-1");
  EXPECT_EQ(got->updated_at, kT0 + absl::Hours(1));
  EXPECT_EQ(got->origin_node, "toscana");
  EXPECT_EQ(got->recorded_at, kT0);
  EXPECT_EQ(got->sealed, Report(kReport).sealed);
  EXPECT_EQ(got->facts.province(), "FI");
  EXPECT_EQ(got->request_sha256, std::string(32, 'a'));

  const std::string before = Dump();
  EXPECT_THAT(Update(Report("missing")),
              StatusIsReason(absl::StatusCode::kNotFound, v1::UNKNOWN_REPORT));
  ReportRecord unspecified = triaged;
  unspecified.state = v1::REPORT_STATE_UNSPECIFIED;
  EXPECT_THAT(Update(unspecified),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_EQ(Dump(), before);
}

TEST_F(ReportStoreTest, QueryListsNewestFirstFilteredAndLimited) {
  // minute: a0 0, b1 10, c2 20, d3 20 (tie: by id), e4 30.
  const struct {
    const char* id;
    int minute;
    v1::ReportState state;
  } kRows[] = {{"a0", 0, v1::REPORT_RECEIVED},
               {"b1", 10, v1::REPORT_TRIAGED},
               {"d3", 20, v1::REPORT_ROUTED},
               {"c2", 20, v1::REPORT_RECEIVED},
               {"e4", 30, v1::REPORT_TRIAGED}};
  for (const auto& row : kRows) {
    ReportRecord r = Report(row.id, row.minute);
    r.state = row.state;
    ASSERT_OK(Insert(r));
  }
  auto query = [&](std::vector<v1::ReportState> states, std::optional<int> since,
                   std::optional<int> before, int limit) {
    ReportQuery q;
    q.states = std::move(states);
    if (since.has_value()) q.recorded_since = kT0 + absl::Minutes(*since);
    if (before.has_value()) q.recorded_before = kT0 + absl::Minutes(*before);
    q.limit = limit;
    return IdsOf(store_->QueryReports(q));
  };
  EXPECT_THAT(query({}, {}, {}, 100), ElementsAre("e4", "c2", "d3", "b1", "a0"));
  EXPECT_THAT(query({}, {}, {}, 0), ElementsAre("e4", "c2", "d3", "b1", "a0"));
  EXPECT_THAT(query({}, {}, {}, 2), ElementsAre("e4", "c2"));
  EXPECT_THAT(query({v1::REPORT_RECEIVED}, {}, {}, 100), ElementsAre("c2", "a0"));
  EXPECT_THAT(query({v1::REPORT_TRIAGED, v1::REPORT_ROUTED}, {}, {}, 100),
              ElementsAre("e4", "d3", "b1"));
  EXPECT_THAT(query({v1::REPORT_TRIAGED, v1::REPORT_ROUTED}, {}, {}, 2), ElementsAre("e4", "d3"));
  // Since inclusive, before exclusive.
  EXPECT_THAT(query({}, 10, 30, 100), ElementsAre("c2", "d3", "b1"));
  EXPECT_THAT(query({v1::REPORT_RECEIVED}, 10, 30, 100), ElementsAre("c2"));
  EXPECT_THAT(query({}, 31, {}, 100), IsEmpty());
  // A state no report can be in matches none (not all).
  EXPECT_THAT(query({static_cast<v1::ReportState>(-1)}, {}, {}, 100), IsEmpty());
  EXPECT_THAT(query({v1::REPORT_STATE_UNSPECIFIED}, {}, {}, 100), IsEmpty());

  ReportRecord moved = Report("a0");
  moved.state = v1::REPORT_ROUTED;
  moved.updated_at = kT0 + absl::Hours(5);
  ASSERT_OK(Update(moved));
  Reopen();
  // Listed by when it was recorded, not updated.
  EXPECT_THAT(query({v1::REPORT_ROUTED}, {}, {}, 100), ElementsAre("d3", "a0"));
}

TEST_F(ReportStoreTest, ContactIsKeptApartAndOnce) {
  ASSERT_OK(Insert(Report(kReport)));
  EXPECT_FALSE(Contact(kReport).has_value());
  ASSERT_OK(PutContact(kReport, "SEALED-CONTACT"));
  const std::string before = Dump();
  EXPECT_THAT(PutContact(kReport, "SEALED-OTHER"), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(PutContact("missing", "SEALED-CONTACT"),
              StatusIsReason(absl::StatusCode::kNotFound, v1::UNKNOWN_REPORT));
  EXPECT_THAT(PutContact(kReport, ""),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_EQ(Dump(), before);
  Reopen();
  EXPECT_EQ(Contact(kReport), "SEALED-CONTACT");
  std::optional<ReportRecord> got = Get(kReport);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->has_contact);
  // Apart: not in the reports row.
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(),
                      "SELECT COUNT(*) FROM reports WHERE instr(sealed, "
                      "CAST('SEALED-CONTACT' AS BLOB)) > 0 OR instr(facts, "
                      "CAST('SEALED-CONTACT' AS BLOB)) > 0"),
            "0");
  EXPECT_EQ(QueryText(raw.get(), "SELECT COUNT(*) FROM report_contacts"), "1");
}

TEST_F(ReportStoreTest, EventsAppendInSequenceOnly) {
  ASSERT_OK(Insert(Report(kReport)));
  ASSERT_OK(Insert(Report("other")));
  EXPECT_THAT(Events(kReport), IsEmpty());
  EXPECT_THAT(Append(kReport, 0, "E0"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Append(kReport, 2, "E2"), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK(Append(kReport, 1, "E1"));
  ASSERT_OK(Append("other", 1, "O1"));  // each report counts its own
  const std::string before = Dump();
  struct Case {
    const char* name;
    std::string report_id;
    uint64_t sequence;
    std::string envelope;
    absl::StatusCode code;
  };
  const Case kCases[] = {
      {"repeat", kReport, 1, "E1-again", absl::StatusCode::kFailedPrecondition},
      {"gap", kReport, 3, "E3", absl::StatusCode::kFailedPrecondition},
      {"zero", kReport, 0, "E0", absl::StatusCode::kFailedPrecondition},
      {"unknown report", "missing", 1, "M1", absl::StatusCode::kNotFound},
      {"empty envelope", kReport, 2, "", absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(Append(c.report_id, c.sequence, c.envelope), StatusIs(c.code));
  }
  EXPECT_EQ(Dump(), before);
  ASSERT_OK(Append(kReport, 2, "E2"));
  ASSERT_OK(Append(kReport, 3, "E3"));
  Reopen();
  EXPECT_THAT(Events(kReport), ElementsAre("E1", "E2", "E3"));
  EXPECT_THAT(Events("other"), ElementsAre("O1"));
  EXPECT_THAT(Events("missing"), IsEmpty());
}

TEST_F(ReportStoreTest, ReportEventsAreAppendOnlyInTheDatabase) {
  ASSERT_OK(Insert(Report(kReport)));
  ASSERT_OK(Append(kReport, 1, "E1"));
  store_.reset();
  RawDb raw = OpenRaw(path_);
  EXPECT_THAT(Exec(raw.get(), "UPDATE report_events SET envelope = x'00'"),
              HasSubstr("append-only"));
  EXPECT_THAT(Exec(raw.get(), "DELETE FROM report_events"), HasSubstr("append-only"));
  EXPECT_EQ(QueryText(raw.get(), "SELECT envelope FROM report_events"), "E1");
}

TEST_F(ReportStoreTest, FailedTransactionLeavesNoPartOfAReport) {
  const std::string before = Dump();
  absl::Status status = store_->Transact([&](Txn& txn) -> absl::Status {
    RETURN_IF_ERROR(txn.InsertReport(Report(kReport)));
    RETURN_IF_ERROR(txn.PutReportContact(kReport, "SEALED-CONTACT"));
    RETURN_IF_ERROR(txn.AppendReportEvent(kReport, 1, "E1"));
    return txn.AppendReportEvent(kReport, 3, "E3");  // refused: the whole write is
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Dump(), before);
  EXPECT_FALSE(Get(kReport).has_value());
}

// The broker keeps a report's key under owner "report:<report_id>"; the
// longest id InsertReport takes still fits.
TEST_F(ReportStoreTest, ReportKeyOwnerIsAcceptedByKeyCustody) {
  const std::string owner = absl::StrCat("report:", std::string(121, 'r'));
  const SecretKey key = NewReferralKey();
  ASSERT_OK(store_->Transact([&](Txn& txn) { return txn.PutReferralKey(owner, key); }));
  Reopen();
  std::optional<SecretKey> got;
  ASSERT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(got, txn.GetReferralKey(owner, ReferralKeyId(key)));
    return absl::OkStatus();
  }));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->bytes(), key.bytes());
}

}  // namespace
}  // namespace mir::storage
