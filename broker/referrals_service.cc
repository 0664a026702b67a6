#include "broker/referrals_service.h"

#include <chrono>
#include <deque>

#include "absl/strings/str_cat.h"
#include "broker/envelope_events.h"
#include "broker/national_statistics.h"
#include "broker/referral_demographics.h"
#include "broker/referral_views.h"
#include "broker/service_calls.h"
#include "broker/statistics.h"
#include "broker/tls.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "crypto/console_login.h"
#include "crypto/envelope_bytes.h"

namespace mir::broker {
namespace {

constexpr int kDefaultListLimit = 100;
constexpr size_t kMaxWatchBacklog = 1000;

absl::StatusOr<storage::ReferralRecord> VisibleReferral(Node& node, const Identity& caller,
                                                        const std::string& referral_id) {
  ASSIGN_OR_RETURN(auto referral, node.store().GetReferral(referral_id));
  if (!referral.has_value()) {
    return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_REFERRAL,
                    absl::StrCat("referral ", referral_id, " is not known to you at this node"));
  }
  RETURN_IF_ERROR(node.CheckReferralAccess(caller, referral_id));
  return *std::move(referral);
}

}  // namespace

grpc::ServerUnaryReactor* ReferralsService::Prepare(grpc::CallbackServerContext* context,
                                                    const v1::PrepareRequest* request,
                                                    v1::PrepareResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kPrepare));
    if (request->kind() != v1::REFERRAL || !request->referral_id().empty()) {
      RETURN_IF_ERROR(CheckId("referral_id", request->referral_id()));
    }
    ASSIGN_OR_RETURN(*response, node_->Prepare(caller, *request));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralsService::Submit(grpc::CallbackServerContext* context,
                                                   const v1::SubmitRequest* request,
                                                   v1::SubmitResponse* response) {
  // Steady time for the latency histogram only, never a decision: not the Clock.
  const auto arrived = std::chrono::steady_clock::now();
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    const absl::Status status = [&]() -> absl::Status {
      ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kSubmit));
      std::vector<std::string> envelopes(request->envelopes().begin(), request->envelopes().end());
      ASSIGN_OR_RETURN(SubmitResult result,
                       node_->Submit(caller, envelopes, request->referral_key()));
      response->set_referral_id(result.referral_id);
      for (const std::string& id : result.message_ids) response->add_message_ids(id);
      response->set_state(result.state);
      return absl::OkStatus();
    }();
    metrics_->ObserveSubmit(absl::FromChrono(std::chrono::steady_clock::now() - arrived));
    return status;
  });
}

