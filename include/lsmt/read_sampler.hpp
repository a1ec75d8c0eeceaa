// lsmt/read_sampler.hpp - what reads tell the compaction picker (compaction_picker.hpp).
//
// Iterators report two costs that a merge would remove:
//   - hidden entries: table entries they stepped over without showing them (older versions,
//     deletions), which a merge would drop (read-triggered merges);
//   - upper seeks: every seek positions each level-0 table, whose keys overlap everything, and
//     each sorted level above the bottom one that holds data, so each of them costs one more
//     block search per seek (seek-triggered merges). While level 0 holds tables, a seek counts
//     each level-0 table it positions; then it counts 1 if it positions the first sorted level
//     above the bottom, whose tables such merges move down one at a time.
// Each cost has its own count and threshold. Once a count reaches its threshold the sampler
// marks that merge due and calls the wake-up function (once, until the due flag is taken).
//
// The thresholds are the picker's (compaction_picker.hpp); why they are where they are:
//
// Seek-triggered merges of level 0: while level 0 holds tables below its trigger (after a fill
// stops, say), each costs every seek its block search (above; about a microsecond). Once seeks have
// positioned as many level-0 tables as an eighth of the entries that merging level 0 would rewrite
// (its own and those of the level it merges into: compaction_picker::upper_seek_divisor, at least
// compaction_picker::min_upper_seeks), level 0 is merged down even below its trigger. Merging an
// entry costs about half a table seek, so by then the seeks have wasted a quarter of what the merge
// costs, and every later seek is cheaper. Why not wait until they have wasted all of it: the merge
// runs on the background thread, at a lower priority (options::compaction_nice), while the seeks
// are what readers wait for, and seeks that have come keep coming. Measured at 1M keys (fillrandom,
// reads and scans, then seekrandom; lsmt alone, 4 alternated runs): the first seekrandom made a
// median of 602k seeks/s against 568k with half. Point reads do not count: bloom filters skip
// level-0 tables for them.
// With level 0 empty, the same holds for the sorted levels above the bottom one (measured at 1M
// keys: 500-580k seeks/s with a level of 6 MB above the bottom, 700-770k with the bottom alone):
// once the count of seeks that position the first such level reaches an eighth of the entries of
// that level and of the level it merges into (at least min_upper_seeks), one table of that level,
// the one that rewrites the fewest bytes below per byte, is merged into the next level holding
// data. The threshold counts what emptying the whole level rewrites, and a merge empties a part of
// it, so these merges come later than they would pay for: a store that is only read, with seeks,
// ends up in one level, a table at a time (slowly, when it is large), while one also written keeps
// its levels. The count restarts whenever it starts counting for another level.
//
// Thread safety: every method may be called from any number of threads at once. Shared by a
// store and its iterators, which may outlive it: the store clears the wake-up function when it
// closes.
#ifndef LSMT_READ_SAMPLER_HPP
#define LSMT_READ_SAMPLER_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>

#include "thread_annotations.hpp"

namespace lsmt::detail {

/// Sums the costs iterators report, and asks for a merge when one pays. Thread-safe.
class read_sampler {
 public:
  /// Hidden entries stepped over.
  void add(uint64_t skipped) { bump(hidden_, skipped); }
  /// Tables above the bottom level positioned by seeks: per seek, one per level-0 table, or, with
  /// level 0 empty, one if it positioned the first sorted level above the bottom holding data.
  /// Ignored while no level above the bottom holds data (clear_upper): an iterator may report after
  /// a merge emptied them.
  void add_upper_seeks(uint64_t tables) {
    if (upper_.threshold.load(std::memory_order_relaxed) != UINT64_MAX) bump(upper_, tables);
  }

  /// True (once) if a merge of hidden entries became due; restarts that count.
  bool take_due() { return take(hidden_); }
  /// True (once) if a seek-triggered merge became due; restarts that count.
  bool take_upper_due() { return take(upper_); }
  /// Whether either merge is due.
  bool due() const { return hidden_.due.load() || upper_.due.load(); }

  /// Forgets both counts and due flags (after a full merge).
  void reset() {
    restart(hidden_);
    restart(upper_);
  }
  void set_threshold(uint64_t entries) {
    hidden_.threshold.store(entries, std::memory_order_relaxed);
  }
  /// The threshold of upper seeks for a merge of `level` (0, or the first sorted level above the
  /// bottom). Another level than last time restarts the count: what seeks paid for one level
  /// does not pay for merging another.
  void set_upper_threshold(uint64_t seeks, size_t level) {
    if (upper_level_.exchange(level, std::memory_order_relaxed) != level) restart(upper_);
    upper_.threshold.store(seeks, std::memory_order_relaxed);
  }
  /// Only the bottom level holds data: what seeks paid for is gone, and nothing is due until a
  /// level above it holds data again.
  void clear_upper() {
    upper_.threshold.store(UINT64_MAX, std::memory_order_relaxed);
    upper_level_.store(SIZE_MAX, std::memory_order_relaxed);
    restart(upper_);
  }
  void set_wake(std::function<void()> wake) {
    lock_guard g(mutex_);
    wake_ = std::move(wake);
  }

 private:
  struct tally {
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> threshold{UINT64_MAX};
    std::atomic<bool> due{false};
  };

  void bump(tally& t, uint64_t n) {
    const uint64_t sum = t.count.fetch_add(n, std::memory_order_relaxed) + n;
    if (sum < t.threshold.load(std::memory_order_relaxed)) return;
    if (t.due.exchange(true)) return;
    lock_guard g(mutex_);
    if (wake_) wake_();
  }

  static void restart(tally& t) {
    t.due.store(false);
    t.count.store(0, std::memory_order_relaxed);
  }

  static bool take(tally& t) {
    if (!t.due.exchange(false)) return false;
    t.count.store(0, std::memory_order_relaxed);
    return true;
  }

  tally hidden_;
  tally upper_;
  std::atomic<size_t> upper_level_{SIZE_MAX};  // the level upper_ counts for (set_upper_threshold)
  mutex mutex_;
  std::function<void()> wake_ LSMT_GUARDED_BY(mutex_);
};

}  // namespace lsmt::detail

#endif  // LSMT_READ_SAMPLER_HPP
