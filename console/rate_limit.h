#ifndef MIR_CONSOLE_RATE_LIMIT_H_
#define MIR_CONSOLE_RATE_LIMIT_H_

// The public form's rate limits (docs/CONSOLE-API.md, "The public form"): a
// token bucket for everyone together and one per client address. A client
// is known only by a keyed hash of its address (HMAC-SHA256 under a random
// key made at start and never written anywhere), held in memory, in a table
// of bounded size: the address itself is never kept, and the hashes mean
// nothing after a restart. Thread-safe.

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace mir::console {

// `capacity` tokens at most, refilled at `per_second`.
class TokenBucket {
 public:
  TokenBucket(double capacity, double per_second, absl::Time now);
  // Takes one token if there is one; else the time until there is.
  bool Take(absl::Time now, absl::Duration* wait);
  // Full again (a bucket in this state is the same as a new one).
  bool Full(absl::Time now) const;

 private:
  void Refill(absl::Time now);
  double capacity_, per_second_, tokens_;
  absl::Time last_;
};

struct RateLimits {
  int global_per_minute = 30;
  int client_burst = 5;
  int client_per_hour = 20;
  size_t max_tracked_clients = 10000;
};

class RateLimiter {
 public:
  // `clock` must outlive the limiter.
  RateLimiter(const RateLimits& limits, const Clock* clock);

  // One request from `address` (as the socket gives it). OK, or the time to
  // wait before the next one would be accepted (at least 1 s).
  bool Allow(absl::string_view address, absl::Duration* retry_after);

  size_t tracked() const;

 private:
  struct Entry {
    TokenBucket bucket;
    std::list<std::string>::iterator lru;
  };
  std::string KeyOf(absl::string_view address) const;

  const RateLimits limits_;
  const Clock* const clock_;
  std::string hash_key_;  // 32 random bytes, this process only
  mutable absl::Mutex mu_;
  TokenBucket global_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, Entry> clients_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // most recently seen first
};

}  // namespace mir::console

#endif  // MIR_CONSOLE_RATE_LIMIT_H_
