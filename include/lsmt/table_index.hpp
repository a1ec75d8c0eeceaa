// lsmt/table_index.hpp - a table's index in memory (sstable_reader.hpp): where each data block
// starts, and the search for the block that holds a key, without keeping the index block.
//
// The index block (table_format.hpp) holds one whole internal key per data block, >= the block's
// last key and < the next block's first. A reader keeps 12 bytes per block instead: the block's
// offset (8 bytes unless the data blocks end before 4 GiB) and the fence of its index key
// (fence_index.hpp), plus the whole index keys of only the blocks whose fence equals a neighbour's.
// The first block whose index key is >= a target is then:
//   * when no block's fence equals the target's: the first block with a greater fence, exactly
//     (fences never order two keys the wrong way);
//   * when two or more do: found among their kept keys, exactly;
//   * when one does: that block, or, if the target sorts after its key, the next, whose greater
//     fence puts its key past the target. find() says so (or_next), and a reader that finds no
//     key >= the target in the block reads the next one too. A seek pays for that second block
//     only when its answer is there; a get of a key the table does not hold may read both.
// Keeping every index key too (the whole index block, searched in place) made the indexes of a
// 100M-key store 118.9 MiB.
//
// Thread safety: immutable after build(); any number of threads may search it at once.
#ifndef LSMT_TABLE_INDEX_HPP
#define LSMT_TABLE_INDEX_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fence_index.hpp"
#include "internal_key.hpp"

namespace lsmt::detail {

/// The block offsets and fences of one table, and its tied index keys. Immutable after build();
/// thread-safe to search.
class table_index {
 public:
  /// find()'s hint when there is none.
  static constexpr uint32_t no_hint = fence_index::unknown;

  /// Where a search for a target ends: the block to read (size() if every index key is < the
  /// target), and whether the answer is ordinal + 1 (which may be size(): none) if that block has
  /// no key >= the target.
  struct found {
    uint32_t ordinal;
    bool or_next;
  };

  /// Builds (or rebuilds) the index of data blocks [0, keys.size()): keys[i] is block i's index
  /// key (an internal key; keys increase), offsets[i] where it starts and offsets[i + 1] where
  /// it ends with its trailer.
  void build(const std::vector<std::string_view>& keys, std::vector<uint64_t> offsets) {
    *this = table_index();  // a rebuild keeps nothing of the index before
    std::vector<std::string_view> user_keys;
    user_keys.reserve(keys.size());
    for (const std::string_view k : keys) user_keys.push_back(extract_user_key(k));
    fences_.build(user_keys);
    if (offsets.back() <= UINT32_MAX) {  // data blocks that end before 4 GiB: the usual table
      narrow_offsets_.assign(offsets.begin(), offsets.end());
    } else {
      wide_offsets_ = std::move(offsets);
      wide_offsets_.shrink_to_fit();
    }
    const uint32_t n = size();
    for (uint32_t i = 0; i < n; ++i) {
      if ((i > 0 && fences_[i - 1] == fences_[i]) || (i + 1 < n && fences_[i + 1] == fences_[i])) {
        tied_.push_back(i);
        tied_keys_.append(keys[i]);
        tied_ends_.push_back(tied_keys_.size());
      }
    }
    tied_.shrink_to_fit();
    tied_ends_.shrink_to_fit();
    tied_keys_.shrink_to_fit();
  }

  uint32_t size() const noexcept { return fences_.size(); }
  /// Where data block i (<= size()) starts; i == size() gives where the last one ends.
  uint64_t offset(uint32_t i) const noexcept {
    return wide_offsets_.empty() ? narrow_offsets_[i] : wide_offsets_[i];
  }

  /// The first block whose fence is >= the target's (an internal key): a hint for find(), and the
  /// block it reads unless fences tie.
  uint32_t first_candidate(std::string_view target) const noexcept {
    return fences_.lower_bound(fences_.fence(extract_user_key(target)));
  }

  /// The first block whose index key is >= target (an internal key), as the header says. hint:
  /// first_candidate(target), or no_hint.
  found find(std::string_view target, uint32_t hint = no_hint) const {
    const auto [lo, hi] = fences_.equal_range(fences_.fence(extract_user_key(target)), hint);
    if (hi == lo) return {lo, false};
    if (hi - lo == 1) return {lo, true};
    // Blocks [lo, hi) tie, so their keys are kept, one after another from lo's.
    const auto first =
        static_cast<size_t>(std::lower_bound(tied_.begin(), tied_.end(), lo) - tied_.begin());
    uint32_t a = 0;
    uint32_t b = hi - lo;
    while (a < b) {
      const uint32_t mid = a + (b - a) / 2;
      if (compare_internal_keys(tied_key(first + mid), target) < 0) {
        a = mid + 1;
      } else {
        b = mid;
      }
    }
    return {lo + a, false};
  }

  /// Bytes of memory the index holds.
  size_t bytes() const noexcept {
    return fences_.bytes() + narrow_offsets_.capacity() * sizeof(uint32_t) +
           wide_offsets_.capacity() * sizeof(uint64_t) + tied_.capacity() * sizeof(uint32_t) +
           tied_ends_.capacity() * sizeof(size_t) + tied_keys_.capacity();
  }

 private:
  std::string_view tied_key(size_t j) const noexcept {
    const size_t begin = j == 0 ? 0 : tied_ends_[j - 1];
    return std::string_view(tied_keys_).substr(begin, tied_ends_[j] - begin);
  }

  fence_index fences_;  // over the index keys' user keys
  // Data block i is [offset(i), offset(i + 1)) with its trailer: 4 bytes per block when the
  // data blocks end before 4 GiB, else 8 (a target_file_size of 4 GiB or more, or huge values).
  std::vector<uint32_t> narrow_offsets_;
  std::vector<uint64_t> wide_offsets_;
  std::vector<uint32_t> tied_;     // the blocks whose fence equals a neighbour's, in order
  std::vector<size_t> tied_ends_;  // index key of block tied_[j] ends at tied_ends_[j] ...
  std::string tied_keys_;          // ... in these bytes, one after another
};

}  // namespace lsmt::detail

#endif  // LSMT_TABLE_INDEX_HPP
