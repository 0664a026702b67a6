#ifndef MIR_CLIENT_SERVICE_REQUESTS_CLIENT_H_
#define MIR_CLIENT_SERVICE_REQUESTS_CLIENT_H_

// The staff side of the ServiceRequests service
// (proto/mir/v1/service_request.proto, PROTOCOL.md §15): an operator asks
// their node's roster for a linguistic-cultural mediator or an
// identification interview, assigns, schedules, completes or cancels it, and
// keeps the roster, over mutual TLS with their own certificate (the same
// channel as ReportsClient). Nothing is signed here: the node signs each
// service event itself.
//
// Every error is an absl::Status whose message is one plain sentence naming
// ids only, never a request's requester or notes; refusals by the node keep
// their ErrorInfo reason (ReasonOf) and are marked IsFromNode.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "client/node_channel.h"
#include "crypto/identity.h"
#include "mir/v1/service_request.grpc.pb.h"

namespace mir::client {

// Thread-compatible: one call at a time.
class ServiceRequestsClient {
 public:
  // As ReportsClient::Connect: checks the files, prepares a channel, does
  // not contact the node.
  static absl::StatusOr<std::unique_ptr<ServiceRequestsClient>> Connect(
      const ConnectionOptions& options);

  // The person the certificate speaks for.
  const Identity& identity() const { return node_.signer->identity(); }
  const std::string& address() const { return options_.address; }

  // Creates a request under request.request_id (required: a UUID the caller
  // made, so that a resend is recognised). When the answer is lost the same
  // request is sent again, up to options.submit_attempts times within
  // options.timeout: the node answers a repeat with its first answer. If no
  // answer ever comes, the error says the request may be recorded and to
  // check with 'mirctl service show ID'.
  absl::StatusOr<v1::ServiceRequestView> Create(const v1::CreateServiceRequestRequest& request);
  // Sent once: a lost answer is reported, not retried (a second step is
  // refused as INVALID_TRANSITION even when the first landed).
  absl::StatusOr<v1::ServiceRequestView> Assign(const v1::AssignServiceRequestRequest& request);
  absl::StatusOr<v1::ServiceRequestView> Schedule(const v1::ScheduleServiceRequestRequest& request);
  absl::StatusOr<v1::ServiceRequestView> Complete(const v1::CompleteServiceRequestRequest& request);
  absl::StatusOr<v1::ServiceRequestView> Cancel(const v1::CancelServiceRequestRequest& request);
  absl::StatusOr<v1::ServiceRequestView> Place(const v1::PlaceServiceRequestRequest& request);
  absl::StatusOr<v1::ListServiceRequestsResponse> List(
      const v1::ListServiceRequestsRequest& request);
  absl::StatusOr<v1::ServiceRequestView> Get(const v1::GetServiceRequestRequest& request);
  // Sent once; putting the same entry again is harmless (it replaces the
  // entry with its code).
  absl::StatusOr<v1::RosterEntry> PutRosterEntry(const v1::PutRosterEntryRequest& request);
  absl::StatusOr<v1::ListRosterResponse> ListRoster(const v1::ListRosterRequest& request);

 private:
  ServiceRequestsClient(ConnectionOptions options, NodeChannel node);

  // One call answered within `wait`; the raw gRPC status in `*raw` if set.
  template <typename Response, typename Rpc>
  absl::StatusOr<Response> Call(Rpc rpc, absl::Duration wait, grpc::Status* raw = nullptr);

  const ConnectionOptions options_;
  const NodeChannel node_;
  const std::unique_ptr<v1::ServiceRequests::Stub> stub_;
};

}  // namespace mir::client

#endif  // MIR_CLIENT_SERVICE_REQUESTS_CLIENT_H_
