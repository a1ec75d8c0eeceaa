// lsmt/sstable_reader.hpp - reads an SSTable (format in table_format.hpp): point lookups and
// bloom-filter checks; the iterator over its index and data blocks is table_iter.hpp's.
//
// Opening validates the footer and loads and checksums the filter and index blocks, and the
// range-deletion block (kept in memory as a range_tombstones set); the index is walked once so that
// every data block handle is known to be in bounds and contiguous. That walk builds the table's
// table_index (table_index.hpp): 12 bytes per data block, and the index keys only of blocks whose
// fences tie; the index block itself is not kept.
// Data blocks are checksummed before their first use:
//   * mapped file: blocks are read in place (no copy, no cache); a per-table bitmap remembers
//     which blocks were verified so the CRC is computed once per block, not once per read;
//   * otherwise: blocks are read into memory, verified, and shared through the block_cache,
//     until a read finds room for the table under max_mapped_bytes and maps it (set_mapper).
// A compressed block (table_format.hpp, "Compression") is verified and decompressed into memory
// on every cache miss, mapped file or not, and shared through the block_cache like a read one;
// a compressed filter, index or range-deletion block is decompressed once, at open. A block of
// another compressor id than table_options::compressor's is invalid_argument_error; one that
// does not decompress to its recorded size is corruption_error.
//
// Thread safety: after open() and set_mapper(), all methods may be called from any number of
// threads at once; the one change is a mapping adopted on a read (table_blocks.hpp). Each iterator
// is used by one thread at a time; it keeps its table alive.
#ifndef LSMT_SSTABLE_READER_HPP
#define LSMT_SSTABLE_READER_HPP

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "block.hpp"
#include "block_cache.hpp"
#include "bloom.hpp"
#include "coding.hpp"
#include "counters.hpp"
#include "crc32c.hpp"
#include "error.hpp"
#include "file_system.hpp"
#include "internal_iterator.hpp"
#include "internal_key.hpp"
#include "range_tombstones.hpp"
#include "table_blocks.hpp"
#include "table_format.hpp"
#include "table_index.hpp"

namespace lsmt::detail {

class table_iter;
class block_readahead;

/// An open SSTable. Thread-safe; immutable after open() and set_mapper() but for a mapping a
/// read may adopt (table_blocks.hpp).
class table_reader : public std::enable_shared_from_this<table_reader> {
 public:
  /// Validates the footer (which must name table file_number) and loads the filter and index
  /// blocks. Throws corruption_error if the file is not a well-formed table, io_error if it
  /// cannot be read, invalid_argument_error if its blocks need another compressor than
  /// options.compressor (the only option a reader uses).
  static std::shared_ptr<table_reader> open(std::unique_ptr<readable_file> file,
                                            uint64_t file_number, const table_options& options,
                                            std::shared_ptr<block_cache> cache) {
    std::shared_ptr<table_reader> t(
        new table_reader(std::move(file), file_number, options.compressor, std::move(cache)));
    t->load();
    return t;
  }

  /// Finds the newest entry for the user key of lookup_key (make_lookup_key(user_key, snapshot))
  /// with sequence <= snapshot. Returns false if this table has none; else sets *type, *seq and,
  /// for a value, *value. Allocates nothing on a mapped file except the copy into *value.
  bool get(std::string_view lookup_key, value_type* type, std::string* value, uint64_t* seq) const {
    return get(lookup_key, hash64(extract_user_key(lookup_key)), type, value, seq);
  }
  /// The same, with key_hash = hash64(user key of lookup_key) computed by the caller; counts
  /// the filter check in *counters, if given.
  bool get(std::string_view lookup_key, uint64_t key_hash, value_type* type, std::string* value,
           uint64_t* seq, read_counters* counters = nullptr) const {
    const std::string_view user_key = extract_user_key(lookup_key);
    if (!filter_.empty()) {
      const bool may_match = bloom_may_match_hash(filter_, key_hash);
      if (counters != nullptr) {
        counters->bloom_checks.add(1);
        if (!may_match) counters->bloom_useful.add(1);
      }
      if (!may_match) return false;
    }
    const table_index::found at = index_.find(lookup_key);
    if (at.ordinal == index_.size()) return false;  // past the table's last key
    // The reads below are a chain of cache misses, each waiting for the one before: the
    // trailer, then the restart keys, then the entries of one restart group. Asking for the
    // whole block at once lets them overlap (README, "Point reads and seeks against LMDB").
    prefetch_block(at.ordinal, true);
    block_iter block;
    load_block(block, at.ordinal);
    block.seek(lookup_key);
    if (!block.valid() && at.or_next && at.ordinal + 1 < index_.size()) {
      load_block(block, at.ordinal + 1);  // the target may sort after the block's index key
      block.seek(lookup_key);
    }
    // The index keys bound the blocks, so the answer (if any) is where the block iterator is.
    if (!block.valid() || extract_user_key(block.key()) != user_key) return false;
    const std::string_view k = block.key();
    *seq = extract_sequence(k);
    *type = extract_type(k);
    if (holds_value(*type)) value->assign(block.value().data(), block.value().size());
    return true;
  }

