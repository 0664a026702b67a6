#include "common/errors.h"

#include <string>

#include "absl/strings/cord.h"

namespace mir {
namespace {
constexpr char kReasonPayloadUrl[] = "type.googleapis.com/mir.v1.ErrorReason";
}  // namespace

absl::Status MirError(absl::StatusCode code, v1::ErrorReason reason, absl::string_view message) {
  absl::Status status(code, message);
  status.SetPayload(kReasonPayloadUrl, absl::Cord(v1::ErrorReason_Name(reason)));
  return status;
}

v1::ErrorReason ReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonPayloadUrl);
  v1::ErrorReason reason = v1::ERROR_REASON_UNSPECIFIED;
  if (payload.has_value()) v1::ErrorReason_Parse(std::string(*payload), &reason);
  return reason;
}

std::string ReasonName(const absl::Status& status) {
  v1::ErrorReason reason = ReasonOf(status);
  return reason == v1::ERROR_REASON_UNSPECIFIED ? std::string() : v1::ErrorReason_Name(reason);
}

}  // namespace mir
