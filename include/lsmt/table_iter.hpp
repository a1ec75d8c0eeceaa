// lsmt/table_iter.hpp - the iterator over one SSTable (sstable_reader.hpp): the index's block
// offsets pick a data block, a block iterator (block.hpp) walks it.
//
// A scan steps from block to block and hints the CPU to fetch the next one; a seek finds its
// block through its table_index (table_index.hpp) and may land past the block's last key,
// in which case the entry it wants is in the next block.
//
// Thread safety: each iterator is used by one thread at a time; any number of them may read
// one table at once.
#ifndef LSMT_TABLE_ITER_HPP
#define LSMT_TABLE_ITER_HPP

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "block.hpp"
#include "internal_iterator.hpp"
#include "sstable_reader.hpp"

namespace lsmt::detail {

/// Reads the data blocks of one table for a pass in file order through the table's own
/// descriptor, readahead_bytes per pread, into a buffer it reuses. A compaction reads each input
/// once: through the mapping, the first touch of each page costs a page fault (on the benchmark
/// machine, a virtual machine, about 1.3 us per 4 KiB page, several times the copy), and every
/// page touched stays in the process's RSS while the table is mapped; one block per pread
/// costs a system call per 4 KiB. A block is verified unless a reader of the mapping already
/// did. A view into the buffer is valid until the next load(). Used by one thread at a time.
class block_readahead {
 public:
  static constexpr size_t readahead_bytes = size_t{256} << 10;

  explicit block_readahead(std::unique_ptr<readable_file> file) : file_(std::move(file)) {}

  /// Points `block` at data block `ordinal` (< its size()) of `table`, which `file` holds.
  void load(const table_reader& table, block_iter& block, uint32_t ordinal) {
    const uint64_t offset = table.index_.offset(ordinal);
    const uint64_t end = table.index_.offset(ordinal + 1);
    if (offset < window_offset_ || end > window_offset_ + window_.size()) {
      const auto n = static_cast<size_t>(
          std::max<uint64_t>(end, std::min<uint64_t>(offset + readahead_bytes, table.data_end_)) -
          offset);
      if (buffer_.size() < n) buffer_.resize(n);
      window_ = file_->read(offset, n, buffer_.data());
      window_offset_ = offset;
    }
    const block_handle h{offset, end - offset - block_trailer_size};
    const std::string_view got = window_.substr(
        static_cast<size_t>(offset - window_offset_),
        static_cast<size_t>(std::min<uint64_t>(end, window_offset_ + window_.size()) - offset));
    char compression = no_compression;
    const std::string_view stored =
        table.blocks_.check(h, got, !table.block_verified(ordinal), &compression);
    const block_location where{table.file_number_, offset};
    if (compression == no_compression) {
      block.reset(stored, where);
      return;
    }
    table.blocks_.decompress(h, stored, compression, raw_, false);
    block.reset(raw_, where);
  }

 private:
  std::unique_ptr<readable_file> file_;
  std::string buffer_;
  std::string_view window_;  // file bytes [window_offset_, + size): in buffer_ or the file's
  uint64_t window_offset_ = 0;
  std::string raw_;  // the last compressed block, decompressed
};

/// Two-level iterator: the block offsets pick the data block, a block iterator walks it.
/// Used by one thread at a time. Made by new_iterator(), it holds its table alive; default-made,
/// it reads the table set_table() names, which the caller keeps alive (a level_iterator reuses
/// one for every table of its level).
class table_iter final : public internal_iterator {
 public:
  table_iter() = default;
  table_iter(std::shared_ptr<const table_reader> table, bool fill_cache)
      : owner_(std::move(table)), table_(owner_.get()), fill_cache_(fill_cache) {}
  /// Reads `table`'s data blocks through `ahead` (new_scan_iterator).
  table_iter(std::shared_ptr<const table_reader> table, std::unique_ptr<block_readahead> ahead)
      : owner_(std::move(table)), table_(owner_.get()), ahead_(std::move(ahead)) {}

