#ifndef MIR_BROKER_NODE_H_
#define MIR_BROKER_NODE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "broker/authorization.h"
#include "broker/config.h"
#include "broker/keyring.h"
#include "broker/peer_features.h"
#include "broker/registry.h"
#include "common/clock.h"
#include "crypto/identity.h"
#include "crypto/signer.h"
#include "crypto/verifier.h"
#include "mir/v1/referrals.pb.h"
#include "mir/v1/report.pb.h"
#include "mir/v1/service_request.pb.h"
#include "storage/store.h"

namespace mir::broker {

// MESSAGE_TOO_LARGE for an envelope of `size` bytes over `limit`.
absl::Status EnvelopeTooLarge(size_t size, size_t limit);

struct SubmitResult {
  std::string referral_id;
  std::vector<std::string> message_ids;
  // What the action moved the referral to at this node (a repeat answers the
  // same, whatever the referral's state has become since).
  v1::ReferralState state = v1::REFERRAL_STATE_UNSPECIFIED;
};

// Called after a commit with the events it applied, in order.
using EventListener = std::function<void(const std::vector<storage::Event>&)>;

// The node's core, below the RPC layer: what happens to an envelope that
// arrives from a peer node or is submitted by a local operator or partner.
// Thread-safe.
class Node {
 public:
  // Loads the node's key and certificate and the CA, and opens the store.
  static absl::StatusOr<std::unique_ptr<Node>> Create(const BrokerOptions& options,
                                                      const Clock* clock);

  // Exchange.Deliver from the TLS-authenticated `peer`. Verifies the
  // envelope, checks the peer may deliver it, and in one transaction stores
  // it in the inbox exactly once, applies its event (or, at a relay, queues
  // it unchanged for the next hop) and signs the receipt. Returns the
  // receipt envelope, durable when returned. A duplicate returns the
  // original receipt and changes nothing.
  absl::StatusOr<std::string> Deliver(const Identity& peer, const std::string& envelope_bytes);

  // What Exchange.DeliverBatch answers (PROTOCOL.md §6.2.1).
  struct BatchDelivery {
    // One receipt with an entry for every accepted envelope (new, held,
    // relayed or a duplicate with the same bytes); empty if none was.
    std::string receipt;
    // (index in the request, why) for each refused envelope, in order.
    std::vector<std::pair<size_t, absl::Status>> refused;
    // The kinds of the accepted envelopes, for the metrics.
    std::vector<std::string> accepted_kinds;
  };
  static constexpr size_t kMaxBatchEnvelopes = 64;
  // Exchange.DeliverBatch: each envelope checked and applied as Deliver
  // would, in order, every accepted one in the same commit, and one receipt
  // for them all, durable when returned. A refused envelope changes nothing;
  // the call fails as a whole only for the caller's role, a batch of 0 or
  // more than kMaxBatchEnvelopes, or the store.
  absl::StatusOr<BatchDelivery> DeliverBatch(const Identity& peer,
                                             const std::vector<std::string>& envelopes);

  // What `caller` must sign for one action (Referrals.Prepare): a header per
  // recipient, and for a status change a body template.
  absl::StatusOr<v1::PrepareResponse> Prepare(const Identity& caller,
                                              const v1::PrepareRequest& request);

  // The signed envelopes of one action at this node (an operator's referral
  // or status change, a partner's proposal or confirmation): one per
  // recipient, same body. Verified, applied once and queued for every
  // recipient in one transaction. `caller` is the TLS identity, which must be
  // the author; a partner acts only on referrals circulated to it. A new
  // referral's header may be the client's own (no Prepare): Submit checks
  // all that Prepare would. Idempotent: envelopes already accepted here with
  // the same bytes change nothing and get the first answer again; a known
  // message id with other bytes is ALREADY_EXISTS, DUPLICATE_CONFLICT.
  // A new REFERRAL comes with `referral_key`, the key its sealed fields
  // were sealed under (PROTOCOL.md §11): it must open them; the node keeps it
  // and releases it to the destination (KEY_RELEASE).
  absl::StatusOr<SubmitResult> Submit(const Identity& caller,
                                      const std::vector<std::string>& envelopes,
                                      const std::string& referral_key = {});
  absl::StatusOr<SubmitResult> Submit(const Identity& caller, const std::string& envelope,
                                      const std::string& referral_key = {}) {
    return Submit(caller, std::vector<std::string>{envelope}, referral_key);
  }

