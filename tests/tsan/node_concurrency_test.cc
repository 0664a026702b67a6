// The node's core shared by threads, without gRPC, for ThreadSanitizer
// (scripts/test-tsan.sh; built only there): operators submit at toscana from
// several threads while event listeners come and go, then two threads
// deliver every envelope to nvn at once, in opposite orders, one by Deliver
// and one by DeliverBatch. Each envelope
// takes effect once and each applied event is published once.
#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "broker/node.h"
#include "common/clock.h"
#include "crypto/envelope_bytes.h"
#include "tests/broker/network.h"

namespace mir::testing {
namespace {

TEST(NodeConcurrencyTest, SubmitDeliverAndListenersFromManyThreads) {
  constexpr int kSubmitters = 4;
  constexpr int kPerSubmitter = 10;
  constexpr int kReferrals = kSubmitters * kPerSubmitter;
  const std::string dir = NewTempDir();
  broker::BrokerOptions toscana_options = NodeOptions("toscana", FreePort(), dir);
  broker::BrokerOptions nvn_options = NodeOptions("nvn", FreePort(), dir);
  toscana_options.peers = {{"nvn", Address(FreePort())}};
  toscana_options.routes = {{"*", "nvn"}};
  nvn_options.peers = {{"toscana", Address(FreePort())}};
  auto toscana = broker::Node::Create(toscana_options, RealClock::Get());
  auto nvn = broker::Node::Create(nvn_options, RealClock::Get());
  ASSERT_OK(toscana);
  ASSERT_OK(nvn);

  std::atomic<int> published_at_toscana{0};
  (*toscana)->AddEventListener(
      [&](const std::vector<storage::Event>& events) { published_at_toscana += events.size(); });
  std::atomic<bool> submitting{true};
  std::thread churn([&] {
    while (submitting.load()) {
      const int handle = (*toscana)->AddEventListener([](const std::vector<storage::Event>&) {});
      (*toscana)->RemoveEventListener(handle);
      // Idle between changes, so that commits publish between them, not only
      // while this thread holds the lock: TSan sees the accesses it orders.
      absl::SleepFor(absl::Microseconds(200));
    }
  });
  std::vector<std::thread> submitters;
  for (int s = 0; s < kSubmitters; ++s) {
    submitters.emplace_back([&] {
      auto op = PkiSigner("toscana/operator");
      for (int i = 0; i < kPerSubmitter; ++i) {
        const std::string id = NewUuid();
        EXPECT_OK(
            (*toscana)->Submit(op->identity(), SignReferral(*op, id, "nvn"), TestReferralKey(id)));
      }
    });
  }
  for (std::thread& t : submitters) t.join();
  submitting.store(false);
  churn.join();

  auto queued = (*toscana)->store().ListOutbox(storage::OutboxState::kPending, 0);
  ASSERT_OK(queued);
  ASSERT_EQ(queued->size(), static_cast<size_t>(kReferrals));
  auto referrals_at_toscana = (*toscana)->store().ListReferrals(0);
  ASSERT_OK(referrals_at_toscana);
  EXPECT_EQ(published_at_toscana.load(), kReferrals);

  std::atomic<int> published_at_nvn{0};
  (*nvn)->AddEventListener(
      [&](const std::vector<storage::Event>& events) { published_at_nvn += events.size(); });
  const Identity peer = (*toscana)->signer()->identity();
  std::vector<storage::OutboxEntry> backwards(queued->rbegin(), queued->rend());
  // One by one in queue order, and in batches of 8 backwards.
  std::thread one_by_one([&] {
    for (const storage::OutboxEntry& entry : *queued) {
      EXPECT_OK((*nvn)->Deliver(peer, entry.envelope)) << entry.message_id;
    }
  });
  std::thread in_batches([&] {
    for (size_t start = 0; start < backwards.size(); start += 8) {
      std::vector<std::string> batch;
      for (size_t i = start; i < std::min(start + 8, backwards.size()); ++i) {
        batch.push_back(backwards[i].envelope);
      }
      auto delivered = (*nvn)->DeliverBatch(peer, batch);
      ASSERT_OK(delivered);
      EXPECT_TRUE(delivered->refused.empty());
    }
  });
  one_by_one.join();
  in_batches.join();

  auto referrals = (*nvn)->store().ListReferrals(0);
  ASSERT_OK(referrals);
  EXPECT_EQ(referrals->size(), static_cast<size_t>(kReferrals));
  int events_at_nvn = 0;
  for (const auto& referral : *referrals) {
    auto timeline = (*nvn)->store().Timeline(referral.meta.referral_id);
    ASSERT_OK(timeline);
    events_at_nvn += static_cast<int>(timeline->size());
  }
  EXPECT_GE(events_at_nvn, kReferrals);
  EXPECT_EQ(published_at_nvn.load(), events_at_nvn);
  auto chain = (*nvn)->store().VerifyAuditChain();
  ASSERT_OK(chain);
  EXPECT_TRUE(chain->ok) << chain->problem;
}

}  // namespace
}  // namespace mir::testing
