// lsmt/range_tombstones.hpp - range deletions: a set of [begin, end) tombstones, cut into
// fragments that do not overlap, and the question every read asks of them.
//
// delete_range(begin, end) writes one tombstone: every version of a key in [begin, end) with a
// sequence below the tombstone's is deleted. A reader at snapshot s asks covering(key, s): the
// newest tombstone sequence <= s whose range holds key. A point version with a smaller sequence
// is hidden. Sequences decide everything, so a tombstone can be asked about by any reader of
// any source: where it lives only matters for when a compaction may drop it (table_writer.hpp).
//
// Tombstones overlap freely, so the set keeps them fragmented (as Pebble's fragmenter does):
// non-overlapping [begin, end) pieces in key order, each with the sequences of every tombstone
// that covers it, ascending. Adding [b, e) splits the pieces it cuts at b and e, adds its
// sequence to the pieces inside, and fills the gaps between them with new pieces. A query is
// one binary search over the pieces and one over a piece's sequences.
//
// Cost: a set of n tombstones holds at most 2n pieces, but a piece holds one sequence per
// tombstone over it, so n nested tombstones take O(n^2) space. Range deletes are for ranges:
// many small ones cost more than point deletes (as in RocksDB and Pebble).
//
// Thread safety: none inside. The memtable guards its set with its own mutex; tables and
// versions build theirs once and only read them after.
#ifndef LSMT_RANGE_TOMBSTONES_HPP
#define LSMT_RANGE_TOMBSTONES_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "internal_key.hpp"

namespace lsmt::detail {

/// The byte order of user keys, for the map (transparent, so lookups need no std::string).
struct user_key_less {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept {
    return compare_user_keys(a, b) < 0;
  }
};

/// A set of range tombstones, kept as non-overlapping fragments. Thread safety: see above.
class range_tombstones {
 public:
  struct fragment {
    std::string end;             // exclusive
    std::vector<uint64_t> seqs;  // ascending, no duplicates
  };

  /// Adds the tombstone [begin, end) at sequence seq. Empty ranges (begin >= end) add nothing.
  void add(std::string_view begin, std::string_view end, uint64_t seq) {
    if (compare_user_keys(begin, end) >= 0) return;
    split_at(begin);
    split_at(end);
    std::string cur(begin);
    auto it = pieces_.lower_bound(std::string_view(cur));
    while (compare_user_keys(cur, end) < 0) {
      if (it != pieces_.end() && it->first == cur) {  // a piece inside [begin, end)
        std::vector<uint64_t>& s = it->second.seqs;
        const auto at = std::lower_bound(s.begin(), s.end(), seq);
        if (at == s.end() || *at != seq) {
          s.insert(at, seq);
          bytes_ += sizeof(uint64_t);
        }
        cur = it->second.end;
        ++it;
        continue;
      }
      // A gap up to the next piece (which starts at or after end if there is none inside).
      std::string gap_end(end);
      if (it != pieces_.end() && compare_user_keys(it->first, end) < 0) gap_end = it->first;
      bytes_ += cur.size() + gap_end.size() + sizeof(uint64_t) + node_overhead;
      pieces_.emplace_hint(it, cur, fragment{gap_end, {seq}});
      cur = std::move(gap_end);
    }
    ++count_;
  }

  /// The newest sequence <= snapshot of a tombstone that covers key, or 0 if none does.
  uint64_t covering(std::string_view key, uint64_t snapshot) const {
    auto it = pieces_.upper_bound(key);
    if (it == pieces_.begin()) return 0;
    --it;
    if (compare_user_keys(key, it->second.end) >= 0) return 0;
    const std::vector<uint64_t>& s = it->second.seqs;
    const auto past = std::upper_bound(s.begin(), s.end(), snapshot);
    return past == s.begin() ? 0 : *std::prev(past);
  }

  /// Calls f(begin, end, seqs) for each fragment, in key order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [begin, piece] : pieces_) f(std::string_view(begin), piece.end, piece.seqs);
  }

  /// Adds every tombstone of other.
  void add_all(const range_tombstones& other) {
    other.for_each([this](std::string_view b, std::string_view e, const auto& seqs) {
      for (const uint64_t s : seqs) add(b, e, s);
    });
  }

  /// The least begin and the greatest end of the fragments. REQUIRES: !empty().
  std::string_view first_begin() const { return pieces_.begin()->first; }
  std::string_view last_end() const { return std::prev(pieces_.end())->second.end; }

  bool empty() const noexcept { return pieces_.empty(); }
  size_t fragments() const noexcept { return pieces_.size(); }
  /// Tombstones added (each add() of a non-empty range counts once).
  size_t count() const noexcept { return count_; }
  /// About how much memory the set takes.
  size_t memory_usage() const noexcept { return bytes_; }

 private:
  static constexpr size_t node_overhead = 128;  // a map node with two strings and a vector

  // Makes key a fragment boundary: a fragment [b, e) with b < key < e becomes [b, key), [key, e).
  void split_at(std::string_view key) {
    auto it = pieces_.upper_bound(key);
    if (it == pieces_.begin()) return;
    --it;
    if (it->first == key || compare_user_keys(key, it->second.end) >= 0) return;
    fragment right{it->second.end, it->second.seqs};
    it->second.end.assign(key.data(), key.size());
    bytes_ += 2 * key.size() + right.seqs.size() * sizeof(uint64_t) + node_overhead;
    pieces_.emplace_hint(std::next(it), std::string(key), std::move(right));
  }

  std::map<std::string, fragment, user_key_less> pieces_;
  size_t count_ = 0;
  size_t bytes_ = 0;
};

}  // namespace lsmt::detail

#endif  // LSMT_RANGE_TOMBSTONES_HPP
