#include "broker/sender.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "crypto/envelope_bytes.h"
#include "crypto/receipt.h"

namespace mir::broker {
namespace {

// Refusals that a resend of the same bytes cannot change.
bool IsPermanent(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::UNIMPLEMENTED:
      return true;
    default:
      return false;
  }
}

// Every live sender, for LoopStateForTesting only.
absl::Mutex registry_mu(absl::kConstInit);
std::set<PeerSender*>& Registry() ABSL_EXCLUSIVE_LOCKS_REQUIRED(registry_mu) {
  static std::set<PeerSender*> senders;
  return senders;
}

}  // namespace

PeerSender::PeerSender(std::string peer, std::shared_ptr<grpc::Channel> channel,
                       storage::Store* store, const Verifier* verifier, const Clock* clock,
                       const BrokerOptions* options, std::function<double()> jitter,
                       NodeHooks hooks)
    : peer_(std::move(peer)),
      stub_(v1::Exchange::NewStub(channel)),
      store_(store),
      verifier_(verifier),
      clock_(clock),
      options_(options),
      jitter_(std::move(jitter)),
      hooks_(std::move(hooks)) {
  reachability_since_us_.store(absl::ToUnixMicros(clock_->Now()), std::memory_order_relaxed);
  absl::MutexLock lock(&registry_mu);
  Registry().insert(this);
}

PeerSender::~PeerSender() {
  {
    absl::MutexLock lock(&registry_mu);
    Registry().erase(this);
  }
  Stop();
}

std::optional<PeerSender::LoopState> PeerSender::LoopStateForTesting(const storage::Store* store,
                                                                     const std::string& peer) {
  absl::MutexLock registry_lock(&registry_mu);
  for (PeerSender* sender : Registry()) {
    if (sender->store_ != store || sender->peer_ != peer) continue;
    absl::MutexLock lock(&sender->mu_);
    LoopState state = sender->last_sleep_;
    state.idle = sender->asleep_ && !sender->woken_ && !sender->stopping_ &&
                 sender->answered_.empty() && state.in_flight == 0;
    return state;
  }
  return std::nullopt;
}

void PeerSender::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PeerSender::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void PeerSender::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Duration PeerSender::Backoff(int attempts) const {
  const double factor = std::pow(2.0, std::min(attempts - 1, 30));
  const absl::Duration base = std::min(options_->initial_backoff * factor, options_->max_backoff);
  return base * (0.5 + 0.5 * jitter_());
}

// One call in flight: Deliver for one envelope, DeliverBatch for several
// (PROTOCOL.md §6.2.1).
struct PeerSender::Call {
  std::vector<storage::OutboxEntry> entries;
  grpc::ClientContext context;
  v1::DeliverRequest request;
  v1::DeliverResponse response;
  v1::DeliverBatchRequest batch_request;
  v1::DeliverBatchResponse batch_response;
  grpc::Status status;
  bool probe = false;  // sent while the peer was unreachable
  bool batch() const { return entries.size() > 1; }
};

void PeerSender::Run() {
  while (true) {
    std::vector<Call*> answered;
    bool stopping, new_work;
    {
      absl::MutexLock lock(&mu_);
      answered.swap(answered_);
      stopping = stopping_;
      new_work = woken_;
      woken_ = false;
    }
    if (!answered.empty()) RecordAnswers(std::move(answered));
    if (stopping) {
      // Nothing new is sent; what is in flight is answered or times out.
      if (in_flight_.empty()) return;
      absl::MutexLock lock(&mu_);
      auto answer = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !answered_.empty(); };
      mu_.AwaitWithTimeout(absl::Condition(&answer), options_->rpc_timeout);
      continue;
    }
    const absl::Time now = clock_->Now();
    if (FillWindow(now, new_work) > 0) continue;  // more may be due at once
    const absl::Duration wait = IdleWait(now);
    absl::MutexLock lock(&mu_);
    auto wake_condition = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return woken_ || stopping_ || !answered_.empty();
    };
    ++last_sleep_.sleeps;
    last_sleep_.unreachable = Unreachable();
    last_sleep_.in_flight = static_cast<int>(in_flight_.size());
    last_sleep_.wait = wait;
    asleep_ = true;
    mu_.AwaitWithTimeout(absl::Condition(&wake_condition), wait);
    asleep_ = false;
  }
}

