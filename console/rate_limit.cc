#include "console/rate_limit.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace mir::console {

TokenBucket::TokenBucket(double capacity, double per_second, absl::Time now)
    : capacity_(capacity), per_second_(per_second), tokens_(capacity), last_(now) {}

void TokenBucket::Refill(absl::Time now) {
  if (now > last_) {
    tokens_ = std::min(capacity_, tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_);
    last_ = now;
  }
}

bool TokenBucket::Take(absl::Time now, absl::Duration* wait) {
  Refill(now);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  if (wait != nullptr) {
    *wait = per_second_ > 0 ? absl::Seconds((1.0 - tokens_) / per_second_) : absl::Hours(1);
  }
  return false;
}

bool TokenBucket::Full(absl::Time now) const {
  const double tokens =
      now > last_ ? tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_ : tokens_;
  return tokens >= capacity_;
}

RateLimiter::RateLimiter(const RateLimits& limits, const Clock* clock)
    : limits_(limits),
      clock_(clock),
      hash_key_(32, '\0'),
      global_(std::max(1, limits.global_per_minute), std::max(1, limits.global_per_minute) / 60.0,
              clock->Now()) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(hash_key_.data()),
                 static_cast<int>(hash_key_.size())) != 1) {
    std::abort();
  }
}

std::string RateLimiter::KeyOf(absl::string_view address) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), hash_key_.data(), static_cast<int>(hash_key_.size()),
       reinterpret_cast<const unsigned char*>(address.data()), address.size(), mac, &length);
  // 16 bytes tell clients apart as well as 32, in half the memory.
  return std::string(reinterpret_cast<const char*>(mac), std::min(length, 16u));
}

bool RateLimiter::Allow(absl::string_view address, absl::Duration* retry_after) {
  const std::string key = KeyOf(address);
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = clients_.find(key);
  if (it == clients_.end()) {
    while (clients_.size() >= std::max<size_t>(1, limits_.max_tracked_clients)) {
      // Forgetting the least recently seen gives it a full bucket again,
      // which it most likely has anyway.
      clients_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(key);
    it = clients_
             .emplace(key, Entry{TokenBucket(std::max(1, limits_.client_burst),
                                             std::max(1, limits_.client_per_hour) / 3600.0, now),
                                 lru_.begin()})
             .first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  absl::Duration wait;
  bool allowed = true;
  // The client's own bucket first: one client over its limit does not use up
  // everyone's.
  if (!it->second.bucket.Take(now, &wait)) {
    allowed = false;
  } else if (!global_.Take(now, &wait)) {
    allowed = false;
  }
  if (!allowed && retry_after != nullptr) {
    *retry_after = std::max(absl::Seconds(1), absl::Ceil(wait, absl::Seconds(1)));
  }
  return allowed;
}

size_t RateLimiter::tracked() const {
  absl::MutexLock lock(&mu_);
  return clients_.size();
}

}  // namespace mir::console
