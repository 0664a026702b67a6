#include "broker/sender.h"

#include <algorithm>
#include <cmath>

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

}  // namespace

PeerSender::PeerSender(std::string peer, std::shared_ptr<grpc::Channel> channel,
                       storage::Store* store, const Verifier* verifier, const Clock* clock,
                       const BrokerOptions* options, std::function<double()> jitter)
    : peer_(std::move(peer)),
      stub_(v1::Exchange::NewStub(channel)),
      store_(store),
      verifier_(verifier),
      clock_(clock),
      options_(options),
      jitter_(std::move(jitter)) {}

PeerSender::~PeerSender() { Stop(); }

void PeerSender::Start() { thread_ = std::thread([this] { Run(); }); }

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

void PeerSender::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      woken_ = false;
    }
    auto due = store_->DuePending(peer_, clock_->Now(), options_->in_flight_per_peer);
    if (due.ok() && !due->empty()) {
      DeliverBatch(*due);
      continue;  // more may be due at once
    }
    if (!due.ok()) {
      MIR_LOG(ERROR) << "outbox for " << peer_ << " unreadable: " << due.status().message();
    }
    // Sleep until the next due time, new work, or stop.
    const absl::Duration poll = options_->outbox_poll_interval;
    absl::Duration wait = poll;
    if (auto next = store_->NextDue(peer_); next.ok() && next->has_value()) {
      wait = std::clamp(**next - clock_->Now(), absl::ZeroDuration(), poll);
    }
    absl::MutexLock lock(&mu_);
    auto wake_condition = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return woken_ || stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&wake_condition), wait);
  }
}

void PeerSender::DeliverBatch(const std::vector<storage::OutboxEntry>& entries) {
  struct Call {
    grpc::ClientContext context;
    v1::DeliverRequest request;
    v1::DeliverResponse response;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  absl::Mutex done_mu;
  int pending = static_cast<int>(entries.size());
  for (const storage::OutboxEntry& entry : entries) {
    auto call = std::make_unique<Call>();
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + options_->rpc_timeout));
    call->request.set_envelope(entry.envelope);
    Call* raw = call.get();
    stub_->async()->Deliver(&raw->context, &raw->request, &raw->response,
                            [raw, &done_mu, &pending](grpc::Status status) {
                              absl::MutexLock lock(&done_mu);
                              raw->status = std::move(status);
                              --pending;
                            });
    calls.push_back(std::move(call));
  }
  {
    absl::MutexLock lock(&done_mu);
    auto all_done = [&pending]() { return pending == 0; };
    done_mu.Await(absl::Condition(&all_done));
  }
  // Deliveries are recorded together (one commit); failures one by one.
  std::vector<std::pair<int64_t, std::string>> delivered;
  std::vector<const std::string*> delivered_ids;
  for (size_t i = 0; i < entries.size(); ++i) {
    absl::Status outcome = FromGrpcStatus(calls[i]->status);
    const std::string& receipt = calls[i]->response.receipt();
    if (outcome.ok()) {
      outcome = VerifyReceipt(*verifier_, receipt, peer_, entries[i].message_id,
                              Sha256(entries[i].envelope))
                    .status();
      if (outcome.ok()) {
        delivered.emplace_back(entries[i].id, receipt);
        delivered_ids.push_back(&entries[i].message_id);
        continue;
      }
    }
    RecordFailure(entries[i], calls[i]->status, outcome);
  }
  if (delivered.empty()) return;
  absl::Status marked = store_->MarkDeliveredMany(delivered);
  if (!marked.ok()) {
    MIR_LOG(ERROR) << "cannot record " << delivered.size() << " deliveries to " << peer_ << ": "
                   << marked.message();
    return;
  }
  for (const std::string* id : delivered_ids) {
    MIR_LOG(INFO) << "delivered message " << *id << " to " << peer_ << " (receipt verified)";
  }
}

void PeerSender::RecordFailure(const storage::OutboxEntry& entry, const grpc::Status& status,
                               const absl::Status& outcome) {
  // A receipt that does not verify proves nothing: treated as not delivered.
  const std::string error =
      absl::StrCat(absl::StatusCodeToString(outcome.code()),
                   ReasonName(outcome).empty() ? std::string() : " " + ReasonName(outcome), ": ",
                   outcome.message().substr(0, 200));
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
  if (!s.ok()) MIR_LOG(ERROR) << "cannot record failed attempt: " << s.message();
  if (entry.attempts == 0 || entry.attempts % 10 == 0) {
    MIR_LOG(WARNING) << "delivery of " << entry.message_id << " to " << peer_ << " failed ("
                     << error << "), attempt " << entry.attempts + 1 << ", retrying";
  }
}

}  // namespace mir::broker
