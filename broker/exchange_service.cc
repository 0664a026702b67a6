#include "broker/exchange_service.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "broker/tls.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "grpcpp/support/byte_buffer.h"
#include "mir/v1/envelope.pb.h"

namespace mir::broker {

namespace {

// DeliverRequest from the call's bytes, or MALFORMED_ENVELOPE.
absl::StatusOr<v1::DeliverRequest> ParseRequest(const grpc::ByteBuffer& bytes) {
  std::vector<grpc::Slice> slices;
  v1::DeliverRequest request;
  if (bytes.Dump(&slices).ok()) {
    std::string joined;
    joined.reserve(bytes.Length());
    for (const grpc::Slice& slice : slices) {
      joined.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    if (request.ParseFromString(joined)) return request;
  }
  return MirError(absl::StatusCode::kInvalidArgument, v1::MALFORMED_ENVELOPE,
                  "the request does not parse as a DeliverRequest");
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

grpc::ServerUnaryReactor* ExchangeService::Deliver(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  // Steady time for the latency histogram only, never a decision: not the Clock.
  const auto arrived = std::chrono::steady_clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto peer = PeerIdentity(*context);
  if (!peer.ok()) {
    metrics_->CountRefusal("unknown", peer.status());
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  if (peer->role == Role::kNode) {
    const auto pem = context->auth_context()->FindPropertyValues("x509_pem_cert");
    if (!pem.empty())
      metrics_->SawPeerCertificate(peer->node, std::string(pem.front().data(), pem.front().size()));
  }
  // request and response stay valid until Finish.
  const bool accepted = pool_->Post([this, reactor, arrived, peer = *peer, request, response] {
    const absl::Status status = [&]() -> absl::Status {
      auto parsed = ParseRequest(*request);
      if (!parsed.ok()) return parsed.status();
      auto receipt = node_->Deliver(peer, parsed->envelope());
      if (!receipt.ok()) return receipt.status();
      metrics_->CountReceived(KindOf(parsed->envelope()));
      v1::DeliverResponse answer;
      answer.set_receipt(*std::move(receipt));
      grpc::Slice slice(answer.SerializeAsString());
      *response = grpc::ByteBuffer(&slice, 1);
      return absl::OkStatus();
    }();
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
