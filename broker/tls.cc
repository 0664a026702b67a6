#include "broker/tls.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"

namespace mir::broker {
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MutualTlsServerCredentials(
    const TlsFiles& files) {
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ASSIGN_OR_RETURN(options.pem_root_certs, ReadFile(files.ca_certificate));
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.private_key, ReadFile(files.key));
  ASSIGN_OR_RETURN(pair.cert_chain, ReadFile(files.certificate));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<ClientTls> MutualTlsChannelCredentials(const TlsFiles& files,
                                                      const std::string& peer_node) {
  ASSIGN_OR_RETURN(std::string ca, ReadFile(files.ca_certificate));
  ASSIGN_OR_RETURN(std::string key, ReadFile(files.key));
  ASSIGN_OR_RETURN(std::string certificate, ReadFile(files.certificate));
  return MutualTlsClient(ca, certificate, key, Identity{peer_node, Role::kNode, ""}.Uri());
}

absl::StatusOr<Identity> PeerIdentity(const grpc::ServerContextBase& context) {
  auto auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return MirError(absl::StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE,
                    "the connection carries no verified client certificate");
  }
  const auto uris = auth->FindPropertyValues("peer_uri");
  if (uris.size() != 1) {
    return MirError(absl::StatusCode::kUnauthenticated, v1::MALFORMED_CERTIFICATE,
                    "the client certificate must carry exactly one mir:// URI");
  }
  auto identity = ParseIdentity(std::string(uris.front().data(), uris.front().size()));
  if (!identity.ok()) {
    return MirError(absl::StatusCode::kUnauthenticated, ReasonOf(identity.status()),
                    identity.status().message());
  }
  return identity;
}

}  // namespace mir::broker