  // --- Citizen reports (PROTOCOL.md §14; broker/reports.cc) ---
  // Every step is a REPORT_EVENT signed by this node naming the person who
  // took it, stored with the report in one transaction. The rules are
  // broker/report_rules.h; refusals change nothing.
  // An operator records a contact. Retrying the same request (same id and
  // content) answers the same; other content under a used id is
  // ALREADY_EXISTS DUPLICATE_CONFLICT.
  absl::StatusOr<v1::ReportView> RecordReport(const Identity& caller,
                                              const v1::RecordReportRequest& request);
  // The console's public form: channel WEB_FORM, a new id, actor the node.
  // Answers the receipt code and passphrase (only the passphrase's hash is
  // kept).
  absl::StatusOr<v1::PublicReportResponse> RecordPublicReport(
      const v1::PublicReportRequest& request);
  // Triage, once; with `route_to`, the report travels to that node as a
  // CITIZEN_REPORT envelope (its sealed part to that node's key) queued in
  // the same transaction.
  absl::StatusOr<v1::ReportView> TriageReport(const Identity& caller,
                                              const v1::TriageReportRequest& request);
  // The referral a report became: one this node holds.
  absl::StatusOr<v1::ReportView> LinkReport(const Identity& caller,
                                            const v1::LinkReportRequest& request);
  absl::StatusOr<v1::ListReportsResponse> ListReports(const v1::ListReportsRequest& request);
  // With `include_contact`, the reporter's contact too, and a log line
  // saying who read it.
  absl::StatusOr<v1::ReportView> GetReport(const Identity& caller,
                                           const v1::GetReportRequest& request);
  // The public follow-up: NOT_FOUND UNKNOWN_REPORT alike for an unknown code
  // and a wrong passphrase.
  absl::StatusOr<v1::FollowUpResponse> FollowUpReport(const v1::FollowUpRequest& request);

  // --- Service requests (PROTOCOL.md §15; broker/service_requests.cc) ---
  // Every step is a SERVICE_EVENT signed by this node naming the person who
  // took it, stored with the request in one transaction. The rules are
  // broker/service_request_rules.h; refusals change nothing. Requester and
  // notes are sealed at rest under the request's own key (kept as
  // "service:<id>" in the key table).
  // Retrying the same call (same id and content) answers the same; other
  // content under a used id is ALREADY_EXISTS DUPLICATE_CONFLICT.
  absl::StatusOr<v1::ServiceRequestView> CreateServiceRequest(
      const Identity& caller, const v1::CreateServiceRequestRequest& request);
  absl::StatusOr<v1::ServiceRequestView> AssignServiceRequest(
      const Identity& caller, const v1::AssignServiceRequestRequest& request);
  absl::StatusOr<v1::ServiceRequestView> ScheduleServiceRequest(
      const Identity& caller, const v1::ScheduleServiceRequestRequest& request);
  absl::StatusOr<v1::ServiceRequestView> CompleteServiceRequest(
      const Identity& caller, const v1::CompleteServiceRequestRequest& request);
  absl::StatusOr<v1::ServiceRequestView> CancelServiceRequest(
      const Identity& caller, const v1::CancelServiceRequestRequest& request);
  absl::StatusOr<v1::ListServiceRequestsResponse> ListServiceRequests(
      const v1::ListServiceRequestsRequest& request);
  absl::StatusOr<v1::ServiceRequestView> GetServiceRequest(
      const v1::GetServiceRequestRequest& request);
  // A REQUESTED request placed with another node (§15.5): a SERVICE_REQUEST
  // envelope, its requester and notes sealed to that node's key, queued in
  // the same transaction. That node serves it; each of its steps comes back
  // as a SERVICE_UPDATE, and a node that placed it on relays them back.
  absl::StatusOr<v1::ServiceRequestView> PlaceServiceRequest(
      const Identity& caller, const v1::PlaceServiceRequestRequest& request);
  // The national statistics (PROTOCOL.md §16): counts this node's last
  // kStatisticsReportMonths calendar months, this one included, and for each
  // month whose counts differ from the report kept for it, keeps the new
  // report and queues it to the national node in the same transaction (the
  // national node only keeps its own). Returns how many months it reported.
  absl::StatusOr<int> ReportStatistics();
  // Adds or replaces one entry of this node's roster (codes only, no names).
  absl::StatusOr<v1::RosterEntry> PutRosterEntry(const Identity& caller,
                                                 const v1::PutRosterEntryRequest& request);
  absl::StatusOr<v1::ListRosterResponse> ListRoster();

