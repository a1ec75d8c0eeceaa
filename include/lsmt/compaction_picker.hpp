// lsmt/compaction_picker.hpp - what to merge next: the size-tiered rule, forced merges, and
// merges that reads ask for.
//
// Size-tiered rule (after the "universal" style): a merge is due when the number of tables
// reaches compaction_interval. Scanning from the newest table, the first run of two or more
// adjacent tables where each next table is no bigger than everything gathered so far is merged;
// failing that, the adjacent pair with the smallest combined size. A table is rewritten only
// when merged with runs of comparable total size, so each byte is rewritten
// O(log(total / memtable)) times: write amplification stays bounded as data grows. A merge
// never leaves fewer than minimum_sstables tables.
//
// Full merges: compact() merges every table, dropping all tombstones, and splits the result by
// key range into at most minimum_sstables tables of about equal size (fewer when deletions
// shrink the data).
//
// Read-triggered merges (like LevelDB's seek-triggered compaction): iterators count the table
// entries they step over without showing them, entries a merge would drop (db_iterator.hpp),
// and report them to the read_sampler. Once scans have stepped over as many as half the
// entries the tables hold (and at least min_read_skips), every table is merged as compact()
// does. A store that is only written never merges this way. When such a merge drops less than
// a tenth of its input (the hidden entries were kept for a snapshot, say), the threshold
// doubles, up to max_read_backoff times; a merge that drops more resets it.
//
// Thread safety: read_sampler is thread-safe. compaction_picker is not: the engine calls it
// with its state mutex held.
#ifndef LSMT_COMPACTION_PICKER_HPP
#define LSMT_COMPACTION_PICKER_HPP

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "thread_annotations.hpp"
#include "version_set.hpp"

namespace lsmt::detail {

/// Sums the hidden entries iterators stepped over. Once the sum reaches the threshold, marks a
/// merge as due and calls the wake-up function (once, until take_due() clears it). Shared by a
/// store and its iterators, which may outlive it: the store clears the wake-up function when it
/// closes.
class read_sampler {
 public:
  void add(uint64_t skipped) {
    const uint64_t sum = skipped_.fetch_add(skipped, std::memory_order_relaxed) + skipped;
    if (sum < threshold_.load(std::memory_order_relaxed)) return;
    if (due_.exchange(true)) return;
    lock_guard g(mutex_);
    if (wake_) wake_();
  }
  /// True (once) if a merge became due; restarts the count.
  bool take_due() {
    if (!due_.exchange(false)) return false;
    skipped_.store(0, std::memory_order_relaxed);
    return true;
  }
  bool due() const { return due_.load(); }
  void reset() {
    due_.store(false);
    skipped_.store(0, std::memory_order_relaxed);
  }
  void set_threshold(uint64_t entries) { threshold_.store(entries, std::memory_order_relaxed); }
  void set_wake(std::function<void()> wake) {
    lock_guard g(mutex_);
    wake_ = std::move(wake);
  }

