#include "broker/work_pool.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace mir::broker {
namespace {

TEST(WorkPoolTest, RunsWorkConcurrentlyUpToItsThreads) {
  constexpr int kThreads = 8;
  WorkPool pool(kThreads);
  // Each task waits until all have started: only possible if they run at once.
  std::atomic<int> started{0};
  absl::Notification all_started;
  std::atomic<int> finished{0};
  for (int i = 0; i < kThreads; ++i) {
    pool.Post([&] {
      if (++started == kThreads) all_started.Notify();
      all_started.WaitForNotification();
      ++finished;
    });
  }
  EXPECT_TRUE(all_started.WaitForNotificationWithTimeout(absl::Seconds(30)));
  pool.Stop();
  EXPECT_EQ(finished.load(), kThreads);
}

TEST(WorkPoolTest, StopRunsEverythingPostedBefore) {
  std::atomic<int> ran{0};
  WorkPool pool(2);
  absl::Notification gate;
  for (int i = 0; i < 2; ++i) pool.Post([&] { gate.WaitForNotification(); ++ran; });
  for (int i = 0; i < 100; ++i) pool.Post([&] { ++ran; });  // queued behind the gate
  std::thread stopper([&] { pool.Stop(); });
  gate.Notify();
  stopper.join();
  EXPECT_EQ(ran.load(), 102);
}

TEST(WorkPoolTest, WorkPostedAfterStopRunsOnTheCallersThread) {
  WorkPool pool(1);
  pool.Stop();
  std::thread::id ran_on;
  pool.Post([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace mir::broker
