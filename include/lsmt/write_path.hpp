// lsmt/write_path.hpp - the writer queue, group commit and memtable rotation.
//
// Where a write goes: write() queues the batch; the writer at the head of the queue (the leader)
// gathers the batches queued behind it into one WAL record, appends it (and syncs once for the
// whole group if any member asked for sync), inserts the entries into the memtable and only
// then publishes their sequence numbers, so readers see a batch entirely or not at all. The
// leader works without the queue's mutex held, so followers keep queueing; nobody else touches
// the current log or writes the memtable, because only the leader does (or the compaction thread
// standing in for one, below). A full memtable becomes immutable and gets a fresh log
// (log_set.hpp); the flush thread writes it to a table (background.hpp). Writers wait while too
// many immutable memtables await their flush, or while merging falls far behind (level 0's
// tables: write_throttle.hpp). The one rotation not made by a leader is an idle settle's
// (try_rotate_when_idle): the compaction thread takes the queue's mutex with an empty queue, so
// it stands in for a leader meanwhile.
//
// Before that stop, writes slow down (write_throttle.hpp): pace() makes the leader sleep off
// what each group owes while level 0 or the levels above the bottom hold too much. A failure
// meanwhile fails the group.
//
// Thread safety: run() may be called from any number of threads, try_rotate_when_idle() from the
// compaction thread; the queue's mutex guards the queue, and leadership (log_set::writer_role)
// is held by one thread at a time.
#ifndef LSMT_WRITE_PATH_HPP
#define LSMT_WRITE_PATH_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "error.hpp"
#include "store_core.hpp"
#include "thread_annotations.hpp"
#include "wal.hpp"
#include "write_batch.hpp"
#include "write_throttle.hpp"

namespace lsmt::detail {

class write_path {
 public:
  /// write: a batch; rotate: a forced memtable rotation (flush); close; barrier: runs `check`
  /// while no write can interleave (barrier_log() tells it where the current log ends).
  enum class kind { write, rotate, close, barrier };

  struct log_position {
    uint64_t number = 0;  // the current log
    uint64_t size = 0;    // its bytes: header and whole records
  };
  /// Inside a barrier's function: the current log and its size when the barrier began.
  log_position barrier_log() const LSMT_NO_THREAD_SAFETY_ANALYSIS { return barrier_log_; }

  explicit write_path(store_core& core) : c_(core) {}

  /// Runs one request through the queue: a batch to apply (`check` runs first, while no other
  /// write can interleave; it may throw to refuse the batch), a forced memtable rotation (flush),
  /// or the close, after which every request fails with closed_error. Throws what failed.
  void run(kind k, raw_batch* batch, bool sync, const std::function<void()>* check)
      LSMT_EXCLUDES(mutex_) {
    writer w{k, batch, sync, check, false, nullptr, {}};
    unique_lock l(mutex_);
    writers_.push_back(&w);
    while (!w.done && &w != writers_.front()) w.cv.wait(l);
    if (w.done) {
      if (w.error) std::rethrow_exception(w.error);
      return;
    }
    writer* last = &w;
    std::exception_ptr err;
    try {
      role_guard lead(c_.logs.writer_role());  // w leads until it pops itself
      c_.ensure_open();
      if (k == kind::close) {
        {
          lock_guard s(c_.state_mutex);
          c_.set_life(lifecycle::closing);
        }
        c_.logs.close_all();
      } else if (k == kind::barrier) {
        barrier_log_ = {c_.logs.current_number(), c_.logs.current_size()};
        (*check)();
      } else {
        make_room(k == kind::rotate);
        if (k == kind::write) {
          if (check != nullptr) (*check)();
          raw_batch* group = build_group(&last);
          apply_group(group);
        }
      }
    } catch (...) {
      err = std::current_exception();
    }
    for (;;) {
      writer* r = writers_.front();
      writers_.pop_front();
      if (r != &w) {
        r->error = err;
        r->done = true;
        r->cv.notify_one();
      }
      if (r == last) break;
    }
    if (!writers_.empty()) writers_.front()->cv.notify_one();
    std::vector<std::string> stalls;
    stalls.swap(stall_messages_);  // a leader's, and this thread led
    l.unlock();
    for (const std::string& m : stalls) c_.log(log_level::warning, m);
    if (err) std::rethrow_exception(err);
  }

