#include "client/referrals_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/json_input.h"
#include "client/values.h"
#include "common/status_macros.h"
#include "crypto/sealed_referral.h"

namespace mir::client {

absl::StatusOr<std::unique_ptr<ReferralsClient>> ReferralsClient::Connect(
    const ConnectionOptions& options) {
  ASSIGN_OR_RETURN(NodeChannel node, OpenNodeChannel(options));
  return std::unique_ptr<ReferralsClient>(new ReferralsClient(options, std::move(node)));
}

ReferralsClient::ReferralsClient(ConnectionOptions options, NodeChannel node)
    : options_(std::move(options)),
      node_(std::move(node)),
      stub_(v1::Referrals::NewStub(node_.channel)) {}

absl::Status ReferralsClient::RpcError(const grpc::Status& status) const {
  return NodeCallError(status, options_, node_, "Referrals");
}

template <typename Response, typename Rpc>
absl::StatusOr<Response> ReferralsClient::Call(Rpc rpc, std::optional<absl::Duration> wait) {
  grpc::ClientContext context;
  // gRPC measures its deadline on the wall clock, whatever options_.clock says.
  context.set_deadline(absl::ToChronoTime(absl::Now() + wait.value_or(options_.timeout)));
  Response response;
  grpc::Status status = rpc(&context, &response);
  if (!status.ok()) return RpcError(status);
  return response;
}

absl::StatusOr<v1::PrepareResponse> ReferralsClient::Prepare(v1::MessageKind kind,
                                                             const std::string& referral_id,
                                                             const std::string& destination) {
  v1::PrepareRequest request;
  request.set_kind(kind);
  request.set_referral_id(referral_id);
  request.set_destination_node(destination);
  return Call<v1::PrepareResponse>([&](grpc::ClientContext* c, v1::PrepareResponse* r) {
    return stub_->Prepare(c, request, r);
  });
}

absl::StatusOr<v1::SubmitResponse> ReferralsClient::Submit(const v1::PrepareResponse& headers,
                                                           std::vector<std::string> envelopes,
                                                           const std::string& referral_key) {
  v1::SubmitRequest request;
  request.set_referral_key(referral_key);
  for (std::string& envelope : envelopes) request.add_envelopes(std::move(envelope));
  const int attempts = std::max(1, options_.submit_attempts);
  absl::Duration backoff = options_.resend_backoff;
  // The sends share the command's timeout (wall clock, as gRPC's deadlines).
  const absl::Time give_up = absl::Now() + options_.timeout;
  for (int attempt = 1;; ++attempt) {
    grpc::Status lost;
    auto answer = Call<v1::SubmitResponse>(
        [&](grpc::ClientContext* c, v1::SubmitResponse* r) {
          lost = stub_->Submit(c, request, r);
          return lost;
        },
        (give_up - absl::Now()) / (attempts - attempt + 1));
    // Whether the node committed is unknown only when no answer came.
    const bool unknown = AnswerLost(lost);
    if (answer.ok() || !unknown) return answer;
    const v1::EnvelopeHeader& h = headers.headers(0);
    if (attempt == attempts || absl::Now() + backoff >= give_up) {
      return WithMore(answer.status(),
                      absl::StrCat("; whether the node recorded message ", h.message_id(),
                                   " on referral ", h.referral_id(), " is unknown: check with ",
                                   "'mirctl show ", h.referral_id(), "' before doing it again"));
    }
    if (options_.on_resend) {
      options_.on_resend(absl::StrCat("no answer about message ", h.message_id(), " on referral ",
                                      h.referral_id(), ": sending the same signed message again (",
                                      attempt + 1, " of ", attempts, ")"));
    }
    absl::SleepFor(backoff);
    backoff *= 2;
  }
}

absl::StatusOr<v1::SubmitResponse> ReferralsClient::SubmitReferral(v1::Referral referral) {
  RETURN_IF_ERROR(ValidateReferral(referral));
  if (identity().role != Role::kOperator) {
    return absl::PermissionDeniedError(absl::StrCat(
        "only hotline operators can submit a referral, and ", identity().Uri(), " is not one"));
  }
  if (!referral.referral_id().empty()) {
    return absl::InvalidArgumentError(
        "field referral_id must be empty: mirctl makes the id of a new referral");
  }
  if (referral.destination_node().empty()) {
    return absl::InvalidArgumentError("field destination_node is required (use --to NODE)");
  }
  if (!referral.origin_node().empty() && referral.origin_node() != identity().node) {
    return absl::InvalidArgumentError(absl::StrCat("field origin_node must be ", identity().node,
                                                   ", the node of your certificate"));
  }
  referral.set_origin_node(identity().node);
  if (referral.destination_node() == identity().node) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field destination_node must name a node other than yours (", identity().node, ")"));
  }
  const absl::Time now = options_.clock->Now();
  const v1::PrepareResponse own = NewReferralHeader(referral.destination_node(), now);
  referral.set_referral_id(own.headers(0).referral_id());
  // The special-category fields leave this machine sealed under a fresh key
  // that only our node and the destination's will hold (PROTOCOL.md §11).
  const SecretKey key = NewReferralKey();
  RETURN_IF_ERROR(SealReferral(referral, key));
  ASSIGN_OR_RETURN(std::vector<std::string> envelopes,
                   SignUnderEachHeader(*node_.signer, own, v1::REFERRAL, referral.referral_id(),
                                       referral.SerializeAsString(), now));
  return Submit(own, std::move(envelopes), key.bytes());
}