// Sleep until an answer, new work, stop, or the next time something may be
// sent: whatever was due by `now` is in flight already.
absl::Duration PeerSender::IdleWait(absl::Time now) {
  const absl::Duration poll = options_->outbox_poll_interval;
  if (store_failed_) return poll;
  if (Unreachable()) {
    if (!in_flight_.empty()) return poll;  // the probe's answer wakes the loop
    return std::clamp(next_probe_at_ - now, absl::ZeroDuration(), poll);
  }
  // NextDue reads every pending entry's retry time, so not with the window
  // full, as it is all through a drain: an answer wakes the loop soon enough.
  if (static_cast<int>(in_flight_.size()) >= options_->in_flight_per_peer) return poll;
  auto next = store_->NextDue(peer_, now);
  if (!next.ok() || !next->has_value()) return poll;
  return std::clamp(**next - clock_->Now(), absl::ZeroDuration(), poll);
}

int PeerSender::FillWindow(absl::Time now, bool new_work) {
  // A fail-stopped store records no answer: whatever was sent now would stay
  // pending and go again and again. Nothing is sent until it is reopened.
  if (store_->failed()) {
    if (!store_failed_) MIR_LOG(ERROR) << "store failed: stopped sending to " << peer_;
    store_failed_ = true;
    return 0;
  }
  if (Unreachable()) {
    // One probe at a time. New work asks for one at once (the peer may be
    // back), even if it must wait for the probe in flight to be answered.
    probe_wanted_ = probe_wanted_ || new_work;
    if (!in_flight_.empty() || (!probe_wanted_ && now < next_probe_at_)) return 0;
    // The head of the queue whatever its retry time: the others are not
    // tried meanwhile, so their times say nothing.
    auto head = store_->DuePending(peer_, absl::InfiniteFuture(), 1);
    if (!head.ok()) {
      MIR_LOG(ERROR) << "outbox for " << peer_ << " unreadable: " << head.status().message();
      next_probe_at_ = now + Backoff(failed_probes_);  // not again at once
      return 0;
    }
    probe_wanted_ = false;
    if (head->empty()) {
      // Nothing left to send (all dead letters, say): the next envelope
      // queued finds out afresh whether the peer is back.
      failed_probes_ = 0;
      return 0;
    }
    StartCall({head->front()}, /*probe=*/true);
    return 1;
  }
  const int window = options_->in_flight_per_peer;
  // One slot beyond the window is kept for emergencies.
  const int emergency_window = window + 1;
  if (static_cast<int>(in_flight_.size()) >= emergency_window) return 0;
  // The first `emergency_window` due rows (most urgent, then oldest) hold
  // every free slot's envelope: at most in_flight_.size() are in flight.
  auto due = store_->DuePending(peer_, now, emergency_window);
  if (!due.ok()) {
    MIR_LOG(ERROR) << "outbox for " << peer_ << " unreadable: " << due.status().message();
    return 0;
  }
  // One envelope per referral on the wire, oldest first: a relay passes a
  // referral's messages on in the order it took them in, even when they come
  // from different senders (a partner's confirmation, then nvn's closure),
  // so the next node never sees the later one first and refuses it.
  std::set<std::string> referrals_on_the_wire;
  for (const auto& [id, call] : in_flight_) {
    if (call->entries.front().id != id) continue;  // each call once
    for (const storage::OutboxEntry& e : call->entries) referrals_on_the_wire.insert(e.referral_id);
  }
  std::vector<storage::OutboxEntry> to_send;
  for (const storage::OutboxEntry& entry : *due) {
    const int busy = static_cast<int>(in_flight_.size() + to_send.size());
    if (busy >= emergency_window) break;
    if (in_flight_.count(entry.id)) continue;
    if (!entry.referral_id.empty() && !referrals_on_the_wire.insert(entry.referral_id).second) {
      continue;
    }
    // Rows come most urgent first: past the emergencies, none is left.
    if (entry.urgency != v1::URGENCY_EMERGENCY_24H && busy >= window) break;
    to_send.push_back(entry);
  }
  // In batches, most urgent first, each within the peer's message limit.
  const size_t batch_max = now < batches_refused_until_
                               ? 1
                               : static_cast<size_t>(std::max(1, options_->delivery_batch_max));
  std::vector<storage::OutboxEntry> batch;
  size_t batch_bytes = 0;
  for (storage::OutboxEntry& entry : to_send) {
    // The field's tag and length come on top of each envelope's bytes.
    const size_t bytes = entry.envelope.size() + 8;
    if (!batch.empty() &&
        (batch.size() >= batch_max || batch_bytes + bytes > options_->max_envelope_bytes)) {
      StartCall(std::move(batch));
      batch.clear();
      batch_bytes = 0;
    }
    batch_bytes += bytes;
    batch.push_back(std::move(entry));
  }
  if (!batch.empty()) StartCall(std::move(batch));
  return static_cast<int>(to_send.size());
}

