#include "client/node_channel.h"

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/errors.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel.h"

namespace mir::client {
namespace {

// One line, bounded: a node's message goes into one sentence.
std::string OneLine(absl::string_view message) {
  std::string line = absl::StrReplaceAll(message, {{"\n", " "}, {"\r", " "}});
  line = std::string(absl::StripAsciiWhitespace(line));
  while (!line.empty() && line.back() == '.') line.pop_back();
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

bool LooksLikeHandshakeFailure(absl::string_view message) {
  for (absl::string_view marker : {"andshake", "SSL", "TLS", "ssl", "certificate"}) {
    if (absl::StrContains(message, marker)) return true;
  }
  return false;
}

constexpr char kFromNodePayload[] = "type.googleapis.com/mir.client.FromNode";

absl::Status FromNode(absl::Status status) {
  status.SetPayload(kFromNodePayload, absl::Cord("1"));
  return status;
}

}  // namespace

bool IsFromNode(const absl::Status& status) {
  return status.GetPayload(kFromNodePayload).has_value();
}

absl::Status WithMore(const absl::Status& status, absl::string_view more) {
  absl::Status out(status.code(), absl::StrCat(status.message(), more));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

absl::StatusOr<NodeChannel> OpenNodeChannel(const ConnectionOptions& options) {
  if (options.address.empty()) {
    return MarkConnectionError(
        absl::FailedPreconditionError("no node given: use --node HOST:PORT or set MIR_NODE"));
  }
  ASSIGN_OR_RETURN(Credentials credentials,
                   LoadCredentials(options.certificate, options.key, options.ca, options.clock));
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  NodeChannel out;
  out.channel = grpc::CreateCustomChannel(options.address, credentials.channel, args);
  out.signer = std::move(credentials.signer);
  out.server_refusals = std::move(credentials.server_refusals);
  return out;
}

bool AnswerLost(const grpc::Status& status) {
  // A failed handshake never reached the node; a refusal with a reason was
  // an answer.
  return status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
          ReasonOf(FromGrpcStatus(status)) == v1::ERROR_REASON_UNSPECIFIED &&
          !LooksLikeHandshakeFailure(status.error_message()));
}

absl::Status NodeCallError(const grpc::Status& status, const ConnectionOptions& options,
                           const NodeChannel& channel, absl::string_view service) {
  const absl::Status from_node = FromGrpcStatus(status);
  const std::string& at = options.address;
  const std::string message = OneLine(status.error_message());
  if (ReasonOf(from_node) != v1::ERROR_REASON_UNSPECIFIED) {
    return FromNode(MirError(from_node.code(), ReasonOf(from_node),
                             absl::StrCat("refused by the node: ", message)));
  }
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (channel.server_refusals != nullptr && channel.server_refusals->Count() > 0) {
        return MarkConnectionError(absl::UnavailableError(absl::StrCat(
            "the server at ", at,
            " is not your node, so nothing was sent: ", channel.server_refusals->Last(),
            "; is --node the address of node ", channel.signer->identity().node, "?")));
      }
      if (LooksLikeHandshakeFailure(message)) {
        return MarkConnectionError(absl::UnavailableError(absl::StrCat(
            "the TLS handshake with the node at ", at,
            " failed: is --ca the CA of its network, and was your certificate issued by it?")));
      }
      return MarkConnectionError(absl::UnavailableError(
          absl::StrCat("cannot reach node at ", at, ": is mir-broker running?")));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return MarkConnectionError(absl::DeadlineExceededError(
          absl::StrCat("the node at ", at, " did not answer within ",
                       absl::FormatDuration(options.timeout), " (use --timeout to wait longer)")));
    case grpc::StatusCode::UNIMPLEMENTED:
      return FromNode(
          absl::UnimplementedError(absl::StrCat("the node at ", at, " does not offer the ", service,
                                                " service: is its mir-broker up to date?")));
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
      return FromNode(
          absl::Status(from_node.code(), absl::StrCat("the node at ", at, " failed: ", message)));
    default:
      return FromNode(
          absl::Status(from_node.code(), absl::StrCat("refused by the node: ", message)));
  }
}

}  // namespace mir::client