  // --- Sealed fields and erasure (PROTOCOL.md §11, docs/PRIVACY.md) ---
  // An operator erases one referral's personal data here, with a reason.
  absl::StatusOr<storage::ErasureRecord> Erase(const Identity& caller,
                                               const std::string& referral_id,
                                               const std::string& reason);
  // An operator sets (held) or lifts a legal hold. Lifting it carries out a
  // purge order the hold had kept waiting.
  absl::StatusOr<std::optional<storage::LegalHoldRecord>> SetLegalHold(
      const Identity& caller, const std::string& referral_id, bool held, const std::string& reason);
  // One pass of the retention policy: erases every referral past its
  // state's retention. Returns how many it erased.
  absl::StatusOr<int> SweepRetention();
  // Whether this node is where the person is cared for, or their origin:
  // the nodes that get the referral key.
  bool ReadsSealedFields(const storage::ReferralRecord& referral) const;

  // The nodes an action on `referral` at this node is sent to: its origin and
  // destination (`new_destination` when routing on), less this node.
  std::vector<std::string> Recipients(const storage::ReferralMeta& referral,
                                      const std::string& new_destination = "") const;

  // An EMERGENCY_24H referral not yet taken into evaluation by its deadline.
  bool IsOverdue(const storage::ReferralRecord& referral) const;
  // Whether this node waits for the referral's acknowledgement (it sent it:
  // the origin, or the national node that routed it on).
  bool IsSendingSide(const storage::ReferralRecord& referral) const;

  // Listeners see every applied event after its commit, called on the
  // committing thread with no lock of ours held (so a listener may call back
  // into the node). A listener may still be called once by a Publish that
  // started before its removal: it must stay safe to call. Returns a handle.
  int AddEventListener(EventListener listener);
  void RemoveEventListener(int handle);

  // Wakes every peer's sender (after dead letters were requeued).
  void WakeAllSenders() const;

  // The neighbour an envelope for `destination` goes to: a configured peer,
  // a peer added from the node registry (AddPeer), or the configured route.
  std::optional<std::string> NextHop(const std::string& destination) const;
  // A relay reaches `peer` directly from now on (a node a newer registry
  // lists; the broker has started its sender first).
  void AddPeer(const std::string& peer);

  // What each peer's receipts announce (§5): its sender tells it, and
  // RecallPeerFeatures reads it back at start.
  PeerFeatures& peer_features() { return peer_features_; }
  // From the newest receipt `peer` signed for this node, if it verifies, so
  // that a drain right after a restart is answered in RECEIVED_ANSWERS.
  void RecallPeerFeatures(const std::string& peer);
  // `entry`, refused by its peer for its kind: if it is a RECEIVED_ANSWERS
  // this node signed (a downgrade, PROTOCOL.md §10.8), queues each answer as
  // its own STATUS_CHANGE, with the answer's message id and sequence, and
  // marks `entry` replaced (citing `refusal`) in the same commit; sends no
  // more to that peer until a receipt announces the feature again, and
  // returns true. Idempotent. False for any other envelope (a relayed one:
  // a relay never answers in another node's name).
  absl::StatusOr<bool> ReplaceAnswersWithSingles(const storage::OutboxEntry& entry,
                                                 const absl::Status& refusal);

  // Called after a commit that queued envelopes for `peer`.
  void SetOutboxListener(std::function<void(const std::string& peer)> listener) {
    outbox_listener_ = std::move(listener);
  }

