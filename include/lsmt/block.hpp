// lsmt/block.hpp - the sorted, prefix-compressed run of entries that SSTable data and index
// blocks are made of: a builder, and an iterator that decodes a block in place.
//
// Format of a block's contents (the trailer that follows it on disk is in table_format.hpp):
//
//   contents     := entry* restart* num_restarts
//   entry        := varint32(shared) varint32(unshared) varint32(value_len)
//                   key_suffix[unshared] value[value_len]
//   restart      := fixed32(offset of an entry with shared == 0)
//   num_restarts := fixed32, >= 1
//
// An entry's key is the first `shared` bytes of the previous entry's key followed by its
// key_suffix. Consecutive keys share long prefixes, so this saves space; but it means a key can
// only be rebuilt by decoding forward from an entry that stores its key whole. Every
// restart_interval-th entry does so (shared == 0) and is listed in the restart array, so a seek
// binary-searches the restart keys in place and then decodes at most restart_interval entries.
// Keys are internal keys (internal_key.hpp) in strictly increasing order. An empty block has
// no entries and one restart pointing at offset 0.
//
// Decoding trusts nothing: every varint, length, restart offset and key is checked against the
// block's bounds before use, and a violation throws corruption_error naming the block.
//
// Thread safety: a block_builder and a block_iter are each used by one thread at a time; block
// bytes are immutable once built and may be read by any number of iterators at once.
#ifndef LSMT_BLOCK_HPP
#define LSMT_BLOCK_HPP

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "block_builder.hpp"
#include "coding.hpp"
#include "error.hpp"
#include "internal_iterator.hpp"
#include "internal_key.hpp"

namespace lsmt::detail {

/// Where a block lives, for error messages.
struct block_location {
  uint64_t file_number = 0;
  uint64_t offset = 0;
};

[[noreturn]] inline void throw_block_corruption(const block_location& where, const char* why) {
  throw corruption_error("lsmt: table " + std::to_string(where.file_number) + ", block at offset " +
                         std::to_string(where.offset) + ": " + why);
}

/// A rebuilt (prefix + suffix) key. Keys up to 64 bytes live inline, so seeking and scanning a
/// block does not touch the heap. Not copyable: views into it would dangle.
class key_buffer {
 public:
  key_buffer() = default;
  key_buffer(const key_buffer&) = delete;
  key_buffer& operator=(const key_buffer&) = delete;

  /// Stores the first `shared` bytes of prev (which may live in this buffer) followed by suffix.
  std::string_view splice(std::string_view prev, size_t shared, std::string_view suffix) {
    const size_t n = shared + suffix.size();
    if (n > capacity_) {
      capacity_ = std::max(n, 2 * capacity_);
      auto bigger = std::make_unique<char[]>(capacity_);
      if (shared != 0) std::memcpy(bigger.get(), prev.data(), shared);  // before prev is freed
      heap_ = std::move(bigger);
      data_ = heap_.get();
    } else if (shared != 0 && prev.data() != data_) {
      std::memcpy(data_, prev.data(), shared);
    }
    if (!suffix.empty()) std::memcpy(data_ + shared, suffix.data(), suffix.size());
    return {data_, n};
  }

 private:
  char inline_[64]{};
  std::unique_ptr<char[]> heap_;
  char* data_ = inline_;
  size_t capacity_ = sizeof(inline_);
};

/// make_lookup_key(user_key, snapshot), built in `buffer`: no allocation for user keys of up to
/// 56 bytes. Valid until the buffer's next use.
inline std::string_view lookup_key_in(key_buffer& buffer, std::string_view user_key,
                                      uint64_t snapshot) {
  char tag[tag_size];
  encode_fixed64(tag, pack_tag(snapshot, value_type_for_seek));
  return buffer.splice(user_key, user_key.size(), std::string_view(tag, tag_size));
}

/// Iterates one block in place. Reusable: reset() points it at another block, which is how the
/// table iterator and table_reader::get avoid allocating. Not thread-safe.
class block_iter final : public internal_iterator {
 public:
  block_iter() = default;

  /// Points the iterator (unpositioned) at `contents`. `pin` owns the bytes unless they live in a
  /// mapping that outlives the iterator. Throws corruption_error if the restart array is bad.
  void reset(std::string_view contents, const block_location& where,
             std::shared_ptr<const std::string> pin = nullptr) {
    where_ = where;
    const size_t size = contents.size();
    if (size < 4 || size > UINT32_MAX) throw_block_corruption(where, "bad block size");
    const uint32_t n = decode_fixed32(contents.data() + size - 4);
    if (n == 0 || n > (size - 4) / 4) throw_block_corruption(where, "bad restart count");
    data_ = contents.data();
    num_restarts_ = n;
    limit_ = static_cast<uint32_t>(size - 4 - 4 * size_t{n});
    pin_ = std::move(pin);
    cache_.clear();
    invalidate();
  }

