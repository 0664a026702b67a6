#include "bench/national.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/loadgen.h"
#include "bench/workloads.h"
#include "client/actions.h"
#include "client/credentials.h"
#include "common/clock.h"
#include "crypto/sealed_referral.h"
#include "crypto/signer.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/referrals.grpc.pb.h"
#include "mir/v1/status_change.pb.h"

namespace mir::bench {
namespace {

constexpr absl::Duration kCallDeadline = absl::Seconds(60);
// The watcher's tick, and how long after a write to a database's WAL it
// keeps looking at that database every tick: a commit is visible only
// after its sync, which follows the last write inotify reports.
constexpr absl::Duration kTick = absl::Milliseconds(2);
constexpr absl::Duration kHotAfterWrite = absl::Milliseconds(10);
// Every database is looked at this often regardless (a sync slower than
// kHotAfterWrite).
constexpr absl::Duration kSweep = absl::Milliseconds(50);

// --- A region's operator, as mirctl connects ---

struct RegionClient {
  std::string node;
  std::unique_ptr<Signer> signer;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::Referrals::Stub> stub;
};

absl::StatusOr<std::unique_ptr<RegionClient>> ConnectRegion(const Network& network,
                                                            const std::string& node) {
  const Pki& pki = network.pki;
  auto credentials =
      client::LoadCredentials(pki.Path(node + "/operator.crt"), pki.Path(node + "/operator.key"),
                              pki.Path("ca.crt"), RealClock::Get());
  if (!credentials.ok()) return credentials.status();
  auto out = std::make_unique<RegionClient>();
  out->node = node;
  out->signer = std::move(credentials->signer);
  out->channel = MakeChannels(network.Address(node), credentials->channel, 1).front();
  out->stub = v1::Referrals::NewStub(out->channel);
  return out;
}

// --- Seeing referrals arrive at their destinations ---

// Records when each expected referral's SUBMITTED event appears in its
// destination's database. One thread: inotify on the network's folder says
// which database's WAL was written; those are queried (read-only) every
// tick for kHotAfterWrite, and all of them every kSweep. Thread-safe.
class ArrivalWatcher {
 public:
  static absl::StatusOr<std::unique_ptr<ArrivalWatcher>> Start(
      const Network& network, const std::vector<std::string>& nodes) {
    std::vector<std::unique_ptr<DbPeek>> peeks;
    std::map<std::string, size_t> by_wal;
    for (size_t i = 0; i < nodes.size(); ++i) {
      const std::string path = network.DatabasePath(nodes[i]);
      auto peek = DbPeek::Open(path);
      if (!peek.ok()) return peek.status();
      peeks.push_back(std::move(*peek));
      by_wal[std::filesystem::path(path).filename().string() + "-wal"] = i;
    }
    const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return absl::InternalError("inotify_init1 failed");
    if (inotify_add_watch(fd, network.dir.c_str(), IN_MODIFY) < 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("cannot watch ", network.dir));
    }
    std::unique_ptr<ArrivalWatcher> w(
        new ArrivalWatcher(fd, nodes, std::move(by_wal), std::move(peeks)));
    w->thread_ = std::thread([raw = w.get()] { raw->Run(); });
    return w;
  }

  ~ArrivalWatcher() {
    stop_.store(true);
    thread_.join();
    close(fd_);
  }

  // From now, until `referral_id` is at `destination`; its latency goes to `samples`.
  void Expect(const std::string& referral_id, const std::string& destination, Samples* samples) {
    absl::MutexLock lock(&mu_);
    expected_[referral_id] = Expected{destination, SteadyClock::now(), samples};
  }
  void Forget(const std::string& referral_id) {
    absl::MutexLock lock(&mu_);
    expected_.erase(referral_id);
  }
  size_t Outstanding() const {
    absl::MutexLock lock(&mu_);
    return expected_.size();
  }
  // A few of those still awaited, for an error message.
  std::string SomeOutstanding() const {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> some;
    for (const auto& [id, e] : expected_) {
      if (some.size() == 3) break;
      some.push_back(absl::StrCat(id, " for ", e.destination));
    }
    return absl::StrJoin(some, ", ");
  }

 private:
  struct Expected {
    std::string destination;
    SteadyClock::time_point since;
    Samples* samples;
  };