void PeerSender::StartCall(std::vector<storage::OutboxEntry> entries, bool probe) {
  auto call = std::make_shared<Call>();
  call->entries = std::move(entries);
  call->probe = probe;
  call->context.set_deadline(absl::ToChronoTime(absl::Now() + options_->rpc_timeout));
  Call* raw = call.get();
  for (const storage::OutboxEntry& entry : raw->entries) in_flight_[entry.id] = call;
  auto done = [this, raw](grpc::Status status) {
    absl::MutexLock lock(&mu_);
    raw->status = std::move(status);
    answered_.push_back(raw);
  };
  if (!raw->batch()) {
    raw->request.set_envelope(raw->entries.front().envelope);
    stub_->async()->Deliver(&raw->context, &raw->request, &raw->response, std::move(done));
    return;
  }
  for (const storage::OutboxEntry& entry : raw->entries) {
    raw->batch_request.add_envelopes(entry.envelope);
  }
  stub_->async()->DeliverBatch(&raw->context, &raw->batch_request, &raw->batch_response,
                               std::move(done));
}

void PeerSender::CheckBatchAnswer(const Call& call, std::vector<Outcome>& outcomes) {
  // One signature for the whole batch; then each envelope by its entry.
  absl::StatusOr<v1::Receipt> receipt =
      call.batch_response.receipt().empty()
          ? absl::StatusOr<v1::Receipt>(v1::Receipt())
          : VerifyReceiptSignature(*verifier_, call.batch_response.receipt(), peer_);
  if (receipt.ok() && !call.batch_response.receipt().empty()) ReceiptVerified(*receipt);
  std::map<size_t, const v1::DeliverRefusal*> refused;
  for (const v1::DeliverRefusal& refusal : call.batch_response.refused()) {
    refused.emplace(refusal.index(), &refusal);
  }
  for (size_t i = 0; i < call.entries.size(); ++i) {
    const storage::OutboxEntry& entry = call.entries[i];
    if (auto it = refused.find(i);
        it != refused.end() && it->second->code() != static_cast<int32_t>(grpc::StatusCode::OK)) {
      // A code outside gRPC's (a peer's bug) reads as UNKNOWN: retried.
      const int32_t number = it->second->code();
      const auto code =
          number > 0 && number <= static_cast<int32_t>(grpc::StatusCode::UNAUTHENTICATED)
              ? static_cast<grpc::StatusCode>(number)
              : grpc::StatusCode::UNKNOWN;
      outcomes.push_back({&entry, grpc::Status(code, it->second->message()),
                          MirError(static_cast<absl::StatusCode>(code), it->second->reason(),
                                   it->second->message()),
                          nullptr});
      continue;
    }
    absl::Status checked = receipt.status();
    if (checked.ok() && !ReceiptCovers(*receipt, entry.message_id, Sha256(entry.envelope))) {
      checked = MirError(absl::StatusCode::kUnauthenticated, v1::RECEIPT_MISMATCH,
                         "the batch's receipt does not cover this envelope's message id and hash");
    }
    outcomes.push_back(
        {&entry, grpc::Status::OK, std::move(checked), &call.batch_response.receipt()});
  }
}

