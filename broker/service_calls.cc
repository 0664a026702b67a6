#include "broker/service_calls.h"

#include "absl/strings/str_cat.h"
#include "broker/tls.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "crypto/console_login.h"
#include "crypto/envelope_bytes.h"

namespace mir::broker {

absl::StatusOr<Acting> ActingFor(const grpc::CallbackServerContext& context, const Node& node,
                                 Action action) {
  ASSIGN_OR_RETURN(Identity peer, PeerIdentity(context));
  Acting acting{peer, absl::InfiniteFuture(), ""};
  if (peer.role == Role::kConsole && peer.node == node.options().node_id) {
    std::vector<absl::string_view> proofs;
    const auto range = context.client_metadata().equal_range(
        grpc::string_ref(kConsoleLoginMetadata.data(), kConsoleLoginMetadata.size()));
    for (auto it = range.first; it != range.second; ++it) {
      proofs.emplace_back(it->second.data(), it->second.size());
    }
    ASSIGN_OR_RETURN(ConsoleCaller person, node.authorization().ConsolePerson(
                                               peer, proofs, node.verifier(), node.clock()->Now(),
                                               node.options().console_session_absolute));
    acting = {std::move(person.person), person.until, std::move(person.certificate)};
  }
  RETURN_IF_ERROR(node.authorization().Check(acting.identity, action));
  return acting;
}

absl::StatusOr<Identity> Caller(const grpc::CallbackServerContext& context, const Node& node,
                                Action action) {
  ASSIGN_OR_RETURN(Acting acting, ActingFor(context, node, action));
  return std::move(acting.identity);
}

absl::Status CheckId(absl::string_view field, const std::string& id) {
  if (IsCanonicalUuid(id)) return absl::OkStatus();
  return MirError(absl::StatusCode::kInvalidArgument, v1::INVALID_FIELD,
                  absl::StrCat(field, " must be a lowercase UUID (8-4-4-4-12 hex digits)"));
}

grpc::ServerUnaryReactor* Respond(WorkPool& pool, grpc::CallbackServerContext* context,
                                  std::function<absl::Status()> body) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!pool.Post([reactor, body = std::move(body)] { reactor->Finish(ToGrpcStatus(body())); })) {
    reactor->Finish(ToGrpcStatus(NodeBusy()));
  }
  return reactor;
}

}  // namespace mir::broker
