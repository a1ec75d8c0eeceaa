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
//                   fixed64(file_number) fixed64(store_id) fixed32(key_range_crc)
//                   fixed32(format_version = 2) fixed32(mask(crc32c(previous 56 bytes)))
//                   fixed64(magic = 0x6c736d745f737374, "lsmt_sst")            68 bytes
//   key_range_crc:= mask(crc32c(fixed32(size of smallest) smallest largest)), of the table's
//                   smallest and largest internal keys
//
// Identity. The footer says which table this is: its number (the NNNNNN of its file name) and
// the store it belongs to (the MANIFEST's store_id), with a checksum of the key range the
// MANIFEST records for it. Opening a store checks all three and the file's size against the
// MANIFEST, so a table that was renamed, swapped with another, truncated, or copied in from
// another store is a corruption_error before any read, at the cost of no extra I/O.
// Version 1 (48 bytes: no identity) was written by older lsmt; it is refused by name.
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
inline constexpr size_t footer_size = 68;
inline constexpr uint32_t table_format_version = 2;
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

/// Which table a file is (see "Identity").
struct table_identity {
  uint64_t number = 0;
  uint64_t store_id = 0;
  uint32_t key_range_crc = 0;
};

/// The key_range_crc of a table whose internal keys run from smallest to largest.
inline uint32_t key_range_checksum(std::string_view smallest, std::string_view largest) {
  char size[4];
  encode_fixed32(size, static_cast<uint32_t>(smallest.size()));
  uint32_t crc = crc32c::value(size, sizeof size);
  crc = crc32c::extend(crc, smallest.data(), smallest.size());
  return crc32c::mask(crc32c::extend(crc, largest.data(), largest.size()));
}

/// The decoded footer: where the filter and index blocks are, and which table this is.
struct table_footer {
  block_handle filter;
  block_handle index;
  table_identity id;
};

/// Writes the footer_size bytes of the footer into out.
inline void encode_footer(const table_footer& f, char* out) {
  encode_fixed64(out, f.filter.offset);
  encode_fixed64(out + 8, f.filter.size);
  encode_fixed64(out + 16, f.index.offset);
  encode_fixed64(out + 24, f.index.size);
  encode_fixed64(out + 32, f.id.number);
  encode_fixed64(out + 40, f.id.store_id);
  encode_fixed32(out + 48, f.id.key_range_crc);
  encode_fixed32(out + 52, table_format_version);
  encode_fixed32(out + 56, crc32c::mask(crc32c::value(out, 56)));
  encode_fixed64(out + 60, table_magic);
}

/// Checks the magic number, the version and the checksum of the footer_size bytes at in;
/// returns nullptr and fills *f, or returns what is wrong.
inline const char* decode_footer(const char* in, table_footer* f) {
  if (decode_fixed64(in + 60) != table_magic) return "bad magic number (not a table)";
  // Every version keeps the version 16 bytes before the end of the file.
  const uint32_t version = decode_fixed32(in + 52);
  if (version == 1) return "format version 1 was written by an older lsmt";
  if (crc32c::unmask(decode_fixed32(in + 56)) != crc32c::value(in, 56)) {
    return "footer checksum mismatch";
  }
  if (version != table_format_version) return "unsupported format version";
  f->filter = block_handle{decode_fixed64(in), decode_fixed64(in + 8)};
  f->index = block_handle{decode_fixed64(in + 16), decode_fixed64(in + 24)};
  f->id = table_identity{decode_fixed64(in + 32), decode_fixed64(in + 40), decode_fixed32(in + 48)};
  return nullptr;
}

}  // namespace lsmt::detail

#endif  // LSMT_TABLE_FORMAT_HPP
