// The node registry on a running network (PROTOCOL.md §12): nvn hands it
// out over mutual TLS, a region refuses a destination whose registration
// ended, and a project node listed only in the registry is reachable from a
// region through nvn without any region's config naming it.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "broker/registry_client.h"
#include "common/errors.h"
#include "common/proto_time.h"
#include "crypto/registry_signature.h"
#include "tests/broker/network_fixture.h"
#include "tests/broker/staff_client.h"

namespace mir::testing {
namespace {

class RegistryNetworkTest : public NetworkTest {
 protected:
  void SetUp() override {
    NetworkTest::SetUp();
    AddRegion("progetto", /*nvn_knows_it=*/false);  // nvn learns it from the registry
  }

  v1::RegistryEntry Entry(const std::string& node, v1::NodeRole role, const std::string& region,
                          absl::Time until = absl::InfiniteFuture()) {
    v1::RegistryEntry e;
    e.set_node_id(node);
    e.set_role(role);
    e.set_region_code(region);
    e.set_address(Address(ports_[node]));
    *e.mutable_valid_from() = ToProtoTime(absl::Now() - absl::Hours(24 * 30));
    if (until != absl::InfiniteFuture()) *e.mutable_valid_until() = ToProtoTime(until);
    return e;
  }

  // Signs `registry` as the network authority into a file; returns its path.
  std::string WriteSigned(const v1::NodeRegistry& registry) {
    auto signed_registry =
        SignRegistry(registry.SerializeAsString(), ReadPkiFile("authority/registry.key"),
                     ReadPkiFile("authority/registry.crt"));
    EXPECT_OK(signed_registry);
    const std::string path = absl::StrCat(dir_, "/registry-", registry.version(), ".signed");
    std::ofstream(path, std::ios::binary) << signed_registry->SerializeAsString();
    return path;
  }

