#ifndef MIR_CLIENT_REFERRALS_CLIENT_H_
#define MIR_CLIENT_REFERRALS_CLIENT_H_

// The client side of the Referrals service (proto/mir/v1/referrals.proto):
// connects to one node over mutual TLS with a person's certificate, and turns
// each action into Prepare -> sign locally -> Submit. Every error is an
// absl::Status whose message is one plain sentence for the person at the
// keyboard, never containing referral contents; refusals by the node keep
// its ErrorInfo reason (ReasonOf in common/errors.h).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/actions.h"
#include "client/credentials.h"
#include "common/clock.h"
#include "crypto/signer.h"
#include "grpcpp/channel.h"
#include "mir/v1/referrals.grpc.pb.h"

namespace mir::client {

struct ConnectionOptions {
  std::string address;      // HOST:PORT of the person's own node
  std::string certificate;  // PEM certificate file of the person (mir://NODE/ROLE/NAME)
  std::string key;          // PEM Ed25519 private key file belonging to it
  std::string ca;           // PEM certificate file of the network CA
  // Deadline of each call (not of Watch's stream). Too short fails calls on a
  // slow link that would have succeeded; too long keeps an operator waiting
  // on a dead node.
  absl::Duration timeout = absl::Seconds(10);
  // Reads "now" for certificate validity and created_at; must outlive the client.
  const Clock* clock = RealClock::Get();
};

// True for an error the node answered with (a refusal or its own failure),
// as opposed to one found by this client before or without the node.
bool IsFromNode(const absl::Status& status);

// Thread-compatible: one call at a time.
class ReferralsClient {
 public:
  // Reads and checks the certificate, key and CA (the key must match the
  // certificate, which must chain to the CA and be valid now), then prepares
  // a channel. Does not contact the node: connection problems surface on the
  // first call.
  static absl::StatusOr<std::unique_ptr<ReferralsClient>> Connect(const ConnectionOptions& options);

  // The person the certificate speaks for.
  const Identity& identity() const { return signer_->identity(); }
  const std::string& address() const { return options_.address; }

  // A new referral. ValidateReferral first; the caller must be an operator;
  // referral_id must be empty (the node assigns one) and origin_node is set
  // to the caller's node. An EMERGENCY_24H referral without ack_deadline gets
  // the node's deadline. Returns after the node committed it.
  absl::StatusOr<v1::SubmitResponse> SubmitReferral(v1::Referral referral);

  // A status change or placement confirmation on an existing referral.
  absl::StatusOr<v1::SubmitResponse> Apply(const Action& action);

  absl::StatusOr<v1::ListResponse> List(const v1::ListRequest& request);
  absl::StatusOr<v1::ReferralView> Get(const std::string& referral_id);
  absl::Status Circulate(const std::string& referral_id, const std::vector<std::string>& partners);
  absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(uint32_t limit);
  // Empty `message_id`: every dead letter. Returns how many were requeued.
  absl::StatusOr<uint32_t> Requeue(const std::string& message_id);

  // Streams events to `on_event` until it returns false (then OK), or the
  // stream ends (the error, e.g. the node went away: "lost the connection").
  // `on_connected`, if set, is called once the node has accepted the watch.
  absl::Status Watch(const std::function<bool(const v1::WatchEvent&)>& on_event,
                     const std::function<void()>& on_connected = nullptr);

 private:
  ReferralsClient(ConnectionOptions options, std::unique_ptr<Signer> signer,
                  std::shared_ptr<grpc::Channel> channel);

  template <typename Response, typename Rpc>
  absl::StatusOr<Response> Call(Rpc rpc);
  absl::Status RpcError(const grpc::Status& status) const;
  absl::StatusOr<v1::PrepareResponse> Prepare(v1::MessageKind kind, const std::string& referral_id,
                                              const std::string& destination);
  absl::StatusOr<std::string> StatusChangeBody(const Action& action,
                                               const v1::PrepareResponse& prepared);
  absl::StatusOr<v1::SubmitResponse> Submit(std::vector<std::string> envelopes);

  const ConnectionOptions options_;
  const std::unique_ptr<Signer> signer_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::Referrals::Stub> stub_;
};

}  // namespace mir::client

#endif  // MIR_CLIENT_REFERRALS_CLIENT_H_