  /// The idle settle's rotation (idle_settle.hpp): rotates a non-empty memtable, but only if the
  /// queue is free this moment (its mutex not held, nobody queued) and writers would not stall.
  /// The compaction thread calls it, so it must never wait for a writer: a stalled leader holds
  /// the queue's mutex while it waits for that very thread. Holding the mutex meanwhile keeps
  /// writers from leading. True if it rotated; throws closed_error when closing, or what
  /// creating the new log threw.
  bool try_rotate_when_idle() LSMT_EXCLUDES(mutex_) {
    if (!mutex_.try_lock()) return false;
    adopted_lock held(mutex_);
    if (!writers_.empty()) return false;
    c_.ensure_open();
    role_guard lead(c_.logs.writer_role());  // nobody leads: the queue is empty, its mutex ours
    if (c_.failed.load() || c_.leader_mem().entry_count() == 0) return false;
    {
      lock_guard s(c_.state_mutex);
      if (stalled()) return false;
    }
    rotate_memtable();
    return true;
  }

 private:
  struct writer {
    kind k;
    raw_batch* batch;
    bool sync;
    const std::function<void()>* check;
    bool done = false;
    std::exception_ptr error;
    cond_var cv;
  };

  static constexpr size_t max_group_bytes = size_t{1} << 20;
  static constexpr std::chrono::milliseconds max_owed{100};

  // Merges the batches queued behind the leader into one record. A writer with a check (a
  // transaction) is never merged: its check must see every write before it applied.
  raw_batch* build_group(writer** last) LSMT_REQUIRES(mutex_) {
    writer* leader = writers_.front();
    if (leader->check != nullptr || writers_.size() == 1) return leader->batch;
    raw_batch* group = leader->batch;
    size_t bytes = group->byte_size();
    for (auto it = writers_.begin() + 1; it != writers_.end(); ++it) {
      writer* w = *it;
      if (w->k != kind::write || w->check != nullptr) break;
      bytes += w->batch->byte_size();
      if (bytes > max_group_bytes) break;
      if (group == leader->batch) {
        group_batch_.clear();
        group_batch_.append(*leader->batch);
        group = &group_batch_;
      }
      group->append(*w->batch);
      leader->sync = leader->sync || w->sync;
      *last = w;
    }
    return group;
  }