  v1::NodeRegistry Registry(uint64_t version, absl::Time lombardia_until = absl::InfiniteFuture()) {
    v1::NodeRegistry r;
    r.set_version(version);
    *r.mutable_issued_at() = ToProtoTime(absl::Now());
    *r.add_nodes() = Entry("nvn", v1::NATIONAL, "IT");
    *r.add_nodes() = Entry("toscana", v1::REGIONAL, "IT-52");
    *r.add_nodes() = Entry("lombardia", v1::REGIONAL, "IT-25", lombardia_until);
    *r.add_nodes() = Entry("progetto", v1::PROJECT, "ITI1");
    return r;
  }
};

TEST_F(RegistryNetworkTest, ARegionFetchesTheRegistryFromNvnAndKeepsIt) {
  options_["nvn"].registry_file = WriteSigned(Registry(7));
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  // Fetched once at start, over the node's mutual TLS channel to nvn.
  // The copy is written just after the version is taken: wait for both.
  const std::string cache = broker::RegistryCachePath(options_["toscana"]);
  ASSERT_TRUE(WaitFor([&] {
    return NodeAt("toscana").registry().version() == 7 && std::filesystem::exists(cache);
  }));

  // A restart with nvn down still has it, from the copy beside the database.
  StopNode("toscana");
  StopNode("nvn");
  ASSERT_TRUE(StartNode("toscana"));
  EXPECT_EQ(NodeAt("toscana").registry().version(), 7u);
}

TEST_F(RegistryNetworkTest, GetRegistryAnswersNodesOnly) {
  options_["nvn"].registry_file = WriteSigned(Registry(3));
  ASSERT_TRUE(StartNode("nvn"));
  {
    ExchangeClient node(ports_["nvn"], "toscana/node");
    grpc::ClientContext context;
    v1::GetRegistryRequest request;
    v1::GetRegistryResponse response;
    ASSERT_TRUE(node.stub()->GetRegistry(&context, request, &response).ok());
    EXPECT_EQ(response.version(), 3u);
    EXPECT_FALSE(response.signed_registry().empty());
  }
  {
    ExchangeClient node(ports_["nvn"], "toscana/node");
    grpc::ClientContext context;
    v1::GetRegistryRequest request;
    request.set_known_version(3);
    v1::GetRegistryResponse response;
    ASSERT_TRUE(node.stub()->GetRegistry(&context, request, &response).ok());
    EXPECT_TRUE(response.signed_registry().empty());  // nothing newer
  }
  {
    ExchangeClient op(ports_["nvn"], "toscana/operator");
    grpc::ClientContext context;
    v1::GetRegistryRequest request;
    v1::GetRegistryResponse response;
    EXPECT_EQ(op.stub()->GetRegistry(&context, request, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    // The authority's certificate is no node identity: refused on TLS.
    ExchangeClient authority(ports_["nvn"], "authority/registry");
    grpc::ClientContext context;
    v1::GetRegistryRequest request;
    v1::GetRegistryResponse response;
    EXPECT_FALSE(authority.stub()->GetRegistry(&context, request, &response).ok());
  }
}

TEST_F(RegistryNetworkTest, ADestinationWhoseRegistrationEndedIsRefusedWithTheReason) {
  options_["nvn"].registry_file =
      WriteSigned(Registry(2, /*lombardia_until=*/absl::Now() - absl::Hours(1)));
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  ASSERT_TRUE(WaitFor([&] { return NodeAt("toscana").registry().version() == 2; }));

  auto op = PkiSigner("toscana/operator");
  v1::PrepareRequest prepare;
  prepare.set_kind(v1::REFERRAL);
  prepare.set_destination_node("lombardia");
  const auto prepared = NodeAt("toscana").Prepare(op->identity(), prepare);
  EXPECT_THAT(MIR_STATUS(prepared),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::NODE_NOT_VALID));
  EXPECT_NE(prepared.status().message().find("node lombardia's registration ended on"),
            absl::string_view::npos)
      << prepared.status();

  const std::string id = NewUuid();
  const auto submitted = NodeAt("toscana").Submit(
      op->identity(), SignReferral(*op, id, "lombardia"), TestReferralKey(id));
  EXPECT_THAT(MIR_STATUS(submitted),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::NODE_NOT_VALID));

  // A region that has not got the registry yet is stopped at nvn, which
  // refuses to relay the referral: it never reaches lombardia.
  EXPECT_THAT(MIR_STATUS(NodeAt("nvn").registry().CheckDestination("lombardia", absl::Now())),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::NODE_NOT_VALID));
  ExchangeClient toscana(ports_["nvn"], "toscana/node");
  EXPECT_THAT(MIR_STATUS(toscana.Deliver(SignReferral(*op, NewUuid(), "lombardia"))),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::NODE_NOT_VALID));

  // toscana itself is still a valid destination for others.
  EXPECT_OK(NodeAt("toscana").registry().CheckDestination("toscana", absl::Now()));
}

TEST_F(RegistryNetworkTest, AProjectNodeOnlyInTheRegistryIsReachableThroughNvn) {
  // No config names progetto: nvn's peers are toscana and lombardia, and
  // toscana sends everything to nvn. Only the registry lists it.
  ASSERT_EQ(options_["nvn"].peers.count("progetto"), 0u);
  options_["nvn"].registry_file = WriteSigned(Registry(1));
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  ASSERT_TRUE(StartNode("progetto"));

  const std::string id = SubmitReferral("progetto");
  EXPECT_TRUE(WaitFor([&] {
    return StateAt(Store("progetto"), id) != v1::REFERRAL_STATE_UNSPECIFIED;
  })) << "the referral never reached progetto";
  // And progetto's answer comes back the same way: toscana sees RECEIVED.
  EXPECT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), id) == v1::RECEIVED; }))
      << v1::ReferralState_Name(StateAt(Store("toscana"), id));
}

