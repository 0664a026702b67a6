#include "broker/tls.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "crypto/signer.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace mir::broker {
namespace {

using grpc::experimental::ExternalCertificateVerifier;
using grpc::experimental::TlsCustomVerificationCheckRequest;

// Server side: runs after gRPC verified the client's chain; asks the
// Verifier, whose CA bundle and CRLs a reload swaps. Answers synchronously.
class ClientCertificateCheck final : public ExternalCertificateVerifier {
 public:
  ClientCertificateCheck(const Verifier* verifier, std::shared_ptr<ServerIdentityRefusals> refusals)
      : verifier_(verifier), refusals_(std::move(refusals)) {}

  bool Verify(TlsCustomVerificationCheckRequest* request, std::function<void(grpc::Status)>,
              grpc::Status* sync_status) override {
    const grpc::string_ref pem = request->peer_cert();
    const absl::Status checked =
        verifier_->CheckChainPem(absl::string_view(pem.data(), pem.size()));
    if (checked.ok()) {
      *sync_status = grpc::Status::OK;
      return true;
    }
    const std::string why = absl::StrCat("refused a client certificate (", ReasonName(checked),
                                         "): ", checked.message());
    refusals_->Record(why);
    // 1st, 2nd, 4th, 8th… refusal: visible without a line per reconnect.
    const int n = refusals_->Count();
    if ((n & (n - 1)) == 0) MIR_LOG(WARNING) << why << " (refusal " << n << ")";
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, why);
    return true;
  }

  void Cancel(TlsCustomVerificationCheckRequest*) override {}

 private:
  const Verifier* const verifier_;
  const std::shared_ptr<ServerIdentityRefusals> refusals_;
};

// Writes `content` to `dir/name` by rename, so a reader sees the old file or
// the new one, never a part.
absl::Status ReplaceFile(const std::string& dir, const std::string& name,
                         const std::string& content) {
  const std::string path = absl::StrCat(dir, "/", name);
  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out || chmod(tmp.c_str(), 0600) != 0) {
      return absl::InternalError(absl::StrCat("cannot write ", tmp));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NodeTls>> NodeTls::Create(const std::string& node_id,
                                                         const TlsFiles& files,
                                                         const Verifier* verifier,
                                                         const Clock* clock,
                                                         absl::Duration refresh) {
  std::unique_ptr<NodeTls> tls(new NodeTls());
  tls->node_uri_ = Identity{node_id, Role::kNode, ""}.Uri();
  tls->verifier_ = verifier;
  tls->clock_ = clock;
  tls->client_refusals_ = std::make_shared<ServerIdentityRefusals>();
  const char* tmpdir = getenv("TMPDIR");
  std::string templ =
      absl::StrCat(tmpdir != nullptr && *tmpdir != 0 ? tmpdir : "/tmp", "/mir-tls-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {  // mkdtemp makes it 0700
    return absl::InternalError(absl::StrCat("cannot create a private folder like ", templ));
  }
  tls->dir_ = templ;
  RETURN_IF_ERROR(tls->Reload(files, *verifier));
  tls->provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls->dir_ + "/key.pem", tls->dir_ + "/cert.pem", tls->dir_ + "/ca.pem",
      static_cast<unsigned int>(std::max<int64_t>(1, absl::ToInt64Seconds(refresh))));
  return tls;
}

NodeTls::~NodeTls() {
  if (dir_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status NodeTls::Reload(const TlsFiles& files, const Verifier& trust) {
  ASSIGN_OR_RETURN(std::string ca, ReadFile(files.ca_certificate));
  ASSIGN_OR_RETURN(std::string key, ReadFile(files.key));
  ASSIGN_OR_RETURN(std::string certificate, ReadFile(files.certificate));
  if (auto signer = Signer::FromPem(key, certificate); !signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(files.key, " and ", files.certificate, ": ", signer.status().message()));
  }
  auto identity = trust.VerifyCertificatePem(certificate, clock_->Now());
  if (!identity.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(files.certificate, ": ", identity.status().message()));
  }
  if (identity->Uri() != node_uri_) {
    return absl::InvalidArgumentError(
        absl::StrCat(files.certificate, " is ", identity->Uri(), ", not ", node_uri_));
  }
  // Key first, certificate last: gRPC's reader re-reads the key when the
  // certificate changed under it, so it never pairs a new certificate with
  // an old key.
  RETURN_IF_ERROR(ReplaceFile(dir_, "ca.pem", ca));
  RETURN_IF_ERROR(ReplaceFile(dir_, "key.pem", key));
  RETURN_IF_ERROR(ReplaceFile(dir_, "cert.pem", certificate));
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> NodeTls::ServerCredentials() const {
  grpc::experimental::TlsServerCredentialsOptions options(provider_);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.set_certificate_verifier(
      ExternalCertificateVerifier::Create<ClientCertificateCheck>(verifier_, client_refusals_));
  return grpc::experimental::TlsServerCredentials(options);
}

ClientTls NodeTls::ChannelCredentials(const std::string& peer_node) const {
  const Verifier* verifier = verifier_;
  return MutualTlsClient(
      provider_, Identity{peer_node, Role::kNode, ""}.Uri(),
      [verifier](absl::string_view pem) { return verifier->CheckChainPem(pem); });
}
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