grpc::ServerUnaryReactor* ReferralsService::List(grpc::CallbackServerContext* context,
                                                 const v1::ListRequest* request,
                                                 v1::ListResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kList));
    storage::ReferralQuery query;
    const std::string& self = node_->options().node_id;
    if (request->direction() == v1::DIRECTION_OUTBOUND) query.origin_node = self;
    if (request->direction() == v1::DIRECTION_INBOUND) query.not_origin_node = self;
    for (int state : request->states())
      query.states.push_back(static_cast<v1::ReferralState>(state));
    query.urgency = request->urgency();
    query.counterpart_node = request->counterpart_node();
    if (request->has_since()) query.updated_since = FromProtoTime(request->since());
    if (caller.role == Role::kPartner) query.partner = caller.Uri();
    const int limit = request->limit() > 0 ? static_cast<int>(request->limit()) : kDefaultListLimit;
    query.limit = request->overdue_only() ? 0 : limit;
    ASSIGN_OR_RETURN(auto referrals, node_->store().QueryReferrals(query));
    for (const storage::ReferralRecord& r : referrals) {
      if (request->overdue_only() && !node_->IsOverdue(r)) continue;
      if (response->referrals_size() >= limit) break;
      *response->add_referrals() = SummaryOf(*node_, r);
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralsService::Get(grpc::CallbackServerContext* context,
                                                const v1::GetRequest* request,
                                                v1::ReferralView* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kGet));
    RETURN_IF_ERROR(CheckId("referral_id", request->referral_id()));
    ASSIGN_OR_RETURN(storage::ReferralRecord referral,
                     VisibleReferral(*node_, caller, request->referral_id()));
    ASSIGN_OR_RETURN(*response, ViewOf(*node_, referral, caller.role));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralsService::Circulate(grpc::CallbackServerContext* context,
                                                      const v1::CirculateRequest* request,
                                                      v1::CirculateResponse*) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kCirculate));
    RETURN_IF_ERROR(CheckId("referral_id", request->referral_id()));
    ASSIGN_OR_RETURN(storage::ReferralRecord referral,
                     VisibleReferral(*node_, caller, request->referral_id()));
    if (request->partners().empty()) {
      return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                      "name at least one partner to circulate the referral to");
    }
    for (const std::string& uri : request->partners()) {
      auto partner = ParseIdentity(uri);
      if (!partner.ok() || partner->role != Role::kPartner ||
          partner->node != node_->options().node_id) {
        return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                        absl::StrCat("partner '", uri, "' is not mir://", node_->options().node_id,
                                     "/partner/<name>"));
      }
    }
    RETURN_IF_ERROR(node_->store().Transact([&](storage::Txn& txn) -> absl::Status {
      for (const std::string& uri : request->partners()) {
        RETURN_IF_ERROR(txn.GrantPartnerAccess(referral.meta.referral_id, uri));
      }
      return absl::OkStatus();
    }));
    MIR_LOG(INFO) << "referral " << referral.meta.referral_id << " circulated to "
                  << request->partners_size() << " partner(s) by " << caller.Uri();
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralsService::ListDeadLetters(
    grpc::CallbackServerContext* context, const v1::ListDeadLettersRequest* request,
    v1::ListDeadLettersResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    RETURN_IF_ERROR(Caller(*context, *node_, Action::kListDeadLetters).status());
    const int limit = request->limit() > 0 ? static_cast<int>(request->limit()) : kDefaultListLimit;
    ASSIGN_OR_RETURN(auto dead, node_->store().ListOutbox(storage::OutboxState::kDead, limit));
    for (const storage::OutboxEntry& entry : dead) {
      v1::DeadLetter* letter = response->add_dead_letters();
      letter->set_message_id(entry.message_id);
      letter->set_peer_node(entry.peer);
      letter->set_attempts(static_cast<uint32_t>(entry.attempts));
      *letter->mutable_enqueued_at() = ToProtoTime(entry.enqueued_at);
      letter->set_last_error(entry.last_error);
      v1::Envelope envelope;
      v1::EnvelopeHeader header;
      if (envelope.ParseFromString(entry.envelope) && header.ParseFromString(envelope.header())) {
        letter->set_referral_id(header.referral_id());
      }
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralsService::Requeue(grpc::CallbackServerContext* context,
                                                    const v1::RequeueRequest* request,
                                                    v1::RequeueResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kRequeue));
    int moved = 0;
    if (request->message_id().empty()) {
      ASSIGN_OR_RETURN(moved, node_->store().RequeueAllDead());
    } else {
      RETURN_IF_ERROR(CheckId("message_id", request->message_id()));
      ASSIGN_OR_RETURN(auto entry, node_->store().FindOutbox(request->message_id()));
      if (!entry.has_value() || entry->state != storage::OutboxState::kDead) {
        return absl::NotFoundError(
            absl::StrCat("message ", request->message_id(), " is not a dead letter here"));
      }
      ASSIGN_OR_RETURN(moved, node_->store().Requeue(entry->id));
    }
    response->set_requeued(static_cast<uint32_t>(moved));
    node_->WakeAllSenders();
    MIR_LOG(INFO) << caller.Uri() << " requeued " << moved << " dead letter(s)";
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralsService::Erase(grpc::CallbackServerContext* context,
                                                  const v1::EraseRequest* request,
                                                  v1::EraseResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kErase));
    RETURN_IF_ERROR(CheckId("referral_id", request->referral_id()));
    ASSIGN_OR_RETURN(storage::ErasureRecord erased,
                     node_->Erase(caller, request->referral_id(), request->reason()));
    *response->mutable_erasure() = ErasureOf(erased);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralsService::SetLegalHold(grpc::CallbackServerContext* context,
                                                         const v1::LegalHoldRequest* request,
                                                         v1::LegalHoldResponse* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kLegalHold));
    RETURN_IF_ERROR(CheckId("referral_id", request->referral_id()));
    ASSIGN_OR_RETURN(auto hold, node_->SetLegalHold(caller, request->referral_id(), request->held(),
                                                    request->reason()));
    if (hold.has_value()) *response->mutable_legal_hold() = LegalHoldOf(*hold);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ReferralsService::GetNodeStatus(grpc::CallbackServerContext* context,
                                                          const v1::NodeStatusRequest* /*request*/,
                                                          v1::NodeStatus* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    RETURN_IF_ERROR(Caller(*context, *node_, Action::kNodeStatus).status());
    // The metrics' own snapshot: the page and the scrape never disagree.
    const NodeFigures figures = metrics_->Figures();
    response->set_node_id(node_->options().node_id);
    *response->mutable_at() = ToProtoTime(node_->clock()->Now());
    for (const auto& [peer, f] : figures.peers) {
      v1::PeerStatus* status = response->add_peers();
      status->set_peer(peer);
      status->set_pending(static_cast<uint64_t>(f.pending));
      status->set_oldest_pending_s(static_cast<uint64_t>(absl::ToInt64Seconds(f.oldest_pending)));
      status->set_dead_letters(static_cast<uint64_t>(f.dead_letters));
      status->set_reachable(f.reachable);
      if (f.reachability_since != absl::Time()) {
        *status->mutable_reachability_since() = ToProtoTime(f.reachability_since);
      }
      status->set_delivered(static_cast<uint64_t>(f.delivered));
    }
    for (const auto& [node, h] : figures.held) {
      v1::HeldMessages* held = response->add_held();
      held->set_node(node);
      held->set_count(static_cast<uint64_t>(h.count));
      held->set_oldest_s(static_cast<uint64_t>(absl::ToInt64Seconds(h.oldest)));
    }
    response->set_emergencies_overdue(static_cast<uint32_t>(figures.emergencies_overdue));
    response->set_store_failed(figures.store_failed);
    for (const auto& [subject, left] : figures.certificate_expiry) {
      v1::CertificateExpiry* expiry = response->add_certificates();
      expiry->set_subject(subject);
      expiry->set_seconds_left(absl::ToInt64Seconds(left));
    }
    return absl::OkStatus();
  });
}

