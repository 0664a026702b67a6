#include "crypto/identity.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"

namespace mir {
namespace {
constexpr absl::string_view kScheme = "mir://";

absl::Status BadIdentity(absl::string_view why) {
  return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_CERTIFICATE,
                  absl::StrCat("identity URI ", why));
}
}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNode:
      return "node";
    case Role::kOperator:
      return "operator";
    case Role::kPartner:
      return "partner";
    case Role::kConsole:
      return "console";
  }
  return "unknown";
}

std::string Identity::Uri() const {
  if (role == Role::kNode) return absl::StrCat(kScheme, node, "/node");
  if (role == Role::kConsole) return absl::StrCat(kScheme, node, "/console");
  return absl::StrCat(kScheme, node, "/", RoleName(role), "/", name);
}

bool IsValidNodeId(absl::string_view id) {
  if (id.empty() || id.size() > 32 || id.front() == '-') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

absl::StatusOr<Identity> ParseIdentity(absl::string_view uri) {
  if (!absl::StartsWith(uri, kScheme)) return BadIdentity("does not start with mir://");
  std::vector<absl::string_view> parts = absl::StrSplit(uri.substr(kScheme.size()), '/');
  if (parts.empty() || !IsValidNodeId(parts[0])) return BadIdentity("has no valid node id");
  Identity id;
  id.node = std::string(parts[0]);
  if (parts.size() == 2 && parts[1] == "node") {
    id.role = Role::kNode;
    return id;
  }
  if (parts.size() == 2 && parts[1] == "console") {
    id.role = Role::kConsole;
    return id;
  }
  if (parts.size() != 3 || parts[1] == "node" || parts[1] == "console" ||
      !IsValidNodeId(parts[2])) {
    return BadIdentity(
        "is not mir://<node>/node, mir://<node>/console or mir://<node>/<role>/<name>");
  }
  if (parts[1] == "operator") {
    id.role = Role::kOperator;
  } else if (parts[1] == "partner") {
    id.role = Role::kPartner;
  } else {
    return MirError(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED,
                    absl::StrCat("unknown role '", parts[1], "' in identity URI"));
  }
  id.name = std::string(parts[2]);
  return id;
}

bool RoleMayAuthor(Role role, v1::MessageKind kind) {
  // A console relays people's signatures; it signs nothing of its own.
  if (role == Role::kConsole) return false;
  switch (kind) {
    case v1::REFERRAL:
      return role == Role::kOperator;
    case v1::STATUS_CHANGE:
      return role == Role::kNode || role == Role::kOperator || role == Role::kPartner;
    case v1::PLACEMENT_CONFIRMATION:
      return role == Role::kPartner;
    case v1::RECEIPT:
    case v1::KEY_RELEASE:
    case v1::ERASURE_CONFIRMATION:
    case v1::REPORT_EVENT:
    case v1::CITIZEN_REPORT:
    case v1::SERVICE_EVENT:
    case v1::SERVICE_REQUEST:
    case v1::SERVICE_UPDATE:
    case v1::STATISTICS_REPORT:
    case v1::RECEIVED_ANSWERS:
      return role == Role::kNode;
    default:
      return false;
  }
}

}  // namespace mir
