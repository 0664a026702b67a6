#include "broker/work_pool.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace mir::broker {
namespace {

TEST(WorkPoolTest, RunsWorkConcurrentlyUpToItsThreads) {
  constexpr int kThreads = 8;
  WorkPool pool(kThreads, 100);
  // Each task waits until all have started: only possible if they run at once.
  std::atomic<int> started{0};
  absl::Notification all_started;
  std::atomic<int> finished{0};
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(pool.Post([&] {
      if (++started == kThreads) all_started.Notify();
      all_started.WaitForNotification();
      ++finished;
    }));
  }
  EXPECT_TRUE(all_started.WaitForNotificationWithTimeout(absl::Seconds(30)));
  pool.Stop();
  EXPECT_EQ(finished.load(), kThreads);
}

TEST(WorkPoolTest, StopRunsEverythingPostedBefore) {
  std::atomic<int> ran{0};
  WorkPool pool(2, 1000);
  absl::Notification gate;
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(pool.Post([&] {
      gate.WaitForNotification();
      ++ran;
    }));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(pool.Post([&] { ++ran; }));  // behind the gate
  std::thread stopper([&] { pool.Stop(); });
  gate.Notify();
  stopper.join();
  EXPECT_EQ(ran.load(), 102);
}

TEST(WorkPoolTest, WorkPostedAfterStopRunsOnTheCallersThread) {
  WorkPool pool(1, 10);
  pool.Stop();
  std::thread::id ran_on;
  EXPECT_TRUE(pool.Post([&] { ran_on = std::this_thread::get_id(); }));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

// Under overload the queue does not grow: a post beyond `max_queued`
// waiting ones is refused at once and not run; what was accepted still runs.
TEST(WorkPoolTest, APostBeyondTheQueueBoundIsRefusedAndNotRun) {
  WorkPool pool(1, 3);
  absl::Notification busy, gate;
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.Post([&] {
    busy.Notify();
    gate.WaitForNotification();
    ++ran;
  }));
  busy.WaitForNotification();  // the one thread is taken: posts now queue
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.Post([&] { ++ran; }));
  bool refused_ran = false;
  EXPECT_FALSE(pool.Post([&] { refused_ran = true; }));
  gate.Notify();
  pool.Stop();
  EXPECT_EQ(ran.load(), 4);
  EXPECT_FALSE(refused_ran);
  EXPECT_EQ(ReasonOf(NodeBusy()), v1::NODE_BUSY);
  EXPECT_EQ(NodeBusy().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace mir::broker
