#include "storage/store.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "storage/event_log.h"
#include "storage/schema.h"
#include "storage/store_internal.h"
#include "tests/storage/storage_test_util.h"
#include "tests/testing/test_env.h"

namespace mir::storage {
namespace {

using ::mir::testing::NewTempDir;
using ::mir::testing::StatusIs;
using ::mir::testing::StatusIsReason;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace ::mir::storage::testing;  // NOLINT: event builders
using enum v1::ReferralState;

constexpr char kRef[] = "3f1c2a9e-0000-4000-8000-000000000001";

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = NewTempDir() + "/node.db";
    Reopen();
  }

  StoreOptions Options() const {
    StoreOptions o;
    o.path = path_;
    return o;
  }

  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(Options(), &clock_);
    ASSERT_OK(opened);
    store_ = *std::move(opened);
  }

  absl::StatusOr<ApplyResult> Apply(const Event& e) { return store_->RecordAndEnqueue(e, {}); }

  uint64_t NextSeq(const std::string& ref, const std::string& node) {
    uint64_t next = 0;
    absl::Status s = store_->Transact([&](Txn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(next, txn.NextSequence(ref, node));
      return absl::OkStatus();
    });
    EXPECT_OK(s);
    return next;
  }

  int64_t RawCount(const std::string& table) {
    RawDb raw = OpenRaw(path_);
    return QueryInt(raw.get(), "SELECT COUNT(*) FROM " + table);
  }

  v1::ReferralState StateOf(const std::string& ref) {
    absl::StatusOr<std::optional<ReferralRecord>> r = store_->GetReferral(ref);
    if (!r.ok() || !r->has_value()) return REFERRAL_STATE_UNSPECIFIED;
    return (*r)->state;
  }

  std::vector<std::string> TimelineIds(const std::string& ref) {
    std::vector<std::string> ids;
    absl::StatusOr<std::vector<Event>> t = store_->Timeline(ref);
    if (t.ok()) {
      for (const Event& e : *t) ids.push_back(e.message_id);
    }
    return ids;
  }

  // lombardia's RECEIVED of each of `refs`, all carried by the envelope
  // `shared` (a RECEIVED_ANSWERS), applied in `txn`.
  static absl::Status ApplyAnswers(Txn& txn, const std::vector<std::string>& refs,
                                   const std::string& shared) {
    for (const std::string& ref : refs) {
      Event answer = Changed(ref, NodeOf("lombardia"), 1, v1::RECEIVED);
      answer.envelope = shared;
      RETURN_IF_ERROR(txn.ApplyEvent(answer).status());
    }
    return absl::OkStatus();
  }

  // The happy path from SUBMITTED to CLOSED_POSITIVE, toscana -> lombardia.
  std::vector<Event> HappyPath(const std::string& ref) {
    return {
        Submitted(ref),
        Changed(ref, NodeOf("lombardia"), 1, RECEIVED),
        Changed(ref, Operator("lombardia"), 2, UNDER_EVALUATION),
        Changed(ref, Operator("lombardia"), 3, INFO_REQUESTED),
        Changed(ref, Operator("toscana"), 2, UNDER_EVALUATION),
        Changed(ref, Partner("lombardia"), 4, PLACEMENT_PROPOSED),
        Changed(ref, Operator("toscana"), 3, PLACEMENT_ACCEPTED),
        Changed(ref, Operator("lombardia"), 5, TRANSFER_SCHEDULED),
        Changed(ref, Partner("lombardia"), 6, PLACEMENT_CONFIRMED),
        Changed(ref, Operator("lombardia"), 7, CLOSED_POSITIVE),
    };
  }

  std::string path_;
  FakeClock clock_{kT0};
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, FreshFileHasLatestSchemaAndDurabilitySettings) {
  EXPECT_EQ(*PragmaForTesting(*store_, "user_version"), std::to_string(kSchemaVersion));
  EXPECT_EQ(*PragmaForTesting(*store_, "journal_mode"), "wal");
  EXPECT_EQ(*PragmaForTesting(*store_, "synchronous"), "2");  // FULL
  EXPECT_EQ(*PragmaForTesting(*store_, "foreign_keys"), "1");
  EXPECT_EQ(*PragmaForTesting(*store_, "busy_timeout"), "5000");
  EXPECT_EQ(*PragmaForTesting(*store_, "temp_store"), "2");  // MEMORY: no statement-journal files
  // WAL is a property of the file: another connection sees it too.
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "PRAGMA journal_mode"), "wal");
}

TEST_F(StoreTest, ForeignKeysAreEnforced) {
  // An event row for a referral that does not exist violates the foreign key.
  const absl::Status status = store_->Transact([](Txn&) { return absl::OkStatus(); });
  ASSERT_OK(status);
  RawDb raw = OpenRaw(path_);
  Exec(raw.get(), "PRAGMA foreign_keys = ON");
  EXPECT_THAT(Exec(raw.get(),
                   "INSERT INTO events (referral_id, sender_node, sequence, message_id, to_state, "
                   "actor_node, actor_role, actor_name, at_us, reason, envelope, applied_at_us) "
                   "VALUES ('nope', 'toscana', 1, 'm', 2, 'toscana', 'node', '', 0, '', x'00', 0)"),
              HasSubstr("FOREIGN KEY"));
}

