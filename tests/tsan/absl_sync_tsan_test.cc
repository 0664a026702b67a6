// Shows that ThreadSanitizer, with tests/tsan/absl_sync_tsan.cc, sees
// Debian's absl::Mutex synchronize (each test here is reported as a race
// without it) and still sees a race (the disabled test, which CTest runs on
// its own and expects TSan to report: tsan_shim_sees_a_race). Built and run
// only by scripts/test-tsan.sh.
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace {

TEST(AbslSyncTsanTest, CounterUnderMutexLock) {
  absl::Mutex mu;
  int counter = 0;  // under mu
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        absl::MutexLock lock(&mu);
        ++counter;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(counter, 4000);
}

TEST(AbslSyncTsanTest, QueueHandedOverThroughAwait) {
  absl::Mutex mu;
  std::deque<std::string> queue;  // under mu
  bool done = false;              // under mu
  std::string received;           // the consumer's alone until joined
  std::thread consumer([&] {
    while (true) {
      absl::MutexLock lock(&mu);
      auto ready = [&] { return done || !queue.empty(); };
      mu.Await(absl::Condition(&ready));
      if (queue.empty()) return;
      received += queue.front();
      queue.pop_front();
    }
  });
  for (int i = 0; i < 100; ++i) {
    std::string item(1, static_cast<char>('a' + i % 26));  // written before the lock
    absl::MutexLock lock(&mu);
    queue.push_back(std::move(item));
  }
  {
    absl::MutexLock lock(&mu);
    done = true;
  }
  consumer.join();
  EXPECT_EQ(received.size(), 100u);
}

TEST(AbslSyncTsanTest, CondVarWaitAndLockWhenWithTimeout) {
  absl::Mutex mu;
  absl::CondVar cv;
  bool ready = false;   // under mu
  std::string payload;  // published under mu
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    while (!ready) cv.Wait(&mu);
    payload += "!";
  });
  {
    absl::MutexLock lock(&mu);
    payload = "hello";
    ready = true;
    cv.Signal();
  }
  waiter.join();
  ASSERT_TRUE(mu.LockWhenWithTimeout(absl::Condition(&ready), absl::Seconds(10)));
  payload += "?";
  mu.Unlock();
  EXPECT_EQ(payload, "hello!?");
}

TEST(AbslSyncTsanTest, NotificationPublishes) {
  for (int round = 0; round < 20; ++round) {
    std::vector<int> data;
    absl::Notification ready;
    std::vector<std::thread> readers;
    for (int t = 0; t < 4; ++t) {
      readers.emplace_back([&] {
        ready.WaitForNotification();
        EXPECT_EQ(data.size(), 3u);
      });
    }
    data = {1, 2, 3};
    ready.Notify();
    EXPECT_TRUE(ready.WaitForNotificationWithTimeout(absl::Seconds(10)));
    for (std::thread& t : readers) t.join();
  }
}

// A real race beside a mutex: one side locks, the other does not. TSan must
// report it (CTest expects the report; halt_on_error ends the process).
TEST(AbslSyncTsanTest, DISABLED_RaceBesideAMutexIsReported) {
  absl::Mutex mu;
  int counter = 0;
  std::thread locked([&] {
    for (int i = 0; i < 1000; ++i) {
      absl::MutexLock lock(&mu);
      ++counter;
    }
  });
  std::thread unlocked([&] {
    for (int i = 0; i < 1000; ++i) ++counter;
  });
  locked.join();
  unlocked.join();
}

}  // namespace
