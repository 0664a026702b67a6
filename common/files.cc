#include "common/files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mir {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  const int err = errno;
  return absl::Status(
      err == ENOENT ? absl::StatusCode::kNotFound : absl::StatusCode::kFailedPrecondition,
      absl::StrCat("cannot ", what, " ", path, ": ", strerror(err)));
}

}  // namespace

absl::Status MakePrivateDirectory(const std::string& dir) {
  std::filesystem::path path(dir);
  if (path.empty()) return absl::InvalidArgumentError("empty folder name");
  std::vector<std::filesystem::path> missing;
  for (auto p = path; !p.empty() && !std::filesystem::exists(p); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    // mkdir's mode passes through the umask, which may only take bits away.
    if (mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) return Errno("create folder", *it);
  }
  return absl::OkStatus();
}

absl::Status CheckPrivateDirectory(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return Errno("find folder", dir);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " is not a folder"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "the data folder %s is open to other users (mode %04o); it holds data about victims of "
        "trafficking: run 'chmod 700 %s' and start again",
        dir, st.st_mode & 07777, dir));
  }
  return absl::OkStatus();
}

absl::Status MakePrivateFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Errno("open", path);
  struct stat st {};
  absl::Status status;
  if (fstat(fd, &st) != 0) {
    status = Errno("inspect", path);
  } else if ((st.st_mode & 0777) != 0600 && fchmod(fd, 0600) != 0) {
    status = Errno("restrict the permissions of", path);
  }
  close(fd);
  return status;
}

}  // namespace mir
