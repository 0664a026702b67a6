// Routing on, listing with filters, and partner visibility.

#include "storage/store.h"
#include "tests/storage/storage_test_util.h"
#include "tests/testing/test_env.h"

namespace mir::storage::testing {
namespace {

using ::mir::testing::NewTempDir;
using ::mir::testing::StatusIsReason;

template <typename F>
ReferralQuery Q(F set) {
  ReferralQuery q;
  set(q);
  return q;
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
  ASSERT_OK((*lombardia)->RecordAndEnqueue(Changed("r1", NodeOf("lombardia"), 1, v1::RECEIVED), {}));
  // toscana's next message (its sequence 2) applies directly: the join said 1.
  auto next = (*lombardia)->RecordAndEnqueue(Changed("r1", Operator("toscana"), 2, v1::WITHDRAWN), {});
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

  auto ids = [&](const ReferralQuery& q) {
    std::vector<std::string> out;
    auto records = store->QueryReferrals(q);
    EXPECT_TRUE(records.ok()) << records.status();
    if (records.ok()) {
      for (const auto& r : *records) out.push_back(r.meta.referral_id);
    }
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(ReferralQuery()), (V{"in-1", "out-2", "out-1"}));  // most recently updated first
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.origin_node = "toscana"; })), (V{"out-2", "out-1"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.not_origin_node = "toscana"; })), (V{"in-1"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.states = {v1::RECEIVED}; })), (V{"in-1"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.urgency = v1::URGENCY_EMERGENCY_24H; })), (V{"out-1"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.counterpart_node = "lombardia"; })), (V{"out-2"}));
  EXPECT_EQ(ids(Q([](ReferralQuery& q) { q.updated_since = kT0 + absl::Seconds(30); })), (V{"in-1", "out-2"}));
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

}  // namespace
}  // namespace mir::storage::testing
