// lsmt/level_targets.hpp - the size each level of a store should have (compaction_picker.hpp),
// how far the levels are over it, and how many tables level 0 gathers before it merges.
//
// Thread safety: a pure function of a version, which is immutable.
#ifndef LSMT_LEVEL_TARGETS_HPP
#define LSMT_LEVEL_TARGETS_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "version.hpp"

namespace lsmt::detail {

/// The size each level should have (dynamic level sizes, as RocksDB's
/// level_compaction_dynamic_level_bytes): the bottom level's actual size divided by `ratio` once
/// per level up, down to the first level whose target is at most base_bytes, the base level,
/// which level 0 compacts into. Levels above the base level have target 0 (data there moves
/// down). With less than base_bytes in the bottom level, the bottom level is the base level.
struct level_targets {
  size_t base_level = max_levels - 1;
  std::array<uint64_t, max_levels> bytes{};
};

inline level_targets compute_targets(const version& v, uint64_t base_bytes, uint64_t ratio) {
  constexpr size_t last = max_levels - 1;
  level_targets t;
  uint64_t size = v.level_bytes(last);
  t.bytes[last] = size;
  for (size_t l = last; l > 1 && size > base_bytes; --l) {
    size /= ratio;
    t.base_level = l - 1;
    t.bytes[l - 1] = std::max<uint64_t>(size, 1);
  }
  return t;
}

/// A merge of level 0 waits until level 0 holds 1 / this of the bottom level's bytes (within
/// options::compaction_interval_growth).
inline constexpr uint64_t level0_bottom_divisor = 2;

/// Level 0's merge trigger in tables: `interval` (options::compaction_interval), raised in a
/// store whose bottom level is large, up to `growth` x interval, so that a merge of level 0
/// carries at least 1 / level0_bottom_divisor of the bottom level's bytes (counted in level 0's
/// tables of their mean size). Every merge of level 0 sets off merges down to the bottom level,
/// which rewrite much of the levels below whatever the batch's size, so a larger batch rewrites
/// less per byte it carries. A store with less than 2 x interval tables' worth in its bottom
/// level keeps `interval`, and so does a level 0 of fewer tables (it is not due either way, and
/// a few small tables would give a mean that means nothing). Why half, and 4x by default: the
/// measurement log, examples/bench/README.md, "Write amplification".
inline size_t level0_trigger(const version& v, size_t interval, size_t growth) {
  const size_t n = v.levels[0].size();
  if (n < interval || growth <= 1) return interval;
  const uint64_t mean_table = std::max<uint64_t>(v.level_bytes(0) / n, 1);
  const uint64_t tables = v.level_bytes(max_levels - 1) / level0_bottom_divisor / mean_table;
  return static_cast<size_t>(std::clamp<uint64_t>(tables, interval, uint64_t{growth} * interval));
}

/// Bytes merges must still move down to bring each level within its target: level 0's once it
/// holds level0_trigger(v, interval, growth) tables, and each sorted level's bytes over its
/// target.
inline uint64_t bytes_over_targets(const version& v, uint64_t base_bytes, uint64_t ratio,
                                   size_t interval, size_t growth) {
  const level_targets t = compute_targets(v, base_bytes, ratio);
  const bool level0_due = v.levels[0].size() >= level0_trigger(v, interval, growth);
  uint64_t pending = level0_due ? v.level_bytes(0) : 0;
  for (size_t l = 1; l + 1 < max_levels; ++l) {
    const uint64_t bytes = v.level_bytes(l);
    if (bytes > t.bytes[l]) pending += bytes - t.bytes[l];
  }
  return pending;
}

}  // namespace lsmt::detail

#endif  // LSMT_LEVEL_TARGETS_HPP
