#include "tests/broker/raw_h2_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tests/testing/test_env.h"

namespace mir::testing {
namespace {

constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr uint8_t kData = 0, kHeaders = 1, kRstStream = 3, kSettings = 4, kPing = 6, kGoaway = 7,
                  kWindowUpdate = 8;
constexpr uint8_t kFlagAck = 0x1, kFlagEndHeaders = 0x4;
// Streams written per TLS write: enough to keep the server busy, small
// enough that its replies are drained often.
constexpr int kStreamsPerWrite = 256;

std::string OpenSslError(absl::string_view what) {
  char buf[256] = "no OpenSSL error";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof(buf));
  return absl::StrCat(what, ": ", buf);
}

uint32_t Be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

void AppendFrameHeader(std::string& out, uint32_t length, uint8_t type, uint8_t flags,
                       uint32_t stream_id) {
  const char header[9] = {static_cast<char>(length >> 16),    static_cast<char>(length >> 8),
                          static_cast<char>(length),          static_cast<char>(type),
                          static_cast<char>(flags),           static_cast<char>(stream_id >> 24),
                          static_cast<char>(stream_id >> 16), static_cast<char>(stream_id >> 8),
                          static_cast<char>(stream_id)};
  out.append(header, sizeof(header));
}

// HPACK integer with a 7-bit prefix (RFC 7541 5.1), H bit clear: no Huffman.
void AppendHpackString(std::string& out, absl::string_view s) {
  size_t n = s.size();
  if (n < 127) {
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(127));
    for (n -= 127; n >= 128; n >>= 7) out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    out.push_back(static_cast<char>(n));
  }
  out.append(s.data(), s.size());
}

// "Literal header field without indexing, new name" (RFC 7541 6.2.2): the
// server's HPACK dynamic table stays empty, so every block is independent.
std::string HeaderBlock(const std::string& path) {
  const std::pair<absl::string_view, absl::string_view> fields[] = {
      {":method", "POST"},
      {":scheme", "https"},
      {":path", path},
      {":authority", "localhost"},
      {"content-type", "application/grpc"},
      {"te", "trailers"}};
  std::string block;
  for (const auto& [name, value] : fields) {
    block.push_back('\0');
    AppendHpackString(block, name);
    AppendHpackString(block, value);
  }
  return block;
}

}  // namespace

void RawH2Client::SslCtxFree::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
void RawH2Client::SslFree::operator()(SSL* ssl) const { SSL_free(ssl); }

