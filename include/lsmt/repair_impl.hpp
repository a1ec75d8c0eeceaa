// lsmt/repair_impl.hpp - how lsmt::repair (repair.hpp) rebuilds a store.
#ifndef LSMT_REPAIR_IMPL_HPP
#define LSMT_REPAIR_IMPL_HPP

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "file_names.hpp"
#include "file_system.hpp"
#include "file_system_impl.hpp"
#include "internal_iterator.hpp"
#include "manifest.hpp"
#include "memtable.hpp"
#include "merging_iterator.hpp"
#include "options.hpp"
#include "posix_file_system.hpp"
#include "recovery.hpp"
#include "repair.hpp"
#include "repair_blobs.hpp"
#include "sstable_reader.hpp"
#include "table_writer.hpp"
#include "version_set.hpp"
#include "wal.hpp"
#include "write_batch.hpp"

namespace lsmt {

namespace detail {

struct repair_input {
  std::vector<std::shared_ptr<table_reader>> whole;  // tables read to the end without damage
  std::vector<std::string> merged_files;             // their paths, and the logs read
  std::vector<std::string> lost_files;               // files to move to lost/
  std::vector<std::string> obsolete_files;           // what the MANIFEST no longer needs
  uint64_t last_sequence = 0;
};

/// A table file repair opened (once: its footer votes for the store id, then it is read).
struct repair_table_file {
  std::string path;
  std::shared_ptr<table_reader> reader;  // null: it did not open
  std::string error;                     // why not
};

inline repair_table_file open_for_repair(file_system& fs, const std::string& path, uint64_t number,
                                         const table_options& topts) {
  repair_table_file t;
  t.path = path;
  try {
    t.reader = table_reader::open(fs.new_readable_file(path, false), number, topts, nullptr);
  } catch (const invalid_argument_error&) {
    throw;  // a table of another compressor: the options are wrong, the table is not lost
  } catch (const std::bad_alloc&) {
    throw;  // out of memory says nothing about the file: do not move it to lost/
  } catch (const std::exception& e) {
    t.error = e.what();
  }
  return t;
}

// Step 1 for one table: merge it whole, or keep its entries before the damage in `salvage`.
inline void repair_table(const repair_table_file& t, uint64_t store_id, memtable& salvage,
                         repair_input& in, repair_report& report) {
  const auto lose = [&](const std::string& why) {
    report.lost.push_back("table '" + t.path + "': " + why);
    in.lost_files.push_back(t.path);
  };
  if (!t.reader) return lose(t.error);
  const std::shared_ptr<table_reader>& reader = t.reader;
  if (reader->identity().store_id != store_id) return lose("belongs to another store");
  // Its range deletions (checksummed, so whole once it opened) go into the merge.
  if (const auto& dels = reader->range_deletions()) {
    dels->for_each([&](std::string_view b, std::string_view e, const std::vector<uint64_t>& seqs) {
      for (const uint64_t seq : seqs) {
        salvage.add(seq, value_type::range_deletion, b, e);
        in.last_sequence = std::max(in.last_sequence, seq);
      }
    });
  }
  std::vector<std::pair<std::string, std::string>> kept;  // entries before any damage
  try {
    walk_table(reader->file_number(), *reader->new_iterator(false),
               [&](std::string_view k, std::string_view v) {
                 kept.emplace_back(std::string(k), std::string(v));
                 in.last_sequence = std::max(in.last_sequence, extract_sequence(k));
               });
  } catch (const std::exception& e) {
    for (const auto& [k, v] : kept) {
      salvage.add(extract_sequence(k), extract_type(k), extract_user_key(k), v);
    }
    return lose(std::string(e.what()) + "; the " + std::to_string(kept.size()) +
                " entries before it were kept");
  }
  ++report.tables_merged;
  in.whole.push_back(reader);
  in.merged_files.push_back(t.path);
}

// Step 2 for one log: every whole batch before its first damage goes into `salvage`.
inline void repair_log(file_system& fs, const std::string& path, uint64_t number, memtable& salvage,
                       repair_input& in, repair_report& report) {
  std::unique_ptr<readable_file> file;
  try {
    file = fs.new_readable_file(path, false);
  } catch (const std::exception& e) {
    report.lost.push_back("log '" + path + "': " + e.what());
    in.lost_files.push_back(path);
    return;
  }
  log_reader reader(*file, number);
  std::string payload;
  bool damaged = false;
  while (reader.read_record(payload)) {
    raw_batch batch;
    try {
      batch.set_rep(std::move(payload));
    } catch (const std::exception& e) {
      report.lost.push_back("log '" + path + "': a batch at offset " +
                            std::to_string(reader.record_offset()) + ": " + e.what());
      damaged = true;
      continue;  // its checksum held: the records after it are whole
    }
    batch.for_each([&](value_type t, std::string_view k, std::string_view v, uint64_t seq) {
      salvage.add(seq, t, k, v);
      in.last_sequence = std::max(in.last_sequence, seq);
    });
    ++report.batches_replayed;
  }
  ++report.logs_replayed;
  if (reader.end() == log_end::damaged) {
    report.lost.push_back("log '" + path + "': " + reader.damage() + "; " +
                          std::to_string(reader.dropped_bytes()) + " bytes after offset " +
                          std::to_string(reader.valid_end()) + " could not be read");
    damaged = true;
  }
  (damaged ? in.lost_files : in.merged_files).push_back(path);
}

// The store id most tables record (the MANIFEST is unreadable), or a new one.
inline uint64_t voted_store_id(const std::vector<repair_table_file>& tables) {
  std::map<uint64_t, size_t> votes;
  for (const repair_table_file& t : tables) {
    if (t.reader) ++votes[t.reader->identity().store_id];
  }
  if (votes.empty()) return new_store_id();
  return std::max_element(votes.begin(), votes.end(),
                          [](const auto& a, const auto& b) { return a.second < b.second; })
      ->first;
}

}  // namespace detail

LSMT_INLINE repair_report repair(const std::filesystem::path& dir, const options& opts) {
  using namespace detail;
  const std::shared_ptr<file_system> fsp = opts.fs ? opts.fs : posix_file_system();
  file_system& fs = *fsp;
  const std::string d = dir.string();
  if (!fs.file_exists(d)) throw invalid_argument_error("lsmt: repair: no directory '" + d + "'");
  const std::unique_ptr<file_lock> lock = fs.lock_file(lock_file_path(d));
  std::vector<uint64_t> tables;
  std::vector<uint64_t> logs;
  std::vector<uint64_t> blobs;
  uint64_t max_number = 0;
  for (const std::string& name : fs.list_directory(d)) {
    if (const uint64_t n = parse_file_number(name, file_kind::table); n != 0) tables.push_back(n);
    if (const uint64_t n = parse_file_number(name, file_kind::log); n != 0) logs.push_back(n);
    if (const uint64_t n = parse_file_number(name, file_kind::blob); n != 0) blobs.push_back(n);
  }
  if (tables.empty() && logs.empty() && !fs.file_exists(manifest_path(d))) {
    throw invalid_argument_error("lsmt: repair: '" + d + "' holds no lsmt store");
  }
  std::sort(tables.begin(), tables.end());
  std::sort(logs.begin(), logs.end());
  for (const uint64_t n : tables) max_number = std::max(max_number, n);
  for (const uint64_t n : logs) max_number = std::max(max_number, n);
  for (const uint64_t n : blobs) max_number = std::max(max_number, n);

  repair_report report;
  std::optional<manifest_state> manifest;
  try {
    manifest = read_manifest(fs, d);
  } catch (const std::exception& e) {
    report.lost.push_back(std::string("the MANIFEST (rebuilt from every table and log): ") +
                          e.what());
  }
  memtable salvage;
  repair_input in;
  if (manifest) {
    // What the MANIFEST calls obsolete (tables and blob files it does not list, logs before
    // its log_number) holds nothing it needs, and may hold what later deletions removed:
    // opening would delete them, and so does repair. A table it lists that is missing is lost.
    std::set<uint64_t> listed;
    for (const table_meta& t : manifest->tables) listed.insert(t.number);
    std::vector<uint64_t> live;
    for (const uint64_t n : tables) {
      if (listed.erase(n) != 0) {
        live.push_back(n);
      } else {
        in.obsolete_files.push_back(file_path(d, n, file_kind::table));
      }
    }
    for (const uint64_t n : listed) {
      report.lost.push_back("table " + file_name(n, file_kind::table) +
                            ", which the MANIFEST lists, is missing");
    }
    tables = std::move(live);
    const auto first_log = std::find_if(logs.begin(), logs.end(),
                                        [&](uint64_t n) { return n >= manifest->log_number; });
    for (auto it = logs.begin(); it != first_log; ++it) {
      in.obsolete_files.push_back(file_path(d, *it, file_kind::log));
    }
    logs.erase(logs.begin(), first_log);
    // Blob files likewise: only those it lists hold values its tables refer to.
    std::set<uint64_t> listed_blobs;
    for (const blob_meta& b : manifest->blobs) listed_blobs.insert(b.number);
    const auto unlisted = std::stable_partition(
        blobs.begin(), blobs.end(), [&](uint64_t n) { return listed_blobs.count(n) != 0; });
    for (auto it = unlisted; it != blobs.end(); ++it) {
      in.obsolete_files.push_back(file_path(d, *it, file_kind::blob));
    }
    blobs.erase(unlisted, blobs.end());
    max_number = std::max(max_number, manifest->next_file_number);
  }
  // Its compressor reads the tables, and all of it writes the new ones.
  const table_options topts = table_options_of(opts);
  std::vector<repair_table_file> opened;
  opened.reserve(tables.size());
  for (const uint64_t n : tables) {
    opened.push_back(open_for_repair(fs, file_path(d, n, file_kind::table), n, topts));
  }
  const uint64_t store_id = manifest ? manifest->store_id : voted_store_id(opened);
  for (const repair_table_file& t : opened) repair_table(t, store_id, salvage, in, report);
  opened.clear();  // in.whole holds the tables that are merged
  repair_blob_files old_blobs(fs, d);
  for (const uint64_t n : blobs) old_blobs.open(n, store_id);
  for (const uint64_t n : logs) {
    repair_log(fs, file_path(d, n, file_kind::log), n, salvage, in, report);
  }

  // Step 3: one merge of everything kept into the bottom level.
  std::vector<std::unique_ptr<internal_iterator>> children;
  children.push_back(salvage.new_iterator());
  for (const auto& r : in.whole) children.push_back(r->new_iterator(false));
  merging_iterator merged(std::move(children));
  // Every value is written again; the entries of one write found in several files become one.
  blob_inlining_iterator inlined(merged, old_blobs);
  inlined.seek_to_first();
  table_write_plan plan;
  plan.smallest_snapshot = in.last_sequence;  // no reader: keep each key's newest version
  plan.drop_tombstones = true;                // nothing older is left outside the merge
  const range_tombstones dels = salvage.range_deletions();  // what they cover goes too
  plan.range_dels = &dels;
  plan.target_size = opts.target_file_size;
  plan.blob_min_size = opts.blob_min_size;
  uint64_t next_number = max_number + 1;
  std::vector<uint64_t> created;
  std::vector<uint64_t> created_blobs;
  blob_output new_blobs;
  new_blobs.new_file = [&] {
    const uint64_t n = next_number++;
    created_blobs.push_back(n);
    return std::make_unique<blob_writer>(fs.new_writable_file(file_path(d, n, file_kind::blob)), n,
                                         store_id);
  };
  manifest_state m;
  try {
    m.tables = write_tables(
        inlined, plan, topts, store_id, fs,
        [&] {
          const uint64_t n = next_number++;
          return std::make_pair(n, file_path(d, n, file_kind::table));
        },
        created, &new_blobs);
    m.blobs = new_blobs.written;
    // Step 4: an empty log, then the MANIFEST that names both.
    m.log_number = next_number++;
    log_writer(fs.new_log_file(file_path(d, m.log_number, file_kind::log)), m.log_number).close();
    for (table_meta& t : m.tables) t.level = max_levels - 1;
    m.next_file_number = next_number;
    m.last_sequence = std::max(in.last_sequence, manifest ? manifest->last_sequence : 0);
    m.store_id = store_id;
    write_manifest(fs, d, m);
  } catch (...) {
    for (const uint64_t n : created) remove_file_quietly(fs, file_path(d, n, file_kind::table));
    for (const uint64_t n : created_blobs) {
      remove_file_quietly(fs, file_path(d, n, file_kind::blob));
    }
    throw;
  }
  const bool table_lost =
      std::any_of(in.lost_files.begin(), in.lost_files.end(), [](const std::string& p) {
        return parse_file_number(std::filesystem::path(p).filename().string(), file_kind::table) !=
               0;
      });
  old_blobs.finish(report.lost, in.merged_files, in.lost_files, table_lost);
  report.tables_written = m.tables.size();
  for (const table_meta& t : m.tables) report.entries_written += t.entries;

  for (const std::string& path : in.merged_files) remove_file_quietly(fs, path);
  for (const std::string& path : in.obsolete_files) remove_file_quietly(fs, path);
  if (!in.lost_files.empty()) {
    const std::string lost_dir = (dir / "lost").string();
    fs.create_directory(lost_dir, opts.directory_permissions);
    for (const std::string& path : in.lost_files) {
      fs.rename_file(
          path,
          (std::filesystem::path(lost_dir) / std::filesystem::path(path).filename()).string());
    }
    fs.sync_directory(lost_dir);
  }
  fs.sync_directory(d);
  return report;
}

}  // namespace lsmt

#endif  // LSMT_REPAIR_IMPL_HPP
