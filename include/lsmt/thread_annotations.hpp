// lsmt/thread_annotations.hpp - lock contracts the compiler checks, and the mutex types that carry
// them.
//
// Clang's -Wthread-safety analysis reads the LSMT_* attributes below: a member marked
// LSMT_GUARDED_BY(m) may only be touched with m held, a function marked LSMT_REQUIRES(m) may only
// be called with m held, and so on. Other compilers see nothing. std::mutex carries no such
// attributes in libstdc++, so the engine locks lsmt::detail::mutex through the scoped types here;
// waits on a condition variable are written as explicit loops (`while (!ready) cv.wait(lock);`)
// so the analysis sees every guarded read happen under the lock.
//
// Thread safety: the mutex and lock types behave as their std:: namesakes.
#ifndef LSMT_THREAD_ANNOTATIONS_HPP
#define LSMT_THREAD_ANNOTATIONS_HPP

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#if defined(__clang__)
#define LSMT_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define LSMT_THREAD_ANNOTATION(x)
#endif

#define LSMT_CAPABILITY(name) LSMT_THREAD_ANNOTATION(capability(name))
#define LSMT_SCOPED_CAPABILITY LSMT_THREAD_ANNOTATION(scoped_lockable)
#define LSMT_GUARDED_BY(m) LSMT_THREAD_ANNOTATION(guarded_by(m))
#define LSMT_PT_GUARDED_BY(m) LSMT_THREAD_ANNOTATION(pt_guarded_by(m))
#define LSMT_ACQUIRED_BEFORE(...) LSMT_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))
#define LSMT_ACQUIRED_AFTER(...) LSMT_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define LSMT_REQUIRES(...) LSMT_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define LSMT_REQUIRES_SHARED(...) LSMT_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define LSMT_ACQUIRE_SHARED(...) LSMT_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define LSMT_RELEASE_SHARED(...) LSMT_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define LSMT_RELEASE_GENERIC(...) LSMT_THREAD_ANNOTATION(release_generic_capability(__VA_ARGS__))
#define LSMT_ACQUIRE(...) LSMT_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define LSMT_RELEASE(...) LSMT_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define LSMT_TRY_ACQUIRE(...) LSMT_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define LSMT_EXCLUDES(...) LSMT_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define LSMT_ASSERT_CAPABILITY(x) LSMT_THREAD_ANNOTATION(assert_capability(x))
#define LSMT_RETURN_CAPABILITY(x) LSMT_THREAD_ANNOTATION(lock_returned(x))
#define LSMT_NO_THREAD_SAFETY_ANALYSIS LSMT_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace lsmt::detail {

/// std::mutex as a capability the analysis knows.
class LSMT_CAPABILITY("mutex") mutex {
 public:
  void lock() LSMT_ACQUIRE() { m_.lock(); }
  bool try_lock() LSMT_TRY_ACQUIRE(true) { return m_.try_lock(); }
  void unlock() LSMT_RELEASE() { m_.unlock(); }
  std::mutex& native() { return m_; }

 private:
  std::mutex m_;
};

/// std::shared_mutex as a capability: exclusive for writers, shared for readers. Both ways of
/// locking first retry try_lock for a few microseconds before they block: its one user, the
/// memtable, is held for a tree descent at most, while a blocked thread's sleep and wake-up cost
/// far more (see spin_tries).
class LSMT_CAPABILITY("shared_mutex") shared_mutex {
 public:
  void lock() LSMT_ACQUIRE() {
    if (!spin([this] { return m_.try_lock(); })) m_.lock();
  }
  void unlock() LSMT_RELEASE() { m_.unlock(); }
  void lock_shared() LSMT_ACQUIRE_SHARED() {
    if (!spin([this] { return m_.try_lock_shared(); })) m_.lock_shared();
  }
  void unlock_shared() LSMT_RELEASE_SHARED() { m_.unlock_shared(); }

 private:
  // 256 tries, about 5 us here (a pause takes about 20 ns on this machine's CPUs). A get that
  // descends a memtable holds the lock shared for a chain of cache misses, a microsecond or
  // more; a writer that gave up sooner went to sleep, and glibc's rwlock hands the lock to a
  // waiting writer when the last reader leaves, so the get that comes next slept until the
  // writer had woken and finished (the time a vCPU takes to leave idle). In readwhilewriting
  // at 1M keys (--cpus=0,1), 64 tries let the writer sleep 3,951 times and the reader 1,312
  // times in one run, 256 tries 169 and 52 times. Over 6 alternated rounds the readers' median
  // went from 516k to 603k gets/s (356k to 379k in a second readwhilewriting, during merges),
  // the writer's from 416k to 429k puts/s. Blocking at once was slower still.
  static constexpr int spin_tries = 256;

