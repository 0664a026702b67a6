#ifndef MIR_CONSOLE_SERVICE_H_
#define MIR_CONSOLE_SERVICE_H_

// What each call of the console's JSON API does (docs/CONSOLE-API.md),
// apart from HTTP: sign-in, sessions, and the calls relayed to the broker as
// the signed-in person. http_server.h maps routes, cookies, CSRF and headers
// onto it. Every answer is JSON text; every refusal an absl::Status with the
// console's reason (console/errors.h). Thread-safe.

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "console/actions.h"
#include "console/challenges.h"
#include "console/config.h"
#include "console/relay.h"
#include "console/sessions.h"
#include "crypto/verifier.h"

namespace mir::console {

struct LoginResult {
  Session session;
  std::string json;  // the 200 answer
};

class ConsoleService {
 public:
  // Reads the CA and CRLs (for sign-in) and prepares the relay.
  static absl::StatusOr<std::unique_ptr<ConsoleService>> Create(const ConsoleOptions& options,
                                                                const Clock* clock);

  const ConsoleOptions& options() const { return options_; }
  SessionTable& sessions() { return sessions_; }

  // GET /api/login/challenge
  std::string Challenge();
  // POST /api/login: refusals are UNAUTHENTICATED with the reasons of
  // docs/CONSOLE-API.md (MALFORMED is INVALID_ARGUMENT).
  absl::StatusOr<LoginResult> Login(absl::string_view body);
  // POST /api/logout
  void Logout(const Session& session);

  // The session of a cookie value, marked used (SESSION_EXPIRED otherwise).
  absl::StatusOr<Session> Authenticate(absl::string_view cookie);
  // For a POST: X-MIR-CSRF equal to the session's token (403 CSRF otherwise).
  absl::Status CheckCsrf(const Session& session, absl::string_view header) const;

  std::string Me(const Session& session) const;
  // `query`: direction, state, urgency, q, overdue (docs/CONSOLE-API.md).
  absl::StatusOr<std::string> ListReferrals(const Session& session,
                                            const std::multimap<std::string, std::string>& query);
  absl::StatusOr<std::string> GetReferral(const Session& session, const std::string& id);
  absl::StatusOr<std::string> Circulate(const Session& session, const std::string& id,
                                        absl::string_view body);
  absl::StatusOr<std::string> DeadLetters(const Session& session);
  absl::StatusOr<std::string> Requeue(const Session& session, absl::string_view body);
  absl::StatusOr<std::string> NodeStatus(const Session& session);
  // GET /api/statistics: `query` from, to (days in Europe/Rome, `to`
  // exclusive, as mirctl stats) and raw=1 for the unsuppressed counts.
  absl::StatusOr<std::string> Statistics(const Session& session,
                                         const std::multimap<std::string, std::string>& query);
  // POST /api/referrals/{id}/prepare and POST /api/referrals/prepare
  absl::StatusOr<std::string> PrepareAction(const Session& session, const std::string& id,
                                            absl::string_view body);
  absl::StatusOr<std::string> PrepareReferral(const Session& session, absl::string_view body);
  // POST /api/submit
  absl::StatusOr<std::string> Submit(const Session& session, absl::string_view body);
  // GET /api/events: the Watch stream as the session's person.
  absl::StatusOr<std::unique_ptr<WatchStream>> Watch(const Session& session);

  // Citizen reports (docs/CONSOLE-API.md, "Citizen reports"), as the person.
  // `query`: state (repeated or comma-separated), limit.
  absl::StatusOr<std::string> ListReports(const Session& session,
                                          const std::multimap<std::string, std::string>& query);
  // {"reportId": "<lowercase UUID, optional>", "report": CitizenReport JSON}
  absl::StatusOr<std::string> RecordReport(const Session& session, absl::string_view body);
  absl::StatusOr<std::string> GetReport(const Session& session, const std::string& id,
                                        bool include_contact);
  // {"triage": "PERTINENT", "routeTo": "<node, optional>"}
  absl::StatusOr<std::string> TriageReport(const Session& session, const std::string& id,
                                           absl::string_view body);
  // {"referralId": "..."}
  absl::StatusOr<std::string> LinkReport(const Session& session, const std::string& id,
                                         absl::string_view body);

