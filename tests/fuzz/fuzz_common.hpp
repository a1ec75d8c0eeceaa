// tests/fuzz/fuzz_common.hpp - helpers shared by the libFuzzer targets and make_corpus.cpp.
//
//   mem_file            a readable_file over bytes in memory (lsmt_test::memory_readable_file
//                       of tests/memory_file.hpp), mapped (read() returns views) or not (read()
//                       copies into scratch), so both reader paths get fuzzed.
//   fix_*_checksums     recompute the checksums of whatever structure the bytes still have, so
//                       mutations reach the decoders behind the checksums (a fuzzer cannot
//                       forge a CRC32C by itself). The first input byte of a target chooses.
//   with_block_trailer  a block's contents with the trailer a table stores after it.
//   fuzz_compressor     a toy lsmt::compressor (run-length pairs, id 1) that fuzz_sstable reads
//                       tables with, so decompression of hostile bytes is fuzzed too.
//   assemble_table      a table file around given data bytes, filter and index blocks, with a
//                       footer from encode_footer naming table fuzz_table_number: for targets
//                       that fuzz one part of a table.
//   build_small_store   the small store fuzz_open_store damages and make_corpus takes its seed
//                       files from (the same writes every time; its store_id, file numbers and
//                       table boundaries vary with background timing).
//
// Every target catches lsmt::error only: any other exception, a crash, a sanitizer report, a
// leak, a hang (-timeout) or a huge allocation (-malloc_limit_mb) is a finding.
#ifndef LSMT_FUZZ_COMMON_HPP
#define LSMT_FUZZ_COMMON_HPP

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "../memory_file.hpp"
#include "lsmt.hpp"

