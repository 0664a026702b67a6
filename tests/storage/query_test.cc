// Routing on, listing with filters, and partner visibility.

#include <algorithm>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "storage/store.h"
#include "storage/store_internal.h"
#include "tests/storage/storage_test_util.h"
#include "tests/testing/test_env.h"

namespace mir::storage::testing {
namespace {

using ::mir::testing::NewTempDir;
using ::mir::testing::StatusIsReason;
using ::testing::HasSubstr;
using ::testing::Not;

template <typename F>
ReferralQuery Q(F set) {
  ReferralQuery q;
  set(q);
  return q;
}

// The ids QueryReferrals lists for `q`, in its order.
std::vector<std::string> IdsListed(Store& store, const ReferralQuery& q) {
  std::vector<std::string> out;
  auto records = store.QueryReferrals(q);
  EXPECT_TRUE(records.ok()) << records.status();
  if (records.ok()) {
    for (const auto& r : *records) out.push_back(r.meta.referral_id);
  }
  return out;
}

class QueryTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open() {
    StoreOptions options;
    options.path = dir_ + "/node.db";
    auto store = Store::Open(options, &clock_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string dir_ = NewTempDir();
  FakeClock clock_{kT0};
};

TEST_F(QueryTest, RoutingOnMovesTheDestinationAndAJoiningNodeStartsMidStream) {
  // At nvn: toscana's referral, received and evaluated, then routed on.
  auto nvn = Open();
  ASSERT_OK(nvn->RecordAndEnqueue(Submitted("r1", "toscana", "nvn"), {}));
  ASSERT_OK(nvn->RecordAndEnqueue(Changed("r1", NodeOf("nvn"), 1, v1::RECEIVED), {}));
  ASSERT_OK(nvn->RecordAndEnqueue(Changed("r1", Operator("nvn"), 2, v1::UNDER_EVALUATION), {}));
  Event routed = Changed("r1", Operator("nvn"), 3, v1::SUBMITTED);
  routed.referral = ReferralMeta{"r1", "toscana", "lombardia", v1::URGENCY_URGENT, std::nullopt};
  routed.referral_envelope = "ORIGINAL-REFERRAL-ENVELOPE";
  routed.join_streams = {{"nvn", 2}, {"toscana", 1}};
  ASSERT_OK(nvn->RecordAndEnqueue(routed, {}));
  auto at_nvn = nvn->GetReferral("r1");
  ASSERT_OK(at_nvn);
  EXPECT_EQ((*at_nvn)->meta.destination_node, "lombardia");
  EXPECT_EQ((*at_nvn)->state, v1::SUBMITTED);

  // At lombardia, which never saw the referral: the routed event creates it,
  // keeps the original envelope, and nvn's stream continues from 3.
  StoreOptions other;
  other.path = dir_ + "/lombardia.db";
  auto lombardia = Store::Open(other, &clock_);
  ASSERT_OK(lombardia);
  auto applied = (*lombardia)->RecordAndEnqueue(routed, {});
  ASSERT_OK(applied);
  EXPECT_EQ(applied->outcome, ApplyOutcome::kApplied);
  auto created = (*lombardia)->GetReferral("r1");
  ASSERT_OK(created);
  ASSERT_TRUE(created->has_value());
  EXPECT_EQ((*created)->meta.origin_node, "toscana");
  EXPECT_EQ((*created)->meta.destination_node, "lombardia");
  EXPECT_EQ((*created)->referral_envelope, "ORIGINAL-REFERRAL-ENVELOPE");
  ASSERT_OK(
      (*lombardia)->RecordAndEnqueue(Changed("r1", NodeOf("lombardia"), 1, v1::RECEIVED), {}));
  // toscana's next message (its sequence 2) applies directly: the join said 1.
  auto next =
      (*lombardia)->RecordAndEnqueue(Changed("r1", Operator("toscana"), 2, v1::WITHDRAWN), {});
  ASSERT_OK(next);
  EXPECT_EQ(next->outcome, ApplyOutcome::kApplied);
}

TEST_F(QueryTest, FiltersByDirectionStateUrgencyCounterpartAndTime) {
  auto store = Open();
  auto submit = [&](const std::string& id, const std::string& origin, const std::string& dest,
                    v1::Urgency urgency) {
    Event e = Submitted(id, origin, dest, clock_.Now());
    e.referral->urgency = urgency;
    ASSERT_OK(store->RecordAndEnqueue(e, {}));
    clock_.Advance(absl::Minutes(1));
  };
  submit("out-1", "toscana", "nvn", v1::URGENCY_EMERGENCY_24H);
  submit("out-2", "toscana", "lombardia", v1::URGENCY_ORDINARY);
  submit("in-1", "veneto", "toscana", v1::URGENCY_URGENT);
  ASSERT_OK(store->RecordAndEnqueue(
      Changed("in-1", NodeOf("toscana"), 1, v1::RECEIVED, clock_.Now()), {}));

  auto ids = [&](const ReferralQuery& q) { return IdsListed(*store, q); };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(ReferralQuery()), (V{"in-1", "out-2", "out-1"}));  // most recently updated first
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.origin_node = "toscana"; })), (V{"out-2", "out-1"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.not_origin_node = "toscana"; })), (V{"in-1"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.states = {v1::RECEIVED}; })), (V{"in-1"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.urgency = v1::URGENCY_EMERGENCY_24H; })), (V{"out-1"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.counterpart_node = "lombardia"; })), (V{"out-2"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.updated_since = kT0 + absl::Seconds(30); })),
            (V{"in-1", "out-2"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.limit = 1; })), (V{"in-1"}));
}

