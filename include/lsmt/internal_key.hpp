// lsmt/internal_key.hpp - the key every table and memtable entry is sorted by.
//
// An internal key is the user key followed by an 8-byte tag:
//
//   internal_key := user_key | fixed64(tag)
//   tag          := (sequence << 8) | type        sequence < 2^56
//
// Internal keys sort by user key (bytewise, shorter first on a tie of the
// common prefix) and then by tag in DECREASING order, so the newest version of
// a key comes first. A lookup for `key` as of snapshot `s` seeks to
// make_lookup_key(key, s): the first entry at or after it is the newest version
// with sequence <= s.
//
// Thread safety: stateless functions; safe from any thread.
#ifndef LSMT_INTERNAL_KEY_HPP
#define LSMT_INTERNAL_KEY_HPP

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "coding.hpp"

// Key comparisons sit in the innermost loops (merge steps, block and memtable
// searches); GCC's size heuristics otherwise leave them as calls there.
#if defined(__GNUC__)
#define LSMT_ALWAYS_INLINE __attribute__((always_inline))
#else
#define LSMT_ALWAYS_INLINE
#endif

namespace lsmt::detail {

/// Entry types. Part of the on-disk format: DO NOT CHANGE THESE VALUES. Point entries (tables'
/// data blocks, the memtable's tree) are deletions or values; a range deletion lives in WAL
/// batches and in a table's range-deletion block (range_tombstones.hpp). A blob index is a value
/// kept in a blob file: the entry's value is a blob_ref (blob_file.hpp). Only tables hold blob
/// indexes (the flush writes them), never a WAL batch or a memtable.
enum class value_type : uint8_t { deletion = 0, value = 1, range_deletion = 2, blob_index = 3 };

/// The type used when seeking: the highest point entry type, so it sorts before every point
/// entry of the same sequence (range deletions never meet point seeks).
inline constexpr value_type value_type_for_seek = value_type::blob_index;

/// The type of the keys a table stores only to bound others (index separators, the bounds a
/// range deletion widens): always at max_sequence, which no entry has, so their type orders
/// nothing. It stays `value`, which every lsmt reads, so tables without blob indexes read in
/// an lsmt that predates them.
inline constexpr value_type value_type_for_bound = value_type::value;

inline constexpr uint64_t max_sequence = (uint64_t{1} << 56) - 1;
inline constexpr size_t tag_size = 8;

inline uint64_t pack_tag(uint64_t seq, value_type t) noexcept {
  return (seq << 8) | static_cast<uint64_t>(t);
}

inline void append_internal_key(std::string& dst, std::string_view user_key, uint64_t seq,
                                value_type t) {
  dst.append(user_key.data(), user_key.size());
  put_fixed64(dst, pack_tag(seq, t));
}

inline std::string make_lookup_key(std::string_view user_key, uint64_t snapshot) {
  std::string k;
  k.reserve(user_key.size() + tag_size);
  append_internal_key(k, user_key, snapshot, value_type_for_seek);
  return k;
}

/// REQUIRES: ikey.size() >= 8 (callers validate keys read from disk first).
inline std::string_view extract_user_key(std::string_view ikey) noexcept {
  return ikey.substr(0, ikey.size() - tag_size);
}
inline uint64_t extract_tag(std::string_view ikey) noexcept {
  return decode_fixed64(ikey.data() + ikey.size() - tag_size);
}
inline uint64_t extract_sequence(std::string_view ikey) noexcept { return extract_tag(ikey) >> 8; }
inline value_type extract_type(std::string_view ikey) noexcept {
  return static_cast<value_type>(extract_tag(ikey) & 0xff);
}
/// True when ikey is long enough and carries a point entry's type (deletion, value or blob
/// index).
inline bool valid_internal_key(std::string_view ikey) noexcept {
  if (ikey.size() < tag_size) return false;
  const uint64_t t = extract_tag(ikey) & 0xff;
  return t <= 1 || t == static_cast<uint64_t>(value_type::blob_index);
}

/// Whether an entry of this type holds a value (inline or in a blob file).
inline bool holds_value(value_type t) noexcept {
  return t == value_type::value || t == value_type::blob_index;
}

/// Bytewise comparison of user keys: <0, 0, >0.
// Every seek step, merge step and memtable descent compares keys, and typical
// keys are short, where a call to memcmp costs more than the comparison itself.
// So the first 8-byte words are compared inline: a word read big-endian orders
// like its bytes.
LSMT_ALWAYS_INLINE inline int compare_user_keys(std::string_view a, std::string_view b) noexcept {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  size_t i = 0;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  for (; i + 8 <= n && i < 32; i += 8) {
    uint64_t x = 0;
    uint64_t y = 0;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
  }
#endif
  const int r = n == i ? 0 : std::memcmp(a.data() + i, b.data() + i, n - i);
  if (r != 0) return r;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

/// Orders internal keys: user key ascending, then tag descending.
LSMT_ALWAYS_INLINE inline int compare_internal_keys(std::string_view a,
                                                    std::string_view b) noexcept {
  const int r = compare_user_keys(extract_user_key(a), extract_user_key(b));
  if (r != 0) return r;
  const uint64_t ta = extract_tag(a);
  const uint64_t tb = extract_tag(b);
  return ta > tb ? -1 : (ta < tb ? 1 : 0);
}

/// What covers a key, for an iterator: the newest range deletion's sequence that its snapshot
/// sees (0: none), and whether that deletion is in a memtable (a merge of tables cannot yet drop
/// what it covers).
struct range_cover {
  uint64_t seq = 0;
  bool in_memory = false;
};

}  // namespace lsmt::detail

#endif  // LSMT_INTERNAL_KEY_HPP
