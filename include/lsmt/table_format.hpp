// lsmt/table_format.hpp - the SSTable file format: an immutable, sorted file of internal keys.
// sstable_builder.hpp writes it, sstable_reader.hpp reads it.
//
// File format (all integers little-endian; varints and blocks as in coding.hpp / block.hpp):
//
//   sstable      := data_block* [range_del_block] filter_block index_block footer
//   data_block   := block whose keys are the table's internal keys, in order
//   range_del_block := block of the table's range deletions (version 3 only), in internal-key
//                   order: key = internal key (begin, sequence, range_deletion = 2),
//                   value = end (exclusive; begin < end). They do not overlap one another
//                   unless their ranges are equal (range_tombstones.hpp's fragments).
//   filter_block := block_body(bloom filter over the table's distinct user keys, bloom.hpp)
//   index_block  := block (restart interval 1) with one entry per data block:
//                   key   = an internal key >= every key of that block and < every key of the
//                           next block (a short separator when one exists, else its last key)
//                   value = varint64(offset) varint64(size)   of the data block, size without
//                           its trailer
//   block        := block_body(contents as in block.hpp)
//   block_body(x):= stored(x) byte(compression) fixed32(mask(crc32c(stored(x) | compression)))
//   stored(x)    := x                                          if compression = 0 (none)
//                 | varint32(size of x) compressor.compress(x)  if compression = compressor id
//   footer       := footer_v2 | footer_v3
//   footer_v2    := fixed64(filter_offset) fixed64(filter_size)
//                   fixed64(index_offset) fixed64(index_size)
//                   fixed64(file_number) fixed64(store_id) fixed32(key_range_crc)
//                   fixed32(format_version = 2) fixed32(mask(crc32c(previous 56 bytes)))
//                   fixed64(magic = 0x6c736d745f737374, "lsmt_sst")            68 bytes
//   footer_v3    := fixed64(range_del_offset) fixed64(range_del_size)
//                   the fields of footer_v2 up to key_range_crc
//                   fixed32(format_version = 3) fixed32(mask(crc32c(previous 72 bytes)))
//                   fixed64(magic)                                              84 bytes
//   key_range_crc:= mask(crc32c(fixed32(size of smallest) smallest largest)), of the table's
//                   smallest and largest internal keys (its bounds, below)
//
// A table without range deletions is written in version 2, so stores that never use them
// stay readable by an lsmt that predates them; version 3 adds the range-deletion block. The
// version and the magic number sit at the same distance from the end in both.
//
// Bounds. A table's smallest and largest internal keys (in its footer's checksum and in the
// MANIFEST) cover its range deletions too, so a sorted level's tables never share a user key
// that either holds or deletes. A range deletion [b, e) extends them to (b, max_sequence,
// value) and to (claim(e), 0, deletion): claim(e) is the last key the range holds when e ends in
// a zero byte (e without it), else e itself, which the table then claims without holding it.
//
// Identity. The footer says which table this is: its number (the NNNNNN of its file name) and
// the store it belongs to (the MANIFEST's store_id), with a checksum of the key range the
// MANIFEST records for it. Opening a store checks all three and the file's size against the
// MANIFEST, so a table that was renamed, swapped with another, truncated, or copied in from
// another store is a corruption_error before any read, at the cost of no extra I/O.
// Version 1 (48 bytes: no identity) was written by older lsmt; it is refused by name.
//
// Compression (compressor.hpp). The compression byte of a block is 0 when the block is stored as
// is, which is all a store without options.compressor writes (byte for byte the format of the
// lsmt versions before compression), and otherwise the id (1 .. 255) of the compressor whose
// output the block holds; handles and sizes count the stored bytes. With a compressor, data and
// range-deletion blocks are stored compressed when that saves at least 1/8 of their bytes, the
// index block always (so opening the table needs the compressor: a store opened with the
// wrong one fails at open), and the filter block never (bloom filter bits do not compress).
// A reader given no compressor, or one with another id, refuses a block whose checksum holds
// but whose byte is nonzero with invalid_argument_error, naming the table and both ids (at open,
// from the index; a data block that names another id than its index is a corruption_error).
// Blocks larger than max_compressed_block_size (64 MiB: one huge value) are stored as they are,
// and a compressed block claiming more is a corruption_error, so crafted bytes cannot make a
// reader allocate more than that for one block.
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
#include <memory>
#include <string>
#include <string_view>

#include "coding.hpp"
#include "compressor.hpp"
#include "crc32c.hpp"
#include "internal_key.hpp"

namespace lsmt::detail {

struct table_options {
  size_t block_size = 4096;
  int restart_interval = 8;
  int bloom_bits_per_key = 10;  // <= 0: no filter
  // Writes compress blocks with it, reads decompress blocks of its id; null: none (see
  // "Compression").
  std::shared_ptr<const lsmt::compressor> compressor;
};

inline constexpr size_t block_trailer_size = 5;
inline constexpr size_t footer_size = 68;     // version 2
inline constexpr size_t footer_v3_size = 84;  // version 3: the range-deletion block
inline constexpr size_t max_footer_size = footer_v3_size;
inline constexpr uint32_t table_format_version = 2;
inline constexpr uint32_t table_format_version_range_dels = 3;
inline constexpr uint64_t table_magic = 0x6c736d745f737374;  // "lsmt_sst"
inline constexpr char no_compression = 0;
/// The largest block a compressor's output may stand for. Bigger blocks (one huge value) are
/// stored as they are, so a reader refuses a compressed block that claims more, and crafted bytes
/// cannot make it allocate more than this per block.
inline constexpr uint32_t max_compressed_block_size = uint32_t{64} << 20;

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

/// How a compressor is named in messages: `id 3 "zstd"`, or `none` for null.
inline std::string describe_compressor(const lsmt::compressor* c) {
  if (c == nullptr) return "none";
  return "id " + std::to_string(c->id()) + " \"" + std::string(c->name()) + "\"";
}

/// stored(raw) of a block that c compresses (see "Compression"), into out.
inline void compress_block(const lsmt::compressor& c, std::string_view raw, std::string& out) {
  std::string body;
  c.compress(raw, body);
  out.clear();
  put_varint32(out, static_cast<uint32_t>(raw.size()));  // block.hpp keeps blocks < 4 GiB
  out += body;
}

/// Which table a file is (see "Identity").
struct table_identity {
  uint64_t number = 0;
  uint64_t store_id = 0;
  uint32_t key_range_crc = 0;

