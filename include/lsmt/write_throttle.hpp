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
// the bottom level (level 0 too) hold what merges have not yet pushed into it: new keys, and
// overwrites and deletions whose older versions wait below, taking space twice until a merge
// drops them. Two thresholds, and the larger count of doublings applies:
//   - the shadowing bytes (shadowing.hpp: each table's bytes times the sampled share of its
//     keys that a deeper level may hold) against the bottom level's bytes times x - 1, or, if
//     larger, the floor: what the levels above the bottom hold before merges fall behind. That
//     is the sorted levels' targets (about 1 / (level_size_ratio - 1) of the bottom level;
//     1.25 / (ratio - 1) counted, for slack), 2 x base_level_bytes, and level 0's slowdown
//     threshold in memtable_max_bytes (the trigger's rise counts only while level 0 holds
//     compaction_interval tables or more, so this part drops back when a level-0 merge lands).
//     Below the floor the levels are within what the merges' own triggers allow, so a store
//     whose merges keep up never trips it.
//   - all their bytes, whatever they shadow, against the larger of the share and the targets,
//     plus the base level's and level 0's part: a fill's new keys take no space twice, but
//     merges falling far behind them would leave reads many tables to search.
// Only what shadows counts against the share, so a fill is not slowed for space its new keys
// do not waste, and an overwrite is held from its first table on. Measured at 100M keys in the
// measurement log (examples/bench/README.md, Write path). Past a threshold, a group's cost
// doubles for each further max(bottom / 100, target_file_size) bytes, from 1x at the threshold
// (space_slowdown_steps). The larger of the level-0 and space counts of doublings applies.
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

/// The space slowdown's doublings (above), at most 10, for levels above a bottom level of
/// `bottom` bytes that hold `upper` bytes, `shadowing` of them estimated to shadow older
/// versions below (shadowing.hpp); nullopt below both thresholds or when it is off.
inline std::optional<size_t> space_slowdown_steps(uint64_t upper, uint64_t shadowing,
                                                  uint64_t bottom, const options& o, size_t raise) {
  if (o.slowdown_space_amplification == 0) return std::nullopt;
  const auto share_of_bottom = [bottom](double share) {
    return static_cast<uint64_t>(share * static_cast<double>(bottom));
  };
  const uint64_t share = share_of_bottom(o.slowdown_space_amplification - 1);
  const uint64_t targets = share_of_bottom(1.25 / static_cast<double>(o.level_size_ratio - 1));
  const uint64_t rest = 2 * o.base_level_bytes + o.memtable_max_bytes * slowdown_tables(o, raise);
  const auto step = std::max<uint64_t>({bottom / 100, o.target_file_size, 1});
  const auto steps = [step](uint64_t bytes, uint64_t allowed) -> std::optional<size_t> {
    if (bytes <= allowed) return std::nullopt;
    return static_cast<size_t>(std::min<uint64_t>((bytes - allowed) / step, 10));
  };
  const std::optional<size_t> by_shadowing = steps(shadowing, std::max(share, targets + rest));
  const std::optional<size_t> by_upper = steps(upper, std::max(share, targets) + rest);
  if (!by_upper) return by_shadowing;
  return std::max(*by_upper, by_shadowing.value_or(0));
}

}  // namespace lsmt::detail

#endif  // LSMT_WRITE_THROTTLE_HPP