TEST_F(StoreTest, BusyTimeoutGivesUpWithUnavailableWithoutFailStop) {
  StoreOptions options = Options();
  options.busy_timeout = absl::Milliseconds(20);
  store_.reset();
  absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(options, &clock_);
  ASSERT_OK(opened);
  store_ = *std::move(opened);

  RawDb other = OpenRaw(path_);
  ASSERT_EQ(Exec(other.get(), "BEGIN IMMEDIATE"), "");
  EXPECT_THAT(MIR_STATUS(Apply(Submitted(kRef))), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(store_->failed());
  ASSERT_EQ(Exec(other.get(), "COMMIT"), "");
  EXPECT_OK(Apply(Submitted(kRef)));
  EXPECT_EQ(StateOf(kRef), SUBMITTED);
}

TEST_F(StoreTest, HappyPathProjectsEveryEvent) {
  for (const Event& e : HappyPath(kRef)) {
    SCOPED_TRACE(e.message_id);
    clock_.Advance(absl::Seconds(1));
    absl::StatusOr<ApplyResult> r = Apply(e);
    ASSERT_OK(r);
    EXPECT_EQ(r->outcome, ApplyOutcome::kApplied);
    ASSERT_EQ(r->applied.size(), 1u);
    EXPECT_EQ(r->applied[0].message_id, e.message_id);
    EXPECT_EQ(StateOf(kRef), e.to_state);
  }
  absl::StatusOr<std::optional<ReferralRecord>> rec = store_->GetReferral(kRef);
  ASSERT_OK(rec);
  ASSERT_TRUE(rec->has_value());
  const ReferralRecord& r = **rec;
  EXPECT_EQ(r.meta.origin_node, "toscana");
  EXPECT_EQ(r.meta.destination_node, "lombardia");
  EXPECT_EQ(r.meta.urgency, v1::URGENCY_EMERGENCY_24H);
  EXPECT_EQ(r.meta.ack_deadline, kT0 + absl::Hours(24));
  EXPECT_EQ(r.created_at, kT0);
  EXPECT_EQ(r.updated_at, kT0 + absl::Minutes(1));
  EXPECT_EQ(r.referral_envelope, Submitted(kRef).envelope);
  EXPECT_EQ(TimelineIds(kRef).size(), HappyPath(kRef).size());
  EXPECT_EQ(*store_->GetReferral("unknown"), std::nullopt);
}

TEST_F(StoreTest, CloseAndReopenKeepsEverything) {
  const std::vector<Event> path = HappyPath(kRef);
  for (size_t i = 0; i < path.size(); ++i) {
    ASSERT_OK(store_->RecordAndEnqueue(path[i], {Outgoing(absl::StrCat("out-", i))}));
  }
  ASSERT_OK(Apply(Submitted("second", "nvn", "veneto")));
  absl::StatusOr<std::vector<OutboxEntry>> pending = store_->ListOutbox(OutboxState::kPending, 0);
  ASSERT_OK(pending);
  ASSERT_EQ(pending->size(), path.size());
  ASSERT_OK(store_->MarkDelivered((*pending)[0].id, "receipt-0"));
  ASSERT_OK(store_->MarkDead((*pending)[1].id, "peer refused: UNKNOWN_NODE"));
  ASSERT_OK(
      store_->MarkAttemptFailed((*pending)[2].id, kT0 + absl::Minutes(5), "deadline exceeded"));
  const InboxRecord inbound{"inbound-1", "lombardia", std::string(32, 'h'), "receipt-in-1", kT0};
  ASSERT_OK(store_->Transact([&](Txn& txn) { return txn.InsertInbox(inbound); }));
  absl::StatusOr<std::vector<Event>> before = store_->Timeline(kRef);
  ASSERT_OK(before);

  Reopen();

  EXPECT_EQ(StateOf(kRef), CLOSED_POSITIVE);
  EXPECT_EQ(StateOf("second"), SUBMITTED);
  absl::StatusOr<std::vector<Event>> after = store_->Timeline(kRef);
  ASSERT_OK(after);
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) {
    SCOPED_TRACE(i);
    const Event& a = (*after)[i];
    const Event& b = path[i];
    EXPECT_EQ(a.message_id, b.message_id);
    EXPECT_EQ(a.sender_node, b.sender_node);
    EXPECT_EQ(a.sequence, b.sequence);
    EXPECT_EQ(a.to_state, b.to_state);
    EXPECT_EQ(a.actor, b.actor);
    EXPECT_EQ(a.at, b.at);
    EXPECT_EQ(a.reason, b.reason);
    EXPECT_EQ(a.envelope, b.envelope);
    EXPECT_EQ(a.referral.has_value(), b.referral.has_value());
  }
  ASSERT_TRUE((*after)[0].referral.has_value());
  EXPECT_EQ((*after)[0].referral->destination_node, "lombardia");
  EXPECT_EQ((*after)[0].referral->ack_deadline, kT0 + absl::Hours(24));

  absl::StatusOr<std::vector<OutboxEntry>> all = store_->ListOutbox(std::nullopt, 0);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), path.size());
  EXPECT_EQ((*all)[0].state, OutboxState::kDelivered);
  EXPECT_EQ((*all)[0].receipt, "receipt-0");
  EXPECT_EQ((*all)[1].state, OutboxState::kDead);
  EXPECT_EQ((*all)[1].last_error, "peer refused: UNKNOWN_NODE");
  EXPECT_EQ((*all)[2].attempts, 1);
  EXPECT_EQ((*all)[2].next_attempt_at, kT0 + absl::Minutes(5));
  EXPECT_EQ((*all)[3].envelope, "ENVELOPE:out-3");

  EXPECT_EQ(NextSeq(kRef, "lombardia"), 8u);
  EXPECT_EQ(NextSeq(kRef, "toscana"), 4u);
  EXPECT_EQ(NextSeq(kRef, "nvn"), 1u);

  // The inbox still deduplicates after the reopen.
  absl::StatusOr<std::optional<InboxRecord>> kept = store_->FindInboxRecord("inbound-1");
  ASSERT_OK(kept);
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->receipt, "receipt-in-1");
  EXPECT_THAT(store_->Transact([&](Txn& txn) { return txn.InsertInbox(inbound); }),
              StatusIs(absl::StatusCode::kAlreadyExists));
  absl::StatusOr<AuditCheck> audit = store_->VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  EXPECT_EQ(audit->rows_checked, static_cast<int64_t>(path.size()) + 1);
}

TEST_F(StoreTest, SequenceAlreadyAppliedIsAlreadyExists) {
  ASSERT_OK(Apply(Submitted(kRef)));
  // The same message again: plain ALREADY_EXISTS (the caller already has it).
  const absl::Status same = Apply(Submitted(kRef)).status();
  EXPECT_THAT(same, StatusIsReason(absl::StatusCode::kAlreadyExists, v1::ERROR_REASON_UNSPECIFIED));
  // Another message claiming a used number conflicts.
  Event other = Changed(kRef, Operator("toscana"), 1, WITHDRAWN);
  other.message_id = "another-message";
  EXPECT_THAT(MIR_STATUS(Apply(other)),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
  EXPECT_EQ(StateOf(kRef), SUBMITTED);
  EXPECT_THAT(TimelineIds(kRef), ElementsAre(Submitted(kRef).message_id));
}

TEST_F(StoreTest, EarlyEventsAreHeldThenReleasedInOrder) {
  ASSERT_OK(Apply(Submitted(kRef)));
  const Event received = Changed(kRef, NodeOf("lombardia"), 1, RECEIVED);
  const Event evaluating = Changed(kRef, Operator("lombardia"), 2, UNDER_EVALUATION);
  const Event asking = Changed(kRef, Operator("lombardia"), 3, INFO_REQUESTED);

  absl::StatusOr<ApplyResult> r3 = Apply(asking);
  ASSERT_OK(r3);
  EXPECT_EQ(r3->outcome, ApplyOutcome::kHeld);
  EXPECT_THAT(r3->applied, IsEmpty());
  absl::StatusOr<ApplyResult> r2 = Apply(evaluating);
  ASSERT_OK(r2);
  EXPECT_EQ(r2->outcome, ApplyOutcome::kHeld);
  EXPECT_EQ(StateOf(kRef), SUBMITTED);
  EXPECT_EQ(RawCount("held_events"), 2);
  // A second copy of a held event is not held twice.
  EXPECT_THAT(MIR_STATUS(Apply(asking)),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::ERROR_REASON_UNSPECIFIED));
  Event impostor = asking;
  impostor.message_id = "another-message";
  EXPECT_THAT(MIR_STATUS(Apply(impostor)),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));

  absl::StatusOr<ApplyResult> r1 = Apply(received);
  ASSERT_OK(r1);
  EXPECT_EQ(r1->outcome, ApplyOutcome::kApplied);
  std::vector<std::string> applied;
  for (const Event& e : r1->applied) applied.push_back(e.message_id);
  EXPECT_THAT(applied, ElementsAre(received.message_id, evaluating.message_id, asking.message_id));
  EXPECT_THAT(r1->dropped, IsEmpty());
  EXPECT_EQ(StateOf(kRef), INFO_REQUESTED);
  EXPECT_THAT(TimelineIds(kRef), ElementsAre(Submitted(kRef).message_id, received.message_id,
                                             evaluating.message_id, asking.message_id));
  EXPECT_EQ(RawCount("held_events"), 0);
  EXPECT_EQ(NextSeq(kRef, "lombardia"), 4u);
}

TEST_F(StoreTest, OriginEventBeforeTheSubmissionIsHeldUntilItArrives) {
  const Event withdrawn = Changed(kRef, Operator("toscana"), 2, WITHDRAWN);
  absl::StatusOr<ApplyResult> early = Apply(withdrawn);
  ASSERT_OK(early);
  EXPECT_EQ(early->outcome, ApplyOutcome::kHeld);
  EXPECT_EQ(*store_->GetReferral(kRef), std::nullopt);
  // Survives a restart.
  Reopen();
  absl::StatusOr<ApplyResult> r = Apply(Submitted(kRef));
  ASSERT_OK(r);
  ASSERT_EQ(r->applied.size(), 2u);
  EXPECT_EQ(r->applied[1].message_id, withdrawn.message_id);
  EXPECT_EQ(StateOf(kRef), WITHDRAWN);
}

