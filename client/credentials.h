#ifndef MIR_CLIENT_CREDENTIALS_H_
#define MIR_CLIENT_CREDENTIALS_H_

// A person's TLS and signing material, read and checked before any network
// traffic so that a wrong file gives a precise sentence instead of a failed
// TLS handshake.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/tls_client.h"
#include "crypto/signer.h"
#include "grpcpp/security/credentials.h"

namespace mir::client {

struct Credentials {
  std::unique_ptr<Signer> signer;  // signs envelopes as the person
  // Mutual TLS, trusting only the CA and only the server mir://<own node>/node,
  // the node of the person's own certificate (PROTOCOL.md §6).
  std::shared_ptr<grpc::ChannelCredentials> channel;
  std::shared_ptr<const ServerIdentityRefusals> server_refusals;  // why a server was refused
};

// Reads the three PEM files. FailedPrecondition, marked as a connection error
// (see MarkConnectionError), with one sentence naming the file, when a file
// is missing or unreadable, holds no PEM of the right kind, when the key does
// not match the certificate, or when the certificate was not issued by the CA
// or is not valid at clock->Now().
absl::StatusOr<Credentials> LoadCredentials(const std::string& certificate_path,
                                            const std::string& key_path, const std::string& ca_path,
                                            const Clock* clock);

// IsConnectionError is true for errors that mean "could not talk to the node
// at all": missing or unusable certificate files, unreachable node, failed
// TLS handshake, no answer in time. The node refused nothing and nothing
// changed. MarkConnectionError marks a status so.
absl::Status MarkConnectionError(absl::Status status);
bool IsConnectionError(const absl::Status& status);

}  // namespace mir::client

#endif  // MIR_CLIENT_CREDENTIALS_H_
