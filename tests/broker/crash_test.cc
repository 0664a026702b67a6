// Real mir-broker processes killed with SIGKILL mid-delivery and restarted:
// everything acknowledged is delivered, each referral takes effect once.

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "broker/node.h"
#include "common/loopback.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "tests/broker/broker_process.h"
#include "tests/broker/network.h"

namespace mir::testing {
namespace {

TEST(BrokerCrashTest, SigkillMidDeliveryLosesNothingAndAppliesNothingTwice) {
  const std::string dir = NewTempDir();
  const int nvn_port = FreePort(), toscana_port = FreePort();
  broker::BrokerOptions nvn = NodeOptions("nvn", nvn_port, dir);
  nvn.peers = {{"toscana", Address(toscana_port)}};
  broker::BrokerOptions toscana = NodeOptions("toscana", toscana_port, dir);
  toscana.peers = {{"nvn", Address(nvn_port)}};
  toscana.routes = {{"*", "nvn"}};
  for (auto* o : {&nvn, &toscana}) {
    o->in_flight_per_peer = 8;
    WriteConfig(*o, dir + "/" + o->node_id + ".json");
  }

  // A backlog at toscana, acknowledged to its operator before any broker runs.
  constexpr int kReferrals = 1500;
  std::vector<std::string> ids;
  {
    auto node = broker::Node::Create(toscana, RealClock::Get());
    ASSERT_OK(node);
    auto op = PkiSigner("toscana/operator");
    for (int i = 0; i < kReferrals; ++i) {
      ids.push_back(NewUuid());
      ASSERT_OK((*node)->Submit(op->identity(), SignReferral(*op, ids.back(), "nvn"),
                                TestReferralKey(ids.back())));
    }
  }

  BrokerProcess nvn_process(dir + "/nvn.json", dir + "/nvn.log");
  BrokerProcess toscana_process(dir + "/toscana.json", dir + "/toscana.log");
  ASSERT_TRUE(nvn_process.Start());
  ASSERT_TRUE(toscana_process.Start());
  std::mt19937 rng(std::random_device{}());
  int kills = 0;
  for (int round = 0; round < 10; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 400));
    BrokerProcess& victim = (rng() % 2) ? nvn_process : toscana_process;
    int status = victim.Kill(SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the broker was not running when killed: see " << dir << "/*.log";
    ++kills;
    ASSERT_TRUE(victim.Start());
  }

  // Drain: wait until every envelope both ways is receipted and every
  // referral answered at toscana, read from the running brokers' files (a
  // bounded wait: slow builds take longer), then stop them cleanly and look.
  // nvn's answers travel several to an envelope (PROTOCOL.md §10.8), so its
  // outbox holds fewer rows than referrals.
  const std::string all = std::to_string(kReferrals);
  auto count = [](const broker::BrokerOptions& o, const std::string& sql) {
    return ReadOnlyDb(o.database_path).Text(sql);
  };
  const bool drained = WaitFor(
      [&] {
        return count(toscana, "SELECT count(*) FROM outbox WHERE state = 1") == all &&
               count(toscana, "SELECT count(*) FROM referrals WHERE state = 2") == all &&
               count(nvn, "SELECT count(*) FROM outbox WHERE state != 1") == "0";
      },
      absl::Minutes(3));
  // A broker restarted by the last round may still be starting: let both
  // listen before asking them to stop, so the stop is the clean one tested.
  EXPECT_TRUE(
      WaitFor([&] { return LoopbackListening(nvn_port) && LoopbackListening(toscana_port); }));
  EXPECT_EQ(nvn_process.Kill(SIGTERM), 0);
  EXPECT_EQ(toscana_process.Kill(SIGTERM), 0);
  ASSERT_TRUE(drained) << "not drained after " << kills << " kills; logs in " << dir;

  auto t = broker::Node::Create(toscana, RealClock::Get());
  auto n = broker::Node::Create(nvn, RealClock::Get());
  ASSERT_OK(t);
  ASSERT_OK(n);
  storage::Store& at_toscana = (*t)->store();
  storage::Store& at_nvn = (*n)->store();
  // Every acknowledged submission exists exactly once at nvn, its effect once.
  auto referrals = at_nvn.ListReferrals(kReferrals * 2);
  ASSERT_OK(referrals);
  EXPECT_EQ(referrals->size(), static_cast<size_t>(kReferrals));
  for (const std::string& id : ids) {
    auto timeline = at_nvn.Timeline(id);
    ASSERT_OK(timeline);
    ASSERT_EQ(timeline->size(), 2u) << id;
    EXPECT_EQ((*timeline)[0].to_state, v1::SUBMITTED);
    EXPECT_EQ((*timeline)[1].to_state, v1::RECEIVED);
    EXPECT_EQ(StateAt(at_toscana, id), v1::RECEIVED);
  }
  // Every delivery is proven by a receipt that verifies against the exact bytes.
  auto delivered = at_toscana.ListOutbox(storage::OutboxState::kDelivered, kReferrals * 2);
  ASSERT_OK(delivered);
  for (const auto& entry : *delivered) {
    EXPECT_OK(VerifyReceipt((*t)->verifier(), entry.receipt, "nvn", entry.message_id,
                            Sha256(entry.envelope)));
  }
  // The logs name messages and referrals by id, never by their content.
  for (const char* node : {"nvn", "toscana"}) {
    std::ifstream log(dir + "/" + node + ".log");
    std::stringstream text;
    text << log.rdbuf();
    EXPECT_GT(text.str().size(), 0u);
    EXPECT_EQ(text.str().find("TEST-"), std::string::npos) << "person code in " << node << ".log";
    EXPECT_EQ(text.str().find("PRJ-TEST"), std::string::npos);
  }
  for (storage::Store* store : {&at_toscana, &at_nvn}) {
    auto chain = store->VerifyAuditChain();
    ASSERT_OK(chain);
    EXPECT_TRUE(chain->ok) << chain->problem;
  }
}

}  // namespace
}  // namespace mir::testing
