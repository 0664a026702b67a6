#ifndef MIR_BROKER_WORK_POOL_H_
#define MIR_BROKER_WORK_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace mir::broker {

// Fixed threads that run posted work in order of posting, with a bounded
// queue: under overload a caller is refused at once rather than queued
// while memory grows.
//
// gRPC 1.51 runs every callback of a process on about cores/2 threads (two
// here). A handler that verifies and waits for a durable commit there keeps
// all other calls waiting and leaves the store's group commit nothing to
// group; handlers hand such work to this pool instead and finish their
// reactor from it (docs/PERFORMANCE.md).
class WorkPool {
 public:
  WorkPool(int threads, int max_queued);
  ~WorkPool();  // Stop()s

  // Runs `work` on a pool thread and returns true; returns false, without
  // running `work`, when `max_queued` posts already wait for a thread.
  // After Stop() it runs on the caller's thread, so that accepted work is
  // never dropped. Thread-safe.
  [[nodiscard]] bool Post(std::function<void()> work);

  // Runs what was posted, then joins the threads. Idempotent.
  void Stop();

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const size_t max_queued_;
  std::vector<std::thread> threads_;
};

// RESOURCE_EXHAUSTED NODE_BUSY: what a call refused by a full pool is told.
absl::Status NodeBusy();

}  // namespace mir::broker

#endif  // MIR_BROKER_WORK_POOL_H_
