#include "bench/network.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "bench/util.h"

#ifndef MIR_BROKER_BINARY
#error "MIR_BROKER_BINARY must name the mir-broker binary"
#endif
#ifndef MIR_DEV_PKI_SCRIPT
#error "MIR_DEV_PKI_SCRIPT must name certs/make-dev-pki.sh"
#endif

namespace mir::bench {

namespace {
std::string& BrokerBinaryPath() {
  static std::string* path = new std::string(MIR_BROKER_BINARY);
  return *path;
}

int& DeliveryBatchMax() {
  static int batch_max = 0;
  return batch_max;
}
}  // namespace

const std::string& BrokerBinary() { return BrokerBinaryPath(); }
void SetBrokerBinary(const std::string& path) { BrokerBinaryPath() = path; }
void SetDeliveryBatchMax(int batch_max) { DeliveryBatchMax() = batch_max; }

absl::StatusOr<Pki> MakePki(const std::string& dir, const std::vector<std::string>& nodes) {
  Pki pki{dir};
  std::vector<std::string> all = {"nvn", "toscana"};
  all.insert(all.end(), nodes.begin(), nodes.end());
  // kek.hex is the last file the script makes for a node.
  if (std::all_of(all.begin(), all.end(), [&](const std::string& node) {
        return std::filesystem::exists(pki.Path(node + "/operator.crt")) &&
               std::filesystem::exists(pki.Path(node + "/kek.hex"));
      })) {
    return pki;
  }
  const std::string command = absl::StrCat(MIR_DEV_PKI_SCRIPT, " '", dir, "' ",
                                           absl::StrJoin(nodes, " "), " >/dev/null 2>&1");
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("certs/make-dev-pki.sh failed for ", dir));
  }
  return pki;
}

Network Network::Make(const Pki& pki, const std::string& dir, int in_flight_per_peer,
                      const std::vector<std::string>& regions) {
  Network n;
  n.pki = pki;
  n.dir = dir;
  std::vector<std::string> nodes = {"nvn"};
  nodes.insert(nodes.end(), regions.begin(), regions.end());
  for (const std::string& node : nodes) n.ports[node] = FreePort();
  for (const std::string& node : nodes) {
    broker::BrokerOptions o;
    o.node_id = node;
    o.listen_address = absl::StrCat("127.0.0.1:", n.ports[node]);
    o.database_path = absl::StrCat(dir, "/", node, ".db");
    o.ca_certificate = pki.Path("ca.crt");
    o.node_certificate = pki.Path(absl::StrCat(node, "/node.crt"));
    o.node_key = pki.Path(absl::StrCat(node, "/node.key"));
    o.encryption_keys = {
        {pki.Path(absl::StrCat(node, "/enc.key")), pki.Path(absl::StrCat(node, "/enc.crt"))}};
    o.encryption_certificates_dir = pki.Path("enc");
    o.key_encryption_key = pki.Path(absl::StrCat(node, "/kek.hex"));
    o.relays = {"nvn"};
    if (in_flight_per_peer > 0) o.in_flight_per_peer = in_flight_per_peer;
    n.options[node] = o;
  }
  n.options["nvn"].relay = true;
  for (const std::string& region : regions) {
    n.options["nvn"].peers[region] = n.Address(region);
    n.options[region].peers = {{"nvn", n.Address("nvn")}};
    n.options[region].routes = {{"*", "nvn"}};
  }
  return n;
}

std::string Network::Address(const std::string& node) const {
  return absl::StrCat("127.0.0.1:", ports.at(node));
}

absl::StatusOr<std::string> Network::WriteConfig(const std::string& node) const {
  const broker::BrokerOptions& o = options.at(node);
  auto quoted_map = [](const std::map<std::string, std::string>& m) {
    std::vector<std::string> items;
    for (const auto& [k, v] : m) items.push_back(absl::StrCat("\"", k, "\": \"", v, "\""));
    return absl::StrCat("{", absl::StrJoin(items, ", "), "}");
  };
  std::vector<std::string> delivery;
  if (o.in_flight_per_peer != broker::BrokerOptions().in_flight_per_peer) {
    delivery.push_back(absl::StrCat("\"inFlightPerPeer\": ", o.in_flight_per_peer));
  }
  if (DeliveryBatchMax() > 0) {
    delivery.push_back(absl::StrCat("\"batchMax\": ", DeliveryBatchMax()));
  }
  // Only what differs per node: the rest keeps the production defaults.
  const std::string json = absl::StrCat(
      "{\n  \"nodeId\": \"", o.node_id, "\",\n  \"listenAddress\": \"", o.listen_address,
      "\",\n  \"databasePath\": \"", o.database_path, "\",\n  \"caCertificate\": \"",
      o.ca_certificate, "\",\n  \"nodeCertificate\": \"", o.node_certificate,
      "\",\n  \"nodeKey\": \"", o.node_key, "\",\n  \"peers\": ", quoted_map(o.peers),
      ",\n  \"routes\": ", quoted_map(o.routes),
      ",\n  \"relays\": [\"nvn\"],\n  \"relay\": ", o.relay ? "true" : "false",
      ",\n  \"privacy\": {\"encryptionKeys\": [{\"key\": \"", o.encryption_keys[0].key,
      "\", \"certificate\": \"", o.encryption_keys[0].certificate,
      "\"}], \"encryptionCertificatesDir\": \"", o.encryption_certificates_dir,
      "\", \"keyEncryptionKey\": \"", o.key_encryption_key, "\"}",
      delivery.empty() ? std::string()
                       : absl::StrCat(",\n  \"delivery\": {", absl::StrJoin(delivery, ", "), "}"),
      o.handler_threads == broker::BrokerOptions().handler_threads
          ? std::string()
          : absl::StrCat(",\n  \"limits\": {\"handlerThreads\": ", o.handler_threads, "}"),
      "\n}\n");
  const std::string path = absl::StrCat(dir, "/", node, ".json");
  std::ofstream out(path);
  out << json;
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return path;
}