  // A partner reaches only referrals circulated to it (authorization.h): OK,
  // or NOT_FOUND UNKNOWN_REFERRAL as for a referral that does not exist.
  absl::Status CheckReferralAccess(const Identity& caller, const std::string& referral_id);

  const BrokerOptions& options() const { return options_; }
  const Authorization& authorization() const { return authorization_; }
  storage::Store& store() { return *store_; }
  const Verifier& verifier() const { return *verifier_; }
  // For Broker::Reload, which swaps its CA bundle and CRLs.
  Verifier& mutable_verifier() { return *verifier_; }
  // The node's signing key and certificate as of now: a copy of the pointer,
  // so a reload (ReplaceSigner) never pulls the key from under a signature.
  std::shared_ptr<const Signer> signer() const;
  // For Broker::Reload: the node's renewed key and certificate. Refused
  // unless the certificate names this node (mir://<node_id>/node).
  absl::Status ReplaceSigner(std::unique_ptr<Signer> signer);
  const Clock* clock() const { return clock_; }
  const Keyring& keyring() const { return *keyring_; }
  // The node registry this node holds (PROTOCOL.md §12): a destination it
  // lists outside its dates is refused (NODE_NOT_VALID) by Prepare and
  // Submit for a new referral or a routing on, and by a relay's Deliver.
  NodeRegistryHolder& registry() { return registry_; }
  const NodeRegistryHolder& registry() const { return registry_; }

 private:
  Node(BrokerOptions options, const Clock* clock, std::unique_ptr<Signer> signer,
       std::unique_ptr<Verifier> verifier, std::unique_ptr<Keyring> keyring,
       std::unique_ptr<storage::Store> store);

  // The node's RECEIVED status change on a referral (PROTOCOL.md §10.2),
  // signed for one recipient, and the event it is here. In a DeliverBatch it
  // may instead be one answer of a RECEIVED_ANSWERS signed for the batch
  // (§10.8): `group` names it, `bytes` is empty, and `event` carries the
  // group's envelope.
  struct SignedReceived {
    v1::EnvelopeHeader header;  // the answer's id, referral, recipient, sequence
    std::string bytes;
    storage::Event event;
    int group = -1;                    // the AnswerGroup, or -1: a STATUS_CHANGE of its own
    std::string submitted_message_id;  // the REFERRAL it answers
    v1::Urgency urgency = v1::URGENCY_ORDINARY;

    bool Answers(const std::string& referral_id, const std::string& recipient,
                 uint64_t sequence) const {
      return header.referral_id() == referral_id && header.recipient_node() == recipient &&
             header.sequence() == sequence;
    }
  };
  // `message_id` empty: a new one.
  absl::StatusOr<SignedReceived> SignReceived(const std::string& referral_id,
                                              const std::string& recipient, uint64_t sequence,
                                              const std::string& message_id = "") const;
  // A RECEIVED_ANSWERS for `recipient` (PROTOCOL.md §10.8), and the events
  // its answers are here, in order.
  struct SignedAnswers {
    std::string message_id;  // the envelope's
    std::string bytes;
    std::vector<storage::Event> events;
  };
  absl::StatusOr<SignedAnswers> SignAnswers(const std::string& recipient,
                                            const v1::ReceivedAnswers& answers) const;
  // The answers of one DeliverBatch to one origin, signed before the write
  // lock as one RECEIVED_ANSWERS.
  struct AnswerGroup {
    std::string recipient;
    SignedAnswers answers;
  };
  // What this node knows of bytes it just signed: no need to verify them.
  VerifiedEnvelope OwnEnvelope(const Signer& node_signer, const v1::EnvelopeHeader& header,
                               const std::string& body) const;

