#ifndef MIR_CLIENT_REFERRALS_CLIENT_H_
#define MIR_CLIENT_REFERRALS_CLIENT_H_

// The client side of the Referrals service (proto/mir/v1/referrals.proto):
// connects to one node over mutual TLS with a person's certificate, and turns
// each action into Prepare -> sign locally -> Submit (a new referral: sign a
// header made here -> Submit). A Submit whose answer is lost is sent again
// with the same signed bytes, which the node applies once. Every error is an
// absl::Status whose message is one plain sentence for the person at the
// keyboard, never containing referral contents; refusals by the node keep
// its ErrorInfo reason (ReasonOf in common/errors.h).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/actions.h"
#include "client/credentials.h"
#include "client/node_channel.h"
#include "common/clock.h"
#include "crypto/signer.h"
#include "grpcpp/channel.h"
#include "mir/v1/referrals.grpc.pb.h"

namespace mir::client {

// Thread-compatible: one call at a time.
class ReferralsClient {
 public:
  // Reads and checks the certificate, key and CA (the key must match the
  // certificate, which must chain to the CA and be valid now), then prepares
  // a channel. Does not contact the node: connection problems surface on the
  // first call.
  static absl::StatusOr<std::unique_ptr<ReferralsClient>> Connect(const ConnectionOptions& options);

  // The person the certificate speaks for.
  const Identity& identity() const { return node_.signer->identity(); }
  const std::string& address() const { return options_.address; }

  // A new referral, in one round trip: the header (ids, sequence 1,
  // created_at from options.clock) is made here, not asked of the node.
  // ValidateReferral first; the caller must be an operator; referral_id must
  // be empty (a new one is made) and origin_node is set to the caller's node.
  // An EMERGENCY_24H referral without ack_deadline gets the node's deadline.
  // Returns after the node committed it.
  absl::StatusOr<v1::SubmitResponse> SubmitReferral(v1::Referral referral);

  // A status change or placement confirmation on an existing referral.
  absl::StatusOr<v1::SubmitResponse> Apply(const Action& action);

  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& request);
  absl::StatusOr<v1::ReferralView> Get(const std::string& referral_id);
  absl::Status Circulate(const std::string& referral_id, const std::vector<std::string>& partners);
  absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(uint32_t limit);
  // Empty `message_id`: every dead letter. Returns how many were requeued.
  absl::StatusOr<uint32_t> Requeue(const std::string& message_id);
  absl::StatusOr<v1::NodeStatus> GetNodeStatus();
  absl::StatusOr<v1::Statistics> GetStatistics(const v1::StatisticsRequest& request);
  absl::StatusOr<v1::EraseResponse> Erase(const std::string& referral_id,
                                          const std::string& reason);
  absl::StatusOr<v1::LegalHoldResponse> SetLegalHold(const std::string& referral_id, bool held,
                                                     const std::string& reason);

  // Streams events to `on_event` until it returns false (then OK), or the
  // stream ends (the error, e.g. the node went away: "lost the connection").
  // `on_connected`, if set, is called once the node has accepted the watch.
  absl::Status Watch(const std::function<bool(const v1::WatchEvent&)>& on_event,
                     const std::function<void()>& on_connected = nullptr);

 private:
  ReferralsClient(ConnectionOptions options, NodeChannel node);

  // One call, answered within `wait` (options_.timeout when unset).
  template <typename Response, typename Rpc>
  absl::StatusOr<Response> Call(Rpc rpc, std::optional<absl::Duration> wait = std::nullopt);
  absl::Status RpcError(const grpc::Status& status) const;
  absl::StatusOr<v1::PrepareResponse> Prepare(v1::MessageKind kind, const std::string& referral_id,
                                              const std::string& destination);
  absl::StatusOr<std::string> StatusChangeBody(const Action& action,
                                               const v1::PrepareResponse& prepared);
  // Sends `envelopes` (signed under `headers`) and resends the same bytes
  // while the answer is lost, up to options_.submit_attempts sends.
  // `referral_key`: with a new referral, the key its sealed fields are under.
  absl::StatusOr<v1::SubmitResponse> Submit(const v1::PrepareResponse& headers,
                                            std::vector<std::string> envelopes,
                                            const std::string& referral_key = {});

  const ConnectionOptions options_;
  const NodeChannel node_;
  const std::unique_ptr<v1::Referrals::Stub> stub_;
};

}  // namespace mir::client

#endif  // MIR_CLIENT_REFERRALS_CLIENT_H_