  ArrivalWatcher(int fd, std::vector<std::string> nodes, std::map<std::string, size_t> by_wal,
                 std::vector<std::unique_ptr<DbPeek>> peeks)
      : fd_(fd),
        nodes_(std::move(nodes)),
        by_wal_(std::move(by_wal)),
        peeks_(std::move(peeks)),
        last_event_(nodes_.size(), 0),
        hot_until_(nodes_.size()) {}

  void Run() {
    alignas(inotify_event) char buffer[8192];
    SteadyClock::time_point next_sweep = SteadyClock::now();
    const timespec tick = absl::ToTimespec(kTick);
    while (!stop_.load()) {
      pollfd p{fd_, POLLIN, 0};
      ppoll(&p, 1, &tick, nullptr);
      const SteadyClock::time_point now = SteadyClock::now();
      for (ssize_t n; (n = read(fd_, buffer, sizeof(buffer))) > 0;) {
        for (char* at = buffer; at < buffer + n;) {
          const auto* event = reinterpret_cast<const inotify_event*>(at);
          if (event->len > 0) {
            auto it = by_wal_.find(event->name);
            if (it != by_wal_.end())
              hot_until_[it->second] = now + absl::ToChronoNanoseconds(kHotAfterWrite);
          }
          at += sizeof(inotify_event) + event->len;
        }
      }
      const bool sweep = now >= next_sweep;
      if (sweep) next_sweep = now + absl::ToChronoNanoseconds(kSweep);
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (sweep || hot_until_[i] > now) Look(i);
      }
    }
  }

  void Look(size_t i) {
    const auto rows = peeks_[i]->EventsAfter(last_event_[i], v1::SUBMITTED);
    if (rows.empty()) return;
    last_event_[i] = rows.back().first;
    const SteadyClock::time_point now = SteadyClock::now();
    absl::MutexLock lock(&mu_);
    for (const auto& [id, referral_id] : rows) {
      auto it = expected_.find(referral_id);
      // The origin's own SUBMITTED event is in its database too.
      if (it == expected_.end() || it->second.destination != nodes_[i]) continue;
      it->second.samples->Add(
          std::chrono::duration<double, std::micro>(now - it->second.since).count());
      expected_.erase(it);
    }
  }

  const int fd_;
  const std::vector<std::string> nodes_;
  const std::map<std::string, size_t> by_wal_;  // "<node>.db-wal" -> index
  // Used by the watcher thread only.
  const std::vector<std::unique_ptr<DbPeek>> peeks_;
  std::vector<int64_t> last_event_;
  std::vector<SteadyClock::time_point> hot_until_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::map<std::string, Expected> expected_ ABSL_GUARDED_BY(mu_);
};

// --- Submitting ---

// Referrals submitted, and their Submit calls still outstanding. The
// destructor waits for those: their callbacks use this and the clients.
class Submissions {
 public:
  struct Referral {
    std::string origin, destination;
    bool accepted = false;
    bool answered = false;
  };

  explicit Submissions(ArrivalWatcher& watcher) : watcher_(watcher) {}
  ~Submissions() {
    if (!WaitAnswered(absl::Minutes(2))) {
      std::fprintf(stderr, "mir-bench: Submit calls never finished; giving up\n");
      std::_Exit(3);
    }
  }

