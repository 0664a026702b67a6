#ifndef MIR_COMMON_STATUS_MACROS_H_
#define MIR_COMMON_STATUS_MACROS_H_

// Abseil 20220623 (Debian 12) ships no status macros; these are the usual two.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MIR_CONCAT_INNER_(a, b) a##b
#define MIR_CONCAT_(a, b) MIR_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::absl::Status mir_status_ = (expr);       \
    if (!mir_status_.ok()) return mir_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr());`
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  MIR_ASSIGN_OR_RETURN_IMPL_(MIR_CONCAT_(mir_statusor_, __LINE__), lhs, rexpr)

#define MIR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)   \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // MIR_COMMON_STATUS_MACROS_H_
