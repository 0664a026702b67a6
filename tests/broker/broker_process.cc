#include "tests/broker/broker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/storage/storage_test_util.h"

#ifndef MIR_BROKER_BINARY
#error "MIR_BROKER_BINARY must name the mir-broker binary"
#endif

namespace mir::testing {

const char* BrokerBinary() { return MIR_BROKER_BINARY; }

std::string ConfigJson(const broker::BrokerOptions& o) {
  auto quoted_map = [](const std::map<std::string, std::string>& m) {
    std::vector<std::string> items;
    for (const auto& [k, v] : m) items.push_back(absl::StrCat("\"", k, "\": \"", v, "\""));
    return absl::StrCat("{", absl::StrJoin(items, ", "), "}");
  };
  std::vector<std::string> relays;
  for (const std::string& r : o.relays) relays.push_back(absl::StrCat("\"", r, "\""));
  std::vector<std::string> encryption_keys, previous_keks, retention;
  for (const auto& k : o.encryption_keys) {
    encryption_keys.push_back(
        absl::StrCat("{\"key\": \"", k.key, "\", \"certificate\": \"", k.certificate, "\"}"));
  }
  for (const std::string& k : o.previous_key_encryption_keys) {
    previous_keks.push_back(absl::StrCat("\"", k, "\""));
  }
  for (const auto& [state, after] : o.retention) {
    retention.push_back(
        absl::StrCat("\"", v1::ReferralState_Name(state), "\": ", absl::ToInt64Hours(after) / 24));
  }
  const std::string privacy = absl::StrCat(
      "{\"encryptionKeys\": [", absl::StrJoin(encryption_keys, ", "),
      "], \"encryptionCertificatesDir\": \"", o.encryption_certificates_dir,
      "\", \"keyEncryptionKey\": \"", o.key_encryption_key, "\", \"previousKeyEncryptionKeys\": [",
      absl::StrJoin(previous_keks, ", "), "], \"retentionDays\": {", absl::StrJoin(retention, ", "),
      "}, \"retentionSweepS\": ", absl::ToInt64Seconds(o.retention_sweep_interval), "}");
  return absl::StrCat(
      "{\n  \"nodeId\": \"", o.node_id, "\",\n  \"listenAddress\": \"", o.listen_address,
      "\",\n  \"databasePath\": \"", o.database_path, "\",\n  \"caCertificate\": \"",
      o.ca_certificate, "\",\n  \"nodeCertificate\": \"", o.node_certificate,
      "\",\n  \"nodeKey\": \"", o.node_key, "\",\n  \"peers\": ", quoted_map(o.peers),
      ",\n  \"routes\": ", quoted_map(o.routes), ",\n  \"relays\": [", absl::StrJoin(relays, ", "),
      "],\n  \"relay\": ", o.relay ? "true" : "false",
      ",\n  \"limits\": {\"maxEnvelopeBytes\": ", o.max_envelope_bytes,
      ", \"maxClockSkewS\": ", absl::ToInt64Seconds(o.max_clock_skew),
      "},\n  \"delivery\": {\"initialBackoffMs\": ", absl::ToInt64Milliseconds(o.initial_backoff),
      ", \"maxBackoffMs\": ", absl::ToInt64Milliseconds(o.max_backoff),
      ", \"inFlightPerPeer\": ", o.in_flight_per_peer,
      ", \"rpcTimeoutMs\": ", absl::ToInt64Milliseconds(o.rpc_timeout),
      ", \"deadLetterAfterS\": ", absl::ToInt64Seconds(o.dead_letter_after),
      "},\n  \"privacy\": ", privacy, "\n}\n");
}

void WriteConfig(const broker::BrokerOptions& o, const std::string& path) {
  std::ofstream(path) << ConfigJson(o);
}

ReadOnlyDb::ReadOnlyDb(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db_);
    db_ = nullptr;
  } else {
    sqlite3_busy_timeout(db_, 5000);
  }
}

ReadOnlyDb::~ReadOnlyDb() { sqlite3_close(db_); }

std::string ReadOnlyDb::Text(const std::string& sql) {
  if (db_ == nullptr) return "<error: cannot open>";
  return storage::testing::QueryText(db_, sql);
}

bool BrokerProcess::Start() {
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(fd, STDERR_FILENO);
    dup2(fd, STDOUT_FILENO);
    execl(MIR_BROKER_BINARY, "mir-broker", "--config", config_.c_str(), nullptr);
    _exit(127);
  }
  return pid_ > 0;
}

int BrokerProcess::Kill(int sig) {
  if (pid_ <= 0) return 0;
  kill(pid_, sig);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

}  // namespace mir::testing