  // Signs and submits one new referral as mirctl does (client-made header,
  // sealed body, one round trip); `e2e` gets its latency once it arrives.
  void Submit(RegionClient& client, const std::string& destination, const std::string& body,
              Samples* submit_latency, Samples* e2e) {
    struct Call {
      grpc::ClientContext context;
      v1::SubmitRequest request;
      v1::SubmitResponse response;
    };
    auto call = std::make_shared<Call>();
    const absl::Time now = absl::Now();
    const v1::PrepareResponse header = client::NewReferralHeader(destination, now);
    const std::string referral_id = header.headers(0).referral_id();
    absl::Status status = Sign(client, header, destination, body, now, call->request);
    {
      absl::MutexLock lock(&mu_);
      referrals_[referral_id] = Referral{client.node, destination, false, false};
      ++outstanding_;
    }
    if (!status.ok()) {
      Answered(referral_id, status, 0, nullptr);
      return;
    }
    watcher_.Expect(referral_id, destination, e2e);
    call->context.set_deadline(absl::ToChronoTime(now + kCallDeadline));
    const SteadyClock::time_point start = SteadyClock::now();
    client.stub->async()->Submit(
        &call->context, &call->request, &call->response,
        [this, call, referral_id, start, submit_latency](grpc::Status s) {
          absl::Status outcome(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
          if (outcome.ok() && call->response.message_ids_size() < 1) {
            outcome = absl::InternalError("Submit answered no message id");
          }
          Answered(referral_id, outcome, MicrosSince(start), submit_latency);
        });
  }

  bool WaitAnswered(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return outstanding_ == 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }
  int accepted() const {
    absl::MutexLock lock(&mu_);
    return accepted_;
  }
  int failed() const {
    absl::MutexLock lock(&mu_);
    return failed_;
  }
  std::string first_error() const {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }
  std::map<std::string, Referral> referrals() const {
    absl::MutexLock lock(&mu_);
    return referrals_;
  }

 private:
  static absl::Status Sign(RegionClient& client, const v1::PrepareResponse& header,
                           const std::string& destination, const std::string& body_template,
                           absl::Time now, v1::SubmitRequest& request) {
    const std::string& referral_id = header.headers(0).referral_id();
    v1::Referral referral;
    if (!referral.ParseFromString(body_template)) {
      return absl::InternalError("bench referral does not parse");
    }
    referral.set_referral_id(referral_id);
    referral.set_origin_node(client.node);
    referral.set_destination_node(destination);
    const std::string key = BenchReferralKey(referral_id);
    if (absl::Status s = SealReferral(referral, SecretKey(key)); !s.ok()) return s;
    auto envelopes = client::SignUnderEachHeader(*client.signer, header, v1::REFERRAL, referral_id,
                                                 referral.SerializeAsString(), now);
    if (!envelopes.ok()) return envelopes.status();
    for (std::string& e : *envelopes) request.add_envelopes(std::move(e));
    request.set_referral_key(key);
    return absl::OkStatus();
  }

  void Answered(const std::string& referral_id, const absl::Status& status, double micros,
                Samples* latency) {
    if (!status.ok()) watcher_.Forget(referral_id);
    absl::MutexLock lock(&mu_);
    Referral& r = referrals_[referral_id];
    r.answered = true;
    r.accepted = status.ok();
    if (status.ok()) {
      ++accepted_;
      if (latency != nullptr) latency->Add(micros);
    } else {
      ++failed_;
      if (first_error_.empty()) first_error_ = status.ToString();
    }
    --outstanding_;
  }

  ArrivalWatcher& watcher_;
  mutable absl::Mutex mu_;
  std::map<std::string, Referral> referrals_ ABSL_GUARDED_BY(mu_);
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  int accepted_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

// Round-robin destinations: region `i`'s k-th referral goes to the k-th of
// the other regions after it.
const std::string& Destination(const std::vector<std::string>& regions, size_t origin, int64_t k) {
  const size_t others = regions.size() - 1;
  return regions[(origin + 1 + static_cast<size_t>(k) % others) % regions.size()];
}

// Every submitted referral once at its destination (a failed submission
// may be there at most once), no referral of ours anywhere else, no dead
// letter at any node. Returns how many were found exactly once.
absl::StatusOr<int> CheckExactlyOnce(
    const Network& network, const std::vector<std::string>& nodes,
    const std::map<std::string, Submissions::Referral>& referrals) {
  std::vector<std::string> problems;
  int exactly_once = 0;
  for (const std::string& node : nodes) {
    auto peek = DbPeek::Open(network.DatabasePath(node));
    if (!peek.ok()) return peek.status();
    if (const int64_t dead = (*peek)->OutboxCount(2); dead != 0) {
      problems.push_back(absl::StrCat(node, " has ", dead, " dead letters"));
    }
    std::map<std::string, int> count;
    for (const auto& [id, referral_id] : (*peek)->EventsAfter(0, v1::SUBMITTED)) {
      ++count[referral_id];
    }
    for (const auto& [referral_id, n] : count) {
      auto it = referrals.find(referral_id);
      if (it == referrals.end() || (it->second.origin != node && it->second.destination != node)) {
        problems.push_back(
            absl::StrCat("referral ", referral_id, " is at ", node, ", not its way"));
      }
    }
    for (const auto& [referral_id, r] : referrals) {
      if (r.destination != node) continue;
      auto it = count.find(referral_id);
      const int n = it == count.end() ? 0 : it->second;
      if (n == 1 && r.accepted) {
        ++exactly_once;
      } else if (n > 1 || (r.accepted && n != 1)) {
        problems.push_back(absl::StrCat("referral ", referral_id, " from ", r.origin, " is at ",
                                        node, " ", n, " times"));
      }
    }
  }
  if (!problems.empty()) {
    if (problems.size() > 5) {
      const size_t more = problems.size() - 5;
      problems.resize(5);
      problems.push_back(absl::StrCat("and ", more, " more"));
    }
    return absl::DataLossError(
        absl::StrCat("not delivered exactly once: ", absl::StrJoin(problems, "; ")));
  }
  return exactly_once;
}

}  // namespace

const std::vector<std::string>& RegionalNodes() {
  static const auto* regions =
      new std::vector<std::string>{"toscana",    "lombardia",      "abruzzo",
                                   "basilicata", "bolzano",        "calabria",
                                   "campania",   "emilia-romagna", "friuli-venezia-giulia",
                                   "lazio",      "liguria",        "marche",
                                   "molise",     "piemonte",       "puglia",
                                   "sardegna",   "sicilia",        "trento",
                                   "umbria",     "valle-aosta",    "veneto"};
  return *regions;
}

double NationalFigures::NetworkCpuMsPerReferral() const {
  double cpu = 0;
  for (const NodeFigures& p : processes) cpu += p.cpu_s;
  return submitted > 0 ? cpu * 1e3 / submitted : 0;
}

absl::StatusOr<NationalFigures> RunNational(
    const Pki& pki, const std::string& dir, int nodes, const NationalOptions& options,
    const std::function<void(const std::string&)>& progress) {
  const std::vector<std::string>& all = RegionalNodes();
  if (nodes < 3 || nodes > static_cast<int>(all.size()) + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("a national network has 3 to ", all.size() + 1, " nodes, not ", nodes));
  }
  const std::vector<std::string> regions(all.begin(), all.begin() + (nodes - 1));
  std::vector<std::string> names = {"nvn"};
  names.insert(names.end(), regions.begin(), regions.end());

