// lsmt/fence_index.hpp - the in-memory search structure that finds a table's data block for a
// key (table_index.hpp) and a level's table (version.hpp), reading keys only where fences tie.
//
// A "fence" stands for one index key: 8 bytes of its user key, taken right after the prefix
// that all index keys but the last share (so keys like zero-padded numbers still differ within
// them), read big-endian and zero-padded; a key outside that prefix gets 0 or UINT64_MAX,
// whichever keeps the order. Fences never order two keys the wrong way (a < b implies
// fence(a) <= fence(b)), so the first index key >= a target is among the blocks whose fence is
// the first >= the target's fence, and equal fences are the only case that needs the keys.
//
// The fences are one sorted array of integers, searched by binary search: a point read or a seek
// touches about half the cache lines that a search through the index block does (a restart
// offset and then a key, per step). Storing them in cache-line groups under a small array of
// each group's largest fence (one line of the large array per search) showed no clear gain
// here: at 1M keys with every table mapped, pairs of runs went from 10% slower to 7% faster
// (most of them faster); at 10M keys, read mostly with pread, 3-6% slower in both pairs.
//
// Thread safety: immutable after build(); any number of threads may search it at once.
#ifndef LSMT_FENCE_INDEX_HPP
#define LSMT_FENCE_INDEX_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace lsmt::detail {

/// Fences over a table's index keys. Immutable after build(); thread-safe to search.
class fence_index {
 public:
  fence_index() = default;

  /// Builds the fences of `user_keys`, the index entries' user keys in order.
  void build(const std::vector<std::string_view>& user_keys) {
    const size_t n = user_keys.size();
    prefix_.clear();
    if (n >= 2) {  // what every key but the last (a short successor) shares
      prefix_.assign(user_keys[0]);
      for (size_t i = 1; i + 1 < n; ++i) {
        const std::string_view k = user_keys[i];
        size_t same = 0;
        while (same < prefix_.size() && same < k.size() && prefix_[same] == k[same]) ++same;
        prefix_.resize(same);
      }
    }
    fences_.clear();
    fences_.reserve(n);
    for (const std::string_view k : user_keys) fences_.push_back(fence(k));
  }

  /// 8 bytes of user_key after the prefix as a big-endian integer (zero-padded); 0 or
  /// UINT64_MAX if user_key sorts before or after every key with that prefix.
  uint64_t fence(std::string_view user_key) const noexcept {
    const size_t p = prefix_.size();
    const size_t n = std::min(p, user_key.size());
    const int c = n == 0 ? 0 : std::memcmp(user_key.data(), prefix_.data(), n);
    if (c < 0 || (c == 0 && user_key.size() < p)) return 0;
    if (c > 0) return UINT64_MAX;
    unsigned char b[8] = {};
    std::memcpy(b, user_key.data() + p, std::min<size_t>(8, user_key.size() - p));
    uint64_t v = 0;
    for (const unsigned char x : b) v = (v << 8) | x;
    return v;
  }

  /// The first i with fence i >= f, or size() if none.
  uint32_t lower_bound(uint64_t f) const noexcept {
    return static_cast<uint32_t>(std::lower_bound(fences_.begin(), fences_.end(), f) -
                                 fences_.begin());
  }

  /// The entries [first, last) whose fence is f: first is the first fence >= f, last the first
  /// fence > f, so first == last when no fence is f. from, when given, is lower_bound(f).
  struct range {
    uint32_t first;
    uint32_t last;
  };
  static constexpr uint32_t unknown = UINT32_MAX;
  range equal_range(uint64_t f, uint32_t from = unknown) const noexcept {
    const uint32_t first = from != unknown ? from : lower_bound(f);
    if (first == size() || fences_[first] != f) return {first, first};
    const auto last = std::upper_bound(fences_.begin() + first + 1, fences_.end(), f);
    return {first, static_cast<uint32_t>(last - fences_.begin())};
  }

  /// Fence i (< size()).
  uint64_t operator[](uint32_t i) const noexcept { return fences_[i]; }
  uint32_t size() const noexcept { return static_cast<uint32_t>(fences_.size()); }
  /// Bytes of memory the fences hold.
  size_t bytes() const noexcept {
    return fences_.capacity() * sizeof(uint64_t) + prefix_.capacity();
  }

 private:
  std::string prefix_;
  std::vector<uint64_t> fences_;  // fence(user key of index entry i), non-decreasing
};

}  // namespace lsmt::detail

#endif  // LSMT_FENCE_INDEX_HPP
