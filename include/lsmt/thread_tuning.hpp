// lsmt/thread_tuning.hpp - what the background threads set up about themselves when they start
// (background.hpp): a name that ps, top and gdb show, and, for the compaction thread, a lower
// CPU priority, so that on a busy machine the readers and writers that wait for an answer run
// before merges that nobody waits for (options::compaction_nice).
//
// Both are Linux only (a thread's name and its own nice value are Linux features: elsewhere
// setpriority() would renice the whole process), and both are advice: a failure changes
// nothing else and is ignored.
//
// Thread safety: each function acts on the calling thread only.
#ifndef LSMT_THREAD_TUNING_HPP
#define LSMT_THREAD_TUNING_HPP

#if defined(__linux__)
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#endif

namespace lsmt::detail {

/// Names the calling thread (at most 15 characters are kept).
inline void name_this_thread(const char* name) noexcept {
#if defined(__linux__)
  (void)pthread_setname_np(pthread_self(), name);
#else
  (void)name;
#endif
}

/// Adds `increment` (0 .. 19) to the calling thread's nice value, up to 19.
inline void lower_this_thread_priority(int increment) noexcept {
#if defined(__linux__)
  if (increment <= 0) return;
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, tid);  // -1 is a valid nice value: check errno
  if (now == -1 && errno != 0) return;
  const int wanted = now + increment < 19 ? now + increment : 19;
  if (wanted > now) (void)setpriority(PRIO_PROCESS, tid, wanted);
#else
  (void)increment;
#endif
}

}  // namespace lsmt::detail

#endif  // LSMT_THREAD_TUNING_HPP
