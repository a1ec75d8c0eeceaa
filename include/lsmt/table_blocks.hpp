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
// A table opened for pread may be mapped later, once (maybe_map, mapping_budget.hpp); from then
// on its blocks are read in place. The pread file stays open beside the mapping.
//
// Thread safety: every method but set_mapper() may be called from any number of threads at once
// (the compressor must be thread-safe, compressor.hpp). The only change after set_mapper() is
// maybe_map()'s adoption of a mapping, by one thread, published with release/acquire.
#ifndef LSMT_TABLE_BLOCKS_HPP
#define LSMT_TABLE_BLOCKS_HPP

#include <atomic>
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
#include "mapping_budget.hpp"
#include "table_format.hpp"

namespace lsmt::detail {

/// The blocks of one table file. Thread-safe (see the file comment).
class table_blocks {
 public:
  /// compressor: the one table_options names (null: none).
  table_blocks(std::unique_ptr<readable_file> file, uint64_t file_number,
               std::shared_ptr<const lsmt::compressor> compressor)
      : file_(std::move(file)),
        file_number_(file_number),
        compressor_(std::move(compressor)),
        map_(file_->is_mapped() ? file_.get() : nullptr) {}

  const readable_file& file() const { return *file_; }
  /// The mapped file the blocks are read from in place, or null while they are read with pread.
  const readable_file* mapping() const { return map_.load(std::memory_order_acquire); }
  bool mapped() const { return mapping() != nullptr; }

  /// Lets a table read with pread be mapped later by maybe_map(): the file at `path` of `fs`,
  /// mapped within `budget` (mapping_budget.hpp, map_within_budget). Called before the table is
  /// shared.
  void set_mapper(std::shared_ptr<file_system> fs, std::string path,
                  std::shared_ptr<mapping_budget> budget) {
    fs_ = std::move(fs);
    path_ = std::move(path);
    budget_ = std::move(budget);
  }

  /// For a table read with pread that has a mapper: if the budget has room for all of the file
  /// now, maps it and, if `same(mapping)` says it is still this table, reads in place from
  /// then on. One thread tries at a time. The mapping is only a faster way to read, so a
  /// failure never fails the read: a file system that does not map the file, or any error
  /// while mapping it (std::bad_alloc aside), ends the tries, and the table goes on with pread.
  /// With no room it costs a check of the mapper, the file's size and one relaxed load.
  template <class Same>
  void maybe_map(const Same& same) const {
    if (!budget_ || !budget_->has_room(file_->size()) || trying_.load(std::memory_order_relaxed) ||
        trying_.exchange(true, std::memory_order_acquire) || mapped()) {
      return;
    }
    std::unique_ptr<readable_file> m;
    try {
      m = map_within_budget(*fs_, path_, file_->size(), budget_);
      if (!m) {  // another table took the room first
        trying_.store(false, std::memory_order_release);
        return;
      }
      if (!m->is_mapped() || !same(*m)) return;  // m gives back its charge; no more tries
    } catch (const std::bad_alloc&) {
      throw;
    } catch (...) {
      return;  // trying_ stays set: no more tries
    }
    adopted_ = std::move(m);
    map_.store(adopted_.get(), std::memory_order_release);
  }

  [[noreturn]] void corrupt(const std::string& why) const {
    throw corruption_error("lsmt: table " + std::to_string(file_number_) + ": " + why);
  }

  /// Reads block h and its trailer; returns the stored bytes after checking their length and,
  /// if verify, the trailer's checksum. *compression gets the trailer's compression byte.
  /// Non-mapped reads land in *storage.
  std::string_view read(const block_handle& h, std::string* storage, bool verify,
                        char* compression) const {
    if (mapped()) return read_mapped(h, verify, compression);
    const size_t n = h.size + block_trailer_size;
    // Callers pass storage for every table that is not mapped.
    storage->resize(n);               // cppcheck-suppress nullPointer
    char* scratch = storage->data();  // cppcheck-suppress nullPointer
    return check(h, file_->read(h.offset, n, scratch), verify, compression);
  }

  /// read() for a mapped file: a view into the mapping, never a copy.
  std::string_view read_mapped(const block_handle& h, bool verify, char* compression) const {
    return check(h, mapping()->read(h.offset, h.size + block_trailer_size, nullptr), verify,
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
  mutable std::unique_ptr<readable_file> adopted_;            // mapped by maybe_map(), or null
  mutable std::atomic<const readable_file*> map_;             // file_, adopted_, or null (pread)
  std::shared_ptr<file_system> fs_;                           // set_mapper()'s, or null
  std::string path_;
  std::shared_ptr<mapping_budget> budget_;
  mutable std::atomic<bool> trying_{false};  // a maybe_map() is under way, or tries are over
};

}  // namespace lsmt::detail

#endif  // LSMT_TABLE_BLOCKS_HPP
