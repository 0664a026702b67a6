#include "broker/exchange_service.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "broker/tls.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "grpcpp/support/byte_buffer.h"
#include "mir/v1/envelope.pb.h"

namespace mir::broker {

namespace {

// A request message from the call's bytes, or MALFORMED_ENVELOPE.
template <typename Request>
absl::StatusOr<Request> ParseRequest(const grpc::ByteBuffer& bytes, absl::string_view name) {
  std::vector<grpc::Slice> slices;
  Request request;
  if (bytes.Dump(&slices).ok()) {
    std::string joined;
    joined.reserve(bytes.Length());
    for (const grpc::Slice& slice : slices) {
      joined.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    if (request.ParseFromString(joined)) return request;
  }
  return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                  absl::StrCat("the request does not parse as a ", name));
}

// The calling node, after counting its certificate for the metrics.
absl::StatusOr<Identity> CallingPeer(grpc::CallbackServerContext& context, Metrics& metrics) {
  auto peer = PeerIdentity(context);
  if (!peer.ok()) {
    metrics.CountRefusal("unknown", peer.status());
    return peer.status();
  }
  if (peer->role == Role::kNode) {
    const auto pem = context.auth_context()->FindPropertyValues("x509_pem_cert");
    if (!pem.empty())
      metrics.SawPeerCertificate(peer->node, std::string(pem.front().data(), pem.front().size()));
  }
  return peer;
}

grpc::ByteBuffer Serialized(const google::protobuf::Message& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

// The kind the envelope's header names, for the metrics: the node has
// verified the envelope by now, so this only reads it again.
std::string KindOf(const std::string& envelope_bytes) {
  v1::Envelope envelope;
  v1::EnvelopeHeader header;
  if (!envelope.ParseFromString(envelope_bytes) || !header.ParseFromString(envelope.header())) {
    return "UNKNOWN";
  }
  return v1::MessageKind_Name(header.kind());
}

}  // namespace

grpc::ServerUnaryReactor* ExchangeService::OnPool(
    grpc::CallbackServerContext& context, std::function<absl::Status(const Identity&)> work) {
  // Steady time for the latency histogram only, never a decision: not the Clock.
  const auto arrived = std::chrono::steady_clock::now();
  grpc::ServerUnaryReactor* reactor = context.DefaultReactor();
  auto peer = CallingPeer(context, *metrics_);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  // The request and response `work` writes stay valid until Finish.
  const bool accepted = pool_->Post([this, reactor, arrived, peer = *peer, work = std::move(work)] {
    const absl::Status status = work(peer);
    if (!status.ok()) metrics_->CountRefusal(peer.node, status);
    metrics_->ObserveDeliver(absl::FromChrono(std::chrono::steady_clock::now() - arrived));
    reactor->Finish(ToGrpcStatus(status));
  });
  if (!accepted) {
    metrics_->CountRefusal(peer->node, NodeBusy());
    reactor->Finish(ToGrpcStatus(NodeBusy()));
  }
  return reactor;
}

grpc::ServerUnaryReactor* ExchangeService::Deliver(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  return OnPool(*context, [this, request, response](const Identity& peer) -> absl::Status {
    ASSIGN_OR_RETURN(auto parsed, ParseRequest<v1::DeliverRequest>(*request, "DeliverRequest"));
    ASSIGN_OR_RETURN(std::string receipt, node_->Deliver(peer, parsed.envelope()));
    metrics_->CountReceived(KindOf(parsed.envelope()));
    v1::DeliverResponse answer;
    answer.set_receipt(std::move(receipt));
    *response = Serialized(answer);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ExchangeService::DeliverBatch(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request,
                                                        grpc::ByteBuffer* response) {
  if (!node_->options().serve_delivery_batches) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, ""));
    return reactor;
  }
  return OnPool(*context, [this, request, response](const Identity& peer) -> absl::Status {
    ASSIGN_OR_RETURN(auto parsed,
                     ParseRequest<v1::DeliverBatchRequest>(*request, "DeliverBatchRequest"));
    const std::vector<std::string> envelopes(parsed.envelopes().begin(), parsed.envelopes().end());
    ASSIGN_OR_RETURN(Node::BatchDelivery delivered, node_->DeliverBatch(peer, envelopes));
    v1::DeliverBatchResponse answer;
    answer.set_receipt(std::move(delivered.receipt));
    for (const auto& [index, refusal] : delivered.refused) {
      metrics_->CountRefusal(peer.node, refusal);
      v1::DeliverRefusal* refused = answer.add_refused();
      refused->set_index(static_cast<uint32_t>(index));
      refused->set_code(static_cast<int32_t>(refusal.code()));
      refused->set_reason(ReasonOf(refusal));
      refused->set_message(std::string(refusal.message()));
    }
    for (const std::string& kind : delivered.accepted_kinds) metrics_->CountReceived(kind);
    *response = Serialized(answer);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ExchangeService::GetRegistry(grpc::CallbackServerContext* context,
                                                       const v1::GetRegistryRequest* request,
                                                       v1::GetRegistryResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Status status = [&]() -> absl::Status {
    auto peer = PeerIdentity(*context);
    if (!peer.ok()) return peer.status();
    if (peer->role != Role::kNode) {
      return MirError(absl::StatusCode::kPermissionDenied, v1::ROLE_NOT_ALLOWED,
                      "only nodes fetch the node registry");
    }
    const NodeRegistryHolder& registry = node_->registry();
    const std::string signed_bytes = registry.signed_bytes();
    if (signed_bytes.empty()) {
      return MirError(absl::StatusCode::kNotFound, v1::UNKNOWN_NODE,
                      absl::StrCat("node ", node_->options().node_id, " holds no node registry"));
    }
    // An Offer between these two reads can pair a newer version with the
    // older bytes: harmless, the caller takes the version from the bytes it
    // verified and asks again at its next poll.
    response->set_version(registry.version());
    if (request->known_version() < response->version()) {
      response->set_signed_registry(signed_bytes);
    }
    return absl::OkStatus();
  }();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace mir::broker
