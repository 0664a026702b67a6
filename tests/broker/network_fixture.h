#ifndef MIR_TESTS_BROKER_NETWORK_FIXTURE_H_
#define MIR_TESTS_BROKER_NETWORK_FIXTURE_H_

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "crypto/envelope_bytes.h"
#include "tests/broker/network.h"
#include "tests/broker/staff_client.h"
#include "tests/testing/enc_cert.h"

namespace mir::testing {

// toscana and lombardia reach each other through nvn, the relay.
class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir();
    for (const char* node : {"nvn", "toscana", "lombardia"}) {
      PortHold hold;
      ports_[node] = hold.port();
      held_ports_.insert_or_assign(node, std::move(hold));
    }
    options_["nvn"] = NodeOptions("nvn", ports_["nvn"], dir_);
    options_["nvn"].peers = {{"toscana", Address(ports_["toscana"])},
                             {"lombardia", Address(ports_["lombardia"])}};
    for (const char* region : {"toscana", "lombardia"}) {
      options_[region] = NodeOptions(region, ports_[region], dir_);
      options_[region].peers = {{"nvn", Address(ports_["nvn"])}};
      options_[region].routes = {{"*", "nvn"}};
    }
  }
  // Adds `region` (a node of the test PKI, e.g. progetto) reaching the others
  // through nvn, as toscana and lombardia do; `nvn_knows_it`: nvn has it as
  // a configured peer. Call before starting nvn and the region.
  void AddRegion(const std::string& region, bool nvn_knows_it = true) {
    PortHold hold;
    ports_[region] = hold.port();
    held_ports_.insert_or_assign(region, std::move(hold));
    options_[region] = NodeOptions(region, ports_[region], dir_);
    options_[region].peers = {{"nvn", Address(ports_["nvn"])}};
    options_[region].routes = {{"*", "nvn"}};
    if (nvn_knows_it) options_["nvn"].peers[region] = Address(ports_[region]);
  }
  // Stops the brokers while the fixture is whole: their threads use members
  // of derived fixtures (a fake clock) that are destroyed before ours.
  void TearDown() override { brokers_.clear(); }

  ::testing::AssertionResult StartNode(const std::string& node) {
    ReleasePort(node);
    auto b = broker::Broker::Start(options_[node], clock_);
    if (!b.ok()) return ::testing::AssertionFailure() << node << ": " << b.status();
    brokers_[node] = std::move(*b);
    return ::testing::AssertionSuccess();
  }
  void StopNode(const std::string& node) {
    brokers_.erase(node);
    // Best effort: connections the node had may still hold the port.
    held_ports_.insert_or_assign(node, PortHold(ports_[node]));
  }
  // For a stand-in server on `node`'s port.
  void ReleasePort(const std::string& node) { held_ports_.erase(node); }
  storage::Store& Store(const std::string& node) { return brokers_.at(node)->node().store(); }
  broker::Node& NodeAt(const std::string& node) { return brokers_.at(node)->node(); }

  void StartAll() {
    ASSERT_TRUE(StartNode("nvn"));
    ASSERT_TRUE(StartNode("toscana"));
    ASSERT_TRUE(StartNode("lombardia"));
  }
  // The Referrals client of a PKI person, e.g. "toscana/operator", at its node.
  StaffClient Staff(const std::string& prefix) {
    return StaffClient(ports_[prefix.substr(0, prefix.find('/'))], prefix);
  }
  // Lets toscana seal referrals for veneto (an encryption certificate for
  // it among toscana's), a node nvn has no route to: what toscana sends
  // there is refused for good. Call before starting toscana.
  ::testing::AssertionResult LetToscanaSealForVeneto() {
    const std::string certs = CopyEncryptionCertificates(dir_);
    auto veneto = MakeEncryptionCertificateForTesting(PkiPath("ca.crt"), PkiPath("ca.key"),
                                                      "veneto", absl::Now() - absl::Hours(1),
                                                      absl::Now() + absl::Hours(24));
    if (!veneto.ok()) return ::testing::AssertionFailure() << veneto.status();
    std::ofstream(certs + "/veneto.crt") << veneto->second;
    options_["toscana"].encryption_certificates_dir = certs;
    return ::testing::AssertionSuccess();
  }
  // Waits until the referral reaches `state` at `node`.
  bool StateIs(const std::string& node, const std::string& id, v1::ReferralState state) {
    return WaitFor([&] { return StateAt(Store(node), id) == state; });
  }

  // Submits a referral at toscana through the node core, as the Referrals API does.
  std::string SubmitReferral(const std::string& destination,
                             v1::Urgency urgency = v1::URGENCY_ORDINARY,
                             const std::string& id = NewUuid()) {
    auto op = PkiSigner("toscana/operator");
    auto submitted = NodeAt("toscana").Submit(
        op->identity(), SignReferral(*op, id, destination, urgency), TestReferralKey(id));
    EXPECT_OK(submitted);
    return id;
  }
  // `author` makes `to` at its own node, addressed to `recipient`.
  void Transition(const std::string& author, const std::string& referral_id, v1::ReferralState to,
                  const std::string& recipient) {
    auto signer = PkiSigner(author);
    const std::string node = signer->identity().node;
    const uint64_t seq = NextSequence(Store(node), referral_id, node);
    auto result = NodeAt(node).Submit(signer->identity(),
                                      SignTransition(*signer, referral_id, to, recipient, seq));
    ASSERT_OK(result) << v1::ReferralState_Name(to);
  }

  std::string dir_;
  std::map<std::string, int> ports_;
  // Each node's port while the node is down (a test beside this one cannot take it).
  std::map<std::string, PortHold> held_ports_;
  std::map<std::string, broker::BrokerOptions> options_;
  std::map<std::string, std::unique_ptr<broker::Broker>> brokers_;
  const Clock* clock_ = RealClock::Get();
};

}  // namespace mir::testing

#endif  // MIR_TESTS_BROKER_NETWORK_FIXTURE_H_