absl::StatusOr<std::string> ReferralsClient::StatusChangeBody(const Action& action,
                                                              const v1::PrepareResponse& prepared) {
  std::optional<v1::StatusChange> node_template = BodyTemplate(prepared);
  v1::ReferralState seen = v1::REFERRAL_STATE_UNSPECIFIED;
  if (!node_template.has_value()) {  // an older node: learn the state we are moving from
    ASSIGN_OR_RETURN(v1::ReferralView view, Get(action.referral_id));
    seen = view.summary().state();
  }
  ASSIGN_OR_RETURN(v1::StatusChange body, BuildStatusChange(action, node_template, seen));
  // Free text travels sealed where our node holds the referral's key.
  if (!prepared.referral_key().empty()) {
    RETURN_IF_ERROR(SealStatusText(body, SecretKey(prepared.referral_key())));
  }
  return body.SerializeAsString();
}

absl::StatusOr<v1::SubmitResponse> ReferralsClient::Apply(const Action& action) {
  std::string body;
  if (action.kind == v1::PLACEMENT_CONFIRMATION) {
    v1::PlacementConfirmation confirmation = action.confirmation;
    confirmation.set_referral_id(action.referral_id);
    if (!confirmation.has_taken_in_charge_at()) {
      *confirmation.mutable_taken_in_charge_at() = ToTimestamp(options_.clock->Now());
    }
    RETURN_IF_ERROR(ValidateConfirmation(confirmation));
    body = confirmation.SerializeAsString();
  } else if (action.kind != v1::STATUS_CHANGE) {
    return absl::InvalidArgumentError(
        "only status changes and placement confirmations can be applied");
  }
  ASSIGN_OR_RETURN(v1::PrepareResponse prepared,
                   Prepare(action.kind, action.referral_id, action.destination_node));
  if (action.kind == v1::STATUS_CHANGE) {
    ASSIGN_OR_RETURN(body, StatusChangeBody(action, prepared));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> envelopes,
                   SignUnderEachHeader(*node_.signer, prepared, action.kind, action.referral_id,
                                       body, options_.clock->Now()));
  return Submit(prepared, std::move(envelopes));
}

absl::StatusOr<v1::ListResponse> ReferralsClient::List(const v1::ListRequest& request) {
  return Call<v1::ListResponse>(
      [&](grpc::ClientContext* c, v1::ListResponse* r) { return stub_->List(c, request, r); });
}

