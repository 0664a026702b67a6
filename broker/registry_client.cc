#include "broker/registry_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/files.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "grpcpp/client_context.h"

namespace mir::broker {
namespace {

// Writes `bytes` to `path` whole or not at all: a temporary file, fsync,
// rename, then the folder synced. The registry is public, signed data, so
// the mode only follows the data folder's.
absl::Status WriteAtomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::close(fd);
      return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  const std::string folder = std::filesystem::path(path).parent_path().string();
  const int dir = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

}  // namespace

std::string RegistryCachePath(const BrokerOptions& options) {
  return absl::StrCat(options.database_path, ".registry");
}

absl::Status LoadNodeRegistryFile(const BrokerOptions& options, absl::Time now,
                                  NodeRegistryHolder& holder) {
  ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(options.ca_certificate));
  if (!options.registry_file.empty()) {
    auto bytes = ReadFile(options.registry_file);
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(),
                          absl::StrCat("config field 'registry_file': ", bytes.status().message()));
    }
    auto registry = VerifySignedRegistry(*bytes, ca_pem, now);
    if (!registry.ok()) {
      return absl::Status(registry.status().code(),
                          absl::StrCat("config field 'registry_file': ", options.registry_file,
                                       ": ", registry.status().message()));
    }
    holder.Offer(*std::move(registry), *std::move(bytes));
  }
  return absl::OkStatus();
}

absl::Status LoadNodeRegistries(const BrokerOptions& options, absl::Time now,
                                NodeRegistryHolder& holder) {
  RETURN_IF_ERROR(LoadNodeRegistryFile(options, now, holder));
  ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(options.ca_certificate));
  const std::string cache = RegistryCachePath(options);
  std::error_code error;
  if (std::filesystem::exists(cache, error)) {
    auto bytes = ReadFile(cache);
    auto registry = bytes.ok() ? VerifySignedRegistry(*bytes, ca_pem, now)
                               : absl::StatusOr<v1::NodeRegistry>(bytes.status());
    if (!registry.ok()) {
      MIR_LOG(WARNING) << "node registry " << cache << " ignored: " << registry.status().message();
    } else {
      holder.Offer(*std::move(registry), *std::move(bytes));
    }
  }
  if (holder.version() > 0) MIR_LOG(INFO) << "node registry version " << holder.version();
  return absl::OkStatus();
}

std::map<std::string, std::string> PeersWithRegistry(const BrokerOptions& options,
                                                     const NodeRegistryHolder& holder,
                                                     absl::Time now) {
  std::map<std::string, std::string> peers = options.peers;
  if (!options.relay) return peers;
  for (const auto& [node, address] : holder.Addresses(now)) {
    if (node != options.node_id) peers.emplace(node, address);
  }
  return peers;
}

absl::StatusOr<bool> FetchNodeRegistry(v1::Exchange::StubInterface& source,
                                       const BrokerOptions& options, const Clock* clock,
                                       NodeRegistryHolder& holder) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.rpc_timeout));
  v1::GetRegistryRequest request;
  request.set_known_version(holder.version());
  v1::GetRegistryResponse response;
  const grpc::Status status = source.GetRegistry(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  if (response.signed_registry().empty()) return false;
  ASSIGN_OR_RETURN(std::string ca_pem, ReadFile(options.ca_certificate));
  ASSIGN_OR_RETURN(v1::NodeRegistry registry,
                   VerifySignedRegistry(response.signed_registry(), ca_pem, clock->Now()));
  const uint64_t version = registry.version();
  if (!holder.Offer(std::move(registry), response.signed_registry())) return false;
  if (absl::Status written =
          WriteAtomically(RegistryCachePath(options), response.signed_registry());
      !written.ok()) {
    MIR_LOG(WARNING) << "node registry version " << version
                     << " taken but not kept for the next start: " << written.message();
  }
  MIR_LOG(INFO) << "node registry version " << version << " from " << options.national_node;
  return true;
}

}  // namespace mir::broker
