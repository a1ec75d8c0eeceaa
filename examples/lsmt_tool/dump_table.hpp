// dump_table.hpp - `lsmt dump` of an SSTable (lsmt/table_format.hpp): its footer, filter, index,
// and each data block with its entries.
//
// The file is first opened with the library's own table_reader, which checks everything a
// store checks before it reads a table: the footer's checksum and identity, the filter and
// index blocks' checksums, and that the index's block handles tile the data exactly. Only then
// are the parts walked one by one for printing, each block verified against its trailer before
// its entries (decoded by the library's block_iter) are shown. Damage is a corruption_error with
// what was printed so far left on stdout.
#ifndef LSMT_TOOL_DUMP_TABLE_HPP
#define LSMT_TOOL_DUMP_TABLE_HPP

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "format.hpp"
#include "lsmt/block.hpp"
#include "lsmt/bloom.hpp"
#include "lsmt/coding.hpp"
#include "lsmt/error.hpp"
#include "lsmt/file_names.hpp"
#include "lsmt/file_system.hpp"
#include "lsmt/internal_key.hpp"
#include "lsmt/sstable_reader.hpp"
#include "lsmt/table_format.hpp"

namespace lsmt_tool {

namespace table_dump {
namespace d = lsmt::detail;

/// A block read whole and verified against its trailer (the same checks table_reader makes).
struct block_bytes {
  std::string storage;
  std::string_view contents;
};

inline block_bytes read_block(const lsmt::readable_file& file, const d::block_handle& h,
                              uint64_t table) {
  const auto fail = [&](const std::string& why) {
    throw lsmt::corruption_error("lsmt: table " + std::to_string(table) + ", block at offset " +
                                 std::to_string(h.offset) + ": " + why);
  };
  if (h.size > file.size() || file.size() - h.size < d::block_trailer_size ||
      h.offset > file.size() - h.size - d::block_trailer_size) {
    fail("out of the file's bounds");
  }
  block_bytes b;
  b.storage.resize(static_cast<size_t>(h.size) + d::block_trailer_size);
  const std::string_view got = file.read(h.offset, b.storage.size(), b.storage.data());
  if (got.size() != b.storage.size()) fail("truncated");
  b.contents = got.substr(0, static_cast<size_t>(h.size));
  const char compression = got[b.contents.size()];
  if (compression != d::no_compression) fail("unknown compression");
  if (d::decode_fixed32(got.data() + b.contents.size() + 1) !=
      d::block_checksum(b.contents, compression)) {
    fail("checksum mismatch");
  }
  return b;
}

/// The restart count, the last 4 bytes of a block (block.hpp); block_iter::reset checked it.
inline uint32_t restart_count(std::string_view contents) {
  return d::decode_fixed32(contents.data() + contents.size() - 4);
}

/// What the filter's trailer says (bloom.hpp). A filter that does not decode is not damage to a
/// reader (it matches every key), so it is described rather than refused.
inline std::string describe_filter(std::string_view filter) {
  namespace b = d::bloom_format;
  if (filter.empty()) return "none (the table was written without a filter)";
  if (filter.size() < b::trailer_bytes) return "malformed (too short): matches every key";
  const char* trailer = filter.data() + filter.size() - b::trailer_bytes;
  const uint32_t blocks = d::decode_fixed32(trailer);
  const int probes = static_cast<unsigned char>(trailer[4]);
  const int version = static_cast<unsigned char>(trailer[5]);
  const std::string text = counted(blocks, "block", "blocks") + " of " +
                           std::to_string(b::block_bytes) + " bytes, " + std::to_string(probes) +
                           " probes per key, version " + std::to_string(version);
  const bool ok = version == b::version && blocks != 0 && probes != 0 && probes <= b::max_probes &&
                  filter.size() - b::trailer_bytes == uint64_t{blocks} * b::block_bytes;
  return ok ? text : text + " (malformed: matches every key)";
}

/// The table's number: from its name NNNNNN.sst, or, for a file named otherwise (a copy), the
/// one its footer gives (0 if the footer does not decode; table_reader then says why).
inline uint64_t table_number(const lsmt::readable_file& file, const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (const uint64_t n = d::parse_file_number(name, d::file_kind::table); n != 0) return n;
  if (file.size() < d::footer_size) return 0;
  char buf[d::footer_size];
  const std::string_view f = file.read(file.size() - d::footer_size, d::footer_size, buf);
  d::table_footer footer;
  if (f.size() != d::footer_size || d::decode_footer(f.data(), &footer) != nullptr) return 0;
  return footer.id.number;
}

/// Counts over the data blocks, and the first and last keys.
struct totals {
  uint64_t entries = 0;
  uint64_t puts = 0;
  uint64_t deletions = 0;
  std::string first;
  std::string last;
};

/// Prints data block `ordinal` and its entries; checks that its keys follow the previous
/// block's in order and stay within its index separator.
inline void dump_data_block(std::ostream& out, const byte_format& fmt,
                            const lsmt::readable_file& file, uint64_t table, uint32_t ordinal,
                            const d::block_handle& h, std::string_view separator, totals& t) {
  const block_bytes b = read_block(file, h, table);
  d::block_iter it;
  it.reset(b.contents, {table, h.offset});
  out << "data block " << ordinal << ": offset " << h.offset << ", " << h.size << " bytes + "
      << d::block_trailer_size << " byte trailer (checksum ok), "
      << counted(restart_count(b.contents), "restart", "restarts") << "\n";
  uint64_t n = 0;
  for (it.seek_to_first(); it.valid(); it.next(), ++n) {
    const std::string_view k = it.key();
    if (t.entries != 0 && d::compare_internal_keys(t.last, k) >= 0) {
      throw lsmt::corruption_error("lsmt: table " + std::to_string(table) + ", data block " +
                                   std::to_string(ordinal) + ": keys out of order at " +
                                   fmt.internal_key(k));
    }
    if (d::compare_internal_keys(k, separator) > 0) {
      throw lsmt::corruption_error("lsmt: table " + std::to_string(table) + ", data block " +
                                   std::to_string(ordinal) + ": key " + fmt.internal_key(k) +
                                   " is past the block's index separator");
    }
    out << "  " << fmt.internal_key(k);
    if (d::extract_type(k) == d::value_type::value) {
      out << " = " << fmt.quote(it.value());
      ++t.puts;
    } else {
      ++t.deletions;
    }
    out << '\n';
    if (t.entries == 0) t.first.assign(k);
    t.last.assign(k);
    ++t.entries;
  }
  if (n == 0) out << "  (no entries)\n";
}

}  // namespace table_dump

/// Prints the table at path (see the top of this file). Throws corruption_error on damage.
inline void dump_table(std::ostream& out, const byte_format& fmt, lsmt::file_system& fs,
                       const std::string& path) {
  namespace d = lsmt::detail;
  using namespace table_dump;
  // pread, not a mapping: a file truncated under a mapping faults (SIGBUS) instead of failing.
  const std::unique_ptr<lsmt::readable_file> file = fs.new_readable_file(path, false);
  const uint64_t number = table_number(*file, path);
  const std::shared_ptr<d::table_reader> reader =
      d::table_reader::open(fs.new_readable_file(path, false), number, d::table_options{}, nullptr);
  const uint64_t size = file->size();
  out << "table " << path << ": " << size << " bytes\n";

  char buf[d::footer_size];
  const std::string_view f = file->read(size - d::footer_size, d::footer_size, buf);
  d::table_footer footer;
  const char* why = f.size() == d::footer_size ? d::decode_footer(f.data(), &footer) : "truncated";
  if (why != nullptr) {  // table_reader::open decoded it: the file changed since
    throw lsmt::corruption_error("lsmt: table " + std::to_string(number) + ": " + why);
  }
  out << "footer: offset " << size - d::footer_size << ", " << d::footer_size << " bytes\n"
      << "  filter block: offset " << footer.filter.offset << ", " << footer.filter.size
      << " bytes\n"
      << "  index block: offset " << footer.index.offset << ", " << footer.index.size << " bytes\n"
      << "  table number: " << footer.id.number << '\n'
      << "  store id: " << hex64(footer.id.store_id) << '\n'
      << "  key range crc: " << hex32(footer.id.key_range_crc) << '\n'
      << "  format version: " << d::decode_fixed32(f.data() + 52) << '\n';

  const block_bytes filter = read_block(*file, footer.filter, number);
  out << "filter: " << footer.filter.size
      << " bytes (checksum ok): " << describe_filter(filter.contents) << '\n';

  // The index: one entry per data block, its separator key and the block's handle.
  const block_bytes index = read_block(*file, footer.index, number);
  d::block_iter it;
  it.reset(index.contents, {number, footer.index.offset});
  std::vector<std::pair<std::string, d::block_handle>> blocks;
  for (it.seek_to_first(); it.valid(); it.next()) {
    std::string_view v = it.value();
    d::block_handle h;
    // table_reader::open checked every handle; a failure here means the file changed since.
    if (!d::get_varint64(v, &h.offset) || !d::get_varint64(v, &h.size) || !v.empty()) {
      throw lsmt::corruption_error("lsmt: table " + std::to_string(number) +
                                   ": bad block handle in the index");
    }
    blocks.emplace_back(std::string(it.key()), h);
  }
  out << "index: " << counted(blocks.size(), "data block", "data blocks") << " (checksum ok)\n";
  for (size_t i = 0; i < blocks.size(); ++i) {
    out << "  block " << i << ": offset " << blocks[i].second.offset << ", "
        << blocks[i].second.size << " bytes, separator " << fmt.internal_key(blocks[i].first)
        << '\n';
  }

  totals t;
  for (size_t i = 0; i < blocks.size(); ++i) {
    dump_data_block(out, fmt, *file, number, static_cast<uint32_t>(i), blocks[i].second,
                    blocks[i].first, t);
  }
  out << "entries: " << t.entries << " (" << counted(t.puts, "put", "puts") << ", "
      << counted(t.deletions, "deletion", "deletions") << ")\n";
  if (t.entries == 0) return;
  out << "key range: " << fmt.internal_key(t.first) << " .. " << fmt.internal_key(t.last) << '\n';
  // The footer's key range checksum is what opening a store compares with the MANIFEST; it must
  // also match the keys the table actually holds.
  if (d::key_range_checksum(t.first, t.last) != reader->identity().key_range_crc) {
    throw lsmt::corruption_error("lsmt: table " + std::to_string(number) +
                                 ": the footer's key range crc does not match its first and "
                                 "last keys");
  }
  out << "key range crc: matches the first and last keys\n";
}

}  // namespace lsmt_tool

#endif  // LSMT_TOOL_DUMP_TABLE_HPP
