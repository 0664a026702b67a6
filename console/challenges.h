#ifndef MIR_CONSOLE_CHALLENGES_H_
#define MIR_CONSOLE_CHALLENGES_H_

// Sign-in statements the console handed out (docs/CONSOLE-API.md, step 1):
// each names a fresh random challenge and is good once, for `ttl`.
// Thread-safe.

#include <cstddef>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace mir::console {

class ChallengeTable {
 public:
  // `clock` must outlive the table. `max_pending` bounds memory: past it the
  // oldest statement is forgotten.
  ChallengeTable(const Clock* clock, std::string origin, std::string node,
                 absl::Duration ttl = absl::Seconds(120), size_t max_pending = 10000);

  // A new statement (crypto/console_login.h format) with a fresh challenge.
  std::string Issue();

  // Takes back a statement: OK once for exactly the text Issue returned,
  // within ttl of issuing it. UNAUTHENTICATED CHALLENGE_UNKNOWN otherwise
  // (forged, replayed, expired).
  absl::Status Redeem(absl::string_view statement);

  size_t pending() const;

 private:
  struct Issued {
    std::string statement;
    absl::Time at;
  };
  void DropExpired(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* clock_;
  const std::string origin_;
  const std::string node_;
  const absl::Duration ttl_;
  const size_t max_pending_;
  mutable absl::Mutex mu_;
  std::map<std::string, Issued> issued_ ABSL_GUARDED_BY(mu_);  // by challenge
};

}  // namespace mir::console

#endif  // MIR_CONSOLE_CHALLENGES_H_
