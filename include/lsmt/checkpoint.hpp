// lsmt/checkpoint.hpp - db::checkpoint(dest): an openable copy of a live store as of one moment.
//
// What a checkpoint holds: every write acknowledged before checkpoint() was called, and possibly
// some later ones, always a prefix of the store's writes in sequence order. Writers are not
// stopped: they wait only while the barrier below opens the logs and reads their headers.
// The steps:
//   1. The engine flushes the memtable, so the writes acknowledged so far are in tables.
//   2. A write barrier (write_path.hpp: no write runs meanwhile) fixes the moment. Under it,
//      and under the state mutex, the checkpoint takes the current version (which keeps its
//      tables from being deleted) and the logs whose writes are not in a table yet; it opens
//      each of those logs (an open file outlives its deletion by the flush thread) and reads
//      its header (the write leader may rewrite a header's synced offset later), and notes
//      how many bytes of whole records the current log holds. Only the write leader writes a
//      log, so nothing it takes is half-written. The flush thread does not wait for the
//      barrier: if it closes one of those logs meanwhile, the checkpoint takes all of this
//      again (the flushed memtable is in a table of the new version by then).
//   3. After the barrier it copies the logs into DEST.checkpoint-tmp, the current one up to
//      that size, syncing each, and hard-links each table (copying it where links are not
//      possible, e.g. across file systems).
//   4. It writes the MANIFEST last (synced, with the directory), then renames the directory to
//      DEST and syncs DEST's parent.
// close() waits for a checkpoint in flight before it unlocks the store, since a later open
// could delete tables it has yet to link. If the checkpoint fails, it removes DEST.checkpoint-tmp.
// A crash before step 4 finishes leaves no DEST, only DEST.checkpoint-tmp, with no MANIFEST or a
// complete one; the next checkpoint to DEST removes it. DEST must not exist. A linked table shares
// its disk blocks with the store (tables are never modified, only deleted), so a checkpoint on the
// same file system costs little space until the store's merges replace those tables; the logs (at
// most a few memtables' worth) are copied.
//
// Thread safety: run by the engine on the caller's thread; see engine_impl.hpp for the locks.
#ifndef LSMT_CHECKPOINT_HPP
#define LSMT_CHECKPOINT_HPP

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "file_names.hpp"
#include "file_system.hpp"
#include "manifest.hpp"
#include "store_core.hpp"
#include "wal.hpp"
#include "write_path.hpp"

namespace lsmt::detail {

/// Appends bytes [offset, end) of `in` to `out`, 1 MiB at a time. A short read is an io_error
/// if `exact`; otherwise the copy ends where the file now ends.
inline void copy_range(readable_file& in, uint64_t offset, uint64_t end, writable_file& out,
                       bool exact) {
  std::string buffer(size_t{1} << 20, '\0');
  while (offset < end) {
    const auto n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), end - offset));
    const std::string_view got = in.read(offset, n, buffer.data());
    if (exact && got.size() != n) throw io_error("lsmt: short read of a file for a checkpoint");
    if (got.empty()) break;  // the file shrank: copy what there was
    out.append(got);
    offset += got.size();
  }
}

/// Copies the file `from`, as long as it is now, to a new file `to`, synced.
inline void copy_file(file_system& fs, const std::string& from, const std::string& to) {
  const std::unique_ptr<readable_file> in = fs.new_readable_file(from, false);
  const std::unique_ptr<writable_file> out = fs.new_writable_file(to);
  copy_range(*in, 0, in->size(), *out, false);
  out->sync();
  out->close();
}

/// Removes dir and the files in it (a leftover checkpoint directory; it holds no subdirectory).
inline void remove_directory_tree(file_system& fs, const std::string& dir) {
  for (const std::string& name : fs.list_directory(dir)) {
    fs.remove_file((std::filesystem::path(dir) / name).string());
  }
  fs.remove_directory(dir);
}

/// A log the checkpoint copies: opened under the barrier (the open file outlives a deletion by
/// the flush thread), with its header as it was then (the write leader may rewrite a header's
/// synced offset later) and its size: whole records, and for a full log perhaps a tail of
/// zeros, which recovery reads as the end of the log.
struct log_copy {
  uint64_t number = 0;
  std::unique_ptr<readable_file> file;
  std::string header;
  uint64_t size = 0;
};

/// Writes `log` to dir, synced: its header, then its bytes after the header.
inline void write_log_copy(file_system& fs, const std::string& dir, const log_copy& log) {
  const std::unique_ptr<writable_file> out =
      fs.new_writable_file(file_path(dir, log.number, file_kind::log));
  out->append(log.header);
  copy_range(*log.file, log.header.size(), log.size, *out, true);
  out->sync();
  out->close();
}

/// Opens log `number` of the store and reads its header, under the barrier. Its size is what
/// was appended to it (its file may be longer until it closes: a preallocated tail).
inline log_copy open_log_copy(store_core& c, uint64_t number, uint64_t size) {
  log_copy log;
  log.number = number;
  log.file = c.fs->new_readable_file(c.logs.path(number), false);
  log.size = size;
  log.header.resize(log_header_size);
  const std::string_view got = log.file->read(0, log.header.size(), log.header.data());
  if (got.size() != log.header.size()) throw io_error("lsmt: short read of a log's header");
  log.header.assign(got.data(), got.size());
  return log;
}

