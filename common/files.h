#ifndef MIR_COMMON_FILES_H_
#define MIR_COMMON_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace mir {

// The whole file; NOT_FOUND naming the path if it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// A node's data describes victims of trafficking: its folder is 0700 and its
// files 0600, whatever the umask, so no other local user can read them.

// Creates `dir` and any missing parents; the folders it creates are 0700.
// An existing `dir` is left as it is (see CheckPrivateDirectory).
absl::Status MakePrivateDirectory(const std::string& dir);

// FAILED_PRECONDITION, with the chmod that fixes it, when group or others
// have any permission on `dir`; NOT_FOUND when it does not exist.
absl::Status CheckPrivateDirectory(const std::string& dir);

// Creates `path` empty if it is missing; either way leaves it mode 0600.
absl::Status MakePrivateFile(const std::string& path);

}  // namespace mir

#endif  // MIR_COMMON_FILES_H_
