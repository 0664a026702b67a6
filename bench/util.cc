#include "bench/util.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace mir::bench {
namespace {
constexpr long kTmpfsMagic = 0x01021994;
}  // namespace

double Samples::Percentile(double p) const {
  std::vector<double> v;
  {
    absl::MutexLock lock(&mu_);
    v = v_;
  }
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

void FillPercentiles(const Samples& samples, RunFigures* figures) {
  figures->p50_us = samples.Percentile(0.5);
  figures->p99_us = samples.Percentile(0.99);
  figures->p999_us = samples.Percentile(0.999);
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces: count fields after its ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields = absl::StrSplit(text.substr(close + 2), ' ');
  // After ')': field 3 is index 0, so utime (14) and stime (15) are 11 and 12.
  if (fields.size() < 13) return -1;
  double utime = 0, stime = 0;
  if (!absl::SimpleAtod(fields[11], &utime) || !absl::SimpleAtod(fields[12], &stime)) return -1;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double PeakRssMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    double kib = 0;
    fields >> kib;
    return kib / 1024.0;
  }
  return -1;
}

bool IsTmpfs(const std::string& dir) {
  struct statfs fs {};
  return statfs(dir.c_str(), &fs) == 0 && static_cast<long>(fs.f_type) == kTmpfsMagic;
}

double FdatasyncMicros(const std::string& dir) {
  const std::string path = dir + "/fdatasync-probe";
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (fd < 0) return -1;
  const std::string block(4096, 'x');
  // Allocate the 64 KiB first, so the timed calls overwrite (as a WAL in use does).
  for (int i = 0; i < 16; ++i) {
    if (pwrite(fd, block.data(), block.size(), static_cast<off_t>(i) * 4096) < 0) break;
  }
  fsync(fd);
  Samples micros;
  for (int i = 0; i < 200; ++i) {
    const auto start = SteadyClock::now();
    if (pwrite(fd, block.data(), block.size(), static_cast<off_t>(i % 16) * 4096) < 0 ||
        fdatasync(fd) != 0)
      break;
    micros.Add(MicrosSince(start));
  }
  close(fd);
  unlink(path.c_str());
  return micros.Percentile(0.5);
}

int64_t DatabaseBytes(const std::string& path) {
  int64_t total = 0;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    struct stat st {};
    if (stat((path + suffix).c_str(), &st) == 0) total += st.st_size;
  }
  return total;
}

void MakeWorkDir(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace);
}

}  // namespace mir::bench