  /// If the table is mapped, hints the CPU to fetch the first line and the restart array of the
  /// block a seek for target (an internal key) reads first: the first one the fences allow
  /// (table_index::find settles ties between equal fences, which a hint does not). Returns that
  /// block's ordinal for table_index::find(target, hint), or no_hint if unmapped.
  uint32_t prefetch_seek(std::string_view target) const {
    if (blocks_.mapping() == nullptr) return no_hint;  // no fence search for a pread table
    const uint32_t ordinal = index_.first_candidate(target);
    prefetch_block(ordinal);
    return ordinal;
  }
  /// prefetch_seek's result when it searched nothing.
  static constexpr uint32_t no_hint = table_index::no_hint;

  /// Asks the CPU for the filter line get(..., key_hash, ...) will check first.
  void prefetch_filter(uint64_t key_hash) const noexcept { bloom_prefetch(filter_, key_hash); }

  /// False only if the table certainly holds no entry for user_key.
  bool may_contain(std::string_view user_key) const {
    return filter_.empty() || bloom_may_match(filter_, user_key);
  }

  /// An iterator over the table. fill_cache false keeps the blocks it reads with pread out of
  /// the block cache (a compaction reads each block once; it must not evict the readers' ones).
  std::unique_ptr<internal_iterator> new_iterator(bool fill_cache = true) const;
  /// An iterator for one pass in key order (a compaction's input, a check of the whole table)
  /// that reads the data blocks through `file`, this table opened again for pread, many blocks
  /// per read (table_iter.hpp, block_readahead). Outside the block cache and the mapping.
  std::unique_ptr<internal_iterator> new_scan_iterator(std::unique_ptr<readable_file> file) const;

  /// About how far into the file the entries of user_key (or the first key after it) start:
  /// the offset of the data block that would hold them (or of the block before it, where the
  /// fences cannot tell), or the file size past the last key. From the index alone.
  uint64_t approximate_offset(std::string_view user_key) const {
    const uint32_t ordinal = index_.find(make_lookup_key(user_key, max_sequence)).ordinal;
    return ordinal == index_.size() ? file_size_ : index_.offset(ordinal);
  }

  /// The table's range deletions, or null if it has none.
  const std::shared_ptr<const range_tombstones>& range_deletions() const { return range_dels_; }

  uint64_t file_number() const { return file_number_; }
  /// What the footer says this table is (table_format.hpp, "Identity").
  const table_identity& identity() const { return id_; }
  /// Whether `file`, this table's file opened again, still is this table: the same size, and a
  /// footer that names the same table. False if the file was replaced since this one opened.
  bool same_table(const readable_file& file) const {
    table_footer decoded;
    return file.size() == file_size_ && read_footer(file, file_size_, &decoded) == nullptr &&
           decoded.id == id_;
  }
  uint64_t file_size() const { return file_size_; }
  bool mapped() const { return blocks_.mapped(); }
  /// Lets a table opened for pread be mapped on a later read, when `budget` has room for it:
  /// the file at `path` of `fs` (table_blocks.hpp). Call before sharing the table.
  void set_mapper(std::shared_ptr<file_system> fs, std::string path,
                  std::shared_ptr<mapping_budget> budget) {
    blocks_.set_mapper(std::move(fs), std::move(path), std::move(budget));
  }
  /// Bytes of the bloom filter (in the mapping if the file was mapped at open, else in memory).
  size_t filter_bytes() const { return filter_.size(); }
  /// Bytes of the index kept in memory (table_index.hpp).
  size_t index_bytes() const { return index_.bytes(); }

 private:
  friend class table_iter;
  friend class block_readahead;

  /// The largest block a point read prefetches whole (a 4 KiB block_size gives blocks a little
  /// over 4 KiB); a larger one gets the two lines a scan's prefetch asks for.
  static constexpr size_t whole_block_prefetch = 8192;

