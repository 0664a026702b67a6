// Makes Debian's absl::Mutex visible to ThreadSanitizer (scripts/test-tsan.sh,
// RELIABILITY.md §9). Linked into every test binary of a -DMIR_TSAN=ON build
// (tests/CMakeLists.txt), nowhere else.
//
// Debian's libabsl_synchronization is not built with -fsanitize=thread, so
// its Mutex makes none of the __tsan_mutex_* calls Abseil makes in a TSan
// build: TSan sees no happens-before edge from an Unlock to the next Lock,
// and a counter incremented by two threads under absl::MutexLock is
// reported as a race. This file defines the exported Mutex, CondVar and
// Notification entry points in the test binary itself (exported, -Wl,-E):
// the dynamic linker then binds every call to them here, our code's and
// Abseil's own (its calls go through the PLT), and each definition makes the
// annotations Abseil's TSan build makes around a call of the real function,
// found with dlsym(RTLD_NEXT).
//
// What TSan then sees:
// - Lock/Unlock (reader and writer, Try*), LockWhen*, and Await* and
//   CondVar::Wait* (a release before, an acquire after): the mutex's
//   happens-before edges, lock-order inversions, unlocks of a mutex not held.
// - Accesses made while a wrapped call runs are ignored (TSan ignores them
//   between pre_lock and post_lock, pre_unlock and post_unlock): a Condition
//   that Abseil evaluates inside Await, LockWhen or another thread's Unlock
//   reads guarded fields under the real lock, which TSan cannot know. The
//   clang -Wthread-safety build (scripts/check-thread-safety.sh) checks
//   those lambdas instead (ABSL_SHARED_LOCKS_REQUIRED).
// - Notification: a release at Notify, an acquire after a wait that saw it.
//   Not HasBeenNotified(), inline in the header: it reads an atomic that the
//   uninstrumented Notify wrote, and gives no edge. Our code does not use it.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

// The real functions are found by their mangled names, which carry Abseil's
// inline namespace.
static_assert(sizeof(ABSL_INTERNAL_INLINE_NAMESPACE_STR) == sizeof("debian3") &&
                  ABSL_INTERNAL_INLINE_NAMESPACE_STR[0] == 'd' &&
                  ABSL_INTERNAL_INLINE_NAMESPACE_STR[6] == '3',
              "not Debian 12's Abseil (namespace absl::debian3): update the names below");
#define MIR_ABSL(name) "_ZN4absl7debian3" name
#define MIR_ABSL_CONST(name) "_ZNK4absl7debian3" name  // a const member function

