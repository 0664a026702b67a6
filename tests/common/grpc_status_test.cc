// The one mapping between absl::Status and grpc::Status (common/grpc_status.h):
// every code survives the round trip, a reason travels as google.rpc.ErrorInfo
// in the standard details any gRPC client reads, and foreign details are
// ignored rather than misread.

#include "common/grpc_status.h"

#include "common/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace mir {
namespace {

TEST(GrpcStatusTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, EveryReasonTravelsAsErrorInfoAndComesBack) {
  const google::protobuf::EnumDescriptor* reasons = v1::ErrorReason_descriptor();
  for (int i = 0; i < reasons->value_count(); ++i) {
    const auto reason = static_cast<v1::ErrorReason>(reasons->value(i)->number());
    if (reason == v1::ERROR_REASON_UNSPECIFIED) continue;
    SCOPED_TRACE(reasons->value(i)->name());
    const absl::Status original =
        MirError(absl::StatusCode::kPermissionDenied, reason, "why, for people");
    const grpc::Status wire = ToGrpcStatus(original);
    EXPECT_EQ(wire.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(wire.error_message(), "why, for people");
    google::rpc::Status details;
    ASSERT_TRUE(details.ParseFromString(wire.error_details()));
    ASSERT_EQ(details.details_size(), 1);
    google::rpc::ErrorInfo info;
    ASSERT_TRUE(details.details(0).UnpackTo(&info));
    EXPECT_EQ(info.reason(), reasons->value(i)->name());
    EXPECT_EQ(info.domain(), "mir-exchange.v1");

    const absl::Status back = FromGrpcStatus(wire);
    EXPECT_EQ(back.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(back.message(), "why, for people");
    EXPECT_EQ(ReasonOf(back), reason);
  }
}

TEST(GrpcStatusTest, EveryCodeMapsToTheSameNumber) {
  for (int code = 1; code <= 16; ++code) {
    SCOPED_TRACE(code);
    const absl::Status s(static_cast<absl::StatusCode>(code), "m");
    const grpc::Status wire = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(wire.error_code()), code);
    EXPECT_TRUE(wire.error_details().empty());  // no reason, no details
    EXPECT_EQ(FromGrpcStatus(wire), s);
  }
}

TEST(GrpcStatusTest, DetailsOfAnotherDomainOrGarbageGiveNoReason) {
  google::rpc::ErrorInfo info;
  info.set_reason("BAD_SIGNATURE");
  info.set_domain("someone-else.example");
  google::rpc::Status details;
  details.add_details()->PackFrom(info);
  const absl::Status foreign = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "m", details.SerializeAsString()));
  EXPECT_EQ(foreign.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ReasonOf(foreign), v1::ERROR_REASON_UNSPECIFIED);

  const absl::Status garbage =
      FromGrpcStatus(grpc::Status(grpc::StatusCode::INTERNAL, "m", "\xff\xff not a proto"));
  EXPECT_EQ(garbage.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ReasonOf(garbage), v1::ERROR_REASON_UNSPECIFIED);
}

}  // namespace
}  // namespace mir