  template <class TryLock>
  static bool spin(TryLock try_lock) {
    for (int i = 0; i < spin_tries; ++i) {
      if (try_lock()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    return false;
  }

  std::shared_mutex m_;
};

/// Holds a shared_mutex exclusively for its scope.
class LSMT_SCOPED_CAPABILITY exclusive_lock {
 public:
  explicit exclusive_lock(shared_mutex& m) LSMT_ACQUIRE(m) : m_(m) { m_.lock(); }
  ~exclusive_lock() LSMT_RELEASE() { m_.unlock(); }
  exclusive_lock(const exclusive_lock&) = delete;
  exclusive_lock& operator=(const exclusive_lock&) = delete;

 private:
  shared_mutex& m_;
};

/// Holds a shared_mutex shared for its scope.
class LSMT_SCOPED_CAPABILITY shared_lock {
 public:
  explicit shared_lock(shared_mutex& m) LSMT_ACQUIRE_SHARED(m) : m_(m) { m_.lock_shared(); }
  ~shared_lock() LSMT_RELEASE() { m_.unlock_shared(); }
  shared_lock(const shared_lock&) = delete;
  shared_lock& operator=(const shared_lock&) = delete;

 private:
  shared_mutex& m_;
};

/// A role that is not a lock: one thread at a time holds it by the engine's protocol (the
/// write-queue leader, say). acquire()/release() only tell the analysis when it is held.
class LSMT_CAPABILITY("role") role {
 public:
  void acquire() LSMT_ACQUIRE() {}
  void release() LSMT_RELEASE() {}
};

/// Holds a role for its scope.
class LSMT_SCOPED_CAPABILITY role_guard {
 public:
  explicit role_guard(role& r) LSMT_ACQUIRE(r) : r_(r) { r_.acquire(); }
  ~role_guard() LSMT_RELEASE() { r_.release(); }
  role_guard(const role_guard&) = delete;
  role_guard& operator=(const role_guard&) = delete;

 private:
  role& r_;
};

/// std::lock_guard for lsmt::detail::mutex.
class LSMT_SCOPED_CAPABILITY lock_guard {
 public:
  explicit lock_guard(mutex& m) LSMT_ACQUIRE(m) : m_(m) { m_.lock(); }
  ~lock_guard() LSMT_RELEASE() { m_.unlock(); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  mutex& m_;
};

/// Owns a mutex the caller already locked (a try_lock() that succeeded), until its scope ends.
class LSMT_SCOPED_CAPABILITY adopted_lock {
 public:
  explicit adopted_lock(mutex& m) LSMT_REQUIRES(m) : m_(m) {}
  ~adopted_lock() LSMT_RELEASE() { m_.unlock(); }
  adopted_lock(const adopted_lock&) = delete;
  adopted_lock& operator=(const adopted_lock&) = delete;

 private:
  mutex& m_;
};

/// std::unique_lock for lsmt::detail::mutex: held from construction; unlock() and lock() may
/// release and retake it; the destructor releases it if held.
class LSMT_SCOPED_CAPABILITY unique_lock {
 public:
  explicit unique_lock(mutex& m) LSMT_ACQUIRE(m) : lock_(m.native()) {}
  ~unique_lock() LSMT_RELEASE() = default;
  unique_lock(const unique_lock&) = delete;
  unique_lock& operator=(const unique_lock&) = delete;
  void lock() LSMT_ACQUIRE() { lock_.lock(); }
  void unlock() LSMT_RELEASE() { lock_.unlock(); }
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

/// A condition variable waited on through a unique_lock. No predicate overloads: callers loop,
/// so the analysis sees their guarded reads under the lock.
class cond_var {
 public:
  void wait(unique_lock& l) { cv_.wait(l.native()); }
  template <class Rep, class Period>
  void wait_for(unique_lock& l, std::chrono::duration<Rep, Period> d) {
    cv_.wait_for(l.native(), d);
  }
  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace lsmt::detail

#endif  // LSMT_THREAD_ANNOTATIONS_HPP
