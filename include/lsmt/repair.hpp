// lsmt/repair.hpp - lsmt::repair(dir): rebuild a store that no longer opens (a lost or damaged
// MANIFEST, a damaged table or log) from whatever its files still hold.
//
// Repair never needs the MANIFEST. With the store's LOCK held (an open store gives locked_error):
//   0. If the MANIFEST is readable, it says which files matter: the tables it lists (one it
//      lists but that is missing is lost) and the logs from its log_number on. The other files
//      are obsolete, as opening would find them, and are deleted: an obsolete table may hold
//      keys that later deletions removed. If it is unreadable, every table and log is used,
//      and the store id is the one most tables record; a table a merge replaced just before a
//      crash may then bring back keys deleted since.
//   1. Tables. Each is opened and read to its end with pread, checking its checksums and key
//      order. A whole table is merged as it is; from a damaged one, the entries before the
//      damage are kept. A table of another store (its footer names another store id) is not
//      used.
//   2. Logs. Each is read in number order; every whole batch record before the first damage
//      in it is kept, and later logs are read too (unlike opening, which keeps a prefix of the
//      writes: repair keeps all it can find).
//   3. Everything kept is merged, newest version of each key first (sequence numbers decide,
//      not file order), into new tables of the bottom level; deletions (range deletions too)
//      and the versions they or newer writes hide are dropped, as no older data is left outside the
//      merge. An entry found twice (a table and the log it came from) is written once. Values
//      kept in blob files are read and written again, into new blob files if
//      opts.blob_min_size says so; one that cannot be read from any copy of its write is lost,
//      and its key deleted rather than an older version brought back (repair_blobs.hpp).
//   4. A new empty log and a new MANIFEST (written atomically, as always) make the new tables
//      the store. Then the files that were merged whole, and the blob files every read of which
//      succeeded, are deleted, and every file that was damaged, foreign or unreadable is moved
//      into DIR/lost/ rather than deleted (every blob file too, once a table went there). Blob
//      files the MANIFEST does not list are obsolete, like tables.
// A crash before step 4's MANIFEST leaves the old files as they were (the new tables are
// leftovers the next open or repair removes or merges again); a crash after it leaves old
// files the next open removes. What could not be saved is listed in repair_report::lost.
//
// Thread safety: a free function; the LOCK keeps any open store out while it runs.
#ifndef LSMT_REPAIR_HPP
#define LSMT_REPAIR_HPP

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config.hpp"
#include "options.hpp"

namespace lsmt {

/// What repair() saved, and what it could not.
struct repair_report {
  size_t tables_merged = 0;       ///< tables whose entries were all kept
  size_t logs_replayed = 0;       ///< logs read (wholly or up to damage)
  uint64_t batches_replayed = 0;  ///< whole batch records kept from them
  size_t tables_written = 0;      ///< tables of the repaired store
  uint64_t entries_written = 0;   ///< entries in them
  std::vector<std::string> lost;  ///< one line per file or part that could not be saved
  bool ok() const { return lost.empty(); }
};

/// Rebuilds the store in dir from its tables, logs and blob files (see the top of this file).
/// Throws locked_error if the store is open, invalid_argument_error if dir holds no lsmt file, and
/// io_error if the new store cannot be written (the old files are then untouched).
repair_report repair(const std::filesystem::path& dir, const options& opts = {});

}  // namespace lsmt

#ifndef LSMT_SEPARATE_COMPILATION
#include "repair_impl.hpp"
#endif

#endif  // LSMT_REPAIR_HPP
