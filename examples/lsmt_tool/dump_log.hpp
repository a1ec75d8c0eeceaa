// dump_log.hpp - `lsmt dump` of a write-ahead log (lsmt/wal.hpp): its header, its link record,
// and each batch record with its sequence, count, and every put, delete and range delete.
//
// Records are read with the library's log_reader, so the dump applies exactly the recovery rule
// a store applies at open: a torn last record (what a crash leaves) is reported and is not an
// error; damage no crash explains is a corruption_error, as are batches whose checksum is valid
// but whose contents raw_batch refuses, and sequence numbers that go backwards (which replay
// treats as damage too).
#ifndef LSMT_TOOL_DUMP_LOG_HPP
#define LSMT_TOOL_DUMP_LOG_HPP

#include <cstdint>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "format.hpp"
#include "lsmt/coding.hpp"
#include "lsmt/error.hpp"
#include "lsmt/file_names.hpp"
#include "lsmt/file_system.hpp"
#include "lsmt/internal_key.hpp"
#include "lsmt/wal.hpp"
#include "lsmt/write_batch.hpp"

namespace lsmt_tool {

namespace log_dump {
namespace d = lsmt::detail;

/// The log's number: from its name NNNNNN.log, or, for a file named otherwise (a copy), the one
/// its header gives (0 if it has none; log_reader then reports the header as damaged).
inline uint64_t log_number(const lsmt::readable_file& file, const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (const uint64_t n = d::parse_file_number(name, d::file_kind::log); n != 0) return n;
  char buf[16];
  const std::string_view h = file.read(0, sizeof buf, buf);
  if (h.size() != sizeof buf || d::decode_fixed64(h.data()) != d::log_magic) return 0;
  return d::decode_fixed64(h.data() + 8);
}

struct totals {
  uint64_t records = 0;
  uint64_t puts = 0;
  uint64_t deletions = 0;
  uint64_t range_deletions = 0;
  uint64_t last_sequence = 0;  // of the last op so far; 0 before the first
};

/// Prints one batch record: its sequence and count, then each op with the sequence it gets.
inline void dump_batch(std::ostream& out, const byte_format& fmt, uint64_t offset,
                       std::string payload, totals& t) {
  const size_t bytes = payload.size();
  d::raw_batch batch;
  try {
    batch.set_rep(std::move(payload));  // validates the whole encoding before anything is shown
  } catch (const lsmt::corruption_error& e) {
    throw lsmt::corruption_error(std::string(e.what()) + " (record at offset " +
                                 std::to_string(offset) + ", whose checksum is valid)");
  }
  out << "record at offset " << offset << ": batch of " << bytes << " bytes, sequence "
      << batch.sequence() << ", count " << batch.count() << '\n';
  if (batch.count() == 0) return;
  if (batch.sequence() <= t.last_sequence) {
    throw lsmt::corruption_error("lsmt: record at offset " + std::to_string(offset) +
                                 ": sequence " + std::to_string(batch.sequence()) +
                                 " does not follow the previous record's " +
                                 std::to_string(t.last_sequence));
  }
  batch.for_each(
      [&](d::value_type type, std::string_view key, std::string_view value, uint64_t seq) {
        if (type == d::value_type::value) {
          out << "  put " << fmt.quote(key) << " @" << seq << " = " << fmt.quote(value) << '\n';
          ++t.puts;
        } else if (type == d::value_type::range_deletion) {  // key and value: begin and end
          out << "  range_del " << fmt.range(key, value) << " @" << seq << '\n';
          ++t.range_deletions;
        } else {
          out << "  del " << fmt.quote(key) << " @" << seq << '\n';
          ++t.deletions;
        }
      });
  t.last_sequence = batch.sequence() + batch.count() - 1;
}

}  // namespace log_dump

/// Prints the log at path (see the top of this file). Throws corruption_error on damage.
inline void dump_log(std::ostream& out, const byte_format& fmt, lsmt::file_system& fs,
                     const std::string& path) {
  namespace d = lsmt::detail;
  using namespace log_dump;
  const std::unique_ptr<lsmt::readable_file> file = fs.new_readable_file(path, false);
  const uint64_t number = log_number(*file, path);
  out << "log " << path << ": " << file->size() << " bytes\n";
  d::log_reader reader(*file, number);
  // Before the first record the reader stands at the end of a valid header, or at 0 when the
  // header is missing, torn or damaged.
  if (reader.valid_end() == d::log_header_size) {
    out << "header: log " << number << ", format version " << d::log_format_version
        << ", synced through offset " << reader.synced_through() << '\n';
  } else {
    out << "header: none valid\n";
  }

  totals t;
  bool link_shown = false;
  const auto show_link = [&] {
    if (link_shown || !reader.link()) return;
    link_shown = true;
    out << "record at offset " << d::log_header_size << ": link to "
        << d::file_name(reader.link()->previous_log, d::file_kind::log)
        << ", which ended at offset " << reader.link()->previous_size << '\n';
  };
  std::string payload;
  while (reader.read_record(payload)) {
    show_link();  // the link, if any, is the first record: it precedes this batch
    dump_batch(out, fmt, reader.record_offset(), std::move(payload), t);
    ++t.records;
  }
  show_link();

  out << "batches: " << t.records << " (" << counted(t.puts, "put", "puts") << ", "
      << counted(t.deletions, "deletion", "deletions") << ", "
      << counted(t.range_deletions, "range deletion", "range deletions") << "), last sequence "
      << t.last_sequence << '\n';
  switch (reader.end()) {
    case d::log_end::clean:
      out << "end: clean, at offset " << reader.valid_end() << '\n';
      break;
    case d::log_end::torn_tail:
      out << "end: torn tail at offset " << reader.valid_end() << ": " << reader.dropped_bytes()
          << " bytes of a record a crash cut short (not damage; recovery drops them)\n";
      break;
    case d::log_end::damaged:
      throw lsmt::corruption_error("lsmt: log " + std::to_string(number) +
                                   " is damaged: " + reader.damage() + "; " +
                                   std::to_string(reader.dropped_bytes()) + " bytes after offset " +
                                   std::to_string(reader.valid_end()) + " are unreadable");
  }
}

}  // namespace lsmt_tool

#endif  // LSMT_TOOL_DUMP_LOG_HPP
