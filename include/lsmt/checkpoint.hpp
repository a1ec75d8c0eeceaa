// lsmt/checkpoint.hpp - db::checkpoint(dest): an openable copy of a live store as of one moment.
//
// What a checkpoint holds: every write acknowledged before checkpoint() was called, and possibly
// some later ones, always a prefix of the store's writes in sequence order. Writers are never
// stopped; they wait only for a few file-system calls. The steps:
//   1. The engine flushes the memtable, so the writes acknowledged so far are in tables.
//   2. A write barrier (write_path.hpp: no write runs meanwhile) fixes the moment. Under it,
//      and under the state mutex, the checkpoint takes the current version (which keeps its
//      tables from being deleted) and the logs whose writes are not in a table yet: it
//      hard-links the full, earlier ones into DEST.checkpoint-tmp (copying where links are not
//      possible), and opens the current log and copies its header, noting how many bytes of
//      whole records it holds. Only the write leader writes a log, so nothing it takes is
//      half-written.
//   3. After the barrier it copies the rest of the current log up to that size (the bytes
//      before it never change; the open file outlives a deletion), and hard-links (or copies)
//      each table.
//   4. It writes the MANIFEST last (synced, with the directory), then renames the directory to
//      DEST and syncs DEST's parent.
// A crash before step 4 finishes leaves no DEST, only DEST.checkpoint-tmp, with no MANIFEST or
// a complete one; the next checkpoint to DEST removes it. DEST must not exist. A linked table
// shares its disk blocks with the store (tables are never modified, only deleted), so a
// checkpoint on the same file system costs little space until the store's merges replace
// those tables. A linked log is never appended to again; the store may still rewrite its
// header's synced offset, which stays within its whole records.
//
// Thread safety: run by the engine on the caller's thread; see engine.hpp for the locks.
#ifndef LSMT_CHECKPOINT_HPP
#define LSMT_CHECKPOINT_HPP

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
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

/// Copies the file `from`, as long as it is now, to a new file `to`, synced.
inline void copy_file(file_system& fs, const std::string& from, const std::string& to) {
  const std::unique_ptr<readable_file> in = fs.new_readable_file(from, false);
  const std::unique_ptr<writable_file> out = fs.new_writable_file(to);
  const uint64_t size = in->size();
  std::string buffer(size_t{1} << 20, '\0');
  for (uint64_t offset = 0; offset < size;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - offset));
    const std::string_view got = in->read(offset, n, buffer.data());
    if (got.empty()) break;  // the file shrank: copy what there was
    out->append(got);
    offset += got.size();
  }
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

/// Links `from` as `to`, or copies it where the file system cannot link.
inline void link_or_copy(file_system& fs, const std::string& from, const std::string& to) {
  if (!fs.link_file(from, to)) copy_file(fs, from, to);
}

/// Steps 2-4 above; the caller has flushed (step 1). `barrier` runs its argument as a write
/// barrier and returns the current log's position then.
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

  std::shared_ptr<const version> v;
  manifest_state m;
  std::unique_ptr<readable_file> current_log;
  std::string header;  // of the current log: the leader may rewrite it after the barrier
  const write_path::log_position at = barrier([&] {
    std::vector<uint64_t> earlier_logs;
    uint64_t current_number = 0;
    {
      lock_guard s(c.state_mutex);
      current_number = c.log_number;
      v = c.current;
      m.log_number = c.oldest_needed_log(0);
      for (const imm_slot& slot : c.imms) earlier_logs.push_back(slot.log_number);
      m.next_file_number = c.versions.next_file_number();
      // At least every sequence in the tables and logs (recovery takes the larger of this and
      // what it replays), so the checkpoint's new writes sort after them.
      m.last_sequence = c.last_sequence.load();
    }
    for (const uint64_t n : earlier_logs) {
      link_or_copy(*c.fs, file_path(c.dir, n, file_kind::log), file_path(tmp, n, file_kind::log));
    }
    current_log = c.fs->new_readable_file(c.logs.path(current_number), false);
    header.resize(log_header_size);
    const std::string_view got = current_log->read(0, header.size(), header.data());
    if (got.size() != header.size()) throw io_error("lsmt: short read of the current log");
    header.assign(got.data(), got.size());
  });
  // The current log, up to its whole records at the barrier.
  {
    const std::unique_ptr<writable_file> out =
        c.fs->new_writable_file(file_path(tmp, at.number, file_kind::log));
    out->append(header);
    std::string buffer(size_t{1} << 20, '\0');
    for (uint64_t offset = header.size(); offset < at.size;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), at.size - offset));
      const std::string_view got = current_log->read(offset, n, buffer.data());
      if (got.size() != n) throw io_error("lsmt: short read of the current log for a checkpoint");
      out->append(got);
      offset += n;
    }
    out->sync();
    out->close();
  }
  m.store_id = c.versions.store_id();
  m.tables = v->manifest_tables();
  // `v` keeps its tables from being deleted while they are linked or copied.
  for (const table_meta& t : m.tables) {
    link_or_copy(*c.fs, file_path(c.dir, t.number, file_kind::table),
                 file_path(tmp, t.number, file_kind::table));
  }
  write_manifest(*c.fs, tmp, m);  // syncs tmp's entries too
  c.fs->rename_file(tmp, dest);
  c.fs->sync_directory(parent.empty() ? std::string(".") : parent);
}

}  // namespace lsmt::detail

#endif  // LSMT_CHECKPOINT_HPP
