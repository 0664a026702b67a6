#include "bench/peers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "bench/amqp_peer.h"
#include "bench/redis_peer.h"

extern char** environ;

namespace mir::bench {
namespace {

constexpr char kRabbitServer[] = "/usr/lib/rabbitmq/bin/rabbitmq-server";
constexpr char kRabbitLib[] = "/usr/lib/rabbitmq/lib";
constexpr char kRedisServer[] = "/usr/bin/redis-server";
constexpr char kEpmd[] = "/usr/bin/epmd";

std::string Tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  return absl::StrJoin(last, " / ");
}

bool WriteFile(const std::string& path, const std::string& text, mode_t mode = 0600) {
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, mode);
  if (fd < 0) return false;
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// A server and whatever it forks, in a process group of its own: stopped as
// a group (SIGTERM, then SIGKILL after 30 s) by Stop or the destructor, and
// killed by the kernel if the bench dies first (PDEATHSIG). Peers run with
// the bench as child subreaper (RunPeers), so a daemon's grandchildren that
// outlive their parent are reaped here instead of lingering.
class ServerProcess {
 public:
  ServerProcess(std::string name, std::string log) : name_(std::move(name)), log_(std::move(log)) {}
  ~ServerProcess() { Stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // `env` is added to (and overrides) the bench's own environment.
  absl::Status Start(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env) {
    std::map<std::string, std::string> all;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      const size_t eq = kv.find('=');
      if (eq != std::string::npos) all[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : env) all[k] = v;
    // Built before fork: the child of a threaded process may only exec.
    std::vector<std::string> env_strings;
    for (const auto& [k, v] : all) env_strings.push_back(absl::StrCat(k, "=", v));
    std::vector<char*> envp, args;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (std::string& s : argv_copy) args.push_back(s.data());
    args.push_back(nullptr);
    const int log_fd = open(log_.c_str(), O_CREAT | O_WRONLY | O_APPEND, 0600);
    const int null_fd = open("/dev/null", O_RDONLY);
    if (log_fd < 0 || null_fd < 0) return absl::InternalError(absl::StrCat("cannot open ", log_));
    pid_ = fork();
    if (pid_ < 0) return absl::InternalError("fork failed");
    if (pid_ == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed bench
      dup2(null_fd, 0);
      dup2(log_fd, 1);
      dup2(log_fd, 2);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    setpgid(pid_, pid_);  // also here: no race with the first kill
    close(log_fd);
    close(null_fd);
    return absl::OkStatus();
  }

  // False once the direct child has exited (reaped here).
  bool Running() {
    if (pid_ <= 0 || exited_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) exited_ = true;
    return !exited_;
  }

  // Waits until every port accepts TCP connections; fails early if the
  // server exited, after `timeout` otherwise.
  absl::Status WaitListening(const std::vector<int>& ports, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      bool all = true;
      for (int port : ports) all = all && Listening(port);
      if (all) return absl::OkStatus();
      if (!Running()) return absl::UnavailableError(absl::StrCat(name_, " exited while starting"));
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat(name_, " not listening after ", absl::FormatDuration(timeout)));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (GroupAlive() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
    if (GroupAlive()) {
      std::fprintf(stderr, "mir-bench: %s did not stop in 30 s: SIGKILL\n", name_.c_str());
      kill(-pid_, SIGKILL);
      const absl::Time last = absl::Now() + absl::Seconds(5);
      while (GroupAlive() && absl::Now() < last) absl::SleepFor(absl::Milliseconds(50));
    }
    pid_ = -1;
  }

 private:
  // Reaps what it can of the group (the child, and orphans handed to the
  // subreaper), then asks whether anyone in it is left.
  bool GroupAlive() {
    int status = 0;
    while (waitpid(-pid_, &status, WNOHANG) > 0) {
    }
    return kill(-pid_, 0) == 0;
  }

  const std::string name_, log_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

struct TlsFiles {
  std::string ca, cert, key;
};

// The dev PKI's ECDSA P-256 HTTPS certificate of nvn's console (SAN
// localhost, 127.0.0.1; Erlang and Redis may not take the nodes' Ed25519
// ones); for an older PKI without it, a self-signed pair made here.
absl::StatusOr<TlsFiles> ServerCertificate(const Pki& pki, const std::string& dir) {
  TlsFiles f{pki.Path("web-ca.crt"), pki.Path("nvn/console-https.crt"),
             pki.Path("nvn/console-https.key")};
  if (std::filesystem::exists(f.ca) && std::filesystem::exists(f.cert) &&
      std::filesystem::exists(f.key)) {
    return f;
  }
  f = {dir + "/tls.crt", dir + "/tls.crt", dir + "/tls.key"};
  const std::string command = absl::StrCat(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "
      "/CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '",
      f.key, "' -out '", f.cert, "' >/dev/null 2>&1");
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError("openssl could not make the peers' TLS certificate");
  }
  return f;
}

std::string RabbitVersion() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kRabbitLib, ec)) {
    const std::string name = entry.path().filename().string();
    absl::string_view version = name;
    if (absl::ConsumePrefix(&version, "rabbitmq_server-")) return std::string(version);
  }
  return "";
}

