// lsmt/properties.hpp - the text of db::property(): a store's state for people to read.
//
// Names (unknown names give nullopt):
//   lsmt.stats                 everything in lsmt::stats, one topic per line, with a level table
//                              (tables and bytes, and what merges into each level did: merges,
//                              moves, bytes in from above, read, written, and written per in)
//   lsmt.sstables              every live table by level: number, bytes, entries, key range
//   lsmt.num-files-at-levelN   the number of tables in level N (0-6)
//   lsmt.memory                the memory lines of lsmt.stats
// Keys in lsmt.sstables are printed with bytes outside printable ASCII (and backslash) escaped as
// \xNN, so binary keys cannot garble a terminal.
//
// Thread safety: pure functions of their arguments.
#ifndef LSMT_PROPERTIES_HPP
#define LSMT_PROPERTIES_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "stats.hpp"
#include "version.hpp"

namespace lsmt::detail {

/// `bytes` with non-printable bytes and backslashes as \xNN.
inline std::string printable(std::string_view bytes) {
  std::string out;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += ch;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

inline std::string memory_lines(const lsmt::stats& s) {
  return "memory: memtables " + std::to_string(s.memtable_bytes) + " bytes (" +
         std::to_string(s.memtable_entries) + " entries in the active one; " +
         std::to_string(s.immutable_memtables) + " immutable, " +
         std::to_string(s.immutable_memtable_bytes) + " bytes; " +
         std::to_string(s.memtable_pool_bytes) + " bytes of freed blocks kept), filters " +
         std::to_string(s.filter_bytes) + ", indexes " + std::to_string(s.index_bytes) +
         ", block cache " + std::to_string(s.block_cache_bytes) + "\n" +
         "mapped: " + std::to_string(s.mapped_bytes) + " bytes of tables\n";
}

inline std::string stats_text(const lsmt::stats& s) {
  char line[200];
  std::string out =
      "level  tables          bytes  merges   moves       bytes in     bytes read  bytes written"
      "  w-amp\n";
  const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  for (size_t l = 0; l < s.level_tables.size(); ++l) {
    const lsmt::level_merge_stats& m = s.level_merges[l];
    const double w = m.bytes_in == 0
                         ? 0.0
                         : static_cast<double>(m.bytes_written) / static_cast<double>(m.bytes_in);
    std::snprintf(line, sizeof line,
                  "%5zu  %6zu  %13llu  %6llu  %6llu  %13llu  %13llu  %13llu  %5.2f\n", l,
                  s.level_tables[l], u(s.level_bytes[l]), u(m.merges), u(m.moves), u(m.bytes_in),
                  u(m.bytes_read), u(m.bytes_written), w);
    out += line;
  }
  std::snprintf(line, sizeof line, "total  %6zu  %13llu\n", s.tables,
                static_cast<unsigned long long>(s.table_bytes));
  out += line;
  std::snprintf(line, sizeof line, "%.2f", s.write_amplification);
  const std::string wa = line;
  auto n = [](uint64_t v) { return std::to_string(v); };
  out += "pending compaction: " + n(s.pending_compaction_bytes) + " bytes\n";
  out += "shadowing older versions: " + n(s.shadowing_bytes) + " bytes\n";
  out += "level 0 merged at: " + n(s.level0_trigger) + " tables\n";
  out += "range deletions: " + n(s.table_range_deletions) + " in tables, " +
         n(s.memtable_range_deletions) + " in memtables\n";
  out += "writes: " + n(s.user_bytes_written) + " bytes of keys and values, " +
         n(s.wal_bytes_written) + " bytes of log; write amplification " + wa + "\n";
  if (s.blob_files != 0 || s.blob_bytes_written != 0) {
    out += "blob files: " + n(s.blob_files) + ", " + n(s.blob_file_bytes) + " bytes, " +
           n(s.blob_garbage_bytes) + " bytes of garbage; " + n(s.blob_bytes_written) +
           " bytes written\n";
  }
  out += "flushes: " + n(s.flushes) + ", " + n(s.flush_bytes_written) + " bytes written\n";
  out += "compactions: " + n(s.compactions) + " (" + n(s.compaction_moves) + " moves), " +
         n(s.compaction_bytes_read) + " bytes read, " + n(s.compaction_bytes_written) +
         " bytes written\n";
  out += "idle settles: " + n(s.idle_settles) + "\n";
  out += "stalls: " + n(s.stalls) + ", " + n(s.stall_micros) + " us in total\n";
  out += "slowdowns: " + n(s.slowdowns) + ", " + n(s.slowdown_micros) + " us in total\n";
  out +=
      "block cache: " + n(s.block_cache_hits) + " hits, " + n(s.block_cache_misses) + " misses\n";
  out += "bloom filters: " + n(s.bloom_checks) + " checks, " + n(s.bloom_useful) + " useful\n";
  out += memory_lines(s);
  out += "snapshots: " + n(s.live_snapshots) + " live; last sequence " + n(s.last_sequence) + "\n";
  return out;
}

inline std::string sstables_text(const version& v) {
  std::string out;
  for (size_t l = 0; l < max_levels; ++l) {
    if (v.levels[l].empty()) continue;
    out += "level " + std::to_string(l) + ":\n";
    for (const auto& t : v.levels[l]) {
      const table_meta& m = t->meta();
      out += "  #" + std::to_string(m.number) + " " + std::to_string(m.size) + " bytes, " +
             std::to_string(m.entries) + " entries, ['" + printable(t->smallest_user_key()) +
             "' .. '" + printable(t->largest_user_key()) + "']\n";
    }
  }
  return out;
}

/// The text of property `name`, or nullopt if there is no such property.
inline std::optional<std::string> property_text(std::string_view name, const lsmt::stats& s,
                                                const version& v) {
  if (name == "lsmt.stats") return stats_text(s);
  if (name == "lsmt.sstables") return sstables_text(v);
  if (name == "lsmt.memory") return memory_lines(s);
  constexpr std::string_view files_at = "lsmt.num-files-at-level";
  if (name.substr(0, files_at.size()) == files_at && name.size() == files_at.size() + 1) {
    const char digit = name.back();
    if (digit >= '0' && digit < static_cast<char>('0' + max_levels)) {
      return std::to_string(v.levels[static_cast<size_t>(digit - '0')].size());
    }
  }
  return std::nullopt;
}

}  // namespace lsmt::detail

#endif  // LSMT_PROPERTIES_HPP