TEST_F(QueryTest, PartnersSeeOnlyWhatWasCirculatedToThem) {
  auto store = Open();
  ASSERT_OK(store->RecordAndEnqueue(Submitted("a", "veneto", "toscana"), {}));
  ASSERT_OK(store->RecordAndEnqueue(Submitted("b", "veneto", "toscana"), {}));
  const std::string casa = "mir://toscana/partner/casa";
  ASSERT_OK(store->Transact([&](Txn& txn) { return txn.GrantPartnerAccess("a", casa); }));
  ASSERT_OK(store->Transact([&](Txn& txn) { return txn.GrantPartnerAccess("a", casa); }));
  EXPECT_TRUE(*store->PartnerHasAccess("a", casa));
  EXPECT_FALSE(*store->PartnerHasAccess("b", casa));
  EXPECT_FALSE(*store->PartnerHasAccess("a", "mir://toscana/partner/other"));
  auto visible = store->QueryReferrals(Q([&](ReferralQuery& q) { q.partner = casa; }));
  ASSERT_OK(visible);
  ASSERT_EQ(visible->size(), 1u);
  EXPECT_EQ((*visible)[0].meta.referral_id, "a");
  // Access to an unknown referral is refused by the foreign key.
  EXPECT_FALSE(store->Transact([&](Txn& txn) { return txn.GrantPartnerAccess("zzz", casa); }).ok());
}

