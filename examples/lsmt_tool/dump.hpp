// dump.hpp - the `dump FILE` subcommand: tells which kind of store file FILE is and prints it
// with dump_table, dump_log, dump_blob or dump_manifest. It reads the file alone and never opens
// the store (an open would replay, and then remove, the very logs one wants to look at).
#ifndef LSMT_TOOL_DUMP_HPP
#define LSMT_TOOL_DUMP_HPP

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli.hpp"
#include "dump_blob.hpp"
#include "dump_log.hpp"
#include "dump_manifest.hpp"
#include "dump_table.hpp"
#include "lsmt/coding.hpp"
#include "lsmt/error.hpp"
#include "lsmt/file_system.hpp"
#include "lsmt/manifest.hpp"
#include "lsmt/posix_file_system.hpp"
#include "lsmt/table_format.hpp"
#include "lsmt/wal.hpp"

namespace lsmt_tool {

enum class store_file { table, log, manifest, blob };

/// The kind of store file at path: by its name as file_names.hpp gives it (NNNNNN.sst,
/// NNNNNN.log, NNNNNN.blob, MANIFEST; also any *.sst, *.log, *.blob or MANIFEST*, for copies),
/// else by its magic number. nullopt if neither tells.
inline std::optional<store_file> store_file_kind(lsmt::file_system& fs, const std::string& path) {
  namespace d = lsmt::detail;
  const std::filesystem::path p(path);
  const std::string name = p.filename().string();
  if (p.extension() == ".sst") return store_file::table;
  if (p.extension() == ".log") return store_file::log;
  if (p.extension() == ".blob") return store_file::blob;
  if (name.rfind("MANIFEST", 0) == 0) return store_file::manifest;

  const std::unique_ptr<lsmt::readable_file> file = fs.new_readable_file(path, false);
  char buf[8];
  if (file->size() < sizeof buf) return std::nullopt;
  std::string_view head = file->read(0, sizeof buf, buf);
  if (head.size() == sizeof buf && d::decode_fixed64(head.data()) == d::log_magic) {
    return store_file::log;
  }
  if (head.size() == sizeof buf && d::decode_fixed64(head.data()) == d::manifest_magic) {
    return store_file::manifest;
  }
  if (head.size() == sizeof buf && d::decode_fixed64(head.data()) == d::blob_magic) {
    return store_file::blob;
  }
  // A table's magic number is its last 8 bytes (table_format.hpp).
  const std::string_view tail = file->read(file->size() - sizeof buf, sizeof buf, buf);
  if (tail.size() == sizeof buf && d::decode_fixed64(tail.data()) == d::table_magic) {
    return store_file::table;
  }
  return std::nullopt;
}

inline int run_dump(invocation& inv) {
  expect_args(inv, 1);
  const std::string& path = inv.args[0];
  lsmt::file_system& fs = *lsmt::posix_file_system();
  const std::optional<store_file> kind = store_file_kind(fs, path);
  if (!kind) {
    throw lsmt::corruption_error("lsmt: '" + path +
                                 "' is not a table, log, blob file or MANIFEST of an lsmt store "
                                 "(by name or magic number)");
  }
  try {
    switch (*kind) {
      case store_file::table:
        dump_table(*inv.out, inv.format, fs, path);
        break;
      case store_file::log:
        dump_log(*inv.out, inv.format, fs, path);
        break;
      case store_file::manifest:
        dump_manifest(*inv.out, inv.format, fs, path);
        break;
      case store_file::blob:
        dump_blob(*inv.out, inv.format, fs, path);
        break;
    }
  } catch (const lsmt::corruption_error& e) {
    // The library names a table or log by number only; say which file on disk it was.
    throw lsmt::corruption_error(std::string(e.what()) + " (in '" + path + "')");
  }
  return exit_ok;
}

}  // namespace lsmt_tool

#endif  // LSMT_TOOL_DUMP_HPP
