#ifndef MIR_BENCH_NETWORK_H_
#define MIR_BENCH_NETWORK_H_

// The bench's own network: a development PKI, mir-broker child processes
// with JSON configs on loopback ports, and read-only peeks into their
// databases to see when the outbox has drained.

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "broker/config.h"

struct sqlite3;
struct sqlite3_stmt;

namespace mir::bench {

// certs/make-dev-pki.sh output: OUT/ca.crt, OUT/<node>/{node,operator,partner}.{crt,key}.
struct Pki {
  std::string dir;
  std::string Path(const std::string& rel) const { return dir + "/" + rel; }
};

// Makes a PKI for nvn, toscana and `nodes` in `dir`, or adds to the one
// there the nodes it lacks (certs/make-dev-pki.sh keeps what exists).
absl::StatusOr<Pki> MakePki(const std::string& dir,
                            const std::vector<std::string>& nodes = {"lombardia"});

// The nodes of the bench network: nvn (relay) and `regions` (toscana by
// default), each on its own port with its database under `dir`. A region's
// only peer is nvn, its route "*" -> nvn; nvn has every region as a peer.
// Production defaults otherwise; a caller may change `options` before
// starting a node (WriteConfig writes what differs from the defaults).
struct Network {
  Pki pki;
  std::string dir;
  std::map<std::string, int> ports;
  std::map<std::string, broker::BrokerOptions> options;

  // `in_flight_per_peer` > 0 overrides the brokers' delivery.inFlightPerPeer.
  static Network Make(const Pki& pki, const std::string& dir, int in_flight_per_peer = 0,
                      const std::vector<std::string>& regions = {"toscana"});
  std::string Address(const std::string& node) const;
  std::string DatabasePath(const std::string& node) const { return options.at(node).database_path; }
  // Writes <dir>/<node>.json (proto/mir/broker/config.proto's JSON mapping).
  absl::StatusOr<std::string> WriteConfig(const std::string& node) const;
};

// The mir-broker binary the bench starts: the one built beside it, unless
// SetBrokerBinary named another (mir-bench --broker, to compare two builds).
const std::string& BrokerBinary();
void SetBrokerBinary(const std::string& path);
// delivery.batchMax in the configs the bench writes (mir-bench --batch-max);
// 0 leaves the broker's default.
void SetDeliveryBatchMax(int batch_max);

// One mir-broker child process; its stderr log goes to <dir>/<node>.log.
// Not thread-safe. The destructor stops it (SIGTERM, then SIGKILL).
class BrokerProcess {
 public:
  BrokerProcess(const Network& network, std::string node);
  ~BrokerProcess();
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Forks mir-broker and waits until its port accepts connections (it has
  // opened and checked its database) or `timeout`. Returns the time that took.
  absl::StatusOr<absl::Duration> Start(absl::Duration timeout = absl::Minutes(10));
  // SIGTERM (clean shutdown) and reap; SIGKILL after 30 s.
  void Stop();
  pid_t pid() const { return pid_; }
  const std::string& node() const { return node_; }
  // CPU seconds used so far (user + system), -1 if not running.
  double CpuSeconds() const;
  double PeakRssMiB() const;
  // Resident set now (VmRSS), in MiB; -1 if not running.
  double RssMiB() const;
  // Bytes this process caused to be written to storage so far
  // (/proc/<pid>/io write_bytes: WAL, checkpoints, logs), -1 if unknown.
  int64_t DiskWriteBytes() const;

 private:
  const Network& network_;
  const std::string node_;
  pid_t pid_ = -1;
};

// A read-only connection to a broker's database, for counting outbox rows.
// The broker owns the file; this only reads (WAL lets it without blocking).
class DbPeek {
 public:
  static absl::StatusOr<std::unique_ptr<DbPeek>> Open(const std::string& path);
  ~DbPeek();
  // Outbox entries in `state` (0 pending, 1 delivered, 2 dead); -1 on error.
  int64_t OutboxCount(int state);
  int64_t InboxCount();
  // Referrals in `state` (a v1::ReferralState); -1 on error.
  int64_t ReferralsIn(int state);
  // Outbox id (the delivery order) of one message, -1 if not there.
  int64_t OutboxId(const std::string& message_id);
  // Message ids of delivered outbox entries with id >= `min_id`.
  std::vector<std::string> DeliveredFrom(int64_t min_id);
  // (events.id, referral_id) of the events that moved a referral to
  // `to_state` (a v1::ReferralState) with id > `after_id`, in id order.
  std::vector<std::pair<int64_t, std::string>> EventsAfter(int64_t after_id, int to_state);

 private:
  explicit DbPeek(sqlite3* db) : db_(db) {}
  int64_t Count(const char* sql, int state);
  sqlite3* db_;
  sqlite3_stmt* delivered_from_ = nullptr;  // prepared once: called on every WAL write
  sqlite3_stmt* events_after_ = nullptr;    // likewise
};

// Waits, sleeping `poll` between looks, until `done` or `timeout`.
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout,
               absl::Duration poll = absl::Milliseconds(20));

}  // namespace mir::bench

#endif  // MIR_BENCH_NETWORK_H_
