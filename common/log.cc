#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace mir::log_internal {
namespace {
std::atomic<bool> g_enabled{true};
}  // namespace

void SetLoggingEnabled(bool enabled) { g_enabled.store(enabled); }
bool LoggingEnabled() { return g_enabled.load(std::memory_order_relaxed); }

LogLine::LogLine(Level level) {
  static constexpr const char* kNames[] = {"INFO", "WARN", "ERROR"};
  out_ << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()) << ' '
       << kNames[static_cast<int>(level)] << ' ';
}

LogLine::~LogLine() {
  out_ << '\n';
  const std::string line = out_.str();
  // Best effort: a failed log write must never take the broker down.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace mir::log_internal
