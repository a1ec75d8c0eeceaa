// lsmt/sstable_builder.hpp - writes an SSTable (the format is in table_format.hpp).
//
// Data blocks are cut once they reach table_options::block_size, so one big value makes one big
// block. Every part a reader depends on is covered by a checksum: the footer by its own CRC, the
// filter and index blocks by theirs (verified when the table is opened), each data block by its
// trailer (verified before its first use). A flipped bit can therefore only produce an error,
// never a wrong answer or a silent miss.
//
// With table_options::compressor, blocks are compressed as table_format.hpp's "Compression"
// says: data and range-deletion blocks when that saves at least 1/8, the index block always,
// the filter block never.
//
// Thread safety: a table_builder is used by one thread at a time.
#ifndef LSMT_SSTABLE_BUILDER_HPP
#define LSMT_SSTABLE_BUILDER_HPP

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "block.hpp"
#include "bloom.hpp"
#include "coding.hpp"
#include "crc32c.hpp"
#include "error.hpp"
#include "file_system.hpp"
#include "internal_key.hpp"
#include "table_format.hpp"

namespace lsmt::detail {

/// A key k with a <= k < b (internal keys, a < b), shortened when the user keys allow, so the
/// index holds short keys. Shortened keys get the largest tag, i.e. sort first for their user key.
inline std::string index_separator(std::string_view a, std::string_view b) {
  const std::string_view ua = extract_user_key(a);
  const std::string_view ub = extract_user_key(b);
  const size_t n = std::min(ua.size(), ub.size());
  size_t i = 0;
  while (i < n && ua[i] == ub[i]) ++i;
  if (i < n) {
    const auto c = static_cast<unsigned char>(ua[i]);
    if (c < 0xff && c + 1 < static_cast<unsigned char>(ub[i])) {
      std::string k(ua.substr(0, i));
      k.push_back(static_cast<char>(c + 1));
      put_fixed64(k, pack_tag(max_sequence, value_type_for_bound));
      return k;
    }
  }
  return std::string(a);
}

/// A short key >= a: the first byte that can be incremented is, and the rest dropped.
inline std::string index_successor(std::string_view a) {
  const std::string_view ua = extract_user_key(a);
  for (size_t i = 0; i < ua.size(); ++i) {
    const auto c = static_cast<unsigned char>(ua[i]);
    if (c != 0xff) {
      std::string k(ua.substr(0, i));
      k.push_back(static_cast<char>(c + 1));
      put_fixed64(k, pack_tag(max_sequence, value_type_for_bound));
      return k;
    }
  }
  return std::string(a);
}

/// Streams sorted entries into a new table file. Used by one thread at a time.
class table_builder {
 public:
  /// Writes table `number` of store `store_id` (table_format.hpp, "Identity") into file.
  table_builder(const table_options& options, std::unique_ptr<writable_file> file, uint64_t number,
                uint64_t store_id)
      : options_(options),
        file_(std::move(file)),
        number_(number),
        store_id_(store_id),
        data_(options.restart_interval),
        index_(1),  // every index key whole: get() binary-searches it in place
        range_dels_(options.restart_interval),
        bloom_(options.bloom_bits_per_key) {
    if (options.compressor && options.compressor->id() == no_compression) {
      throw invalid_argument_error("lsmt: compressor id 0 is reserved for \"not compressed\"");
    }
  }

  /// REQUIRES: internal_key is valid and greater than every key added before.
  void add(std::string_view internal_key, std::string_view value) {
    if (done_) throw invalid_argument_error("lsmt: table_builder::add after finish/abandon");
    if (!valid_internal_key(internal_key)) {
      throw invalid_argument_error("lsmt: table_builder::add: invalid internal key");
    }
    const bool first = entries_ == 0;
    if (!first && compare_internal_keys(last_key_, internal_key) >= 0) {
      throw invalid_argument_error("lsmt: table_builder::add: keys out of order");
    }
    if (pending_index_) {
      add_index_entry(index_separator(last_key_, internal_key));
    }
    const std::string_view user_key = extract_user_key(internal_key);
    if (first || user_key != extract_user_key(last_key_)) bloom_.add_key(user_key);
    if (first) smallest_.assign(internal_key);
    last_key_.assign(internal_key);
    ++entries_;
    data_.add(internal_key, value);
    if (data_.size_estimate() >= options_.block_size) flush_data_block();
  }

  /// Adds the range deletion [begin, end) at seq (table_format.hpp, range_del_block).
  /// REQUIRES: begin < end; (begin, seq) after every range deletion added before, in internal
  /// key order (begin ascending, then seq descending).
  void add_range_deletion(std::string_view begin, std::string_view end, uint64_t seq) {
    if (done_) throw invalid_argument_error("lsmt: table_builder::add after finish/abandon");
    if (compare_user_keys(begin, end) >= 0 || seq == 0 || seq > max_sequence) {
      throw invalid_argument_error("lsmt: table_builder: invalid range deletion");
    }
    std::string key;
    append_internal_key(key, begin, seq, value_type::range_deletion);
    if (range_count_ != 0 && compare_internal_keys(last_range_key_, key) >= 0) {
      throw invalid_argument_error("lsmt: table_builder: range deletions out of order");
    }
    if (range_count_ == 0) range_begin_.assign(begin);
    if (range_count_ == 0 || compare_user_keys(end, range_end_) > 0) range_end_.assign(end);
    range_dels_.add(key, end);
    last_range_key_ = std::move(key);
    ++range_count_;
  }

