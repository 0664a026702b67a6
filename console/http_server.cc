#include "console/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "console/errors.h"
#include "console/json.h"
#include "console/web_files.h"

namespace mir::console {
namespace {

constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; media-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";
constexpr char kJson[] = "application/json; charset=utf-8";

thread_local std::chrono::steady_clock::time_point request_start;

bool IsApi(const std::string& path) { return path.rfind("/api/", 0) == 0; }

// A request path as the log may carry it: the caller chose it, so it may hold
// anything (typed text, a decoded newline that would forge a log line).
// Ours are ids and names: other characters become '?', and it is cut short.
std::string LoggablePath(const std::string& path) {
  constexpr size_t kMaxLogged = 120;
  std::string out = path.substr(0, kMaxLogged);
  for (char& c : out) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '/' || c == '-' || c == '_' || c == '.';
    if (!plain) c = '?';
  }
  if (path.size() > kMaxLogged) out += "...";
  return out;
}

void Fail(httplib::Response& res, const absl::Status& status) {
  res.status = HttpStatusOf(status.code());
  res.set_content(ErrorJson(status), kJson);
}

void Reply(httplib::Response& res, const absl::StatusOr<std::string>& answer) {
  if (!answer.ok()) return Fail(res, answer.status());
  res.status = 200;
  res.set_content(*answer, kJson);
}

std::multimap<std::string, std::string> Query(const httplib::Request& req) {
  return std::multimap<std::string, std::string>(req.params.begin(), req.params.end());
}

// Relays the Watch stream of one session to one event-stream answer: a
// thread reads events, the connection's thread writes them, and both stop
// when the session ends, the client leaves or the server stops.
class EventPump {
 public:
  EventPump(ConsoleService* service, std::string session_id, std::unique_ptr<WatchStream> stream)
      : service_(service), session_id_(std::move(session_id)), stream_(std::move(stream)) {
    reader_ = std::thread([this] { ReadAll(); });
  }
  ~EventPump() { Close(); }

  void Close() {
    stream_->Cancel();
    if (reader_.joinable()) reader_.join();
  }

  // One turn of httplib's content provider: true to be called again.
  bool Pump(httplib::DataSink& sink) {
    if (!opened_) {
      // A comment line at once: the page (and a test) knows the stream is up.
      static constexpr char kOpen[] = ": connected\n\n";
      if (!sink.write(kOpen, sizeof(kOpen) - 1)) return false;
      opened_ = true;
    }
    std::deque<std::string> ready;
    bool ended = false;
    absl::Status why;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return !events_.empty() || ended_; });
      ready.swap(events_);
      ended = ended_;
      why = end_status_;
    }
    for (const std::string& event : ready) {
      const std::string line = absl::StrCat("data: ", event, "\n\n");
      if (!sink.write(line.data(), line.size())) return false;
      last_write_ = std::chrono::steady_clock::now();
    }
    if (ended)
      return End(sink, why.ok() ? absl::UnavailableError("the node ended the stream") : why);
    if (service_->stopping()) return End(sink, absl::UnavailableError("the console is stopping"));
    if (auto s = service_->sessions().Peek(session_id_); !s.ok()) return End(sink, s.status());
    if (std::chrono::steady_clock::now() - last_write_ > std::chrono::seconds(15)) {
      static constexpr char kPing[] = ": keepalive\n\n";
      if (!sink.write(kPing, sizeof(kPing) - 1)) return false;
      last_write_ = std::chrono::steady_clock::now();
    }
    return sink.is_writable();
  }

 private:
  bool End(httplib::DataSink& sink, const absl::Status& why) {
    stream_->Cancel();
    const std::string line = absl::StrCat("event: end\ndata: ", ErrorJson(why), "\n\n");
    sink.write(line.data(), line.size());
    sink.done();
    return true;
  }

  void ReadAll() {
    v1::WatchEvent event;
    while (stream_->Read(&event)) {
      std::string json = ToJson(event);
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(std::move(json));
      cv_.notify_all();
    }
    absl::Status status = stream_->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    end_status_ = status;
    cv_.notify_all();
  }

  ConsoleService* const service_;
  const std::string session_id_;
  const std::unique_ptr<WatchStream> stream_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> events_;
  bool ended_ = false;
  absl::Status end_status_;
  bool opened_ = false;
  std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
};

}  // namespace

std::string SessionCookie(const std::string& id) {
  if (id.empty()) return "mir_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict";
  return absl::StrCat("mir_session=", id, "; Path=/; Secure; HttpOnly; SameSite=Strict");
}

std::string SessionIdFromCookie(const std::string& cookie_header) {
  for (absl::string_view part : absl::StrSplit(cookie_header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, "mir_session=")) return std::string(part);
  }
  return "";
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(ConsoleService* service) {
  std::unique_ptr<HttpServer> server(new HttpServer(service));
  const ConsoleOptions& o = service->options();
  server->server_ =
      std::make_unique<httplib::SSLServer>(o.https_certificate.c_str(), o.https_key.c_str());
  if (!server->server_->is_valid()) {
    return absl::FailedPreconditionError(
        "cannot use console.httpsCertificate and console.httpsKey for HTTPS (unreadable, or "
        "the key does not match)");
  }
  server->Routes();
  return server;
}

