// lsmt/idle_settler.hpp - the compaction thread's part of the idle settle (idle_settle.hpp):
// noticing that writes stopped, deciding whether settling pays, and rotating the memtable.
//
// Thread safety: used by the compaction thread alone (background.hpp), which holds
// store_core::state_mutex where the methods say so.
#ifndef LSMT_IDLE_SETTLER_HPP
#define LSMT_IDLE_SETTLER_HPP

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "idle_settle.hpp"
#include "internal_key.hpp"
#include "store_core.hpp"
#include "thread_annotations.hpp"
#include "write_path.hpp"

namespace lsmt::detail {

class idle_settler {
 public:
  /// `writes` rotates the memtable for a settle; `opts` gives the delay. Each method takes the
  /// store (the one `writes` writes to), so the analysis sees which state_mutex it needs.
  idle_settler(const options& opts, write_path& writes)
      : writes_(writes), idle_(opts.idle_settle_ms) {}

  /// A settle's memtable is in level 0: its merge may run (compaction_picker::settle_job).
  static bool ready(const store_core& c) LSMT_REQUIRES(c.state_mutex) {
    return c.settle_due && c.imms.empty() && !c.flushing;
  }

  /// Waits for work. With something to settle (idle_settle.hpp), it waits at most until the
  /// store has been quiet for options::idle_settle_ms: true then, if settling pays. Once that
  /// moment has passed for the newest write (settled, or not worth it), it waits for the next
  /// write, or other work, with no periodic wake-up (a 60 s safety net aside).
  bool wait_for_quiet(store_core& c, unique_lock& s) LSMT_REQUIRES(c.state_mutex) {
    const bool unsettled = c.mem->entry_count() > 0 || !c.current->levels[0].empty();
    if (!idle_.enabled() || c.failed.load() || !unsettled) {
      idle_.stop();
      c.work_cv.wait(s);  // the first write into an empty memtable wakes it (write_path.hpp)
      return false;
    }
    const uint64_t sequence = c.last_sequence.load(std::memory_order_acquire);
    if (!c.imms.empty() || c.flushing) {  // a flush is under way: its end wakes this thread
      idle_.observe(sequence, idle_watch::clock::now());
      c.work_cv.wait(s);
      return false;
    }
    idle_watch::clock::duration wait{};
    if (idle_.quiet(sequence, idle_watch::clock::now(), &wait) &&
        c.picker.settle_pays(*c.current, c.mem->entry_bytes(), memtable_keys(c))) {
      return true;
    }
    if (idle_.fired_for(sequence)) {
      // Settled, or not worth settling, for this sequence number: nothing changes before a
      // write, so wait for one (write_path.hpp wakes a parked thread) instead of waking every
      // idle_settle_ms. The flag is stored before the sequence is loaded again, both seq_cst,
      // as the writer stores the sequence before it loads the flag: either this thread sees
      // the write, or the writer sees the flag and notifies once this thread waits (it holds
      // state_mutex until then). The timeout is only a safety net.
      c.settler_parked.store(true, std::memory_order_seq_cst);
      if (c.last_sequence.load(std::memory_order_seq_cst) == sequence) {
        c.work_cv.wait_for(s, parked_safety_net);
      }
      c.settler_parked.store(false, std::memory_order_relaxed);
      return false;
    }
    c.work_cv.wait_for(s, wait);
    return false;
  }

  /// Called as a merge starts: its time counts towards the quiet period if no write comes.
  void merge_starts(const store_core& c) {
    if (idle_.enabled()) {
      idle_.observe(c.last_sequence.load(std::memory_order_acquire), idle_watch::clock::now());
    }
  }

  /// A settle's first step: the memtable's rotation, if it holds `entries` (a flush then writes
  /// it). False if the write queue was busy (a writer, a flush() or a checkpoint came first: the
  /// watch starts a new quiet period) or the rotation failed (not retried before a write).
  bool rotate(const store_core& c, size_t entries) LSMT_EXCLUDES(c.state_mutex) {
    if (entries > 0) {
      try {
        if (!writes_.try_rotate_when_idle()) {
          idle_.stop();
          const uint64_t sequence = c.last_sequence.load(std::memory_order_acquire);
          if (c.logging() && sequence != busy_logged_) {  // once per quiet store, not per try
            busy_logged_ = sequence;
            c.log(log_level::info, "idle settle: the write queue is busy; waiting for another " +
                                       std::to_string(c.opts.idle_settle_ms) + " ms of quiet");
          }
          return false;
        }
      } catch (const std::exception& e) {  // closing, or the new log failed: writers meet it
        if (!c.closing()) {
          c.log(log_level::warning, std::string("idle settle: rotation failed: ") + e.what());
        }
        return false;
      }
    }
    if (c.logging()) {
      c.log(log_level::info,
            "idle settle: no writes for " + std::to_string(c.opts.idle_settle_ms) + " ms; " +
                (entries > 0 ? "rotated the memtable (" + std::to_string(entries) + " entries), " +
                                   "then level 0 merges down once flushed, if that still pays"
                             : std::string("level 0 merges down")));
    }
    return true;
  }

 private:
  // The user keys of the memtable, for settle_pays.
  static key_span memtable_keys(const store_core& c) LSMT_REQUIRES(c.state_mutex) {
    key_span keys;
    keys.unbounded = c.mem->has_range_deletions();
    if (c.mem->entry_count() == 0 || keys.unbounded) return keys;
    const auto it = c.mem->new_iterator();
    it->seek_to_first();
    if (it->valid()) keys.lo.assign(extract_user_key(it->key()));
    it->seek_to_last();
    if (it->valid()) keys.hi.assign(extract_user_key(it->key()));
    return keys;
  }

  static constexpr std::chrono::seconds parked_safety_net{60};

  write_path& writes_;
  idle_watch idle_;
  uint64_t busy_logged_ = 0;  // the sequence number a busy queue was last logged at
};

}  // namespace lsmt::detail

#endif  // LSMT_IDLE_SETTLER_HPP
