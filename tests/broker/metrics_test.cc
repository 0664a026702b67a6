// The node's Prometheus metrics (broker/metrics.h), scraped over plain HTTP
// from real brokers on loopback as Prometheus would.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "broker/config.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/proto_time.h"
#include "grpcpp/client_context.h"
#include "storage/fault_vfs.h"
#include "tests/broker/network_fixture.h"
#include "tests/broker/staff_client.h"

namespace mir::testing {
namespace {

// GET `path` from 127.0.0.1:`port` over HTTP/1.0; the body, or the error.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) reply.append(buf, n);
    }
  }
  close(fd);
  const size_t body = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) {
    return absl::UnavailableError("no HTTP answer: " + reply.substr(0, 100));
  }
  if (reply.find(" 200 ") > reply.find("\r\n")) {
    return absl::UnavailableError("status line: " + reply.substr(0, reply.find("\r\n")));
  }
  return reply.substr(body + 4);
}

// The value of `series` (name with its labels, as exposed) in `text`; NaN
// when absent.
double Value(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::numeric_limits<double>::quiet_NaN();
}

// The node's page (Referrals.GetNodeStatus) as `staff` reads it.
absl::StatusOr<v1::NodeStatus> NodePage(StaffClient& staff) {
  grpc::ClientContext context;
  v1::NodeStatus status;
  grpc::Status rpc = staff.stub().GetNodeStatus(&context, v1::NodeStatusRequest(), &status);
  if (!rpc.ok()) return FromGrpcStatus(rpc);
  return status;
}

class MetricsTest : public NetworkTest {
 protected:
  void SetUp() override {
    NetworkTest::SetUp();
    for (auto& [node, options] : options_) options.metrics_listen_address = "127.0.0.1:0";
  }
  std::string Scrape(const std::string& node) {
    auto text = HttpGet(brokers_.at(node)->metrics().port(), "/metrics");
    EXPECT_OK(text);
    return text.ok() ? *text : "";
  }
  // Waits until `node`'s `series` satisfies `ok`; false (and the last
  // scrape in the failure) if it never does.
  ::testing::AssertionResult SeriesBecomes(const std::string& node, const std::string& series,
                                           const std::function<bool(double)>& ok) {
    std::string last;
    if (WaitFor([&] {
          last = Scrape(node);
          return ok(Value(last, series));
        })) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << node << ": " << series << " never as expected in\n"
                                         << last;
  }
};

TEST(MetricsConfigTest, ListenAddressFromTheConfigFile) {
  const std::string path = NewTempDir() + "/node.json";
  std::ofstream(path) << R"({
    "nodeId": "toscana", "listenAddress": "127.0.0.1:7102",
    "metricsListenAddress": "127.0.0.1:9102",
    "databasePath": "/var/lib/mir/toscana.db",
    "caCertificate": "ca.crt", "nodeCertificate": "node.crt", "nodeKey": "node.key",
    "privacy": {"encryptionKeys": [{"key": "enc.key", "certificate": "enc.crt"}],
                "encryptionCertificatesDir": "enc", "keyEncryptionKey": "kek.hex"}
  })";
  auto options = broker::LoadConfigFile(path);
  ASSERT_OK(options);
  EXPECT_EQ(options->metrics_listen_address, "127.0.0.1:9102");
  EXPECT_EQ(broker::BrokerOptions().metrics_listen_address, "");  // none by default
}

TEST_F(MetricsTest, NoListenerUnlessConfigured) {
  options_["toscana"].metrics_listen_address.clear();
  ASSERT_TRUE(StartNode("toscana"));
  EXPECT_EQ(brokers_["toscana"]->metrics().port(), 0);
  // The figures are there all the same (for the node's page).
  EXPECT_FALSE(brokers_["toscana"]->metrics().Figures().store_failed);
}