// An event may be held for a referral not known yet, so each sender's held
// events are bounded in all, not only per referral: past the bound the next
// is refused and stored nowhere, other senders still hold theirs, and a
// release makes room again.
TEST_F(StoreTest, EarlyEventsHeldPerSenderAreBounded) {
  auto ref = [](int i) { return absl::StrFormat("3f1c2a9e-0000-4000-8000-%012d", i); };
  constexpr int kReferrals = kMaxHeldPerSender / kMaxHeldPerStream;
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    for (int r = 0; r < kReferrals; ++r) {
      for (int seq = 2; seq < 2 + kMaxHeldPerStream; ++seq) {
        ASSIGN_OR_RETURN(ApplyResult held,
                         txn.ApplyEvent(Changed(ref(r), Operator("toscana"), seq, WITHDRAWN)));
        if (held.outcome != ApplyOutcome::kHeld) return absl::InternalError("not held");
      }
    }
    return absl::OkStatus();
  }));
  ASSERT_EQ(RawCount("held_events"), kMaxHeldPerSender);

  const Event one_more = Changed(ref(kReferrals), Operator("toscana"), 2, WITHDRAWN);
  const absl::Status refused = Apply(one_more).status();
  EXPECT_THAT(refused, StatusIsReason(absl::StatusCode::kResourceExhausted, v1::TOO_MANY_HELD));
  EXPECT_THAT(refused.message(),
              HasSubstr(absl::StrCat(kMaxHeldPerSender, " early messages from toscana")));
  EXPECT_EQ(RawCount("held_events"), kMaxHeldPerSender);

  absl::StatusOr<ApplyResult> other =
      Apply(Changed(ref(kReferrals), Operator("veneto"), 2, WITHDRAWN));
  ASSERT_OK(other);
  EXPECT_EQ(other->outcome, ApplyOutcome::kHeld);

  // The first referral's submission releases its 64: one applies, the rest
  // are dropped (nothing follows a withdrawal), and toscana may hold again.
  ASSERT_OK(Apply(Submitted(ref(0))));
  EXPECT_EQ(StateOf(ref(0)), WITHDRAWN);
  absl::StatusOr<ApplyResult> again = Apply(one_more);
  ASSERT_OK(again);
  EXPECT_EQ(again->outcome, ApplyOutcome::kHeld);
}

TEST_F(StoreTest, UnknownReferralInSequenceIsNotFound) {
  EXPECT_THAT(MIR_STATUS(Apply(Changed(kRef, NodeOf("lombardia"), 1, RECEIVED))),
              StatusIsReason(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL));
}

// A held event found invalid on release is dropped and recorded; the event
// that released it still applies and the stream moves on.
TEST_F(StoreTest, InvalidHeldEventIsDroppedAndRecordedOnRelease) {
  ASSERT_OK(Apply(Submitted(kRef)));
  // lombardia's #2 claims PLACEMENT_ACCEPTED, which only the origin may do.
  const Event bogus = Changed(kRef, Operator("lombardia"), 2, PLACEMENT_ACCEPTED);
  const Event next = Changed(kRef, Operator("lombardia"), 3, UNDER_EVALUATION);
  ASSERT_OK(Apply(bogus));
  ASSERT_OK(Apply(next));
  absl::StatusOr<ApplyResult> r = Apply(Changed(kRef, NodeOf("lombardia"), 1, RECEIVED));
  ASSERT_OK(r);
  ASSERT_EQ(r->dropped.size(), 1u);
  EXPECT_EQ(r->dropped[0].message_id, bogus.message_id);
  EXPECT_EQ(r->dropped[0].sequence, 2u);
  EXPECT_THAT(r->dropped[0].why,
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  ASSERT_EQ(r->applied.size(), 2u);  // #1 and #3
  EXPECT_EQ(r->applied[1].message_id, next.message_id);
  EXPECT_EQ(StateOf(kRef), UNDER_EVALUATION);
  EXPECT_EQ(NextSeq(kRef, "lombardia"), 4u);
  EXPECT_EQ(RawCount("held_events"), 0);
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "SELECT message_id || ' ' || status_reason FROM dropped_events"),
            bogus.message_id + " INVALID_TRANSITION");
  // The dropped number counts as used.
  EXPECT_THAT(MIR_STATUS(Apply(bogus)),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
}

// The events key shows where a stream stands; a streams row is written only
// when the stream's last number was consumed by a dropped event.
TEST_F(StoreTest, AStreamEndingInADroppedEventKeepsItsPosition) {
  ASSERT_OK(Apply(Submitted(kRef)));
  ASSERT_OK(Apply(Changed(kRef, NodeOf("lombardia"), 1, RECEIVED)));
  EXPECT_EQ(RawCount("streams"), 0);
  EXPECT_EQ(NextSeq(kRef, "lombardia"), 2u);
  // lombardia's #3 claims PLACEMENT_ACCEPTED, which only the origin may do;
  // it waits for #2 and is dropped when #2 releases it.
  const Event bogus = Changed(kRef, Operator("lombardia"), 3, PLACEMENT_ACCEPTED);
  ASSERT_OK(Apply(bogus));
  absl::StatusOr<ApplyResult> r = Apply(Changed(kRef, Operator("lombardia"), 2, UNDER_EVALUATION));
  ASSERT_OK(r);
  ASSERT_EQ(r->dropped.size(), 1u);
  EXPECT_EQ(NextSeq(kRef, "lombardia"), 4u);
  EXPECT_EQ(RawCount("streams"), 1);
  EXPECT_THAT(MIR_STATUS(Apply(bogus)),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
  // The next event is applied after the dropped number.
  ASSERT_OK(Apply(Changed(kRef, Operator("lombardia"), 4, INFO_REQUESTED)));
  EXPECT_EQ(NextSeq(kRef, "lombardia"), 5u);
  EXPECT_EQ(StateOf(kRef), INFO_REQUESTED);
}

TEST_F(StoreTest, RefusedEventChangesNothing) {
  ASSERT_OK(Apply(Submitted(kRef)));
  const Event wrong = Changed(kRef, Operator("toscana"), 2, PLACEMENT_ACCEPTED);
  EXPECT_THAT(MIR_STATUS(store_->RecordAndEnqueue(wrong, {Outgoing("m-1")})),
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  const Event wrong_role = Changed(kRef, Operator("lombardia"), 1, RECEIVED);
  EXPECT_THAT(MIR_STATUS(store_->RecordAndEnqueue(wrong_role, {Outgoing("m-2")})),
              StatusIsReason(absl::StatusCode::kPermissionDenied, v1::ROLE_MAY_NOT_TRANSITION));
  EXPECT_THAT(*store_->ListOutbox(std::nullopt, 0), IsEmpty());
  EXPECT_THAT(TimelineIds(kRef), ElementsAre(Submitted(kRef).message_id));
  EXPECT_EQ(NextSeq(kRef, "toscana"), 2u);
  EXPECT_EQ(NextSeq(kRef, "lombardia"), 1u);
}

TEST_F(StoreTest, MalformedEventsAreInvalidField) {
  struct Case {
    std::string name;
    void (*mutate)(Event&);
  };
  const std::vector<Case> cases = {
      {"no referral id", [](Event& e) { e.referral_id.clear(); }},
      {"no message id", [](Event& e) { e.message_id.clear(); }},
      {"bad sender node", [](Event& e) { e.sender_node = "Toscana!"; }},
      {"bad actor node", [](Event& e) { e.actor.node = ""; }},
      {"sequence zero", [](Event& e) { e.sequence = 0; }},
      {"no state", [](Event& e) { e.to_state = REFERRAL_STATE_UNSPECIFIED; }},
      {"no envelope", [](Event& e) { e.envelope.clear(); }},
      {"huge reason", [](Event& e) { e.reason.assign(5000, 'x'); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Event e = Submitted(kRef);
    c.mutate(e);
    EXPECT_THAT(MIR_STATUS(Apply(e)),
                StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  }
  EXPECT_EQ(*store_->GetReferral(kRef), std::nullopt);
}

TEST_F(StoreTest, TransactRollsBackEverythingWhenItsFunctionFails) {
  const absl::Status status = store_->Transact([&](Txn& txn) -> absl::Status {
    RETURN_IF_ERROR(txn.ApplyEvent(Submitted(kRef)).status());
    RETURN_IF_ERROR(txn.Enqueue(Outgoing("m-1")));
    return absl::AbortedError("caller changed its mind");
  });
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(*store_->GetReferral(kRef), std::nullopt);
  EXPECT_THAT(*store_->ListOutbox(std::nullopt, 0), IsEmpty());
  EXPECT_EQ(RawCount("events"), 0);
}

// Store::Read: one snapshot on the read connection, taken without the write
// lock (a write that holds it does not delay the read).
TEST_F(StoreTest, ReadSeesOneSnapshotAndNeverWaitsForAWrite) {
  ASSERT_OK(Apply(Submitted(kRef)));
  absl::Notification entered;
  absl::Notification release;
  std::thread stuck([&] {
    EXPECT_OK(store_->Transact([&](Txn&) -> absl::Status {
      entered.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    }));
  });
  entered.WaitForNotification();
  std::optional<ReferralRecord> seen;
  ASSERT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(seen, txn.GetReferral(kRef));
    return absl::OkStatus();
  }));
  release.Notify();
  stuck.join();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(seen->state, SUBMITTED);

  // A write committed between two reads of one Read is not seen by the second.
  ASSERT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<ReferralRecord> before, txn.GetReferral(kRef));
    std::thread writer(
        [&] { EXPECT_OK(Apply(Changed(kRef, NodeOf("lombardia"), 1, RECEIVED)).status()); });
    writer.join();
    ASSIGN_OR_RETURN(std::optional<ReferralRecord> after, txn.GetReferral(kRef));
    ASSIGN_OR_RETURN(uint64_t next, txn.NextSequence(kRef, "lombardia"));
    EXPECT_EQ(before->state, SUBMITTED);
    EXPECT_EQ(after->state, SUBMITTED);
    EXPECT_EQ(next, 1u);
    return absl::OkStatus();
  }));
  EXPECT_EQ(StateOf(kRef), RECEIVED);
}

