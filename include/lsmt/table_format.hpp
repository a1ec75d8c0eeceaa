// lsmt/table_format.hpp - the SSTable file format: an immutable, sorted file of internal keys.
// sstable_builder.hpp writes it, sstable_reader.hpp reads it.
//
// File format (all integers little-endian; varints and blocks as in coding.hpp / block.hpp):
//
//   sstable      := data_block* filter_block index_block footer
//   data_block   := block whose keys are the table's internal keys, in order
//   filter_block := block_body(bloom filter over the table's distinct user keys, bloom.hpp)
//   index_block  := block (restart interval 1) with one entry per data block:
//                   key   = an internal key >= every key of that block and < every key of the
//                           next block (a short separator when one exists, else its last key)
//                   value = varint64(offset) varint64(size)   of the data block, size without
//                           its trailer
//   block        := block_body(contents as in block.hpp)
//   block_body(x):= x byte(compression = 0, none) fixed32(mask(crc32c(x | compression)))
//   footer       := fixed64(filter_offset) fixed64(filter_size)
//                   fixed64(index_offset) fixed64(index_size)
//                   fixed32(format_version = 1) fixed32(mask(crc32c(previous 36 bytes)))
//                   fixed64(magic = 0x6c736d745f737374, "lsmt_sst")            48 bytes
//
// Data blocks are cut once they reach table_options::block_size, so one big value makes one big
// block. Every part a reader depends on is covered by a checksum: the footer by its own CRC, the
// filter and index blocks by theirs (verified when the table is opened), each data block by its
// trailer (verified before its first use). A flipped bit can therefore only produce an error,
// never a wrong answer or a silent miss.
//
// Thread safety: constants and stateless functions.
#ifndef LSMT_TABLE_FORMAT_HPP
#define LSMT_TABLE_FORMAT_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "coding.hpp"
#include "crc32c.hpp"

namespace lsmt::detail {

struct table_options {
  size_t block_size = 4096;
  int restart_interval = 16;
  int bloom_bits_per_key = 10;  // <= 0: no filter
};

inline constexpr size_t block_trailer_size = 5;
inline constexpr size_t footer_size = 48;
inline constexpr uint32_t table_format_version = 1;
inline constexpr uint64_t table_magic = 0x6c736d745f737374;  // "lsmt_sst"
inline constexpr char no_compression = 0;

/// The position of a block in the file; size excludes the trailer.
struct block_handle {
  uint64_t offset = 0;
  uint64_t size = 0;
};

/// The masked CRC stored in a block trailer: it covers the contents and the compression byte.
inline uint32_t block_checksum(std::string_view contents, char compression) {
  return crc32c::mask(
      crc32c::extend(crc32c::value(contents.data(), contents.size()), &compression, 1));
}

/// The decoded footer: where the filter and index blocks are.
struct table_footer {
  block_handle filter;
  block_handle index;
};

/// Writes the footer_size bytes of the footer into out.
inline void encode_footer(const table_footer& f, char* out) {
  encode_fixed64(out, f.filter.offset);
  encode_fixed64(out + 8, f.filter.size);
  encode_fixed64(out + 16, f.index.offset);
  encode_fixed64(out + 24, f.index.size);
  encode_fixed32(out + 32, table_format_version);
  encode_fixed32(out + 36, crc32c::mask(crc32c::value(out, 36)));
  encode_fixed64(out + 40, table_magic);
}

/// Checks the magic number, the checksum and the version of footer_size bytes at in; returns
/// nullptr and fills *f, or returns what is wrong.
inline const char* decode_footer(const char* in, table_footer* f) {
  if (decode_fixed64(in + 40) != table_magic) return "bad magic number (not a table)";
  if (crc32c::unmask(decode_fixed32(in + 36)) != crc32c::value(in, 36)) {
    return "footer checksum mismatch";
  }
  if (decode_fixed32(in + 32) != table_format_version) return "unsupported format version";
  f->filter = block_handle{decode_fixed64(in), decode_fixed64(in + 8)};
  f->index = block_handle{decode_fixed64(in + 16), decode_fixed64(in + 24)};
  return nullptr;
}

}  // namespace lsmt::detail

#endif  // LSMT_TABLE_FORMAT_HPP
