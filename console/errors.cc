#include "console/errors.h"

#include <cstdio>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace mir::console {
namespace {

constexpr char kReasonPayload[] = "type.googleapis.com/mir.console.Reason";
constexpr char kFieldPayload[] = "type.googleapis.com/mir.console.Field";

}  // namespace

absl::Status ConsoleError(absl::StatusCode code, absl::string_view reason,
                          absl::string_view message, absl::string_view field) {
  absl::Status status(code, message);
  status.SetPayload(kReasonPayload, absl::Cord(reason));
  if (!field.empty()) status.SetPayload(kFieldPayload, absl::Cord(field));
  return status;
}

absl::Status WithField(absl::Status status, absl::string_view field) {
  if (!field.empty()) status.SetPayload(kFieldPayload, absl::Cord(field));
  return status;
}

std::string ReasonOf(const absl::Status& status) {
  if (auto reason = status.GetPayload(kReasonPayload); reason.has_value()) {
    return std::string(*reason);
  }
  return ReasonName(status);
}

std::string FieldOf(const absl::Status& status) {
  if (auto field = status.GetPayload(kFieldPayload); field.has_value()) return std::string(*field);
  return "";
}

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  return out;
}

std::string ErrorJson(const absl::Status& status) {
  std::string reason = ReasonOf(status);
  if (reason.empty()) reason = absl::StatusCodeToString(status.code());
  std::string out = absl::StrCat("{\"error\": {\"reason\": ", JsonString(reason),
                                 ", \"message\": ", JsonString(status.message()));
  const std::string field = FieldOf(status);
  if (!field.empty()) absl::StrAppend(&out, ", \"field\": ", JsonString(field));
  out += "}}";
  return out;
}

}  // namespace mir::console