// A batch's receipt is stored once for the rows it covers, also when a
// savepoint that stored it first is rolled back: the next row stores it
// again instead of naming a receipt that is gone.
TEST_F(StoreTest, ABatchReceiptUndoneWithItsSavepointIsStoredAgain) {
  const std::string batch = ReceiptListing(2);
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    absl::Status undone = txn.Atomically([&]() -> absl::Status {
      RETURN_IF_ERROR(txn.InsertInbox({"in-0", "toscana", std::string(32, 'a'), batch, kT0}));
      return absl::AbortedError("refused after its inbox row");
    });
    EXPECT_THAT(undone, StatusIs(absl::StatusCode::kAborted));
    return txn.InsertInbox({"in-1", "toscana", std::string(32, 'b'), batch, kT0});
  }));
  EXPECT_EQ(store_->FindInboxRecord("in-0")->value_or(InboxRecord{}).message_id, "");
  absl::StatusOr<std::optional<InboxRecord>> kept = store_->FindInboxRecord("in-1");
  ASSERT_OK(kept);
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->receipt, batch);
}

// The answers of one RECEIVED_ANSWERS (PROTOCOL.md §10.8) are events of
// several referrals carried by one envelope: the first row keeps its bytes,
// the others name that row (schema v15), and each reads back whole.
TEST_F(StoreTest, EventsCarriedByOneEnvelopeKeepItOnce) {
  const std::vector<std::string> refs = {"ans-a", "ans-b", "ans-c"};
  for (const std::string& ref : refs) ASSERT_OK(Apply(Submitted(ref)));
  const std::string shared = "RECEIVED-ANSWERS:ans-a,ans-b,ans-c";
  ASSERT_OK(
      store_->Transact([&](Txn& txn) -> absl::Status { return ApplyAnswers(txn, refs, shared); }));
  for (const std::string& ref : refs) {
    absl::StatusOr<std::vector<Event>> timeline = store_->Timeline(ref);
    ASSERT_OK(timeline);
    ASSERT_EQ(timeline->size(), 2u);
    EXPECT_EQ(timeline->back().to_state, v1::RECEIVED);
    EXPECT_EQ(timeline->back().envelope, shared) << ref;
  }
  absl::StatusOr<AuditCheck> audit = store_->VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  store_.reset();
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryInt(raw.get(),
                     "SELECT COUNT(*) FROM events WHERE envelope = CAST('" + shared + "' AS BLOB)"),
            1);
  EXPECT_EQ(QueryInt(raw.get(),
                     "SELECT COUNT(*) FROM events WHERE envelope_event_id IS NOT NULL "
                     "AND length(envelope) = 0"),
            2);
}

// The envelope of answers that a transaction applied is queued naming the
// events row that holds it, not as a copy, and is sent with the same bytes.
TEST_F(StoreTest, AnEnvelopeOfAnswersIsQueuedWithoutACopy) {
  const std::vector<std::string> refs = {"out-a", "out-b"};
  for (const std::string& ref : refs) ASSERT_OK(Apply(Submitted(ref)));
  const std::string shared = "RECEIVED-ANSWERS:out-a,out-b";
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    RETURN_IF_ERROR(ApplyAnswers(txn, refs, shared));
    RETURN_IF_ERROR(txn.Enqueue({"answers-1", "toscana", shared, "", std::nullopt}));
    // Other bytes, about no referral: kept inline as before.
    return txn.Enqueue({"other-1", "toscana", "OTHER-ENVELOPE", "", std::nullopt});
  }));
  absl::StatusOr<std::optional<OutboxEntry>> queued = store_->FindOutbox("answers-1");
  ASSERT_OK(queued);
  ASSERT_TRUE(queued->has_value());
  EXPECT_EQ((*queued)->envelope, shared);
  absl::StatusOr<std::vector<OutboxEntry>> due = store_->DuePending("toscana", kT0, 10);
  ASSERT_OK(due);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].envelope, shared);
  EXPECT_EQ((*due)[1].envelope, "OTHER-ENVELOPE");
  store_.reset();
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(
      QueryText(raw.get(),
                "SELECT length(o.envelope) || ' ' || length(e.envelope) FROM outbox o "
                "JOIN events e ON e.id = o.envelope_event_id WHERE o.message_id = 'answers-1'"),
      absl::StrCat("0 ", shared.size()));
  EXPECT_EQ(QueryText(raw.get(),
                      "SELECT (envelope_event_id IS NULL) || ' ' || length(envelope) FROM outbox "
                      "WHERE message_id = 'other-1'"),
            "1 14");
}