std::string RedisVersion() {
  std::string out;
  if (FILE* p = popen(absl::StrCat(kRedisServer, " --version 2>/dev/null").c_str(), "r")) {
    char buf[256];
    while (fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    pclose(p);
  }
  const size_t v = out.find("v=");
  return v == std::string::npos ? "" : out.substr(v + 2, out.find(' ', v) - v - 2);
}

void RecordRuns(PeerResults* results, const std::string& peer, bool tls, const std::string& setup,
                const absl::StatusOr<std::vector<RunFigures>>& runs) {
  const std::string what = absl::StrCat(peer, tls ? " over TLS" : " plain");
  if (!runs.ok()) {
    results->notes.push_back(absl::StrCat(what, ": FAILED: ", runs.status().message()));
    return;
  }
  for (const RunFigures& r : *runs) results->runs.push_back({peer, tls, setup, r});
}

// --- RabbitMQ ---

// One node serving AMQP plain and over TLS. Debian's wrapper would run it as
// user rabbitmq with /var/lib/rabbitmq; the server script itself, with every
// base directory, the node name, ports and HOME (for the Erlang cookie) set
// here, runs as whoever runs the bench and touches no system service. epmd
// too is ours, on a free loopback port, so nothing outlives the run.
void RunRabbit(const TlsFiles& tls, const std::string& dir, int count, PeerResults* results,
               const std::function<void(const std::string&)>& progress) {
  if (!AmqpClientAvailable()) {
    results->notes.push_back(
        "RabbitMQ skipped: mir-bench was built without librabbitmq-dev (scripts/setup.sh "
        "--with-bench-peers, then rebuild)");
    return;
  }
  if (access(kRabbitServer, X_OK) != 0 || access(kEpmd, X_OK) != 0) {
    results->notes.push_back(absl::StrCat("RabbitMQ skipped: ", kRabbitServer, " or ", kEpmd,
                                          " not installed (scripts/setup.sh --with-bench-peers)"));
    return;
  }
  MakeWorkDir(dir);
  for (const char* sub : {"home", "mnesia", "log"}) MakeWorkDir(absl::StrCat(dir, "/", sub));
  std::random_device random;
  const std::string cookie = absl::StrCat("mirbench", random(), random());
  const int amqp = FreePort(), amqps = FreePort(), dist = FreePort(), epmd_port = FreePort();
  const std::string node = absl::StrCat("bench-", getpid(), "@localhost");
  const std::string config =
      absl::StrCat("listeners.tcp.1 = 127.0.0.1:", amqp, "\nlisteners.ssl.1 = 127.0.0.1:", amqps,
                   "\nssl_options.cacertfile = ", tls.ca, "\nssl_options.certfile = ", tls.cert,
                   "\nssl_options.keyfile = ", tls.key,
                   "\nssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n"
                   "log.console = false\nlog.file.level = warning\n");
  if (!WriteFile(dir + "/home/.erlang.cookie", cookie, 0400) ||
      !WriteFile(dir + "/rabbitmq.conf", config) || !WriteFile(dir + "/enabled_plugins", "[].\n")) {
    results->notes.push_back(absl::StrCat("RabbitMQ: FAILED: cannot write its files in ", dir));
    return;
  }
  ServerProcess epmd("epmd", dir + "/epmd.log");
  ServerProcess rabbit("rabbitmq-server", dir + "/stdout.log");
  absl::Status started =
      epmd.Start({kEpmd, "-port", absl::StrCat(epmd_port), "-address", "127.0.0.1"}, {});
  if (started.ok()) {
    started = epmd.WaitListening({epmd_port}, absl::Seconds(10));
  }
  if (started.ok()) {
    progress("peers: starting RabbitMQ");
    started = rabbit.Start(
        {kRabbitServer},
        {{"HOME", dir + "/home"},
         {"RABBITMQ_MNESIA_BASE", dir + "/mnesia"},
         {"RABBITMQ_LOG_BASE", dir + "/log"},
         {"RABBITMQ_CONFIG_FILE", dir + "/rabbitmq.conf"},
         {"RABBITMQ_ADVANCED_CONFIG_FILE", dir + "/advanced.config"},  // absent: none
         {"RABBITMQ_ENABLED_PLUGINS_FILE", dir + "/enabled_plugins"},
         {"RABBITMQ_PID_FILE", dir + "/rabbitmq.pid"},
         {"RABBITMQ_CONF_ENV_FILE", "/dev/null"},  // not /etc/rabbitmq's
         {"RABBITMQ_NODENAME", node},
         {"RABBITMQ_NODE_PORT", absl::StrCat(amqp)},
         {"RABBITMQ_DIST_PORT", absl::StrCat(dist)},
         {"ERL_EPMD_PORT", absl::StrCat(epmd_port)},
         {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}"}});
  }
  if (started.ok()) started = rabbit.WaitListening({amqp, amqps}, absl::Minutes(3));
  if (!started.ok()) {
    results->notes.push_back(absl::StrCat("RabbitMQ: FAILED: ", started.message(), "; log: ",
                                          Tail(absl::StrCat(dir, "/log/", node, ".log"), 4), " / ",
                                          Tail(dir + "/stdout.log", 4)));
    return;
  }
  const std::string version = RabbitVersion();
  for (const bool quorum : {false, true}) {
    for (const bool use_tls : {false, true}) {
      const std::string peer = quorum ? kRabbitQuorum : kRabbitClassic;
      progress(absl::StrCat("peers: ", peer, use_tls ? " over TLS" : " plain"));
      const std::string queue =
          absl::StrCat("bench-", quorum ? "quorum" : "classic", use_tls ? "-tls" : "");
      RecordRuns(
          results, peer, use_tls,
          absl::StrCat("RabbitMQ ", version, ", ", quorum ? "quorum" : "classic",
                       " queue (durable), persistent, publisher confirms", use_tls ? ", TLS" : ""),
          RunAmqpPublish(use_tls ? amqps : amqp, use_tls ? tls.ca : "", queue, quorum, PeerLevels(),
                         count));
    }
  }
  progress("peers: stopping RabbitMQ");
  rabbit.Stop();
  epmd.Stop();
}

// --- Redis ---

// One redis-server per transport: `port` alone, or `tls-port` with `port 0`.
void RunRedis(const TlsFiles& tls, const std::string& dir, int count, bool use_tls,
              PeerResults* results, const std::function<void(const std::string&)>& progress) {
  if (access(kRedisServer, X_OK) != 0) {
    if (!use_tls) {
      results->notes.push_back(absl::StrCat(
          "Redis skipped: ", kRedisServer, " not installed (scripts/setup.sh --with-bench-peers)"));
    }
    return;
  }
  MakeWorkDir(dir);
  const int port = FreePort();
  std::string config = absl::StrCat(
      "bind 127.0.0.1\nprotected-mode yes\ndaemonize no\nsupervised no\ndir ", dir, "\nlogfile ",
      dir, "/redis.log\nsave \"\"\nappendonly yes\nappendfsync always\n");
  if (use_tls) {
    absl::StrAppend(&config, "port 0\ntls-port ", port, "\ntls-cert-file ", tls.cert,
                    "\ntls-key-file ", tls.key, "\ntls-ca-cert-file ", tls.ca,
                    "\ntls-auth-clients no\n");
  } else {
    absl::StrAppend(&config, "port ", port, "\n");
  }
  if (!WriteFile(dir + "/redis.conf", config)) {
    results->notes.push_back(absl::StrCat("Redis: FAILED: cannot write ", dir, "/redis.conf"));
    return;
  }
  ServerProcess redis("redis-server", dir + "/stdout.log");
  absl::Status started = redis.Start({kRedisServer, dir + "/redis.conf"}, {});
  if (started.ok()) started = redis.WaitListening({port}, absl::Seconds(30));
  if (!started.ok()) {
    results->notes.push_back(
        absl::StrCat("Redis", use_tls ? " over TLS" : "", ": FAILED: ", started.message(),
                     "; log: ", Tail(dir + "/redis.log", 4), " / ", Tail(dir + "/stdout.log", 4)));
    return;
  }
  progress(absl::StrCat("peers: ", kRedisStream, use_tls ? " over TLS" : " plain"));
  RecordRuns(results, kRedisStream, use_tls,
             absl::StrCat("Redis ", RedisVersion(), ", XADD, appendonly yes, appendfsync always",
                          use_tls ? ", TLS" : ""),
             RunRedisXadd(port, use_tls ? tls.ca : "", "bench", PeerLevels(), count));
  redis.Stop();
}

// Orphans of the servers (beam.smp once the rabbitmq-server script is gone)
// become the bench's children while this lives, so they can be reaped. Some
// left their group (epmd -daemon, tried by RabbitMQ's start even with ours
// running, calls setsid): the destructor reaps what is dead of those, while
// the bench has no other child.
class Subreaper {
 public:
  Subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~Subreaper() {
    prctl(PR_SET_CHILD_SUBREAPER, 0);
    const std::string self = absl::StrCat(getpid());
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in(entry.path() / "stat");
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const size_t close = text.rfind(')');
      if (close == std::string::npos || close + 4 >= text.size()) continue;
      // After ')': the state, then the parent's pid.
      const std::string rest = text.substr(close + 2);
      if (rest[0] != 'Z' || rest.compare(2, self.size() + 1, self + " ") != 0) continue;
      int status = 0;
      waitpid(std::stoi(name), &status, WNOHANG);
    }
  }
};

}  // namespace

const RunFigures* PeerResults::Find(const std::string& peer, bool tls, int in_flight) const {
  for (const PeerRun& r : runs) {
    if (r.peer == peer && r.tls == tls && r.run.in_flight == in_flight && r.run.completed > 0) {
      return &r.run;
    }
  }
  return nullptr;
}

PeerResults RunPeers(const Pki& pki, const std::string& dir, int count, bool keep,
                     const std::function<void(const std::string&)>& progress) {
  PeerResults results;
  MakeWorkDir(dir);
  const absl::StatusOr<TlsFiles> tls = ServerCertificate(pki, dir);
  if (!tls.ok()) {
    results.notes.push_back(absl::StrCat("peers: FAILED: ", tls.status().message()));
    return results;
  }
  {
    Subreaper subreaper;
    RunRabbit(*tls, dir + "/rabbitmq", count, &results, progress);
    RunRedis(*tls, dir + "/redis", count, false, &results, progress);
    RunRedis(*tls, dir + "/redis-tls", count, true, &results, progress);
  }
  if (!keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return results;
}

}  // namespace mir::bench