  // An envelope from a peer, verified and checked (PROTOCOL.md §6.2 up to
  // the store), with what it is for: an event to apply here, a key, or a
  // relay to the next hop.
  struct CheckedDelivery {
    const std::string* bytes = nullptr;  // the caller's, which outlive this
    VerifiedEnvelope verified;
    bool lifecycle = true;  // not KEY_RELEASE, ERASURE_CONFIRMATION or CITIZEN_REPORT
    std::optional<storage::Event> event;
    // For a new REFERRAL from another node: its origin, whom this node's
    // RECEIVED will answer.
    std::string answer_to;
    // That RECEIVED, signed before the write lock, which every delivery
    // waits for (PresignReceived, PresignAnswers). It assumes the answer
    // that AcknowledgeReceived decides in the usual case (to the origin,
    // sequence 1), which checks it and signs again otherwise.
    std::optional<SignedReceived> received;
    std::optional<SecretKey> released_key;
    std::optional<std::string> forward_to;
    std::optional<v1::Urgency> urgency;  // a relayed REFERRAL's
    // A CITIZEN_REPORT for this node, opened (reports.cc).
    struct ArrivedReport {
      v1::ReportTransfer transfer;
      SecretKey key;
      v1::ReportPrivate sealed_part;
    };
    std::optional<ArrivedReport> report;
    // A SERVICE_REQUEST for this node, opened (service_requests.cc).
    struct ArrivedServiceRequest {
      v1::ServiceRequestTransfer transfer;
      SecretKey key;
      v1::ServiceRequestPrivate sealed_part;
    };
    std::optional<ArrivedServiceRequest> service_request;
    // A STATISTICS_REPORT for this node, checked (statistics_reports.cc).
    std::optional<v1::StatisticsReport> statistics_report;
    // A RECEIVED_ANSWERS for this node: one event per answer (§10.8).
    std::vector<storage::Event> answers;
  };
  absl::StatusOr<CheckedDelivery> CheckDelivery(const Identity& peer,
                                                const std::string& envelope_bytes);
  // Inside a transaction: stores the effect of `d` unless its message id was
  // received before, in which case it returns that inbox row (or refuses
  // DUPLICATE_CONFLICT for other bytes). The caller records the inbox row.
  // `combined` (null outside a batch) collects the answers that
  // SendCombinedAnswers applies and queues once the batch is in.
  absl::StatusOr<std::optional<storage::InboxRecord>> ApplyDelivery(
      storage::Txn& txn, const CheckedDelivery& d, std::vector<std::string>& woken,
      std::vector<storage::Event>& applied_events,
      std::vector<const SignedReceived*>* combined = nullptr);
  // Signs `d`'s RECEIVED as a STATUS_CHANGE of its own, if it needs one.
  void PresignReceived(CheckedDelivery& d) const;
  // Signs the RECEIVED answers of a batch: one RECEIVED_ANSWERS per origin
  // that is a direct neighbour announcing the feature, for the referrals no
  // other envelope of the batch is about (deferring their answer reorders
  // nothing); the others singly. Returns the groups `received` names.
  std::vector<AnswerGroup> PresignAnswers(std::vector<absl::StatusOr<CheckedDelivery>>& checked);
  // Inside the batch's transaction, after its envelopes: applies the
  // answers `combined` collected and queues each group's envelope once,
  // signed again for those applied if some of its referrals were not (a
  // duplicate, a refusal): nothing is sent that this node did not apply.
  absl::Status SendCombinedAnswers(storage::Txn& txn, const std::vector<AnswerGroup>& groups,
                                   const std::vector<const SignedReceived*>& combined,
                                   std::vector<std::string>& woken,
                                   std::vector<storage::Event>& applied_events);
  void LogReceived(const CheckedDelivery& d, const Identity& peer) const;
  // Inside a transaction: each answer of a RECEIVED_ANSWERS applied in a
  // savepoint of its own; one the lifecycle or the sequence refuses is
  // dropped and recorded, and the others apply (PROTOCOL.md §10.8).
  absl::Status ApplyAnswers(storage::Txn& txn, const CheckedDelivery& d,
                            std::vector<std::string>& woken,
                            std::vector<storage::Event>& applied_events);
  // What this node's receipts announce (Receipt.features, §5).
  std::vector<std::string> ReceiptFeatures() const;

