// mir-broker --check-config (broker/check_config.h): a good config passes,
// and each bad one is refused with the field named.
#include "broker/check_config.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "crypto/registry_signature.h"
#include "tests/testing/test_env.h"

namespace mir::testing {
namespace {

class CheckConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir();
    v1::NodeRegistry registry;
    registry.set_version(1);
    v1::RegistryEntry* e = registry.add_nodes();
    e->set_node_id("toscana");
    e->set_role(v1::REGIONAL);
    e->set_region_code("IT-52");
    e->set_address("127.0.0.1:7102");
    *e->mutable_valid_from() = ToProtoTime(absl::Now() - absl::Hours(1));
    auto signed_registry =
        SignRegistry(registry.SerializeAsString(), ReadPkiFile("authority/registry.key"),
                     ReadPkiFile("authority/registry.crt"));
    ASSERT_OK(signed_registry);
    std::ofstream(dir_ + "/registry.signed", std::ios::binary)
        << signed_registry->SerializeAsString();
    std::string tampered = signed_registry->SerializeAsString();
    tampered[tampered.size() / 3] ^= 1;
    std::ofstream(dir_ + "/tampered.signed", std::ios::binary) << tampered;
    std::ofstream(dir_ + "/garbage.crt") << "not a certificate";
  }

  // A config for toscana from the test PKI, with `from` replaced by `to`.
  std::string Config(const std::string& from = "", const std::string& to = "") {
    std::string json = absl::StrCat(R"({
  "nodeId": "toscana",
  "listenAddress": "127.0.0.1:7102",
  "databasePath": ")",
                                    dir_, R"(/toscana.db",
  "caCertificate": ")",
                                    PkiPath("ca.crt"), R"(",
  "nodeCertificate": ")",
                                    PkiPath("toscana/node.crt"), R"(",
  "nodeKey": ")",
                                    PkiPath("toscana/node.key"), R"(",
  "peers": {"nvn": "127.0.0.1:7101"},
  "routes": {"*": "nvn"},
  "registryFile": ")",
                                    dir_, R"(/registry.signed",
  "privacy": {"encryptionKeys": [{"key": ")",
                                    PkiPath("toscana/enc.key"), R"(",
                                  "certificate": ")",
                                    PkiPath("toscana/enc.crt"), R"("}],
              "encryptionCertificatesDir": ")",
                                    PkiPath("enc"), R"(",
              "keyEncryptionKey": ")",
                                    PkiPath("toscana/kek.hex"), R"("}
})");
    if (!from.empty()) {
      EXPECT_NE(json.find(from), std::string::npos) << from;
      json = absl::StrReplaceAll(json, {{from, to}});
    }
    const std::string path = absl::StrCat(dir_, "/node-", ++written_, ".json");
    std::ofstream(path) << json;
    return path;
  }

  std::string dir_;
  int written_ = 0;
};

TEST_F(CheckConfigTest, AGoodConfigPasses) {
  EXPECT_OK(broker::CheckConfig(Config(), absl::Now()));
}

TEST_F(CheckConfigTest, ErrorsNameTheField) {
  struct Case {
    std::string name, from, to, field;
  } cases[] = {
      {"route to a non-peer", R"("routes": {"*": "nvn"})", R"("routes": {"*": "roma"})",
       "'routes'"},
      {"CA file missing", "\"caCertificate\": \"" + PkiPath("ca.crt"),
       "\"caCertificate\": \"" + PkiPath("nowhere.crt"), "'ca_certificate'"},
      {"CA not a certificate", "\"caCertificate\": \"" + PkiPath("ca.crt"),
       "\"caCertificate\": \"" + dir_ + "/garbage.crt", "'ca_certificate'"},
      {"node certificate missing", PkiPath("toscana/node.crt"), PkiPath("toscana/none.crt"),
       "'node_certificate'"},
      {"another node's certificate and key", "toscana/node.", "lombardia/node.",
       "'node_certificate'"},
      {"key of another certificate", PkiPath("toscana/node.key"), PkiPath("nvn/node.key"),
       "'node_key'"},
      {"expired node certificate", "toscana/node.", "test/expired-node.", "'node_certificate'"},
      {"database folder missing", "/toscana.db", "/no/such/folder/toscana.db", "'database_path'"},
      {"KEK missing", PkiPath("toscana/kek.hex"), PkiPath("toscana/none.hex"),
       "'privacy.key_encryption_key'"},
      {"encryption key of another node", PkiPath("toscana/enc.key"), PkiPath("nvn/enc.key"),
       "'privacy.encryption_keys'"},
      {"registry missing", "/registry.signed", "/none.signed", "'registry_file'"},
      {"registry tampered", "/registry.signed", "/tampered.signed", "'registry_file'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const absl::Status status = broker::CheckConfig(Config(c.from, c.to), absl::Now());
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message().find(c.field), absl::string_view::npos) << status;
  }
}

}  // namespace
}  // namespace mir::testing
