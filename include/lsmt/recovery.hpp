// lsmt/recovery.hpp - opening a store: take the directory, read the MANIFEST, replay the logs.
//
// Recovery reads the MANIFEST, opens its tables (checking that each is the table the MANIFEST
// names), replays every log it does not cover into a memtable, oldest first, up to the first
// damage (log_replay.hpp, which also says what options::recovery_mode does with it), writes that
// memtable to tables, and writes a MANIFEST that covers them and
// names the new, empty log. Files no MANIFEST refers to are leftovers of a crash and are
// removed. A crash at any point of this leaves the old MANIFEST and logs, so recovery simply
// runs again.
//
// Thread safety: runs once, in the engine's constructor, before any other thread exists.
#ifndef LSMT_RECOVERY_HPP
#define LSMT_RECOVERY_HPP

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "error.hpp"
#include "file_names.hpp"
#include "log_replay.hpp"
#include "manifest.hpp"
#include "memtable.hpp"
#include "shadowing.hpp"
#include "store_core.hpp"
#include "table_writer.hpp"
#include "thread_annotations.hpp"
#include "version_set.hpp"

namespace lsmt::detail {

/// A random, non-zero identity for a new store.
inline uint64_t new_store_id() {
  std::random_device rd;
  const auto now =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  const uint64_t id = ((uint64_t{rd()} << 32) ^ rd()) ^ (now * 0x9e3779b97f4a7c15ULL);
  return id != 0 ? id : 1;
}

/// Whether a directory without a MANIFEST may become a store: it must not exist, or hold only
/// what lsmt itself leaves there (a crash during a first open leaves LOCK, logs and
/// MANIFEST.tmp) and a file system's lost+found, unless the options allow other files. Refusing
/// before anything is created leaves a mistaken directory as it was.
inline void check_new_store_directory(file_system& fs, const options& opts,
                                      const std::string& dir) {
  if (fs.file_exists(dir)) {
    if (opts.allow_non_empty_directory) return;
    for (const std::string& name : fs.list_directory(dir)) {
      if (name == "LOCK" || name == "MANIFEST.tmp" || name == "lost+found" ||
          parse_file_number(name, file_kind::log) != 0 ||
          parse_file_number(name, file_kind::table) != 0) {
        continue;  // tables without a MANIFEST are refused later, as a lost MANIFEST
      }
      std::string what = "lsmt: '" + dir;
      what += "' holds files but no store (such as '" + name;
      what += "'); set options.allow_non_empty_directory to create one there";
      throw invalid_argument_error(what);
    }
    return;
  }
  // A new directory is made with mkdir -p, which would create "x" for "x/.." and then name (and
  // set the permissions of) x's parent, bypassing both checks: refuse ".." after a name.
  bool after_name = false;
  for (const std::filesystem::path& part : std::filesystem::path(dir).relative_path()) {
    if (part == "..") {
      if (after_name) {
        throw invalid_argument_error("lsmt: create '" + dir +
                                     "': a new store's path may not go back ('..') after a name");
      }
    } else if (part != "." && !part.empty()) {
      after_name = true;
    }
  }
  if (opts.create_parents) return;
  std::filesystem::path path = std::filesystem::path(dir).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();  // "a/b/" names "a/b"
  const std::string parent = path.parent_path().string();
  if (!parent.empty() && !fs.file_exists(parent)) {
    throw io_error(
        "lsmt: create '" + dir + "' (options.create_parents is off): parent '" + parent + "'",
        ENOENT);
  }
}

/// Opens the store in c.dir (creating it if the options allow) and fills c's state. Returns the
/// directory lock, held until the store closes.
inline std::unique_ptr<file_lock> recover(store_core& c) LSMT_EXCLUDES(c.state_mutex) {
  file_system& fs = *c.fs;
  const std::string& dir = c.dir;
  if (!fs.file_exists(manifest_path(dir))) {
    if (!c.opts.create_if_missing) {
      throw invalid_argument_error("lsmt: no store in " + dir + " and create_if_missing is off");
    }
    check_new_store_directory(fs, c.opts, dir);
  }
  fs.create_directory(dir, c.opts.directory_permissions);
  std::unique_ptr<file_lock> lock = fs.lock_file(lock_file_path(dir));
  std::optional<manifest_state> m = read_manifest(fs, dir);
  if (m && c.opts.error_if_exists) {
    throw invalid_argument_error("lsmt: a store already exists in " + dir);
  }
  std::vector<uint64_t> logs;
  std::set<uint64_t> tables_on_disk;
  std::set<uint64_t> blobs_on_disk;
  uint64_t max_number = 0;
  for (const std::string& name : fs.list_directory(dir)) {
    if (const uint64_t n = parse_file_number(name, file_kind::log); n != 0) {
      logs.push_back(n);
      max_number = std::max(max_number, n);
    } else if (const uint64_t t = parse_file_number(name, file_kind::table); t != 0) {
      tables_on_disk.insert(t);
      max_number = std::max(max_number, t);
    } else if (const uint64_t b = parse_file_number(name, file_kind::blob); b != 0) {
      blobs_on_disk.insert(b);
      max_number = std::max(max_number, b);
    }
  }
  if (!m) {
    // Without a MANIFEST only logs can be trusted leftovers (a crash during the very first
    // open). Tables or blob files would mean a lost MANIFEST: refuse rather than silently drop
    // them.
    if (!tables_on_disk.empty() || !blobs_on_disk.empty()) {
      throw corruption_error("lsmt: " + dir + " has table or blob files but no MANIFEST");
    }
    m = manifest_state{};
    m->store_id = new_store_id();
  }
  c.versions.set_store_id(m->store_id);
  c.versions.set_next_file_number(std::max(m->next_file_number, max_number + 1));

  blob_list blobs;  // holds the blob files open until the tables do
  for (const blob_meta& meta : m->blobs) {
    if (blobs_on_disk.count(meta.number) == 0) {
      throw corruption_error("lsmt: blob file " + c.versions.blob_path(meta.number) +
                             " listed in MANIFEST is missing");
    }
    blobs.push_back(c.versions.open_blob(meta));
  }
  std::array<table_list, max_levels> levels;
  for (const table_meta& meta : m->tables) {
    if (tables_on_disk.count(meta.number) == 0) {
      throw corruption_error("lsmt: table " + c.versions.table_path(meta.number) +
                             " listed in MANIFEST is missing");
    }
    levels[meta.level].push_back(c.versions.open_table(meta));
  }

  // Replay every log the MANIFEST does not cover, oldest first (log_replay.hpp).
  std::sort(logs.begin(), logs.end());
  std::vector<uint64_t> needed;  // the MANIFEST's log_number and later
  std::copy_if(logs.begin(), logs.end(), std::back_inserter(needed),
               [&](uint64_t n) { return n >= m->log_number; });
  auto replayed = c.new_memtable();
  log_replay replay(fs, c.opts, dir, *replayed);
  const uint64_t last_seq = std::max(m->last_sequence, replay.run(needed, m->log_number));
  c.recovery = replay.report();
  c.last_sequence.store(last_seq);

  const uint64_t log_number = c.versions.new_file_number();
  {
    role_guard lead(c.logs.writer_role());  // no writer exists yet: the opener stands in for one
    c.logs.start(log_number);
  }
  if (replayed->entry_count() > 0) {
    auto it = replayed->new_iterator();
    it->seek_to_first();
    // Sampled against the sorted levels the MANIFEST listed, as a flush is against the current
    // version (shadowing.hpp); a plain version, since only their ranges and filters are asked.
    auto opened = std::make_shared<version>();
    opened->levels = levels;
    opened->index_levels();
    shadowing_sampler sampler(std::move(opened), 0);  // declared first: it outlives the plan
    table_write_plan plan;  // no snapshot exists yet: only each key's newest version is kept
    plan.blob_min_size = c.opts.blob_min_size;
    const range_tombstones dels = replayed->range_deletions();
    plan.range_dels = &dels;
    sampler.attach(plan);
    const table_list flushed = c.versions.write_tables(*it, plan);
    sampler.apply(flushed);
    levels[0].insert(levels[0].begin(), flushed.begin(), flushed.end());
  }
  std::shared_ptr<const version> v = c.versions.make_version(std::move(levels));
  // This MANIFEST covers the replayed logs; it also syncs the directory, so the new log's
  // entry is durable before any write is acknowledged.
  manifest_state next;
  next.next_file_number = c.versions.next_file_number();
  next.last_sequence = last_seq;
  next.log_number = log_number;
  next.tables = v->manifest_tables();
  next.blobs = v->manifest_blobs();
  {
    lock_guard g(c.versions.manifest_mutex());
    c.versions.write_manifest(next);
  }
  blobs.clear();

  // Leftovers of earlier runs: covered logs, tables no MANIFEST lists.
  std::set<uint64_t> live;
  for (const table_meta& t : next.tables) live.insert(t.number);
  for (uint64_t n : logs) {
    if (n < log_number) c.versions.remove_quietly(c.logs.path(n));
  }
  for (uint64_t n : tables_on_disk) {
    if (live.count(n) == 0) c.versions.remove_quietly(c.versions.table_path(n));
  }
  std::set<uint64_t> live_blobs;
  for (const blob_meta& b : next.blobs) live_blobs.insert(b.number);
  for (uint64_t n : blobs_on_disk) {
    if (live_blobs.count(n) == 0) c.versions.remove_quietly(c.versions.blob_path(n));
  }
  const std::string manifest_tmp = manifest_path(dir) + ".tmp";
  if (fs.file_exists(manifest_tmp)) c.versions.remove_quietly(manifest_tmp);

  lock_guard s(c.state_mutex);
  c.current = std::move(v);
  c.log_number = log_number;
  c.mem = c.new_memtable();
  c.publish_view();
  return lock;
}

}  // namespace lsmt::detail

#endif  // LSMT_RECOVERY_HPP
