// Disk faults under a running broker (RELIABILITY.md): the store of a real
// broker, behind real gRPC and TLS, hits a full disk or a failed fsync
// through the fault VFS (storage/fault_vfs.h). The caller gets a clear
// refusal and no receipt, the health service says NOT_SERVING, the store
// refuses writes until the restart, and after it nothing acknowledged is
// lost. A corrupted database file is refused at start, never served.

#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "storage/fault_vfs.h"
#include "tests/broker/network_fixture.h"
#include "tests/broker/staff_client.h"
#include "tests/storage/storage_test_util.h"

namespace mir::testing {
namespace {

using ::absl::StatusCode;
using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

// The broker's overall health as its gRPC health service reports it, asked
// over mutual TLS as toscana's node.
absl::StatusOr<HealthCheckResponse::ServingStatus> Health(int port) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadPkiFile("ca.crt");
  tls.pem_cert_chain = ReadPkiFile("toscana/node.crt");
  tls.pem_private_key = ReadPkiFile("toscana/node.key");
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateCustomChannel(Address(port), grpc::SslCredentials(tls), args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  return response.status();
}

v1::EnvelopeHeader HeaderOf(const std::string& envelope) {
  v1::Envelope e;
  v1::EnvelopeHeader h;
  EXPECT_TRUE(e.ParseFromString(envelope) && h.ParseFromString(e.header()));
  return h;
}

std::string IntegrityCheck(const std::string& path) {
  storage::testing::RawDb db = storage::testing::OpenRaw(path);
  return storage::testing::QueryText(db.get(), "PRAGMA integrity_check");
}

class StoreFaultTest : public NetworkTest {
 protected:
  void SetUp() override {
    NetworkTest::SetUp();
    vfs_ = storage::FaultVfs::Get("mir-broker-fault-test");
    vfs_->Clear();
    // nvn's peers (toscana, lombardia) are not running, and a peer found
    // unreachable is tried again only after an hour (or on new work): once
    // the senders are idle, nothing but the call under test writes to nvn's
    // store, so the armed fault hits that call.
    broker::BrokerOptions& o = options_["nvn"];
    o.vfs_name = vfs_->name();
    o.initial_backoff = absl::Hours(1);
    o.max_backoff = absl::Hours(1);
    o.outbox_poll_interval = absl::Hours(1);
  }
  void TearDown() override {
    vfs_->ReleaseSyncs();  // a held sync would keep the broker from stopping
    vfs_->Clear();
    NetworkTest::TearDown();
  }

  // nvn's senders are idle: all `queued` envelopes are pending, every peer
  // they go to has been tried and found unreachable, and each sender sleeps
  // with nothing in flight or waiting to be looked at (new work probes at
  // once; the next probe is an hour away).
  bool SendersIdle(int queued) {
    auto pending = Store("nvn").ListOutbox(storage::OutboxState::kPending, 0);
    if (!pending.ok() || static_cast<int>(pending->size()) != queued) return false;
    std::map<std::string, int> tried;  // attempts, by peer with envelopes waiting
    for (const storage::OutboxEntry& e : *pending) tried[e.peer] += e.attempts;
    for (const auto& [peer, address] : options_["nvn"].peers) {
      auto loop = broker::PeerSender::LoopStateForTesting(&Store("nvn"), peer);
      if (!loop || !loop->idle) return false;
      auto waiting = tried.find(peer);
      if (waiting != tried.end() && (waiting->second == 0 || !loop->unreachable)) return false;
    }
    return true;
  }

