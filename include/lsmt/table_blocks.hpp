// lsmt/table_blocks.hpp - how table_reader (sstable_reader.hpp) reads the blocks of one SSTable
// file: a block and its trailer, the checksum, and decompression (table_format.hpp,
// "Compression").
//
// A block stored as is can be used where it was read (in place, for a mapped file). A
// compressed block is decompressed into memory the caller owns, or, for data blocks, into a
// string the block_cache shares: with a mapped file too, so that a compressed block is
// decompressed once per cache miss, not once per read. Errors:
//   * corruption_error: a block truncated, failing its checksum, or (checksum intact) whose
//     compressed bytes claim more than max_compressed_block_size or do not decompress to
//     exactly the size recorded before them, or a data block naming another compressor id than
//     the options' (its table's index, read at open, named the right one);
//   * invalid_argument_error: a block read at open (index, range deletions) whose checksum
//     holds but which names another compressor id than table_options::compressor's, or any id
//     while it is null (the options are wrong, not the file), e.g. "lsmt: table 000012.sst:
//     block compressed with compressor id 7, but options.compressor is none".
//
// Thread safety: immutable after construction; every method may be called from any number of
// threads at once (the compressor must be thread-safe, compressor.hpp).
#ifndef LSMT_TABLE_BLOCKS_HPP
#define LSMT_TABLE_BLOCKS_HPP

#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

#include "block_cache.hpp"
#include "coding.hpp"
#include "compressor.hpp"
#include "error.hpp"
#include "file_names.hpp"
#include "file_system.hpp"
#include "table_format.hpp"

namespace lsmt::detail {

/// The blocks of one table file. Immutable; thread-safe.
class table_blocks {
 public:
  /// compressor: the one table_options names (null: none).
  table_blocks(std::unique_ptr<readable_file> file, uint64_t file_number,
               std::shared_ptr<const lsmt::compressor> compressor)
      : file_(std::move(file)),
        file_number_(file_number),
        compressor_(std::move(compressor)),
        mapped_(file_->is_mapped()) {}

  const readable_file& file() const { return *file_; }
  bool mapped() const { return mapped_; }

  [[noreturn]] void corrupt(const std::string& why) const {
    throw corruption_error("lsmt: table " + std::to_string(file_number_) + ": " + why);
  }

  /// Reads block h and its trailer; returns the stored bytes after checking their length and,
  /// if verify, the trailer's checksum. *compression gets the trailer's compression byte.
  /// Non-mapped reads land in *storage.
  std::string_view read(const block_handle& h, std::string* storage, bool verify,
                        char* compression) const {
    if (mapped_) return read_mapped(h, verify, compression);
    const size_t n = h.size + block_trailer_size;
    // Callers pass storage for every table that is not mapped.
    storage->resize(n);               // cppcheck-suppress nullPointer
    char* scratch = storage->data();  // cppcheck-suppress nullPointer
    return check(h, file_->read(h.offset, n, scratch), verify, compression);
  }

  /// read() for a mapped file: a view into the mapping, never a copy.
  std::string_view read_mapped(const block_handle& h, bool verify, char* compression) const {
    return check(h, file_->read(h.offset, h.size + block_trailer_size, nullptr), verify,
                 compression);
  }

  /// The stored bytes of block h from `got`, its bytes and trailer as read from the file (at
  /// most h.size + block_trailer_size of them), checked as read() checks them.
  std::string_view check(const block_handle& h, std::string_view got, bool verify,
                         char* compression) const {
    if (got.size() != h.size + block_trailer_size) {
      corrupt("block at offset " + std::to_string(h.offset) + " is truncated");
    }
    const std::string_view stored = got.substr(0, h.size);
    *compression = got[h.size];
    if (verify && decode_fixed32(got.data() + h.size + 1) != block_checksum(stored, got[h.size])) {
      corrupt("block at offset " + std::to_string(h.offset) + ": checksum mismatch");
    }
    return stored;
  }

  /// Replaces out with the contents of the verified block h, stored with compression byte
  /// `compression` (not no_compression): exactly the size the block records. A compressor id
  /// other than the options' is invalid_argument_error for the blocks read at open (the index
  /// always names the table's compressor, so those options are wrong), and corruption_error for
  /// a data block later (its table's index was read with the right one).
  void decompress(const block_handle& h, std::string_view stored, char compression,
                  std::string& out, bool at_open) const {
    const auto id = static_cast<uint8_t>(compression);
    if (!compressor_ || compressor_->id() != id) {
      if (at_open) {
        std::string what = "lsmt: table " + file_name(file_number_, file_kind::table);
        what += ": block compressed with compressor id " + std::to_string(id);
        what += ", but options.compressor is " + describe_compressor(compressor_.get());
        throw invalid_argument_error(what);
      }
      corrupt("block at offset " + std::to_string(h.offset) + " names compressor id " +
              std::to_string(id) + ", unlike the table's index");
    }
    const std::string where = "block at offset " + std::to_string(h.offset);
    uint32_t raw_size = 0;
    if (!get_varint32(stored, &raw_size)) corrupt(where + ": bad compressed block header");
    if (raw_size > max_compressed_block_size) {
      corrupt(where + " claims " + std::to_string(raw_size) +
              " bytes, more than a compressed block holds");
    }
    try {
      compressor_->decompress(stored, raw_size, out);
    } catch (const std::bad_alloc&) {
      throw;  // out of memory is not a fact about the file
    } catch (const std::exception& e) {
      corrupt(where + ": " + describe_compressor(compressor_.get()) + " failed: " + e.what());
    } catch (...) {
      corrupt(where + ": " + describe_compressor(compressor_.get()) + " failed");
    }
    if (out.size() != raw_size) {
      corrupt(where + " decompressed to " + std::to_string(out.size()) + " bytes, not " +
              std::to_string(raw_size));
    }
  }

  /// The verified contents of block h, decompressed if need be: in *storage unless the file is
  /// mapped and the block is stored as is.
  std::string_view read_contents(const block_handle& h, std::string* storage) const {
    char compression = no_compression;
    const std::string_view stored = read(h, storage, true, &compression);
    if (compression == no_compression) return stored;
    std::string raw;
    decompress(h, stored, compression, raw, true);
    *storage = std::move(raw);
    return *storage;
  }

  /// The verified, decompressed contents of data block h, from `cache` (if not null) or read
  /// and then cached if fill_cache.
  std::shared_ptr<const std::string> read_shared(const block_handle& h, block_cache* cache,
                                                 bool fill_cache) const {
    std::shared_ptr<const std::string> cached =
        cache != nullptr ? cache->lookup(file_number_, h.offset) : nullptr;
    if (cached) return cached;
    auto fresh = std::make_shared<std::string>();
    char compression = no_compression;
    const std::string_view stored = read(h, fresh.get(), true, &compression);
    if (compression != no_compression) {
      std::string raw;
      decompress(h, stored, compression, raw, false);
      *fresh = std::move(raw);
    } else if (stored.data() != fresh->data()) {
      fresh->assign(stored.data(), stored.size());  // the file returned its own memory
    } else {
      fresh->resize(h.size);  // drop the trailer
    }
    cached = std::move(fresh);
    if (cache != nullptr && fill_cache) cache->insert(file_number_, h.offset, cached);
    return cached;
  }

 private:
  const std::unique_ptr<readable_file> file_;
  const uint64_t file_number_;
  const std::shared_ptr<const lsmt::compressor> compressor_;  // null: none
  const bool mapped_;
};

}  // namespace lsmt::detail

#endif  // LSMT_TABLE_BLOCKS_HPP