/// Under the barrier: takes the current version, the MANIFEST fields and the logs whose writes
/// are not in a table yet (oldest first, the current log last). Returns false, having taken
/// nothing for good, if a flush closed one of those logs meanwhile.
inline bool take_snapshot(store_core& c, std::shared_ptr<const version>& v, manifest_state& m,
                          std::vector<log_copy>& logs) {
  logs.clear();
  std::vector<uint64_t> earlier;
  uint64_t current = 0;
  {
    lock_guard s(c.state_mutex);
    current = c.log_number;
    v = c.current;
    m.log_number = c.oldest_needed_log(0);
    for (auto it = c.imms.rbegin(); it != c.imms.rend(); ++it) earlier.push_back(it->log_number);
    m.next_file_number = c.versions.next_file_number();
    // At least every sequence in the tables and logs (recovery takes the larger of this and
    // what it replays), so the checkpoint's new writes sort after them.
    m.last_sequence = c.last_sequence.load();
  }
  // Whether log n's memtable is still waiting for its flush. The flush thread installs the
  // table (dropping the memtable) before it removes and closes the log.
  const auto unflushed = [&c](uint64_t n) {
    lock_guard s(c.state_mutex);
    return std::any_of(c.imms.begin(), c.imms.end(),
                       [n](const auto& slot) { return slot.log_number == n; });
  };
  for (const uint64_t n : earlier) {
    const std::optional<uint64_t> size = c.logs.earlier_size(n);
    if (!size) {
      if (!unflushed(n)) return false;
      throw io_error("lsmt: checkpoint: log " + std::to_string(n) + " is closed");
    }
    try {
      logs.push_back(open_log_copy(c, n, *size));
    } catch (const std::exception&) {
      if (!unflushed(n)) return false;  // removed by its flush between the two calls above
      throw;
    }
  }
  logs.push_back(open_log_copy(c, current, 0));  // its size comes from the barrier
  return true;
}

/// Steps 2-4 above; the caller has flushed (step 1) and serializes checkpoints. `barrier` runs
/// its argument as a write barrier and returns the current log's position then.
inline void write_checkpoint(
    store_core& c, const std::string& dest,
    const std::function<write_path::log_position(const std::function<void()>&)>& barrier) {
  if (c.fs->file_exists(dest)) {
    throw invalid_argument_error("lsmt: checkpoint destination '" + dest + "' already exists");
  }
  const std::string parent = std::filesystem::path(dest).parent_path().string();
  if (!parent.empty() && !c.fs->file_exists(parent)) {
    throw invalid_argument_error("lsmt: checkpoint destination's parent '" + parent +
                                 "' does not exist");
  }
  const std::string tmp = dest + ".checkpoint-tmp";
  if (c.fs->file_exists(tmp)) remove_directory_tree(*c.fs, tmp);
  c.fs->create_directory(tmp, c.opts.directory_permissions);
  try {
    std::shared_ptr<const version> v;
    manifest_state m;
    std::vector<log_copy> logs;  // oldest first; the current log last
    const write_path::log_position at = barrier([&] {
      // A flush may finish while this runs: it closes and removes its memtable's log once its
      // table is installed. Then the snapshot is taken again; that table is in the new
      // version. No memtable rotates under the barrier, so each retry follows one finished
      // flush, and there are at most as many retries as immutable memtables.
      for (bool taken = false; !taken;) taken = take_snapshot(c, v, m, logs);
    });
    logs.back().size = at.size;  // the current log: its whole records at the barrier
    for (const log_copy& log : logs) write_log_copy(*c.fs, tmp, log);
    m.store_id = c.versions.store_id();
    m.tables = v->manifest_tables();
    m.blobs = v->manifest_blobs();
    // `v` keeps its tables and blob files from being deleted while they are linked or copied.
    // They are synced when written, and a link is a directory entry, which the MANIFEST write
    // syncs.
    const auto link_or_copy = [&](uint64_t number, file_kind kind) {
      const std::string from = file_path(c.dir, number, kind);
      const std::string to = file_path(tmp, number, kind);
      if (!c.fs->link_file(from, to)) copy_file(*c.fs, from, to);
    };
    for (const table_meta& t : m.tables) link_or_copy(t.number, file_kind::table);
    for (const blob_meta& b : m.blobs) link_or_copy(b.number, file_kind::blob);
    write_manifest(*c.fs, tmp, m);  // syncs tmp's entries too
    if (c.fs->file_exists(dest)) {
      throw invalid_argument_error("lsmt: checkpoint destination '" + dest +
                                   "' appeared while the checkpoint was written");
    }
    c.fs->rename_file(tmp, dest);
  } catch (...) {
    try {
      remove_directory_tree(*c.fs, tmp);
    } catch (...) {  // NOLINT(bugprone-empty-catch): the next checkpoint to dest removes it
    }
    throw;
  }
  c.fs->sync_directory(parent.empty() ? std::string(".") : parent);
}

}  // namespace lsmt::detail

#endif  // LSMT_CHECKPOINT_HPP