TEST_F(MetricsTest, QueueDeliveriesRefusalsAndCertificates) {
  // nvn is down: what toscana submits waits for it.
  ASSERT_TRUE(StartNode("toscana"));
  StaffClient anna(ports_["toscana"], "toscana/operator");
  auto id = anna.SubmitReferral("nvn", v1::URGENCY_EMERGENCY_24H);
  ASSERT_OK(id);
  EXPECT_TRUE(SeriesBecomes("toscana", R"(mir_outbox_pending{peer="nvn"})",
                            [](double v) { return v >= 1; }));
  EXPECT_TRUE(SeriesBecomes("toscana", R"(mir_peer_reachable{peer="nvn"})",
                            [](double v) { return v == 0; }));
  std::string text = Scrape("toscana");
  EXPECT_GE(Value(text, R"(mir_outbox_oldest_pending_seconds{peer="nvn"})"), 0);
  EXPECT_EQ(Value(text, R"(mir_dead_letters{peer="nvn"})"), 0);
  EXPECT_EQ(Value(text, R"(mir_deliveries_total{peer="nvn"})"), 0);
  EXPECT_EQ(Value(text, "mir_submit_seconds_count"), 1);
  EXPECT_GE(Value(text, "mir_store_fsyncs_total"), 1);
  EXPECT_GE(Value(text, "mir_store_commit_seconds_count"), 1);
  EXPECT_EQ(Value(text, "mir_store_failed"), 0);
  EXPECT_EQ(Value(text, "mir_emergencies_overdue"), 0);
  for (const char* subject : {"node", "ca", "encryption"}) {
    SCOPED_TRACE(subject);
    const std::string series =
        std::string(R"(mir_certificate_expiry_seconds{subject=")") + subject + "\"}";
    EXPECT_GT(Value(text, series), 0);
  }

  // nvn comes up: the queue drains, and each side counts it.
  ASSERT_TRUE(StartNode("nvn"));
  EXPECT_TRUE(SeriesBecomes("toscana", R"(mir_deliveries_total{peer="nvn"})",
                            [](double v) { return v >= 1; }));
  EXPECT_TRUE(SeriesBecomes("toscana", R"(mir_outbox_pending{peer="nvn"})",
                            [](double v) { return v == 0; }));
  EXPECT_TRUE(SeriesBecomes("toscana", R"(mir_peer_reachable{peer="nvn"})",
                            [](double v) { return v == 1; }));
  EXPECT_TRUE(SeriesBecomes("nvn", R"(mir_received_total{kind="REFERRAL"})",
                            [](double v) { return v >= 1; }));
  text = Scrape("nvn");
  EXPECT_GE(Value(text, "mir_deliver_seconds_count"), 1);
  EXPECT_GT(Value(text, R"(mir_certificate_expiry_seconds{subject="peer:toscana"})"), 0);

  // A bad delivery is refused and counted by its reason.
  ExchangeClient toscana_node(ports_["nvn"], "toscana/node");
  auto refused = toscana_node.Deliver("not an envelope");
  ASSERT_FALSE(refused.ok());
  const std::string reason = ReasonName(refused.status());
  ASSERT_FALSE(reason.empty()) << refused.status();
  EXPECT_TRUE(SeriesBecomes("nvn", R"(mir_refusals_total{peer="toscana",reason=")" + reason + "\"}",
                            [](double v) { return v == 1; }));

  // Nothing personal, and no id, in any label or value.
  for (const char* node : {"toscana", "nvn"}) {
    SCOPED_TRACE(node);
    text = Scrape(node);
    EXPECT_EQ(text.find(*id), std::string::npos);
    EXPECT_EQ(text.find(id->substr(0, 8)), std::string::npos);
    EXPECT_EQ(text.find("TEST-PERSON"), std::string::npos);
    EXPECT_EQ(text.find("fictional"), std::string::npos);
  }
}

