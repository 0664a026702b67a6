#ifndef MIR_BROKER_TLS_H_
#define MIR_BROKER_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/tls_client.h"
#include "crypto/identity.h"
#include "crypto/verifier.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
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

// The node's own TLS material, reloadable without a restart (SIGHUP,
// Broker::Reload). Server and client credentials are gRPC's TLS credentials
// fed by one FileWatcherCertificateProvider, which watches a private copy of
// the key, certificate and CA bundle in a 0700 folder of its own: Reload
// validates the configured files first and only then replaces the copies
// (each by rename), so gRPC never sees a half-written or refused file, and
// the files in place are only picked up on SIGHUP. gRPC re-reads the copies
// every `refresh` and uses them for new handshakes; connections already open
// keep the material they were made with. On top of gRPC's chain check, every
// handshake (both directions) asks the node's Verifier, so the current CA
// bundle and CRLs (swapped atomically by Verifier::Reload) apply at once: a
// revoked peer certificate fails the handshake, and the refusal is logged
// with the word "revoked".
//
// The copies live in a fresh 0700 folder under $TMPDIR (else /tmp), files
// 0600, removed when the NodeTls is destroyed; a killed node leaves it
// behind (the packaged unit's PrivateTmp= removes it when the node stops).
//
// Thread-safe. `verifier` and `clock` must outlive it and every credential
// it made.
class NodeTls {
 public:
  // `node_id`: the node's certificate must be mir://<node_id>/node.
  static absl::StatusOr<std::unique_ptr<NodeTls>> Create(const std::string& node_id,
                                                         const TlsFiles& files,
                                                         const Verifier* verifier,
                                                         const Clock* clock,
                                                         absl::Duration refresh = absl::Seconds(1));
  ~NodeTls();  // removes the private copies

  // Reads `files`, checks that the key parses and matches the certificate
  // and that the certificate is this node's and valid now under `trust`
  // (chains to one of its CAs, not revoked); only then replaces the copies gRPC watches. On
  // error the copies are untouched and the error says which file is wrong.
  absl::Status Reload(const TlsFiles& files, const Verifier& trust);

  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  // For dialling `peer_node` (only mir://<peer_node>/node is accepted).
  ClientTls ChannelCredentials(const std::string& peer_node) const;

  // The client certificates the server refused after gRPC's chain check
  // (revoked, or under a CA no longer trusted): how many, and the last why.
  const ServerIdentityRefusals& client_refusals() const { return *client_refusals_; }

 private:
  NodeTls() = default;

  std::string node_uri_;
  std::string dir_;  // the private folder, 0700
  const Verifier* verifier_ = nullptr;
  const Clock* clock_ = nullptr;
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider_;
  std::shared_ptr<ServerIdentityRefusals> client_refusals_;
};

// The caller's identity from its verified client certificate (the mir:// URI
// SAN, exposed by gRPC as "peer_uri"); never from anything the caller says.
// UNAUTHENTICATED when there is none. A console's identity
// (mir://<node>/console) is only the channel: the Referrals service acts for
// the person its sign-in proof names (PROTOCOL.md §13), and nothing else
// accepts it.
absl::StatusOr<Identity> PeerIdentity(const grpc::ServerContextBase& context);

}  // namespace mir::broker

#endif  // MIR_BROKER_TLS_H_
