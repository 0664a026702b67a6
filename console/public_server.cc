#include "console/public_server.h"

#include <httplib.h>

#include <chrono>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/log.h"
#include "console/errors.h"
#include "console/public_pages.h"
#include "console/reports.h"
#include "console/web_files.h"

namespace mir::console {
namespace {

// No connect-src: the pages call nothing. img-src data: for the empty icon.
constexpr char kCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
constexpr char kHtml[] = "text/html; charset=utf-8";
// A form posted again gets the first post's receipt for this long: double
// clicks and reloads come within seconds, a retry after a slow answer within
// a minute or two. The receipt (code and passphrase) stays in memory that
// long, never longer, and only the last kFormAnswersKeptMax of them.
constexpr absl::Duration kFormAnswerKept = absl::Minutes(10);
constexpr size_t kFormAnswersKeptMax = 1000;

thread_local std::chrono::steady_clock::time_point request_start;

// The only paths the log names; any other is "(other)", so that nothing a
// client chose is written.
std::string KnownPath(const std::string& path) {
  for (const char* known : {"/", "/report", "/follow-up", "/form.css", "/form.js"}) {
    if (path == known) return known;
  }
  return "(other)";
}

std::string KnownMethod(const std::string& method) {
  for (const char* known : {"GET", "POST", "HEAD"}) {
    if (method == known) return known;
  }
  return "(other)";
}

void Page(httplib::Response& res, int status, const std::string& html) {
  res.status = status;
  res.set_content(html, kHtml);
}

PageLang LangOfQuery(const httplib::Request& req) {
  return PageLangOf(req.get_param_value("lang"));
}

PageLang LangOfForm(const FormValues& form) {
  auto it = form.find("lang");
  return PageLangOf(it == form.end() ? "" : it->second);
}

// A node's answer other than OK, as the page for it.
void NodeTrouble(httplib::Response& res, PageLang lang, const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      res.set_header("Retry-After", "60");
      return Page(res, 429, TroublePage(lang, Trouble::kTooMany));
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return Page(res, 503, TroublePage(lang, Trouble::kUnavailable));
    default:
      MIR_LOG(WARNING) << "public form: the node refused: " << ReasonOf(status) << " "
                       << absl::StatusCodeToString(status.code());
      return Page(res, 500, TroublePage(lang, Trouble::kFailed));
  }
}

// Records the report of `form` and answers with its receipt, or with the
// form again naming what to correct (under the same token, so that the
// corrected form is still the one form), or with the node's trouble.
void RecordReport(ConsoleService& service, const FormValues& form, PageLang lang,
                  const std::string& token, httplib::Response& res) {
  auto refused = [&](const absl::Status& status) {
    const std::string field = ReportFieldOf(status);
    std::string text = absl::StrCat(
        lang == PageLang::kEn ? "Please check the field “" : "Controlla il campo «",
        FieldLabel(lang, field), lang == PageLang::kEn ? "”: " : "»: ", FieldProblem(lang, field));
    Page(res, 400,
         FormPage(lang, form, field, text,
                  FormOnce::WellFormed(token) ? token : FormOnce::NewToken()));
  };
  auto report = ReportFromForm(form);
  if (!report.ok()) return refused(report.status());
  auto receipt = service.RecordPublic(*report);
  if (!receipt.ok()) {
    if (receipt.status().code() == absl::StatusCode::kInvalidArgument) {
      return refused(receipt.status());
    }
    return NodeTrouble(res, lang, receipt.status());
  }
  Page(res, 200, ReceiptPage(lang, *receipt, report->immediate_danger()));
}

bool ParseHostPort(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), port) ||
      *port < 0 || *port > 65535) {
    return false;
  }
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PublicServer>> PublicServer::Create(ConsoleService* service,
                                                                   const Clock* clock) {
  const PublicFormOptions& o = service->options().public_form;
  if (!o.enabled) return absl::FailedPreconditionError("console.publicForm is not configured");
  std::unique_ptr<PublicServer> server(new PublicServer(service, clock));
  server->server_ =
      std::make_unique<httplib::SSLServer>(o.https_certificate.c_str(), o.https_key.c_str());
  if (!server->server_->is_valid()) {
    return absl::FailedPreconditionError(
        "cannot use the public form's HTTPS certificate and key (unreadable, or the key does "
        "not match)");
  }
  server->Routes();
  return server;
}