RawH2Client::~RawH2Client() {
  ssl_.reset();  // before the socket it uses
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::unique_ptr<RawH2Client>> RawH2Client::Connect(int port,
                                                                  const std::string& prefix) {
  // OpenSSL writes to the socket with write(2): a server that closes the
  // connection must fail the write, not kill the test with SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<RawH2Client> client(new RawH2Client());
  client->fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (client->fd_ < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(client->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(absl::StrCat("connect: ", strerror(errno)));
  }
  const int one = 1;
  setsockopt(client->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

  client->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* ctx = client->ctx_.get();
  if (ctx == nullptr) return absl::InternalError(OpenSslError("SSL_CTX_new"));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(ctx, PkiPath("ca.crt").c_str(), nullptr) != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, PkiPath(prefix + ".crt").c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, PkiPath(prefix + ".key").c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::FailedPreconditionError(OpenSslError("loading the test PKI"));
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  if (SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn)) != 0) {
    return absl::InternalError(OpenSslError("ALPN"));
  }
  client->ssl_.reset(SSL_new(ctx));
  SSL* ssl = client->ssl_.get();
  if (ssl == nullptr) return absl::InternalError(OpenSslError("SSL_new"));
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_set1_host(ssl, "localhost");
  SSL_set_fd(ssl, client->fd_);
  // The handshake is blocking; everything after it is not, so that a write
  // stuck behind an unread reply can read it.
  if (SSL_connect(ssl) != 1) return absl::UnavailableError(OpenSslError("TLS handshake"));
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (alpn_len != 2 || std::memcmp(alpn, "h2", 2) != 0) {
    return absl::FailedPreconditionError("server did not select ALPN h2");
  }
  fcntl(client->fd_, F_SETFL, fcntl(client->fd_, F_GETFL) | O_NONBLOCK);

  std::string hello(kPreface, sizeof(kPreface) - 1);
  AppendFrameHeader(hello, 0, kSettings, 0, 0);  // empty: all defaults
  if (absl::Status s = client->Write(hello, absl::Now() + absl::Seconds(30)); !s.ok()) return s;
  return client;
}

absl::Status RawH2Client::OpenStreams(int count, const std::string& path) {
  const std::string block = HeaderBlock(path);
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  for (int done = 0; done < count;) {
    if (seen_.closed) {
      return absl::UnavailableError(
          absl::StrCat("server closed the connection after ", streams_opened(), " streams"));
    }
    std::string batch;
    for (int i = 0; i < kStreamsPerWrite && done < count; ++i, ++done) {
      AppendFrameHeader(batch, static_cast<uint32_t>(block.size()), kHeaders, kFlagEndHeaders,
                        next_stream_id_);
      batch += block;
      next_stream_id_ += 2;
    }
    if (absl::Status s = Write(batch, deadline); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RawH2Client::Sync(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string ping;
  AppendFrameHeader(ping, 8, kPing, 0, 0);
  ++pings_sent_;
  for (int shift = 56; shift >= 0; shift -= 8)
    ping.push_back(static_cast<char>(pings_sent_ >> shift));
  if (absl::Status s = Write(ping, deadline); !s.ok()) return s;
  while (static_cast<uint64_t>(seen_.ping_acks) < pings_sent_) {
    if (!ReadSome(deadline)) return absl::UnavailableError("connection closed before the PING ack");
    if (absl::Now() >= deadline) return absl::DeadlineExceededError("no PING ack");
  }
  return absl::OkStatus();
}

bool RawH2Client::WaitForClose(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (ReadSome(deadline)) {
    if (absl::Now() >= deadline) return false;
  }
  return true;
}

absl::Status RawH2Client::Write(const std::string& bytes, absl::Time deadline) {
  size_t offset = 0;
  while (offset < bytes.size()) {
    const int chunk = static_cast<int>(std::min<size_t>(bytes.size() - offset, 16384));
    const int n = SSL_write(ssl_.get(), bytes.data() + offset, chunk);
    if (n > 0) {
      offset += static_cast<size_t>(n);
      continue;
    }
    const int error = SSL_get_error(ssl_.get(), n);
    if (error != SSL_ERROR_WANT_WRITE && error != SSL_ERROR_WANT_READ) {
      ERR_clear_error();
      seen_.closed = true;
      return absl::UnavailableError("the server closed the connection (write failed)");
    }
    if (absl::Now() >= deadline) return absl::DeadlineExceededError("write stalled");
    pollfd p{fd_, static_cast<short>(POLLIN | (error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0)), 0};
    poll(&p, 1, 1000);
    // Whatever the server sent may be what it waits for us to read.
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && !ReadSome(absl::Now())) {
      return absl::UnavailableError("the server closed the connection");
    }
  }
  return absl::OkStatus();
}

bool RawH2Client::ReadSome(absl::Time deadline) {
  if (seen_.closed) return false;
  char buf[65536];
  bool got = false;
  while (true) {
    const int n = SSL_read(ssl_.get(), buf, sizeof(buf));
    if (n > 0) {
      inbox_.append(buf, static_cast<size_t>(n));
      seen_.bytes += static_cast<uint64_t>(n);
      got = true;
      continue;
    }
    const int error = SSL_get_error(ssl_.get(), n);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      if (got) break;
      const int64_t wait_ms =
          std::clamp<int64_t>(absl::ToInt64Milliseconds(deadline - absl::Now()), 0, 1000);
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(wait_ms)) <= 0 && absl::Now() >= deadline) break;
      continue;
    }
    ERR_clear_error();
    seen_.closed = true;  // clean TLS close, EOF or reset
    break;
  }
  ParseFrames();
  return !seen_.closed;
}

void RawH2Client::ParseFrames() {
  size_t at = 0;
  while (inbox_.size() - at >= 9) {
    const char* f = inbox_.data() + at;
    const uint32_t length = Be32(f) >> 8;
    if (inbox_.size() - at < 9 + length) break;
    const uint8_t type = static_cast<uint8_t>(f[3]), flags = static_cast<uint8_t>(f[4]);
    const char* payload = f + 9;
    switch (type) {
      case kData:
        ++seen_.data;
        break;
      case kHeaders:
        ++seen_.headers;
        break;
      case kRstStream:
        ++seen_.rst_streams;
        if (length >= 4) seen_.last_rst_error = Be32(payload);
        break;
      case kSettings:
        ++((flags & kFlagAck) ? seen_.settings_acks : seen_.settings);
        break;
      case kPing:
        ++((flags & kFlagAck) ? seen_.ping_acks : seen_.pings);
        break;
      case kGoaway:
        ++seen_.goaways;
        if (length >= 8) {
          seen_.goaway_error = Be32(payload + 4);
          seen_.goaway_debug.assign(payload + 8, length - 8);
        }
        break;
      case kWindowUpdate:
        ++seen_.window_updates;
        break;
      default:
        break;
    }
    at += 9 + length;
  }
  inbox_.erase(0, at);
}

}  // namespace mir::testing