  /// Makes the block's keys range deletions (value_type::range_deletion) rather than point
  /// entries: the table's range-deletion block (table_format.hpp). Call after reset().
  void expect_range_deletions() noexcept { range_deletions_ = true; }

  /// Forgets the block (and releases its pin).
  void clear() {
    data_ = nullptr;
    limit_ = num_restarts_ = 0;
    pin_.reset();
    cache_.clear();
    invalidate();
  }

  bool valid() const override { return current_ < limit_; }
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return value_; }
  /// The restart point the current entry belongs to; in a block built with restart interval 1
  /// (the index) this is the entry's ordinal.
  uint32_t restart_index() const { return restart_index_; }

  void seek_to_first() override {
    if (data_ == nullptr) return;
    seek_to_restart(0);
    parse_next();
  }

  void seek_to_last() override {
    if (data_ == nullptr) return;
    decode_group(num_restarts_ - 1, limit_);
  }

  void seek(std::string_view target) override {
    if (data_ == nullptr) return;
    // Find the last restart whose key is < target; the answer is at or after it (at the first
    // restart if there is none).
    uint32_t lo = 0;
    uint32_t hi = num_restarts_ > 0 ? num_restarts_ - 1 : 0;
    // The binary search's probes depend on each other, and each is a cache miss in a block not
    // in cache: ask for all of them at once (a data block has a handful of restarts).
    if (hi - lo < 16) {
      for (uint32_t i = lo + 1; i <= hi; ++i) prefetch_line(data_ + restart_point(i));
    }
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo + 1) / 2;
      if (compare_internal_keys(restart_key(mid), target) < 0) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    seek_to_restart(lo);
    // So is each line of the group the scan then decodes: ask for up to 1 KiB of it at once.
    const uint32_t group_end = lo + 1 < num_restarts_ ? restart_point(lo + 1) : limit_;
    prefetch_lines(next_ + 64, group_end);  // its first line is read next anyway
    while (parse_next() && compare_internal_keys(key_, target) < 0) {
    }
  }

  void next() override { parse_next(); }

  void prev() override {
    // Entries only decode forward. A step back inside the group decoded last is a lookup in
    // the cache; otherwise the group holding the previous entry is decoded into it.
    if (cache_pos_ > 0 && cache_pos_ < cache_.size() && cache_[cache_pos_].offset == current_) {
      use_cached(--cache_pos_);
      return;
    }
    uint32_t r = restart_index_;
    while (restart_point(r) >= current_) {
      if (r == 0) {
        invalidate();
        return;
      }
      --r;
    }
    decode_group(r, current_);
  }

 private:
  /// An entry of the restart group decoded by decode_group: offsets into the block, and its
  /// key's place in cache_keys_.
  struct cached_entry {
    uint32_t offset;
    uint32_t next;
    uint32_t value_offset;
    uint32_t value_size;
    size_t key_offset;
    size_t key_size;
  };

  /// Decodes restart group r from its start to the entry that ends at or after offset `end`,
  /// positions there, and keeps every entry decoded on the way, so that the prev() calls that
  /// follow cost no decoding: a backward scan decodes each entry once, not interval / 2 times.
  void decode_group(uint32_t r, uint32_t end) {
    // A backward scan decodes each group forward from its restart and then jumps back a group,
    // which the hardware prefetcher does not follow: each entry's header was a cache miss
    // (78% of parse_next's samples in readreverse). Ask for this group's lines at once, and for
    // the group before it, which the next call decodes.
    // Only hints: the previous restart is checked when that group is decoded, not here.
    const uint32_t start = restart_point(r);
    prefetch_lines(start, end);
    if (r > 0) {
      const uint32_t before = decode_fixed32(data_ + limit_ + 4 * size_t{r - 1});
      if (before < start) prefetch_lines(before, start);
    }
    seek_to_restart(r);  // key_ no longer views cache_keys_
    cache_.clear();
    cache_keys_.clear();
    while (parse_next()) {
      cache_.push_back({current_, next_, static_cast<uint32_t>(value_.data() - data_),
                        static_cast<uint32_t>(value_.size()), cache_keys_.size(), key_.size()});
      cache_keys_.append(key_);
      if (next_ >= end) break;
    }
    if (cache_.empty()) return;  // an empty block: parse_next() left the iterator invalid
    cache_group_ = r;
    use_cached(cache_pos_ = cache_.size() - 1);
  }

  /// Prefetches the lines of [from, to), at most 1 KiB of them. Keep the loop in this form:
  /// written as a call of a loop over min(to - from, 1024) bytes, GCC 12 at -O3 dropped every
  /// prefetch of it, and backward scans ran 25% slower.
  void prefetch_lines(uint32_t from, uint32_t to) const noexcept {
    for (uint32_t at = from; at < to && at - from < 1024; at += 64) prefetch_line(data_ + at);
  }

  void use_cached(size_t i) {
    const cached_entry& e = cache_[i];
    current_ = e.offset;
    next_ = e.next;
    restart_index_ = cache_group_;
    key_ = std::string_view(cache_keys_.data() + e.key_offset, e.key_size);
    value_ = std::string_view(data_ + e.value_offset, e.value_size);
  }

  void invalidate() {
    current_ = next_ = limit_;
    restart_index_ = num_restarts_;
    key_ = value_ = {};
  }

  uint32_t restart_point(uint32_t i) const {
    const uint32_t offset = decode_fixed32(data_ + limit_ + 4 * size_t{i});
    if (offset > limit_) throw_block_corruption(where_, "restart offset out of range");
    return offset;
  }

  void seek_to_restart(uint32_t i) {
    next_ = restart_point(i);
    restart_index_ = i;
    key_ = {};  // a restart entry must not borrow from the previous key
  }

  /// Decodes the header of the entry at `offset`; returns the start of its key suffix.
  const char* decode_header(uint32_t offset, uint32_t* shared, uint32_t* unshared,
                            uint32_t* value_len) const {
    const char* p = data_ + offset;
    const char* end = data_ + limit_;
    // Fast path: short keys and values have three one-byte varints.
    if (end - p >= 3 && ((p[0] | p[1] | p[2]) & 0x80) == 0) {
      *shared = static_cast<unsigned char>(p[0]);
      *unshared = static_cast<unsigned char>(p[1]);
      *value_len = static_cast<unsigned char>(p[2]);
      p += 3;
    } else {
      uint64_t v[3];
      for (auto& x : v) {
        if ((p = decode_varint(p, end, &x, 5)) == nullptr || x > UINT32_MAX) {
          throw_block_corruption(where_, "bad entry header");
        }
      }
      *shared = static_cast<uint32_t>(v[0]);
      *unshared = static_cast<uint32_t>(v[1]);
      *value_len = static_cast<uint32_t>(v[2]);
    }
    if (uint64_t{*unshared} + *value_len > static_cast<uint64_t>(end - p)) {
      throw_block_corruption(where_, "entry overruns block");
    }
    return p;
  }

  bool valid_key(std::string_view k) const noexcept {
    if (!range_deletions_) return valid_internal_key(k);
    return k.size() >= tag_size && extract_type(k) == value_type::range_deletion;
  }

  std::string_view restart_key(uint32_t i) const {
    uint32_t shared = 0;
    uint32_t unshared = 0;
    uint32_t value_len = 0;
    const char* p = decode_header(restart_point(i), &shared, &unshared, &value_len);
    const std::string_view key(p, unshared);
    if (shared != 0 || !valid_key(key)) throw_block_corruption(where_, "bad restart key");
    return key;
  }

  /// Moves to the entry at next_; returns false (invalid) at the end of the block.
  bool parse_next() {
    current_ = next_;
    if (current_ >= limit_) {
      invalidate();
      return false;
    }
    uint32_t shared = 0;
    uint32_t unshared = 0;
    uint32_t value_len = 0;
    const char* p = decode_header(current_, &shared, &unshared, &value_len);
    if (shared > key_.size()) throw_block_corruption(where_, "shared prefix exceeds previous key");
    // A whole key is used in place; only prefix-compressed keys are rebuilt.
    key_ = shared == 0 ? std::string_view(p, unshared)
                       : buf_.splice(key_, shared, std::string_view(p, unshared));
    if (!valid_key(key_)) throw_block_corruption(where_, "invalid internal key");
    value_ = std::string_view(p + unshared, value_len);
    next_ = static_cast<uint32_t>(p + unshared + value_len - data_);
    while (restart_index_ + 1 < num_restarts_ && restart_point(restart_index_ + 1) <= current_) {
      ++restart_index_;
    }
    return true;
  }

  const char* data_ = nullptr;
  uint32_t limit_ = 0;  // end of the entries = start of the restart array
  uint32_t num_restarts_ = 0;
  uint32_t current_ = 0;  // offset of the current entry; limit_ when invalid
  uint32_t next_ = 0;     // offset of the entry after it
  uint32_t restart_index_ = 0;
  std::string_view key_;
  std::string_view value_;
  key_buffer buf_;
  std::vector<cached_entry> cache_;  // the restart group decoded last (decode_group)
  std::string cache_keys_;           // its keys, back to back
  size_t cache_pos_ = 0;             // the cached entry prev() last moved to
  uint32_t cache_group_ = 0;         // its restart index
  block_location where_;
  bool range_deletions_ = false;  // keys are range deletions (expect_range_deletions)
  std::shared_ptr<const std::string> pin_;
};

}  // namespace lsmt::detail

#endif  // LSMT_BLOCK_HPP