// The row that kept the envelope may be undone with a savepoint (an answer
// refused after it was appended): the next event keeps the bytes again
// instead of naming a row that is gone.
TEST_F(StoreTest, AnEnvelopeUndoneWithItsSavepointIsKeptAgain) {
  ASSERT_OK(Apply(Submitted("und-a")));
  ASSERT_OK(Apply(Submitted("und-b")));
  const std::string shared = "RECEIVED-ANSWERS:und-a,und-b";
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    absl::Status undone = txn.Atomically([&]() -> absl::Status {
      Event first = Changed("und-a", NodeOf("lombardia"), 1, v1::RECEIVED);
      first.envelope = shared;
      RETURN_IF_ERROR(txn.ApplyEvent(first).status());
      return absl::AbortedError("refused after its event");
    });
    EXPECT_THAT(undone, StatusIs(absl::StatusCode::kAborted));
    Event second = Changed("und-b", NodeOf("lombardia"), 1, v1::RECEIVED);
    second.envelope = shared;
    return txn.ApplyEvent(second).status();
  }));
  absl::StatusOr<std::vector<Event>> a = store_->Timeline("und-a");
  ASSERT_OK(a);
  EXPECT_EQ(a->size(), 1u) << "the undone answer left nothing";
  absl::StatusOr<std::vector<Event>> b = store_->Timeline("und-b");
  ASSERT_OK(b);
  ASSERT_EQ(b->size(), 2u);
  EXPECT_EQ(b->back().envelope, shared);
}

// The inbox records each message id once, with the receipt given for it
// (Node::Deliver answers a repeat with it; broker deliver_test).
TEST_F(StoreTest, InboxRecordsAMessageIdOnce) {
  const InboxRecord first{"inbound-1", "toscana", std::string(32, 'a'), "receipt-1", kT0};
  ASSERT_OK(store_->Transact([&](Txn& txn) { return txn.InsertInbox(first); }));
  absl::StatusOr<std::optional<InboxRecord>> found;
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    found = txn.FindInbox("inbound-1");
    return found.status();
  }));
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->sender_node, "toscana");
  EXPECT_EQ((*found)->envelope_sha256, first.envelope_sha256);
  EXPECT_EQ((*found)->receipt, "receipt-1");
  EXPECT_EQ((*found)->received_at, kT0);

  InboxRecord repeat = first;
  repeat.receipt = "receipt-2";
  EXPECT_THAT(store_->Transact([&](Txn& txn) { return txn.InsertInbox(repeat); }),
              StatusIs(absl::StatusCode::kAlreadyExists));
  InboxRecord other_bytes = first;
  other_bytes.envelope_sha256 = std::string(32, 'b');
  EXPECT_THAT(store_->Transact([&](Txn& txn) { return txn.InsertInbox(other_bytes); }),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
  EXPECT_EQ((*store_->FindInboxRecord("inbound-1"))->receipt, "receipt-1");
  EXPECT_EQ(RawCount("inbox"), 1);
}

// Several inbound messages in one commit, each Atomically: a refused one
// leaves no trace and does not stop the others.
TEST_F(StoreTest, AtomicallyUndoesOnlyTheRefusedPartOfABatch) {
  ASSERT_OK(Apply(Submitted(kRef)));
  const Event good1 = Changed(kRef, NodeOf("lombardia"), 1, RECEIVED);
  const Event bad = Changed(kRef, Operator("toscana"), 2, CLOSED_POSITIVE);
  const Event good2 = Changed(kRef, Operator("lombardia"), 2, UNDER_EVALUATION);
  std::vector<absl::Status> outcomes;
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    for (const Event* e : {&good1, &bad, &good2}) {
      outcomes.push_back(txn.Atomically([&]() -> absl::Status {
        RETURN_IF_ERROR(txn.InsertInbox(
            {e->message_id, e->sender_node, std::string(32, 'x'), "receipt", txn.Now()}));
        RETURN_IF_ERROR(txn.Enqueue(Outgoing("reply-" + e->message_id, e->sender_node)));
        return txn.ApplyEvent(*e).status();
      }));
    }
    return absl::OkStatus();
  }));
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_OK(outcomes[0]);
  EXPECT_THAT(outcomes[1],
              StatusIsReason(absl::StatusCode::kFailedPrecondition, v1::INVALID_TRANSITION));
  EXPECT_OK(outcomes[2]);
  EXPECT_EQ(StateOf(kRef), UNDER_EVALUATION);
  EXPECT_EQ(RawCount("inbox"), 2);
  EXPECT_EQ(RawCount("outbox"), 2);
  EXPECT_EQ(*store_->FindOutbox("reply-" + bad.message_id), std::nullopt);
}

// The message ids of `entries`, in order (empty on error).
std::vector<std::string> MessageIds(const absl::StatusOr<std::vector<OutboxEntry>>& entries) {
  std::vector<std::string> out;
  if (entries.ok()) {
    for (const OutboxEntry& e : *entries) out.push_back(e.message_id);
  }
  return out;
}

TEST_F(StoreTest, OutboxDuePendingDeliveredDeadAndRequeue) {
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    for (const char* id : {"a1", "a2", "a3"})
      RETURN_IF_ERROR(txn.Enqueue(Outgoing(id, "lombardia")));
    return txn.Enqueue(Outgoing("b1", "veneto"));
  }));
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now(), 10)),
              ElementsAre("a1", "a2", "a3"));
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now(), 2)),
              ElementsAre("a1", "a2"));
  EXPECT_THAT(MessageIds(store_->DuePending("veneto", clock_.Now(), 10)), ElementsAre("b1"));
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now() - absl::Seconds(1), 10)),
              IsEmpty());

  absl::StatusOr<std::optional<OutboxEntry>> a1 = store_->FindOutbox("a1");
  ASSERT_OK(a1);
  ASSERT_TRUE(a1->has_value());
  EXPECT_EQ((*a1)->enqueued_at, kT0);
  EXPECT_EQ((*a1)->next_attempt_at, kT0);
  EXPECT_EQ((*a1)->attempts, 0);
  const int64_t id1 = (*a1)->id;
  const int64_t id2 = (*store_->FindOutbox("a2"))->id;
  const int64_t id3 = (*store_->FindOutbox("a3"))->id;
  EXPECT_LT(id1, id2);

  // a1 fails and backs off 30 s; a2 is delivered; a3 dies.
  ASSERT_OK(
      store_->MarkAttemptFailed(id1, kT0 + absl::Seconds(30), "UNAVAILABLE: connection refused"));
  ASSERT_OK(store_->MarkDelivered(id2, "receipt-a2"));
  ASSERT_OK(store_->MarkDead(id3, "refused: NOT_FOR_THIS_NODE"));
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now(), 10)), IsEmpty());
  EXPECT_EQ(*store_->NextDue("lombardia", clock_.Now()), kT0 + absl::Seconds(30));
  EXPECT_EQ(*store_->NextDue("veneto", kT0 - absl::Microseconds(1)), kT0);
  // Due already: the sender's to send now, not to wait for.
  EXPECT_EQ(*store_->NextDue("veneto", kT0), std::nullopt);
  EXPECT_EQ(*store_->NextDue("nobody", clock_.Now()), std::nullopt);

  clock_.Advance(absl::Seconds(30));
  absl::StatusOr<std::vector<OutboxEntry>> due = store_->DuePending("lombardia", clock_.Now(), 10);
  ASSERT_OK(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].attempts, 1);
  EXPECT_EQ((*due)[0].last_error, "UNAVAILABLE: connection refused");

  EXPECT_THAT(MessageIds(store_->ListOutbox(OutboxState::kDead, 10)), ElementsAre("a3"));
  EXPECT_THAT(MessageIds(store_->ListOutbox(OutboxState::kDelivered, 10)), ElementsAre("a2"));
  EXPECT_THAT(MessageIds(store_->ListOutbox(OutboxState::kPending, 10)), ElementsAre("a1", "b1"));
  EXPECT_EQ((*store_->FindOutbox("a2"))->receipt, "receipt-a2");

  // State rules.
  EXPECT_THAT(MIR_STATUS(store_->MarkAttemptFailed(id2, clock_.Now(), "x")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(MIR_STATUS(store_->MarkDead(id2, "x")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_OK(store_->MarkDelivered(id2, "receipt-again"));  // a repeated receipt is harmless
  EXPECT_EQ((*store_->FindOutbox("a2"))->receipt, "receipt-a2");
  EXPECT_THAT(MIR_STATUS(store_->MarkDelivered(9999, "r")), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(MIR_STATUS(store_->Requeue(9999)), StatusIs(absl::StatusCode::kNotFound));

  // Requeue a dead letter: pending again, due now, attempts reset.
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(*store_->Requeue(id2), 0);  // delivered, not dead
  EXPECT_EQ(*store_->Requeue(id3), 1);
  EXPECT_EQ(*store_->Requeue(id3), 0);
  absl::StatusOr<std::optional<OutboxEntry>> a3 = store_->FindOutbox("a3");
  ASSERT_OK(a3);
  EXPECT_EQ((*a3)->state, OutboxState::kPending);
  EXPECT_EQ((*a3)->next_attempt_at, clock_.Now());
  EXPECT_EQ((*a3)->attempts, 0);
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now(), 10)),
              ElementsAre("a1", "a3"));

  ASSERT_OK(store_->MarkDead(id1, "gave up"));
  ASSERT_OK(store_->MarkDead(id3, "gave up"));
  EXPECT_EQ(*store_->RequeueAllDead(), 2);
  EXPECT_THAT(MessageIds(store_->ListOutbox(OutboxState::kDead, 10)), IsEmpty());
  EXPECT_EQ(*store_->RequeueAllDead(), 0);
}

TEST_F(StoreTest, EnqueueTwiceIsAlreadyExists) {
  ASSERT_OK(store_->Transact([](Txn& txn) { return txn.Enqueue(Outgoing("m-1")); }));
  EXPECT_THAT(MIR_STATUS(store_->Transact([](Txn& txn) { return txn.Enqueue(Outgoing("m-1")); })),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::ERROR_REASON_UNSPECIFIED));
  OutgoingEnvelope other = Outgoing("m-1");
  other.envelope = "different";
  EXPECT_THAT(MIR_STATUS(store_->Transact([&](Txn& txn) { return txn.Enqueue(other); })),
              StatusIsReason(absl::StatusCode::kAlreadyExists, v1::DUPLICATE_CONFLICT));
  const OutgoingEnvelope no_peer{"m-2", "", "x", "", std::nullopt};
  EXPECT_THAT(MIR_STATUS(store_->Transact([&](Txn& txn) { return txn.Enqueue(no_peer); })),
              StatusIsReason(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD));
  EXPECT_EQ(RawCount("outbox"), 1);
}