  // Appends the group to the WAL and the memtable, with the queue's mutex released meanwhile
  // (the caller's unique_lock owns it again when this returns or throws).
  void apply_group(raw_batch* group) LSMT_REQUIRES(mutex_, c_.logs.writer_role()) {
    if (group->empty()) return;
    // Refused before anything is written, so the store stays writable (log_writer checks
    // again, but a failed append stops writes). A group of several batches holds at most
    // max_group_bytes, so only a batch that is too large by itself is refused.
    check_log_record_size(group->rep().size());
    const bool sync = writers_.front()->sync;
    const uint64_t first = c_.last_sequence.load(std::memory_order_relaxed) + 1;
    group->set_sequence(first);
    memtable* mem = &c_.leader_mem();
    const bool first_entries = mem->entry_count() == 0;
    mutex_.unlock();
    pace(group->rep().size());
    try {
      if (c_.failed.load()) {  // stopped while the leader slept: nothing of the group is written
        lock_guard s(c_.state_mutex);
        c_.throw_if_failed();  // fail() below then keeps the first failure's reason
      }
      uint64_t oldest_needed = 0;  // only a synced write needs it
      if (sync) {
        lock_guard s(c_.state_mutex);
        oldest_needed = c_.oldest_needed_log(0);
      }
      c_.logs.append(group->rep(), sync, oldest_needed);
      c_.wal_bytes.fetch_add(log_record_header_size + group->rep().size(),
                             std::memory_order_relaxed);
    } catch (const std::exception& e) {
      // The WAL may now end in a partial record; appending after it could hide later records
      // from recovery, so writes stop until the store is reopened.
      {
        lock_guard s(c_.state_mutex);
        c_.fail(std::string("WAL write failed: ") + e.what());
      }
      mutex_.lock();
      throw;
    }
    try {
      uint64_t user_bytes = 0;
      group->for_each(
          [mem, &user_bytes](value_type t, std::string_view k, std::string_view v, uint64_t seq) {
            mem->add(seq, t, k, v);
            user_bytes += k.size() + v.size();
          });
      c_.user_bytes.fetch_add(user_bytes, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      // The log holds the group but the memtable only part of it, and its sequence numbers are
      // not published: writes stop, and reopening replays the log.
      {
        lock_guard s(c_.state_mutex);
        c_.fail(std::string("memtable insert failed: ") + e.what());
      }
      mutex_.lock();
      throw;
    }
    mutex_.lock();
    // seq_cst, as is the load after it: the parked compaction thread stores its flag, then
    // loads the sequence, so one of the two sees the other's store (idle_settler.hpp).
    c_.last_sequence.store(first + group->count() - 1, std::memory_order_seq_cst);
    // The exchange: one writer wakes the parked thread, not every group until it runs.
    if ((first_entries || (c_.settler_parked.load(std::memory_order_seq_cst) &&
                           c_.settler_parked.exchange(false, std::memory_order_seq_cst))) &&
        c_.opts.idle_settle_ms != 0) {
      // The compaction thread waits without a timeout while the memtable and level 0 are
      // empty, and parked (a 60 s safety net aside) once the settle for the newest write has
      // fired or did not pay; from now on it watches for the writes to stop again.
      lock_guard s(c_.state_mutex);
      c_.work_cv.notify_all();
    }
  }

  // Ensures the memtable has room, rotating it when full (or when forced and non-empty). Waits
  // while too many immutable memtables await their flush, or while merging falls far behind.
  void make_room(bool force) LSMT_REQUIRES(mutex_, c_.logs.writer_role()) {
    for (;;) {
      if (c_.failed.load()) {
        lock_guard s(c_.state_mutex);
        c_.throw_if_failed();
      }
      const memtable& mem = c_.leader_mem();
      const bool full = force ? mem.entry_count() > 0
                              : (mem.bytes_in_use() >= c_.opts.memtable_max_bytes ||
                                 (c_.opts.memtable_max_entries != 0 &&
                                  mem.entry_count() >= c_.opts.memtable_max_entries));
      if (!full) return;
      {
        unique_lock s(c_.state_mutex);
        // Like LevelDB's level-0 stop trigger: when merging falls far behind, every read would
        // pay for the extra tables, so writers wait for it.
        if (stalled()) {
          const std::string why = stall_reason();
          const auto start = std::chrono::steady_clock::now();
          while (stalled() && !c_.failed.load() && !c_.closing()) c_.progress_cv.wait(s);
          const auto waited = std::chrono::duration_cast<std::chrono::microseconds>(
              std::chrono::steady_clock::now() - start);
          ++c_.stalls;
          c_.stall_micros += static_cast<uint64_t>(waited.count());
          // Logged by run() once the queue is released: the logger must not hold up writers.
          stall_messages_.push_back("writes stalled " + std::to_string(waited.count()) +
                                    " us: " + why);
          if (c_.closing()) throw closed_error();
          continue;
        }
      }
      rotate_memtable();
      if (force) return;
    }
  }

  bool stalled() const LSMT_REQUIRES(c_.state_mutex) {
    return c_.current->levels[0].size() >= stall_tables() ||
           c_.imms.size() >= c_.opts.max_immutable_memtables;
  }

  std::string stall_reason() const LSMT_REQUIRES(c_.state_mutex) {
    if (c_.imms.size() >= c_.opts.max_immutable_memtables) {
      return std::to_string(c_.imms.size()) + " memtables await their flush";
    }
    return std::to_string(c_.current->levels[0].size()) + " level-0 tables await a merge";
  }

  size_t raise() const { return c_.level0_raise.load(std::memory_order_relaxed); }
  size_t stall_tables() const { return lsmt::detail::stall_tables(c_.opts, raise()); }
  size_t slowdown_tables() const { return lsmt::detail::slowdown_tables(c_.opts, raise()); }

  // The slowdown (top of the file): adds what `bytes` cost at the current level-0 count or
  // space, whichever doubles it more, to the leader's debt (at most max_owed), and sleeps it off
  // once it reaches a millisecond, in naps of at most 5 ms so that merges catching up end the sleep
  // early. Throws nothing.
  void pace(size_t bytes) noexcept LSMT_REQUIRES(c_.logs.writer_role()) LSMT_EXCLUDES(mutex_) {
    using namespace std::chrono;
    auto excess = [this]() -> std::optional<size_t> {
      const std::optional<size_t> space =
          space_slowdown_steps(c_.upper_bytes.load(std::memory_order_relaxed),
                               c_.upper_shadowing_bytes.load(std::memory_order_relaxed),
                               c_.bottom_bytes.load(std::memory_order_relaxed), c_.opts, raise());
      const size_t n = c_.level0_tables.load(std::memory_order_relaxed);
      const size_t from = slowdown_tables();
      if (n < from) return space;
      return std::max<size_t>(std::min<size_t>(n - from, 10), space.value_or(0));
    };
    std::optional<size_t> steps = excess();
    if (!steps) {
      owed_ = nanoseconds(0);
      return;
    }
    // 128 MiB/s is 7.45 ns per byte; each table past the threshold doubles it.
    constexpr double ns_per_byte = 1e9 / static_cast<double>(uint64_t{128} << 20);
    const auto cost = nanoseconds(static_cast<int64_t>(
        static_cast<double>(bytes) * static_cast<double>(uint64_t{1} << *steps) * ns_per_byte));
    owed_ = std::min<nanoseconds>(owed_ + cost, max_owed);  // a large batch is not held long
    if (owed_ < milliseconds(1) || c_.closing() || c_.failed.load()) return;
    const auto start = steady_clock::now();
    while (owed_ > nanoseconds(0) && steps && !c_.failed.load()) {
      const nanoseconds nap = std::min<nanoseconds>(owed_, milliseconds(5));
      std::this_thread::sleep_for(nap);
      owed_ -= nap;
      steps = excess();
    }
    if (!steps) owed_ = nanoseconds(0);  // back below both thresholds: the debt is forgiven
    const auto slept = duration_cast<microseconds>(steady_clock::now() - start);
    c_.slowdowns.fetch_add(1, std::memory_order_relaxed);
    c_.slowdown_micros.fetch_add(static_cast<uint64_t>(slept.count()), std::memory_order_relaxed);
  }

  // Makes the memtable immutable and starts a new one with a new log.
  void rotate_memtable() LSMT_REQUIRES(c_.logs.writer_role()) {
    const uint64_t number = c_.versions.new_file_number();
    c_.logs.rotate(number);
    lock_guard s(c_.state_mutex);
    c_.imms.push_front(imm_slot{c_.mem, c_.log_number});
    ++c_.rotations;
    c_.mem = c_.new_memtable();
    c_.log_number = number;
    c_.publish_view();
    c_.work_cv.notify_all();
  }

  store_core& c_;
  mutex mutex_;  // guards the queue; taken before state_mutex
  std::deque<writer*> writers_ LSMT_GUARDED_BY(mutex_);  // the head is the leader
  raw_batch group_batch_;                                // the leader's merged batch (leader only)
  log_position barrier_log_;                             // written by the leader of a barrier
  std::chrono::nanoseconds owed_{0};  // the slowdown's sleep not yet taken (leader only)
  std::vector<std::string> stall_messages_ LSMT_GUARDED_BY(mutex_);  // a leader's stalls, to log
};

}  // namespace lsmt::detail

#endif  // LSMT_WRITE_PATH_HPP