namespace {

template <typename Fn>
Fn Real(const char* name) {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fprintf(stderr, "absl_sync_tsan: %s not found in Abseil\n", name);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

// True for the outermost wrapped Mutex or CondVar call on this thread.
// Abseil's functions call one another through the exported symbols, so
// through these definitions (LockWhenWithTimeout calls LockWhenWithDeadline):
// only the outermost call is annotated, or TSan sees the mutex taken twice.
class Outermost {
 public:
  Outermost() : outermost_(depth_++ == 0) {}
  ~Outermost() { --depth_; }
  Outermost(const Outermost&) = delete;
  Outermost& operator=(const Outermost&) = delete;
  explicit operator bool() const { return outermost_; }

 private:
  static thread_local int depth_;
  const bool outermost_;
};
thread_local int Outermost::depth_ = 0;

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;
constexpr unsigned kTryFailed = __tsan_mutex_try_lock | __tsan_mutex_try_lock_failed;

// A lock (Lock, LockWhen...): taken after the real call returns.
template <typename Call>
auto Locking(void* mu, unsigned flags, Call call) {
  const Outermost outer;
  if (outer) __tsan_mutex_pre_lock(mu, flags);
  auto result = call();
  if (outer) __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

// A wait with the mutex held (Await, CondVar::Wait), which releases and
// takes it again inside: released before, taken after.
template <typename Call>
auto Waiting(void* mu, Call call) {
  const Outermost outer;
  if (outer) {
    __tsan_mutex_pre_unlock(mu, 0);
    __tsan_mutex_post_unlock(mu, 0);
    __tsan_mutex_pre_lock(mu, 0);
  }
  auto result = call();
  if (outer) __tsan_mutex_post_lock(mu, 0, 0);
  return result;
}

// The void calls return this, so that one template serves both.
struct Done {};

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

using CondRef = const Condition&;

// Mutex::Mutex() is inline and calls __tsan_mutex_create when our code is
// built with TSan; the destructor is not.
Mutex::~Mutex() {
  static const auto real = Real<void (*)(Mutex*)>(MIR_ABSL("5MutexD1Ev"));
  __tsan_mutex_destroy(this, 0);
  real(this);
}

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>(MIR_ABSL("5Mutex4LockEv"));
  Locking(this, 0, [&] { return real(this), Done{}; });
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>(MIR_ABSL("5Mutex10ReaderLockEv"));
  Locking(this, kRead, [&] { return real(this), Done{}; });
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>(MIR_ABSL("5Mutex7TryLockEv"));
  const Outermost outer;
  if (outer) __tsan_mutex_pre_lock(this, kTry);
  const bool locked = real(this);
  if (outer) __tsan_mutex_post_lock(this, locked ? kTry : kTryFailed, 0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>(MIR_ABSL("5Mutex13ReaderTryLockEv"));
  const Outermost outer;
  if (outer) __tsan_mutex_pre_lock(this, kRead | kTry);
  const bool locked = real(this);
  if (outer) __tsan_mutex_post_lock(this, kRead | (locked ? kTry : kTryFailed), 0);
  return locked;
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>(MIR_ABSL("5Mutex6UnlockEv"));
  const Outermost outer;
  if (outer) __tsan_mutex_pre_unlock(this, 0);
  real(this);
  if (outer) __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>(MIR_ABSL("5Mutex12ReaderUnlockEv"));
  const Outermost outer;
  if (outer) __tsan_mutex_pre_unlock(this, kRead);
  real(this);
  if (outer) __tsan_mutex_post_unlock(this, kRead);
}

// The *WithTimeout and *WithDeadline variants hold the mutex on return
// whether or not the condition became true.
void Mutex::LockWhen(CondRef cond) {
  static const auto real =
      Real<void (*)(Mutex*, CondRef)>(MIR_ABSL("5Mutex8LockWhenERKNS0_9ConditionE"));
  Locking(this, 0, [&] { return real(this, cond), Done{}; });
}

void Mutex::ReaderLockWhen(CondRef cond) {
  static const auto real =
      Real<void (*)(Mutex*, CondRef)>(MIR_ABSL("5Mutex14ReaderLockWhenERKNS0_9ConditionE"));
  Locking(this, kRead, [&] { return real(this, cond), Done{}; });
}

bool Mutex::LockWhenWithTimeout(CondRef cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, CondRef, absl::Duration)>(
      MIR_ABSL("5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  return Locking(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::LockWhenWithDeadline(CondRef cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, CondRef, absl::Time)>(
      MIR_ABSL("5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  return Locking(this, 0, [&] { return real(this, cond, deadline); });
}

bool Mutex::ReaderLockWhenWithTimeout(CondRef cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, CondRef, absl::Duration)>(
      MIR_ABSL("5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  return Locking(this, kRead, [&] { return real(this, cond, timeout); });
}

bool Mutex::ReaderLockWhenWithDeadline(CondRef cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, CondRef, absl::Time)>(
      MIR_ABSL("5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  return Locking(this, kRead, [&] { return real(this, cond, deadline); });
}

// Await* and CondVar::Wait* are called with the mutex held as a writer (our
// code never waits under a reader lock).
void Mutex::Await(CondRef cond) {
  static const auto real =
      Real<void (*)(Mutex*, CondRef)>(MIR_ABSL("5Mutex5AwaitERKNS0_9ConditionE"));
  Waiting(this, [&] { return real(this, cond), Done{}; });
}

bool Mutex::AwaitWithTimeout(CondRef cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, CondRef, absl::Duration)>(
      MIR_ABSL("5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  return Waiting(this, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(CondRef cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, CondRef, absl::Time)>(
      MIR_ABSL("5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  return Waiting(this, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<void (*)(CondVar*, Mutex*)>(MIR_ABSL("7CondVar4WaitEPNS0_5MutexE"));
  Waiting(mu, [&] { return real(this, mu), Done{}; });
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      MIR_ABSL("7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE"));
  return Waiting(mu, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      MIR_ABSL("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE"));
  return Waiting(mu, [&] { return real(this, mu, deadline); });
}

// Notification: Notify sets an atomic flag, and a wait that finds it set
// returns at once without touching the mutex, both inside the library.
void Notification::Notify() {
  static const auto real = Real<void (*)(Notification*)>(MIR_ABSL("12Notification6NotifyEv"));
  __tsan_release(this);
  real(this);
}

void Notification::WaitForNotification() const {
  static const auto real =
      Real<void (*)(const Notification*)>(MIR_ABSL_CONST("12Notification19WaitForNotificationEv"));
  real(this);
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Duration)>(
      MIR_ABSL_CONST("12Notification30WaitForNotificationWithTimeoutENS0_8DurationE"));
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Time)>(
      MIR_ABSL_CONST("12Notification31WaitForNotificationWithDeadlineENS0_4TimeE"));
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