  /// Makes the iterator read `table` (unpositioned); null lets go of the table and its block.
  void set_table(const table_reader* table) {
    table_ = table;
    block_.clear();
    loaded_ = no_block;
    hint_ = table_reader::no_hint;  // a hint is only for the table prefetch_seek() asked
  }

  bool valid() const override { return block_.valid(); }
  std::string_view key() const override { return block_.key(); }
  std::string_view value() const override { return block_.value(); }

  void seek_to_first() override {
    if (load(0)) block_.seek_to_first();
    skip_empty_forward();
  }

  void seek_to_last() override {
    if (load(table_->index_.size() - 1)) block_.seek_to_last();  // wraps to "none" if empty
    skip_empty_backward();
  }

  void seek(std::string_view target) override { seek_near(target, table_reader::no_hint); }

  void prefetch_seek(std::string_view target) override {
    hint_ = table_ != nullptr ? table_->prefetch_seek(target) : table_reader::no_hint;
  }
  void seek_prefetched(std::string_view target) override { seek_near(target, hint_); }

  /// seek(target), given what table_reader::prefetch_seek(target) returned (or no_hint).
  void seek_near(std::string_view target, uint32_t hint) {
    const table_index::found at = table_->index_.find(target, hint);
    if (load(at.ordinal)) {
      block_.seek(target);
      // Past the block's last key: when the target may sort after the block's index key, it
      // may also sort after keys of the next block, so that one is searched too.
      if (!block_.valid() && at.or_next && load(at.ordinal + 1)) block_.seek(target);
    }
    skip_empty_forward();
  }

  void next() override {
    block_.next();
    skip_empty_forward();
  }

  void prev() override {
    block_.prev();
    skip_empty_backward();
  }

 private:
  /// Loads block `ordinal` (unless already loaded); false (and no block) if it does not exist.
  bool load(uint32_t ordinal) {
    if (ordinal >= table_->index_.size()) {
      block_.clear();
      loaded_ = no_block;
      return false;
    }
    if (ordinal != loaded_ && ahead_) {
      ahead_->load(*table_, block_, ordinal);
      loaded_ = ordinal;
    } else if (ordinal != loaded_) {
      table_->load_block(block_, ordinal, fill_cache_);
      // A scan moves on to a neighbour next; seeks pay one hint per block they load.
      table_->prefetch_block(loaded_ == ordinal - 1 || loaded_ == no_block ? ordinal + 1
                                                                           : ordinal - 1);
      loaded_ = ordinal;
    }
    return true;
  }

  // A seek can land past the last key of a block (keys between it and the index separator);
  // the entry wanted is then the first of the next block.
  void skip_empty_forward() {
    while (!block_.valid() && loaded_ != no_block) {
      if (load(loaded_ + 1)) block_.seek_to_first();
    }
  }

  void skip_empty_backward() {
    while (!block_.valid() && loaded_ != no_block) {
      if (load(loaded_ - 1)) block_.seek_to_last();  // loaded_ 0 wraps to no_block: none
    }
  }

  static constexpr uint32_t no_block = UINT32_MAX;
  std::shared_ptr<const table_reader> owner_;  // null when the caller keeps table_ alive
  const table_reader* table_ = nullptr;
  bool fill_cache_ = true;
  std::unique_ptr<block_readahead> ahead_;  // null: blocks come from load_block()
  block_iter block_;
  uint32_t loaded_ = no_block;
  uint32_t hint_ = table_reader::no_hint;  // the last prefetch_seek's result
};

inline std::unique_ptr<internal_iterator> table_reader::new_iterator(bool fill_cache) const {
  return std::make_unique<table_iter>(shared_from_this(), fill_cache);
}

inline std::unique_ptr<internal_iterator> table_reader::new_scan_iterator(
    std::unique_ptr<readable_file> file) const {
  return std::make_unique<table_iter>(shared_from_this(),
                                      std::make_unique<block_readahead>(std::move(file)));
}

}  // namespace lsmt::detail

#endif  // LSMT_TABLE_ITER_HPP