// Filtered lists against a brute-force filter of every row: states (several,
// repeated, unknown), every other filter, limits, and the order with many
// ties on updated_at_us (broken by referral_id). Rows are written by raw SQL
// so that states, times and ties are spread at will.
TEST_F(QueryTest, FilteredListsEqualABruteForceFilterOfAllRows) {
  Open().reset();  // the schema
  const std::string path = dir_ + "/node.db";
  const std::vector<std::string> nodes = {"toscana", "veneto", "lombardia", "nvn"};
  const std::vector<std::string> partners = {"mir://toscana/partner/casa",
                                             "mir://toscana/partner/rifugio"};
  struct Row {
    std::string id, origin, destination;
    int64_t urgency, state, updated;
    std::set<std::string> partners;
  };
  std::vector<Row> rows;
  std::mt19937 rng(7);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  {
    RawDb raw = OpenRaw(path);
    ASSERT_EQ(Exec(raw.get(), "BEGIN"), "");
    for (int i = 0; i < 1500; ++i) {
      Row r;
      // Ids not in time order, so the tie-break is visible.
      r.id = absl::StrCat("ref-", (i * 7919) % 1500);
      r.origin = nodes[pick(4)];
      do r.destination = nodes[pick(4)];
      while (r.destination == r.origin);
      r.urgency = 1 + pick(3);
      // Skewed: state 3 common, 4 and 5 rare, the rest in between.
      const int dice = pick(100);
      r.state = dice < 60 ? 3 : dice < 62 ? 4 : dice < 63 ? 5 : 1 + pick(12);
      r.updated = 1'700'000'000'000'000 + pick(300) * 1000;  // ~5 rows per value
      for (const std::string& p : partners) {
        if (pick(4) == 0) r.partners.insert(p);
      }
      ASSERT_EQ(
          Exec(raw.get(),
               absl::StrCat("INSERT INTO referrals (referral_id, origin_node, "
                            "destination_node, urgency, ack_deadline_us, state, "
                            "created_at_us, updated_at_us, referral_envelope) VALUES ('",
                            r.id, "', '", r.origin, "', '", r.destination, "', ", r.urgency,
                            ", NULL, ", r.state, ", ", r.updated, ", ", r.updated, ", x'00')")),
          "");
      for (const std::string& p : r.partners) {
        ASSERT_EQ(Exec(raw.get(), absl::StrCat("INSERT INTO partner_access VALUES ('", r.id, "', '",
                                               p, "', 0)")),
                  "");
      }
      rows.push_back(std::move(r));
    }
    ASSERT_EQ(Exec(raw.get(), "COMMIT"), "");
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.updated != b.updated ? a.updated > b.updated : a.id < b.id;
  });
  auto store = Open();
  ASSERT_NE(store, nullptr);

  for (int round = 0; round < 400; ++round) {
    ReferralQuery q;
    const int n_states = pick(5);
    for (int i = 0; i < n_states; ++i) {
      // Mostly the skewed ones; sometimes 0 or 13 (no row has them).
      const int choice = pick(10);
      q.states.push_back(static_cast<v1::ReferralState>(choice < 3   ? 3
                                                        : choice < 6 ? 4
                                                        : choice < 8 ? 5
                                                        : choice < 9 ? 1 + pick(12)
                                                                     : 13 * pick(2)));
    }
    if (pick(4) == 0) q.origin_node = nodes[pick(4)];
    if (pick(5) == 0) q.not_origin_node = nodes[pick(4)];
    if (pick(5) == 0) q.counterpart_node = nodes[pick(4)];
    if (pick(5) == 0) q.urgency = static_cast<v1::Urgency>(1 + pick(3));
    if (pick(4) == 0)
      q.updated_since = absl::FromUnixMicros(1'700'000'000'000'000 + pick(300) * 1000);
    if (pick(5) == 0) q.partner = partners[pick(2)];
    const int limits[] = {0, 1, 3, 10, 100, 5000};
    q.limit = limits[pick(6)];

    std::vector<std::string> want;
    for (const Row& r : rows) {
      if (!q.states.empty() &&
          std::find(q.states.begin(), q.states.end(), r.state) == q.states.end())
        continue;
      if (!q.origin_node.empty() && r.origin != q.origin_node) continue;
      if (!q.not_origin_node.empty() && r.origin == q.not_origin_node) continue;
      if (!q.counterpart_node.empty() && r.origin != q.counterpart_node &&
          r.destination != q.counterpart_node)
        continue;
      if (q.urgency != v1::URGENCY_UNSPECIFIED && r.urgency != q.urgency) continue;
      if (q.updated_since.has_value() && r.updated < absl::ToUnixMicros(*q.updated_since)) continue;
      if (!q.partner.empty() && r.partners.count(q.partner) == 0) continue;
      want.push_back(r.id);
      if (q.limit > 0 && want.size() == static_cast<size_t>(q.limit)) break;
    }
    auto got = store->QueryReferrals(q);
    ASSERT_OK(got);
    std::vector<std::string> got_ids;
    for (const ReferralRecord& r : *got) got_ids.push_back(r.meta.referral_id);
    std::string states;
    for (v1::ReferralState st : q.states) absl::StrAppend(&states, st, " ");
    ASSERT_EQ(got_ids, want) << "round " << round << ": states [" << states << "] limit " << q.limit
                             << " origin " << q.origin_node << " not origin " << q.not_origin_node
                             << " counterpart " << q.counterpart_node << " urgency " << q.urgency
                             << " partner " << q.partner;
  }
}