// A project node listed only in a newer registry: the authority's new file
// at nvn and a SIGHUP (Broker::Reload) make it reachable, without a restart
// of nvn or an edit of any region's config.
TEST_F(RegistryNetworkTest, ANewRegistryAtNvnTakesEffectOnReloadWithoutARestart) {
  v1::NodeRegistry first = Registry(1);
  first.mutable_nodes()->RemoveLast();  // progetto is not listed yet
  ASSERT_EQ(first.nodes(first.nodes_size() - 1).node_id(), "lombardia");
  const std::string file = WriteSigned(first);
  options_["nvn"].registry_file = file;
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  ASSERT_TRUE(StartNode("progetto"));
  EXPECT_FALSE(NodeAt("nvn").NextHop("progetto").has_value());

  // An older or broken file changes nothing.
  std::filesystem::copy_file(WriteSigned(Registry(2)), file,
                             std::filesystem::copy_options::overwrite_existing);
  {
    std::ofstream broken(file, std::ios::binary | std::ios::app);
    broken << "x";
  }
  EXPECT_FALSE(brokers_.at("nvn")->Reload().ok());
  EXPECT_EQ(NodeAt("nvn").registry().version(), 1u);
  EXPECT_FALSE(NodeAt("nvn").NextHop("progetto").has_value());

  std::filesystem::copy_file(WriteSigned(Registry(2)), file,
                             std::filesystem::copy_options::overwrite_existing);
  ASSERT_OK(brokers_.at("nvn")->Reload());
  EXPECT_EQ(NodeAt("nvn").registry().version(), 2u);
  EXPECT_EQ(NodeAt("nvn").NextHop("progetto"), "progetto");

  const std::string id = SubmitReferral("progetto");
  EXPECT_TRUE(WaitFor([&] {
    return StateAt(Store("progetto"), id) != v1::REFERRAL_STATE_UNSPECIFIED;
  })) << "the referral never reached progetto";
  EXPECT_TRUE(WaitFor([&] { return StateAt(Store("toscana"), id) == v1::RECEIVED; }))
      << v1::ReferralState_Name(StateAt(Store("toscana"), id));
}

// A new project node's encryption certificate travels in the registry: a
// region without the file still releases sealed-field keys to it.
TEST_F(RegistryNetworkTest, AProjectNodesEncryptionCertificateComesWithTheRegistry) {
  const std::string certs = CopyEncryptionCertificates(dir_, "progetto.crt");
  options_["toscana"].encryption_certificates_dir = certs;
  v1::NodeRegistry registry = Registry(1);
  std::string pem = ReadPkiFile("progetto/enc.crt"), der;
  pem = pem.substr(pem.find('\n') + 1);
  pem = pem.substr(0, pem.find("-----END"));
  pem.erase(std::remove(pem.begin(), pem.end(), '\n'), pem.end());
  ASSERT_TRUE(absl::Base64Unescape(pem, &der));
  for (v1::RegistryEntry& entry : *registry.mutable_nodes()) {
    if (entry.node_id() == "progetto") entry.set_encryption_certificate(der);
  }
  options_["nvn"].registry_file = WriteSigned(registry);
  ASSERT_TRUE(StartNode("nvn"));
  ASSERT_TRUE(StartNode("toscana"));
  ASSERT_TRUE(StartNode("progetto"));
  ASSERT_TRUE(WaitFor([&] { return NodeAt("toscana").registry().version() == 1; }));

  StaffClient anna(ports_["toscana"], "toscana/operator");
  StaffClient project(ports_["progetto"], "progetto/operator");
  auto id = anna.SubmitReferral("progetto");
  ASSERT_OK(id);
  EXPECT_TRUE(WaitFor([&] {
    auto view = project.Get(*id);
    return view.ok() && view->sealed_state() == v1::SEALED_OPEN &&
           view->referral().person_code() == "TEST-PERSON";
  }));
}

}  // namespace
}  // namespace mir::testing