void PeerSender::RecordAnswers(std::vector<Call*> answered) {
  // What each envelope's answer was, then: deliveries recorded together (one
  // commit), failures one by one.
  std::vector<Outcome> outcomes;
  Reachability seen;
  for (Call* call : answered) {
    const grpc::StatusCode code = call->status.error_code();
    if (code == grpc::StatusCode::UNAVAILABLE) {
      seen.unavailable = true;
      seen.probe_failed = seen.probe_failed || call->probe;
      seen.error = call->status.error_message();
    } else if (code != grpc::StatusCode::DEADLINE_EXCEEDED) {
      seen.answered = true;
    }
    if (call->batch() && code == grpc::StatusCode::UNIMPLEMENTED) {
      // A node from before batches: no answer about the envelopes, which
      // stay due and go again one by one.
      if (clock_->Now() >= batches_refused_until_) {
        MIR_LOG(INFO) << peer_ << " does not take batches: delivering one envelope per call";
      }
      batches_refused_until_ = clock_->Now() + options_->batch_retry_after;
      continue;
    }
    if (!call->status.ok()) {
      for (const storage::OutboxEntry& entry : call->entries) {
        outcomes.push_back({&entry, call->status, FromGrpcStatus(call->status), nullptr});
      }
    } else if (call->batch()) {
      CheckBatchAnswer(*call, outcomes);
    } else {
      const storage::OutboxEntry& entry = call->entries.front();
      absl::StatusOr<v1::Receipt> receipt = VerifyReceipt(
          *verifier_, call->response.receipt(), peer_, entry.message_id, Sha256(entry.envelope));
      if (receipt.ok()) ReceiptVerified(*receipt);
      outcomes.push_back({&entry, call->status, receipt.status(), &call->response.receipt()});
    }
  }
  std::vector<std::pair<int64_t, std::string>> delivered;
  for (const Outcome& outcome : outcomes) {
    if (outcome.status.ok() && outcome.outcome.ok()) {
      delivered.emplace_back(outcome.entry->id, *outcome.receipt);
    } else if (!ReplacedWithSingles(*outcome.entry, outcome.outcome)) {
      RecordFailure(*outcome.entry, outcome.status, outcome.outcome);
    }
  }
  if (!delivered.empty()) {
    absl::Status marked = store_->MarkDeliveredMany(delivered);
    if (marked.ok() && retries_waiting_) {
      // The peer answers again: what waits for a retry goes now, most urgent
      // first, instead of each at its own backoff (up to max_backoff).
      auto due_now = store_->MakeDueNow(peer_, clock_->Now());
      if (due_now.ok()) {
        retries_waiting_ = false;
        if (*due_now > 0) {
          MIR_LOG(INFO) << peer_ << " answers again: " << *due_now << " envelopes due now";
        }
      } else {
        MIR_LOG(ERROR) << "cannot bring retries forward for " << peer_ << ": "
                       << due_now.status().message();
      }
    }
    if (marked.ok()) {
      delivered_.fetch_add(static_cast<int64_t>(delivered.size()), std::memory_order_relaxed);
      for (const Outcome& outcome : outcomes) {
        if (outcome.status.ok() && outcome.outcome.ok()) {
          MIR_LOG(INFO) << "delivered message " << outcome.entry->message_id << " to " << peer_
                        << " (receipt verified)";
        }
      }
    } else {
      // Still pending: resent later, and the peer answers with the same receipt.
      MIR_LOG(ERROR) << "cannot record " << delivered.size() << " deliveries to " << peer_ << ": "
                     << marked.message();
    }
  }
  for (Call* call : answered) {
    // The last erase frees the call: read its entries' ids first.
    std::vector<int64_t> ids;
    for (const storage::OutboxEntry& entry : call->entries) ids.push_back(entry.id);
    for (int64_t id : ids) in_flight_.erase(id);
  }
  seen.delivered = !delivered.empty();
  UpdateReachability(seen);
}

void PeerSender::SetReachable(bool reachable) {
  if (reachable_.exchange(reachable, std::memory_order_relaxed) == reachable) return;
  reachability_since_us_.store(absl::ToUnixMicros(clock_->Now()), std::memory_order_relaxed);
}

