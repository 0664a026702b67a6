// Certificates without downtime (docs/OPERATIONS.md §3): revocation lists
// checked on TLS and on every envelope's author, a CA bundle for a CA
// rotation, and Broker::Reload (what SIGHUP calls) swapping key, certificate
// (for TLS and for the node's signatures), CAs and CRLs while connections
// and deliveries go on. Real TLS on loopback.

#include <filesystem>
#include <fstream>

#include "broker/broker.h"
#include "crypto/verifier.h"
#include "tests/broker/network_fixture.h"

namespace mir::testing {
namespace {

void WriteText(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(tmp, path);
}

// Each test's nvn reads its CA bundle, CRL, key and certificate from copies
// in the test's folder, which the test rewrites before a Reload, as an
// operator would before SIGHUP.
class CertsTest : public NetworkTest {
 protected:
  void SetUp() override {
    NetworkTest::SetUp();
    pki_ = dir_ + "/nvn-pki";
    std::filesystem::create_directories(pki_);
    SetFile("ca.pem", ReadPkiFile("ca.crt"));
    SetFile("crl.pem", ReadPkiFile("crl-empty.pem"));
    SetFile("node.crt", ReadPkiFile("nvn/node.crt"));
    SetFile("node.key", ReadPkiFile("nvn/node.key"));
    broker::BrokerOptions& nvn = options_["nvn"];
    nvn.ca_certificate = pki_ + "/ca.pem";
    nvn.crl_files = {pki_ + "/crl.pem"};
    nvn.node_certificate = pki_ + "/node.crt";
    nvn.node_key = pki_ + "/node.key";
  }
  void SetFile(const std::string& name, const std::string& text) {
    WriteText(pki_ + "/" + name, text);
  }
  broker::Broker& Nvn() { return *brokers_.at("nvn"); }