TEST_F(StoreTest, ListReferralsMostRecentlyUpdatedFirst) {
  ASSERT_OK(Apply(Submitted("r1", "toscana", "lombardia", kT0)));
  ASSERT_OK(Apply(Submitted("r2", "toscana", "lombardia", kT0 + absl::Minutes(1))));
  ASSERT_OK(Apply(Submitted("r3", "toscana", "lombardia", kT0 + absl::Minutes(2))));
  ASSERT_OK(Apply(Changed("r1", NodeOf("lombardia"), 1, RECEIVED, kT0 + absl::Minutes(3))));
  absl::StatusOr<std::vector<ReferralRecord>> all = store_->ListReferrals(0);
  ASSERT_OK(all);
  std::vector<std::string> ids;
  for (const ReferralRecord& r : *all) ids.push_back(r.meta.referral_id);
  EXPECT_THAT(ids, ElementsAre("r1", "r3", "r2"));
  EXPECT_EQ(store_->ListReferrals(2)->size(), 2u);
}

// An emergency does not wait behind a backlog: due entries come most urgent
// first, each taking its referral's urgency as this node knows it.
TEST_F(StoreTest, DuePendingTakesTheMostUrgentReferralsFirst) {
  Event urgent = Submitted("urgent-ref");
  urgent.referral->urgency = v1::URGENCY_URGENT;
  Event ordinary = Submitted("ordinary-ref");
  ordinary.referral->urgency = v1::URGENCY_ORDINARY;
  ASSERT_OK(Apply(urgent));
  ASSERT_OK(Apply(ordinary));
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    RETURN_IF_ERROR(txn.Enqueue(Outgoing("unknown-1")));  // not an envelope: ORDINARY
    RETURN_IF_ERROR(txn.Enqueue(OutgoingAbout("ordinary-1", "ordinary-ref")));
    RETURN_IF_ERROR(txn.Enqueue(OutgoingAbout("urgent-1", "urgent-ref")));
    // A relay: the referral is not held here; its envelope says EMERGENCY_24H,
    // and a later status change of it inherits that.
    RETURN_IF_ERROR(txn.Enqueue(
        OutgoingAbout("relayed-referral", "relayed-ref", v1::REFERRAL, v1::URGENCY_EMERGENCY_24H)));
    RETURN_IF_ERROR(txn.Enqueue(OutgoingAbout("relayed-change", "relayed-ref")));
    return txn.Enqueue(OutgoingAbout("stranger", "never-seen-ref"));
  }));
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now(), 10)),
              ElementsAre("relayed-referral", "relayed-change", "urgent-1", "unknown-1",
                          "ordinary-1", "stranger"));
  EXPECT_EQ((*store_->FindOutbox("relayed-change"))->urgency, v1::URGENCY_EMERGENCY_24H);
  EXPECT_EQ((*store_->FindOutbox("urgent-1"))->urgency, v1::URGENCY_URGENT);
  EXPECT_EQ((*store_->FindOutbox("stranger"))->urgency, v1::URGENCY_ORDINARY);
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now(), 2)),
              ElementsAre("relayed-referral", "relayed-change"));

  // Entries waiting for a retry are not due, however urgent, until the peer
  // answers again and MakeDueNow brings them forward.
  for (const char* id : {"relayed-referral", "relayed-change", "ordinary-1"}) {
    ASSERT_OK(store_->MarkAttemptFailed((*store_->FindOutbox(id))->id, kT0 + absl::Minutes(1),
                                        "UNAVAILABLE"));
  }
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now(), 10)),
              ElementsAre("urgent-1", "unknown-1", "stranger"));
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", absl::InfiniteFuture(), 1)),
              ElementsAre("relayed-referral"));
  EXPECT_EQ(*store_->MakeDueNow("veneto", clock_.Now()), 0);
  EXPECT_EQ(*store_->MakeDueNow("lombardia", clock_.Now()), 3);
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now(), 10)),
              ElementsAre("relayed-referral", "relayed-change", "urgent-1", "unknown-1",
                          "ordinary-1", "stranger"));
  EXPECT_EQ((*store_->FindOutbox("ordinary-1"))->next_attempt_at, clock_.Now());
}

// What a peer's receipts announce is read back at start from the newest
// one it signed, whether kept in its row or, for a batch, once for all.
TEST_F(StoreTest, NewestReceiptIsOfThePeersLatestDelivery) {
  EXPECT_FALSE(store_->NewestReceipt("lombardia")->has_value());
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    for (const char* id : {"first", "batch-1", "batch-2", "pending"}) {
      RETURN_IF_ERROR(txn.Enqueue(Outgoing(id, "lombardia")));
    }
    return txn.Enqueue(Outgoing("elsewhere", "veneto"));
  }));
  auto id_of = [&](const char* message_id) { return (*store_->FindOutbox(message_id))->id; };
  ASSERT_OK(store_->MarkDelivered(id_of("first"), "receipt-first"));
  EXPECT_EQ(*store_->NewestReceipt("lombardia"), "receipt-first");
  ASSERT_OK(store_->MarkDeliveredMany(
      {{id_of("batch-1"), "receipt-batch"}, {id_of("batch-2"), "receipt-batch"}}));
  ASSERT_OK(store_->MarkDelivered(id_of("elsewhere"), "receipt-veneto"));
  EXPECT_EQ(*store_->NewestReceipt("lombardia"), "receipt-batch");
  EXPECT_EQ(*store_->NewestReceipt("veneto"), "receipt-veneto");
  EXPECT_FALSE(store_->NewestReceipt("piemonte")->has_value());
}