namespace lsmt_fuzz {

using namespace lsmt::detail;

/// A toy compressor: (count 1..255, byte) pairs, id 1. decompress() validates the whole input
/// against raw_size before it allocates, as every compressor must (compressor.hpp).
class fuzz_compressor final : public lsmt::compressor {
 public:
  uint8_t id() const override { return 1; }
  std::string_view name() const override { return "fuzz-rle"; }
  void compress(std::string_view in, std::string& out) const override {
    out.clear();
    for (size_t i = 0; i < in.size();) {
      size_t run = 1;
      while (i + run < in.size() && run < 255 && in[i + run] == in[i]) ++run;
      out.push_back(static_cast<char>(run));
      out.push_back(in[i]);
      i += run;
    }
  }
  void decompress(std::string_view in, size_t raw_size, std::string& out) const override {
    size_t total = 0;
    for (size_t i = 0; i < in.size(); i += 2) total += static_cast<unsigned char>(in[i]);
    if (in.size() % 2 != 0 || total != raw_size) {
      throw lsmt::corruption_error("fuzz-rle: malformed input");
    }
    out.clear();
    for (size_t i = 0; i < in.size(); i += 2) {
      out.append(static_cast<unsigned char>(in[i]), in[i + 1]);
    }
  }
};

/// The one fuzz_compressor the targets share (it is stateless).
inline const std::shared_ptr<const lsmt::compressor>& shared_fuzz_compressor() {
  static const std::shared_ptr<const lsmt::compressor> c = std::make_shared<fuzz_compressor>();
  return c;
}

/// Bytes in memory as a readable_file, mapped or not (tests/memory_file.hpp).
using mem_file = lsmt_test::memory_readable_file;

/// The number the table targets build their tables with and open them as (table_reader::open
/// refuses a footer naming another table), and the number fuzz_wal_reader reads its logs as.
inline constexpr uint64_t fuzz_table_number = 7;
inline constexpr uint64_t fuzz_log_number = 7;

/// Recomputes the CRC of the log header (whatever its other fields say), then that of every
/// record the lengths still delimit from the first record on.
inline void fix_wal_checksums(std::string& log) {
  if (log.size() < log_header_size) return;
  constexpr size_t crc_at = log_header_size - 4;  // the header's last field covers the rest
  encode_fixed32(log.data() + crc_at, crc32c::mask(crc32c::value(log.data(), crc_at)));
  for (uint64_t off = log_header_size; log.size() - off >= log_record_header_size;) {
    const uint32_t len = decode_fixed32(log.data() + off + 4);
    if (len > log.size() - off - log_record_header_size) break;
    // The record CRC covers the length and type (the 5 header bytes after it) and the payload.
    const uint32_t crc = crc32c::value(log.data() + off + 4, log_record_header_size - 4 + len);
    encode_fixed32(log.data() + off, crc32c::mask(crc));
    off += log_record_header_size + len;
  }
}

/// Sets the payload length to what the file holds and recomputes the payload CRC.
inline void fix_manifest_checksum(std::string& m) {
  if (m.size() < manifest_header_size + manifest_trailer_size) return;
  const size_t len = m.size() - manifest_header_size - manifest_trailer_size;
  encode_fixed32(m.data() + 12, static_cast<uint32_t>(len));
  encode_fixed32(m.data() + manifest_header_size + len,
                 crc32c::mask(crc32c::value(m.data() + manifest_header_size, len)));
}

inline bool handle_fits(uint64_t offset, uint64_t size, uint64_t end) {
  return size <= end && end - size >= block_trailer_size &&
         offset <= end - size - block_trailer_size;
}

inline void fix_block_trailer(std::string& t, uint64_t offset, uint64_t size) {
  const std::string_view contents(t.data() + offset, static_cast<size_t>(size));
  encode_fixed32(t.data() + offset + size + 1, block_checksum(contents, t[offset + size]));
}

/// Recomputes the footer CRC (the fixed32 just before the trailing fixed64 magic number, over
/// every footer byte before it, table_format.hpp), then, if the footer decodes, the filter,
/// index and range-deletion trailers and the trailer of every data block the index still points
/// at (within bounds).
inline void fix_table_checksums(std::string& t) {
  if (t.size() < footer_size) return;
  // The footer's version (16 bytes before the end) says how long it is: version 3 adds the
  // range-deletion block's handle in front.
  const bool v3 = decode_fixed32(t.data() + t.size() - 16) == table_format_version_range_dels;
  const size_t size = v3 && t.size() >= footer_v3_size ? footer_v3_size : footer_size;
  const uint64_t footer_offset = t.size() - size;
  char* f = t.data() + footer_offset;
  const size_t crc_at = size - 8 - 4;
  encode_fixed32(f + crc_at, crc32c::mask(crc32c::value(f, crc_at)));
  table_footer footer;
  if (decode_footer(f, size, &footer) != nullptr) {
    // Only a bad magic number or version may fail a footer whose CRC was just fixed; anything
    // else means the CRC's offset no longer matches the format.
    const uint32_t version = decode_fixed32(f + crc_at - 4);
    if (decode_fixed64(f + size - 8) == table_magic &&
        (version == table_format_version ||
         (version == table_format_version_range_dels && size == footer_v3_size))) {
      __builtin_trap();
    }
    return;
  }
  const uint64_t fo = footer.filter.offset, fs = footer.filter.size;
  const uint64_t io = footer.index.offset, is = footer.index.size;
  if (!handle_fits(io, is, footer_offset)) return;
  fix_block_trailer(t, io, is);
  if (!handle_fits(fo, fs, io)) return;
  fix_block_trailer(t, fo, fs);
  uint64_t data_end = fo;
  if (footer.has_range_dels) {
    const uint64_t ro = footer.range_del.offset, rs = footer.range_del.size;
    if (!handle_fits(ro, rs, fo)) return;
    fix_block_trailer(t, ro, rs);
    data_end = ro;
  }
  try {
    // A compressed index is walked decompressed (what fuzz_compressor cannot decode is left).
    std::string_view index(t.data() + io, static_cast<size_t>(is));
    std::string raw;
    uint32_t raw_size = 0;
    if (static_cast<uint8_t>(t[io + is]) == fuzz_compressor().id() &&
        get_varint32(index, &raw_size)) {
      fuzz_compressor().decompress(index, raw_size, raw);
      index = raw;
    }
    block_iter it;
    it.reset(index, {0, io});
    for (it.seek_to_first(); it.valid(); it.next()) {
      std::string_view v = it.value();
      uint64_t off = 0, size = 0;
      if (get_varint64(v, &off) && get_varint64(v, &size) && handle_fits(off, size, data_end)) {
        fix_block_trailer(t, off, size);
      }
    }
  } catch (const lsmt::error&) {
  }
}

/// contents | compression byte | checksum: a block as the table stores it.
inline std::string with_block_trailer(std::string_view contents) {
  std::string b(contents);
  b.push_back(no_compression);
  put_fixed32(b, block_checksum(contents, no_compression));
  return b;
}

/// A table file: `data` (the data blocks with their trailers, or any bytes), the filter and the
/// index blocks (contents; their trailers are added here), then the footer pointing at both and
/// naming table fuzz_table_number of store `store_id`.
inline std::string assemble_table(std::string data, std::string_view filter, std::string_view index,
                                  uint64_t store_id = 0) {
  table_footer f;
  f.id.number = fuzz_table_number;
  f.id.store_id = store_id;
  f.filter = block_handle{data.size(), filter.size()};
  data += with_block_trailer(filter);
  f.index = block_handle{data.size(), index.size()};
  data += with_block_trailer(index);
  char footer[footer_size];
  encode_footer(f, footer);
  data.append(footer, footer_size);
  return data;
}

/// With blob_min_size (the blob store of fuzz_open_store): its values of 30 bytes or more, about
/// a quarter of them, go into blob files.
inline constexpr size_t small_store_blob_min = 30;

inline lsmt::options small_store_options(size_t blob_min_size = 0) {
  lsmt::options o;
  o.blob_min_size = blob_min_size;
  o.memtable_max_entries = 24;
  o.compaction_interval = 6;
  o.minimum_sstables = 2;
  o.block_size = 1024;
  o.block_cache_bytes = 1 << 20;
  return o;
}

/// A small store (a few tables with tombstones, a MANIFEST, a WAL synced twice, so its header
/// records how far), written with the same operations for a given seed; with blob_min_size,
/// blob files too.
inline void build_small_store(const std::filesystem::path& dir, uint64_t seed = 42,
                              size_t blob_min_size = 0) {
  std::mt19937_64 rng(seed);
  lsmt::db<> db(dir, small_store_options(blob_min_size));
  auto op = [&](bool sync) {
    lsmt::write_options wo;
    wo.sync = sync;
    const std::string k = "key" + std::to_string(rng() % 120);
    if (rng() % 4 == 0) {
      db.erase(k, wo);
    } else {
      db.put(k, std::string(rng() % 40, static_cast<char>('a' + rng() % 26)), wo);
    }
  };
  for (int i = 0; i < 60; ++i) op(false);
  db.compact();
  for (int i = 0; i < 50; ++i) op(false);
  db.flush();
  for (int i = 0; i < 12; ++i) op(i == 3 || i == 7);
  db.close();
}

}  // namespace lsmt_fuzz

#endif  // LSMT_FUZZ_COMMON_HPP