  /// Writes the remaining data, the range deletions, the filter, the index and the footer;
  /// syncs and closes the file.
  void finish() {
    if (done_) throw invalid_argument_error("lsmt: table_builder::finish called twice");
    done_ = true;
    flush_data_block();
    table_footer f;
    if (range_count_ != 0) {
      f.has_range_dels = true;
      f.range_del = write_block(range_dels_.finish(), compress::if_smaller);
    }
    f.filter = write_block(bloom_.finish(), compress::never);
    if (pending_index_) add_index_entry(index_successor(last_key_));
    // Always compressed: opening the table then needs the compressor (table_format.hpp).
    f.index = write_block(index_.finish(), compress::always);

    // The bounds cover the range deletions too (table_format.hpp, "Bounds").
    bound_smallest_ = smallest_;
    bound_largest_ = last_key_;
    if (range_count_ != 0) widen_bounds(bound_smallest_, bound_largest_, range_begin_, range_end_);
    f.id = table_identity{number_, store_id_, key_range_checksum(bound_smallest_, bound_largest_)};
    char footer[max_footer_size];
    const size_t n = encode_footer(f, footer);
    file_->append(std::string_view(footer, n));
    offset_ += n;
    file_->sync();
    file_->close();
  }

  /// Closes the file without completing the table; the caller deletes it.
  void abandon() {
    done_ = true;
    file_->close();
  }

  /// Point entries added (range deletions are not counted).
  uint64_t entry_count() const { return entries_; }
  uint64_t range_deletion_count() const { return range_count_; }
  /// Bytes written so far; after finish(), the size of the file.
  uint64_t file_size() const { return offset_; }
  /// The table's bounds (table_format.hpp, "Bounds"). REQUIRES: finish() returned.
  const std::string& smallest_key() const { return bound_smallest_; }
  const std::string& largest_key() const { return bound_largest_; }

 private:
  void flush_data_block() {
    if (data_.empty()) return;
    pending_handle_ = write_block(data_.finish(), compress::if_smaller);
    data_.reset();
    // The index entry waits for the next key, which lets it be a short separator.
    pending_index_ = true;
  }

  void add_index_entry(const std::string& key) {
    std::string handle;
    put_varint64(handle, pending_handle_.offset);
    put_varint64(handle, pending_handle_.size);
    index_.add(key, handle);
    pending_index_ = false;
  }

  /// Whether write_block() stores a block compressed (when there is a compressor).
  enum class compress { never, if_smaller, always };

  /// Appends the block (compressed as `mode` and the options say) and its trailer; returns its
  /// handle.
  block_handle write_block(std::string_view raw, compress mode) {
    std::string_view contents = raw;
    char compression = no_compression;
    if (options_.compressor && mode != compress::never && raw.size() <= max_compressed_block_size) {
      compress_block(*options_.compressor, raw, compressed_);
      // Kept only if it saves at least 1/8: a block that barely shrinks is not worth
      // decompressing (and going through the block cache) on every read.
      if (mode == compress::always || compressed_.size() <= raw.size() - raw.size() / 8) {
        contents = compressed_;
        compression = static_cast<char>(options_.compressor->id());
      }
    }
    char trailer[block_trailer_size];
    trailer[0] = compression;
    encode_fixed32(trailer + 1, block_checksum(contents, compression));
    file_->append(contents);
    file_->append(std::string_view(trailer, block_trailer_size));
    const block_handle h{offset_, contents.size()};
    offset_ += contents.size() + block_trailer_size;
    return h;
  }

  table_options options_;
  std::unique_ptr<writable_file> file_;
  uint64_t number_;
  uint64_t store_id_;
  block_builder data_;
  block_builder index_;
  block_builder range_dels_;
  bloom_builder bloom_;
  std::string compressed_;  // write_block()'s buffer, kept to reuse its memory
  block_handle pending_handle_;
  bool pending_index_ = false;
  bool done_ = false;
  uint64_t entries_ = 0;
  uint64_t offset_ = 0;
  std::string smallest_;
  std::string last_key_;
  uint64_t range_count_ = 0;
  std::string last_range_key_;
  std::string range_begin_;  // the range deletions' least begin and greatest end
  std::string range_end_;
  std::string bound_smallest_;  // of the finished table
  std::string bound_largest_;
};

}  // namespace lsmt::detail

#endif  // LSMT_SSTABLE_BUILDER_HPP