  MakeWorkDir(dir);
  Network network = Network::Make(pki, dir, 0, regions);
  for (const std::string& region : regions) {
    network.options[region].handler_threads = options.region_handler_threads;
  }
  progress(
      absl::StrCat("network of ", nodes, " nodes: starting nvn and ", regions.size(), " regions"));
  // Declared in this order so that they are destroyed in the reverse one:
  // outstanding calls first, then the watcher, the latency samples both
  // write to, the clients, the processes; also when a step fails.
  auto net = RunningNetwork::Start(network, names);
  if (!net.ok()) return net.status();
  std::vector<std::unique_ptr<RegionClient>> clients;
  for (const std::string& region : regions) {
    auto client = ConnectRegion(network, region);
    if (!client.ok()) return client.status();
    clients.push_back(std::move(*client));
  }
  Samples discard, submit_latency, e2e;  // warm-up; the measured load
  auto watcher = ArrivalWatcher::Start(network, regions);
  if (!watcher.ok()) return watcher.status();
  Submissions submissions(**watcher);
  // The clear body, in the size of the other workloads; origin, destination
  // and id are set, and the sealed fields sealed, per referral.
  const std::string body = ReferralBody("", "nvn");

  auto wait_delivered = [&](absl::Duration timeout) -> absl::Status {
    if (!submissions.WaitAnswered(timeout)) {
      return absl::DeadlineExceededError("Submit calls still unanswered");
    }
    if (!WaitUntil([&] { return (*watcher)->Outstanding() == 0; }, timeout,
                   absl::Milliseconds(10))) {
      return absl::DeadlineExceededError(
          absl::StrCat((*watcher)->Outstanding(), " referrals not at their destination after ",
                       absl::FormatDuration(timeout), ", e.g. ", (*watcher)->SomeOutstanding()));
    }
    if (!(*net)->WaitQuiet(timeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("outboxes not empty after ", absl::FormatDuration(timeout),
                       " (RECEIVED answers or key releases still on their way)"));
    }
    return absl::OkStatus();
  };

