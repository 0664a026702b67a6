#include "broker/work_pool.h"

#include "common/errors.h"

namespace mir::broker {

absl::Status NodeBusy() {
  return MirError(absl::StatusCode::kResourceExhausted, v1::NODE_BUSY,
                  "the node has too many calls waiting; try again shortly");
}

WorkPool::WorkPool(int threads, int max_queued) : max_queued_(static_cast<size_t>(max_queued)) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

WorkPool::~WorkPool() { Stop(); }

bool WorkPool::Post(std::function<void()> work) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      if (queue_.size() >= max_queued_) return false;
      queue_.push_back(std::move(work));
      return true;
    }
  }
  work();
  return true;
}

void WorkPool::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void WorkPool::Loop() {
  while (true) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty()) return;  // stopping, and nothing left to run
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

}  // namespace mir::broker
