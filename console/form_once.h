#ifndef MIR_CONSOLE_FORM_ONCE_H_
#define MIR_CONSOLE_FORM_ONCE_H_

// One report per filled-in public form (docs/CONSOLE-API.md, "The public
// form"). Each form page carries a one-time token; a post of the same form
// again (a double click, a reload that posts again, a retry after a slow
// answer) gets the first post's answer, the same receipt, instead of
// recording the report a second time. A repeat is the same token *and* the
// same fields: a form changed and sent again is a new report.
//
// Only a recorded report's answer is kept, in memory only, for `keep` and at
// most `max_kept` of them (the oldest forgotten first). The key is a hash of
// the token and the fields: what was reported is not kept here. A repeat
// that arrives while the first is still being recorded waits for it.
// Thread-safe.

#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace mir::console {

class FormOnce {
 public:
  struct Answer {
    int status = 0;
    std::string page;
  };

  // `clock` must outlive this.
  FormOnce(const Clock* clock, absl::Duration keep, size_t max_kept);

  // A fresh token for a form page: 16 random bytes, base64url (22 characters).
  static std::string NewToken();
  static bool WellFormed(absl::string_view token);

  // Runs `record` for the post `body` of the form `token`, unless the same
  // post was recorded within `keep`: then returns that answer. A 200 answer
  // is kept; any other lets the same post be tried again. Without a well-
  // formed token (a page from before tokens) it just runs `record`.
  Answer Once(absl::string_view token, absl::string_view body, absl::FunctionRef<Answer()> record);

  // Answers kept now, for tests.
  size_t kept() const;

 private:
  struct Entry {
    bool done = false;
    Answer answer;
  };
  void ForgetOld(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* const clock_;
  const absl::Duration keep_;
  const size_t max_kept_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Kept answers' keys, oldest first, with when they were kept.
  std::deque<std::pair<absl::Time, std::string>> kept_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mir::console

#endif  // MIR_CONSOLE_FORM_ONCE_H_