absl::StatusOr<v1::ReferralView> ReferralsClient::Get(const std::string& referral_id) {
  v1::GetRequest request;
  request.set_referral_id(referral_id);
  return Call<v1::ReferralView>(
      [&](grpc::ClientContext* c, v1::ReferralView* r) { return stub_->Get(c, request, r); });
}

absl::Status ReferralsClient::Circulate(const std::string& referral_id,
                                        const std::vector<std::string>& partners) {
  v1::CirculateRequest request;
  request.set_referral_id(referral_id);
  for (const std::string& partner : partners) request.add_partners(partner);
  return Call<v1::CirculateResponse>([&](grpc::ClientContext* c, v1::CirculateResponse* r) {
           return stub_->Circulate(c, request, r);
         })
      .status();
}

absl::StatusOr<v1::ListDeadLettersResponse> ReferralsClient::ListDeadLetters(uint32_t limit) {
  v1::ListDeadLettersRequest request;
  request.set_limit(limit);
  return Call<v1::ListDeadLettersResponse>(
      [&](grpc::ClientContext* c, v1::ListDeadLettersResponse* r) {
        return stub_->ListDeadLetters(c, request, r);
      });
}

absl::StatusOr<v1::NodeStatus> ReferralsClient::GetNodeStatus() {
  const v1::NodeStatusRequest request;
  return Call<v1::NodeStatus>([&](grpc::ClientContext* c, v1::NodeStatus* r) {
    return stub_->GetNodeStatus(c, request, r);
  });
}

absl::StatusOr<v1::Statistics> ReferralsClient::GetStatistics(
    const v1::StatisticsRequest& request) {
  return Call<v1::Statistics>([&](grpc::ClientContext* c, v1::Statistics* r) {
    return stub_->GetStatistics(c, request, r);
  });
}

absl::StatusOr<v1::EraseResponse> ReferralsClient::Erase(const std::string& referral_id,
                                                         const std::string& reason) {
  v1::EraseRequest request;
  request.set_referral_id(referral_id);
  request.set_reason(reason);
  return Call<v1::EraseResponse>(
      [&](grpc::ClientContext* c, v1::EraseResponse* r) { return stub_->Erase(c, request, r); });
}

absl::StatusOr<v1::LegalHoldResponse> ReferralsClient::SetLegalHold(const std::string& referral_id,
                                                                    bool held,
                                                                    const std::string& reason) {
  v1::LegalHoldRequest request;
  request.set_referral_id(referral_id);
  request.set_held(held);
  request.set_reason(reason);
  return Call<v1::LegalHoldResponse>([&](grpc::ClientContext* c, v1::LegalHoldResponse* r) {
    return stub_->SetLegalHold(c, request, r);
  });
}

absl::StatusOr<uint32_t> ReferralsClient::Requeue(const std::string& message_id) {
  v1::RequeueRequest request;
  request.set_message_id(message_id);
  ASSIGN_OR_RETURN(v1::RequeueResponse response,
                   Call<v1::RequeueResponse>([&](grpc::ClientContext* c, v1::RequeueResponse* r) {
                     return stub_->Requeue(c, request, r);
                   }));
  return response.requeued();
}

absl::Status ReferralsClient::Watch(const std::function<bool(const v1::WatchEvent&)>& on_event,
                                    const std::function<void()>& on_connected) {
  grpc::ClientContext context;
  v1::WatchRequest request;
  auto reader = stub_->Watch(&context, request);
  // The node sends its initial metadata once the subscription is in place.
  reader->WaitForInitialMetadata();
  const bool connected = node_.channel->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
  if (connected && on_connected) on_connected();
  v1::WatchEvent event;
  bool stopped = false;
  while (reader->Read(&event)) {
    if (!on_event(event)) {
      stopped = true;
      context.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (stopped || status.ok()) return absl::OkStatus();
  const bool dropped = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                       status.error_code() == grpc::StatusCode::CANCELLED;
  if (connected && dropped) {
    return MarkConnectionError(absl::UnavailableError(absl::StrCat(
        "lost the connection to the node at ", options_.address, ": run mirctl watch again")));
  }
  return RpcError(status);
}

}  // namespace mir::client
