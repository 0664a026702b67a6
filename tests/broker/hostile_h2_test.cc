// A client with a valid certificate of the network that never acknowledges
// the server's HTTP/2 SETTINGS frame, and so is not held to
// MAX_CONCURRENT_STREAMS by gRPC 1.51, opens tens of thousands of streams on
// one connection and never sends their messages. A legitimate client must
// still be served, and the broker's memory should stay bounded. The broker
// runs as a child process so that its RSS is its own.
//
// On gRPC 1.51 nothing the library offers bounds that memory
// (broker/server_limits.h has the measurements), so the memory test measures,
// prints and skips there, with the figures in the skip reason; it asserts the
// bound on a gRPC that enforces the limit before the ack (upstream PR #34638).
//
// MIR_H2_STREAMS overrides the number of streams (default 20000), to
// measure by hand.

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "tests/broker/broker_process.h"
#include "tests/broker/network.h"
#include "tests/broker/raw_h2_client.h"
#include "tests/broker/staff_client.h"

namespace mir::testing {
namespace {

// Measured: +236 MiB for 20,000 streams on gRPC 1.51 (about 12 KiB each).
// A gRPC that refuses streams beyond MAX_CONCURRENT_STREAMS (100) before the
// ack keeps the flood to a few MiB; 64 MiB leaves room for a loaded machine
// and allocator noise without letting the unbounded case pass.
constexpr int64_t kMaxGrowthKib = 64 * 1024;

// True if this gRPC is known to apply MAX_CONCURRENT_STREAMS before the
// client acks SETTINGS. Assumed from 1.60, the first release after
// PR #34638 merged (not checked here: only 1.51 was at hand).
bool GrpcLimitsStreamsBeforeSettingsAck() {
  int major = 0, minor = 0;
  const std::string version = grpc::Version();
  const std::vector<absl::string_view> parts = absl::StrSplit(version, '.');
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major) ||
      !absl::SimpleAtoi(parts[1], &minor)) {
    return true;  // unknown: assert, and let a failure say so
  }
  return major > 1 || minor >= 60;
}

int Streams() {
  int n = 20000;
  if (const char* env = std::getenv("MIR_H2_STREAMS"); env != nullptr) {
    if (!absl::SimpleAtoi(env, &n) || n < 1) n = 20000;
  }
  return n;
}

// A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), or -1.
int64_t ProcStatusKib(pid_t pid, absl::string_view field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, absl::StrCat(field, ":"))) {
      std::istringstream value(line.substr(field.size() + 1));
      int64_t kib = -1;
      value >> kib;
      return kib;
    }
  }
  return -1;
}

absl::Status List(StaffClient& client) {
  v1::ListRequest request;
  auto listed = client.List(request);
  return listed.status();
}

class HostileH2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir();
    PortHold hold;
    port_ = hold.port();
    options_ = NodeOptions("toscana", port_, dir_);
    WriteConfig(options_, dir_ + "/toscana.json");
    broker_ = std::make_unique<BrokerProcess>(dir_ + "/toscana.json", dir_ + "/toscana.log");
    hold.Release();
    ASSERT_TRUE(broker_->Start());
    // An event, not a sleep: the first connection that completes mutual TLS.
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadPkiFile("ca.crt");
    tls.pem_cert_chain = ReadPkiFile("toscana/operator.crt");
    tls.pem_private_key = ReadPkiFile("toscana/operator.key");
    auto channel = grpc::CreateChannel(Address(port_), grpc::SslCredentials(tls));
    ASSERT_TRUE(channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Minutes(1))))
        << "broker did not start: see " << dir_ << "/toscana.log";
  }

  // Floods the broker from "lombardia/partner" (a valid certificate of the
  // network, not even a node's) and reports what the attacker saw.
  void Flood(RawH2Client& attacker, int streams) {
    const absl::Status opened = attacker.OpenStreams(streams);
    // Once the server has answered a PING sent after the last HEADERS, it has
    // parsed every stream we managed to open.
    const absl::Status synced = opened.ok() ? attacker.Sync() : opened;
    const H2Seen& s = attacker.seen();
    std::cout << "attacker: opened " << attacker.streams_opened() << " of " << streams
              << " streams (" << opened << "), sync: " << synced << "; saw " << s.rst_streams
              << " RST_STREAM (last error " << s.last_rst_error << "), " << s.headers
              << " HEADERS, " << s.goaways << " GOAWAY (error " << s.goaway_error << " '"
              << s.goaway_debug << "'), closed=" << s.closed << std::endl;
  }

  std::string dir_;
  int port_ = 0;
  broker::BrokerOptions options_;
  std::unique_ptr<BrokerProcess> broker_;
};

TEST_F(HostileH2Test, StreamFloodWithoutSettingsAckKeepsBrokerMemoryBounded) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "ASan's quarantine and redzones make RSS say nothing about the broker's own "
                  "memory; StreamFloodWithoutSettingsAckLeavesLegitimateClientServed still runs";
#endif
  StaffClient staff(port_, "toscana/operator");
  ASSERT_OK(List(staff));  // everything a served call needs is allocated before the baseline
  const int64_t before = ProcStatusKib(broker_->pid(), "VmRSS");
  ASSERT_GT(before, 0);

  const int streams = Streams();
  auto attacker = RawH2Client::Connect(port_, "lombardia/partner");
  ASSERT_OK(attacker);
  Flood(**attacker, streams);
  const int64_t after = ProcStatusKib(broker_->pid(), "VmRSS");
  // The high-water mark also covers a peak the broker has since given back.
  const int64_t peak = ProcStatusKib(broker_->pid(), "VmHWM");
  std::cout << "broker RSS: " << before / 1024 << " MiB before, " << after / 1024 << " MiB after "
            << streams << " streams, peak " << peak / 1024 << " MiB" << std::endl;
  EXPECT_OK(List(staff));  // served while the attacking connection is open
  if (!GrpcLimitsStreamsBeforeSettingsAck()) {
    GTEST_SKIP() << "known gap, not asserted: gRPC " << grpc::Version()
                 << " does not apply MAX_CONCURRENT_STREAMS before the SETTINGS ack and charges "
                    "none of these streams to the ResourceQuota (broker/server_limits.h); "
                 << streams << " streams grew the broker by " << (peak - before) / 1024
                 << " MiB (bound " << kMaxGrowthKib / 1024 << " MiB)";
  }
  EXPECT_LT(peak - before, kMaxGrowthKib) << "see " << dir_ << "/toscana.log";
}

TEST_F(HostileH2Test, StreamFloodWithoutSettingsAckLeavesLegitimateClientServed) {
  auto attacker = RawH2Client::Connect(port_, "lombardia/partner");
  ASSERT_OK(attacker);
  Flood(**attacker, Streams());
  // While the attacking connection is still open...
  StaffClient staff(port_, "toscana/operator");
  EXPECT_OK(List(staff));
  // ...and after it is gone.
  attacker->reset();
  StaffClient later(port_, "toscana/operator");
  EXPECT_OK(List(later));
}

}  // namespace
}  // namespace mir::testing