// The node's page (Referrals.GetNodeStatus, mirctl node) shows the figures
// the metrics export, from the same snapshot; operators only.
TEST_F(MetricsTest, NodePageShowsTheMetricsFiguresToOperatorsOnly) {
  const absl::Time before = absl::FromUnixSeconds(absl::ToUnixSeconds(clock_->Now()));
  ASSERT_TRUE(StartNode("toscana"));  // nvn is down
  StaffClient anna(ports_["toscana"], "toscana/operator");
  ASSERT_OK(anna.SubmitReferral("nvn"));
  ASSERT_TRUE(SeriesBecomes("toscana", R"(mir_peer_reachable{peer="nvn"})",
                            [](double v) { return v == 0; }));
  auto status = NodePage(anna);
  ASSERT_OK(status);
  const std::string text = Scrape("toscana");
  EXPECT_EQ(status->node_id(), "toscana");
  ASSERT_EQ(status->peers_size(), 1);
  const v1::PeerStatus& nvn = status->peers(0);
  EXPECT_EQ(nvn.peer(), "nvn");
  EXPECT_FALSE(nvn.reachable());
  // Unreachable since the failed call, which came after the start.
  ASSERT_TRUE(nvn.has_reachability_since());
  EXPECT_GE(FromProtoTime(nvn.reachability_since()), before);
  EXPECT_LE(FromProtoTime(nvn.reachability_since()), FromProtoTime(status->at()));
  EXPECT_EQ(static_cast<double>(nvn.pending()), Value(text, R"(mir_outbox_pending{peer="nvn"})"));
  EXPECT_GE(nvn.pending(), 1u);
  EXPECT_EQ(nvn.dead_letters(), 0u);
  EXPECT_FALSE(status->store_failed());
  EXPECT_EQ(status->emergencies_overdue(), 0u);
  std::map<std::string, int64_t> expiry;
  for (const auto& c : status->certificates()) expiry[c.subject()] = c.seconds_left();
  for (const char* subject : {"node", "ca", "encryption"}) {
    SCOPED_TRACE(subject);
    ASSERT_EQ(expiry.count(subject), 1u);
    EXPECT_GT(expiry[subject], 0);
    const std::string series =
        std::string(R"(mir_certificate_expiry_seconds{subject=")") + subject + "\"}";
    EXPECT_NEAR(static_cast<double>(expiry[subject]), Value(text, series), 60);
  }
  // A partner may not see the node's page.
  StaffClient partner(ports_["toscana"], "toscana/partner");
  grpc::ClientContext context;
  v1::NodeStatus refused;
  EXPECT_THAT(
      FromGrpcStatus(partner.stub().GetNodeStatus(&context, v1::NodeStatusRequest(), &refused)),
      StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
}

// A message that arrives before an earlier one of its node waits for it; the
// scrape and the node's page show how many wait, by the node that sent them,
// and nothing once the earlier one has come.
TEST_F(MetricsTest, EarlyMessagesShowByTheNodeThatSentThem) {
  ASSERT_TRUE(StartNode("nvn"));
  auto op = PkiSigner("toscana/operator");
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  const std::string id = NewUuid();
  // toscana's second message about a referral nvn does not know yet.
  ASSERT_OK(toscana.Deliver(SignTransition(*op, id, v1::WITHDRAWN, "nvn", 2)));
  EXPECT_TRUE(SeriesBecomes("nvn", R"(mir_held_messages{node="toscana"})",
                            [](double v) { return v == 1; }));
  EXPECT_GE(Value(Scrape("nvn"), R"(mir_oldest_held_seconds{node="toscana"})"), 0);
  StaffClient anna(ports_["nvn"], "nvn/operator");
  auto status = NodePage(anna);
  ASSERT_OK(status);
  ASSERT_EQ(status->held_size(), 1);
  EXPECT_EQ(status->held(0).node(), "toscana");
  EXPECT_EQ(status->held(0).count(), 1u);
  EXPECT_EQ(Scrape("nvn").find(id.substr(0, 8)), std::string::npos);  // no referral id

  // The first comes: both apply, and nothing waits.
  ASSERT_OK(toscana.Deliver(SignReferral(*op, id, "nvn")));
  EXPECT_TRUE(StateIs("nvn", id, v1::WITHDRAWN));
  EXPECT_TRUE(std::isnan(Value(Scrape("nvn"), R"(mir_held_messages{node="toscana"})")));
  status = NodePage(anna);
  ASSERT_OK(status);
  EXPECT_EQ(status->held_size(), 0);
}

// The series docs/alerts.yml alerts on rise when their cause happens.
TEST_F(MetricsTest, OverdueEmergencyDeadLettersAndFailedStoreShow) {
  // Emergencies are overdue almost at once, and nvn stays down.
  options_["toscana"].emergency_ack_timeout = absl::Milliseconds(100);
  storage::FaultVfs* vfs = storage::FaultVfs::Get("mir-metrics-test");
  vfs->Clear();
  options_["toscana"].vfs_name = vfs->name();
  ASSERT_TRUE(StartNode("toscana"));
  StaffClient anna(ports_["toscana"], "toscana/operator");
  ASSERT_OK(anna.SubmitReferral("nvn", v1::URGENCY_EMERGENCY_24H));
  EXPECT_TRUE(SeriesBecomes("toscana", "mir_emergencies_overdue", [](double v) { return v == 1; }));

  // What the sender gives up on waits for staff as dead letters.
  auto pending = Store("toscana").ListOutbox(storage::OutboxState::kPending, 0);
  ASSERT_OK(pending);
  ASSERT_FALSE(pending->empty());
  for (const storage::OutboxEntry& e : *pending) {
    ASSERT_OK(Store("toscana").MarkDead(e.id, "given up for the test"));
  }
  const double dead = static_cast<double>(pending->size());
  EXPECT_TRUE(SeriesBecomes("toscana", R"(mir_dead_letters{peer="nvn"})",
                            [dead](double v) { return v == dead; }));
  EXPECT_EQ(Value(Scrape("toscana"), R"(mir_outbox_pending{peer="nvn"})"), 0);

  // A failed sync fail-stops the store.
  EXPECT_EQ(Value(Scrape("toscana"), "mir_store_failed"), 0);
  vfs->FailSyncsAfter(0, storage::FaultCode::kIoErrFsync);
  EXPECT_THAT(anna.SubmitReferral("nvn").status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(SeriesBecomes("toscana", "mir_store_failed", [](double v) { return v == 1; }));
  StopNode("toscana");
  vfs->Clear();
}

TEST_F(MetricsTest, TakenPortRefusesToStart) {
  PortHold taken;
  options_["toscana"].metrics_listen_address = Address(taken.port());
  // The port is bound (not listening) by the hold: the exposer cannot bind.
  const ::testing::AssertionResult started = StartNode("toscana");
  EXPECT_FALSE(started);
  EXPECT_THAT(started.message(), ::testing::HasSubstr("cannot serve metrics on"));
}

}  // namespace
}  // namespace mir::testing
