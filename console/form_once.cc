#include "console/form_once.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "console/tokens.h"
#include "crypto/envelope_bytes.h"

namespace mir::console {
namespace {

constexpr size_t kTokenBytes = 16;
constexpr size_t kTokenChars = 22;  // base64url of 16 bytes, unpadded

}  // namespace

FormOnce::FormOnce(const Clock* clock, absl::Duration keep, size_t max_kept)
    : clock_(clock), keep_(keep), max_kept_(max_kept) {}

std::string FormOnce::NewToken() { return RandomToken(kTokenBytes); }

bool FormOnce::WellFormed(absl::string_view token) {
  if (token.size() != kTokenChars) return false;
  for (char c : token) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

FormOnce::Answer FormOnce::Once(absl::string_view token, absl::string_view body,
                                absl::FunctionRef<Answer()> record) {
  if (!WellFormed(token)) return record();
  // The token is in the body too; hashing both keeps the key one length.
  const std::string key = Sha256(absl::StrCat(token, "\n", body));
  {
    absl::MutexLock lock(&mu_);
    ForgetOld(clock_->Now());
    while (true) {
      auto it = entries_.find(key);
      if (it == entries_.end()) break;
      if (it->second.done) return it->second.answer;
      // The same post is being recorded: wait for it, then read again (it
      // is kept if it was recorded, gone if it failed).
      auto finished = [this, &key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        auto at = entries_.find(key);
        return at == entries_.end() || at->second.done;
      };
      mu_.Await(absl::Condition(&finished));
    }
    entries_.emplace(key, Entry{});
  }
  Answer answer;
  try {
    answer = record();
  } catch (...) {
    // Else a repeat would wait for this post forever.
    absl::MutexLock lock(&mu_);
    entries_.erase(key);
    throw;
  }
  absl::MutexLock lock(&mu_);
  if (answer.status != 200) {
    entries_.erase(key);
    return answer;
  }
  Entry& entry = entries_[key];
  entry.done = true;
  entry.answer = answer;
  kept_.emplace_back(clock_->Now(), key);
  ForgetOld(clock_->Now());
  return answer;
}

size_t FormOnce::kept() const {
  absl::MutexLock lock(&mu_);
  return kept_.size();
}

void FormOnce::ForgetOld(absl::Time now) {
  while (!kept_.empty() && (kept_.size() > max_kept_ || now - kept_.front().first >= keep_)) {
    entries_.erase(kept_.front().second);
    kept_.pop_front();
  }
}

}  // namespace mir::console
