#include "common/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
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

std::string EscapeLogLine(absl::string_view text, size_t max_bytes) {
  std::string line;
  line.reserve(std::min(text.size(), max_bytes) + 32);
  size_t i = 0;
  for (; i < text.size() && line.size() < max_bytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      absl::StrAppend(&line, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      line.push_back(static_cast<char>(c));
    }
  }
  if (i < text.size()) absl::StrAppend(&line, "...[", text.size() - i, " more bytes]");
  return line;
}

LogLine::~LogLine() {
  // One line per entry whatever the values hold: a newline in an id from
  // the network cannot forge a line, nor a huge one flood the log.
  std::string line = EscapeLogLine(out_.str(), kMaxLogLineBytes);
  line.push_back('\n');
  // Best effort: a failed log write must never take the broker down.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace mir::log_internal
