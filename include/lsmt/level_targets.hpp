// lsmt/level_targets.hpp - the size each level of a store should have (compaction_picker.hpp),
// and how far the levels are over it.
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

/// Bytes merges must still move down to bring each level within its target: level 0's once it
/// holds `level0_trigger` tables, and each sorted level's bytes over its target.
inline uint64_t bytes_over_targets(const version& v, uint64_t base_bytes, uint64_t ratio,
                                   size_t level0_trigger) {
  const level_targets t = compute_targets(v, base_bytes, ratio);
  uint64_t pending = v.levels[0].size() >= level0_trigger ? v.level_bytes(0) : 0;
  for (size_t l = 1; l + 1 < max_levels; ++l) {
    const uint64_t bytes = v.level_bytes(l);
    if (bytes > t.bytes[l]) pending += bytes - t.bytes[l];
  }
  return pending;
}

}  // namespace lsmt::detail

#endif  // LSMT_LEVEL_TARGETS_HPP