  storage::FaultVfs* vfs_ = nullptr;
};

struct FaultCase {
  std::string name;
  bool on_sync;  // the fault hits fsync, else write
  storage::FaultCode fault;
  bool via_submit;  // Referrals.Submit by nvn's operator, else Exchange.Deliver by toscana
  StatusCode code;
  v1::ErrorReason reason;
};

TEST_F(StoreFaultTest, FullDiskOrFailedSyncRefusesWithoutReceiptGoesNotServingAndLosesNothing) {
  const std::vector<FaultCase> cases = {
      {"disk full under Deliver", false, storage::FaultCode::kFull, false,
       StatusCode::kResourceExhausted, v1::STORE_FULL},
      {"fsync EIO under Deliver", true, storage::FaultCode::kIoErrFsync, false,
       StatusCode::kUnavailable, v1::STORE_UNAVAILABLE},
      {"write EIO under Deliver", false, storage::FaultCode::kIoErrWrite, false,
       StatusCode::kUnavailable, v1::STORE_UNAVAILABLE},
      {"disk full under Submit", false, storage::FaultCode::kFull, true,
       StatusCode::kResourceExhausted, v1::STORE_FULL},
      {"fsync EIO under Submit", true, storage::FaultCode::kIoErrFsync, true,
       StatusCode::kUnavailable, v1::STORE_UNAVAILABLE},
  };
  auto op = PkiSigner("toscana/operator");
  for (size_t i = 0; i < cases.size(); ++i) {
    const FaultCase& c = cases[i];
    SCOPED_TRACE(c.name);
    vfs_->Clear();
    options_["nvn"].database_path = absl::StrCat(dir_, "/nvn-", i, ".db");
    ASSERT_TRUE(StartNode("nvn"));
    const int port = ports_["nvn"];

    // Acknowledged before the fault: deliveries with their receipts, and
    // referrals submitted by nvn's own operator.
    ExchangeClient toscana(port, "toscana/node");
    std::map<std::string, std::pair<std::string, std::string>>
        delivered;  // id -> envelope, receipt
    for (int k = 0; k < 4; ++k) {
      const std::string id = NewUuid();
      const std::string envelope = SignReferral(*op, id, "nvn");
      auto receipt = toscana.Deliver(envelope);
      ASSERT_OK(receipt);
      delivered[id] = {envelope, *receipt};
    }
    StaffClient national(port, "nvn/operator");
    std::map<std::string, std::string> submitted;  // id -> envelope
    for (int k = 0; k < 2; ++k) {
      auto id = national.SubmitReferral("toscana");
      ASSERT_OK(id);
      submitted[*id] = national.last_signed().front();
    }
    // 4 RECEIVED answers, 2 referrals and their 2 key releases (PROTOCOL.md §11.3).
    ASSERT_TRUE(WaitFor([&] { return SendersIdle(8); }));
    EXPECT_THAT(MIR_STATUS(Health(port)), StatusIs(StatusCode::kOk));
    EXPECT_EQ(*Health(port), HealthCheckResponse::SERVING);

    // The fault: the next write (or sync) of nvn's store fails, and keeps failing.
    if (c.on_sync) {
      vfs_->FailSyncsAfter(0, c.fault);
    } else {
      vfs_->FailWritesAfter(0, c.fault);
    }
    const std::string failed_id = NewUuid();
    const std::string failed_envelope = SignReferral(*op, failed_id, "nvn");
    auto attempt = [&]() -> absl::Status {
      if (c.via_submit) return national.SubmitReferral("toscana").status();
      return toscana.Deliver(failed_envelope).status();  // a receipt only with OK
    };
    EXPECT_THAT(attempt(), StatusIsReason(c.code, c.reason));
    EXPECT_GE(vfs_->injected_failures(), 1);
    EXPECT_EQ(*Health(port), HealthCheckResponse::NOT_SERVING);

    // Fail-stop: even with the disk healthy again, no write until a restart.
    vfs_->Clear();
    EXPECT_THAT(attempt(), StatusIsReason(StatusCode::kUnavailable, v1::STORE_UNAVAILABLE));
    EXPECT_EQ(*Health(port), HealthCheckResponse::NOT_SERVING);
    // Reads still work meanwhile.
    EXPECT_OK(national.Get(submitted.begin()->first));

    StopNode("nvn");
    EXPECT_EQ(IntegrityCheck(options_["nvn"].database_path), "ok");
    ASSERT_TRUE(StartNode("nvn"));
    EXPECT_EQ(*Health(port), HealthCheckResponse::SERVING);

    // Nothing acknowledged was lost: a resend gets the original receipt,
    // and the referral took effect once.
    ExchangeClient again(port, "toscana/node");
    for (const auto& [id, sent] : delivered) {
      auto receipt = again.Deliver(sent.first);
      ASSERT_OK(receipt);
      EXPECT_EQ(*receipt, sent.second);
      auto timeline = Store("nvn").Timeline(id);
      ASSERT_OK(timeline);
      EXPECT_EQ(timeline->size(), 2u);  // SUBMITTED, nvn's RECEIVED
    }
    for (const auto& [id, envelope] : submitted) {
      auto record = Store("nvn").GetReferral(id);
      ASSERT_OK(record);
      ASSERT_TRUE(record->has_value());
      EXPECT_EQ((*record)->referral_envelope, envelope);
      auto queued = Store("nvn").FindOutbox(HeaderOf(envelope).message_id());
      ASSERT_OK(queued);
      EXPECT_TRUE(queued->has_value()) << "the referral is still queued for toscana";
    }
    // The refused write was never acknowledged; resent, it is taken now
    // (or, if its commit reached the disk before the sync failed, its
    // receipt is the one stored then). Either way the receipt verifies.
    if (c.via_submit) {
      EXPECT_OK(StaffClient(port, "nvn/operator").SubmitReferral("toscana"));
    } else {
      auto receipt = again.Deliver(failed_envelope);
      ASSERT_OK(receipt);
      EXPECT_OK(VerifyReceipt(NodeAt("nvn").verifier(), *receipt, "nvn",
                              HeaderOf(failed_envelope).message_id(), Sha256(failed_envelope)));
    }
    auto chain = Store("nvn").VerifyAuditChain();
    ASSERT_OK(chain);
    EXPECT_TRUE(chain->ok) << chain->problem;
    StopNode("nvn");
  }
}

// A stalled disk holds up the writes waiting for it, not the node: reads are
// still answered meanwhile, and once the disk moves every waiting delivery
// is acknowledged. Handlers that waited for their commit on gRPC's callback
// threads (two on a 2-core machine) would starve every other call here.
TEST_F(StoreFaultTest, StalledDiskHoldsUpWritesButNotReads) {
  options_["nvn"].database_path = absl::StrCat(dir_, "/nvn-stalled.db");
  ASSERT_TRUE(StartNode("nvn"));
  const int port = ports_["nvn"];
  StaffClient national(port, "nvn/operator");
  auto known = national.SubmitReferral("toscana");
  ASSERT_OK(known);
  ASSERT_TRUE(WaitFor([&] { return SendersIdle(2); }));  // the referral and its key release

  auto op = PkiSigner("toscana/operator");
  constexpr int kWriters = 6;
  std::vector<std::string> envelopes;
  for (int k = 0; k < kWriters; ++k) envelopes.push_back(SignReferral(*op, NewUuid(), "nvn"));
  ExchangeClient toscana(port, "toscana/node");
  std::vector<absl::StatusOr<std::string>> receipts(kWriters, absl::UnknownError("no answer"));
  vfs_->HoldSyncs();
  std::vector<std::thread> writers;
  for (int k = 0; k < kWriters; ++k) {
    writers.emplace_back([&, k] { receipts[k] = toscana.Deliver(envelopes[k]); });
  }
  // One commit is stuck in its sync; the other deliveries wait behind it.
  EXPECT_TRUE(WaitFor([&] { return vfs_->held_syncs() == 1; }));
  EXPECT_OK(national.Get(*known));
  EXPECT_OK(national.List(v1::ListRequest()));
  vfs_->ReleaseSyncs();
  for (std::thread& writer : writers) writer.join();

  for (int k = 0; k < kWriters; ++k) {
    ASSERT_OK(receipts[k]);
    EXPECT_OK(VerifyReceipt(NodeAt("nvn").verifier(), *receipts[k], "nvn",
                            HeaderOf(envelopes[k]).message_id(), Sha256(envelopes[k])));
  }
  StopNode("nvn");
}

struct Corruption {
  std::string name;
  std::function<void(const std::string& path)> corrupt;
};

TEST_F(StoreFaultTest, CorruptDatabaseIsRefusedAtStartAndNeverServed) {
  options_["nvn"].vfs_name.clear();
  const std::vector<Corruption> corruptions = {
      {"b-tree pages overwritten",
       [](const std::string& path) {
         std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
         f.seekp(4096);  // pages 2 and 3, keeping the header
         const std::string junk(8192, '\xa5');
         f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
       }},
      {"not a database",
       [](const std::string& path) {
         std::ofstream(path, std::ios::binary | std::ios::trunc) << std::string(20000, 'x');
       }},
      {"truncated to half",
       [](const std::string& path) {
         std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
       }},
  };
  auto op = PkiSigner("toscana/operator");
  for (size_t i = 0; i < corruptions.size(); ++i) {
    SCOPED_TRACE(corruptions[i].name);
    const std::string path = absl::StrCat(dir_, "/corrupt-", i, ".db");
    options_["nvn"].database_path = path;
    ASSERT_TRUE(StartNode("nvn"));
    ExchangeClient toscana(ports_["nvn"], "toscana/node");
    for (int k = 0; k < 40; ++k) ASSERT_OK(toscana.Deliver(SignReferral(*op, NewUuid(), "nvn")));
    StopNode("nvn");  // closing checkpoints the WAL into the file
    ASSERT_FALSE(std::filesystem::exists(path + "-wal") &&
                 std::filesystem::file_size(path + "-wal") > 0);
    ASSERT_GE(std::filesystem::file_size(path), 4u * 4096);

    corruptions[i].corrupt(path);
    auto broker = broker::Broker::Start(options_["nvn"], clock_);
    EXPECT_THAT(MIR_STATUS(broker), StatusIsReason(StatusCode::kDataLoss, v1::STORE_UNAVAILABLE));
    if (!broker.ok()) {
      EXPECT_THAT(std::string(broker.status().message()), HasSubstr("restore from backup"));
    }
    // Nothing listens on its port.
    ExchangeClient refused(ports_["nvn"], "toscana/node");
    EXPECT_THAT(MIR_STATUS(refused.Deliver(SignReferral(*op, NewUuid(), "nvn"))),
                StatusIs(StatusCode::kUnavailable));
  }
}

// A store that fail-stops while a delivery is on the wire cannot record the
// peer's receipt: the envelope stays pending. The sender must then send
// nothing more (until the broker restarts) rather than resend the same
// envelope again and again, each time failing to record the answer.
TEST_F(StoreFaultTest, AFailStoppedStoreStopsItsSenderInsteadOfResendingInALoop) {
  ReleasePort("toscana");
  ReceiptingPeer toscana("toscana", ports_["toscana"]);
  toscana.Close();  // the first delivery waits until the store has failed
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("nvn/operator");
  const std::string id = NewUuid();
  ASSERT_OK(
      NodeAt("nvn").Submit(op->identity(), SignReferral(*op, id, "toscana"), TestReferralKey(id)));
  ASSERT_TRUE(WaitFor([&] { return toscana.waiting() == 1; }));

  // The disk breaks; the receipt comes back and cannot be recorded.
  vfs_->FailWritesAfter(0, storage::FaultCode::kIoErrWrite);
  toscana.Open();
  ASSERT_TRUE(WaitFor([&] {
    auto loop = broker::PeerSender::LoopStateForTesting(&Store("nvn"), "toscana");
    return Store("nvn").failed() && loop && loop->idle;
  })) << "the sender never settled: "
      << toscana.calls() << " Deliver calls";
  EXPECT_EQ(toscana.calls(), 1);
  // New work (there is none it could queue) wakes it: still nothing sent.
  // The count is read before the wake, which the sender may answer at once.
  const int64_t sleeps = broker::PeerSender::LoopStateForTesting(&Store("nvn"), "toscana")->sleeps;
  NodeAt("nvn").WakeAllSenders();
  ASSERT_TRUE(WaitFor([&] {
    auto loop = broker::PeerSender::LoopStateForTesting(&Store("nvn"), "toscana");
    return loop && loop->idle && loop->sleeps > sleeps;
  }));
  EXPECT_EQ(toscana.calls(), 1);
}

}  // namespace
}  // namespace mir::testing
