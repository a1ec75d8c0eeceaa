// lsmt/compressor.hpp - the block compression hook: options.compressor.
//
// lsmt compresses nothing by itself and links no compression library. A program that wants
// smaller tables gives the store a compressor (examples/compression/ has one for zstd):
//
//   options o;
//   o.compressor = std::make_shared<my_zstd_compressor>();
//
// On disk. Every SSTable block ends with a trailer whose first byte says how the block is stored
// (table_format.hpp): 0 means as is, and any other value is the id() of the compressor that
// compressed it; the block's checksum covers that byte. A compressed block holds
// varint32(size of the raw block) followed by what compress() returned, so decompress() is told
// the exact size to produce and the reader checks it. With a compressor set, a data or
// range-deletion block is stored compressed only if that saves at least 1/8 of its bytes (else
// it is stored as is, with id 0), and the index block of every table is always stored
// compressed: a table written with a compressor names it, and opening it needs that compressor.
//
// So the id is part of the format: a compressor must keep its id, and its compress() output
// must stay readable by its decompress(), as long as tables it wrote may exist. A store reads
// the tables of one compressor (and those written with none): opening a store whose tables name
// another id than options.compressor's, or any id while options.compressor is null, fails with
// invalid_argument_error naming the table and both ids (the bytes are intact; the options are
// wrong). A block whose checksum holds but which does not decompress to its recorded size is
// corruption_error.
//
// Thread safety: a store calls one compressor from its writers' flushes, its background
// compactions and its readers, all at once, through a const reference. compress() and
// decompress() must therefore be safe to call concurrently (stateless, or with per-call or
// thread-local state), and id() and name() must return constants.
#ifndef LSMT_COMPRESSOR_HPP
#define LSMT_COMPRESSOR_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lsmt {

/// Compresses and decompresses SSTable blocks (see the top of this file). Thread-safe.
class compressor {
 public:
  virtual ~compressor() = default;

  /// The byte recorded in the trailer of every block this compressor compressed: 1 .. 255 (0
  /// means "not compressed"; options validation refuses it). Must never change.
  virtual uint8_t id() const = 0;

  /// A name for messages, e.g. "zstd".
  virtual std::string_view name() const = 0;

  /// Replaces out with the compressed form of in. It may throw (the table write then fails);
  /// output no smaller than 7/8 of in is fine: the block is then stored as is.
  virtual void compress(std::string_view in, std::string& out) const = 0;

  /// Replaces out with the raw_size bytes that `in`, which compress() produced, decompresses to.
  /// in comes from a file whose checksum held, but must still be treated as untrusted: on
  /// malformed input, or input that would decompress to more or fewer than raw_size bytes, it
  /// throws (corruption_error, or any std::exception: the reader reports corruption_error
  /// either way) and never writes more than raw_size bytes. The reader also checks that out
  /// holds raw_size bytes afterwards.
  virtual void decompress(std::string_view in, size_t raw_size, std::string& out) const = 0;
};

}  // namespace lsmt

#endif  // LSMT_COMPRESSOR_HPP
