#ifndef MIR_COMMON_LOG_H_
#define MIR_COMMON_LOG_H_

// Minimal line logging to stderr (Debian's Abseil has no absl/log).
//
//   MIR_LOG(INFO) << "delivered message " << id << " to " << peer;
//
// Log ids, states, counts, node names and reasons only: never envelope
// bodies, referral fields, notes or key material.

#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace mir::log_internal {

// A line longer than this is cut, saying how much was left out.
inline constexpr size_t kMaxLogLineBytes = 2048;

// `text` with control characters written as \xNN (so it stays one line),
// cut at `max_bytes`. What every log line goes through.
std::string EscapeLogLine(absl::string_view text, size_t max_bytes);

enum class Level { kInfo, kWarning, kError };

// Collects one line and writes it with a single write(2) when destroyed, so
// lines from concurrent threads never interleave.
class LogLine {
 public:
  explicit LogLine(Level level);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  std::ostream& stream() { return out_; }

 private:
  std::ostringstream out_;
};

// Turns logging off or on for this process (tests and benchmarks stay quiet).
void SetLoggingEnabled(bool enabled);
bool LoggingEnabled();

#define MIR_LOG_LEVEL_INFO ::mir::log_internal::Level::kInfo
#define MIR_LOG_LEVEL_WARNING ::mir::log_internal::Level::kWarning
#define MIR_LOG_LEVEL_ERROR ::mir::log_internal::Level::kError

// Lets MIR_LOG be one expression, safe inside an unbraced if/else.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace mir::log_internal

#define MIR_LOG(level)                   \
  !::mir::log_internal::LoggingEnabled() \
      ? (void)0                          \
      : ::mir::log_internal::Voidify() & \
            ::mir::log_internal::LogLine(MIR_LOG_LEVEL_##level).stream()

#endif  // MIR_COMMON_LOG_H_
