// Service requests and the roster in the store (schema v12,
// storage/service_requests.h): insert, get, update and list; idempotency by
// request hash; events appended in sequence only and never changed; roster
// entries added and replaced by code. Real database files; a refused write
// changes nothing, and what was written is there after reopening.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/proto_time.h"
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
using namespace ::mir::storage::testing;  // NOLINT: builders and raw helpers

constexpr char kRequest[] = "5e1f2a3b-0000-4000-8000-000000000001";

// A mediator request made at toscana at kT0 + `minute` minutes, with its
// sealed part as opaque bytes.
ServiceRequestRecord Request(const std::string& id, int minute = 0) {
  ServiceRequestRecord r;
  r.request_id = id;
  r.origin_node = "toscana";
  r.created_at = kT0 + absl::Minutes(minute);
  r.updated_at = r.created_at;
  r.state = v1::SERVICE_REQUESTED;
  r.facts.set_kind(v1::SERVICE_KIND_MEDIATOR);
  r.facts.set_language("pcm");
  r.facts.set_attendance(v1::ATTENDANCE_IN_PERSON);
  r.facts.set_province("FI");
  *r.facts.mutable_window_start() = ToProtoTime(kT0 + absl::Hours(24));
  *r.facts.mutable_window_end() = ToProtoTime(kT0 + absl::Hours(48));
  r.sealed = absl::StrCat("SEALED:", id);
  r.request_sha256 = std::string(32, 'a');
  return r;
}

v1::RosterEntry Mediator(const std::string& code) {
  v1::RosterEntry e;
  e.set_code(code);
  e.set_kind(v1::ROSTER_MEDIATOR);
  e.add_languages("pcm");
  e.add_languages("eng");
  e.add_provinces("FI");
  e.set_available(true);
  return e;
}

std::vector<std::string> IdsOf(const absl::StatusOr<std::vector<ServiceRequestRecord>>& list) {
  std::vector<std::string> ids;
  if (list.ok()) {
    for (const ServiceRequestRecord& r : *list) ids.push_back(r.request_id);
  }
  return ids;
}

class ServiceRequestStoreTest : public ::testing::Test {
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

  absl::Status Insert(const ServiceRequestRecord& r) {
    return store_->Transact([&](Txn& txn) { return txn.InsertServiceRequest(r); });
  }
  absl::Status Update(const ServiceRequestRecord& r) {
    return store_->Transact([&](Txn& txn) { return txn.UpdateServiceRequest(r); });
  }
  absl::Status Append(const std::string& id, uint64_t sequence, const std::string& envelope) {
    return store_->Transact(
        [&](Txn& txn) { return txn.AppendServiceRequestEvent(id, sequence, envelope); });
  }
  absl::Status Put(const v1::RosterEntry& e) {
    return store_->Transact([&](Txn& txn) { return txn.PutRosterEntry(e); });
  }

  std::optional<ServiceRequestRecord> Get(const std::string& id) {
    std::optional<ServiceRequestRecord> out;
    EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(out, txn.GetServiceRequest(id));
      return absl::OkStatus();
    }));
    return out;
  }
  std::vector<std::string> Events(const std::string& id) {
    std::vector<std::string> out;
    EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(out, txn.ServiceRequestEvents(id));
      return absl::OkStatus();
    }));
    return out;
  }
  std::optional<v1::RosterEntry> Entry(const std::string& code) {
    std::optional<v1::RosterEntry> out;
    EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(out, txn.GetRosterEntry(code));
      return absl::OkStatus();
    }));
    return out;
  }

  // Every row of the three tables, to show a refused write left them.
  std::string Dump() {
    RawDb raw = OpenRaw(path_);
    return absl::StrCat(
        QueryText(raw.get(),
                  "SELECT group_concat(request_id || '|' || state || '|' || roster_code || '|' || "
                  "COALESCE(scheduled_at_us, '-') || '|' || outcome || '|' || cancel_reason || "
                  "'|' || updated_at_us || '|' || hex(request_sha256) || '|' || hex(sealed), "
                  "';') FROM service_requests"),
        "/",
        QueryText(raw.get(),
                  "SELECT group_concat(request_id || sequence || hex(envelope), ';') "
                  "FROM service_request_events"),
        "/", QueryText(raw.get(), "SELECT group_concat(code || hex(entry), ';') FROM roster"));
  }

  std::string path_;
  FakeClock clock_{kT0};
  KeyEncryptionKey kek_ = TestKek();
  std::unique_ptr<Store> store_;
};

