// lsmt/compaction_picker.hpp - what to merge next: leveled compaction with dynamic level sizes,
// forced merges, merges that reads ask for, and the idle settle's (idle_settle.hpp).
//
// Leveled rule (the layout is in version.hpp). Each level gets a score; the highest score of at
// least 1 is merged next:
//   - level 0: its table count over its trigger, compaction_interval, which rises in a store
//     whose bottom level holds more than 2 x compaction_interval level-0 tables' bytes, up to
//     compaction_interval_growth x (level0_trigger in level_targets.hpp). A level-0 merge takes
//     every level-0 table and the tables of the base level that overlap them (or of a higher
//     sorted level that still holds data), and writes the result into that level.
//   - a sorted level above the bottom: its bytes over its target (compute_targets: the bottom
//     level's size divided by level_size_ratio per level up, down to the base level, the first
//     whose target is at most base_level_bytes). A level above the base level has no target: any
//     data there must move down, and its score is 1 plus its bytes over base_level_bytes, so
//     level 0 still gets its turn. Its merge takes one table, the one that overlaps the fewest
//     bytes of the next level per byte of its own (RocksDB's "min overlapping ratio"), with the
//     next level's tables that overlap it.
// A merge whose inputs overlap nothing in the output level (and, for level 0, each other) moves
// them down without rewriting them, unless they hold range deletions. Outputs are cut at
// target_file_size, between user keys, and from half that size at the end of a table of the
// level below (table_writer.hpp). So a merge rewrites a bounded key range: one table and
// about level_size_ratio of the next level's, or level 0 and the base level, which holds about
// base_level_bytes. Once merges catch up, the levels above the bottom hold about
// 1 / (level_size_ratio - 1) of the bottom's bytes, which bounds space amplification (about 1.11
// at ratio 10 when the bottom holds live data only).
// Deletions are dropped when no deeper level may hold the key (table_writer.hpp).
//
// Full merges: compact() merges every table into the bottom level, dropping all tombstones, in
// files of target_file_size, or, for a store smaller than minimum_sstables such files, in
// minimum_sstables files of about equal size (fewer when deletions shrink the data).
//
// Read-triggered merges (like LevelDB's seek-triggered compaction): iterators count the table
// entries they step over without showing them, entries a merge would drop (db_iterator.hpp),
// and report them to the read_sampler. Once scans have stepped over as many as half the
// entries the tables hold (and at least min_read_skips), the level with the highest score is
// merged one step down even below score 1, where its old versions and deletions meet what they
// hide; once only the bottom level holds tables, its tables are rewritten one at a time, in key
// order round the level, dropping what no reader can see. A store that is only written never
// merges this way. When such a merge drops less than a tenth of its input (the hidden entries
// were kept for a snapshot, say), the threshold doubles, up to max_read_backoff times; a merge
// that drops more resets it.
//
// Seek-triggered merges: while level 0 holds tables below its trigger, or, with level 0 empty, a
// sorted level above the bottom holds data, every seek pays one more block search per such table
// or level; once seeks have paid for an eighth of what merging them away rewrites
// (upper_seek_divisor, at least min_upper_seeks), level 0, or one table of that level, is merged
// down even below score 1. Why an eighth, and what it measured: read_sampler.hpp.
//
// Thread safety: compaction_picker is not thread-safe: the engine calls it with its state
// mutex held.
#ifndef LSMT_COMPACTION_PICKER_HPP
#define LSMT_COMPACTION_PICKER_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "compaction_job.hpp"
#include "idle_settle.hpp"
#include "level_targets.hpp"
#include "options.hpp"
#include "read_sampler.hpp"
#include "version_set.hpp"

namespace lsmt::detail {

/// The merge policy of one store: leveled compaction with dynamic level sizes, forced merges and
/// read-triggered merges.
class compaction_picker {
 public:
  static constexpr uint64_t min_read_skips = 4096;
  static constexpr uint64_t max_read_backoff = 64;
  static constexpr uint64_t min_upper_seeks = 4096;
  /// A seek-triggered merge is due once seeks have positioned what it takes away as often as
  /// 1 / upper_seek_divisor of the entries it rewrites (the file comment; read_sampler.hpp).
  static constexpr uint64_t upper_seek_divisor = 8;

  /// The policy's parameters, taken from the store's options (options' defaults by default).
  struct settings {
    explicit settings(const options& o = options{})
        : level0_trigger(o.compaction_interval),
          level0_growth(o.compaction_interval_growth),
          minimum_tables(o.minimum_sstables),
          target_file_size(o.target_file_size),
          base_level_bytes(o.base_level_bytes),
          level_size_ratio(o.level_size_ratio) {}
    size_t level0_trigger;  // compaction_interval
    size_t level0_growth;   // compaction_interval_growth
    size_t minimum_tables;  // minimum_sstables: how far compact() collapses the store
    uint64_t target_file_size;
    uint64_t base_level_bytes;
    uint64_t level_size_ratio;
  };