namespace {

// The national tables (PROTOCOL.md §16), kept only at the national node.
absl::StatusOr<v1::Statistics> NationalStatistics(Node& node, const StatisticsPeriod& period,
                                                  absl::Time now, bool suppressed) {
  const BrokerOptions& options = node.options();
  if (options.node_id != options.national_node) {
    return MirError(absl::StatusCode::kFailedPrecondition, v1::INVALID_FIELD,
                    absl::StrCat("national statistics are kept at the national node ",
                                 options.national_node, ", not here"));
  }
  ASSIGN_OR_RETURN(std::vector<storage::StatisticsReportRecord> kept,
                   node.store().StatisticsReports(period.from, period.to));
  std::vector<v1::StatisticsReport> reports(kept.size());
  for (size_t i = 0; i < kept.size(); ++i) {
    if (!reports[i].ParseFromString(kept[i].report)) {
      return absl::DataLossError(
          absl::StrCat("the kept statistics report of ", kept[i].node_id, " does not parse"));
    }
  }
  return BuildNationalStatistics(reports, options.node_id, period, now, suppressed);
}

}  // namespace

grpc::ServerUnaryReactor* ReferralsService::GetStatistics(grpc::CallbackServerContext* context,
                                                          const v1::StatisticsRequest* request,
                                                          v1::Statistics* response) {
  return Respond(*pool_, context, [=, this]() -> absl::Status {
    ASSIGN_OR_RETURN(Identity caller, Caller(*context, *node_, Action::kStatistics));
    ASSIGN_OR_RETURN(absl::TimeZone zone, StatisticsTimeZone());
    const absl::Time now = node_->clock()->Now();
    ASSIGN_OR_RETURN(StatisticsPeriod period, StatisticsPeriodOf(*request, now, zone));
    const bool suppressed = !request->has_suppressed() || request->suppressed();
    if (request->national()) {
      ASSIGN_OR_RETURN(*response, NationalStatistics(*node_, period, now, suppressed));
      if (!suppressed) MIR_LOG(INFO) << caller.Uri() << " read raw (internal) national statistics";
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(std::vector<storage::ReferralFact> facts,
                     node_->store().ReferralFacts(period.from, period.to));
    storage::ReportQuery contacts_query;
    contacts_query.recorded_since = period.from;
    contacts_query.recorded_before = period.to;
    contacts_query.limit = 0;
    ASSIGN_OR_RETURN(std::vector<storage::ReportRecord> contacts,
                     node_->store().QueryReports(contacts_query));
    storage::ServiceRequestQuery services_query;
    services_query.states = {v1::SERVICE_DONE};
    services_query.limit = 0;
    ASSIGN_OR_RETURN(std::vector<storage::ServiceRequestRecord> services,
                     node_->store().QueryServiceRequests(services_query));
    ASSIGN_OR_RETURN(auto demographics, ReadDemographics(node_->store(), facts));
    ASSIGN_OR_RETURN(std::vector<NamedTable> person_tables,
                     BuildDemographicTables(facts, demographics, period, now));
    ASSIGN_OR_RETURN(*response,
                     BuildStatistics(facts, node_->options().node_id, period, now, zone, suppressed,
                                     contacts, services, std::move(person_tables)));
    // Raw counts are internal: who read them is worth a line.
    if (!suppressed) MIR_LOG(INFO) << caller.Uri() << " read raw (internal) statistics";
    return absl::OkStatus();
  });
}

namespace {

// Streams applied events to one watcher. The node's listener only appends to
// the shared state's queue and starts a write when none is in flight; no lock
// is held while calling into gRPC, and Finish waits for an in-flight write,
// so the reactor is never touched after OnDone. The state outlives the
// reactor: a listener call that races with OnDone finds it detached.
class WatchReactor final : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  // Through a console (`acting.certificate` set), the person is shown
  // nothing past the proof's age or once their certificate is refused.
  WatchReactor(Node* node, Acting acting)
      : node_(node), caller_(acting.identity), state_(std::make_shared<State>()) {
    state_->reactor = this;
    handle_ = node_->AddEventListener([node, acting = std::move(acting),
                                       state = state_](const std::vector<storage::Event>& events) {
      OnEvents(*node, acting, *state, events);
    });
    // Tells the client the subscription is in place before any event.
    StartSendInitialMetadata();
    MIR_LOG(INFO) << caller_.Uri() << " started watching";
  }

  void OnWriteDone(bool ok) override {
    const v1::WatchEvent* next = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&state_->mu);
      state_->queue.pop_front();
      if (!ok || state_->cancelled || state_->overflowed) {
        state_->writing = false;
        finish = !state_->finished;
        state_->finished = true;
      } else if (!state_->queue.empty()) {
        next = &state_->queue.front();
      } else {
        state_->writing = false;
      }
    }
    if (next != nullptr) StartWrite(next);
    if (finish) Finish(state_->FinalStatus());
  }

  void OnCancel() override {
    bool finish = false;
    {
      absl::MutexLock lock(&state_->mu);
      state_->cancelled = true;
      if (!state_->writing && !state_->finished) finish = state_->finished = true;
    }
    if (finish) Finish(state_->FinalStatus());
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&state_->mu);
      state_->reactor = nullptr;
    }
    node_->RemoveEventListener(handle_);
    delete this;
  }

 private:
  struct State {
    absl::Mutex mu;
    WatchReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;  // null once done
    std::deque<v1::WatchEvent> queue ABSL_GUARDED_BY(mu);
    bool writing ABSL_GUARDED_BY(mu) = false;
    bool cancelled ABSL_GUARDED_BY(mu) = false;
    bool finished ABSL_GUARDED_BY(mu) = false;
    bool overflowed ABSL_GUARDED_BY(mu) = false;
    // Through a console: why the sign-in no longer holds ("" while it does).
    std::string signed_out ABSL_GUARDED_BY(mu);

    grpc::Status FinalStatus() {
      absl::MutexLock lock(&mu);
      if (!signed_out.empty()) {
        return ToGrpcStatus(MirError(absl::StatusCode::kPermissionDenied, v1::CONSOLE_PROOF,
                                     absl::StrCat("console call ended: ", signed_out)));
      }
      return overflowed
                 ? ToGrpcStatus(MirError(absl::StatusCode::kResourceExhausted, v1::WATCH_OVERFLOW,
                                         "the watcher fell too far behind; watch again"))
                 : grpc::Status::CANCELLED;
    }
  };

  // Through a console: "" while the sign-in holds, else why not.
  static std::string SignedOut(const Node& node, const Acting& acting) {
    if (acting.certificate.empty()) return "";
    const absl::Time now = node.clock()->Now();
    if (now > acting.until) return "the sign-in is older than the allowed age";
    // Cheap (the Verifier caches the chain); a CRL loaded since applies.
    auto still = node.verifier().VerifyCertificate(acting.certificate, now);
    if (!still.ok())
      return absl::StrCat("(", ReasonName(still.status()), ") ", still.status().message());
    return "";
  }

  static void OnEvents(Node& node, const Acting& acting, State& state,
                       const std::vector<storage::Event>& events) {
    const Identity& caller = acting.identity;
    if (std::string why = SignedOut(node, acting); !why.empty()) {
      WatchReactor* reactor = nullptr;
      {
        absl::MutexLock lock(&state.mu);
        if (state.reactor == nullptr || state.finished) return;
        // Like an overflow: what is queued is dropped; a write in flight
        // finishes the call when it completes.
        state.signed_out = std::move(why);
        state.overflowed = true;
        if (state.writing) return;
        state.finished = true;
        reactor = state.reactor;
      }
      reactor->Finish(state.FinalStatus());
      return;
    }
    std::vector<v1::WatchEvent> batch;
    for (const storage::Event& e : events) {
      auto referral = node.store().GetReferral(e.referral_id);
      if (!referral.ok() || !referral->has_value()) continue;
      if (caller.role == Role::kPartner) {
        if (!node.CheckReferralAccess(caller, e.referral_id).ok()) continue;
      }
      v1::WatchEvent event;
      *event.mutable_referral() = SummaryOf(node, **referral);
      *event.mutable_event() = TimelineEventOf(e, {}, std::nullopt);
      batch.push_back(std::move(event));
    }
    WatchReactor* reactor = nullptr;
    const v1::WatchEvent* first = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&state.mu);
      if (state.reactor == nullptr || state.finished || state.overflowed) return;
      for (auto& event : batch) state.queue.push_back(std::move(event));
      if (state.queue.size() > kMaxWatchBacklog) {
        // A reader this slow is told to watch again rather than growing our
        // memory; a write in flight finishes the call when it completes.
        state.overflowed = true;
        if (!state.writing) finish = state.finished = true;
      } else if (!state.writing && !state.queue.empty()) {
        state.writing = true;
        first = &state.queue.front();
      }
      reactor = state.reactor;
    }
    // Safe without the lock: with `writing` or `finished` set by us, the call
    // cannot complete (and OnDone cannot run) before this write or Finish.
    if (first != nullptr) reactor->StartWrite(first);
    if (finish) reactor->Finish(state.FinalStatus());
  }

  Node* const node_;
  const Identity caller_;
  const std::shared_ptr<State> state_;
  int handle_ = 0;
};

class RefusedWatch final : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  explicit RefusedWatch(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::WatchEvent>* ReferralsService::Watch(
    grpc::CallbackServerContext* context, const v1::WatchRequest*) {
  auto acting = ActingFor(*context, *node_, Action::kWatch);
  if (!acting.ok()) return new RefusedWatch(acting.status());
  return new WatchReactor(node_, *std::move(acting));
}

}  // namespace mir::broker