  // Warm-up: one referral from each region to the next one, so that every
  // connection (region -> nvn, nvn -> region) exists before the clock runs.
  for (size_t i = 0; i < clients.size(); ++i) {
    submissions.Submit(*clients[i], Destination(regions, i, 0), body, &discard, &discard);
  }
  if (absl::Status s = wait_delivered(absl::Minutes(2)); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("warm-up: ", s.message()));
  }
  if (submissions.failed() > 0) {
    return absl::UnavailableError(absl::StrCat("warm-up: ", submissions.first_error()));
  }
  const int warm_up = submissions.accepted();

  // Idle: what the processes cost with nothing to carry.
  NationalFigures out;
  out.nodes = nodes;
  out.rate_per_region = options.rate_per_region;
  out.warm_up = warm_up;
  std::map<std::string, double> idle_cpu;
  for (const std::string& node : names) idle_cpu[node] = (*net)->process(node).CpuSeconds();
  const SteadyClock::time_point idle_start = SteadyClock::now();
  absl::SleepFor(options.idle);  // measuring time, not waiting for a condition
  const double idle_seconds = SecondsSince(idle_start);
  for (const std::string& node : names) {
    idle_cpu[node] = ((*net)->process(node).CpuSeconds() - idle_cpu[node]) * 1e3 / idle_seconds;
  }

  // The load: open loop, each region at rate_per_region, the regions' turns
  // interleaved evenly.
  const int total = static_cast<int>(options.rate_per_region * regions.size() *
                                     absl::ToDoubleSeconds(options.duration));
  const absl::Duration interval =
      absl::Seconds(1) / (options.rate_per_region * static_cast<double>(regions.size()));
  progress(absl::StrCat("network of ", nodes, " nodes: ", total, " referrals, ",
                        options.rate_per_region, "/s from each region, for ",
                        absl::FormatDuration(options.duration)));
  std::vector<int> originated(regions.size(), 0);
  // Everything nvn receives here it relays. Its inbox is counted during the
  // load (a small table); its outbox, whose delivered rows are the relayed
  // envelopes, only at the end (a scan of every envelope it stored).
  const int64_t hub_received_before = (*net)->peek("nvn").InboxCount();
  const int64_t hub_relayed_before = (*net)->peek("nvn").OutboxCount(1);
  (*net)->BeginCost();
  const absl::Time start = absl::Now();
  const SteadyClock::time_point steady_start = SteadyClock::now();
  for (int n = 0; n < total; ++n) {
    const absl::Time due = start + interval * n;
    if (const absl::Duration ahead = due - absl::Now(); ahead > absl::ZeroDuration()) {
      absl::SleepFor(ahead);  // pacing the open loop
    }
    const size_t i = static_cast<size_t>(n) % regions.size();
    submissions.Submit(*clients[i], Destination(regions, i, originated[i]++), body, &submit_latency,
                       &e2e);
  }
  out.load_seconds = SecondsSince(steady_start);
  const SteadyClock::time_point load_end = SteadyClock::now();
  out.hub_envelopes_in_load = (*net)->peek("nvn").InboxCount() - hub_received_before;
  if (absl::Status s = wait_delivered(options.delivery_timeout); !s.ok()) return s;
  out.settle_seconds = SecondsSince(load_end);
  out.submitted = submissions.accepted() - warm_up;
  out.failed = submissions.failed();
  out.first_error = submissions.first_error();
  const PhaseCost cost = (*net)->EndCost(out.submitted);
  out.hub_envelopes = (*net)->peek("nvn").OutboxCount(1) - hub_relayed_before;
  for (size_t k = 0; k < names.size(); ++k) {
    const std::string& node = names[k];
    NodeFigures p;
    p.node = node;
    p.cpu_s = cost.broker_cpu_s.at(node);
    p.idle_cpu_ms_per_s = idle_cpu[node];
    p.rss_mib = (*net)->process(node).RssMiB();
    p.peak_rss_mib = cost.peak_rss_mib.at(node);
    p.originated = k == 0 ? 0 : originated[k - 1];
    out.processes.push_back(p);
  }
  out.bench_cpu_s = cost.client_cpu_s;
  for (auto [samples, figures] :
       {std::pair{&submit_latency, &out.submit}, std::pair{&e2e, &out.e2e}}) {
    figures->completed = static_cast<int>(samples->size());
    figures->seconds = out.load_seconds;
    FillPercentiles(*samples, figures);
  }
  out.submit.failed = out.failed;
  out.submit.first_error = out.first_error;

  progress(
      absl::StrCat("network of ", nodes, " nodes: checking every referral at its destination"));
  auto checked = CheckExactlyOnce(network, names, submissions.referrals());
  if (!checked.ok()) return checked.status();
  out.checked = *checked;
  if (out.checked != submissions.accepted()) {
    return absl::DataLossError(absl::StrCat(submissions.accepted(), " referrals accepted, ",
                                            out.checked, " found at their destination"));
  }
  return out;
}

}  // namespace mir::bench
