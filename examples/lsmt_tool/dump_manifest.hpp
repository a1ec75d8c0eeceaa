// dump_manifest.hpp - `lsmt dump` of a MANIFEST (lsmt/manifest.hpp): its counters and the
// tables of each level with their key ranges.
//
// A MANIFEST is one record: every change rewrites the whole state and renames it into place,
// so there is no history of edits to show, only the state. The library's decode_manifest
// checks the magic, version, length and checksum and validates every field before anything is
// printed.
#ifndef LSMT_TOOL_DUMP_MANIFEST_HPP
#define LSMT_TOOL_DUMP_MANIFEST_HPP

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "format.hpp"
#include "lsmt/coding.hpp"
#include "lsmt/error.hpp"
#include "lsmt/file_names.hpp"
#include "lsmt/file_system.hpp"
#include "lsmt/manifest.hpp"

namespace lsmt_tool {

/// Prints the MANIFEST at path (see the top of this file). Throws corruption_error on damage.
inline void dump_manifest(std::ostream& out, const byte_format& fmt, lsmt::file_system& fs,
                          const std::string& path) {
  namespace d = lsmt::detail;
  const std::unique_ptr<lsmt::readable_file> file = fs.new_readable_file(path, false);
  const uint64_t size = file->size();
  // The bound read_manifest uses: nothing larger can be one, so never allocate for it.
  if (size > d::manifest_header_size + d::manifest_trailer_size + UINT32_MAX) {
    throw lsmt::corruption_error("lsmt: too large to be a MANIFEST");
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  const std::string_view got = file->read(0, bytes.size(), bytes.data());
  if (got.size() != size) throw lsmt::io_error("lsmt: '" + path + "' shrank while being read");
  const d::manifest_state m = d::decode_manifest(got);

  out << "MANIFEST " << path << ": " << size << " bytes, format version "
      << d::decode_fixed32(got.data() + 8) << ", one record (the whole state)\n"
      << "next file number: " << m.next_file_number << '\n'
      << "last sequence: " << m.last_sequence << '\n'
      << "log number: " << m.log_number << " (" << d::file_name(m.log_number, d::file_kind::log)
      << " and later logs are replayed at open)\n"
      << "store id: " << hex64(m.store_id) << '\n';
  uint64_t total_bytes = 0;
  for (const d::table_meta& t : m.tables) total_bytes += t.size;
  out << "tables: " << m.tables.size() << ", " << total_bytes << " bytes\n";

  // decode_manifest guarantees the tables are listed by level, level 0 first.
  for (size_t i = 0; i < m.tables.size();) {
    const uint32_t level = m.tables[i].level;
    size_t end = i;
    uint64_t bytes_in_level = 0;
    for (; end < m.tables.size() && m.tables[end].level == level; ++end) {
      bytes_in_level += m.tables[end].size;
    }
    out << "level " << level << ": " << counted(end - i, "table", "tables") << ", "
        << bytes_in_level << " bytes"
        << (level == 0 ? " (newest first; key ranges may overlap)\n" : " (sorted by key)\n");
    for (; i < end; ++i) {
      const d::table_meta& t = m.tables[i];
      out << "  " << d::file_name(t.number, d::file_kind::table) << ": " << t.size << " bytes, "
          << counted(t.entries, "entry", "entries") << ", " << fmt.internal_key(t.smallest)
          << " .. " << fmt.internal_key(t.largest) << '\n';
      for (size_t b = 0; b < t.blob_files.size(); ++b) {
        out << "    refers to " << t.blob_bytes[b] << " bytes of "
            << d::file_name(t.blob_files[b], d::file_kind::blob) << '\n';
      }
    }
  }
  if (m.blobs.empty()) return;
  uint64_t blob_bytes = 0;
  for (const d::blob_meta& b : m.blobs) blob_bytes += b.size;
  out << "blob files: " << m.blobs.size() << ", " << blob_bytes << " bytes\n";
  for (const d::blob_meta& b : m.blobs) {
    out << "  " << d::file_name(b.number, d::file_kind::blob) << ": " << b.size << " bytes, "
        << counted(b.records, "record", "records") << '\n';
  }
}

}  // namespace lsmt_tool

#endif  // LSMT_TOOL_DUMP_MANIFEST_HPP