  // Inside a transaction: the node's own RECEIVED event for a referral it
  // has just taken in, signed by the node and queued back to the origin.
  // `presigned` (may be null) is used when it answers as decided here; one
  // of a group goes to `combined` instead, applied and queued later.
  absl::Status AcknowledgeReceived(storage::Txn& txn, const storage::Event& submitted,
                                   const SignedReceived* presigned, std::vector<std::string>& woken,
                                   std::vector<storage::Event>& applied,
                                   std::vector<const SignedReceived*>* combined);
  void Notify(const std::vector<std::string>& peers) const;
  void Publish(const std::vector<storage::Event>& events);
  // Applies `event` as an observer (a relay that knows the referral); a
  // refusal is logged, not returned: the envelope is forwarded regardless.
  absl::Status Observe(storage::Txn& txn, const VerifiedEnvelope& verified,
                       const std::string& envelope_bytes, std::vector<storage::Event>& applied,
                       std::vector<std::string>& woken);
  // Sets the acknowledgement deadline of an EMERGENCY_24H (re)submission.
  void SetAckDeadline(storage::Event& event) const;
  // Signs a message of this node's own that is not a lifecycle event
  // (sequence 0: KEY_RELEASE, ERASURE_CONFIRMATION) and queues it for
  // `recipient` through its next hop.
  absl::Status QueueNodeMessage(storage::Txn& txn, v1::MessageKind kind,
                                const std::string& recipient, const std::string& referral_id,
                                const std::string& body, std::vector<std::string>& woken);
  // Signs a KEY_RELEASE of `key` to `recipient` and queues it (§11.3).
  absl::Status ReleaseKey(storage::Txn& txn, const std::string& referral_id, const SecretKey& key,
                          const std::string& recipient, std::vector<std::string>& woken);
  // What follows an applied event at this node: a routing on learnt by the
  // origin releases the key to the new destination; a purge order erases
  // here and answers the origin; a region's rejection of a referral routed
  // to it erases its copy (EraseOnRejection).
  absl::Status AfterApplied(storage::Txn& txn, const std::vector<storage::Event>& applied,
                            std::vector<std::string>& woken);
  // If this node is the region the national node routed `referral_id` to,
  // which it just rejected: erases the sealed fields here (unless a legal
  // hold keeps them). The national node may route it on elsewhere, and a
  // later purge order would not reach this node (§10.6).
  absl::Status EraseOnRejection(storage::Txn& txn, const storage::Event& rejected);
  // Erases the referral here for `cause`, by `by`, unless a legal hold keeps
  // it; whether it erased.
  absl::StatusOr<bool> EraseUnlessHeld(storage::Txn& txn, const std::string& referral_id,
                                       v1::ErasureCause cause, const std::string& by);
  absl::Status CarryOutPurge(storage::Txn& txn, const std::string& referral_id,
                             const std::string& ordered_by, std::vector<std::string>& woken);
  // KEY_RELEASE and ERASURE_CONFIRMATION addressed to this node.
  absl::Status AcceptKeyRelease(storage::Txn& txn, const VerifiedEnvelope& verified,
                                const SecretKey& key);
  absl::Status AcceptErasureAnswer(storage::Txn& txn, const VerifiedEnvelope& verified);
  absl::StatusOr<SecretKey> UnwrapKeyRelease(const VerifiedEnvelope& verified) const;
  // Citizen reports (reports.cc).
  absl::StatusOr<CheckedDelivery::ArrivedReport> OpenReportTransfer(
      const VerifiedEnvelope& verified) const;
  absl::Status AcceptReportTransfer(storage::Txn& txn, const VerifiedEnvelope& verified,
                                    const CheckedDelivery::ArrivedReport& arrived);
  // Inserts a new report with its key, sealed parts and first event.
  absl::Status InsertReport(storage::Txn& txn, storage::ReportRecord record,
                            const v1::CitizenReport& report, const SecretKey& key,
                            v1::ReportEvent first);
  // Signs `event` as the report's next REPORT_EVENT and appends it.
  absl::Status AppendReportEvent(storage::Txn& txn, const std::string& report_id,
                                 v1::ReportEvent event, const v1::CitizenReport* facts);
  absl::StatusOr<v1::ReportView> ReportViewOf(const std::string& report_id, bool include_contact);
  // Service requests (service_requests.cc).
  // Signs `event` as the request's next SERVICE_EVENT and appends it.
  absl::Status AppendServiceEvent(storage::Txn& txn, const std::string& request_id,
                                  v1::ServiceEvent event, const v1::ServiceRequest* facts);
  // Inside a transaction: appends a step's `event` and stores `record` as the
  // step left it, updated at the event's time.
  absl::Status StoreServiceStep(storage::Txn& txn, storage::ServiceRequestRecord& record,
                                v1::ServiceEvent event);
  // One step after Create: reads the request, lets `step` check and change
  // it and fill in its event, then appends the event and stores the request,
  // all in one transaction. A request placed with another node takes its
  // steps there: refused, unless `placed_step` says what the step does here
  // (a recall).
  using ServiceStep = std::function<absl::Status(storage::Txn&, storage::ServiceRequestRecord&,
                                                 v1::ServiceEvent&, std::vector<std::string>&)>;
  absl::StatusOr<v1::ServiceRequestView> StepServiceRequest(
      const Identity& caller, const std::string& request_id, v1::ServiceEvent::Kind kind,
      const std::function<absl::Status(storage::Txn&, storage::ServiceRequestRecord&,
                                       v1::ServiceEvent&)>& step,
      const ServiceStep& placed_step = nullptr);
  absl::StatusOr<v1::ServiceRequestView> ServiceRequestViewOf(const std::string& request_id);
  absl::StatusOr<v1::StatisticsReport> OpenStatisticsReport(const VerifiedEnvelope& verified) const;
  absl::StatusOr<CheckedDelivery::ArrivedServiceRequest> OpenServiceRequestTransfer(
      const VerifiedEnvelope& verified) const;
  absl::Status AcceptServiceRequestTransfer(storage::Txn& txn, const VerifiedEnvelope& verified,
                                            const CheckedDelivery::ArrivedServiceRequest& arrived);
  absl::Status AcceptServiceUpdate(storage::Txn& txn, const VerifiedEnvelope& verified,
                                   std::vector<std::string>& woken);
  // A SERVICE_UPDATE from the node that placed the request here: asked to
  // cancel it (§15.5).
  absl::Status AcceptCancelAsked(storage::Txn& txn, const VerifiedEnvelope& verified,
                                 storage::ServiceRequestRecord& record,
                                 const v1::ServiceRequestUpdate& update,
                                 std::vector<std::string>& woken);
  // Inside a transaction: asks the node `record` was placed with to cancel
  // it, appending a CANCEL_ASKED `event` (its kind, node and reason set here).
  absl::Status AskToCancel(storage::Txn& txn, storage::ServiceRequestRecord& record,
                           v1::ServiceCancelReason reason, v1::ServiceEvent event,
                           std::vector<std::string>& woken);
  // Inside a transaction: tells the node that placed `record` here where it
  // stands now (nothing if it was made here).
  absl::Status ReportServiceProgress(storage::Txn& txn, const storage::ServiceRequestRecord& record,
                                     std::vector<std::string>& woken);

  const BrokerOptions options_;
  const Authorization authorization_;
  const Clock* const clock_;
  mutable absl::Mutex peers_mu_;
  std::set<std::string> registry_peers_ ABSL_GUARDED_BY(peers_mu_);
  mutable absl::Mutex signer_mu_;
  std::shared_ptr<const Signer> signer_ ABSL_GUARDED_BY(signer_mu_);
  const std::unique_ptr<Verifier> verifier_;
  const std::unique_ptr<Keyring> keyring_;  // the store holds its KEK: declared first
  const std::unique_ptr<storage::Store> store_;
  std::function<void(const std::string&)> outbox_listener_;
  NodeRegistryHolder registry_;
  PeerFeatures peer_features_;

  absl::Mutex listeners_mu_;
  int next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 0;
  std::map<int, std::shared_ptr<const EventListener>> listeners_ ABSL_GUARDED_BY(listeners_mu_);
};

}  // namespace mir::broker

#endif  // MIR_BROKER_NODE_H_
