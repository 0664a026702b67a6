#ifndef MIR_TESTS_BROKER_RAW_H2_CLIENT_H_
#define MIR_TESTS_BROKER_RAW_H2_CLIENT_H_

// A hostile HTTP/2-over-TLS client for tests, speaking just enough HTTP/2 to
// open streams that a well-behaved gRPC client would never open: it presents
// a valid certificate of the test PKI (mutual TLS, ALPN "h2"), sends the
// connection preface and an empty SETTINGS frame, never acknowledges the
// server's SETTINGS (so gRPC 1.51 never applies its MAX_CONCURRENT_STREAMS),
// and opens streams with HEADERS frames that are never followed by a message.
// It reads and counts what the server sends, so TCP never stalls on it.
//
// Only for loopback test servers. Not thread-safe.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace mir::testing {

// What the server sent on the connection so far.
struct H2Seen {
  int settings = 0;       // SETTINGS frames without ACK
  int settings_acks = 0;  // acks of our SETTINGS
  int headers = 0;        // HEADERS (responses or trailers, e.g. a cancelled call)
  int data = 0;
  int rst_streams = 0;
  uint32_t last_rst_error = 0;  // HTTP/2 error code of the last RST_STREAM
  int pings = 0;                // PINGs from the server (never answered)
  int ping_acks = 0;            // acks of our PINGs
  int window_updates = 0;
  int goaways = 0;
  uint32_t goaway_error = 0;  // HTTP/2 error code of the last GOAWAY
  std::string goaway_debug;   // its debug data (gRPC puts a reason there)
  bool closed = false;        // the server closed the connection (EOF or reset)
  uint64_t bytes = 0;         // decrypted bytes received
};

class RawH2Client {
 public:
  // Connects to 127.0.0.1:`port` with the PKI certificate `prefix` (e.g.
  // "lombardia/partner"), verifying the server against the test CA; sends
  // the preface and an empty SETTINGS frame.
  static absl::StatusOr<std::unique_ptr<RawH2Client>> Connect(int port, const std::string& prefix);
  ~RawH2Client();
  RawH2Client(const RawH2Client&) = delete;
  RawH2Client& operator=(const RawH2Client&) = delete;

  // Opens `count` more streams, each a HEADERS frame for `path` with
  // END_HEADERS and without END_STREAM, draining the server meanwhile. Fails
  // with kUnavailable if the server closes the connection first.
  absl::Status OpenStreams(int count, const std::string& path = "/mir.v1.Referrals/List");

  // Sends a PING and reads until its ack arrives: the server handles a
  // connection's frames in order, so by then it has seen every HEADERS sent
  // before. kUnavailable if the connection closes first, kDeadlineExceeded
  // after `timeout`.
  absl::Status Sync(absl::Duration timeout = absl::Seconds(60));

  // Reads until the server closes the connection or `timeout` passes; true
  // if it closed.
  bool WaitForClose(absl::Duration timeout);

  int streams_opened() const { return next_stream_id_ / 2; }
  const H2Seen& seen() const { return seen_; }

 private:
  struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const;
  };
  struct SslFree {
    void operator()(SSL* ssl) const;
  };

  RawH2Client() = default;
  // Writes all of `bytes`, reading whatever the server sends meanwhile.
  absl::Status Write(const std::string& bytes, absl::Time deadline);
  // Reads what is available, waiting at most until `deadline` for the first
  // byte. Returns false when nothing more will come (closed or error).
  bool ReadSome(absl::Time deadline);
  void ParseFrames();

  int fd_ = -1;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::string inbox_;  // received bytes not yet parsed into frames
  uint32_t next_stream_id_ = 1;
  uint64_t pings_sent_ = 0;
  H2Seen seen_;
};

}  // namespace mir::testing

#endif  // MIR_TESTS_BROKER_RAW_H2_CLIENT_H_
