#ifndef MIR_BROKER_SENDER_H_
#define MIR_BROKER_SENDER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "broker/config.h"
#include "common/clock.h"
#include "crypto/verifier.h"
#include "grpcpp/channel.h"
#include "mir/v1/exchange.grpc.pb.h"
#include "storage/store.h"

namespace mir::broker {

// Drains the outbox towards one peer node: keeps up to `in_flight_per_peer`
// envelopes in flight at all times, the most urgent referrals first, then the
// oldest, sending the next as soon as one is answered; answers are recorded
// together, one commit for all that arrived meanwhile. One slot beyond the
// window is kept for EMERGENCY_24H envelopes, so an emergency is sent at
// once even while a backlog fills the window. A delivery counts only once the
// peer's receipt verifies (node signature, message id, SHA-256 of the exact
// bytes). Envelopes due together go in one DeliverBatch call (up to
// delivery_batch_max, one receipt for all, PROTOCOL.md §6.2.1), or by
// Deliver to a peer that does not take batches. Failures retry with exponential backoff and jitter.
// While the peer is unreachable (UNAVAILABLE), one envelope at a time probes it, the most urgent
// and oldest, with the same backoff; the others wait untouched, so a backlog costs nothing while
// the peer is down, and new work probes at once. When the peer answers again, everything waiting is
// due at once (most urgent first). An envelope pending longer than `dead_letter_after`, or refused
// for good by the peer, becomes a dead letter. Resends carry the same bytes. One envelope per
// referral is on the wire at a time, oldest first, so a relay passes a referral's messages on in
// the order it took them in. While the store is fail-stopped nothing is sent (an answer could not
// be recorded, and the envelope would go again and again). Thread-safe.
class PeerSender {
 public:
  // What the sender tells its node of the peer's answers (either may be
  // empty: a sender tested alone).
  struct NodeHooks {
    // Each receipt of the peer's that verified (what it announces, §5).
    std::function<void(const v1::Receipt&)> receipt_verified;
    // An entry about no referral the peer refused for its kind
    // (INVALID_ARGUMENT MALFORMED_ENVELOPE: an older release), with the
    // refusal. True if it was this node's RECEIVED_ANSWERS and its answers
    // are now queued singly (PROTOCOL.md §10.8, downgrade), the entry
    // marked replaced in the same commit. False (another envelope, a
    // relayed one) or an error: a dead letter as any refusal.
    std::function<absl::StatusOr<bool>(const storage::OutboxEntry&, const absl::Status&)>
        answers_refused;
  };

  // `jitter` returns a uniform value in [0, 1); injected so tests are
  // repeatable. All pointers must outlive the sender.
  PeerSender(std::string peer, std::shared_ptr<grpc::Channel> channel, storage::Store* store,
             const Verifier* verifier, const Clock* clock, const BrokerOptions* options,
             std::function<double()> jitter, NodeHooks hooks = {});
  ~PeerSender();  // Stop()s

  void Start();
  // New work was queued: look at the outbox now rather than at the next due time.
  void Wake();
  // Stops after in-flight deliveries finish (or time out); what was not
  // receipted stays pending in the outbox.
  void Stop();

  // For the node's metrics (broker/metrics.h), from any thread: envelopes
  // delivered (receipt verified and recorded) since Start, and whether the
  // peer answered the last call (true until a call finds it unreachable).
  int64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  bool reachable() const { return reachable_.load(std::memory_order_relaxed); }
  // When reachable() last changed, or the sender's construction.
  absl::Time reachability_since() const {
    return absl::FromUnixMicros(reachability_since_us_.load(std::memory_order_relaxed));
  }

  // The delay before retry number `attempts` (1-based), jitter applied.
  absl::Duration Backoff(int attempts) const;

  // For tests, which wait on it instead of sleeping and timing: what the
  // loop is doing.
  struct LoopState {
    // Asleep with nothing to look at: no wake, answer or stop pending and
    // no call in flight. Nothing changes until one comes or `wait` passes.
    bool idle = false;
    int64_t sleeps = 0;  // how many times the loop has gone to sleep
    // As of the last time it went to sleep:
    bool unreachable = false;  // the peer was unreachable
    int in_flight = 0;         // calls in flight
    absl::Duration wait;       // the longest it meant to sleep (zero: a busy loop)
  };
  // The loop state of the live sender draining `store` towards `peer`, if
  // there is one. Test-only: a broker does not hand out its senders.
  static std::optional<LoopState> LoopStateForTesting(const storage::Store* store,
                                                      const std::string& peer);

 private:
  struct Call;  // one delivery attempt in flight

