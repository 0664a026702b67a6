#ifndef MIR_COMMON_TLS_CLIENT_H_
#define MIR_COMMON_TLS_CLIENT_H_

// The calling side of mutual TLS (PROTOCOL.md §6): whoever dials a node
// presents its own certificate, trusts only the network CA, and accepts only
// the server it meant to reach, named by its identity URI
// (`mir://<node>/node`). Every certificate of the network chains to the same
// CA, so the chain alone would let any node answer at any address: the URI
// check runs inside the handshake, before a byte of a request is sent.

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"

namespace mir {

// What the identity check refused last, so a caller whose call failed with
// UNAVAILABLE can say why. Thread-safe: gRPC runs the check on its threads.
class ServerIdentityRefusals {
 public:
  // A sentence naming what the server presented and what was expected; empty
  // when nothing was refused.
  std::string Last() const;
  int Count() const;

  void Record(const std::string& why);

 private:
  mutable absl::Mutex mu_;
  std::string last_ ABSL_GUARDED_BY(mu_);
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

struct ClientTls {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::shared_ptr<const ServerIdentityRefusals> refusals;
};

// PEM text in, credentials out. A server whose certificate does not carry
// exactly one mir:// URI equal to `expected_server_uri` fails the handshake;
// the refusal is logged (identities only, with fewer lines as it repeats) and
// recorded in `refusals`. Hostname checks stay as gRPC does them.
ClientTls MutualTlsClient(const std::string& ca_pem, const std::string& certificate_pem,
                          const std::string& key_pem, const std::string& expected_server_uri);

// Checks the server's certificate (PEM) beyond gRPC's chain check, e.g. for
// revocation; a non-OK status fails the handshake with its message.
using ServerCertificateCheck = std::function<absl::Status(absl::string_view pem)>;

// The same with the key, certificate and CA bundle from `provider` (e.g. a
// FileWatcherCertificateProvider: new handshakes pick up what it reloads,
// connections already open keep theirs) and an extra `check` run after the
// identity check. `check` may be empty.
ClientTls MutualTlsClient(
    std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider,
    const std::string& expected_server_uri, ServerCertificateCheck check);

}  // namespace mir

#endif  // MIR_COMMON_TLS_CLIENT_H_