// An envelope about several referrals (the RECEIVED answers of a batch)
// names no referral: it takes the urgency its sender gives it.
TEST_F(StoreTest, AnEnvelopeAboutNoOneReferralTakesTheUrgencyItIsGiven) {
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    RETURN_IF_ERROR(txn.Enqueue(Outgoing("plain", "lombardia")));
    return txn.Enqueue(
        OutgoingEnvelope{"answers", "lombardia", "answers-bytes", "", v1::URGENCY_EMERGENCY_24H});
  }));
  EXPECT_EQ((*store_->FindOutbox("answers"))->urgency, v1::URGENCY_EMERGENCY_24H);
  EXPECT_EQ((*store_->FindOutbox("plain"))->urgency, v1::URGENCY_ORDINARY);
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now(), 10)),
              ElementsAre("answers", "plain"));
}

// What dead_letter_after ends while a peer is unreachable: that peer's
// pending entries enqueued by the cutoff, and nothing else.
// A refused envelope whose content the same transaction queued again
// (PROTOCOL.md §10.8, downgrade) is neither due nor a dead letter: requeueing
// every dead letter leaves it, and a rollback leaves it pending.
TEST_F(StoreTest, AReplacedEntryIsNeitherDueNorADeadLetter) {
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    RETURN_IF_ERROR(txn.Enqueue(Outgoing("together", "lombardia")));
    return txn.Enqueue(Outgoing("kept", "lombardia"));
  }));
  const int64_t together = (*store_->FindOutbox("together"))->id;
  const int64_t kept = (*store_->FindOutbox("kept"))->id;

  // Rolled back with the transaction that failed after it.
  EXPECT_THAT(MIR_STATUS(store_->Transact([&](Txn& txn) -> absl::Status {
                RETURN_IF_ERROR(txn.MarkReplaced(together, "replaced"));
                return absl::InternalError("the singles could not be queued");
              })),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ((*store_->FindOutbox("together"))->state, OutboxState::kPending);

  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    RETURN_IF_ERROR(txn.Enqueue(Outgoing("single-1", "lombardia")));
    return txn.MarkReplaced(together, "replaced by single STATUS_CHANGEs: lombardia refused it");
  }));
  absl::StatusOr<std::optional<OutboxEntry>> replaced = store_->FindOutbox("together");
  ASSERT_OK(replaced);
  EXPECT_EQ((*replaced)->state, OutboxState::kReplaced);
  EXPECT_EQ((*replaced)->last_error, "replaced by single STATUS_CHANGEs: lombardia refused it");
  EXPECT_THAT(MessageIds(store_->DuePending("lombardia", clock_.Now(), 10)),
              ElementsAre("kept", "single-1"));
  EXPECT_THAT(MessageIds(store_->ListOutbox(OutboxState::kReplaced, 10)), ElementsAre("together"));
  EXPECT_THAT(MessageIds(store_->ListOutbox(OutboxState::kDead, 10)), IsEmpty());
  EXPECT_EQ(*store_->Requeue(together), 0);
  EXPECT_EQ(*store_->RequeueAllDead(), 0);
  EXPECT_EQ((*store_->FindOutbox("together"))->state, OutboxState::kReplaced);

  // Idempotent; only a pending entry is replaced.
  EXPECT_OK(store_->Transact([&](Txn& txn) { return txn.MarkReplaced(together, "again"); }));
  EXPECT_EQ((*store_->FindOutbox("together"))->last_error,
            "replaced by single STATUS_CHANGEs: lombardia refused it");
  ASSERT_OK(store_->MarkDelivered(kept, "receipt"));
  EXPECT_THAT(MIR_STATUS(store_->Transact([&](Txn& txn) { return txn.MarkReplaced(kept, "x"); })),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(MIR_STATUS(store_->MarkDead(together, "x")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(StoreTest, MarkDeadEnqueuedByEndsOnlyThePeersOldPendingEntries) {
  ASSERT_OK(store_->Transact([&](Txn& txn) -> absl::Status {
    for (const char* id : {"old-1", "old-2", "old-delivered"})
      RETURN_IF_ERROR(txn.Enqueue(Outgoing(id, "lombardia")));
    return txn.Enqueue(Outgoing("other-peer", "veneto"));
  }));
  ASSERT_OK(store_->MarkDelivered((*store_->FindOutbox("old-delivered"))->id, "receipt"));
  clock_.Advance(absl::Hours(1));
  ASSERT_OK(store_->Transact([&](Txn& txn) { return txn.Enqueue(Outgoing("new", "lombardia")); }));

  EXPECT_EQ(*store_->MarkDeadEnqueuedBy("lombardia", kT0 - absl::Seconds(1), "UNAVAILABLE"), 0);
  EXPECT_EQ(*store_->MarkDeadEnqueuedBy("lombardia", kT0, "UNAVAILABLE: down for days"), 2);
  EXPECT_THAT(MessageIds(store_->ListOutbox(OutboxState::kDead, 10)),
              ElementsAre("old-1", "old-2"));
  EXPECT_EQ((*store_->FindOutbox("old-1"))->last_error, "UNAVAILABLE: down for days");
  EXPECT_THAT(MessageIds(store_->ListOutbox(OutboxState::kPending, 10)),
              ElementsAre("other-peer", "new"));
  EXPECT_EQ((*store_->FindOutbox("old-delivered"))->state, OutboxState::kDelivered);
  EXPECT_EQ(*store_->MarkDeadEnqueuedBy("lombardia", kT0, "again"), 0);  // already dead
}

// The sender loop's query walks the partial index in (urgency, id) order:
// no table scan, no sort. (The SQL is the one in store.cc's DuePending.)
TEST_F(StoreTest, DuePendingUsesTheDueIndex) {
  RawDb raw = OpenRaw(path_);
  const std::string plan =
      PlanOf(raw.get(),
             "SELECT id, message_id, peer, envelope, attempts, enqueued_at_us, "
             "next_attempt_at_us, state, last_error, receipt, urgency FROM outbox "
             "INDEXED BY outbox_due WHERE peer = ?1 AND state = 0 AND next_attempt_at_us <= ?2 "
             "ORDER BY urgency, id LIMIT ?3");
  EXPECT_THAT(plan, HasSubstr("USING INDEX outbox_due"));
  EXPECT_THAT(plan, ::testing::Not(HasSubstr("TEMP B-TREE")));
}

// Every event applied reads its stream's position: two index seeks, never a
// scan of events or streams (schema v16).
TEST_F(StoreTest, StreamPositionIsReadByTheKeys) {
  RawDb raw = OpenRaw(path_);
  const std::string plan = PlanOf(raw.get(), kLastSequenceSql);
  EXPECT_THAT(plan, HasSubstr("SEARCH events USING COVERING INDEX sqlite_autoindex_events_1 "
                              "(referral_id=? AND sender_node=?)"));
  EXPECT_THAT(plan,
              HasSubstr("SEARCH streams USING PRIMARY KEY (referral_id=? AND sender_node=?)"));
  EXPECT_THAT(plan, ::testing::Not(HasSubstr("SCAN events")));
  EXPECT_THAT(plan, ::testing::Not(HasSubstr("SCAN streams")));
}

// The hold's count and the metrics' figures per sender read the index by
// sender alone, never the rows with their envelopes.
TEST_F(StoreTest, HeldEventsAreCountedThroughTheIndexBySender) {
  ASSERT_OK(Apply(Changed(kRef, Operator("toscana"), 2, WITHDRAWN)));
  ASSERT_OK(Apply(Changed(kRef, Operator("toscana"), 3, WITHDRAWN)));
  clock_.Advance(absl::Minutes(5));
  ASSERT_OK(Apply(Changed(kRef, Operator("veneto"), 2, WITHDRAWN)));
  absl::StatusOr<std::vector<HeldFromSender>> held = store_->HeldBySender();
  ASSERT_OK(held);
  ASSERT_EQ(held->size(), 2u);
  EXPECT_EQ((*held)[0].sender_node, "toscana");
  EXPECT_EQ((*held)[0].count, 2);
  EXPECT_EQ((*held)[0].oldest_held_at, kT0);
  EXPECT_EQ((*held)[1].sender_node, "veneto");
  EXPECT_EQ((*held)[1].oldest_held_at, kT0 + absl::Minutes(5));

  RawDb raw = OpenRaw(path_);
  EXPECT_THAT(PlanOf(raw.get(), kHeldBySenderSql),
              HasSubstr("SCAN held_events USING COVERING INDEX held_events_by_sender"));
  EXPECT_THAT(PlanOf(raw.get(), kHeldCountSql),
              HasSubstr("SEARCH held_events USING COVERING INDEX held_events_by_sender "
                        "(sender_node=?)"));
}

// Reads run beside one another, each on a connection of the pool: two
// Read calls are inside their functions at once (with one connection the
// second would wait for the first, which waits for it).
TEST_F(StoreTest, ReadsRunAtOnceOnThePool) {
  ASSERT_OK(Apply(Submitted("ref-1")));
  absl::Notification first_in, second_in;
  bool second_seen = false;
  std::thread first([&] {
    EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
      ASSIGN_OR_RETURN(std::optional<ReferralRecord> r, txn.GetReferral("ref-1"));
      EXPECT_TRUE(r.has_value());
      first_in.Notify();
      second_seen = second_in.WaitForNotificationWithTimeout(absl::Minutes(2));
      return absl::OkStatus();
    }));
  });
  first_in.WaitForNotification();
  EXPECT_OK(store_->Read([&](ReadTxn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<ReferralRecord> r, txn.GetReferral("ref-1"));
    EXPECT_TRUE(r.has_value());
    second_in.Notify();
    return absl::OkStatus();
  }));
  first.join();
  EXPECT_TRUE(second_seen);
}

