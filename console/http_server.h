#ifndef MIR_CONSOLE_HTTP_SERVER_H_
#define MIR_CONSOLE_HTTP_SERVER_H_

// The console's HTTPS server (cpp-httplib's SSLServer): the routes of
// docs/CONSOLE-API.md over a ConsoleService, the security headers and CSP
// on every answer, the 256 KiB body limit (413), CSRF (Origin on every POST,
// and X-MIR-CSRF on every POST but sign-in), the session cookie, Server-Sent
// Events for /api/events, and the page's embedded files. One log line per
// request: method, path without query, status, milliseconds.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "console/service.h"

namespace httplib {
class SSLServer;
}

namespace mir::console {

// The Set-Cookie value for a session id ("" ends the cookie).
std::string SessionCookie(const std::string& id);
// The mir_session value of a Cookie header ("" when absent).
std::string SessionIdFromCookie(const std::string& cookie_header);

class HttpServer {
 public:
  // Loads the HTTPS certificate and key named in service->options();
  // `service` must outlive the server.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(ConsoleService* service);
  ~HttpServer();

  // Binds options().listen_address (port 0: any); returns the port.
  absl::StatusOr<int> Bind();
  // Serves until Stop (from another thread or a signal handler's thread).
  void Run();
  void Stop();

 private:
  explicit HttpServer(ConsoleService* service);
  void Routes();

  ConsoleService* const service_;
  std::unique_ptr<httplib::SSLServer> server_;
};

}  // namespace mir::console

#endif  // MIR_CONSOLE_HTTP_SERVER_H_