BrokerProcess::BrokerProcess(const Network& network, std::string node)
    : network_(network), node_(std::move(node)) {}

BrokerProcess::~BrokerProcess() { Stop(); }

absl::StatusOr<absl::Duration> BrokerProcess::Start(absl::Duration timeout) {
  if (pid_ > 0) return absl::FailedPreconditionError(node_ + " already running");
  absl::StatusOr<std::string> config = network_.WriteConfig(node_);
  if (!config.ok()) return config.status();
  const std::string log = absl::StrCat(network_.dir, "/", node_, ".log");
  const int port = network_.ports.at(node_);
  const std::string binary = BrokerBinary();
  const absl::Time start = absl::Now();
  pid_ = fork();
  if (pid_ < 0) return absl::InternalError("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed bench
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
    }
    execl(binary.c_str(), "mir-broker", "--config", config->c_str(), nullptr);
    _exit(127);
  }
  while (absl::Now() - start < timeout) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("mir-broker ", node_, " exited during start; see ", log));
    }
    if (Listening(port)) return absl::Now() - start;
    absl::SleepFor(absl::Milliseconds(5));
  }
  Stop();
  return absl::DeadlineExceededError(absl::StrCat("mir-broker ", node_, " did not listen"));
}

void BrokerProcess::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  const absl::Time start = absl::Now();
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (absl::Now() - start > absl::Seconds(30)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
}

double BrokerProcess::CpuSeconds() const { return pid_ > 0 ? ProcessCpuSeconds(pid_) : -1; }
int64_t BrokerProcess::DiskWriteBytes() const {
  if (pid_ <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid_) + "/io");
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return -1;
}

double BrokerProcess::PeakRssMiB() const { return pid_ > 0 ? mir::bench::PeakRssMiB(pid_) : -1; }

double BrokerProcess::RssMiB() const {
  if (pid_ <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    return std::strtod(line.c_str() + 6, nullptr) / 1024.0;  // kB
  }
  return -1;
}

absl::StatusOr<std::unique_ptr<DbPeek>> DbPeek::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat("cannot open ", path, " read-only"));
  }
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<DbPeek>(new DbPeek(db));
}

DbPeek::~DbPeek() {
  sqlite3_finalize(events_after_);
  sqlite3_finalize(delivered_from_);
  sqlite3_close(db_);
}

int64_t DbPeek::Count(const char* sql, int state) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) return -1;
  if (state >= 0) sqlite3_bind_int(stmt, 1, state);
  int64_t n = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return n;
}

int64_t DbPeek::OutboxCount(int state) {
  // The state as a literal, so that the store's partial index of pending
  // rows serves the count instead of a scan of the whole outbox.
  switch (state) {
    case 0:
      return Count("SELECT count(*) FROM outbox WHERE state = 0", -1);
    case 1:
      return Count("SELECT count(*) FROM outbox WHERE state = 1", -1);
    default:
      return Count("SELECT count(*) FROM outbox WHERE state = 2", -1);
  }
}

int64_t DbPeek::InboxCount() { return Count("SELECT count(*) FROM inbox", -1); }

int64_t DbPeek::ReferralsIn(int state) {
  return Count("SELECT count(*) FROM referrals WHERE state = ?1", state);
}

int64_t DbPeek::OutboxId(const std::string& message_id) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT id FROM outbox WHERE message_id = ?1", -1, &stmt, nullptr) !=
      SQLITE_OK)
    return -1;
  sqlite3_bind_text(stmt, 1, message_id.data(), static_cast<int>(message_id.size()),
                    SQLITE_TRANSIENT);
  int64_t id = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) id = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return id;
}

std::vector<std::string> DbPeek::DeliveredFrom(int64_t min_id) {
  std::vector<std::string> ids;
  if (delivered_from_ == nullptr &&
      sqlite3_prepare_v2(db_, "SELECT message_id FROM outbox WHERE id >= ?1 AND state = 1", -1,
                         &delivered_from_, nullptr) != SQLITE_OK) {
    return ids;
  }
  sqlite3_bind_int64(delivered_from_, 1, min_id);
  while (sqlite3_step(delivered_from_) == SQLITE_ROW) {
    ids.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(delivered_from_, 0)),
                     static_cast<size_t>(sqlite3_column_bytes(delivered_from_, 0)));
  }
  sqlite3_reset(delivered_from_);
  return ids;
}

std::vector<std::pair<int64_t, std::string>> DbPeek::EventsAfter(int64_t after_id, int to_state) {
  std::vector<std::pair<int64_t, std::string>> rows;
  if (events_after_ == nullptr &&
      sqlite3_prepare_v2(db_,
                         "SELECT id, referral_id FROM events WHERE id > ?1 AND to_state = ?2 "
                         "ORDER BY id",
                         -1, &events_after_, nullptr) != SQLITE_OK) {
    return rows;
  }
  sqlite3_bind_int64(events_after_, 1, after_id);
  sqlite3_bind_int(events_after_, 2, to_state);
  while (sqlite3_step(events_after_) == SQLITE_ROW) {
    rows.emplace_back(
        sqlite3_column_int64(events_after_, 0),
        std::string(reinterpret_cast<const char*>(sqlite3_column_text(events_after_, 1)),
                    static_cast<size_t>(sqlite3_column_bytes(events_after_, 1))));
  }
  sqlite3_reset(events_after_);
  return rows;
}

bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout, absl::Duration poll) {
  const absl::Time end = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > end) return false;
    absl::SleepFor(poll);
  }
  return true;
}

}  // namespace mir::bench
