// A peer down for days (RELIABILITY.md), on a fake clock: the sender retries
// with exponential backoff, capped and jittered, keeps the envelope pending
// for dead_letter_after (3 days by default), then makes it a dead letter that
// staff see and requeue; requeued, it is delivered once the peer is back.

#include "grpcpp/client_context.h"
#include "tests/broker/network_fixture.h"
#include "tests/broker/staff_client.h"

namespace mir::testing {
namespace {

class PeerOutageTest : public NetworkTest {
 protected:
  std::optional<storage::OutboxEntry> Entry(const std::string& message_id) {
    auto entry = Store("toscana").FindOutbox(message_id);
    return entry.ok() ? *entry : std::nullopt;
  }
  // What toscana's sender to nvn is doing.
  std::optional<broker::PeerSender::LoopState> SenderLoop() {
    return broker::PeerSender::LoopStateForTesting(&Store("toscana"), "nvn");
  }
  FakeClock fake_{absl::Now()};
};

TEST_F(PeerOutageTest, PeerDownForDaysIsRetriedWithBackoffThenDeadLetteredAndRequeued) {
  const broker::BrokerOptions defaults;
  broker::BrokerOptions& o = options_["toscana"];
  o.initial_backoff = defaults.initial_backoff;      // 200 ms
  o.max_backoff = defaults.max_backoff;              // 1 min
  o.dead_letter_after = defaults.dead_letter_after;  // 3 days
  clock_ = &fake_;
  ASSERT_TRUE(StartNode("toscana"));  // nvn is down
  clock_ = RealClock::Get();

  StaffClient anna(ports_["toscana"], "toscana/operator");
  auto id = anna.SubmitReferral("nvn");
  ASSERT_OK(id);
  v1::Envelope sent;
  v1::EnvelopeHeader header;
  ASSERT_TRUE(sent.ParseFromString(anna.last_signed().front()) &&
              header.ParseFromString(sent.header()));
  const std::string message_id = header.message_id();
  auto queued = Entry(message_id);
  ASSERT_TRUE(queued.has_value());
  const absl::Time enqueued = queued->enqueued_at;

  // Each failed attempt schedules the next after initial * 2^(n-1), capped
  // at max_backoff, times a jitter in [0.5, 1). The fake clock moves only
  // here, to the next due time, so attempts come one at a time.
  constexpr int kAttempts = 14;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    SCOPED_TRACE(attempt);
    ASSERT_TRUE(WaitFor([&] {
      auto e = Entry(message_id);
      return e && e->attempts == attempt;
    }));
    auto e = Entry(message_id);
    ASSERT_EQ(e->state, storage::OutboxState::kPending);
    EXPECT_NE(e->last_error.find("UNAVAILABLE"), std::string::npos) << e->last_error;
    const absl::Duration base = std::min(o.initial_backoff * (1 << (attempt - 1)), o.max_backoff);
    const absl::Duration wait = e->next_attempt_at - fake_.Now();
    EXPECT_GE(wait, base / 2);
    EXPECT_LT(wait, base);
    if (attempt == kAttempts) break;
    fake_.Set(e->next_attempt_at);
    NodeAt("toscana").WakeAllSenders();
  }

  // Days pass with the peer still down: pending until dead_letter_after, dead after.
  fake_.Set(enqueued + o.dead_letter_after - absl::Minutes(1));
  NodeAt("toscana").WakeAllSenders();
  ASSERT_TRUE(WaitFor([&] {
    auto e = Entry(message_id);
    return e && e->attempts == kAttempts + 1;
  }));
  EXPECT_EQ(Entry(message_id)->state, storage::OutboxState::kPending);
  fake_.Set(enqueued + o.dead_letter_after);
  NodeAt("toscana").WakeAllSenders();
  ASSERT_TRUE(WaitFor([&] {
    auto e = Entry(message_id);
    return e && e->state == storage::OutboxState::kDead;
  }));

  // Staff see it, with why, and requeue it once the peer is back.
  v1::ListDeadLettersResponse dead;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(anna.stub().ListDeadLetters(&context, v1::ListDeadLettersRequest(), &dead).ok());
  }
  ASSERT_EQ(dead.dead_letters_size(), 1);
  EXPECT_EQ(dead.dead_letters(0).message_id(), message_id);
  EXPECT_EQ(dead.dead_letters(0).referral_id(), *id);
  EXPECT_GE(dead.dead_letters(0).attempts(), 15u);
  EXPECT_NE(dead.dead_letters(0).last_error().find("UNAVAILABLE"), std::string::npos);

