// lsmt/file_names.hpp - the files of a store's directory and their names.
//
// Directory layout:
//   LOCK          flock()ed while a store has the directory open
//   MANIFEST      the live tables and counters (manifest.hpp); replaced atomically
//   MANIFEST.tmp  the next MANIFEST while it is written; a leftover is removed at open
//   NNNNNN.log    write-ahead logs (wal.hpp); one per memtable
//   NNNNNN.sst    sorted string tables (table_format.hpp)
//   NNNNNN.blob   large values the tables refer to (blob_file.hpp)
// NNNNNN is a file number, at least six decimal digits. Logs, tables and blob files share one
// sequence of numbers (version_set hands them out), so a newer file always has a larger number.
//
// Thread safety: stateless functions.
#ifndef LSMT_FILE_NAMES_HPP
#define LSMT_FILE_NAMES_HPP

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "internal_key.hpp"

namespace lsmt::detail {

enum class file_kind { log, table, blob };

inline const char* file_extension(file_kind kind) {
  switch (kind) {
    case file_kind::log:
      return "log";
    case file_kind::table:
      return "sst";
    case file_kind::blob:
      return "blob";
  }
  return "";
}

/// NNNNNN.log, NNNNNN.sst or NNNNNN.blob.
inline std::string file_name(uint64_t number, file_kind kind) {
  char name[32];
  std::snprintf(name, sizeof(name), "%06llu.%s", static_cast<unsigned long long>(number),
                file_extension(kind));
  return name;
}

/// dir/ and file_name(number, kind).
inline std::string file_path(const std::string& dir, uint64_t number, file_kind kind) {
  return dir + "/" + file_name(number, kind);
}

inline std::string lock_file_path(const std::string& dir) { return dir + "/LOCK"; }
// MANIFEST's path is manifest_path() in manifest.hpp.

/// The number of a file named "NNNNNN.<extension of kind>"; 0 if `name` is no such file.
inline uint64_t parse_file_number(std::string_view name, file_kind kind) {
  const std::string suffix = std::string(".") + file_extension(kind);
  if (name.size() <= suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return 0;
  }
  uint64_t n = 0;
  for (size_t i = 0; i + suffix.size() < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || n > (max_sequence / 10)) return 0;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return n;
}

}  // namespace lsmt::detail

#endif  // LSMT_FILE_NAMES_HPP
