#ifndef MIR_BROKER_TLS_H_
#define MIR_BROKER_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/tls_client.h"
#include "crypto/identity.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"

namespace mir::broker {

// PEM material for one TLS identity and the CA it trusts.
struct TlsFiles {
  std::string ca_certificate;  // file paths
  std::string certificate;
  std::string key;
};

// Server side: mutual TLS, a client certificate chaining to the CA is
// required (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY), so a
// plaintext or certificate-less connection never reaches a handler. gRPC's
// TLS stack negotiates TLS 1.2 at least and prefers 1.3.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MutualTlsServerCredentials(
    const TlsFiles& files);

// Client side, for dialling `peer_node`: present `files.certificate`, trust
// only the network CA, and accept only a server whose certificate is
// mir://<peer_node>/node (common/tls_client.h): another node of the network
// answering at the peer's address is refused before anything is sent.
absl::StatusOr<ClientTls> MutualTlsChannelCredentials(const TlsFiles& files,
                                                      const std::string& peer_node);

// The caller's identity from its verified client certificate (the mir:// URI
// SAN, exposed by gRPC as "peer_uri"); never from anything the caller says.
// UNAUTHENTICATED when there is none.
absl::StatusOr<Identity> PeerIdentity(const grpc::ServerContextBase& context);

}  // namespace mir::broker

#endif  // MIR_BROKER_TLS_H_
