#ifndef MIR_CONSOLE_PUBLIC_SERVER_H_
#define MIR_CONSOLE_PUBLIC_SERVER_H_

// The public report form's HTTPS listener (docs/CONSOLE-API.md, "The public
// form"), apart from the staff's: a server certificate only, no client
// certificate, no cookie, none of the staff's routes (and the staff listener
// has none of these). Routes: GET / (the form), POST /report, GET and POST
// /follow-up, GET /form.css and /form.js. Reports and follow-ups go to the
// node as the console itself (ConsoleService::RecordPublic, FollowUp).
//
// What it never keeps: the client's address or user agent. Nothing of a
// request is logged but method, a known path, status and time; the rate
// limiter (console/rate_limit.h) holds keyed hashes of addresses in memory
// only. Bodies over PublicFormOptions::max_body_bytes get 413, malformed
// fields 400 naming the field, POSTs over the rate limits 429 with
// Retry-After, POSTs from another origin (Origin, Sec-Fetch-Site) 403.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "console/form_once.h"
#include "console/rate_limit.h"
#include "console/service.h"

namespace httplib {
class SSLServer;
}

namespace mir::console {

class PublicServer {
 public:
  // Loads the HTTPS certificate and key of service->options().public_form;
  // `service` and `clock` must outlive the server.
  static absl::StatusOr<std::unique_ptr<PublicServer>> Create(ConsoleService* service,
                                                              const Clock* clock);
  ~PublicServer();

  // Binds public_form.listen_address (port 0: any); returns the port.
  absl::StatusOr<int> Bind();
  // Serves until Stop.
  void Run();
  void Stop();

 private:
  PublicServer(ConsoleService* service, const Clock* clock);
  void Routes();

  ConsoleService* const service_;
  const PublicFormOptions options_;
  RateLimiter limiter_;
  FormOnce forms_;
  std::unique_ptr<httplib::SSLServer> server_;
};

}  // namespace mir::console

#endif  // MIR_CONSOLE_PUBLIC_SERVER_H_
