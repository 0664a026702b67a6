#ifndef MIR_CRYPTO_IDENTITY_H_
#define MIR_CRYPTO_IDENTITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mir/v1/envelope.pb.h"

namespace mir {

// Who a certificate speaks for. Written as a URI in the certificate's SAN:
//   mir://<node>/node              a broker
//   mir://<node>/operator/<name>   hotline staff of <node>
//   mir://<node>/partner/<name>    a project partner attached to <node>
//   mir://<node>/console           the node's web console (PROTOCOL.md §13): it
//                                  opens TLS to its broker and may do nothing
//                                  as itself, only relay a person's sign-in proof
enum class Role { kNode, kOperator, kPartner, kConsole };

struct Identity {
  std::string node;
  Role role = Role::kNode;
  std::string name;  // empty for kNode and kConsole

  std::string Uri() const;
  friend bool operator==(const Identity&, const Identity&) = default;
};

absl::string_view RoleName(Role role);

// Node ids and names: 1-32 chars of [a-z0-9-], starting with a letter or digit.
bool IsValidNodeId(absl::string_view id);

// Parses a mir:// identity URI; InvalidArgument (reason MALFORMED_CERTIFICATE)
// if it is not exactly one of the four forms above.
absl::StatusOr<Identity> ParseIdentity(absl::string_view uri);

// The message-level policy: which role may author which kind.
//   REFERRAL: operator; STATUS_CHANGE: operator, partner, node;
//   PLACEMENT_CONFIRMATION: partner; RECEIPT, KEY_RELEASE,
//   ERASURE_CONFIRMATION, REPORT_EVENT, CITIZEN_REPORT, SERVICE_EVENT,
//   SERVICE_REQUEST, SERVICE_UPDATE, STATISTICS_REPORT and RECEIVED_ANSWERS:
//   node. A console authors nothing.
bool RoleMayAuthor(Role role, v1::MessageKind kind);

}  // namespace mir

#endif  // MIR_CRYPTO_IDENTITY_H_
