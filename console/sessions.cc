#include "console/sessions.h"

#include <utility>

#include "console/errors.h"
#include "console/tokens.h"
#include "crypto/envelope_bytes.h"

namespace mir::console {
namespace {

absl::Status SessionExpired(absl::string_view why) {
  return ConsoleError(absl::StatusCode::kUnauthenticated, kSessionExpired, why);
}

}  // namespace

SessionTable::SessionTable(const Clock* clock, absl::Duration idle, absl::Duration absolute,
                           size_t max_sessions)
    : clock_(clock), idle_(idle), absolute_(absolute), max_sessions_(max_sessions) {}

bool SessionTable::Expired(const Session& s, absl::Time now) const {
  return now >= s.expires_at || now - s.last_used >= idle_;
}

Session SessionTable::Create(const Identity& person, std::string certificate_der,
                             std::string proof) {
  Session s;
  s.id = RandomToken();
  s.csrf = RandomToken();
  s.person = person;
  s.certificate_der = std::move(certificate_der);
  s.proof = std::move(proof);
  s.created_at = clock_->Now();
  s.last_used = s.created_at;
  s.expires_at = s.created_at + absolute_;
  absl::MutexLock lock(&mu_);
  if (sessions_.size() >= max_sessions_) {
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    sessions_.erase(oldest);
  }
  sessions_[Sha256(s.id)] = s;
  return s;
}

absl::StatusOr<Session> SessionTable::Find(absl::string_view id, bool touch) {
  if (id.empty()) return SessionExpired("not signed in");
  const std::string key = Sha256(id);
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return SessionExpired("not signed in, or the session has ended");
  if (Expired(it->second, now)) {
    sessions_.erase(it);
    return SessionExpired("the session has expired: sign in again");
  }
  if (touch) it->second.last_used = now;
  return it->second;
}

absl::StatusOr<Session> SessionTable::Use(absl::string_view id) { return Find(id, true); }
absl::StatusOr<Session> SessionTable::Peek(absl::string_view id) { return Find(id, false); }

void SessionTable::End(absl::string_view id) {
  if (id.empty()) return;
  const std::string key = Sha256(id);
  absl::MutexLock lock(&mu_);
  sessions_.erase(key);
}

size_t SessionTable::Sweep() {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  size_t removed = 0;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (Expired(it->second, now)) {
      it = sessions_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

size_t SessionTable::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

}  // namespace mir::console
