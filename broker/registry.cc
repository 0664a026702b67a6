#include "broker/registry.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "crypto/identity.h"
#include "crypto/registry_signature.h"

namespace mir::broker {
namespace {

absl::Status BadEntry(int index, absl::string_view node, absl::string_view field,
                      absl::string_view why) {
  return MirError(
      absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
      absl::StrCat("registry field 'nodes[", index, "].", field, "' (", node, "): ", why));
}

// "IT", "IT-52" (ISO 3166-2: a two-character subdivision) or "ITI1"
// (NUTS-2: IT, a letter, a digit).
bool IsRegionCode(absl::string_view code) {
  if (code == "IT") return true;
  if (code.size() == 5 && code.substr(0, 3) == "IT-") {
    return absl::ascii_isalnum(code[3]) && absl::ascii_isalnum(code[4]) &&
           !absl::ascii_islower(code[3]) && !absl::ascii_islower(code[4]);
  }
  return code.size() == 4 && code.substr(0, 2) == "IT" && absl::ascii_isupper(code[2]) &&
         absl::ascii_isdigit(code[3]);
}

bool IsHostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  uint32_t port = 0;
  return absl::SimpleAtoi(address.substr(colon + 1), &port) && port > 0 && port < 65536;
}

std::string Day(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", t, absl::UTCTimeZone());
}

}  // namespace

absl::Status ValidateRegistry(const v1::NodeRegistry& registry) {
  if (registry.version() == 0) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                    "registry field 'version': must be at least 1");
  }
  std::set<std::string> seen;
  for (int i = 0; i < registry.nodes_size(); ++i) {
    const v1::RegistryEntry& e = registry.nodes(i);
    if (!IsValidNodeId(e.node_id())) return BadEntry(i, e.node_id(), "node_id", "not a node id");
    if (!seen.insert(e.node_id()).second)
      return BadEntry(i, e.node_id(), "node_id", "listed twice");
    if (e.role() == v1::NODE_ROLE_UNSPECIFIED) {
      return BadEntry(i, e.node_id(), "role", "must be NATIONAL, REGIONAL or PROJECT");
    }
    if (!IsRegionCode(e.region_code())) {
      return BadEntry(i, e.node_id(), "region_code",
                      "must be IT, ISO 3166-2 (IT-52) or NUTS-2 (ITI1)");
    }
    if (!IsHostPort(e.address())) return BadEntry(i, e.node_id(), "address", "must be host:port");
    if (!e.has_valid_from() || !IsValidTimestamp(e.valid_from())) {
      return BadEntry(i, e.node_id(), "valid_from", "is required");
    }
    if (e.has_valid_until() && (!IsValidTimestamp(e.valid_until()) ||
                                FromProtoTime(e.valid_until()) <= FromProtoTime(e.valid_from()))) {
      return BadEntry(i, e.node_id(), "valid_until", "must be after valid_from");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::NodeRegistry> VerifySignedRegistry(const std::string& signed_bytes,
                                                      const std::string& ca_pem, absl::Time now) {
  v1::SignedRegistry signed_registry;
  if (!signed_registry.ParseFromString(signed_bytes)) {
    return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_BODY,
                    "not a signed node registry");
  }
  ASSIGN_OR_RETURN(v1::NodeRegistry registry,
                   VerifyRegistrySignature(signed_registry, ca_pem, now));
  RETURN_IF_ERROR(ValidateRegistry(registry));
  return registry;
}

absl::StatusOr<v1::NodeRegistry> LoadSignedRegistryFile(const std::string& path,
                                                        const std::string& ca_pem, absl::Time now) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  auto registry = VerifySignedRegistry(bytes, ca_pem, now);
  if (!registry.ok()) {
    const std::string message = absl::StrCat(path, ": ", registry.status().message());
    const v1::ErrorReason reason = ReasonOf(registry.status());
    if (reason == v1::ERROR_REASON_UNSPECIFIED)
      return absl::Status(registry.status().code(), message);
    return MirError(registry.status().code(), reason, message);
  }
  return registry;
}

bool NodeRegistryHolder::Offer(v1::NodeRegistry registry, std::string signed_bytes) {
  absl::MutexLock lock(&mu_);
  if (registry_ && registry.version() <= registry_->version()) return false;
  registry_ = std::make_shared<const v1::NodeRegistry>(std::move(registry));
  signed_bytes_ = std::move(signed_bytes);
  return true;
}

std::shared_ptr<const v1::NodeRegistry> NodeRegistryHolder::current() const {
  absl::MutexLock lock(&mu_);
  return registry_;
}

std::string NodeRegistryHolder::signed_bytes() const {
  absl::MutexLock lock(&mu_);
  return signed_bytes_;
}

uint64_t NodeRegistryHolder::version() const {
  absl::MutexLock lock(&mu_);
  return registry_ ? registry_->version() : 0;
}

absl::Status NodeRegistryHolder::CheckDestination(const std::string& node, absl::Time at) const {
  std::shared_ptr<const v1::NodeRegistry> registry;
  {
    absl::MutexLock lock(&mu_);
    registry = registry_;
  }
  if (!registry) return absl::OkStatus();
  for (const v1::RegistryEntry& e : registry->nodes()) {
    if (e.node_id() != node) continue;
    const absl::Time from = FromProtoTime(e.valid_from());
    if (at < from) {
      return MirError(absl::StatusCode::kFailedPrecondition, v1::NODE_NOT_VALID,
                      absl::StrCat("node ", node, "'s registration begins on ", Day(from),
                                   " (node registry version ", registry->version(), ")"));
    }
    if (e.has_valid_until() && at >= FromProtoTime(e.valid_until())) {
      return MirError(absl::StatusCode::kFailedPrecondition, v1::NODE_NOT_VALID,
                      absl::StrCat("node ", node, "'s registration ended on ",
                                   Day(FromProtoTime(e.valid_until())), " (node registry version ",
                                   registry->version(), ")"));
    }
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

std::map<std::string, std::string> NodeRegistryHolder::Addresses(absl::Time at) const {
  std::shared_ptr<const v1::NodeRegistry> registry;
  {
    absl::MutexLock lock(&mu_);
    registry = registry_;
  }
  std::map<std::string, std::string> out;
  if (!registry) return out;
  for (const v1::RegistryEntry& e : registry->nodes()) {
    if (CheckDestination(e.node_id(), at).ok()) out[e.node_id()] = e.address();
  }
  return out;
}

}  // namespace mir::broker