  ASSERT_TRUE(StartNode("nvn"));
  v1::RequeueResponse requeued;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(anna.stub().Requeue(&context, v1::RequeueRequest(), &requeued).ok());
  }
  EXPECT_EQ(requeued.requeued(), 1u);
  // Time goes on at toscana while its channel reconnects to nvn.
  ASSERT_TRUE(WaitFor([&] {
    fake_.Advance(absl::Seconds(1));
    NodeAt("toscana").WakeAllSenders();
    return StateAt(Store("toscana"), *id) == v1::RECEIVED;
  }));
  EXPECT_EQ(Entry(message_id)->state, storage::OutboxState::kDelivered);
  auto timeline = Store("nvn").Timeline(*id);
  ASSERT_OK(timeline);
  EXPECT_EQ(timeline->size(), 2u);  // once, however many attempts
}

// A backlog for an unreachable peer costs nothing while it waits: only the
// head of the queue is tried (when new work comes, or at the probe's
// backoff), the rest keep their attempts, and yet all of it becomes a dead
// letter once dead_letter_after has passed.
TEST_F(PeerOutageTest, ABacklogForAnUnreachablePeerIsTriedOneAtATimeAndStillExpires) {
  broker::BrokerOptions& o = options_["toscana"];
  o.dead_letter_after = broker::BrokerOptions().dead_letter_after;  // 3 days
  clock_ = &fake_;
  ASSERT_TRUE(StartNode("toscana"));  // nvn is down
  clock_ = RealClock::Get();

  StaffClient anna(ports_["toscana"], "toscana/operator");
  std::vector<std::string> message_ids;
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(anna.SubmitReferral("nvn"));
    v1::Envelope sent;
    v1::EnvelopeHeader header;
    ASSERT_TRUE(sent.ParseFromString(anna.last_signed().front()) &&
                header.ParseFromString(sent.header()));
    message_ids.push_back(header.message_id());
  }
  auto attempts = [&] {
    std::vector<int> out;
    for (const std::string& id : message_ids) {
      auto e = Entry(id);
      out.push_back(e ? e->attempts : -1);
    }
    return out;
  };
  // Until toscana has found nvn unreachable, calls may go out side by side;
  // once its sender sleeps with nvn unreachable and nothing in flight or
  // waiting to be looked at, nothing moves, since the fake clock stands still.
  ASSERT_TRUE(WaitFor([&] {
    auto loop = SenderLoop();
    return loop && loop->idle && loop->unreachable;
  })) << "toscana's sender never settled with nvn unreachable";
  const std::vector<int> settled = attempts();
  ASSERT_GE(settled[0], 1);

  // New work probes with the head of the queue (the oldest, all being
  // ORDINARY), and only with it.
  for (int probe = 1; probe <= 3; ++probe) {
    SCOPED_TRACE(probe);
    NodeAt("toscana").WakeAllSenders();
    ASSERT_TRUE(WaitFor([&] { return attempts()[0] == settled[0] + probe; }));
  }
  std::vector<int> after = attempts();
  for (size_t i = 1; i < after.size(); ++i) {
    EXPECT_EQ(after[i], settled[i]) << "envelope " << i << " was tried while nvn was down";
  }

  // Three days after the last was queued, the next probe fails: all five are dead.
  fake_.Set(Entry(message_ids.back())->enqueued_at + o.dead_letter_after);
  NodeAt("toscana").WakeAllSenders();
  ASSERT_TRUE(WaitFor([&] {
    for (const std::string& id : message_ids) {
      auto e = Entry(id);
      if (!e || e->state != storage::OutboxState::kDead) return false;
    }
    return true;
  }));
  for (size_t i = 1; i < message_ids.size(); ++i) {
    EXPECT_NE(Entry(message_ids[i])->last_error.find("UNAVAILABLE"), std::string::npos);
  }

  // Nothing is left to send, and the next probe's time has come: the sender
  // forgets the outage and sleeps a whole poll interval rather than spin on
  // an empty queue (it once waited zero, using 140 ms of CPU in half a second).
  fake_.Advance(absl::Hours(1));
  const int64_t sleeps_before = SenderLoop()->sleeps;
  NodeAt("toscana").WakeAllSenders();
  ASSERT_TRUE(WaitFor([&] {
    auto loop = SenderLoop();
    return loop && loop->idle && loop->sleeps > sleeps_before;
  })) << "toscana's sender never went back to sleep";
  auto loop = SenderLoop();
  EXPECT_FALSE(loop->unreachable);
  EXPECT_EQ(loop->wait, o.outbox_poll_interval);
}

}  // namespace
}  // namespace mir::testing
