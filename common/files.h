#ifndef MIR_COMMON_FILES_H_
#define MIR_COMMON_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace mir {

// The whole file; NOT_FOUND naming the path if it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace mir

#endif  // MIR_COMMON_FILES_H_
