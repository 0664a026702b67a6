#ifndef MIR_TESTS_BROKER_BROKER_PROCESS_H_
#define MIR_TESTS_BROKER_BROKER_PROCESS_H_

// Real mir-broker child processes for crash tests: a JSON config written
// from BrokerOptions, and a process that can be started, SIGKILLed, SIGTERMed
// and restarted on the same config (so on the same port and database).

#include <sys/types.h>

#include <csignal>
#include <string>

#include "broker/config.h"

struct sqlite3;

namespace mir::testing {

// The mir-broker binary this test build made (MIR_BROKER_BINARY).
const char* BrokerBinary();

// `o` as a mir-broker config file (proto/mir/broker/config.proto's JSON
// mapping): ids, addresses, paths, peers, routes, relay, and the limits and
// delivery settings tests change.
std::string ConfigJson(const broker::BrokerOptions& o);

// Writes ConfigJson(o) to `path`.
void WriteConfig(const broker::BrokerOptions& o, const std::string& path);

// A read-only SQLite connection to a broker's database, usable while the
// broker runs (a WAL reader does not disturb the writer).
class ReadOnlyDb {
 public:
  explicit ReadOnlyDb(const std::string& path);
  ~ReadOnlyDb();
  ReadOnlyDb(const ReadOnlyDb&) = delete;
  ReadOnlyDb& operator=(const ReadOnlyDb&) = delete;

  // The first column of the first row as text; "<error: ...>" on failure.
  std::string Text(const std::string& sql);

 private:
  sqlite3* db_ = nullptr;
};

// One mir-broker child process. Not thread-safe; the destructor SIGKILLs it.
class BrokerProcess {
 public:
  // `log`: stdout and stderr of every run are appended there.
  BrokerProcess(std::string config, std::string log)
      : config_(std::move(config)), log_(std::move(log)) {}
  ~BrokerProcess() { Kill(SIGKILL); }
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Forks and execs mir-broker --config <config>. Returns false if fork failed.
  bool Start();
  // Sends `sig` and reaps the child. Returns its wait status (0 if not running).
  int Kill(int sig);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  std::string config_, log_;
  pid_t pid_ = -1;
};

}  // namespace mir::testing

#endif  // MIR_TESTS_BROKER_BROKER_PROCESS_H_
