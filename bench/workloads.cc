#include "bench/workloads.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/loadgen.h"
#include "broker/envelope_events.h"
#include "broker/node.h"
#include "client/actions.h"
#include "client/credentials.h"
#include "client/referrals_client.h"
#include "common/clock.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"
#include "crypto/sealed_referral.h"
#include "crypto/signer.h"
#include "mir/v1/referral.pb.h"
#include "mir/v1/referrals.grpc.pb.h"
#include "mir/v1/status_change.pb.h"
#include "storage/store.h"

namespace mir::bench {
namespace {

constexpr absl::Duration kCallDeadline = absl::Seconds(60);

// --- Operator clients ---

// The toscana operator, connected to toscana with `in_flight` lanes.
struct OperatorClient {
  std::unique_ptr<Signer> signer;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::Referrals::Stub>> stubs;
  v1::Referrals::Stub& stub(int lane) { return *stubs[static_cast<size_t>(lane) % stubs.size()]; }
};

absl::StatusOr<OperatorClient> ConnectOperator(const Pki& pki, const std::string& address,
                                               int in_flight) {
  auto credentials =
      client::LoadCredentials(pki.Path("toscana/operator.crt"), pki.Path("toscana/operator.key"),
                              pki.Path("ca.crt"), RealClock::Get());
  if (!credentials.ok()) return credentials.status();
  OperatorClient out;
  out.signer = std::move(credentials->signer);
  out.channels = MakeChannels(address, credentials->channel, ChannelsFor(in_flight));
  for (auto& channel : out.channels) out.stubs.push_back(v1::Referrals::NewStub(channel));
  return out;
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// One referral submitted as the operator client does it. `then` gets the
// message id of the (single) envelope once toscana answered.
void StartSubmission(OperatorClient& client, int lane, SubmitPath path,
                     std::function<void(absl::StatusOr<std::string>)> then) {
  struct Call {
    grpc::ClientContext prepare_context, submit_context;
    v1::PrepareRequest prepare_request;
    v1::PrepareResponse prepare_response;
    v1::SubmitRequest submit_request;
    v1::SubmitResponse submit_response;
    std::function<void(absl::StatusOr<std::string>)> then;
  };
  auto* call = new Call;
  call->then = std::move(then);
  v1::Referrals::Stub& stub = client.stub(lane);
  // Signs under `headers` and submits; finishes the call.
  auto submit = [call, &stub, &client](const v1::PrepareResponse& prepared) {
    const std::string& referral_id = prepared.headers(0).referral_id();
    auto envelopes =
        client::SignUnderEachHeader(*client.signer, prepared, v1::REFERRAL, referral_id,
                                    ReferralBody(referral_id, "nvn"), absl::Now());
    if (!envelopes.ok()) {
      auto then = std::move(call->then);
      delete call;
      then(envelopes.status());
      return;
    }
    for (std::string& e : *envelopes) call->submit_request.add_envelopes(std::move(e));
    call->submit_request.set_referral_key(BenchReferralKey(referral_id));
    call->submit_context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
    stub.async()->Submit(&call->submit_context, &call->submit_request, &call->submit_response,
                         [call](grpc::Status status) {
                           auto then = std::move(call->then);
                           absl::StatusOr<std::string> outcome =
                               absl::InternalError("expected one message id");
                           if (!status.ok()) {
                             outcome = FromGrpc(status);
                           } else if (call->submit_response.message_ids_size() == 1) {
                             outcome = call->submit_response.message_ids(0);
                           }
                           delete call;
                           then(std::move(outcome));
                         });
  };
  if (path == SubmitPath::kClient) {
    submit(client::NewReferralHeader("nvn", absl::Now()));
    return;
  }
  call->prepare_request.set_kind(v1::REFERRAL);
  call->prepare_request.set_destination_node("nvn");
  call->prepare_context.set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
  stub.async()->Prepare(
      &call->prepare_context, &call->prepare_request, &call->prepare_response,
      [call, submit](grpc::Status status) {
        if (!status.ok() || call->prepare_response.headers_size() != 1) {
          auto then = std::move(call->then);
          delete call;
          then(status.ok() ? absl::InternalError("expected one header") : FromGrpc(status));
          return;
        }
        submit(call->prepare_response);
      });
}

// --- Seeing deliveries at toscana ---

// Calls back when an outbox entry of `db_path` turns delivered. Woken by
// inotify on the database's WAL (every commit writes it), and every 250 µs
// regardless, it looks the awaited messages up in a read-only connection.
class DeliveryWatcher {
 public:
  static absl::StatusOr<std::unique_ptr<DeliveryWatcher>> Start(const std::string& db_path) {
    auto peek = DbPeek::Open(db_path);
    if (!peek.ok()) return peek.status();
    const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return absl::InternalError("inotify_init1 failed");
    const std::filesystem::path path(db_path);
    inotify_add_watch(fd, path.parent_path().c_str(), IN_MODIFY);
    std::unique_ptr<DeliveryWatcher> w(
        new DeliveryWatcher(fd, path.filename().string() + "-wal", std::move(*peek)));
    w->thread_ = std::thread([raw = w.get()] { raw->Run(); });
    return w;
  }
  ~DeliveryWatcher() {
    stop_.store(true);
    thread_.join();
    close(fd_);
  }
  void Watch(const std::string& message_id, std::function<void()> delivered) {
    absl::MutexLock lock(&mu_);
    waiting_[message_id] = Waiting{-1, std::move(delivered)};
  }

 private:
  DeliveryWatcher(int fd, std::string wal_name, std::unique_ptr<DbPeek> peek)
      : fd_(fd), wal_name_(std::move(wal_name)), peek_(std::move(peek)) {}

  void Run() {
    alignas(inotify_event) char buffer[8192];
    while (!stop_.load()) {
      // A commit becomes visible only after its WAL sync, i.e. after the
      // last write inotify reports: so look again every 250 µs as well.
      pollfd p{fd_, POLLIN, 0};
      const timespec tick{0, 250'000};
      const bool woken = ppoll(&p, 1, &tick, nullptr) > 0;
      bool wal_written = !woken;  // on timeout, look anyway
      for (ssize_t n; (n = read(fd_, buffer, sizeof(buffer))) > 0;) {
        for (char* at = buffer; at < buffer + n;) {
          const auto* event = reinterpret_cast<const inotify_event*>(at);
          if (event->len > 0 && wal_name_ == event->name) wal_written = true;
          at += sizeof(inotify_event) + event->len;
        }
      }
      if (!wal_written) continue;
      // Outbox ids of newly watched messages, then one range query from
      // the oldest one watched: a few rows, not one lookup per message.
      std::vector<std::string> unknown;
      {
        absl::MutexLock lock(&mu_);
        for (const auto& [id, w] : waiting_) {
          if (w.outbox_id < 0) unknown.push_back(id);
        }
      }
      for (const std::string& id : unknown) {
        const int64_t outbox_id = peek_->OutboxId(id);
        absl::MutexLock lock(&mu_);
        waiting_[id].outbox_id = outbox_id;
      }
      int64_t from = -1;
      {
        absl::MutexLock lock(&mu_);
        for (const auto& [id, w] : waiting_) {
          if (w.outbox_id >= 0 && (from < 0 || w.outbox_id < from)) from = w.outbox_id;
        }
      }
      if (from < 0) continue;
      std::vector<std::function<void()>> done;
      for (const std::string& id : peek_->DeliveredFrom(from)) {
        absl::MutexLock lock(&mu_);
        auto it = waiting_.find(id);
        if (it == waiting_.end()) continue;
        done.push_back(std::move(it->second.delivered));
        waiting_.erase(it);
      }
      for (auto& callback : done) callback();
    }
  }

  struct Waiting {
    int64_t outbox_id = -1;  // -1 until looked up
    std::function<void()> delivered;
  };

  const int fd_;
  const std::string wal_name_;
  const std::unique_ptr<DbPeek> peek_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::map<std::string, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
};

// --- Envelopes for filling a database directly ---

// An envelope with the structure and size of a real one (the header as
// given, a 64-byte signature and the author's certificate) but no valid
// signature: the store and the List/Get paths never verify stored bytes.
std::string UnsignedEnvelope(const v1::EnvelopeHeader& header, const std::string& body,
                             const std::string& certificate_der) {
  v1::Envelope e;
  e.set_header(header.SerializeAsString());
  e.set_body(body);
  e.mutable_signature()->set_algorithm(v1::ED25519);
  e.mutable_signature()->set_certificate(certificate_der);
  e.mutable_signature()->set_value(std::string(64, 's'));
  return e.SerializeAsString();
}

std::string Uuid(uint32_t kind, uint64_t n) {
  return absl::StrFormat("%08x-0000-4000-8000-%012x", kind, n);
}

// Submissions that complete when toscana answered.
Operation Submitting(OperatorClient& client, SubmitPath path) {
  return [&client, path](int lane, std::function<void(absl::Status)> done) {
    StartSubmission(client, lane, path, [done = std::move(done)](absl::StatusOr<std::string> id) {
      done(id.status());
    });
  };
}

// Submissions made before a measured run, so connections and caches are warm.
int WarmUpCount(int in_flight, int count) { return std::min(count, 2 * in_flight + 20); }

}  // namespace

std::string ReferralBody(const std::string& referral_id, const std::string& destination,
                         size_t body_bytes) {
  v1::Referral r;  // fictional
  r.set_referral_id(referral_id);
  r.set_origin_node("toscana");
  r.set_destination_node(destination);
  r.set_person_code("BENCH-0000");
  r.set_urgency(v1::URGENCY_ORDINARY);
  r.set_danger_level(v1::DANGER_LEVEL_MEDIUM);
  r.add_requested_services(v1::SERVICE_SECOND_RECEPTION);
  r.mutable_consent()->set_given(true);
  r.mutable_consent()->set_method(v1::CONSENT_WRITTEN);
  const size_t base = r.ByteSizeLong();
  // notes: 2-byte tag, 2-byte length for 128..16383 characters; sealing
  // adds a key id, a nonce and a tag (about 66 bytes with their framing).
  constexpr size_t kSealing = 66;
  if (body_bytes > base + 4 + kSealing + 128) {
    r.set_notes(std::string(body_bytes - base - 4 - kSealing, 'n'));
  }
  // Empty id: a body for mirctl's client, which seals it itself.
  if (!referral_id.empty()) {
    absl::Status sealed = SealReferral(r, SecretKey(BenchReferralKey(referral_id)));
    if (!sealed.ok()) return "";
  }
  return r.SerializeAsString();
}

std::string BenchReferralKey(const std::string& referral_id) {
  return Sha256(absl::StrCat("mir bench referral key:", referral_id));
}

// --- RunningNetwork ---

absl::StatusOr<std::unique_ptr<RunningNetwork>> RunningNetwork::Start(
    const Network& network, const std::vector<std::string>& nodes) {
  std::unique_ptr<RunningNetwork> net(new RunningNetwork(network));
  for (const std::string& node : nodes) {
    auto process = std::make_unique<BrokerProcess>(network, node);
    if (auto started = process->Start(); !started.ok()) return started.status();
    auto peek = DbPeek::Open(network.DatabasePath(node));
    if (!peek.ok()) return peek.status();
    net->processes_[node] = std::move(process);
    net->peeks_[node] = std::move(*peek);
  }
  return net;
}

bool RunningNetwork::WaitQuiet(absl::Duration timeout) {
  return WaitUntil(
      [this] {
        return std::all_of(peeks_.begin(), peeks_.end(),
                           [](const auto& node) { return node.second->OutboxCount(0) == 0; });
      },
      timeout);
}

void RunningNetwork::BeginCost() {
  for (auto& [node, process] : processes_) {
    cpu_at_begin_[node] = process->CpuSeconds();
    disk_at_begin_[node] = process->DiskWriteBytes();
  }
  client_cpu_at_begin_ = SelfCpuSeconds();
}

PhaseCost RunningNetwork::EndCost(int referrals) {
  PhaseCost cost;
  cost.referrals = referrals;
  for (auto& [node, process] : processes_) {
    cost.broker_cpu_s[node] = process->CpuSeconds() - cpu_at_begin_[node];
    cost.peak_rss_mib[node] = process->PeakRssMiB();
    cost.disk_bytes[node] = static_cast<double>(process->DiskWriteBytes() - disk_at_begin_[node]);
  }
  cost.client_cpu_s = SelfCpuSeconds() - client_cpu_at_begin_;
  return cost;
}

// --- Workloads ---

absl::StatusOr<SubmitFigures> RunSubmit(RunningNetwork& net, int in_flight, int count,
                                        SubmitPath path) {
  auto client = ConnectOperator(net.network().pki, net.network().Address("toscana"), in_flight);
  if (!client.ok()) return client.status();
  const Operation submit = Submitting(*client, path);
  RunClosedLoop(in_flight, WarmUpCount(in_flight, count), submit);
  if (!net.WaitQuiet(absl::Minutes(5))) return absl::DeadlineExceededError("warm-up did not drain");
  SubmitFigures out;
  net.BeginCost();
  out.run = RunClosedLoop(in_flight, count, submit);
  if (!net.WaitQuiet(absl::Minutes(10))) {
    return absl::DeadlineExceededError("the submitted referrals did not drain in 10 minutes");
  }
  out.cost = net.EndCost(out.run.completed);
  return out;
}

absl::StatusOr<SubmitFigures> RunSubmitWhilePeerDown(RunningNetwork& net, int in_flight,
                                                     int count) {
  auto client = ConnectOperator(net.network().pki, net.network().Address("toscana"), in_flight);
  if (!client.ok()) return client.status();
  const Operation submit = Submitting(*client, SubmitPath::kClient);
  RunClosedLoop(in_flight, WarmUpCount(in_flight, count), submit);
  SubmitFigures out;
  net.BeginCost();
  out.run = RunClosedLoop(in_flight, count, submit);
  out.cost = net.EndCost(out.run.completed);
  return out;
}

absl::StatusOr<SubmitFigures> RunEndToEnd(RunningNetwork& net, int in_flight, int count) {
  auto client = ConnectOperator(net.network().pki, net.network().Address("toscana"), in_flight);
  if (!client.ok()) return client.status();
  auto watcher = DeliveryWatcher::Start(net.network().DatabasePath("toscana"));
  if (!watcher.ok()) return watcher.status();
  Operation deliver = [&](int lane, std::function<void(absl::Status)> done) {
    StartSubmission(*client, lane, SubmitPath::kClient,
                    [&, done = std::move(done)](absl::StatusOr<std::string> id) {
                      if (!id.ok()) {
                        done(id.status());
                        return;
                      }
                      (*watcher)->Watch(*id, [done] { done(absl::OkStatus()); });
                    });
  };
  RunClosedLoop(in_flight, WarmUpCount(in_flight, count), deliver);
  if (!net.WaitQuiet(absl::Minutes(5))) return absl::DeadlineExceededError("warm-up did not drain");
  SubmitFigures out;
  net.BeginCost();
  out.run = RunClosedLoop(in_flight, count, deliver, absl::Minutes(10));
  if (!net.WaitQuiet(absl::Minutes(10))) {
    return absl::DeadlineExceededError("the delivered referrals' answers did not drain");
  }
  out.cost = net.EndCost(out.run.completed);
  return out;
}

namespace {

// Submits an EMERGENCY_24H referral at toscana as mirctl does and waits
// until toscana holds nvn's receipt for it. Returns the milliseconds taken.
absl::StatusOr<double> TimeEmergencyDelivery(const Network& network, DbPeek& toscana) {
  client::ConnectionOptions connection;
  connection.address = network.Address("toscana");
  connection.certificate = network.pki.Path("toscana/operator.crt");
  connection.key = network.pki.Path("toscana/operator.key");
  connection.ca = network.pki.Path("ca.crt");
  auto client = client::ReferralsClient::Connect(connection);
  if (!client.ok()) return client.status();
  v1::Referral referral;
  if (!referral.ParseFromString(ReferralBody("", "nvn"))) {
    return absl::InternalError("bench referral does not parse");
  }
  referral.clear_referral_id();
  referral.set_urgency(v1::URGENCY_EMERGENCY_24H);
  const SteadyClock::time_point start = SteadyClock::now();
  auto submitted = (*client)->SubmitReferral(referral);
  if (!submitted.ok()) return submitted.status();
  if (submitted->message_ids_size() != 1) return absl::InternalError("expected one message id");
  const std::string& message_id = submitted->message_ids(0);
  const int64_t outbox_id = toscana.OutboxId(message_id);
  auto delivered = [&] {
    for (const std::string& id : toscana.DeliveredFrom(outbox_id)) {
      if (id == message_id) return true;
    }
    return false;
  };
  if (!WaitUntil(delivered, absl::Minutes(5), absl::Microseconds(500))) {
    return absl::DeadlineExceededError("drain: the emergency was not delivered in 5 minutes");
  }
  return SecondsSince(start) * 1e3;
}

}  // namespace

absl::StatusOr<DrainFigures> RunDrain(const Pki& pki, const std::string& dir, int envelopes,
                                      int in_flight_per_peer) {
  MakeWorkDir(dir);
  const Network network = Network::Make(pki, dir, in_flight_per_peer);
  DrainFigures out;
  out.envelopes = envelopes;
  {
    // Queue them at toscana through its node core (verify, apply, enqueue:
    // what Referrals.Submit does), many threads so commits are grouped.
    auto node = broker::Node::Create(network.options.at("toscana"), RealClock::Get());
    if (!node.ok()) return node.status();
    auto op =
        Signer::FromPemFiles(pki.Path("toscana/operator.key"), pki.Path("toscana/operator.crt"));
    if (!op.ok()) return op.status();
    const SteadyClock::time_point start = SteadyClock::now();
    std::atomic<int> next{0};
    absl::Mutex mu;
    absl::Status first_error;
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i; (i = next.fetch_add(1)) < envelopes;) {
          v1::EnvelopeHeader h;
          h.set_message_id(NewUuid());
          h.set_kind(v1::REFERRAL);
          h.set_recipient_node("nvn");
          *h.mutable_created_at() = broker::ToProtoTime(absl::Now());
          h.set_referral_id(NewUuid());
          h.set_sequence(1);
          auto bytes = (*op)->SignEnvelope(h, ReferralBody(h.referral_id(), "nvn"));
          absl::Status s = bytes.status();
          if (s.ok()) {
            s = (*node)
                    ->Submit((*op)->identity(), *bytes, BenchReferralKey(h.referral_id()))
                    .status();
          }
          if (!s.ok()) {
            absl::MutexLock lock(&mu);
            if (first_error.ok()) first_error = s;
            next.store(envelopes);
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    if (!first_error.ok()) return first_error;
    out.fill_seconds = SecondsSince(start);
  }
  BrokerProcess nvn(network, "nvn"), toscana(network, "toscana");
  if (auto started = nvn.Start(); !started.ok()) return started.status();
  const double nvn_cpu_before = nvn.CpuSeconds();
  const int64_t nvn_disk_before = nvn.DiskWriteBytes();
  const double client_cpu_before = SelfCpuSeconds();
  const SteadyClock::time_point start = SteadyClock::now();
  if (auto started = toscana.Start(); !started.ok()) return started.status();
  auto toscana_peek = DbPeek::Open(network.DatabasePath("toscana"));
  if (!toscana_peek.ok()) return toscana_peek.status();
  auto nvn_peek = DbPeek::Open(network.DatabasePath("nvn"));
  if (!nvn_peek.ok()) return nvn_peek.status();
  const absl::Duration timeout = absl::Minutes(5) + absl::Milliseconds(10) * envelopes;
  if (!WaitUntil([&] { return (*toscana_peek)->OutboxCount(0) <= envelopes - envelopes / 10; },
                 timeout, absl::Milliseconds(1))) {
    return absl::DeadlineExceededError("drain: a tenth of the backlog was not delivered");
  }
  out.queued_ahead_of_emergency = (*toscana_peek)->OutboxCount(0);
  auto emergency = TimeEmergencyDelivery(network, **toscana_peek);
  if (!emergency.ok()) return emergency.status();
  out.emergency_ms = *emergency;
  if (!WaitUntil([&] { return (*toscana_peek)->OutboxCount(0) == 0; }, timeout,
                 absl::Milliseconds(10))) {
    return absl::DeadlineExceededError(absl::StrCat("drain: ", (*toscana_peek)->OutboxCount(0),
                                                    " still pending at toscana after ",
                                                    absl::FormatDuration(timeout)));
  }
  out.forward_seconds = SecondsSince(start);
  if (!WaitUntil(
          [&] {
            // Answers travel several to an envelope (PROTOCOL.md §10.8):
            // count the referrals they moved, not toscana's inbox rows.
            return (*nvn_peek)->OutboxCount(0) == 0 &&
                   (*toscana_peek)->ReferralsIn(v1::RECEIVED) >= envelopes;
          },
          timeout, absl::Milliseconds(10))) {
    return absl::DeadlineExceededError("drain: nvn's answers did not all arrive");
  }
  out.all_seconds = SecondsSince(start);
  out.cost.referrals = envelopes;
  out.cost.broker_cpu_s["toscana"] = toscana.CpuSeconds();  // from its start
  out.cost.broker_cpu_s["nvn"] = nvn.CpuSeconds() - nvn_cpu_before;
  out.cost.disk_bytes["toscana"] = static_cast<double>(toscana.DiskWriteBytes());
  out.cost.disk_bytes["nvn"] = static_cast<double>(nvn.DiskWriteBytes() - nvn_disk_before);
  out.cost.peak_rss_mib["toscana"] = toscana.PeakRssMiB();
  out.cost.peak_rss_mib["nvn"] = nvn.PeakRssMiB();
  out.cost.client_cpu_s = SelfCpuSeconds() - client_cpu_before;
  return out;
}

namespace {

// Fills `path` as nvn's database holding `n` referrals received from
// toscana: inbox row with nvn's receipt, SUBMITTED and nvn's RECEIVED
// events, the RECEIVED queued back to toscana and delivered with toscana's
// receipt; 1 % also UNDER_EVALUATION by an nvn operator. Envelopes are
// unsigned look-alikes of the real sizes (see UnsignedEnvelope).
absl::Status FillNvn(const Pki& pki, const std::string& path, int n) {
  storage::StoreOptions options;
  options.path = path;
  auto store = storage::Store::Open(options, RealClock::Get());
  if (!store.ok()) return store.status();
  auto load = [&](const std::string& prefix) {
    return Signer::FromPemFiles(pki.Path(prefix + ".key"), pki.Path(prefix + ".crt"));
  };
  auto toscana_op = load("toscana/operator");
  auto nvn_node = load("nvn/node");
  auto nvn_op = load("nvn/operator");
  auto toscana_node = load("toscana/node");
  for (auto* s : {&toscana_op, &nvn_node, &nvn_op, &toscana_node}) {
    if (!s->ok()) return s->status();
  }
  const absl::Time base = absl::Now() - absl::Hours(24 * 30);
  // Receipts are real ones; which message they name does not matter to List/Get.
  auto nvn_receipt = SignReceipt(**nvn_node, {Uuid(1, 0), std::string(32, 'h'), "toscana"}, base);
  auto toscana_receipt =
      SignReceipt(**toscana_node, {Uuid(2, 0), std::string(32, 'h'), "nvn"}, base);
  if (!nvn_receipt.ok()) return nvn_receipt.status();
  if (!toscana_receipt.ok()) return toscana_receipt.status();
  const Identity op = (*toscana_op)->identity(), node = (*nvn_node)->identity(),
                 staff = (*nvn_op)->identity();
  constexpr int kBatch = 2000;
  for (int first = 0; first < n; first += kBatch) {
    const int last = std::min(n, first + kBatch);
    absl::Status s = (*store)->Transact([&](storage::Txn& txn) -> absl::Status {
      for (int i = first; i < last; ++i) {
        const auto u = static_cast<uint64_t>(i);
        const std::string ref = Uuid(0, u);
        const absl::Time at = base + absl::Microseconds(10 * i);
        v1::EnvelopeHeader h;
        h.set_message_id(Uuid(1, u));
        h.set_kind(v1::REFERRAL);
        h.set_sender_node("toscana");
        h.set_recipient_node("nvn");
        h.set_author(op.Uri());
        *h.mutable_created_at() = broker::ToProtoTime(at);
        h.set_referral_id(ref);
        h.set_sequence(1);
        const std::string referral =
            UnsignedEnvelope(h, ReferralBody(ref, "nvn"), (*toscana_op)->certificate_der());
        storage::InboxRecord inbox{h.message_id(), "toscana", Sha256(referral), *nvn_receipt, at};
        if (absl::Status s = txn.InsertInbox(inbox); !s.ok()) return s;
        storage::Event submitted;
        submitted.referral_id = ref;
        submitted.message_id = h.message_id();
        submitted.sender_node = "toscana";
        submitted.sequence = 1;
        submitted.to_state = v1::SUBMITTED;
        submitted.actor = op;
        submitted.at = at;
        submitted.envelope = referral;
        submitted.referral = storage::ReferralMeta{ref, "toscana", "nvn", v1::URGENCY_ORDINARY, {}};
        if (auto r = txn.ApplyEvent(submitted); !r.ok()) return r.status();

        v1::StatusChange change;
        change.set_referral_id(ref);
        change.set_from_state(v1::SUBMITTED);
        change.set_to_state(v1::RECEIVED);
        h.set_message_id(Uuid(2, u));
        h.set_kind(v1::STATUS_CHANGE);
        h.set_sender_node("nvn");
        h.set_recipient_node("toscana");
        h.set_author(node.Uri());
        const std::string received =
            UnsignedEnvelope(h, change.SerializeAsString(), (*nvn_node)->certificate_der());
        storage::Event ack = submitted;
        ack.message_id = h.message_id();
        ack.sender_node = "nvn";
        ack.to_state = v1::RECEIVED;
        ack.actor = node;
        ack.envelope = received;
        ack.referral.reset();
        if (auto r = txn.ApplyEvent(ack); !r.ok()) return r.status();
        if (absl::Status s =
                txn.Enqueue({h.message_id(), "toscana", received, h.referral_id(), std::nullopt});
            !s.ok()) {
          return s;
        }

        if (i % 100 == 0) {
          change.set_from_state(v1::RECEIVED);
          change.set_to_state(v1::UNDER_EVALUATION);
          h.set_message_id(Uuid(3, u));
          h.set_author(staff.Uri());
          h.set_sequence(2);
          storage::Event evaluate = ack;
          evaluate.message_id = h.message_id();
          evaluate.sequence = 2;
          evaluate.to_state = v1::UNDER_EVALUATION;
          evaluate.actor = staff;
          evaluate.envelope =
              UnsignedEnvelope(h, change.SerializeAsString(), (*nvn_op)->certificate_der());
          if (auto r = txn.ApplyEvent(evaluate); !r.ok()) return r.status();
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  // The RECEIVED envelopes were delivered: record toscana's receipts.
  while (true) {
    auto due = (*store)->DuePending("toscana", absl::Now() + absl::Hours(1), 5000);
    if (!due.ok()) return due.status();
    if (due->empty()) break;
    std::vector<std::pair<int64_t, std::string>> delivered;
    for (const storage::OutboxEntry& e : *due) delivered.emplace_back(e.id, *toscana_receipt);
    if (absl::Status s = (*store)->MarkDeliveredMany(delivered); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// `calls` synchronous calls of `fn`, one at a time.
RunFigures SyncLoop(int calls, const std::function<absl::Status(int)>& fn) {
  Samples samples;
  RunFigures figures;
  figures.in_flight = 1;
  const SteadyClock::time_point start = SteadyClock::now();
  for (int i = 0; i < calls; ++i) {
    const SteadyClock::time_point t = SteadyClock::now();
    absl::Status s = fn(i);
    if (s.ok()) {
      ++figures.completed;
      samples.Add(MicrosSince(t));
    } else {
      ++figures.failed;
      if (figures.first_error.empty()) figures.first_error = s.ToString();
    }
  }
  figures.seconds = SecondsSince(start);
  FillPercentiles(samples, &figures);
  return figures;
}

}  // namespace

absl::StatusOr<ScaleFigures> RunScale(const Pki& pki, const std::string& dir, int referrals,
                                      int calls, bool keep) {
  MakeWorkDir(dir);
  const Network network = Network::Make(pki, dir);
  const std::string db = network.DatabasePath("nvn");
  ScaleFigures out;
  out.referrals = referrals;
  const SteadyClock::time_point fill_start = SteadyClock::now();
  if (absl::Status s = FillNvn(pki, db, referrals); !s.ok()) return s;
  out.fill_seconds = SecondsSince(fill_start);
  out.db_bytes_per_referral = static_cast<double>(DatabaseBytes(db)) / referrals;

  BrokerProcess nvn(network, "nvn");
  auto started = nvn.Start(absl::Minutes(30));
  if (!started.ok()) return started.status();
  out.start_seconds = absl::ToDoubleSeconds(*started);
  client::ConnectionOptions connection;
  connection.address = network.Address("nvn");
  connection.certificate = pki.Path("nvn/operator.crt");
  connection.key = pki.Path("nvn/operator.key");
  connection.ca = pki.Path("ca.crt");
  auto client = client::ReferralsClient::Connect(connection);
  if (!client.ok()) return client.status();
  // A filtered page is 10 long: what the 1 % state holds at 1 k, so that
  // every size answers the same number of rows and only the store grows.
  auto list = [&](bool filtered) {
    return [&, filtered](int) -> absl::Status {
      const int page = filtered ? kFilteredPage : 100;
      v1::ListRequest request;
      request.set_limit(page);
      if (filtered) request.add_states(v1::UNDER_EVALUATION);
      auto response = (*client)->List(request);
      if (!response.ok()) return response.status();
      const int expected = std::min(page, filtered ? (referrals + 99) / 100 : referrals);
      if (response->referrals_size() != expected) {
        return absl::InternalError(absl::StrCat("List returned ", response->referrals_size(),
                                                " referrals, expected ", expected));
      }
      return absl::OkStatus();
    };
  };
  std::mt19937_64 rng(7);
  auto show = [&](int) -> absl::Status {
    const auto i = std::uniform_int_distribution<uint64_t>(0, referrals - 1)(rng);
    auto view = (*client)->Get(Uuid(0, i));
    if (!view.ok()) return view.status();
    if (view->timeline_size() < 2) return absl::InternalError("Get returned a short timeline");
    return absl::OkStatus();
  };
  SyncLoop(20, list(false));  // warm-up: connection, statements
  out.list = SyncLoop(calls, list(false));
  out.list_filtered = SyncLoop(calls, list(true));
  out.show = SyncLoop(calls, show);
  out.peak_rss_mib = nvn.PeakRssMiB();
  nvn.Stop();
  if (!keep) {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
  }
  return out;
}

}  // namespace mir::bench
