// lsmt/key_ranges.hpp - the [lower, upper) segments of the range queries, in encoded keys.
//
// db and transaction offer the same range queries (range, not_in_range, greater_than, ...);
// both turn typed keys into the segments of byte strings that their range_view walks here, so
// the encoding and the successor logic live in one place. Segments are in key order and do not
// overlap. A bound of nullopt is unbounded.
//
// Thread safety: stateless functions.
#ifndef LSMT_KEY_RANGES_HPP
#define LSMT_KEY_RANGES_HPP

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "db_iterator.hpp"

namespace lsmt::detail {

template <class Key, class KeyCodec>
struct key_ranges {
  using segments = std::vector<key_bounds>;

  static std::string encode(const Key& k) {
    std::string s;
    KeyCodec::encode(k, s);
    return s;
  }
  static std::optional<std::string> encode_opt(const std::optional<Key>& k) {
    if (!k) return std::nullopt;
    return encode(*k);
  }
  /// The smallest byte string greater than s.
  static std::string successor(std::string s) {
    s.push_back('\0');
    return s;
  }

  /// Keys in [start, end].
  static segments range(const Key& start, const Key& end) {
    return one(encode(start), successor(encode(end)));
  }
  /// Keys outside [start, end] (every key, each once, if start > end).
  static segments not_in_range(const Key& start, const Key& end) {
    std::string lo = encode(start);
    std::string hi = std::max(lo, successor(encode(end)));  // segments must not overlap
    segments s;
    s.emplace_back(std::nullopt, std::move(lo));
    s.emplace_back(std::move(hi), std::nullopt);
    return s;
  }
  static segments greater_than(const Key& k) { return one(successor(encode(k)), std::nullopt); }
  static segments greater_or_equal(const Key& k) { return one(encode(k), std::nullopt); }
  static segments less_than(const Key& k) { return one(std::nullopt, encode(k)); }
  static segments less_or_equal(const Key& k) { return one(std::nullopt, successor(encode(k))); }
  /// Every key except k.
  static segments all_except(const Key& k) {
    std::string lo = encode(k);
    std::string hi = successor(lo);
    segments s;
    s.emplace_back(std::nullopt, std::move(lo));
    s.emplace_back(std::move(hi), std::nullopt);
    return s;
  }
  static segments scan() { return one(std::nullopt, std::nullopt); }
  static segments one(std::optional<std::string> lower, std::optional<std::string> upper) {
    segments s;
    s.emplace_back(std::move(lower), std::move(upper));
    return s;
  }
};

}  // namespace lsmt::detail

#endif  // LSMT_KEY_RANGES_HPP
