#include "console/config.h"

#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace mir::console {
namespace {

broker::NodeConfig Good() {
  broker::NodeConfig c;
  c.set_node_id("toscana");
  c.set_listen_address("127.0.0.1:7102");
  c.set_ca_certificate("ca.crt");
  c.add_crl_files("crl.pem");
  broker::Console* console = c.mutable_console();
  console->set_listen_address("127.0.0.1:7443");
  console->set_https_certificate("https.crt");
  console->set_https_key("https.key");
  console->set_certificate("console.crt");
  console->set_key("console.key");
  return c;
}

TEST(ConsoleConfigTest, Defaults) {
  auto o = ConsoleOptionsFromConfig(Good());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->node_id, "toscana");
  EXPECT_EQ(o->origin, "https://127.0.0.1:7443");
  EXPECT_EQ(o->broker_address, "127.0.0.1:7102");
  EXPECT_EQ(o->session_idle, absl::Seconds(900));
  EXPECT_EQ(o->session_absolute, absl::Seconds(43200));
  EXPECT_EQ(o->crl_files, std::vector<std::string>{"crl.pem"});
  EXPECT_EQ(o->max_body_bytes, 256u * 1024);
}

TEST(ConsoleConfigTest, Overrides) {
  broker::NodeConfig c = Good();
  c.mutable_console()->set_origin("https://console.toscana.example");
  c.mutable_console()->set_broker_address("10.0.0.1:7102");
  c.mutable_console()->set_session_idle_s(60);
  c.mutable_console()->set_session_absolute_s(3600);
  auto o = ConsoleOptionsFromConfig(c);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->origin, "https://console.toscana.example");
  EXPECT_EQ(o->broker_address, "10.0.0.1:7102");
  EXPECT_EQ(o->session_idle, absl::Seconds(60));
  EXPECT_EQ(o->session_absolute, absl::Seconds(3600));
}

TEST(ConsoleConfigTest, RefusalsNameTheField) {
  struct Case {
    const char* field;
    void (*edit)(broker::NodeConfig&);
  };
  const Case cases[] = {
      {"console", [](broker::NodeConfig& c) { c.clear_console(); }},
      {"nodeId", [](broker::NodeConfig& c) { c.set_node_id("Bad Id"); }},
      {"caCertificate", [](broker::NodeConfig& c) { c.clear_ca_certificate(); }},
      {"console.listenAddress",
       [](broker::NodeConfig& c) { c.mutable_console()->clear_listen_address(); }},
      {"console.httpsKey", [](broker::NodeConfig& c) { c.mutable_console()->clear_https_key(); }},
      {"console.certificate",
       [](broker::NodeConfig& c) { c.mutable_console()->clear_certificate(); }},
      {"console.origin",
       [](broker::NodeConfig& c) { c.mutable_console()->set_origin("http://plain"); }},
      {"console.sessionIdleS",
       [](broker::NodeConfig& c) {
         c.mutable_console()->set_session_idle_s(7200);
         c.mutable_console()->set_session_absolute_s(3600);
       }},
  };
  for (const Case& k : cases) {
    broker::NodeConfig c = Good();
    k.edit(c);
    auto o = ConsoleOptionsFromConfig(c);
    ASSERT_FALSE(o.ok()) << k.field;
    EXPECT_THAT(std::string(o.status().message()), ::testing::HasSubstr(k.field));
  }
}

TEST(ConsoleConfigTest, MissingFile) {
  EXPECT_FALSE(LoadConsoleConfig("/nonexistent/node.json").ok());
}

}  // namespace
}  // namespace mir::console