// The same multi-state list once a referral moves between two of the listed
// states: it appears once, at its new place.
TEST_F(QueryTest, MultiStateListFollowsTheProjection) {
  auto store = Open();
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(store->RecordAndEnqueue(
        Submitted(absl::StrCat("r", i), "toscana", "lombardia", kT0 + absl::Seconds(i)), {}));
  }
  ASSERT_OK(store->RecordAndEnqueue(
      Changed("r1", NodeOf("lombardia"), 1, v1::RECEIVED, kT0 + absl::Seconds(10)), {}));
  auto ids = [&](std::vector<v1::ReferralState> states, int limit) {
    ReferralQuery q;
    q.states = std::move(states);
    q.limit = limit;
    return IdsListed(*store, q);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids({v1::SUBMITTED, v1::RECEIVED}, 0), (V{"r1", "r3", "r2", "r0"}));
  EXPECT_EQ(ids({v1::RECEIVED, v1::SUBMITTED, v1::RECEIVED}, 2), (V{"r1", "r3"}));
  EXPECT_EQ(ids({v1::SUBMITTED}, 0), (V{"r3", "r2", "r0"}));
  EXPECT_EQ(ids({v1::RECEIVED}, 0), (V{"r1"}));
  EXPECT_EQ(ids({v1::WITHDRAWN, v1::CLOSED_POSITIVE}, 0), V{});
}

// A list over several states reads in one snapshot; the next read must see
// what was committed after it (the read transaction is closed, not kept).
TEST_F(QueryTest, ListsSeeCommitsMadeAfterAMultiStateList) {
  auto store = Open();
  ASSERT_OK(store->RecordAndEnqueue(Submitted("r0", "toscana", "lombardia", kT0), {}));
  for (int k = 0; k < 3; ++k) {
    ReferralQuery several;
    several.states = {v1::SUBMITTED, v1::RECEIVED};
    several.limit = 100;
    ASSERT_OK(store->QueryReferrals(several));
    const std::string id = absl::StrCat("later", k);
    ASSERT_OK(store->RecordAndEnqueue(
        Submitted(id, "toscana", "lombardia", kT0 + absl::Seconds(1 + k)), {}));
    ReferralQuery one;
    one.states = {v1::SUBMITTED};
    auto listed = store->QueryReferrals(one);
    ASSERT_OK(listed);
    ASSERT_FALSE(listed->empty());
    EXPECT_EQ(listed->front().meta.referral_id, id);
    auto all = store->QueryReferrals(ReferralQuery());
    ASSERT_OK(all);
    EXPECT_EQ(all->size(), static_cast<size_t>(k + 2));
  }
}

// A state filter walks referrals_by_state_recent from the newest entry of
// the state, bounded by the time filter: no scan of referrals, no sort.
// (The SQL is the store's own, from store_internal.h.)
TEST_F(QueryTest, StateFilterWalksTheStateIndexInListOrder) {
  Open().reset();
  RawDb raw = OpenRaw(dir_ + "/node.db");
  for (const char* sql : {kReferralsInStateSql, kReferralKeysInStateSql}) {
    SCOPED_TRACE(sql);
    const std::string plan = PlanOf(raw.get(), sql);
    EXPECT_THAT(plan, HasSubstr("SEARCH referrals USING "));
    EXPECT_THAT(plan, HasSubstr("INDEX referrals_by_state_recent (state=? AND updated_at_us>?)"));
    EXPECT_THAT(plan, Not(HasSubstr("SCAN referrals")));
    EXPECT_THAT(plan, Not(HasSubstr("TEMP B-TREE")));
  }
}

}  // namespace
}  // namespace mir::storage::testing
