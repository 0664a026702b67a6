#include "common/tls_client.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace mir {
namespace {

using grpc::experimental::ExternalCertificateVerifier;
using grpc::experimental::TlsCustomVerificationCheckRequest;

// Runs after gRPC has verified the chain to the CA; answers synchronously.
class ServerIdentityCheck final : public ExternalCertificateVerifier {
 public:
  ServerIdentityCheck(std::string expected, std::shared_ptr<ServerIdentityRefusals> refusals,
                      ServerCertificateCheck check)
      : expected_(std::move(expected)), refusals_(std::move(refusals)), check_(std::move(check)) {}

  bool Verify(TlsCustomVerificationCheckRequest* request, std::function<void(grpc::Status)>,
              grpc::Status* sync_status) override {
    std::vector<std::string> presented;
    for (const grpc::string_ref& uri : request->uri_names()) {
      std::string value(uri.data(), uri.size());
      if (absl::StartsWith(value, "mir://")) presented.push_back(std::move(value));
    }
    std::string why;
    if (presented.size() == 1 && presented.front() == expected_) {
      absl::Status checked = absl::OkStatus();
      if (check_) {
        const grpc::string_ref pem = request->peer_cert();
        checked = check_(absl::string_view(pem.data(), pem.size()));
      }
      if (checked.ok()) {
        *sync_status = grpc::Status::OK;
        return true;
      }
      why = absl::StrCat("the server ", expected_,
                         " presented a certificate we refuse: ", checked.message());
    } else {
      why = absl::StrCat(
          "the server presented ",
          presented.empty() ? std::string("no mir:// identity") : absl::StrJoin(presented, " and "),
          ", not ", expected_);
    }
    refusals_->Record(why);
    // 1st, 2nd, 4th, 8th… refusal: a misdirected peer stays visible in the
    // log without a line per reconnect.
    const int n = refusals_->Count();
    if ((n & (n - 1)) == 0) {
      MIR_LOG(WARNING) << "refused a TLS connection: " << why << " (refusal " << n << ")";
    }
    *sync_status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, why);
    return true;
  }

  void Cancel(TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::string expected_;
  const std::shared_ptr<ServerIdentityRefusals> refusals_;
  const ServerCertificateCheck check_;
};

}  // namespace

std::string ServerIdentityRefusals::Last() const {
  absl::MutexLock lock(&mu_);
  return last_;
}

int ServerIdentityRefusals::Count() const {
  absl::MutexLock lock(&mu_);
  return count_;
}

void ServerIdentityRefusals::Record(const std::string& why) {
  absl::MutexLock lock(&mu_);
  last_ = why;
  ++count_;
}

ClientTls MutualTlsClient(const std::string& ca_pem, const std::string& certificate_pem,
                          const std::string& key_pem, const std::string& expected_server_uri) {
  return MutualTlsClient(
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
          ca_pem, std::vector<grpc::experimental::IdentityKeyCertPair>{{key_pem, certificate_pem}}),
      expected_server_uri, nullptr);
}

ClientTls MutualTlsClient(
    std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider,
    const std::string& expected_server_uri, ServerCertificateCheck check) {
  auto refusals = std::make_shared<ServerIdentityRefusals>();
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(std::move(provider));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  options.set_certificate_verifier(ExternalCertificateVerifier::Create<ServerIdentityCheck>(
      expected_server_uri, refusals, std::move(check)));
  return ClientTls{grpc::experimental::TlsCredentials(options), std::move(refusals)};
}

}  // namespace mir
