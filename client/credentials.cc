#include "client/credentials.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "crypto/verifier.h"

namespace mir::client {
namespace {

constexpr char kConnectionPayload[] = "type.googleapis.com/mir.client.ConnectionError";

absl::Status Problem(absl::string_view sentence) {
  return MarkConnectionError(absl::FailedPreconditionError(sentence));
}

// The whole file, or a sentence naming it and the system's reason.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, absl::string_view what,
                                        absl::string_view flag) {
  if (path.empty()) {
    return Problem(
        absl::StrCat("no ", what, " file given: use ", flag, " or --pki DIR --as NODE/ROLE"));
  }
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Problem(
        absl::StrCat("cannot read the ", what, " file ", path, ": ", std::strerror(errno)));
  }
  std::string content;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) content.append(buffer, static_cast<size_t>(n));
  const int read_errno = errno;
  close(fd);
  if (n < 0) {
    return Problem(
        absl::StrCat("cannot read the ", what, " file ", path, ": ", std::strerror(read_errno)));
  }
  return content;
}

absl::Status CheckPemKind(const std::string& pem, absl::string_view marker, const std::string& path,
                          absl::string_view what) {
  if (absl::StrContains(pem, marker)) return absl::OkStatus();
  return Problem(absl::StrCat("the file ", path, " does not hold a PEM ", what));
}

absl::Status ExplainCertificate(const absl::Status& status, const std::string& cert_path,
                                const std::string& ca_path) {
  switch (ReasonOf(status)) {
    case v1::UNTRUSTED_CERTIFICATE:
      return Problem(absl::StrCat("the certificate ", cert_path, " was not issued by the CA in ",
                                  ca_path, ": use the certificate and CA of the same network"));
    case v1::CERTIFICATE_EXPIRED:
      return Problem(absl::StrCat("the certificate ", cert_path,
                                  " has expired: ask your network administrator for a new one"));
    case v1::CERTIFICATE_NOT_YET_VALID:
      return Problem(absl::StrCat("the certificate ", cert_path,
                                  " is not valid yet: check this computer's date and time"));
    default:
      return Problem(
          absl::StrCat("the certificate ", cert_path, " cannot be used: ", status.message()));
  }
}

// Wipes a copy of the private key when it goes out of scope.
class Wiped {
 public:
  explicit Wiped(std::string& secret) : secret_(secret) {}
  ~Wiped() { OPENSSL_cleanse(secret_.data(), secret_.size()); }
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;

 private:
  std::string& secret_;
};

}  // namespace

absl::Status MarkConnectionError(absl::Status status) {
  status.SetPayload(kConnectionPayload, absl::Cord("1"));
  return status;
}

bool IsConnectionError(const absl::Status& status) {
  return status.GetPayload(kConnectionPayload).has_value();
}

absl::StatusOr<Credentials> LoadCredentials(const std::string& certificate_path,
                                            const std::string& key_path, const std::string& ca_path,
                                            const Clock* clock) {
  ASSIGN_OR_RETURN(std::string cert_pem, ReadPemFile(certificate_path, "certificate", "--cert"));
  ASSIGN_OR_RETURN(std::string key_pem, ReadPemFile(key_path, "key", "--key"));
  Wiped wipe_key(key_pem);
  ASSIGN_OR_RETURN(std::string ca_pem, ReadPemFile(ca_path, "CA certificate", "--ca"));
  RETURN_IF_ERROR(
      CheckPemKind(cert_pem, "-----BEGIN CERTIFICATE-----", certificate_path, "certificate"));
  RETURN_IF_ERROR(CheckPemKind(key_pem, "PRIVATE KEY-----", key_path, "private key"));
  RETURN_IF_ERROR(CheckPemKind(ca_pem, "-----BEGIN CERTIFICATE-----", ca_path, "CA certificate"));

  Credentials out;
  auto signer = Signer::FromPem(key_pem, cert_pem);
  if (!signer.ok()) {
    return Problem(absl::StrCat("cannot use the key ", key_path, " with the certificate ",
                                certificate_path, ": ", signer.status().message()));
  }
  out.signer = std::move(*signer);
  auto verifier = Verifier::FromCaPem(ca_pem, clock);
  if (!verifier.ok()) {
    return Problem(absl::StrCat("the file ", ca_path,
                                " is not a usable CA certificate: ", verifier.status().message()));
  }
  auto identity = (*verifier)->VerifyCertificate(out.signer->certificate_der(), clock->Now());
  if (!identity.ok()) {
    return ExplainCertificate(identity.status(), certificate_path, ca_path);
  }

  const Identity own_node{out.signer->identity().node, Role::kNode, ""};
  ClientTls tls = MutualTlsClient(ca_pem, cert_pem, key_pem, own_node.Uri());
  out.channel = std::move(tls.credentials);
  out.server_refusals = std::move(tls.refusals);
  return out;
}

}  // namespace mir::client