  compaction_picker(const settings& s, std::shared_ptr<read_sampler> sampler)
      : s_(s), sampler_(std::move(sampler)) {}

  /// Whether the background thread should look for work (forced merges aside).
  bool due(const version& v) const { return sampler_->due() || best_level(v).score >= 1.0; }

  /// The next merge (empty if none). `forced`: compact() waits for a full merge. Takes the
  /// sampler's due flag.
  compaction_job pick(const version& v, bool forced) {
    const bool sampled = sampler_->take_due();
    const bool seeks_sampled = sampler_->take_upper_due();
    const size_t upper = v.first_level_above_bottom();
    if (forced) return full_job(v);
    const choice best = best_level(v);
    compaction_job job;
    if (best.score >= 1.0) {
      job = level_job(v, best);
    } else if (seeks_sampled && !v.levels[0].empty()) {
      // Seeks paid for level 0's tables as much as merging them down costs.
      job = level_job(v, {0, 0.0, best.base_level});
      job.seek_triggered = true;
    } else if (seeks_sampled && upper != 0) {
      // Seeks paid for a sorted level above the bottom: one of its tables goes down.
      job = upper_job(v, upper);
      job.seek_triggered = true;
    } else if (sampled) {
      // Scans stepped over many hidden entries: push the fullest level down a step, where its
      // old versions and deletions meet what they hide; once everything is in the bottom level,
      // rewrite its tables one by one, dropping what nobody can see any more.
      job = best.score > 0.0 ? level_job(v, best) : bottom_job(v);
      job.read_triggered = !job.empty();
    }
    return job;
  }

  /// The merge that settles an idle store (idle_settle.hpp): level 0 into the sorted levels, as
  /// at its trigger (or one level deeper: settle_base). Empty if level 0 is, or if the merge
  /// does not pay (settle_pays), checked again now that the memtable is in level 0.
  compaction_job settle_job(const version& v) const {
    const size_t base = settle_base(v, 0, {});
    if (base == 0) return {};
    compaction_job job = level_job(v, {0, 0.0, base});
    job.idle_triggered = true;
    return job;
  }
  /// Whether settling pays (worth_settling): level 0 and the memtable (`memtable_bytes`, in user
  /// keys `keys`; a range deletion makes them unbounded) against the tables of the level their
  /// merge writes into that they overlap (add_overlapped's, once the memtable is in level 0).
  bool settle_pays(const version& v, uint64_t memtable_bytes, const key_span& keys) const {
    return settle_base(v, memtable_bytes, keys) != 0;
  }

  /// No merge would be picked now without force (wait_for_compactions).
  bool idle(const version& v) const { return !sampler_->due() && best_level(v).score < 1.0; }

  /// After a merge ran: what scans stepped over during a full merge is gone, and a
  /// read-triggered merge that dropped little backs off.
  void finished(bool full, bool read_triggered, uint64_t input_entries, uint64_t output_entries,
                const version& now) {
    if (full) sampler_->reset();
    if (read_triggered) {
      const bool productive = output_entries < input_entries - input_entries / 10;
      backoff_ = productive ? 1 : std::min(backoff_ * 2, max_read_backoff);
      set_threshold(now);
    }
  }

  /// The sampler's thresholds for the tables of v. Hidden entries: half the tables' entries, at
  /// least min_read_skips, times the back-off. Upper seeks: an eighth of the entries of level 0 and
  /// of the level it would merge into, at least min_upper_seeks; with level 0 empty, the same for
  /// the first sorted level above the bottom (never, with only the bottom level holding data).
  void set_threshold(const version& v) {
    uint64_t entries = 0;
    for (size_t l = 0; l < max_levels; ++l) entries += v.level_entries(l);
    sampler_->set_threshold(std::max<uint64_t>(entries / 2, min_read_skips) * backoff_);
    size_t level = 0;  // the level the seeks pay for
    uint64_t merge_entries = 0;
    if (!v.levels[0].empty()) {
      merge_entries = level0_merge_entries(v);
    } else {
      level = v.first_level_above_bottom();
      if (level == 0) {
        sampler_->clear_upper();
        return;
      }
      merge_entries = v.level_entries(level) + v.level_entries(v.next_level_holding(level));
    }
    sampler_->set_upper_threshold(
        std::max<uint64_t>(merge_entries / upper_seek_divisor, min_upper_seeks), level);
  }

  /// Level-0 tables at which level 0 is merged now (level0_trigger; stats).
  size_t level0_tables_due(const version& v) const {
    return level0_trigger(v, s_.level0_trigger, s_.level0_growth);
  }
  /// How far that is above compaction_interval (the write path's thresholds rise by it).
  size_t level0_raise(const version& v) const { return raise_from(level0_tables_due(v)); }