  void Run();
  // Starts calls for envelopes due by `now` not yet in flight, up to the
  // window (one more for an emergency); while the peer is unreachable, one
  // probe when it is time or `new_work` came. Returns how many it started.
  int FillWindow(absl::Time now, bool new_work);
  // How long the loop may sleep when FillWindow started nothing.
  absl::Duration IdleWait(absl::Time now);
  // What a batch of answers says of the peer.
  struct Reachability {
    bool delivered = false;     // a receipt verified
    bool answered = false;      // the peer answered, even with a refusal
    bool unavailable = false;   // a call could not reach the peer
    bool probe_failed = false;  // ... and it was the probe
    std::string error;          // the last UNAVAILABLE's message
  };
  // Enters or leaves the unreachable state, and schedules the next probe.
  void UpdateReachability(const Reachability& seen);
  // Sets reachable_, and reachability_since_us_ when it changes.
  void SetReachable(bool reachable);
  // `probe`: sent while the peer is unreachable, to learn whether it is back.
  // One entry goes by Deliver, several by DeliverBatch.
  void StartCall(std::vector<storage::OutboxEntry> entries, bool probe = false);
  // What the answer to one call said of one of its envelopes: the call's
  // gRPC status (a batch's refusal of that envelope stands for it) and the
  // outcome (OK: delivered, its receipt verified).
  struct Outcome {
    const storage::OutboxEntry* entry;
    grpc::Status status;
    absl::Status outcome;
    const std::string* receipt;  // the receipt that delivered it, if any
  };
  // A DeliverBatch answered OK: its receipt verified once, then each
  // envelope delivered (an entry for it), refused, or not covered.
  void CheckBatchAnswer(const Call& call, std::vector<Outcome>& outcomes);
  // Records the outcome of answered calls: deliveries in one commit.
  void RecordAnswers(std::vector<Call*> answered);
  // Records a failed attempt: retry later with backoff, or dead letter.
  void RecordFailure(const storage::OutboxEntry& entry, const grpc::Status& status,
                     const absl::Status& outcome);
  // A refusal of a RECEIVED_ANSWERS for its kind, handed to the node:
  // true if its answers were queued singly (the entry is then replaced).
  bool ReplacedWithSingles(const storage::OutboxEntry& entry, const absl::Status& outcome);
  void ReceiptVerified(const v1::Receipt& receipt) const {
    if (hooks_.receipt_verified) hooks_.receipt_verified(receipt);
  }

  const std::string peer_;
  const std::unique_ptr<v1::Exchange::Stub> stub_;
  storage::Store* const store_;
  const Verifier* const verifier_;
  const Clock* const clock_;
  const BrokerOptions* const options_;
  const std::function<double()> jitter_;
  const NodeHooks hooks_;

  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Call*> answered_ ABSL_GUARDED_BY(mu_);  // completed, not yet recorded
  // For LoopStateForTesting.
  bool asleep_ ABSL_GUARDED_BY(mu_) = false;
  LoopState last_sleep_ ABSL_GUARDED_BY(mu_);
  // Owned by the sender thread: calls in flight, by outbox row id; the rows
  // of a batch share their call.
  std::map<int64_t, std::shared_ptr<Call>> in_flight_;
  // Owned by the sender thread: the peer answered a batch UNIMPLEMENTED (a
  // node from before batches); until then, one envelope per call.
  absl::Time batches_refused_until_ = absl::InfinitePast();
  // Owned by the sender thread: the peer was unreachable since the last
  // delivery (or the broker just started), so entries may be waiting for
  // retries that the next delivery brings forward.
  bool retries_waiting_ = true;
  // Owned by the sender thread: how many times in a row the peer was found
  // unreachable (UNAVAILABLE: a call, then each probe), nothing reaching it
  // since; 0 while it is reachable. While above 0, only one probe is in
  // flight, sent at next_probe_at_ (Backoff(failed_probes_) after the last)
  // or, once the probe in flight is answered, when new work asked for one.
  int failed_probes_ = 0;
  bool Unreachable() const { return failed_probes_ > 0; }
  absl::Time next_probe_at_ = absl::InfinitePast();
  bool probe_wanted_ = false;
  // Owned by the sender thread: when a failed probe next dead-letters what
  // has waited past dead_letter_after without being tried.
  static constexpr absl::Duration kExpiryCheckInterval = absl::Minutes(1);
  absl::Time next_expiry_check_ = absl::InfinitePast();
  // Owned by the sender thread: the store fail-stopped; nothing is sent
  // until the broker restarts (a reopened store).
  bool store_failed_ = false;
  // Written by the sender thread, read by the metrics.
  std::atomic<int64_t> delivered_{0};
  std::atomic<bool> reachable_{true};
  std::atomic<int64_t> reachability_since_us_{0};
  std::thread thread_;
};

}  // namespace mir::broker

#endif  // MIR_BROKER_SENDER_H_
