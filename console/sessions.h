#ifndef MIR_CONSOLE_SESSIONS_H_
#define MIR_CONSOLE_SESSIONS_H_

// The console's signed-in sessions (docs/CONSOLE-API.md, "Sign-in"). A
// session is named by a random 32-byte id (the cookie mir_session), carries
// a CSRF token, the person's identity, certificate and sign-in proof, and
// ends at logout, after `idle` without a call, or `absolute` after sign-in,
// whichever comes first. Thread-safe.

#include <cstddef>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "crypto/identity.h"

namespace mir::console {

struct Session {
  std::string id;    // the cookie value (43 chars, base64url)
  std::string csrf;  // the X-MIR-CSRF value (43 chars, base64url)
  Identity person;
  std::string certificate_der;  // the person's certificate
  std::string proof;            // serialized v1::ConsoleLoginProof, relayed on every call
  absl::Time created_at;
  absl::Time last_used;
  absl::Time expires_at;  // created_at + absolute
};

class SessionTable {
 public:
  // `clock` must outlive the table. `max_sessions` bounds memory: past it
  // the session used least recently is dropped.
  SessionTable(const Clock* clock, absl::Duration idle, absl::Duration absolute,
               size_t max_sessions = 10000);

  // A new session for a person who just signed in.
  Session Create(const Identity& person, std::string certificate_der, std::string proof);

  // The session named `id`, marked used now. UNAUTHENTICATED with reason
  // SESSION_EXPIRED when unknown, ended, idle too long or too old (an
  // expired one is removed).
  absl::StatusOr<Session> Use(absl::string_view id);
  // The same without marking it used (a long-lived event stream asks this).
  absl::StatusOr<Session> Peek(absl::string_view id);

  // Ends the session (logout); unknown ids are ignored.
  void End(absl::string_view id);

  // Removes every expired session; returns how many.
  size_t Sweep();
  size_t size() const;

  absl::Duration idle() const { return idle_; }
  absl::Duration absolute() const { return absolute_; }

 private:
  absl::StatusOr<Session> Find(absl::string_view id, bool touch);
  bool Expired(const Session& s, absl::Time now) const;

  const Clock* clock_;
  const absl::Duration idle_;
  const absl::Duration absolute_;
  const size_t max_sessions_;
  mutable absl::Mutex mu_;
  // Keyed by SHA-256 of the id, so a lookup's timing tells nothing of ids.
  std::map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mir::console

#endif  // MIR_CONSOLE_SESSIONS_H_
