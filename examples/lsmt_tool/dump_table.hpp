// dump_table.hpp - `lsmt dump` of an SSTable (lsmt/table_format.hpp): its footer, filter, index,
// each data block with its entries, and its range deletions (format version 3).
//
// The file is first opened with the library's own table_reader, which checks everything a
// store checks before it reads a table: the footer's checksum and identity, the filter and
// index blocks' checksums, and that the index's block handles tile the data exactly. Only then
// are the parts walked one by one for printing, each block verified against its trailer before
// its entries (decoded by the library's block_iter) are shown. Damage is a corruption_error with
// what was printed so far left on stdout. A table whose blocks are compressed (options.compressor)
// is reported as such, with its compressor id, in an invalid_argument_error: this tool links no
// compressor and cannot decode them.
#ifndef LSMT_TOOL_DUMP_TABLE_HPP
#define LSMT_TOOL_DUMP_TABLE_HPP

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "dump_blob.hpp"
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
  if (d::decode_fixed32(got.data() + b.contents.size() + 1) !=
      d::block_checksum(b.contents, compression)) {
    fail("checksum mismatch");
  }
  if (compression != d::no_compression) {  // intact, but this tool has no compressor
    throw lsmt::invalid_argument_error("lsmt: table " + std::to_string(table) +
                                       ", block at offset " + std::to_string(h.offset) +
                                       ": compressed with compressor id " +
                                       std::to_string(static_cast<unsigned char>(compression)) +
                                       ", which lsmt dump cannot decode");
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

/// Decodes the footer that ends the file (either version) into *footer and its format version
/// into *version; returns nullptr, or what is wrong.
inline const char* read_footer(const lsmt::readable_file& file, d::table_footer* footer,
                               uint32_t* version) {
  const size_t n = static_cast<size_t>(std::min<uint64_t>(file.size(), d::max_footer_size));
  if (n < d::footer_size) return "file too short to be a table";
  char buf[d::max_footer_size];
  const std::string_view tail = file.read(file.size() - n, n, buf);
  if (tail.size() != n) return "truncated";
  const char* why = d::decode_footer(tail.data(), n, footer);
  // Every version keeps its number 16 bytes before the end (table_format.hpp).
  if (why == nullptr) *version = d::decode_fixed32(tail.data() + n - 16);
  return why;
}

/// The table's number: from its name NNNNNN.sst, or, for a file named otherwise (a copy), the
/// one its footer gives (0 if the footer does not decode; table_reader then says why).
inline uint64_t table_number(const lsmt::readable_file& file, const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (const uint64_t n = d::parse_file_number(name, d::file_kind::table); n != 0) return n;
  d::table_footer footer;
  uint32_t version = 0;
  return read_footer(file, &footer, &version) == nullptr ? footer.id.number : 0;
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
    if (d::holds_value(d::extract_type(k))) {
      out << " = "
          << (d::extract_type(k) == d::value_type::blob_index ? describe_blob_ref(fmt, it.value())
                                                              : fmt.quote(it.value()));
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

/// The range deletions of a table, and their part of its bounds (table_format.hpp, "Bounds").
struct range_totals {
  uint64_t count = 0;
  std::string smallest;  // (the first begin, max_sequence, value)
  std::string largest;   // the largest (claim(end), 0, deletion)
};

/// Prints the range-deletion block and its entries; checks their order and that each range is
/// not empty (as table_reader does when it opens the table).
inline range_totals dump_range_deletions(std::ostream& out, const byte_format& fmt,
                                         const lsmt::readable_file& file, uint64_t table,
                                         const d::block_handle& h) {
  const block_bytes b = read_block(file, h, table);
  d::block_iter it;
  it.reset(b.contents, {table, h.offset});
  it.expect_range_deletions();  // keys of type range_deletion, checked as they are decoded
  out << "range-deletion block: offset " << h.offset << ", " << h.size << " bytes + "
      << d::block_trailer_size << " byte trailer (checksum ok), "
      << counted(restart_count(b.contents), "restart", "restarts") << "\n";
  range_totals r;
  std::string prev;
  for (it.seek_to_first(); it.valid(); it.next()) {
    const std::string_view k = it.key();
    const std::string_view begin = d::extract_user_key(k);
    const uint64_t seq = d::extract_sequence(k);
    if (seq == 0 || d::compare_user_keys(begin, it.value()) >= 0 ||
        (r.count != 0 && d::compare_internal_keys(prev, k) >= 0)) {
      throw lsmt::corruption_error("lsmt: table " + std::to_string(table) +
                                   ": bad range deletion " + fmt.range(begin, it.value()) + " @" +
                                   std::to_string(seq) + " in its block");
    }
    out << "  range_del " << fmt.range(begin, it.value()) << " @" << seq << '\n';
    std::string claim;
    d::append_internal_key(claim, d::range_claim(it.value()), 0, d::value_type::deletion);
    if (r.count == 0) {
      r.smallest.clear();
      d::append_internal_key(r.smallest, begin, d::max_sequence, d::value_type_for_bound);
    }
    if (r.count == 0 || d::compare_internal_keys(claim, r.largest) > 0) r.largest = claim;
    prev.assign(k);
    ++r.count;
  }
  if (r.count == 0) out << "  (no entries)\n";
  return r;
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
  const uint64_t size = file->size();
  std::shared_ptr<d::table_reader> reader;
  try {
    reader = d::table_reader::open(fs.new_readable_file(path, false), number, d::table_options{},
                                   nullptr);
  } catch (const lsmt::invalid_argument_error& e) {
    // Its blocks are compressed (table_format.hpp, "Compression"), and their checksums hold:
    // not damage, but nothing this tool, which links no compressor, can decode.
    out << "table " << path << ": " << size << " bytes, compressed\n";
    throw lsmt::invalid_argument_error(std::string(e.what()) +
                                       " (lsmt dump cannot decode compressed blocks)");
  }
  out << "table " << path << ": " << size << " bytes\n";

  d::table_footer footer;
  uint32_t version = 0;
  if (const char* why = read_footer(*file, &footer, &version)) {
    // table_reader::open decoded it: the file changed since
    throw lsmt::corruption_error("lsmt: table " + std::to_string(number) + ": " + why);
  }
  const size_t footer_bytes = d::footer_size_of(footer);
  out << "footer: offset " << size - footer_bytes << ", " << footer_bytes << " bytes\n";
  if (footer.has_range_dels) {
    out << "  range-deletion block: offset " << footer.range_del.offset << ", "
        << footer.range_del.size << " bytes\n";
  }
  out << "  filter block: offset " << footer.filter.offset << ", " << footer.filter.size
      << " bytes\n"
      << "  index block: offset " << footer.index.offset << ", " << footer.index.size << " bytes\n"
      << "  table number: " << footer.id.number << '\n'
      << "  store id: " << hex64(footer.id.store_id) << '\n'
      << "  key range crc: " << hex32(footer.id.key_range_crc) << '\n'
      << "  format version: " << version << '\n';

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
  // In version 3 the data blocks end where the range-deletion block starts (table_reader::open
  // checked that the index's blocks tile exactly that region).
  range_totals r;
  if (footer.has_range_dels) r = dump_range_deletions(out, fmt, *file, number, footer.range_del);
  out << "entries: " << t.entries << " (" << counted(t.puts, "put", "puts") << ", "
      << counted(t.deletions, "deletion", "deletions") << ")";
  if (footer.has_range_dels) {
    out << ", " << counted(r.count, "range deletion", "range deletions");
  }
  out << '\n';
  if (t.entries == 0 && r.count == 0) return;
  if (t.entries != 0) {
    out << "key range: " << fmt.internal_key(t.first) << " .. " << fmt.internal_key(t.last) << '\n';
  }
  // The table's bounds: its first and last keys, widened by its range deletions.
  std::string smallest = t.first;
  std::string largest = t.last;
  if (r.count != 0) {
    if (t.entries == 0 || d::compare_internal_keys(r.smallest, smallest) < 0) smallest = r.smallest;
    if (t.entries == 0 || d::compare_internal_keys(r.largest, largest) > 0) largest = r.largest;
    out << "bounds (with the range deletions): " << fmt.internal_key(smallest) << " .. "
        << fmt.internal_key(largest) << '\n';
  }
  // The footer's key range checksum is what opening a store compares with the MANIFEST; it must
  // also match the bounds of what the table actually holds.
  const char* what = r.count != 0 ? "bounds" : "first and last keys";
  if (d::key_range_checksum(smallest, largest) != reader->identity().key_range_crc) {
    throw lsmt::corruption_error("lsmt: table " + std::to_string(number) +
                                 ": the footer's key range crc does not match its " + what);
  }
  out << "key range crc: matches the " << what << '\n';
}

}  // namespace lsmt_tool

#endif  // LSMT_TOOL_DUMP_TABLE_HPP