  friend bool operator==(const table_identity& a, const table_identity& b) {
    return a.number == b.number && a.store_id == b.store_id && a.key_range_crc == b.key_range_crc;
  }
};

/// The key_range_crc of a table whose internal keys run from smallest to largest.
inline uint32_t key_range_checksum(std::string_view smallest, std::string_view largest) {
  char size[4];
  encode_fixed32(size, static_cast<uint32_t>(smallest.size()));
  uint32_t crc = crc32c::value(size, sizeof size);
  crc = crc32c::extend(crc, smallest.data(), smallest.size());
  return crc32c::mask(crc32c::extend(crc, largest.data(), largest.size()));
}

/// The decoded footer: where the blocks are, and which table this is.
struct table_footer {
  bool has_range_dels = false;  // version 3: range_del is the range-deletion block
  block_handle range_del;
  block_handle filter;
  block_handle index;
  table_identity id;
};

/// The footer's size: version 3 with a range-deletion block, else version 2.
inline size_t footer_size_of(const table_footer& f) {
  return f.has_range_dels ? footer_v3_size : footer_size;
}

/// Writes the footer_size_of(f) bytes of the footer into out; returns that size.
inline size_t encode_footer(const table_footer& f, char* out) {
  size_t at = 0;
  if (f.has_range_dels) {
    encode_fixed64(out, f.range_del.offset);
    encode_fixed64(out + 8, f.range_del.size);
    at = 16;
  }
  encode_fixed64(out + at, f.filter.offset);
  encode_fixed64(out + at + 8, f.filter.size);
  encode_fixed64(out + at + 16, f.index.offset);
  encode_fixed64(out + at + 24, f.index.size);
  encode_fixed64(out + at + 32, f.id.number);
  encode_fixed64(out + at + 40, f.id.store_id);
  encode_fixed32(out + at + 48, f.id.key_range_crc);
  encode_fixed32(out + at + 52,
                 f.has_range_dels ? table_format_version_range_dels : table_format_version);
  encode_fixed32(out + at + 56, crc32c::mask(crc32c::value(out, at + 56)));
  encode_fixed64(out + at + 60, table_magic);
  return at + footer_size;
}

/// Checks the magic number, the version and the checksum of the footer that ends the n bytes
/// at tail (the end of a file; n >= footer_size); returns nullptr and fills *f, or returns what
/// is wrong. A version 3 footer needs n >= footer_v3_size.
inline const char* decode_footer(const char* tail, size_t n, table_footer* f) {
  const char* end = tail + n;
  if (decode_fixed64(end - 8) != table_magic) return "bad magic number (not a table)";
  // Every version keeps the version 16 bytes before the end of the file.
  const uint32_t version = decode_fixed32(end - 16);
  if (version == 1) return "format version 1 was written by an older lsmt";
  size_t size = footer_size;
  if (version == table_format_version_range_dels) {
    if (n < footer_v3_size) return "file too short for its footer";
    size = footer_v3_size;
  }
  const char* in = end - size;
  if (crc32c::unmask(decode_fixed32(end - 12)) != crc32c::value(in, size - 12)) {
    return "footer checksum mismatch";
  }
  if (version != table_format_version && version != table_format_version_range_dels) {
    return "unsupported format version";
  }
  *f = table_footer{};
  if (version == table_format_version_range_dels) {
    f->has_range_dels = true;
    f->range_del = block_handle{decode_fixed64(in), decode_fixed64(in + 8)};
    in += 16;
  }
  f->filter = block_handle{decode_fixed64(in), decode_fixed64(in + 8)};
  f->index = block_handle{decode_fixed64(in + 16), decode_fixed64(in + 24)};
  f->id = table_identity{decode_fixed64(in + 32), decode_fixed64(in + 40), decode_fixed32(in + 48)};
  return nullptr;
}
/// The same for a version 2 footer: the footer_size bytes at in.
inline const char* decode_footer(const char* in, table_footer* f) {
  return decode_footer(in, footer_size, f);
}

/// The last user key a range deletion ending at `end` (exclusive) may hold, as its table's
/// bounds claim it (see "Bounds").
inline std::string_view range_claim(std::string_view end) {
  return !end.empty() && end.back() == '\0' ? end.substr(0, end.size() - 1) : end;
}

/// Widens a table's bounds, smallest and largest (both empty if it has no point entries), to
/// cover range deletions whose least begin is `begin` and greatest end is `end` (see "Bounds").
inline void widen_bounds(std::string& smallest, std::string& largest, std::string_view begin,
                         std::string_view end) {
  const bool points = !smallest.empty();
  std::string low;
  append_internal_key(low, begin, max_sequence, value_type_for_bound);
  if (!points || compare_internal_keys(low, smallest) < 0) smallest = std::move(low);
  std::string high;
  append_internal_key(high, range_claim(end), 0, value_type::deletion);
  if (!points || compare_internal_keys(high, largest) > 0) largest = std::move(high);
}

}  // namespace lsmt::detail

#endif  // LSMT_TABLE_FORMAT_HPP