TEST_F(StoreTest, AStoreNeedsAReadConnection) {
  StoreOptions o = Options();
  o.path = NewTempDir() + "/other.db";
  o.read_connections = 0;
  EXPECT_EQ(Store::Open(o, &clock_).status().code(), absl::StatusCode::kInvalidArgument);
}

// A referral and its forwarded envelope keep no copy of the bytes the
// events row holds (schema v14); reads return them whole.
TEST_F(StoreTest, TheForwardedEnvelopeIsStoredOnce) {
  const Event e = Submitted("ref-1", "toscana", "nvn");
  ASSERT_OK(store_->RecordAndEnqueue(
      e, {{e.message_id, "nvn", e.envelope, "ref-1", std::nullopt}, Outgoing("unrelated")}));
  RawDb raw = OpenRaw(path_);
  EXPECT_EQ(QueryText(raw.get(), "SELECT length(envelope) FROM outbox WHERE message_id = '" +
                                     e.message_id + "'"),
            "0");
  EXPECT_EQ(QueryText(raw.get(),
                      "SELECT length(envelope) > 0 FROM outbox WHERE message_id = "
                      "'unrelated'"),
            "1");
  EXPECT_EQ(QueryText(raw.get(), "SELECT length(referral_envelope) FROM referrals"), "0");
  EXPECT_EQ((*store_->FindOutbox(e.message_id))->envelope, e.envelope);
  EXPECT_EQ((*store_->GetReferral("ref-1"))->referral_envelope, e.envelope);
  EXPECT_EQ((*store_->FindOutbox("unrelated"))->envelope, Outgoing("unrelated").envelope);
}

// Writers are serialized, readers run beside them; nothing is lost or torn.
TEST_F(StoreTest, ConcurrentWritersAndReaders) {
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 40;
  std::atomic<bool> done{false};
  std::atomic<int> read_errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string ref = absl::StrCat("w", w, "-", i);
        EXPECT_OK(store_->RecordAndEnqueue(Submitted(ref), {Outgoing("out-" + ref)}));
      }
    });
  }
  std::thread reader([&] {
    while (!done.load()) {
      absl::StatusOr<AuditCheck> audit = store_->VerifyAuditChain();
      if (!audit.ok() || !audit->ok) read_errors.fetch_add(1);
      if (!store_->ListReferrals(10).ok()) read_errors.fetch_add(1);
    }
  });
  for (std::thread& t : threads) t.join();
  done.store(true);
  reader.join();
  EXPECT_EQ(read_errors.load(), 0);
  EXPECT_EQ(store_->ListReferrals(0)->size(), static_cast<size_t>(kWriters * kPerWriter));
  EXPECT_EQ(store_->ListOutbox(OutboxState::kPending, 0)->size(),
            static_cast<size_t>(kWriters * kPerWriter));
  absl::StatusOr<AuditCheck> audit = store_->VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  EXPECT_EQ(audit->rows_checked, kWriters * kPerWriter);
}

// Concurrent writers share commits (group commit), yet each gets its own
// answer: a refused write leaves no trace and does not affect the writes it
// was grouped with, and every acknowledged write survives a reopen.
TEST_F(StoreTest, GroupedWritersEachGetTheirOwnOutcome) {
  constexpr int kWriters = 6;
  constexpr int kPerWriter = 30;
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string ref = absl::StrCat("g", w, "-", i);
        if (i % 5 == 4) {
          // Invalid: a status change on a referral nobody submitted.
          EXPECT_THAT(
              MIR_STATUS(store_->RecordAndEnqueue(
                  Changed(ref, NodeOf("lombardia"), 1, v1::RECEIVED), {Outgoing("x-" + ref)})),
              StatusIsReason(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL));
          refused.fetch_add(1);
        } else {
          EXPECT_OK(store_->RecordAndEnqueue(Submitted(ref), {Outgoing("out-" + ref)}));
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  Reopen();
  const size_t accepted = kWriters * kPerWriter - refused.load();
  EXPECT_EQ(store_->ListReferrals(0)->size(), accepted);
  EXPECT_EQ(store_->ListOutbox(OutboxState::kPending, 0)->size(), accepted);
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_FALSE(store_->FindOutbox(absl::StrCat("x-g", w, "-4"))->has_value());
    EXPECT_TRUE(store_->FindOutbox(absl::StrCat("out-g", w, "-3"))->has_value());
  }
  absl::StatusOr<AuditCheck> audit = store_->VerifyAuditChain();
  ASSERT_OK(audit);
  EXPECT_TRUE(audit->ok) << audit->problem;
  EXPECT_EQ(audit->rows_checked, static_cast<int64_t>(accepted));
}

// A requeued dead letter gets a fresh dead-letter clock: the sender measures
// an envelope's age from enqueued_at, and an old one would die again at once.
TEST_F(StoreTest, RequeuedDeadLetterStartsAFreshDeadLetterClock) {
  ASSERT_OK(store_->RecordAndEnqueue(Submitted("r"), {Outgoing("m1")}));
  auto entry = store_->FindOutbox("m1");
  ASSERT_OK(entry);
  ASSERT_OK(store_->MarkDead((*entry)->id, "UNKNOWN_NODE"));
  clock_.Advance(absl::Hours(80));
  auto moved = store_->Requeue((*entry)->id);
  ASSERT_OK(moved);
  EXPECT_EQ(*moved, 1);
  entry = store_->FindOutbox("m1");
  ASSERT_OK(entry);
  EXPECT_EQ((*entry)->state, OutboxState::kPending);
  EXPECT_EQ((*entry)->enqueued_at, clock_.Now());
  EXPECT_EQ((*entry)->attempts, 0);
}

}  // namespace
}  // namespace mir::storage
