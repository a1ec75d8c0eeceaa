// lsmt/write_throttle.hpp - when writes slow down and when they wait: the level-0 and space
// thresholds of the write path (write_path.hpp, pace() and stalled()).
//
// Writers wait while merging falls far behind: 3 x compaction_interval level-0 tables (at least
// 12), plus as many as level 0's merge trigger has risen above compaction_interval
// (level0_trigger in level_targets.hpp), or while too many memtables await their flush.
//
// Before that stop, writes slow down, as LevelDB's and RocksDB's do, so that a fast writer
// gives the merges time (and, on a small machine, CPU) to catch up instead of meeting one long
// stall. From 2 x compaction_interval level-0 tables (at least 8, plus the trigger's rise), the
// leader owes a sleep for each group: its bytes' time at 128 MiB/s, doubled for each table past
// that threshold (up to 1024x), and never more than 100 ms in all. It sleeps once it owes a
// millisecond, without the queue's mutex (followers keep queueing and join the next group; a
// close waits its turn), and stops as soon as level 0 is back below the threshold (and space
// below its own, next).
//
// Space slows writes the same way (options::slowdown_space_amplification = x). The levels above
// the bottom level (level 0 too) hold what merges have not yet pushed into it: new keys, and the
// old versions and deletions an overwriting writer leaves. The threshold is the bottom level's
// bytes times x - 1, or, if larger, what those levels hold in a tree no merge is behind in: the
// sorted levels' targets (about 1 / (level_size_ratio - 1) of the bottom level; 1.25 / (ratio -
// 1) counted, for slack), 2 x base_level_bytes, and level 0's slowdown threshold in
// memtable_max_bytes (the trigger's rise counts only while level 0 holds compaction_interval
// tables or more, so this part drops back when a level-0 merge lands). Below that floor the
// levels are within what the merges' own triggers allow, so a store whose merges keep up never
// trips it. At 100M keys, adding the base level's and level 0's part to the share instead (the
// threshold before) let an overwrite's disk peak at 1.33x the keys and values (1.27x now), and
// the floor costs the fill about 11% of its speed there, as the upper levels' new keys count
// too (examples/bench/README.md, Write path). Past the threshold, a group's cost doubles for
// each further max(bottom / 100, target_file_size) bytes, from 1x at the threshold
// (space_slowdown_steps). The larger of the two counts of doublings applies.
//
// Thread safety: pure functions of their arguments.
#ifndef LSMT_WRITE_THROTTLE_HPP
#define LSMT_WRITE_THROTTLE_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "options.hpp"

namespace lsmt::detail {

/// Level-0 tables from which writes slow down (above), with level 0's merge trigger `raise`
/// tables above compaction_interval (level0_trigger).
inline size_t slowdown_tables(const options& o, size_t raise) {
  return std::max<size_t>(2 * o.compaction_interval, 8) + raise;
}

/// Level-0 tables at which writes wait (above), likewise.
inline size_t stall_tables(const options& o, size_t raise) {
  return std::max<size_t>(3 * o.compaction_interval, 12) + raise;
}

/// The space slowdown's doublings (above) for `upper` bytes in the levels above a bottom level
/// of `bottom` bytes, at most 10; nullopt below the threshold or when it is off.
inline std::optional<size_t> space_slowdown_steps(uint64_t upper, uint64_t bottom, const options& o,
                                                  size_t raise) {
  if (o.slowdown_space_amplification == 0) return std::nullopt;
  const auto share_of_bottom = [bottom](double share) {
    return static_cast<uint64_t>(share * static_cast<double>(bottom));
  };
  const uint64_t floor_bytes = share_of_bottom(1.25 / static_cast<double>(o.level_size_ratio - 1)) +
                               2 * o.base_level_bytes +
                               o.memtable_max_bytes * slowdown_tables(o, raise);
  const uint64_t allowed =
      std::max(share_of_bottom(o.slowdown_space_amplification - 1), floor_bytes);
  if (upper <= allowed) return std::nullopt;
  const auto step = std::max<uint64_t>({bottom / 100, o.target_file_size, 1});
  return static_cast<size_t>(std::min<uint64_t>((upper - allowed) / step, 10));
}

}  // namespace lsmt::detail

#endif  // LSMT_WRITE_THROTTLE_HPP