  /// Bytes merges must still move down to bring each level within its target (stats).
  uint64_t pending_bytes(const version& v) const {
    return bytes_over_targets(v, s_.base_level_bytes, s_.level_size_ratio, s_.level0_trigger,
                              s_.level0_growth);
  }

 private:
  struct choice {
    size_t level = 0;       // the level to merge
    double score = 0;       // its score
    size_t base_level = 0;  // where level 0 merges to (compute_targets)
  };

  // Level 0's score: its table count over its trigger, 1 at the trigger; past it, each further
  // table adds 1 / compaction_interval, as with the fixed trigger, so a risen trigger does not
  // lower level 0's priority near the stall (3 there, as before).
  double level0_score(const version& v) const {
    const size_t n = v.levels[0].size();
    const size_t due = level0_tables_due(v);
    if (n < due) return static_cast<double>(n) / static_cast<double>(due);
    return static_cast<double>(n - raise_from(due)) / static_cast<double>(s_.level0_trigger);
  }
  // How far a trigger of `due` tables is above compaction_interval.
  size_t raise_from(size_t due) const { return due - s_.level0_trigger; }

  // The level most in need of a merge, and its score: level 0's (level0_score), or a sorted
  // level's size over its target (any data above the base level must move down). The bottom
  // level is never the source of an automatic merge. Score 0: nothing to merge.
  choice best_level(const version& v) const {
    const level_targets t = compute_targets(v, s_.base_level_bytes, s_.level_size_ratio);
    size_t best = 0;
    double score = level0_score(v);
    for (size_t l = 1; l + 1 < max_levels; ++l) {
      const uint64_t bytes = v.level_bytes(l);
      if (bytes == 0) continue;
      // A level above the base level must empty, but not starve level 0 while it does: its
      // score grows with its bytes from 1, as level 0's does with its tables.
      const double sc =
          t.bytes[l] == 0
              ? 1.0 + static_cast<double>(bytes) / static_cast<double>(s_.base_level_bytes)
              : static_cast<double>(bytes) / static_cast<double>(t.bytes[l]);
      if (sc > score) {
        best = l;
        score = sc;
      }
    }
    return {best, score, t.base_level};
  }

  // The level a settle merges level 0 into, 0 if settling does not pay: level 0's base level,
  // or the level right below it when the base level is empty, that level holds data and what
  // settles exceeds the base level's target (it would be merged on down at once: one rewrite,
  // not two), if that pays too. Not past an empty level: data moves into it without a rewrite.
  size_t settle_base(const version& v, uint64_t memtable_bytes, const key_span& keys) const {
    const level_targets t = compute_targets(v, s_.base_level_bytes, s_.level_size_ratio);
    const size_t base = t.base_level;
    if (base + 1 < max_levels && v.levels[base].empty() && !v.levels[base + 1].empty() &&
        memtable_bytes + v.level_bytes(0) > t.bytes[base] &&
        settle_pays_into(v, base + 1, memtable_bytes, keys)) {
      return base + 1;
    }
    return settle_pays_into(v, base, memtable_bytes, keys) ? base : 0;
  }

  // settle_pays, with the base level given (output_of_level0 may pick a level above it).
  bool settle_pays_into(const version& v, size_t base, uint64_t memtable_bytes,
                        const key_span& keys) const {
    const bool mem = memtable_bytes > 0;
    if (!mem && v.levels[0].empty()) return false;
    const size_t out = output_of_level0(v, base);
    const uint64_t unsettled = memtable_bytes + v.level_bytes(0);
    if (mem && keys.unbounded)
      return worth_settling(unsettled, v.level_bytes(out), s_.level0_trigger);
    std::string_view lo = keys.lo;
    std::string_view hi = keys.hi;
    if (!v.levels[0].empty()) {
      const auto [first, last] = key_range(v.levels[0]);
      if (!mem || compare_user_keys(first, lo) < 0) lo = first;
      if (!mem || compare_user_keys(last, hi) > 0) hi = last;
    }
    return worth_settling(unsettled, total_size(v.overlapping(out, lo, hi)), s_.level0_trigger);
  }

  // Entries a merge of level 0 would read: level 0's and its output level's (all of that level:
  // level-0 tables usually span the key space).
  uint64_t level0_merge_entries(const version& v) const {
    const size_t base = compute_targets(v, s_.base_level_bytes, s_.level_size_ratio).base_level;
    return v.level_entries(0) + v.level_entries(output_of_level0(v, base));
  }

  // Where a merge of level 0 writes: the first sorted level above the base level that holds data
  // (it may still hold older data, which level 0 must stay above), else the base level.
  static size_t output_of_level0(const version& v, size_t base) {
    for (size_t l = 1; l < base; ++l) {
      if (!v.levels[l].empty()) return l;
    }
    return base;
  }

