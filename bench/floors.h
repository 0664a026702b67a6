#ifndef MIR_BENCH_FLOORS_H_
#define MIR_BENCH_FLOORS_H_

// The floors: what the libraries and the disk under the broker can do at
// best on this machine, measured in the same run as the broker so that the
// broker's figures read as ratios (issue 7).

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/network.h"
#include "bench/util.h"

namespace mir::bench {

// Ed25519 operations per second on one core (one thread), over a message of
// `message_bytes` (a 1 KiB referral's signed bytes are about 1.1 KiB).
struct Ed25519Floor {
  std::string library;
  double sign_per_s = 0;
  double verify_per_s = 0;
};
std::vector<Ed25519Floor> MeasureEd25519(size_t message_bytes, absl::Duration each);

// Our own crypto layer on a real signed 1 KiB referral envelope, one thread:
// Signer::SignEnvelope and Verifier::Verify (parse, cached certificate chain,
// signature, header, validity, role), for comparison with the bare library.
struct EnvelopeCrypto {
  double sign_envelope_per_s = 0;
  double verify_envelope_per_s = 0;
};
absl::StatusOr<EnvelopeCrypto> MeasureEnvelopeCrypto(const Pki& pki, absl::Duration each);

// SQLite WAL, synchronous=FULL, 1 KiB rows, on the disk of `dir`.
struct SqliteFloor {
  double fdatasync_us = 0;     // median write(4 KiB)+fdatasync
  double commits_per_s_1 = 0;  // one row per transaction
  double commit_p50_us_1 = 0;
  double commit_p99_us_1 = 0;
  double commits_per_s_64 = 0;  // 64 rows per transaction
  double commit_p50_us_64 = 0;
  double commit_p99_us_64 = 0;
};
absl::StatusOr<SqliteFloor> MeasureSqlite(const std::string& dir, int single_commits,
                                          int grouped_commits);

// A gRPC unary echo of `payload_bytes` over loopback mutual TLS (the same
// credentials and callback API as the broker), served by a child process.
class EchoServer {
 public:
  // Forks `self_exe --serve-echo PORT --pki DIR` and waits until it listens.
  static absl::StatusOr<std::unique_ptr<EchoServer>> Start(const std::string& self_exe,
                                                           const Pki& pki);
  ~EchoServer();
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  EchoServer(pid_t pid, int port) : pid_(pid), port_(port) {}
  pid_t pid_;
  int port_;
};

// Closed loop of `calls` echoes with `in_flight` outstanding, as the
// operator client (toscana/operator certificate).
absl::StatusOr<RunFigures> MeasureEcho(const Pki& pki, int port, int in_flight, int calls,
                                       size_t payload_bytes);

// The child side: serves Echo until killed. Returns a process exit code.
int ServeEcho(int port, const std::string& pki_dir);

}  // namespace mir::bench

#endif  // MIR_BENCH_FLOORS_H_
