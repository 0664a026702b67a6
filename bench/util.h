#ifndef MIR_BENCH_UTIL_H_
#define MIR_BENCH_UTIL_H_

// Small measuring helpers for mir-bench: latency samples, CPU and memory of
// a process from /proc, the disk checks. Nothing here asserts anything.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/loopback.h"

namespace mir::bench {

using SteadyClock = std::chrono::steady_clock;

inline double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}
inline double MicrosSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count();
}

// Latency samples in microseconds. Thread-safe.
class Samples {
 public:
  void Add(double micros) {
    absl::MutexLock lock(&mu_);
    v_.push_back(micros);
  }
  // p in [0, 1]; 0 when empty.
  double Percentile(double p) const;
  size_t size() const {
    absl::MutexLock lock(&mu_);
    return v_.size();
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<double> v_ ABSL_GUARDED_BY(mu_);
};

// What one closed-loop run measured.
struct RunFigures {
  int in_flight = 0;
  int completed = 0;
  int failed = 0;
  double seconds = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0;
  std::string first_error;
  double rate() const { return seconds > 0 ? completed / seconds : 0; }
};
void FillPercentiles(const Samples& samples, RunFigures* figures);

// user+system CPU seconds of a live process (/proc/<pid>/stat), -1 if gone.
double ProcessCpuSeconds(pid_t pid);
// user+system CPU seconds of this process (getrusage).
double SelfCpuSeconds();
// VmHWM (peak resident set) of a live process, in MiB; -1 if unknown.
double PeakRssMiB(pid_t pid);

// True if `dir` is on tmpfs (which never syncs, so measures nothing).
bool IsTmpfs(const std::string& dir);

// Creates `dir` (and parents) for a network's files, mode 0700 as a broker
// requires of its data folder.
void MakeWorkDir(const std::string& dir);
// Median write(4 KiB)+fdatasync on a scratch file in `dir`, in microseconds:
// the floor under any durable commit (the same probe as mir-store-bench).
double FdatasyncMicros(const std::string& dir);

// Bytes of `path` and its -wal, -shm files.
int64_t DatabaseBytes(const std::string& path);

// Loopback ports: see common/loopback.h.
inline int FreePort() { return FreeLoopbackPort(); }
inline bool Listening(int port) { return LoopbackListening(port); }

}  // namespace mir::bench

#endif  // MIR_BENCH_UTIL_H_
