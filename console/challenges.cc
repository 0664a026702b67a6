#include "console/challenges.h"

#include <utility>

#include "console/errors.h"
#include "console/tokens.h"
#include "crypto/console_login.h"

namespace mir::console {

ChallengeTable::ChallengeTable(const Clock* clock, std::string origin, std::string node,
                               absl::Duration ttl, size_t max_pending)
    : clock_(clock),
      origin_(std::move(origin)),
      node_(std::move(node)),
      ttl_(ttl),
      max_pending_(max_pending) {}

void ChallengeTable::DropExpired(absl::Time now) {
  for (auto it = issued_.begin(); it != issued_.end();) {
    if (now - it->second.at >= ttl_) {
      it = issued_.erase(it);
    } else {
      ++it;
    }
  }
}

std::string ChallengeTable::Issue() {
  ConsoleLoginStatement s;
  s.origin = origin_;
  s.node = node_;
  s.challenge = RandomToken(32);
  const absl::Time now = clock_->Now();
  s.issued_at = now;
  std::string text = FormatConsoleLoginStatement(s);
  absl::MutexLock lock(&mu_);
  DropExpired(now);
  if (issued_.size() >= max_pending_) {
    auto oldest = issued_.begin();
    for (auto it = issued_.begin(); it != issued_.end(); ++it) {
      if (it->second.at < oldest->second.at) oldest = it;
    }
    issued_.erase(oldest);
  }
  issued_[s.challenge] = Issued{text, now};
  return text;
}

absl::Status ChallengeTable::Redeem(absl::string_view statement) {
  auto parsed = ParseConsoleLoginStatement(statement);
  const absl::Status unknown =
      ConsoleError(absl::StatusCode::kUnauthenticated, kChallengeUnknown,
                   "the sign-in statement was not issued here, was used already or is older "
                   "than 2 minutes: sign in again");
  if (!parsed.ok()) return unknown;
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = issued_.find(parsed->challenge);
  if (it == issued_.end()) return unknown;
  if (!SameToken(it->second.statement, statement)) return unknown;  // not the text issued
  const bool fresh = now - it->second.at < ttl_;
  issued_.erase(it);  // single use, whatever the outcome
  if (!fresh) return unknown;
  return absl::OkStatus();
}

size_t ChallengeTable::pending() const {
  absl::MutexLock lock(&mu_);
  return issued_.size();
}

}  // namespace mir::console