  // A seek-triggered merge of one table of sorted level `level`, into the next level holding
  // data: the levels between are empty, so nothing there must stay above it.
  compaction_job upper_job(const version& v, size_t level) const {
    return one_table_job(v, level, v.next_level_holding(level));
  }

  // The table of sorted level `level` cheapest to merge into level `into` (cheapest_table), with
  // the tables of `into` it overlaps.
  compaction_job one_table_job(const version& v, size_t level, size_t into) const {
    compaction_job job;
    job.level = level;
    job.output_level = into;
    job.target_size = s_.target_file_size;
    job.inputs.push_back(cheapest_table(v, level, into));
    add_overlapped(v, &job);
    return job;
  }

  compaction_job full_job(const version& v) const {
    compaction_job job;
    job.full = true;
    job.output_level = max_levels - 1;
    for (const table_list& l : v.levels) job.inputs.insert(job.inputs.end(), l.begin(), l.end());
    // compact() leaves at least minimum_tables tables (as far as the keys allow): files of the
    // target size, or smaller ones when the store is small.
    const uint64_t total = v.total_bytes();
    const uint64_t minimum = std::max<uint64_t>(1, s_.minimum_tables);
    if (total / minimum <= s_.target_file_size) {
      job.target_size = std::max<uint64_t>(1, total / minimum);
      job.max_files = static_cast<size_t>(minimum);
    } else {
      job.target_size = s_.target_file_size;
    }
    return job;
  }

  compaction_job level_job(const version& v, const choice& c) const {
    if (c.level > 0) return one_table_job(v, c.level, c.level + 1);
    // Every level-0 table (older ones may hold versions the newer ones hide), into the first
    // sorted level that holds data or the base level, whichever is higher up: a level above the
    // base level may still hold older data, which level 0 must stay above.
    compaction_job job;
    job.level = 0;
    job.target_size = s_.target_file_size;
    if (v.levels[0].empty()) return job;
    job.output_level = output_of_level0(v, c.base_level);
    job.inputs = v.levels[0];
    add_overlapped(v, &job);
    return job;
  }

  // The tables of job's output level that its inputs overlap, and whether it is a move. A table
  // with range deletions is rewritten, not moved: the rewrite drops the deletions that cover
  // nothing older below it, which a move would carry down for good.
  static void add_overlapped(const version& v, compaction_job* job) {
    const auto [lo, hi] = key_range(job->inputs);
    job->overlapped = v.overlapping(job->output_level, lo, hi);
    job->move = job->overlapped.empty() && (job->level > 0 || disjoint(job->inputs)) &&
                std::none_of(job->inputs.begin(), job->inputs.end(),
                             [](const auto& t) { return t->has_range_deletions(); });
  }

  // One table of the bottom level, merged into itself, in turn (a cursor goes round the level's
  // key range): what deletions and newer versions hide in it is dropped.
  compaction_job bottom_job(const version& v) {
    constexpr size_t last = max_levels - 1;
    compaction_job job;
    const table_list& bottom = v.levels[last];
    if (bottom.empty()) return job;
    size_t i = bottom_cursor_.empty() ? 0 : v.find_table(last, bottom_cursor_);
    if (i < bottom.size() && bottom[i]->largest_user_key() == bottom_cursor_) ++i;
    if (i >= bottom.size()) i = 0;
    bottom_cursor_.assign(bottom[i]->largest_user_key());
    job.level = last;
    job.output_level = last;
    job.target_size = s_.target_file_size;
    job.inputs.push_back(bottom[i]);
    return job;
  }

  // The table of `level` whose merge rewrites the fewest bytes of level `into` per byte it moves
  // down (RocksDB's "min overlapping ratio").
  static std::shared_ptr<table_handle> cheapest_table(const version& v, size_t level, size_t into) {
    std::shared_ptr<table_handle> best;
    double best_ratio = 0;
    for (const auto& t : v.levels[level]) {
      const uint64_t overlap =
          total_size(v.overlapping(into, t->smallest_user_key(), t->largest_user_key()));
      const double ratio =
          static_cast<double>(overlap) / static_cast<double>(std::max<uint64_t>(1, t->meta().size));
      if (!best || ratio < best_ratio) {
        best = t;
        best_ratio = ratio;
      }
    }
    return best;
  }

  const settings s_;
  uint64_t backoff_ = 1;                         // multiplies the sampler's threshold
  std::string bottom_cursor_;                    // largest key of the last bottom table merged
  const std::shared_ptr<read_sampler> sampler_;  // iterators report to it
};

}  // namespace lsmt::detail

#endif  // LSMT_COMPACTION_PICKER_HPP