  table_reader(std::unique_ptr<readable_file> file, uint64_t file_number,
               std::shared_ptr<const lsmt::compressor> compressor,
               std::shared_ptr<block_cache> cache)
      : blocks_(std::move(file), file_number, std::move(compressor)),
        file_number_(file_number),
        cache_(std::move(cache)) {}

  [[noreturn]] void corrupt(const std::string& why) const { blocks_.corrupt(why); }

  /// Reads and decodes the footer of `file`, `size` (>= footer_size) bytes long: null, or why
  /// it is not a table's footer.
  static const char* read_footer(const readable_file& file, uint64_t size, table_footer* out) {
    const auto tail = static_cast<size_t>(std::min<uint64_t>(size, max_footer_size));
    char buf[max_footer_size];
    const std::string_view footer = file.read(size - tail, tail, buf);
    if (footer.size() != tail) return "short read of the footer";
    return decode_footer(footer.data(), tail, out);
  }

  void load() {
    file_size_ = blocks_.file().size();
    if (file_size_ < footer_size) corrupt("file too short to be a table");
    table_footer decoded;
    if (const char* why = read_footer(blocks_.file(), file_size_, &decoded)) corrupt(why);
    if (decoded.id.number != file_number_) {
      corrupt("its footer says it is table " + std::to_string(decoded.id.number) +
              " (renamed or swapped)");
    }
    id_ = decoded.id;
    const uint64_t footer_offset = file_size_ - footer_size_of(decoded);
    const block_handle filter = decoded.filter;
    const block_handle index = decoded.index;
    // Layout: data blocks, range deletions (version 3), filter, index, footer; anything else is
    // corrupt.
    if (!fits(index, footer_offset) || !fits(filter, index.offset) ||
        (decoded.has_range_dels && !fits(decoded.range_del, filter.offset))) {
      corrupt("footer block handles out of bounds");
    }
    filter_ = blocks_.read_contents(filter, &filter_storage_);
    data_end_ = filter.offset;
    if (decoded.has_range_dels) {
      data_end_ = decoded.range_del.offset;
      load_range_deletions(decoded.range_del);
    }
    std::string storage;
    load_index(blocks_.read_contents(index, &storage), index.offset);
  }

  /// Reads the range-deletion block into range_dels_: entries in strictly increasing internal
  /// key order, each of type range_deletion with begin < end.
  void load_range_deletions(const block_handle& h) {
    std::string storage;
    const std::string_view contents = blocks_.read_contents(h, &storage);
    block_iter it;
    it.reset(contents, {file_number_, h.offset});
    it.expect_range_deletions();
    auto set = std::make_shared<range_tombstones>();
    std::string prev;
    for (it.seek_to_first(); it.valid(); it.next()) {
      const std::string_view k = it.key();
      if (k.size() < tag_size || extract_type(k) != value_type::range_deletion ||
          extract_sequence(k) == 0 || compare_user_keys(extract_user_key(k), it.value()) >= 0 ||
          (!prev.empty() && compare_internal_keys(prev, k) >= 0)) {
        corrupt("bad range deletion in its block");
      }
      prev.assign(k.data(), k.size());
      set->add(extract_user_key(k), it.value(), extract_sequence(k));
    }
    if (set->empty()) corrupt("empty range-deletion block");
    range_dels_ = std::move(set);
  }

  /// True when block h plus its trailer lies within [0, end).
  static bool fits(const block_handle& h, uint64_t end) {
    return h.size <= end && end - h.size >= block_trailer_size &&
           h.offset <= end - h.size - block_trailer_size;
  }

  /// Walks the index block `contents` (at `offset` in the file) once, checking that keys
  /// increase, that each is stored whole (one entry per restart, as the format says), and that
  /// the data blocks tile [0, data_end_) exactly; builds index_ from it.
  void load_index(std::string_view contents, uint64_t offset) {
    block_iter it;
    it.reset(contents, {file_number_, offset});
    std::vector<uint64_t> offsets{0};
    uint32_t n = 0;
    std::vector<std::string_view> keys;  // views into contents, which outlives this
    for (it.seek_to_first(); it.valid(); it.next(), ++n) {
      const std::string_view k = it.key();
      if (n != 0 && compare_internal_keys(keys.back(), k) >= 0) corrupt("index keys out of order");
      if (it.restart_index() != n || k.data() < contents.data() ||
          k.data() + k.size() > contents.data() + contents.size()) {
        corrupt("index block is prefix-compressed");
      }
      const block_handle h = decode_handle(it.value());
      if (h.offset != offsets.back()) corrupt("index handles are not contiguous");
      offsets.push_back(h.offset + h.size + block_trailer_size);
      keys.push_back(k);
    }
    if (offsets.back() != data_end_) corrupt("index does not cover the data blocks");
    verified_ = std::make_unique<std::atomic<uint64_t>[]>((n + 63) / 64);
    index_.build(keys, std::move(offsets));
  }

