// dump_blob.hpp - `lsmt dump` of a blob file (lsmt/blob_file.hpp): its header, each record with
// its key, sequence and value, and its footer's counts.
//
// The file is opened with the library's blob_reader, which checks its header, footer and number,
// and read with for_each, which checks every record's checksum and that the records fill the
// file as the footer says: damage is a corruption_error. A blob file read on its own cannot be
// checked against its store, so the store id its header gives is shown, not checked (`lsmt DIR
// verify` checks it).
#ifndef LSMT_TOOL_DUMP_BLOB_HPP
#define LSMT_TOOL_DUMP_BLOB_HPP

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "format.hpp"
#include "lsmt/blob_file.hpp"
#include "lsmt/coding.hpp"
#include "lsmt/error.hpp"
#include "lsmt/file_names.hpp"
#include "lsmt/file_system.hpp"

namespace lsmt_tool {

/// A blob reference (a table entry's value when its type is blob), as words: the file, record
/// and byte range it names. The raw bytes if they do not decode.
inline std::string describe_blob_ref(const byte_format& fmt, std::string_view ref_bytes) {
  namespace d = lsmt::detail;
  d::blob_ref ref;
  if (!d::decode_blob_ref(ref_bytes, &ref))
    return "(malformed blob reference " + fmt.quote(ref_bytes) + ")";
  return "-> " + d::file_name(ref.file, d::file_kind::blob) + " record " +
         std::to_string(ref.ordinal) + " at offset " + std::to_string(ref.offset) + ", " +
         std::to_string(ref.size) + " bytes";
}

inline void dump_blob(std::ostream& out, const byte_format& fmt, lsmt::file_system& fs,
                      const std::string& path) {
  namespace d = lsmt::detail;
  std::unique_ptr<lsmt::readable_file> file = fs.new_readable_file(path, false);
  const uint64_t size = file->size();
  char head[d::blob_header_size];
  const std::string_view h =
      size < d::blob_header_size ? std::string_view() : file->read(0, d::blob_header_size, head);
  if (h.size() != d::blob_header_size || d::decode_fixed64(h.data()) != d::blob_magic) {
    throw lsmt::corruption_error("lsmt: '" + path + "' is not a blob file (bad magic number)");
  }
  // The number its name gives (NNNNNN.blob), or for a copy named otherwise, its header's.
  const std::string name = std::filesystem::path(path).filename().string();
  uint64_t number = d::parse_file_number(name, d::file_kind::blob);
  if (number == 0) number = d::decode_fixed64(h.data() + 8);
  const uint64_t store_id = d::decode_fixed64(h.data() + 16);
  const auto reader = d::blob_reader::open(std::move(file), path, number, store_id);
  out << "blob file " << path << ": " << size << " bytes\n";
  out << "  blob file number: " << number << "\n";
  out << "  store id: " << hex64(store_id) << " (not checked: the file is read on its own)\n";
  out << "  format version: " << d::blob_format_version << "\n";
  uint64_t records = 0;
  uint64_t value_bytes = 0;
  reader->for_each(
      [&](const d::blob_ref& ref, std::string_view key, uint64_t seq, std::string_view value) {
        out << "record " << ref.ordinal << " at offset " << ref.offset << ", " << ref.size
            << " bytes: " << fmt.quote(key) << " @" << seq << " = " << fmt.quote(value) << "\n";
        ++records;
        value_bytes += value.size();
      });
  out << "records: " << records << ", " << value_bytes << " bytes of values\n";
}

}  // namespace lsmt_tool

#endif  // LSMT_TOOL_DUMP_BLOB_HPP
