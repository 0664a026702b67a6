// The node registry (PROTOCOL.md §12): the authority's signature, the
// entries' rules, the version rule and destinations outside their dates.
#include "broker/registry.h"

#include <fstream>
#include <functional>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/proto_time.h"
#include "crypto/registry_signature.h"
#include "crypto/signer.h"
#include "tests/testing/test_env.h"

namespace mir::testing {
namespace {

using broker::NodeRegistryHolder;

// Now: the test PKI's certificates are valid from when they were made.
const absl::Time kNow = absl::Now();

std::string Minute(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", t, absl::UTCTimeZone());
}

v1::RegistryEntry Entry(const std::string& id, v1::NodeRole role, const std::string& region,
                        const std::string& address, absl::Time from,
                        absl::Time until = absl::InfiniteFuture()) {
  v1::RegistryEntry e;
  e.set_node_id(id);
  e.set_role(role);
  e.set_region_code(region);
  e.set_address(address);
  *e.mutable_valid_from() = ToProtoTime(from);
  if (until != absl::InfiniteFuture()) *e.mutable_valid_until() = ToProtoTime(until);
  return e;
}

v1::NodeRegistry Registry(uint64_t version) {
  v1::NodeRegistry r;
  r.set_version(version);
  *r.mutable_issued_at() = ToProtoTime(kNow);
  const absl::Time from = kNow - absl::Hours(24 * 365);
  *r.add_nodes() = Entry("nvn", v1::NATIONAL, "IT", "127.0.0.1:7101", from);
  *r.add_nodes() = Entry("toscana", v1::REGIONAL, "IT-52", "127.0.0.1:7102", from);
  *r.add_nodes() = Entry("lombardia", v1::REGIONAL, "ITC4", "127.0.0.1:7103", from);
  // A project that ended yesterday, and one that starts tomorrow.
  *r.add_nodes() =
      Entry("progetto-a", v1::PROJECT, "IT-52", "127.0.0.1:7201", from, kNow - absl::Hours(24));
  *r.add_nodes() =
      Entry("progetto-b", v1::PROJECT, "ITI1", "127.0.0.1:7202", kNow + absl::Hours(24));
  return r;
}

v1::SignedRegistry SignAs(const v1::NodeRegistry& registry, const std::string& who) {
  auto s = SignRegistry(registry.SerializeAsString(), ReadPkiFile(who + ".key"),
                        ReadPkiFile(who + ".crt"));
  EXPECT_OK(s);
  return s.ok() ? *s : v1::SignedRegistry();
}

TEST(RegistrySignatureTest, AuthoritySignedRegistryVerifies) {
  const v1::SignedRegistry s = SignAs(Registry(3), "authority/registry");
  auto registry = VerifyRegistrySignature(s, ReadPkiFile("ca.crt"), kNow);
  ASSERT_OK(registry);
  EXPECT_EQ(registry->version(), 3u);
  EXPECT_EQ(registry->nodes_size(), 5);
  EXPECT_OK(broker::ValidateRegistry(*registry));
}

TEST(RegistrySignatureTest, RefusalsHaveTheirReason) {
  const v1::SignedRegistry good = SignAs(Registry(3), "authority/registry");
  struct Case {
    std::string name;
    std::function<void(v1::SignedRegistry&)> mutate;
    absl::StatusCode code;
    v1::ErrorReason reason;
  } cases[] = {
      {"a registry byte flipped", [](v1::SignedRegistry& s) { (*s.mutable_registry())[10] ^= 1; },
       absl::StatusCode::kUnauthenticated, v1::BAD_SIGNATURE},
      {"a node added after signing",
       [](v1::SignedRegistry& s) {
         v1::NodeRegistry r;
         r.ParseFromString(s.registry());
         *r.add_nodes() = Entry("intrusa", v1::PROJECT, "IT-52", "10.0.0.1:1", kNow);
         s.set_registry(r.SerializeAsString());
       },
       absl::StatusCode::kUnauthenticated, v1::BAD_SIGNATURE},
      {"signature truncated", [](v1::SignedRegistry& s) { s.mutable_signature()->resize(63); },
       absl::StatusCode::kUnauthenticated, v1::BAD_SIGNATURE},
      {"certificate garbage", [](v1::SignedRegistry& s) { s.set_certificate("xx"); },
       absl::StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::SignedRegistry s = good;
    c.mutate(s);
    EXPECT_THAT(MIR_STATUS(VerifyRegistrySignature(s, ReadPkiFile("ca.crt"), kNow)),
                StatusIsReason(c.code, c.reason));
  }
}

TEST(RegistrySignatureTest, OnlyTheAuthorityMaySign) {
  // A node's own key (valid, chains to the CA) is the wrong role: it cannot
  // even be used to sign, and a registry carrying its signature is refused.
  EXPECT_THAT(MIR_STATUS(SignRegistry(Registry(1).SerializeAsString(), ReadPkiFile("nvn/node.key"),
                                      ReadPkiFile("nvn/node.crt"))),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  // Signed with a node's or an operator's own key over the registry's
  // signed bytes: the signature is good, the signer's role is not.
  for (const std::string who : {"nvn/node", "toscana/operator"}) {
    SCOPED_TRACE(who);
    auto signer = Signer::FromPemFiles(PkiPath(who + ".key"), PkiPath(who + ".crt"));
    ASSERT_OK(signer);
    v1::SignedRegistry forged;
    forged.set_registry(Registry(1).SerializeAsString());
    auto signature = (*signer)->Sign(RegistrySignedBytes(forged.registry()));
    ASSERT_OK(signature);
    forged.set_signature(*signature);
    forged.set_certificate((*signer)->certificate_der());
    EXPECT_THAT(MIR_STATUS(VerifyRegistrySignature(forged, ReadPkiFile("ca.crt"), kNow)),
                StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED));
  }
  // An expired authority certificate, and a CA that is not the network's.
  EXPECT_THAT(MIR_STATUS(VerifyRegistrySignature(SignAs(Registry(1), "test/expired-authority"),
                                                 ReadPkiFile("ca.crt"), kNow)),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::CERTIFICATE_EXPIRED));
  EXPECT_THAT(MIR_STATUS(VerifyRegistrySignature(SignAs(Registry(1), "authority/registry"),
                                                 ReadPkiFile("test/other-ca/ca.crt"), kNow)),
              StatusIsReason(absl::StatusCode::kUnauthenticated, v1::UNTRUSTED_CERTIFICATE));
}

TEST(RegistryTest, EntriesAreValidated) {
  struct Case {
    std::string name;
    std::function<void(v1::NodeRegistry&)> mutate;
    std::string field;
  } cases[] = {
      {"version 0", [](v1::NodeRegistry& r) { r.set_version(0); }, "'version'"},
      {"bad node id", [](v1::NodeRegistry& r) { r.mutable_nodes(1)->set_node_id("Tos cana"); },
       "'nodes[1].node_id'"},
      {"twice", [](v1::NodeRegistry& r) { r.mutable_nodes(2)->set_node_id("toscana"); },
       "'nodes[2].node_id'"},
      {"no role", [](v1::NodeRegistry& r) { r.mutable_nodes(1)->clear_role(); }, "'nodes[1].role'"},
      {"region", [](v1::NodeRegistry& r) { r.mutable_nodes(1)->set_region_code("Toscana"); },
       "'nodes[1].region_code'"},
      {"address", [](v1::NodeRegistry& r) { r.mutable_nodes(1)->set_address("localhost"); },
       "'nodes[1].address'"},
      {"no valid_from", [](v1::NodeRegistry& r) { r.mutable_nodes(1)->clear_valid_from(); },
       "'nodes[1].valid_from'"},
      {"ends before it starts",
       [](v1::NodeRegistry& r) {
         *r.mutable_nodes(1)->mutable_valid_until() = ToProtoTime(absl::UnixEpoch());
       },
       "'nodes[1].valid_until'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::NodeRegistry r = Registry(1);
    c.mutate(r);
    const absl::Status status = broker::ValidateRegistry(r);
    EXPECT_THAT(status, StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
    EXPECT_NE(status.message().find(c.field), absl::string_view::npos) << status;
  }
}

TEST(RegistryTest, OlderOrEqualVersionIsIgnored) {
  NodeRegistryHolder holder;
  EXPECT_EQ(holder.version(), 0u);
  EXPECT_TRUE(holder.Offer(Registry(5)));
  v1::NodeRegistry older = Registry(4);
  older.mutable_nodes(3)->clear_valid_until();  // would bring progetto-a back
  EXPECT_FALSE(holder.Offer(older));
  EXPECT_FALSE(holder.Offer(Registry(5)));
  EXPECT_EQ(holder.version(), 5u);
  EXPECT_THAT(holder.CheckDestination("progetto-a", kNow),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::NODE_NOT_VALID));
  EXPECT_TRUE(holder.Offer(Registry(6)));
  EXPECT_EQ(holder.version(), 6u);
}

TEST(RegistryTest, DestinationOutsideItsDatesIsRefusedWithTheDate) {
  NodeRegistryHolder holder;
  EXPECT_OK(holder.CheckDestination("progetto-a", kNow));  // no registry: routing decides
  ASSERT_TRUE(holder.Offer(Registry(1)));
  EXPECT_OK(holder.CheckDestination("toscana", kNow));
  EXPECT_OK(holder.CheckDestination("veneto", kNow));  // not listed: routing decides
  const absl::Status ended = holder.CheckDestination("progetto-a", kNow);
  EXPECT_THAT(ended, StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::NODE_NOT_VALID));
  EXPECT_EQ(ended.message(),
            absl::StrCat("node progetto-a's registration ended on ", Minute(kNow - absl::Hours(24)),
                         " (node registry version 1)"));
  const absl::Status early = holder.CheckDestination("progetto-b", kNow);
  EXPECT_THAT(early, StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::NODE_NOT_VALID));
  EXPECT_NE(early.message().find(absl::StrCat("begins on ", Minute(kNow + absl::Hours(24)))),
            absl::string_view::npos)
      << early;
  EXPECT_OK(holder.CheckDestination("progetto-b", kNow + absl::Hours(25)));

  const auto addresses = holder.Addresses(kNow);
  EXPECT_EQ(addresses.count("progetto-a"), 0u);
  EXPECT_EQ(addresses.count("progetto-b"), 0u);
  EXPECT_EQ(addresses.at("lombardia"), "127.0.0.1:7103");
}

TEST(RegistryTest, LoadsASignedFile) {
  const std::string path = NewTempDir() + "/registry.signed";
  std::ofstream(path, std::ios::binary)
      << SignAs(Registry(2), "authority/registry").SerializeAsString();
  auto registry = broker::LoadSignedRegistryFile(path, ReadPkiFile("ca.crt"), kNow);
  ASSERT_OK(registry);
  EXPECT_EQ(registry->version(), 2u);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "not a registry";
  EXPECT_THAT(MIR_STATUS(broker::LoadSignedRegistryFile(path, ReadPkiFile("ca.crt"), kNow)),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY));
}

}  // namespace
}  // namespace mir::testing
