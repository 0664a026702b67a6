#include "bench/redis_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <deque>
#include <memory>

#include "absl/strings/str_cat.h"

namespace mir::bench {
namespace {

std::string OpenSslError() {
  char text[256] = "unknown";
  if (const unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, text, sizeof(text));
  return text;
}

// One blocking connection; reads and writes time out after 30 s so that a
// stuck server ends the run instead of hanging the bench.
class RespConnection {
 public:
  ~RespConnection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }

  absl::Status Connect(int port, const std::string& ca_file) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return absl::UnavailableError(absl::StrCat("redis: connect to port ", port, " failed"));
    }
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval timeout{30, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    if (ca_file.empty()) return absl::OkStatus();
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr || SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) {
      return absl::InternalError(absl::StrCat("redis: TLS context: ", OpenSslError()));
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    SSL_set1_host(ssl_, "localhost");
    if (SSL_connect(ssl_) != 1) {
      return absl::UnavailableError(absl::StrCat("redis: TLS handshake: ", OpenSslError()));
    }
    return absl::OkStatus();
  }

  absl::Status Write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ssl_ != nullptr ? SSL_write(ssl_, bytes.data() + done,
                                                    static_cast<int>(bytes.size() - done))
                                        : write(fd_, bytes.data() + done, bytes.size() - done);
      if (n <= 0) return absl::UnavailableError("redis: write failed");
      done += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  // One reply: a bulk or simple string; an error reply is an error.
  absl::StatusOr<std::string> ReadReply() {
    std::string line;
    if (absl::Status s = ReadLine(&line); !s.ok()) return s;
    if (line.empty()) return absl::InternalError("redis: empty reply");
    if (line[0] == '-') return absl::InternalError(absl::StrCat("redis: ", line.substr(1)));
    if (line[0] == '+' || line[0] == ':') return line.substr(1);
    if (line[0] != '$') return absl::InternalError(absl::StrCat("redis: unexpected reply ", line));
    const long length = std::strtol(line.c_str() + 1, nullptr, 10);
    if (length < 0) return std::string();
    if (absl::Status s = Fill(static_cast<size_t>(length) + 2); !s.ok()) return s;
    std::string value = buffer_.substr(start_, static_cast<size_t>(length));
    start_ += static_cast<size_t>(length) + 2;
    return value;
  }

  // True if a whole reply is here or can be read without waiting for the
  // server (then read it into the buffer).
  bool ReplyReady() {
    for (;;) {
      if (Complete()) return true;
      pollfd p{fd_, POLLIN, 0};
      const bool more = (ssl_ != nullptr && SSL_pending(ssl_) > 0) || poll(&p, 1, 0) > 0;
      if (!more) return false;
      if (!ReadMore().ok()) return true;  // ReadReply reports it
    }
  }

 private:
  // Whether the buffer holds a whole reply.
  bool Complete() const {
    const size_t end = buffer_.find("\r\n", start_);
    if (end == std::string::npos) return false;
    if (buffer_[start_] != '$') return true;
    const long length = std::strtol(buffer_.c_str() + start_ + 1, nullptr, 10);
    return length < 0 || buffer_.size() - (end + 2) >= static_cast<size_t>(length) + 2;
  }

  absl::Status ReadLine(std::string* line) {
    for (;;) {
      const size_t end = buffer_.find("\r\n", start_);
      if (end != std::string::npos) {
        *line = buffer_.substr(start_, end - start_);
        start_ = end + 2;
        return absl::OkStatus();
      }
      if (absl::Status s = ReadMore(); !s.ok()) return s;
    }
  }
  absl::Status Fill(size_t bytes) {
    while (buffer_.size() - start_ < bytes) {
      if (absl::Status s = ReadMore(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::Status ReadMore() {
    if (start_ > 0) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
    char chunk[16384];
    const ssize_t n =
        ssl_ != nullptr ? SSL_read(ssl_, chunk, sizeof(chunk)) : read(fd_, chunk, sizeof(chunk));
    if (n <= 0) return absl::UnavailableError("redis: connection closed or timed out");
    buffer_.append(chunk, static_cast<size_t>(n));
    return absl::OkStatus();
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffer_;
  size_t start_ = 0;
};

std::string Command(const std::vector<std::string>& words) {
  std::string out = absl::StrCat("*", words.size(), "\r\n");
  for (const std::string& w : words) absl::StrAppend(&out, "$", w.size(), "\r\n", w, "\r\n");
  return out;
}

// A closed loop on one connection: up to `in_flight` commands sent and not
// yet answered; Redis answers in order, so the oldest send time is the one
// the next reply belongs to. As an event-loop client does, every reply
// already received is handled before the commands replacing them go out in
// one write: over TLS, one command per record would have Redis read one
// record, hence run one command and one fsync, per turn of its loop.
RunFigures Pipelined(RespConnection& conn, const std::string& command, int in_flight, int count) {
  RunFigures figures;
  figures.in_flight = in_flight;
  Samples samples;
  std::deque<SteadyClock::time_point> sent;
  const SteadyClock::time_point start = SteadyClock::now();
  int started = 0;
  while (figures.completed + figures.failed < count) {
    std::string batch;
    while (static_cast<int>(sent.size()) < in_flight && started < count) {
      batch += command;
      sent.push_back(SteadyClock::now());
      ++started;
    }
    if (!batch.empty()) {
      if (absl::Status s = conn.Write(batch); !s.ok()) {
        figures.first_error = s.ToString();
        figures.failed += count - figures.completed - figures.failed;
        break;
      }
    }
    bool lost = false;
    do {
      absl::StatusOr<std::string> reply = conn.ReadReply();
      if (!reply.ok() && absl::IsUnavailable(reply.status())) {
        figures.first_error = reply.status().ToString();
        figures.failed += count - figures.completed - figures.failed;
        lost = true;
        break;
      }
      const SteadyClock::time_point at = sent.front();
      sent.pop_front();
      if (reply.ok()) {
        ++figures.completed;
        samples.Add(MicrosSince(at));
      } else {
        if (figures.first_error.empty()) figures.first_error = reply.status().ToString();
        ++figures.failed;
      }
    } while (!sent.empty() && conn.ReplyReady());
    if (lost) break;
  }
  figures.seconds = SecondsSince(start);
  FillPercentiles(samples, &figures);
  return figures;
}

}  // namespace

absl::StatusOr<std::vector<RunFigures>> RunRedisXadd(int port, const std::string& ca_file,
                                                     const std::string& key,
                                                     const std::vector<int>& in_flight, int count) {
  RespConnection conn;
  if (absl::Status s = conn.Connect(port, ca_file); !s.ok()) return s;
  const std::string xadd = Command({"XADD", key, "*", "body", std::string(1024, 'r')});
  // Warm-up: the AOF file and the stream exist, the connection is hot.
  const RunFigures warm = Pipelined(conn, xadd, 16, 200);
  if (warm.completed == 0) return absl::UnavailableError(absl::StrCat("redis: ", warm.first_error));
  std::vector<RunFigures> runs;
  for (int n : in_flight) runs.push_back(Pipelined(conn, xadd, n, count));
  return runs;
}

}  // namespace mir::bench
