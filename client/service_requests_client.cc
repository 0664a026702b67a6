#include "client/service_requests_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace mir::client {

absl::StatusOr<std::unique_ptr<ServiceRequestsClient>> ServiceRequestsClient::Connect(
    const ConnectionOptions& options) {
  ASSIGN_OR_RETURN(NodeChannel node, OpenNodeChannel(options));
  return std::unique_ptr<ServiceRequestsClient>(
      new ServiceRequestsClient(options, std::move(node)));
}

ServiceRequestsClient::ServiceRequestsClient(ConnectionOptions options, NodeChannel node)
    : options_(std::move(options)),
      node_(std::move(node)),
      stub_(v1::ServiceRequests::NewStub(node_.channel)) {}

template <typename Response, typename Rpc>
absl::StatusOr<Response> ServiceRequestsClient::Call(Rpc rpc, absl::Duration wait,
                                                     grpc::Status* raw) {
  grpc::ClientContext context;
  // gRPC measures its deadline on the wall clock, whatever options_.clock says.
  context.set_deadline(absl::ToChronoTime(absl::Now() + wait));
  Response response;
  grpc::Status status = rpc(&context, &response);
  if (raw != nullptr) *raw = status;
  if (!status.ok()) return NodeCallError(status, options_, node_, "ServiceRequests");
  return response;
}

absl::StatusOr<v1::ServiceRequestView> ServiceRequestsClient::Create(
    const v1::CreateServiceRequestRequest& request) {
  if (request.request_id().empty()) {
    return absl::InvalidArgumentError("field request_id is required: a UUID made by the client");
  }
  const int attempts = std::max(1, options_.submit_attempts);
  absl::Duration backoff = options_.resend_backoff;
  // The sends share the command's timeout (wall clock, as gRPC's deadlines).
  const absl::Time give_up = absl::Now() + options_.timeout;
  for (int attempt = 1;; ++attempt) {
    grpc::Status raw;
    auto answer = Call<v1::ServiceRequestView>(
        [&](grpc::ClientContext* c, v1::ServiceRequestView* r) {
          return stub_->Create(c, request, r);
        },
        (give_up - absl::Now()) / (attempts - attempt + 1), &raw);
    if (answer.ok() || !AnswerLost(raw)) return answer;
    if (attempt == attempts || absl::Now() + backoff >= give_up) {
      return WithMore(
          answer.status(),
          absl::StrCat("; whether the node recorded service request ", request.request_id(),
                       " is unknown: check with 'mirctl service show ", request.request_id(),
                       "' before creating it again"));
    }
    if (options_.on_resend) {
      options_.on_resend(absl::StrCat("no answer about service request ", request.request_id(),
                                      ": sending the same request again (", attempt + 1, " of ",
                                      attempts, ")"));
    }
    absl::SleepFor(backoff);
    backoff *= 2;
  }
}

namespace {
// A step sent once whose answer was lost: say how to find out.
absl::StatusOr<v1::ServiceRequestView> IfLost(absl::StatusOr<v1::ServiceRequestView> answer,
                                              const grpc::Status& raw, absl::string_view done,
                                              const std::string& request_id) {
  if (answer.ok() || !AnswerLost(raw)) return answer;
  return WithMore(answer.status(),
                  absl::StrCat("; whether the node ", done, " service request ", request_id,
                               " is unknown: check with 'mirctl service show ", request_id, "'"));
}
}  // namespace

absl::StatusOr<v1::ServiceRequestView> ServiceRequestsClient::Assign(
    const v1::AssignServiceRequestRequest& request) {
  grpc::Status raw;
  auto answer = Call<v1::ServiceRequestView>(
      [&](grpc::ClientContext* c, v1::ServiceRequestView* r) {
        return stub_->Assign(c, request, r);
      },
      options_.timeout, &raw);
  return IfLost(std::move(answer), raw, "assigned", request.request_id());
}

absl::StatusOr<v1::ServiceRequestView> ServiceRequestsClient::Schedule(
    const v1::ScheduleServiceRequestRequest& request) {
  grpc::Status raw;
  auto answer = Call<v1::ServiceRequestView>(
      [&](grpc::ClientContext* c, v1::ServiceRequestView* r) {
        return stub_->Schedule(c, request, r);
      },
      options_.timeout, &raw);
  return IfLost(std::move(answer), raw, "scheduled", request.request_id());
}

absl::StatusOr<v1::ServiceRequestView> ServiceRequestsClient::Complete(
    const v1::CompleteServiceRequestRequest& request) {
  grpc::Status raw;
  auto answer = Call<v1::ServiceRequestView>(
      [&](grpc::ClientContext* c, v1::ServiceRequestView* r) {
        return stub_->Complete(c, request, r);
      },
      options_.timeout, &raw);
  return IfLost(std::move(answer), raw, "completed", request.request_id());
}

absl::StatusOr<v1::ServiceRequestView> ServiceRequestsClient::Place(
    const v1::PlaceServiceRequestRequest& request) {
  grpc::Status raw;
  auto answer = Call<v1::ServiceRequestView>(
      [&](grpc::ClientContext* c, v1::ServiceRequestView* r) {
        return stub_->Place(c, request, r);
      },
      options_.timeout, &raw);
  return IfLost(std::move(answer), raw, "placed", request.request_id());
}

absl::StatusOr<v1::ServiceRequestView> ServiceRequestsClient::Cancel(
    const v1::CancelServiceRequestRequest& request) {
  grpc::Status raw;
  auto answer = Call<v1::ServiceRequestView>(
      [&](grpc::ClientContext* c, v1::ServiceRequestView* r) {
        return stub_->Cancel(c, request, r);
      },
      options_.timeout, &raw);
  return IfLost(std::move(answer), raw, "cancelled", request.request_id());
}

absl::StatusOr<v1::ListServiceRequestsResponse> ServiceRequestsClient::List(
    const v1::ListServiceRequestsRequest& request) {
  return Call<v1::ListServiceRequestsResponse>(
      [&](grpc::ClientContext* c, v1::ListServiceRequestsResponse* r) {
        return stub_->List(c, request, r);
      },
      options_.timeout);
}

absl::StatusOr<v1::ServiceRequestView> ServiceRequestsClient::Get(
    const v1::GetServiceRequestRequest& request) {
  return Call<v1::ServiceRequestView>(
      [&](grpc::ClientContext* c, v1::ServiceRequestView* r) { return stub_->Get(c, request, r); },
      options_.timeout);
}

absl::StatusOr<v1::RosterEntry> ServiceRequestsClient::PutRosterEntry(
    const v1::PutRosterEntryRequest& request) {
  return Call<v1::RosterEntry>(
      [&](grpc::ClientContext* c, v1::RosterEntry* r) {
        return stub_->PutRosterEntry(c, request, r);
      },
      options_.timeout);
}

absl::StatusOr<v1::ListRosterResponse> ServiceRequestsClient::ListRoster(
    const v1::ListRosterRequest& request) {
  return Call<v1::ListRosterResponse>(
      [&](grpc::ClientContext* c, v1::ListRosterResponse* r) {
        return stub_->ListRoster(c, request, r);
      },
      options_.timeout);
}

}  // namespace mir::client
