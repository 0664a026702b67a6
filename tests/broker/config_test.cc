#include "broker/config.h"

#include <fstream>

#include "tests/testing/test_env.h"

namespace mir::testing {
namespace {

std::string WriteFile(const std::string& text) {
  const std::string path = NewTempDir() + "/node.json";
  std::ofstream(path) << text;
  return path;
}

constexpr char kValid[] = R"({
  "nodeId": "toscana",
  "listenAddress": "127.0.0.1:7102",
  "databasePath": "/var/lib/mir/toscana.db",
  "caCertificate": "ca.crt", "nodeCertificate": "node.crt", "nodeKey": "node.key",
  "peers": {"nvn": "127.0.0.1:7101"},
  "routes": {"*": "nvn"},
  "delivery": {"deadLetterAfterS": 600},
  "privacy": {"encryptionKeys": [{"key": "enc.key", "certificate": "enc.crt"}],
              "encryptionCertificatesDir": "enc", "keyEncryptionKey": "kek.hex",
              "retentionDays": {"WITHDRAWN": 30}}
})";

TEST(ConfigTest, LoadsAValidFileWithDefaults) {
  auto options = broker::LoadConfigFile(WriteFile(kValid));
  ASSERT_OK(options);
  EXPECT_EQ(options->node_id, "toscana");
  EXPECT_EQ(options->NextHop("lombardia"), "nvn");
  EXPECT_EQ(options->NextHop("nvn"), "nvn");
  EXPECT_EQ(options->dead_letter_after, absl::Minutes(10));
  EXPECT_EQ(options->max_envelope_bytes, 1u << 20);
  EXPECT_EQ(options->relays, std::vector<std::string>{"nvn"});
  EXPECT_FALSE(options->relay);
  EXPECT_EQ(options->handler_threads, 64);
  EXPECT_EQ(options->in_flight_per_peer, 64);
  EXPECT_EQ(options->delivery_batch_max, 32);
  EXPECT_EQ(options->retention.at(v1::WITHDRAWN), absl::Hours(24 * 30));
  EXPECT_EQ(options->retention_sweep_interval, absl::Hours(1));
}

TEST(ConfigTest, ErrorsNameTheField) {
  struct Case {
    std::string name, json, expected_in_message;
  } cases[] = {
      {"not json", "{", "not a valid node config"},
      {"unknown field", R"({"nodeId": "x", "colour": 1})", "colour"},
      {"bad node id", R"({"nodeId": "Tos cana"})", "node_id"},
      {"route to a non-peer",
       R"({"nodeId": "toscana", "listenAddress": "a:1", "databasePath": "d", "caCertificate": "c",
           "nodeCertificate": "n", "nodeKey": "k", "routes": {"*": "nvn"}})",
       "routes"},
      {"missing database", R"({"nodeId": "toscana", "listenAddress": "a:1"})", "database_path"},
      {"too many handler threads",
       R"({"nodeId": "toscana", "listenAddress": "a:1", "databasePath": "d", "caCertificate": "c",
           "nodeCertificate": "n", "nodeKey": "k", "limits": {"handlerThreads": 5000}})",
       "limits.handler_threads"},
      {"batch above what a batch may hold",
       R"({"nodeId": "toscana", "listenAddress": "a:1", "databasePath": "d", "caCertificate": "c",
           "nodeCertificate": "n", "nodeKey": "k", "delivery": {"batchMax": 65}})",
       "delivery.batch_max"},
      {"no privacy keys",
       R"({"nodeId": "toscana", "listenAddress": "a:1", "databasePath": "d", "caCertificate": "c",
           "nodeCertificate": "n", "nodeKey": "k"})",
       "privacy.encryption_keys"},
      {"retention for an open state",
       R"({"nodeId": "toscana", "listenAddress": "a:1", "databasePath": "d", "caCertificate": "c",
           "nodeCertificate": "n", "nodeKey": "k",
           "privacy": {"retentionDays": {"RECEIVED": 3}}})",
       "privacy.retention_days"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto options = broker::LoadConfigFile(WriteFile(c.json));
    ASSERT_THAT(options.status(), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_NE(options.status().message().find(c.expected_in_message), std::string::npos)
        << options.status();
  }
  EXPECT_THAT(broker::LoadConfigFile("/nonexistent/node.json").status(),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace mir::testing