HttpServer::HttpServer(ConsoleService* service) : service_(service) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<int> HttpServer::Bind() {
  const std::string& address = service_->options().listen_address;
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError("console.listenAddress must be HOST:PORT");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port == 0) {
    port = server_->bind_to_any_port(host);
    if (port <= 0) return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
    return port;
  }
  if (!server_->bind_to_port(host, port)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address));
  }
  return port;
}

void HttpServer::Run() { server_->listen_after_bind(); }

void HttpServer::Stop() {
  service_->Stop();
  if (server_ != nullptr) server_->stop();
}

void HttpServer::Routes() {
  httplib::SSLServer& svr = *server_;
  ConsoleService* const service = service_;
  const ConsoleOptions& o = service->options();
  const int threads = o.http_threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_payload_max_length(o.max_body_bytes);
  svr.set_read_timeout(10);
  svr.set_write_timeout(10);
  svr.set_keep_alive_timeout(5);
  svr.set_default_headers({
      {"Content-Security-Policy", kCsp},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Strict-Transport-Security", "max-age=31536000"},
  });

  svr.set_pre_routing_handler([service](const httplib::Request& req, httplib::Response& res) {
    request_start = std::chrono::steady_clock::now();
    if (req.method == "POST" && req.get_header_value("Origin") != service->options().origin) {
      Fail(res, ConsoleError(absl::StatusCode::kPermissionDenied, kCsrf,
                             "the request does not come from this console's page"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) {
      Fail(res, ConsoleError(absl::StatusCode::kResourceExhausted, kTooLarge,
                             "the request body is over 256 KiB"));
      res.status = 413;
    } else if (res.status == 404 && IsApi(req.path)) {
      Fail(res, ConsoleError(absl::StatusCode::kNotFound, kNotFound, "no such call"));
    } else if (res.status == 404) {
      res.set_content("not found\n", "text/plain; charset=utf-8");
    }
  });
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        Fail(res, absl::InternalError("the console failed on this request"));
      });
  svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - request_start)
                        .count();
    MIR_LOG(INFO) << LoggablePath(req.method) << " " << LoggablePath(req.path) << " " << res.status
                  << " " << ms << " ms";
  });

  using Api = std::function<absl::StatusOr<std::string>(const Session&, const httplib::Request&)>;
  // A call that needs a session; a POST also its CSRF token.
  auto authed = [service](bool post, Api api) {
    return [service, post, api](const httplib::Request& req, httplib::Response& res) {
      auto session = service->Authenticate(SessionIdFromCookie(req.get_header_value("Cookie")));
      if (!session.ok()) return Fail(res, session.status());
      if (post) {
        if (absl::Status csrf = service->CheckCsrf(*session, req.get_header_value("X-MIR-CSRF"));
            !csrf.ok()) {
          return Fail(res, csrf);
        }
      }
      Reply(res, api(*session, req));
    };
  };

  svr.Get("/api/login/challenge", [service](const httplib::Request&, httplib::Response& res) {
    Reply(res, service->Challenge());
  });
  svr.Post("/api/login", [service](const httplib::Request& req, httplib::Response& res) {
    auto login = service->Login(req.body);
    if (!login.ok()) return Fail(res, login.status());
    res.set_header("Set-Cookie", SessionCookie(login->session.id));
    Reply(res, login->json);
  });
  svr.Post("/api/logout", authed(true, [service](const Session& s, const httplib::Request&) {
             service->Logout(s);
             return absl::StatusOr<std::string>("{}");
           }));
  // Logout also clears the cookie.
  svr.set_post_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", IsApi(req.path) ? "no-store" : "no-cache");
    if (req.path == "/api/logout" && res.status == 200) {
      res.set_header("Set-Cookie", SessionCookie(""));
    }
  });
  svr.Get("/api/me", authed(false, [service](const Session& s, const httplib::Request&) {
            return absl::StatusOr<std::string>(service->Me(s));
          }));
  svr.Get("/api/referrals", authed(false, [service](const Session& s, const httplib::Request& r) {
            return service->ListReferrals(s, Query(r));
          }));
  svr.Post("/api/referrals/prepare",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->PrepareReferral(s, r.body);
           }));
  svr.Get(R"(/api/referrals/([0-9a-fA-F-]{1,64}))",
          authed(false, [service](const Session& s, const httplib::Request& r) {
            return service->GetReferral(s, r.matches[1]);
          }));
  svr.Post(R"(/api/referrals/([0-9a-fA-F-]{1,64})/prepare)",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->PrepareAction(s, r.matches[1], r.body);
           }));
  svr.Post(R"(/api/referrals/([0-9a-fA-F-]{1,64})/circulate)",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->Circulate(s, r.matches[1], r.body);
           }));
  svr.Post("/api/submit", authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->Submit(s, r.body);
           }));
  svr.Get("/api/dead-letters", authed(false, [service](const Session& s, const httplib::Request&) {
            return service->DeadLetters(s);
          }));
  svr.Post("/api/dead-letters/requeue",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->Requeue(s, r.body);
           }));
  svr.Get("/api/node", authed(false, [service](const Session& s, const httplib::Request&) {
            return service->NodeStatus(s);
          }));
  svr.Get("/api/statistics", authed(false, [service](const Session& s, const httplib::Request& r) {
            return service->Statistics(s, Query(r));
          }));
  // Citizen reports.
  svr.Get("/api/reports", authed(false, [service](const Session& s, const httplib::Request& r) {
            return service->ListReports(s, Query(r));
          }));
  svr.Post("/api/reports", authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->RecordReport(s, r.body);
           }));
  svr.Get(R"(/api/reports/([0-9a-fA-F-]{1,64}))",
          authed(false, [service](const Session& s, const httplib::Request& r) {
            const std::string contact = r.get_param_value("contact");
            return service->GetReport(s, r.matches[1], contact == "1" || contact == "true");
          }));
  svr.Post(R"(/api/reports/([0-9a-fA-F-]{1,64})/triage)",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->TriageReport(s, r.matches[1], r.body);
           }));
  svr.Post(R"(/api/reports/([0-9a-fA-F-]{1,64})/link)",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->LinkReport(s, r.matches[1], r.body);
           }));
  // Service requests and the roster.
  svr.Get("/api/service-requests",
          authed(false, [service](const Session& s, const httplib::Request& r) {
            return service->ListServiceRequests(s, Query(r));
          }));
  svr.Post("/api/service-requests",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->CreateServiceRequest(s, r.body);
           }));
  svr.Get(R"(/api/service-requests/([0-9a-fA-F-]{1,64}))",
          authed(false, [service](const Session& s, const httplib::Request& r) {
            return service->GetServiceRequest(s, r.matches[1]);
          }));
  svr.Post(R"(/api/service-requests/([0-9a-fA-F-]{1,64})/assign)",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->AssignServiceRequest(s, r.matches[1], r.body);
           }));
  svr.Post(R"(/api/service-requests/([0-9a-fA-F-]{1,64})/schedule)",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->ScheduleServiceRequest(s, r.matches[1], r.body);
           }));
  svr.Post(R"(/api/service-requests/([0-9a-fA-F-]{1,64})/complete)",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->CompleteServiceRequest(s, r.matches[1], r.body);
           }));
  svr.Post(R"(/api/service-requests/([0-9a-fA-F-]{1,64})/cancel)",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->CancelServiceRequest(s, r.matches[1], r.body);
           }));
  svr.Post(R"(/api/service-requests/([0-9a-fA-F-]{1,64})/place)",
           authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->PlaceServiceRequest(s, r.matches[1], r.body);
           }));
  svr.Get("/api/roster", authed(false, [service](const Session& s, const httplib::Request&) {
            return service->ListRoster(s);
          }));
  svr.Post("/api/roster", authed(true, [service](const Session& s, const httplib::Request& r) {
             return service->PutRosterEntry(s, r.body);
           }));
  // Each open event stream holds one of the server's threads: at most half
  // of them, so that the other calls are always served.
  auto open_streams = std::make_shared<std::atomic<int>>(0);
  const int max_streams = std::max(1, threads / 2);
  svr.Get("/api/events", [service, open_streams, max_streams](const httplib::Request& req,
                                                              httplib::Response& res) {
    auto session = service->Authenticate(SessionIdFromCookie(req.get_header_value("Cookie")));
    if (!session.ok()) return Fail(res, session.status());
    if (open_streams->fetch_add(1) >= max_streams) {
      open_streams->fetch_sub(1);
      return Fail(res, absl::ResourceExhaustedError(
                           "too many live update streams are open: try again in a while"));
    }
    auto stream = service->Watch(*session);
    if (!stream.ok()) {
      open_streams->fetch_sub(1);
      return Fail(res, service->Relayed(*session, stream.status()));
    }
    auto pump = std::make_shared<EventPump>(service, session->id, std::move(*stream));
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream", [pump](size_t, httplib::DataSink& sink) { return pump->Pump(sink); },
        [pump, open_streams](bool) {
          pump->Close();
          open_streams->fetch_sub(1);
        });
  });

  // The page's files; "/" is index.html.
  auto files = std::make_shared<std::map<std::string, WebFile>>();
  for (const WebFile& f : EmbeddedWebFiles()) files->emplace(std::string(f.path), f);
  svr.Get(R"(/(.*))", [files](const httplib::Request& req, httplib::Response& res) {
    std::string path = req.matches[1];
    if (path.empty()) path = "index.html";
    auto it = files->find(path);
    if (IsApi(req.path) || it == files->end()) {
      res.status = 404;
      return;
    }
    res.status = 200;
    res.set_content(it->second.content.data(), it->second.content.size(),
                    std::string(ContentTypeFor(path)).c_str());
  });
}

}  // namespace mir::console