  // Service requests and the roster (docs/CONSOLE-API.md, "Service
  // requests"), operators only, as the person. Each body is checked here
  // with the node's own rules (broker/service_request_rules.h) before it is
  // relayed; a refusal, the console's or the node's, names its field.
  // `query`: state (repeated or comma-separated), limit.
  absl::StatusOr<std::string> ListServiceRequests(
      const Session& session, const std::multimap<std::string, std::string>& query);
  // {"requestId": "<lowercase UUID, optional>", "request": ServiceRequest JSON}
  absl::StatusOr<std::string> CreateServiceRequest(const Session& session, absl::string_view body);
  absl::StatusOr<std::string> GetServiceRequest(const Session& session, const std::string& id);
  // {"rosterCode": "MED-0007"}
  absl::StatusOr<std::string> AssignServiceRequest(const Session& session, const std::string& id,
                                                   absl::string_view body);
  // {"at": "<RFC 3339 time>"}
  absl::StatusOr<std::string> ScheduleServiceRequest(const Session& session, const std::string& id,
                                                     absl::string_view body);
  // {"outcome": "HELD"}
  absl::StatusOr<std::string> CompleteServiceRequest(const Session& session, const std::string& id,
                                                     absl::string_view body);
  // {"reason": "NO_LONGER_NEEDED"}
  absl::StatusOr<std::string> CancelServiceRequest(const Session& session, const std::string& id,
                                                   absl::string_view body);
  // {"node": "nvn"}: a REQUESTED request placed with another node, which
  // serves it.
  absl::StatusOr<std::string> PlaceServiceRequest(const Session& session, const std::string& id,
                                                  absl::string_view body);
  absl::StatusOr<std::string> ListRoster(const Session& session);
  // {"entry": RosterEntry JSON}: added, or replacing the entry with its code.
  absl::StatusOr<std::string> PutRosterEntry(const Session& session, absl::string_view body);

  // The public form (console/public_server.h), as the console itself: the
  // report checked here first (ValidateReport), then RecordPublic.
  absl::StatusOr<v1::PublicReportResponse> RecordPublic(const v1::CitizenReport& report);
  absl::StatusOr<v1::FollowUpResponse> FollowUp(const std::string& receipt_code,
                                                const std::string& passphrase);

  // A relayed refusal of the person's proof (CONSOLE_PROOF) ends the session
  // and becomes SESSION_EXPIRED; others pass.
  absl::Status Relayed(const Session& session, absl::Status status);

  // Set when the server stops: open event streams end.
  void Stop() { stopping_ = true; }
  bool stopping() const { return stopping_; }

 private:
  ConsoleService(ConsoleOptions options, const Clock* clock, std::unique_ptr<Verifier> verifier,
                 std::unique_ptr<Relay> relay);
  absl::Status OperatorsOnly(const Session& session, int action) const;
  // Where the referral could be routed on to (RouteOnCandidates), for a
  // person AllowedActionsJson lets route it on.
  std::vector<std::string> RouteOnSuggestions(const Session& session, const v1::ReferralView& view);
  absl::StatusOr<std::string> PreparedAnswer(UnsignedAction action);

  const ConsoleOptions options_;
  const Clock* clock_;
  const std::unique_ptr<Verifier> verifier_;
  const std::unique_ptr<Relay> relay_;
  SessionTable sessions_;
  ChallengeTable challenges_;
  PendingActions pending_;
  std::atomic<bool> stopping_{false};
};

}  // namespace mir::console

#endif  // MIR_CONSOLE_SERVICE_H_