TEST_F(ServiceRequestStoreTest, InsertedRequestReadsBackWholeAndAfterReopening) {
  const ServiceRequestRecord request = Request(kRequest);
  ASSERT_OK(Insert(request));
  Reopen();
  std::optional<ServiceRequestRecord> got = Get(kRequest);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->origin_node, "toscana");
  EXPECT_EQ(got->created_at, request.created_at);
  EXPECT_EQ(got->state, v1::SERVICE_REQUESTED);
  EXPECT_EQ(got->facts.SerializeAsString(), request.facts.SerializeAsString());
  EXPECT_EQ(got->sealed, request.sealed);
  EXPECT_EQ(got->request_sha256, request.request_sha256);
  EXPECT_FALSE(got->scheduled_at.has_value());
  EXPECT_TRUE(got->roster_code.empty());
  EXPECT_FALSE(Get("missing").has_value());
}

TEST_F(ServiceRequestStoreTest, InsertRefusesBadRecordsAndChangesNothing) {
  const std::string before = Dump();
  struct Case {
    const char* name;
    std::function<void(ServiceRequestRecord&)> spoil;
  };
  const std::vector<Case> cases = {
      {"empty id", [](auto& r) { r.request_id.clear(); }},
      // "service:" + 121 bytes would not fit a key owner of 128.
      {"id too long", [](auto& r) { r.request_id = std::string(121, 'x'); }},
      {"no origin", [](auto& r) { r.origin_node.clear(); }},
      {"no state", [](auto& r) { r.state = v1::SERVICE_REQUEST_STATE_UNSPECIFIED; }},
      {"unknown state", [](auto& r) { r.state = static_cast<v1::ServiceRequestState>(99); }},
      {"unknown outcome", [](auto& r) { r.outcome = static_cast<v1::ServiceOutcome>(99); }},
      {"requester in clear", [](auto& r) { r.facts.set_requester("Commissione"); }},
      {"notes in clear", [](auto& r) { r.facts.set_notes("n"); }},
      {"long roster code", [](auto& r) { r.roster_code = std::string(33, 'M'); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ServiceRequestRecord r = Request(kRequest);
    c.spoil(r);
    EXPECT_THAT(Insert(r), StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  }
  EXPECT_EQ(Dump(), before);
  ServiceRequestRecord longest = Request(std::string(120, 'x'));
  EXPECT_OK(Insert(longest));
}

TEST_F(ServiceRequestStoreTest, SameIdIsAlreadyExistsAndConflictWhenTheCallDiffers) {
  ASSERT_OK(Insert(Request(kRequest)));
  const std::string before = Dump();
  ServiceRequestRecord same = Request(kRequest);
  same.sealed = "OTHER-SEALED";  // the caller answers what was first created
  EXPECT_THAT(Insert(same), StatusIs(absl::StatusCode::kAlreadyExists));
  ServiceRequestRecord other = Request(kRequest);
  other.request_sha256 = std::string(32, 'b');
  EXPECT_THAT(Insert(other),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
  EXPECT_EQ(Dump(), before);
}

TEST_F(ServiceRequestStoreTest, UpdateStoresWhatChangesOnly) {
  ASSERT_OK(Insert(Request(kRequest)));
  ServiceRequestRecord changed = Request(kRequest);
  changed.state = v1::SERVICE_SCHEDULED;
  changed.roster_code = "MED-0007";
  changed.scheduled_at = kT0 + absl::Hours(30);
  changed.updated_at = kT0 + absl::Minutes(5);
  changed.facts.set_province("PO");  // ignored
  changed.sealed = "IGNORED";
  ASSERT_OK(Update(changed));
  Reopen();
  std::optional<ServiceRequestRecord> got = Get(kRequest);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->state, v1::SERVICE_SCHEDULED);
  EXPECT_EQ(got->roster_code, "MED-0007");
  EXPECT_EQ(got->scheduled_at, kT0 + absl::Hours(30));
  EXPECT_EQ(got->updated_at, kT0 + absl::Minutes(5));
  EXPECT_EQ(got->facts.province(), "FI");
  EXPECT_EQ(got->sealed, Request(kRequest).sealed);

  const std::string before = Dump();
  EXPECT_THAT(Update(Request("missing")),
              StatusIsReason(absl::StatusCode::kNotFound, v1::UNKNOWN_SERVICE_REQUEST));
  ServiceRequestRecord bad = changed;
  bad.state = v1::SERVICE_REQUEST_STATE_UNSPECIFIED;
  EXPECT_THAT(Update(bad), StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_EQ(Dump(), before);
}

TEST_F(ServiceRequestStoreTest, QueryListsNewestFirstFilteredAndLimited) {
  ASSERT_OK(Insert(Request("a", 1)));
  ASSERT_OK(Insert(Request("b", 2)));
  ServiceRequestRecord c = Request("c", 3);
  c.state = v1::SERVICE_CANCELLED;
  c.cancel_reason = v1::CANCEL_NO_LONGER_NEEDED;
  ASSERT_OK(Insert(c));
  EXPECT_THAT(IdsOf(store_->QueryServiceRequests({})), ElementsAre("c", "b", "a"));
  ServiceRequestQuery open;
  open.states = {v1::SERVICE_REQUESTED};
  EXPECT_THAT(IdsOf(store_->QueryServiceRequests(open)), ElementsAre("b", "a"));
  ServiceRequestQuery one;
  one.limit = 1;
  EXPECT_THAT(IdsOf(store_->QueryServiceRequests(one)), ElementsAre("c"));
  ServiceRequestQuery none;
  none.states = {static_cast<v1::ServiceRequestState>(-1)};
  EXPECT_THAT(IdsOf(store_->QueryServiceRequests(none)), IsEmpty());
}

TEST_F(ServiceRequestStoreTest, EventsAppendInSequenceOnly) {
  ASSERT_OK(Insert(Request(kRequest)));
  ASSERT_OK(Insert(Request("other")));
  ASSERT_OK(Append(kRequest, 1, "E1"));
  ASSERT_OK(Append("other", 1, "O1"));  // each request counts its own
  const std::string before = Dump();
  struct Case {
    const char* name;
    std::string request_id;
    uint64_t sequence;
    std::string envelope;
    absl::StatusCode code;
  };
  const Case kCases[] = {
      {"repeat", kRequest, 1, "E1-again", absl::StatusCode::kFailedPrecondition},
      {"gap", kRequest, 3, "E3", absl::StatusCode::kFailedPrecondition},
      {"zero", kRequest, 0, "E0", absl::StatusCode::kFailedPrecondition},
      {"unknown request", "missing", 1, "M1", absl::StatusCode::kNotFound},
      {"empty envelope", kRequest, 2, "", absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(Append(c.request_id, c.sequence, c.envelope), StatusIs(c.code));
  }
  EXPECT_EQ(Dump(), before);
  ASSERT_OK(Append(kRequest, 2, "E2"));
  Reopen();
  EXPECT_THAT(Events(kRequest), ElementsAre("E1", "E2"));
  EXPECT_THAT(Events("other"), ElementsAre("O1"));
  EXPECT_THAT(Events("missing"), IsEmpty());
}

TEST_F(ServiceRequestStoreTest, EventsAreAppendOnlyInTheDatabase) {
  ASSERT_OK(Insert(Request(kRequest)));
  ASSERT_OK(Append(kRequest, 1, "E1"));
  store_.reset();
  RawDb raw = OpenRaw(path_);
  EXPECT_THAT(Exec(raw.get(), "UPDATE service_request_events SET envelope = x'00'"),
              HasSubstr("append-only"));
  EXPECT_THAT(Exec(raw.get(), "DELETE FROM service_request_events"), HasSubstr("append-only"));
  EXPECT_EQ(QueryText(raw.get(), "SELECT envelope FROM service_request_events"), "E1");
}

TEST_F(ServiceRequestStoreTest, FailedTransactionLeavesNoPartOfARequest) {
  const std::string before = Dump();
  absl::Status status = store_->Transact([&](Txn& txn) -> absl::Status {
    RETURN_IF_ERROR(txn.InsertServiceRequest(Request(kRequest)));
    RETURN_IF_ERROR(txn.AppendServiceRequestEvent(kRequest, 1, "E1"));
    return txn.AppendServiceRequestEvent(kRequest, 3, "E3");  // refused: the whole write is
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(Dump(), before);
  EXPECT_FALSE(Get(kRequest).has_value());
}

TEST_F(ServiceRequestStoreTest, RosterEntriesAreAddedAndReplacedByCode) {
  ASSERT_OK(Put(Mediator("MED-0007")));
  ASSERT_OK(Put(Mediator("MED-0002")));
  v1::RosterEntry away = Mediator("MED-0007");
  away.set_available(false);
  ASSERT_OK(Put(away));
  const std::string before = Dump();
  EXPECT_THAT(Put(Mediator("")),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_THAT(Put(Mediator(std::string(33, 'M'))),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_EQ(Dump(), before);
  Reopen();
  std::optional<v1::RosterEntry> got = Entry("MED-0007");
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->available());
  EXPECT_THAT(got->languages(), ElementsAre("pcm", "eng"));
  EXPECT_FALSE(Entry("MED-9999").has_value());
  absl::StatusOr<std::vector<v1::RosterEntry>> roster = store_->Roster();
  ASSERT_OK(roster);
  ASSERT_EQ(roster->size(), 2u);
  EXPECT_EQ((*roster)[0].code(), "MED-0002");
  EXPECT_EQ((*roster)[1].code(), "MED-0007");
}

// The broker keeps a request's key under owner "service:<request_id>"; the
// longest id InsertServiceRequest takes still fits.
TEST_F(ServiceRequestStoreTest, RequestKeyOwnerIsAcceptedByKeyCustody) {
  const std::string owner = absl::StrCat("service:", std::string(120, 'r'));
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
