#ifndef MIR_COMMON_PROTO_TIME_H_
#define MIR_COMMON_PROTO_TIME_H_

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace mir {

// The range google.protobuf.Timestamp allows (0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z); anything else is refused on input.
inline bool IsValidTimestamp(const google::protobuf::Timestamp& ts) {
  constexpr int64_t kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  return ts.seconds() >= kMinSeconds && ts.seconds() <= kMaxSeconds && ts.nanos() >= 0 &&
         ts.nanos() <= 999999999;
}

// google.protobuf.Timestamp <-> absl::Time, nanosecond exact.
inline absl::Time FromProtoTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

inline google::protobuf::Timestamp ToProtoTime(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t nanos = absl::ToUnixNanos(t);
  ts.set_seconds(nanos / 1000000000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return ts;
}

}  // namespace mir

#endif  // MIR_COMMON_PROTO_TIME_H_