PublicServer::PublicServer(ConsoleService* service, const Clock* clock)
    : service_(service),
      options_(service->options().public_form),
      limiter_(RateLimits{options_.global_per_minute, options_.client_burst,
                          options_.client_per_hour, options_.max_tracked_clients},
               clock),
      forms_(clock, kFormAnswerKept, kFormAnswersKeptMax) {}

PublicServer::~PublicServer() { Stop(); }

absl::StatusOr<int> PublicServer::Bind() {
  std::string host;
  int port = -1;
  if (!ParseHostPort(options_.listen_address, &host, &port)) {
    return absl::InvalidArgumentError("console.publicForm.listenAddress must be HOST:PORT");
  }
  if (port == 0) {
    port = server_->bind_to_any_port(host);
    if (port <= 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen_address));
    }
    return port;
  }
  if (!server_->bind_to_port(host, port)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen_address));
  }
  return port;
}

void PublicServer::Run() { server_->listen_after_bind(); }

void PublicServer::Stop() {
  if (server_ != nullptr) server_->stop();
}

void PublicServer::Routes() {
  httplib::SSLServer& svr = *server_;
  ConsoleService* const service = service_;
  RateLimiter* const limiter = &limiter_;
  const std::string origin = options_.origin;
  const int threads = options_.http_threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_payload_max_length(options_.max_body_bytes);
  svr.set_read_timeout(10);
  svr.set_write_timeout(10);
  svr.set_keep_alive_timeout(5);
  svr.set_default_headers({
      {"Content-Security-Policy", kCsp},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Strict-Transport-Security", "max-age=31536000"},
      // The receipt is shown once: no copy in any cache.
      {"Cache-Control", "no-store"},
  });

  svr.set_pre_routing_handler(
      [limiter, origin](const httplib::Request& req, httplib::Response& res) {
        request_start = std::chrono::steady_clock::now();
        if (req.method != "POST") return httplib::Server::HandlerResponse::Unhandled;
        // No cookie to steal, but a page elsewhere must not post reports in a
        // visitor's name. Browsers send one or both of these; a client sending
        // neither is not a browser another site could drive. "null" is what a
        // no-referrer page's own form sends.
        const std::string from = req.get_header_value("Origin");
        const std::string site = req.get_header_value("Sec-Fetch-Site");
        const bool bad_origin = !from.empty() && from != origin && from != "null";
        const bool bad_site = !site.empty() && site != "same-origin" && site != "none";
        if (bad_origin || bad_site) {
          Page(res, 403, TroublePage(PageLangOf(""), Trouble::kCrossOrigin));
          return httplib::Server::HandlerResponse::Handled;
        }
        absl::Duration retry;
        if (!limiter->Allow(req.remote_addr, &retry)) {
          res.set_header("Retry-After", absl::StrCat(absl::ToInt64Seconds(retry)));
          Page(res, 429, TroublePage(PageLangOf(""), Trouble::kTooMany));
          return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const PageLang lang = LangOfQuery(req);
    if (res.status == 413) {
      res.set_content(TroublePage(lang, Trouble::kTooLarge), kHtml);
    } else if (res.status == 404) {
      res.set_content(TroublePage(lang, Trouble::kNotFound), kHtml);
    } else if (res.status >= 500) {
      res.set_content(TroublePage(lang, Trouble::kFailed), kHtml);
    }
  });
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        Page(res, 500, TroublePage(PageLang::kIt, Trouble::kFailed));
      });
  // Nothing that identifies the client: no address, no user agent, no query.
  svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - request_start)
                        .count();
    MIR_LOG(INFO) << "public form: " << KnownMethod(req.method) << " " << KnownPath(req.path) << " "
                  << res.status << " " << ms << " ms";
  });

  svr.Get("/", [](const httplib::Request& req, httplib::Response& res) {
    Page(res, 200, FormPage(LangOfQuery(req), {}, "", "", FormOnce::NewToken()));
  });

  FormOnce* const forms = &forms_;
  svr.Post("/report", [service, forms](const httplib::Request& req, httplib::Response& res) {
    auto form = ParseUrlEncoded(req.body);
    if (!form.ok() || !absl::StartsWithIgnoreCase(req.get_header_value("Content-Type"),
                                                  "application/x-www-form-urlencoded")) {
      const PageLang lang = form.ok() ? LangOfForm(*form) : PageLang::kIt;
      return Page(res, 400,
                  FormPage(lang, {}, "",
                           lang == PageLang::kEn
                               ? "The form arrived damaged. Fill it in again, please."
                               : "Il modulo è arrivato danneggiato. Compilalo di nuovo, per "
                                 "favore.",
                           FormOnce::NewToken()));
    }
    const PageLang lang = LangOfForm(*form);
    auto sent_token = form->find("form_token");
    const std::string token = sent_token == form->end() ? "" : sent_token->second;
    bool recorded_here = false;
    const FormOnce::Answer answer = forms->Once(token, req.body, [&] {
      recorded_here = true;
      RecordReport(*service, *form, lang, token, res);
      return FormOnce::Answer{res.status, res.body};
    });
    // The same form posted again: the first post's receipt, nothing recorded.
    if (!recorded_here) Page(res, answer.status, answer.page);
  });

  svr.Get("/follow-up", [](const httplib::Request& req, httplib::Response& res) {
    Page(res, 200, FollowUpPage(LangOfQuery(req), "", ""));
  });

  svr.Post("/follow-up", [service](const httplib::Request& req, httplib::Response& res) {
    auto form = ParseUrlEncoded(req.body);
    const PageLang lang = form.ok() ? LangOfForm(*form) : PageLang::kIt;
    if (!form.ok()) return Page(res, 400, NoSuchReportPage(lang));
    auto value = [&](const char* name) {
      auto it = form->find(name);
      return it == form->end() ? std::string()
                               : std::string(absl::StripAsciiWhitespace(it->second));
    };
    const std::string code = absl::AsciiStrToUpper(value("receipt_code"));
    const std::string passphrase = value("passphrase");
    if (code.empty() || code.size() > 200) {
      return Page(res, 400, FollowUpPage(lang, "receipt_code", FieldProblem(lang, "receipt_code")));
    }
    if (passphrase.empty() || passphrase.size() > 200) {
      return Page(res, 400, FollowUpPage(lang, "passphrase", FieldProblem(lang, "passphrase")));
    }
    auto progress = service->FollowUp(code, passphrase);
    if (progress.ok()) return Page(res, 200, ProgressPage(lang, *progress));
    // An unknown code, a wrong passphrase and a code the node cannot even
    // read get the same answer: none tells a guesser more than another.
    const absl::StatusCode c = progress.status().code();
    if (c == absl::StatusCode::kNotFound || c == absl::StatusCode::kInvalidArgument ||
        c == absl::StatusCode::kPermissionDenied) {
      return Page(res, 404, NoSuchReportPage(lang));
    }
    NodeTrouble(res, lang, progress.status());
  });

  auto files = std::make_shared<std::map<std::string, WebFile>>();
  for (const WebFile& f : EmbeddedPublicFiles()) files->emplace(std::string(f.path), f);
  svr.Get(R"(/(form\.css|form\.js))", [files](const httplib::Request& req, httplib::Response& res) {
    auto it = files->find(req.matches[1]);
    if (it == files->end()) {
      res.status = 404;
      return;
    }
    res.status = 200;
    res.set_content(it->second.content.data(), it->second.content.size(),
                    std::string(ContentTypeFor(it->first)).c_str());
  });
}

}  // namespace mir::console