 private:
  std::atomic<uint64_t> skipped_{0};
  std::atomic<uint64_t> threshold_{UINT64_MAX};
  std::atomic<bool> due_{false};
  mutex mutex_;
  std::function<void()> wake_ LSMT_GUARDED_BY(mutex_);
};

/// A run of tables [first, first + count) to merge.
struct compaction_pick {
  size_t first = 0;
  size_t count = 0;
};

/// Chooses the run to merge from table sizes (newest first), or count == 0.
/// `force` merges everything that minimum_sstables allows.
inline compaction_pick pick_compaction(const std::vector<uint64_t>& sizes,
                                       size_t compaction_interval, size_t minimum_sstables,
                                       bool force) {
  const size_t n = sizes.size();
  if (force) return {0, n};  // the caller splits the output into minimum_sstables tables
  const size_t keep = minimum_sstables == 0 ? 1 : minimum_sstables;
  if (n < 2 || n < keep + 1 || n < compaction_interval) return {};
  const size_t max_width = n - keep + 1;  // merging k tables leaves n - k + 1
  for (size_t start = 0; start + 1 < n; ++start) {
    uint64_t total = sizes[start];
    size_t width = 1;
    while (start + width < n && width < max_width && sizes[start + width] <= total) {
      total += sizes[start + width];
      ++width;
    }
    if (width >= 2) return {start, width};
  }
  size_t best = 0;
  for (size_t i = 1; i + 1 < n; ++i) {
    if (sizes[i] + sizes[i + 1] < sizes[best] + sizes[best + 1]) best = i;
  }
  return {best, 2};
}

/// A merge to run: which tables, and how to cut the output.
struct compaction_job {
  compaction_pick tables;       // count == 0: nothing to do
  bool full = false;            // every table: compact() or a read-triggered merge
  bool read_triggered = false;  // asked for by scans (its result adjusts the back-off)
  uint64_t target_size = 0;     // output file size (0: one file)
  size_t max_files = 0;         // at most this many output files (0: no limit)
};

/// The merge policy of one store: the size-tiered rule, forced merges and read-triggered merges.
class compaction_picker {
 public:
  static constexpr uint64_t min_read_skips = 4096;
  static constexpr uint64_t max_read_backoff = 64;

  compaction_picker(size_t compaction_interval, size_t minimum_sstables,
                    std::shared_ptr<read_sampler> sampler)
      : interval_(compaction_interval), minimum_(minimum_sstables), sampler_(std::move(sampler)) {}

  /// Whether the background thread should look for work (forced merges aside).
  bool due(const version& v) const { return sampler_->due() || v.tables.size() >= interval_; }

  /// The next merge. `forced`: compact() waits for a full merge. Takes the sampler's due flag.
  compaction_job pick(const version& v, bool forced) const {
    const bool sampled = sampler_->take_due();
    compaction_job job;
    job.read_triggered = !forced && sampled && v.tables.size() >= 2;
    job.full = forced || job.read_triggered;
    const std::vector<uint64_t> sizes = table_sizes(v);
    job.tables = pick_compaction(sizes, interval_, minimum_, job.full);
    if (job.full) {
      uint64_t total = 0;
      for (uint64_t size : sizes) total += size;
      job.target_size = std::max<uint64_t>(1, total / minimum_);
      job.max_files = minimum_;
    }
    return job;
  }

  /// No merge would be picked now without force (wait_for_compactions).
  bool idle(const version& v) const {
    if (sampler_->due()) return false;
    if (v.tables.size() < interval_) return true;
    return pick_compaction(table_sizes(v), interval_, minimum_, false).count == 0;
  }

  /// After a merge ran: what scans stepped over during a full merge is gone, and a
  /// read-triggered merge that dropped little backs off.
  void finished(const compaction_job& job, uint64_t input_entries, uint64_t output_entries,
                const version& now) {
    if (job.full) sampler_->reset();
    if (job.read_triggered) {
      const bool productive = output_entries < input_entries - input_entries / 10;
      backoff_ = productive ? 1 : std::min(backoff_ * 2, max_read_backoff);
      set_threshold(now);
    }
  }

  /// The sampler's threshold for the tables of v: half their entries, at least min_read_skips,
  /// times the back-off.
  void set_threshold(const version& v) {
    uint64_t entries = 0;
    for (const auto& t : v.tables) entries += t->meta().entries;
    sampler_->set_threshold(std::max<uint64_t>(entries / 2, min_read_skips) * backoff_);
  }

 private:
  static std::vector<uint64_t> table_sizes(const version& v) {
    std::vector<uint64_t> sizes;
    sizes.reserve(v.tables.size());
    for (const auto& t : v.tables) sizes.push_back(t->meta().size);
    return sizes;
  }

  const size_t interval_;
  const size_t minimum_;
  uint64_t backoff_ = 1;                         // multiplies the sampler's threshold
  const std::shared_ptr<read_sampler> sampler_;  // iterators report to it
};

}  // namespace lsmt::detail

#endif  // LSMT_COMPACTION_PICKER_HPP