void PeerSender::UpdateReachability(const Reachability& seen) {
  if (seen.delivered || seen.answered) {
    if (Unreachable()) MIR_LOG(INFO) << peer_ << " is reachable again";
    failed_probes_ = 0;
    SetReachable(true);
    return;
  }
  if (!seen.unavailable) return;                    // only timeouts: no news of the peer
  if (Unreachable() && !seen.probe_failed) return;  // calls from before it was known
  if (!Unreachable()) {
    MIR_LOG(WARNING) << peer_ << " is unreachable (" << seen.error.substr(0, 200)
                     << "): one envelope at a time until it answers";
  }
  ++failed_probes_;
  SetReachable(false);
  const absl::Time now = clock_->Now();
  next_probe_at_ = now + Backoff(failed_probes_);
  // The envelopes not tried meanwhile still become dead letters in time.
  // That reads every pending entry for the peer, and new work probes at
  // once, so not on every probe: once a minute is precise enough.
  if (now < next_expiry_check_) return;
  next_expiry_check_ = now + kExpiryCheckInterval;
  auto dead = store_->MarkDeadEnqueuedBy(
      peer_, now - options_->dead_letter_after,
      absl::StrCat("UNAVAILABLE: ", peer_, " unreachable for longer than the dead-letter limit: ",
                   seen.error.substr(0, 150)));
  if (!dead.ok()) {
    MIR_LOG(ERROR) << "cannot record dead letters for " << peer_ << ": " << dead.status().message();
  } else if (*dead > 0) {
    MIR_LOG(ERROR) << "dead letters: " << *dead << " messages to " << peer_
                   << " pending longer than the dead-letter limit";
  }
}

bool PeerSender::ReplacedWithSingles(const storage::OutboxEntry& entry,
                                     const absl::Status& outcome) {
  // An envelope of answers names no referral; the node looks inside.
  if (!hooks_.answers_refused || outcome.code() != absl::StatusCode::kInvalidArgument ||
      ReasonOf(outcome) != v1::MALFORMED_ENVELOPE || !entry.referral_id.empty()) {
    return false;
  }
  absl::StatusOr<bool> replaced = hooks_.answers_refused(entry, outcome);
  if (!replaced.ok()) {
    MIR_LOG(ERROR) << "cannot queue the answers of " << entry.message_id << " singly for " << peer_
                   << ": " << replaced.status().message();
    return false;  // a permanent refusal: a dead letter, requeued by hand
  }
  return *replaced;  // false: not this node's answers, a refusal as any other
}

void PeerSender::RecordFailure(const storage::OutboxEntry& entry, const grpc::Status& status,
                               const absl::Status& outcome) {
  // A receipt that does not verify proves nothing: treated as not delivered.
  // (No std::string operator+ here: g++ 12 -O3 reports a false -Wrestrict.)
  const std::string reason = ReasonName(outcome);
  const std::string error =
      absl::StrCat(absl::StatusCodeToString(outcome.code()), reason.empty() ? "" : " ", reason,
                   ": ", outcome.message().substr(0, 200));
  const absl::Time now = clock_->Now();
  const bool permanent = status.ok() ? false : IsPermanent(status.error_code());
  if (permanent || now - entry.enqueued_at >= options_->dead_letter_after) {
    MIR_LOG(ERROR) << "dead letter: message " << entry.message_id << " to " << peer_ << ": "
                   << error;
    absl::Status s = store_->MarkDead(entry.id, error);
    if (!s.ok()) MIR_LOG(ERROR) << "cannot record dead letter: " << s.message();
    return;
  }
  const absl::Time next = now + Backoff(entry.attempts + 1);
  absl::Status s = store_->MarkAttemptFailed(entry.id, next, error);
  // Unreachable, not overloaded: only then does the next answer cancel the wait.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) retries_waiting_ = true;
  if (!s.ok()) MIR_LOG(ERROR) << "cannot record failed attempt: " << s.message();
  if (entry.attempts == 0 || entry.attempts % 10 == 0) {
    MIR_LOG(WARNING) << "delivery of " << entry.message_id << " to " << peer_ << " failed ("
                     << error << "), attempt " << entry.attempts + 1 << ", retrying";
  }
}

}  // namespace mir::broker