  std::string pki_;
};

std::string Referral(const std::string& signer_prefix) {
  auto signer = PkiSigner(signer_prefix);
  return SignReferral(*signer, NewUuid(), "nvn");
}

TEST_F(CertsTest, EnvelopeByARevokedOperatorIsRefusedAsRevoked) {
  SetFile("crl.pem", ReadPkiFile("crl.pem"));
  ASSERT_TRUE(StartNode("nvn"));
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  EXPECT_THAT(MIR_STATUS(toscana.Deliver(Referral("test/revoked-operator"))),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::REVOKED));
  EXPECT_OK(toscana.Deliver(Referral("toscana/operator")));
}

TEST_F(CertsTest, ARevokedNodeCertificateCannotCompleteTheHandshake) {
  SetFile("crl.pem", ReadPkiFile("crl.pem"));
  ASSERT_TRUE(StartNode("nvn"));
  ExchangeClient revoked(ports_["nvn"], "test/revoked-node");
  EXPECT_THAT(MIR_STATUS(revoked.Deliver(Referral("toscana/operator"))),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_GE(Nvn().tls().client_refusals().Count(), 1);
  EXPECT_THAT(Nvn().tls().client_refusals().Last(), ::testing::HasSubstr("REVOKED"));
  EXPECT_THAT(Nvn().tls().client_refusals().Last(), ::testing::HasSubstr("revoked"));
  ExchangeClient good(ports_["nvn"], "toscana/node");
  EXPECT_OK(good.Deliver(Referral("toscana/operator")));
}

TEST_F(CertsTest, ReloadAddsACrlWhileOpenConnectionsAndDeliveriesGoOn) {
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  ExchangeClient open(ports_["nvn"], "toscana/node");
  ASSERT_OK(open.Deliver(Referral("test/revoked-operator")));  // not revoked yet
  ExchangeClient revoked_node(ports_["nvn"], "test/revoked-node");
  ASSERT_OK(revoked_node.Deliver(Referral("toscana/operator")));

  // Referrals from toscana in flight while nvn reloads, twice.
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(SubmitReferral("nvn"));
  SetFile("crl.pem", ReadPkiFile("crl.pem"));
  ASSERT_OK(Nvn().Reload());
  for (int i = 0; i < 20; ++i) ids.push_back(SubmitReferral("nvn"));
  ASSERT_OK(Nvn().Reload());

  EXPECT_THAT(MIR_STATUS(open.Deliver(Referral("test/revoked-operator"))),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::REVOKED));
  // The connection opened before the reload is still the same and still works.
  EXPECT_EQ(open.channel()->GetState(false), GRPC_CHANNEL_READY);
  EXPECT_OK(open.Deliver(Referral("toscana/operator")));
  EXPECT_EQ(open.channel()->GetState(false), GRPC_CHANNEL_READY);
  // A new handshake with the now revoked node certificate fails.
  ExchangeClient revoked_again(ports_["nvn"], "test/revoked-node");
  EXPECT_THAT(MIR_STATUS(revoked_again.Deliver(Referral("toscana/operator"))),
              StatusIs(absl::StatusCode::kUnavailable));

  // Nothing toscana sent was lost.
  EXPECT_TRUE(WaitFor([&] {
    for (const std::string& id : ids) {
      if (StateAt(Store("toscana"), id) != v1::RECEIVED) return false;
    }
    return true;
  }));
  EXPECT_EQ(OutboxCount(Store("toscana"), storage::OutboxState::kDead), 0);
}

// The certificate nvn presents on a new connection, as a client sees it.
std::string ServerCertificate(int port) {
  ExchangeClient client(port, "toscana/node");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::DeliverRequest request;
  request.set_envelope(Referral("toscana/operator"));
  v1::DeliverResponse response;
  if (!client.stub()->Deliver(&context, request, &response).ok()) return "";
  auto pem = context.auth_context()->FindPropertyValues("x509_pem_cert");
  return pem.size() == 1 ? std::string(pem.front().data(), pem.front().size()) : "";
}

TEST_F(CertsTest, ReloadRotatesTheNodeCertificateForNewConnectionsOnly) {
  ASSERT_TRUE(StartNode("nvn"));
  ExchangeClient open(ports_["nvn"], "toscana/node");
  ASSERT_OK(open.Deliver(Referral("toscana/operator")));
  EXPECT_EQ(ServerCertificate(ports_["nvn"]), ReadPkiFile("nvn/node.crt"));

  SetFile("node.crt", ReadPkiFile("test/nvn-node-2.crt"));
  SetFile("node.key", ReadPkiFile("test/nvn-node-2.key"));
  ASSERT_OK(Nvn().Reload());
  // gRPC picks the new files up within its refresh (1 s).
  EXPECT_TRUE(WaitFor(
      [&] { return ServerCertificate(ports_["nvn"]) == ReadPkiFile("test/nvn-node-2.crt"); }));
  // The connection made before the rotation goes on.
  EXPECT_EQ(open.channel()->GetState(false), GRPC_CHANNEL_READY);
  auto receipt = open.Deliver(Referral("toscana/operator"));
  ASSERT_OK(receipt);
  // Receipts are signed with the new key and carry the new certificate.
  v1::Envelope envelope;
  ASSERT_TRUE(envelope.ParseFromString(*receipt));
  EXPECT_EQ(envelope.signature().certificate(), PkiSigner("test/nvn-node-2")->certificate_der());
  EXPECT_NE(envelope.signature().certificate(), PkiSigner("nvn/node")->certificate_der());
  EXPECT_OK(Nvn().node().verifier().Verify(*receipt));
}

TEST_F(CertsTest, ASenderRefusesAPeerWhoseCertificateIsRevoked) {
  SetFile("crl.pem", ReadPkiFile("crl.pem"));
  options_["toscana"].node_certificate = PkiPath("test/revoked-node.crt");
  options_["toscana"].node_key = PkiPath("test/revoked-node.key");
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));  // its own trust has no CRL: it starts
  // A referral reaches nvn over a good connection; nvn's RECEIVED answer
  // must go to toscana, whose server certificate is revoked.
  ExchangeClient good(ports_["nvn"], "toscana/node");
  ASSERT_OK(good.Deliver(Referral("toscana/operator")));
  auto attempts = [&] {
    auto pending = Store("nvn").ListOutbox(storage::OutboxState::kPending, 10);
    return pending.ok() && pending->size() == 1 ? pending->front().attempts : 0;
  };
  ASSERT_TRUE(WaitFor([&] { return attempts() >= 2; }));
  // Never delivered (toscana would refuse it as UNKNOWN_REFERRAL, a dead
  // letter): the handshake fails before anything is sent.
  EXPECT_EQ(OutboxCount(Store("nvn"), storage::OutboxState::kDead), 0);
  EXPECT_EQ(OutboxCount(Store("nvn"), storage::OutboxState::kDelivered), 0);
}

