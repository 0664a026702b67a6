#ifndef MIR_TESTS_TESTING_TEST_ENV_H_
#define MIR_TESTS_TESTING_TEST_ENV_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mir::testing {

// The development PKI made by certs/make-dev-pki.sh for the test run
// ($MIR_TEST_PKI, set by CTest). `rel` is e.g. "toscana/operator.crt".
std::string PkiPath(const std::string& rel);
// The contents of a PKI file (e.g. "toscana/node.crt"); fails the test if unreadable.
std::string ReadPkiFile(const std::string& rel);
// The source tree ($MIR_SOURCE_DIR), for committed fixtures such as test vectors.
std::string SourcePath(const std::string& rel);
// A fresh, empty directory under the test's temp dir.
std::string NewTempDir();

// EXPECT_THAT(status, StatusIs(code)) / StatusIs(code, reason).
MATCHER_P(StatusIs, code, "") { return arg.code() == code; }
MATCHER_P2(StatusIsReason, code, reason,
           "has code " + ::testing::PrintToString(code) + " and reason " +
               ::testing::PrintToString(reason)) {
  *result_listener << "status is " << arg;
  return arg.code() == code && ::mir::ReasonOf(arg) == reason;
}

}  // namespace mir::testing

// Status of a Status or a StatusOr, for matchers.
#define MIR_STATUS(expr) ([&] { return ::mir::testing::internal::StatusOf(expr); }())
namespace mir::testing::internal {
inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace mir::testing::internal

namespace mir::testing {
MATCHER(IsOk, "is OK") {
  *result_listener << "status is " << arg;
  return arg.ok();
}
}  // namespace mir::testing

// `expr` is evaluated once, failing or not: it may have effects.
#define ASSERT_OK(expr) ASSERT_THAT(MIR_STATUS(expr), ::mir::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT(MIR_STATUS(expr), ::mir::testing::IsOk())

#endif  // MIR_TESTS_TESTING_TEST_ENV_H_
