#ifndef MIR_CLIENT_NODE_CHANNEL_H_
#define MIR_CLIENT_NODE_CHANNEL_H_

// What every mirctl client of a node shares (ReferralsClient, ReportsClient):
// the connection options, the mutual TLS channel made from a person's
// certificate, and the mapping of a failed call to one plain sentence for the
// person at the keyboard. Refusals by the node keep its ErrorInfo reason
// (ReasonOf in common/errors.h) and are marked IsFromNode.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/credentials.h"
#include "common/clock.h"
#include "crypto/signer.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/status.h"

namespace mir::client {

struct ConnectionOptions {
  std::string address;      // HOST:PORT of the person's own node
  std::string certificate;  // PEM certificate file of the person (mir://NODE/ROLE/NAME)
  std::string key;          // PEM Ed25519 private key file belonging to it
  std::string ca;           // PEM certificate file of the network CA
  // Deadline of each call (not of Watch's stream; a Submit and its resends
  // share one). Too short fails calls on a slow link that would have
  // succeeded; too long keeps an operator waiting on a dead node.
  absl::Duration timeout = absl::Seconds(10);
  // Reads "now" for certificate validity and created_at; must outlive the client.
  const Clock* clock = RealClock::Get();
  // Sends of one Submit (or one report Record) in all, when its answer is
  // lost (UNAVAILABLE, or no answer in time): always the same request, which
  // the node applies at most once. They share `timeout`, each waiting for its
  // share of what is left. 1: never resend, and a lost answer leaves the
  // person not knowing whether it landed.
  int submit_attempts = 3;
  // Wait before the first resend, doubled before each next one. Too short: a
  // node that is restarting is asked again before it can answer.
  absl::Duration resend_backoff = absl::Milliseconds(250);
  // Told of each resend in one sentence naming ids only (mirctl prints it on
  // standard error). May be empty.
  std::function<void(const std::string& sentence)> on_resend;
};

// True for an error the node answered with (a refusal or its own failure),
// as opposed to one found by this client before or without the node.
bool IsFromNode(const absl::Status& status);

// A channel to the person's own node. Not thread-safe to build; the channel
// itself is gRPC's (thread-safe).
struct NodeChannel {
  std::unique_ptr<Signer> signer;  // the person, as their certificate says
  std::shared_ptr<const ServerIdentityRefusals> server_refusals;
  std::shared_ptr<grpc::Channel> channel;
};

// Reads and checks the certificate, key and CA (LoadCredentials), then
// prepares a channel to options.address. Does not contact the node.
// A connection error (IsConnectionError) when no address is given or a file
// is unusable.
absl::StatusOr<NodeChannel> OpenNodeChannel(const ConnectionOptions& options);

// One plain sentence for a call that failed with `status`: a refusal by the
// node ("refused by the node: ..."), its failure, or a connection problem
// (unreachable, not our node, TLS handshake, no answer in time), which is
// marked as one. `service` names the service in the UNIMPLEMENTED sentence,
// e.g. "Referrals".
absl::Status NodeCallError(const grpc::Status& status, const ConnectionOptions& options,
                           const NodeChannel& channel, absl::string_view service);

// Whether a call ended without knowing if the node applied it: no answer in
// time, or the node unreachable after the handshake may have succeeded.
bool AnswerLost(const grpc::Status& status);

// `status` with `more` appended to its message, payloads kept (they decide
// mirctl's exit code).
absl::Status WithMore(const absl::Status& status, absl::string_view more);

}  // namespace mir::client

#endif  // MIR_CLIENT_NODE_CHANNEL_H_