TEST_F(CertsTest, ABundleOfTheOldAndTheNewCaTrustsBoth) {
  SetFile("ca.pem", ReadPkiFile("ca.crt") + ReadPkiFile("test/other-ca/ca.crt"));
  SetFile("crl.pem", ReadPkiFile("crl.pem") + ReadPkiFile("test/other-ca/crl.pem"));
  ASSERT_TRUE(StartNode("nvn"));
  ExchangeClient old_ca(ports_["nvn"], "toscana/node");
  EXPECT_OK(old_ca.Deliver(Referral("toscana/operator")));
  EXPECT_OK(old_ca.Deliver(Referral("test/other-ca-operator")));
  ExchangeClient new_ca(ports_["nvn"], "test/other-ca-node");
  EXPECT_OK(new_ca.Deliver(Referral("toscana/operator")));
  EXPECT_OK(new_ca.Deliver(Referral("test/other-ca-operator")));
  EXPECT_THAT(MIR_STATUS(new_ca.Deliver(Referral("test/revoked-operator"))),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::REVOKED));

  // The rotation ends: the old CA leaves the bundle.
  SetFile("ca.pem", ReadPkiFile("test/other-ca/ca.crt") + ReadPkiFile("ca.crt"));
  SetFile("crl.pem", ReadPkiFile("test/other-ca/crl.pem"));
  ASSERT_OK(Nvn().Reload());
  EXPECT_EQ(Nvn().node().verifier().Authorities().size(), 2u);
  SetFile("ca.pem", ReadPkiFile("test/other-ca/ca.crt"));
  // nvn's own certificate is of the old CA: refused, the bundle stays.
  EXPECT_THAT(Nvn().Reload(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(Nvn().node().verifier().Authorities().size(), 2u);
}

TEST_F(CertsTest, ABadFileAtReloadKeepsTheOldMaterial) {
  SetFile("crl.pem", ReadPkiFile("crl.pem"));
  ASSERT_TRUE(StartNode("nvn"));
  struct Case {
    std::string name;
    std::vector<std::pair<std::string, std::string>> files;  // name in pki_, content
  };
  const std::vector<Case> cases = {
      {"CRL is not PEM", {{"crl.pem", "garbage"}}},
      {"CRL of a CA not in the bundle", {{"crl.pem", ReadPkiFile("test/other-ca/crl.pem")}}},
      {"CA file is not PEM", {{"ca.pem", "garbage"}}},
      {"key is not PEM", {{"node.key", "garbage"}}},
      {"key of another certificate", {{"node.key", ReadPkiFile("toscana/node.key")}}},
      {"certificate and key of another node",
       {{"node.crt", ReadPkiFile("toscana/node.crt")},
        {"node.key", ReadPkiFile("toscana/node.key")}}},
      {"own certificate revoked",
       {{"node.crt", ReadPkiFile("test/revoked-node.crt")},
        {"node.key", ReadPkiFile("test/revoked-node.key")}}},
      {"own certificate of a CA not in the bundle",
       {{"node.crt", ReadPkiFile("test/other-ca-node.crt")},
        {"node.key", ReadPkiFile("test/other-ca-node.key")}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (const auto& [name, content] : c.files) SetFile(name, content);
    EXPECT_THAT(Nvn().Reload(), StatusIs(absl::StatusCode::kInvalidArgument));
    SetFile("ca.pem", ReadPkiFile("ca.crt"));
    SetFile("crl.pem", ReadPkiFile("crl.pem"));
    SetFile("node.crt", ReadPkiFile("nvn/node.crt"));
    SetFile("node.key", ReadPkiFile("nvn/node.key"));
    // Still the old CAs and CRL, and TLS still works (a new connection).
    ExchangeClient toscana(ports_["nvn"], "toscana/node");
    EXPECT_THAT(MIR_STATUS(toscana.Deliver(Referral("test/revoked-operator"))),
                StatusIsReason(absl::StatusCode::kUnauthenticated, v1::REVOKED));
    auto receipt = toscana.Deliver(Referral("toscana/operator"));
    ASSERT_OK(receipt);
    // Receipts still signed by the old key.
    v1::Envelope envelope;
    ASSERT_TRUE(envelope.ParseFromString(*receipt));
    EXPECT_EQ(envelope.signature().certificate(), PkiSigner("nvn/node")->certificate_der());
  }
  // A missing file is refused too.
  std::filesystem::remove(pki_ + "/crl.pem");
  EXPECT_THAT(Nvn().Reload(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CertsTest, StaleCrlStillRevokesAndExpiryIsWarned) {
  SetFile("crl.pem", ReadPkiFile("test/stale-crl.pem"));
  ASSERT_TRUE(StartNode("nvn"));
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  // Fail open for what the stale list does not name, closed for what it does.
  EXPECT_THAT(MIR_STATUS(toscana.Deliver(Referral("test/revoked-operator"))),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::REVOKED));
  EXPECT_OK(toscana.Deliver(Referral("toscana/operator")));
  EXPECT_EQ(Nvn().WarnExpiring(), 1) << "the stale CRL only";
  // Within a horizon past every notAfter: node, CA, encryption and the CRL.
  EXPECT_EQ(Nvn().WarnExpiring(absl::Hours(24 * 365 * 30)), 4);
  const auto figures = Nvn().metrics().Figures();
  EXPECT_TRUE(figures.certificate_expiry.contains("node"));
  EXPECT_TRUE(figures.certificate_expiry.contains("ca"));
}

TEST_F(CertsTest, MetricsFollowAReloadedBundle) {
  ASSERT_TRUE(StartNode("nvn"));
  EXPECT_FALSE(Nvn().metrics().Figures().certificate_expiry.contains("ca-2"));
  SetFile("ca.pem", ReadPkiFile("ca.crt") + ReadPkiFile("test/other-ca/ca.crt"));
  ASSERT_OK(Nvn().Reload());
  EXPECT_TRUE(Nvn().metrics().Figures().certificate_expiry.contains("ca-2"));
}

TEST(VerifierTrustTest, CrlOfNoCaInTheBundleIsRefused) {
  auto verifier = Verifier::FromTrust(
      TrustMaterial{ReadPkiFile("ca.crt"), {ReadPkiFile("test/other-ca/crl.pem")}},
      RealClock::Get());
  EXPECT_THAT(MIR_STATUS(verifier), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mir::testing