  block_handle decode_handle(std::string_view v) const {
    block_handle h;
    if (!get_varint64(v, &h.offset) || !get_varint64(v, &h.size) || !v.empty() ||
        !fits(h, data_end_)) {
      corrupt("bad block handle in index");
    }
    return h;
  }

  /// Hints the CPU to fetch the first bytes and the restart count of data block `ordinal` (if it
  /// exists and the file is mapped), so a scan finds the next block in cache. whole: every line
  /// of the block and its trailer instead, for a block of at most whole_block_prefetch bytes.
  void prefetch_block(uint32_t ordinal, bool whole = false) const {
    const readable_file* m = blocks_.mapping();
    if (m == nullptr || ordinal >= index_.size()) return;
    const uint64_t offset = index_.offset(ordinal);
    const size_t n = index_.offset(ordinal + 1) - offset;
    const std::string_view bytes = m->read(offset, n, nullptr);
    if (bytes.size() != n || n < block_trailer_size + 4) return;
    if (whole && n <= whole_block_prefetch) {
      prefetch_line(bytes.data() + n - 1);  // the trailer, read first
      for (size_t at = 0; at < n; at += 64) prefetch_line(bytes.data() + at);
      return;
    }
    prefetch_line(bytes.data());
    prefetch_line(bytes.data() + n - block_trailer_size - 4);
  }

  /// Whether a reader of the mapping has verified data block `ordinal` (never, unmapped: only
  /// they set the bits). Relaxed suffices: the bit only caches a fact about immutable bytes;
  /// racing threads at worst both verify.
  bool block_verified(uint32_t ordinal) const {
    return (verified_[ordinal / 64].load(std::memory_order_relaxed) &
            (uint64_t{1} << (ordinal % 64))) != 0;
  }
  /// Records that data block `ordinal` of the mapping was verified.
  void mark_verified(uint32_t ordinal) const {
    verified_[ordinal / 64].fetch_or(uint64_t{1} << (ordinal % 64), std::memory_order_relaxed);
  }

  /// Points `block` at data block `ordinal` (< index_.size()), verifying it on first use. A block
  /// read with pread goes into the block cache if fill_cache.
  void load_block(block_iter& block, uint32_t ordinal, bool fill_cache = true) const {
    const uint64_t offset = index_.offset(ordinal);
    const block_handle h{offset, index_.offset(ordinal + 1) - offset - block_trailer_size};
    const block_location where{file_number_, h.offset};
    if (fill_cache && !blocks_.mapped()) {  // a bulk read (fill_cache false) does not map
      blocks_.maybe_map([this](const readable_file& f) { return same_table(f); });
    }
    if (blocks_.mapped()) {
      // Peek at the compression byte: a block stored as is is used in place.
      char compression = no_compression;
      const std::string_view stored = blocks_.read_mapped(h, false, &compression);
      if (compression == no_compression) {
        if (!block_verified(ordinal)) {
          blocks_.read_mapped(h, true, &compression);
          mark_verified(ordinal);
        }
        block.reset(stored, where);
        return;
      }
      // A compressed one is decompressed into memory, through the cache like a pread block.
    }
    const std::shared_ptr<const std::string> cached =
        blocks_.read_shared(h, cache_.get(), fill_cache);
    block.reset(*cached, where, cached);
  }

  table_blocks blocks_;  // the file
  uint64_t file_number_;
  table_identity id_;
  std::shared_ptr<block_cache> cache_;
  uint64_t file_size_ = 0;
  uint64_t data_end_ = 0;       // = filter offset: data blocks live in [0, data_end_)
  std::string filter_storage_;  // filter_ points here unless mapped at open
  std::string_view filter_;
  std::unique_ptr<std::atomic<uint64_t>[]> verified_;  // a bit per data block (set when mapped)
  table_index index_;
  std::shared_ptr<const range_tombstones> range_dels_;  // null: none
};

}  // namespace lsmt::detail

// The iterator, and new_iterator() that makes one, are in their own header.
#include "table_iter.hpp"

#endif  // LSMT_SSTABLE_READER_HPP
