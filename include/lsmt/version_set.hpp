// lsmt/version_set.hpp - the live SSTables: open tables, versions, file numbers, the MANIFEST
// that makes a new set of tables live, and the deletion of tables no version needs.
//
// A version (version.hpp) is an immutable arrangement of the live tables in levels. Readers
// take a shared_ptr to a version and are never blocked by a compaction installing a new one.
//
// Installing: the engine writes the MANIFEST (the commit point) with the new table list, then
// swaps its current version. A table a compaction replaced is retired: no version made from
// then on lists it, but readers may still hold an older version that does. Retired tables are
// deleted by delete_obsolete_files(), which deletes those nobody holds any more. It runs
// whenever a version made by make_version() is released, after a merge lets go of its inputs,
// after a flush lets go of the tables it wrote (a merge may have retired them meanwhile), and at
// close, so a table an iterator kept alive goes as soon as the last reader lets go. After
// close() nothing is deleted any more (a version may outlive its store, and the directory may be
// opened again by then): the next open removes every table its MANIFEST does not list.
//
// Thread safety: file numbers are atomic; write_manifest() requires manifest_mutex(); the
// retired tables are guarded by their own mutex, the innermost lock of the store (a version may
// be released with any other lock held). open_table() and write_tables() may run on any thread.
#ifndef LSMT_VERSION_SET_HPP
#define LSMT_VERSION_SET_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "blob_set.hpp"
#include "block_cache.hpp"
#include "file_names.hpp"
#include "file_system.hpp"
#include "internal_iterator.hpp"
#include "manifest.hpp"
#include "mapping_budget.hpp"
#include "sstable_reader.hpp"
#include "table_format.hpp"
#include "table_writer.hpp"
#include "thread_annotations.hpp"
#include "version.hpp"

namespace lsmt::detail {

/// Removes a file whose removal may fail harmlessly: the next open removes every file that no
/// MANIFEST lists.
inline void remove_file_quietly(file_system& fs, const std::string& path) noexcept {
  try {
    fs.remove_file(path);
  } catch (...) {  // NOLINT(bugprone-empty-catch): a leftover is removed at the next open
  }
}

/// Tables retired by a merge, waiting until nobody holds them; shared by a version_set and the
/// versions it made, which may outlive it. Thread-safe; its mutex is the innermost lock.
class retired_tables {
 public:
  retired_tables(std::shared_ptr<file_system> fs, std::string dir)
      : fs_(std::move(fs)), dir_(std::move(dir)) {}

  void add(const std::vector<std::shared_ptr<table_handle>>& tables) {
    lock_guard g(mutex_);
    if (!closed_) tables_.insert(tables_.end(), tables.begin(), tables.end());
  }

  /// Deletes the files of the retired tables nobody else holds. They are removed under the
  /// lock, so a close() that returned has deleted its last file.
  void delete_unused() {
    lock_guard g(mutex_);
    if (closed_) return;
    // use_count() == 1: only this list holds it. No one can take a new reference: no version
    // made since retire() lists it, and holders of older versions already count.
    auto unused = std::partition(tables_.begin(), tables_.end(),
                                 [](const auto& t) { return t.use_count() > 1; });
    std::vector<std::string> paths;
    for (auto it = unused; it != tables_.end(); ++it) {
      paths.push_back(file_path(dir_, (*it)->meta().number, file_kind::table));
    }
    tables_.erase(unused, tables_.end());  // closes (unmaps) their files first
    for (const std::string& p : paths) remove_file_quietly(*fs_, p);
  }

  void close() {
    delete_unused();
    lock_guard g(mutex_);
    closed_ = true;
    tables_.clear();  // their files stay for the next open to remove
  }

 private:
  const std::shared_ptr<file_system> fs_;
  const std::string dir_;
  mutex mutex_;
  std::vector<std::shared_ptr<table_handle>> tables_ LSMT_GUARDED_BY(mutex_);
  bool closed_ LSMT_GUARDED_BY(mutex_) = false;
};

/// Why a file of `size` bytes is not the table `meta` describes, judged by its size alone, or ""
/// if it may be.
inline std::string table_size_mismatch(uint64_t size, const table_meta& meta) {
  if (size == meta.size) return {};
  return "is " + std::to_string(size) + " bytes, but the MANIFEST says " +
         std::to_string(meta.size) + " (truncated, extended or replaced)";
}

/// Why the open table `r` is not the table `meta` describes in store `store_id` (its footer
/// names another store or another key range; table_format.hpp, "Identity"), or "" if it is.
inline std::string table_identity_mismatch(const table_reader& r, const table_meta& meta,
                                           uint64_t store_id) {
  if (r.identity().store_id != store_id) return "belongs to another store";
  if (r.identity().key_range_crc != key_range_checksum(meta.smallest, meta.largest)) {
    return "holds another key range than the MANIFEST records";
  }
  return {};
}

/// Reads every entry of table `number` through `it`, an iterator over it, from its start,
/// checking that each is a valid internal key greater than the one before, and calls
/// f(key, value) for it. Returns the number of entries. Throws corruption_error for a damaged
/// block or a key out of order; f has seen every entry before it.
template <class F>
uint64_t walk_table(uint64_t number, internal_iterator& it, F&& f) {
  std::string previous;
  uint64_t n = 0;
  for (it.seek_to_first(); it.valid(); it.next(), ++n) {
    const std::string_view k = it.key();
    if (!valid_internal_key(k) || (n != 0 && compare_internal_keys(previous, k) >= 0)) {
      throw corruption_error("lsmt: table " + std::to_string(number) +
                             ": keys out of order or invalid at entry " + std::to_string(n));
    }
    previous.assign(k.data(), k.size());
    f(k, it.value());
  }
  return n;
}

class version_set {
 public:
  version_set(std::shared_ptr<file_system> fs, std::string dir, table_options topts,
              std::shared_ptr<block_cache> cache, uint64_t max_mapped_bytes)
      : fs_(std::move(fs)),
        dir_(std::move(dir)),
        topts_(std::move(topts)),
        cache_(std::move(cache)),
        mapped_(std::make_shared<mapping_budget>(max_mapped_bytes)) {}

  // ---- file numbers (logs and tables share them) ----
  uint64_t new_file_number() { return next_file_number_.fetch_add(1); }
  uint64_t next_file_number() const { return next_file_number_.load(); }
  void set_next_file_number(uint64_t n) { next_file_number_.store(n); }

  // ---- tables ----
  std::string table_path(uint64_t number) const {
    return file_path(dir_, number, file_kind::table);
  }

  /// The store's identity, which every table it writes records (set at open, before any
  /// table is opened or written).
  void set_store_id(uint64_t id) { store_id_ = id; }
  uint64_t store_id() const { return store_id_; }

  std::string blob_path(uint64_t number) const { return file_path(dir_, number, file_kind::blob); }

  /// Opens the blob file meta describes, checking that the file is that blob file: its size,
  /// its header's number and store, and its record count; and registers it (blob_set.hpp).
  std::shared_ptr<const blob_handle> open_blob(const blob_meta& meta) {
    const std::string path = blob_path(meta.number);
    auto file = open_within_budget(*fs_, path, meta.size, mapped_);
    if (file->size() != meta.size) {
      throw corruption_error("lsmt: blob file '" + path + "' " + "is " +
                             std::to_string(file->size()) + " bytes, but the MANIFEST says " +
                             std::to_string(meta.size));
    }
    auto reader = blob_reader::open(std::move(file), path, meta.number, store_id_);
    if (reader->record_count() != meta.records) {
      throw corruption_error("lsmt: blob file '" + path + "' holds " +
                             std::to_string(reader->record_count()) +
                             " records, but the MANIFEST says " + std::to_string(meta.records));
    }
    auto h = std::make_shared<const blob_handle>(meta, std::move(reader));
    blobs_->add(h);
    return h;
  }

  /// Opens the table meta describes, checking that the file is that table (table_format.hpp,
  /// "Identity"): its size, and its footer's number, store and key range. The table is mapped
  /// if it fits in what is left of max_mapped_bytes (mapping_budget.hpp), else read with pread
  /// until a read finds room for it. The blob files it refers to must be open (open_blob()).
  std::shared_ptr<table_handle> open_table(const table_meta& meta) const {
    const std::string path = table_path(meta.number);
    auto file = open_within_budget(*fs_, path, meta.size, mapped_);
    const auto fail = [&](const std::string& why) {
      throw corruption_error("lsmt: table '" + path + "' " + why);
    };
    if (std::string why = table_size_mismatch(file->size(), meta); !why.empty()) fail(why);
    auto reader = table_reader::open(std::move(file), meta.number, topts_, cache_);
    if (std::string why = table_identity_mismatch(*reader, meta, store_id_); !why.empty()) {
      fail(why);
    }
    if (!reader->mapped() && meta.size <= mapped_->cap()) {
      reader->set_mapper(fs_, path, mapped_);
    }
    blob_list blobs;
    for (const uint64_t b : meta.blob_files) {
      auto h = blobs_->find(b);
      if (!h) fail("refers to blob file " + std::to_string(b) + ", which is not open");
      blobs.push_back(std::move(h));
    }
    return std::make_shared<table_handle>(meta, std::move(reader), std::move(blobs));
  }

  /// An iterator for one pass over table t in key order (sstable_reader.hpp,
  /// new_scan_iterator), through a descriptor of its own. If the file cannot be opened again
  /// (say, no descriptor left) or is no longer the table t opened (replaced on disk since),
  /// through t's open reader instead, outside the block cache.
  std::unique_ptr<internal_iterator> scan_table(const table_handle& t) const {
    std::unique_ptr<readable_file> file;
    try {
      file = fs_->new_readable_file(table_path(t.meta().number), false);
      if (!t.reader().same_table(*file)) file.reset();
    } catch (const io_error&) {
      file.reset();
    }
    if (!file) return t.reader().new_iterator(false);
    return t.reader().new_scan_iterator(std::move(file));
  }

  /// Writes the entries of `in` (from its position) into new tables and opens them. If it
  /// throws, the files it created are deleted again.
  std::vector<std::shared_ptr<table_handle>> write_tables(internal_iterator& in,
                                                          const table_write_plan& plan) {
    std::vector<uint64_t> created;
    std::vector<uint64_t> created_blobs;
    std::vector<table_meta> metas;
    table_options topts = topts_;
    if (plan.no_filter) topts.bloom_bits_per_key = 0;
    blob_output blobs;
    blobs.new_file = [&] {
      const uint64_t n = new_file_number();
      created_blobs.push_back(n);
      return std::make_unique<blob_writer>(fs_->new_writable_file(blob_path(n)), n, store_id_);
    };
    blob_list opened;  // holds the new blob files' handles until the tables do
    std::vector<std::shared_ptr<table_handle>> tables;
    try {
      metas = detail::write_tables(
          in, plan, topts, store_id_, *fs_,
          [this] {
            const uint64_t n = new_file_number();
            return std::make_pair(n, table_path(n));
          },
          created, &blobs);
      for (const blob_meta& b : blobs.written) opened.push_back(open_blob(b));
      tables.reserve(metas.size());
      for (const table_meta& m : metas) tables.push_back(open_table(m));
    } catch (...) {
      tables.clear();
      opened.clear();
      for (uint64_t n : created) remove_quietly(table_path(n));
      for (uint64_t n : created_blobs) remove_quietly(blob_path(n));
      throw;
    }
    return tables;
  }

  // ---- the MANIFEST ----
  /// Serializes MANIFEST writes and the version changes they commit.
  mutex& manifest_mutex() LSMT_RETURN_CAPABILITY(manifest_mutex_) { return manifest_mutex_; }

  /// Writes m, with the store's store_id, as the MANIFEST.
  void write_manifest(manifest_state m) LSMT_REQUIRES(manifest_mutex_) {
    m.store_id = store_id_;
    detail::write_manifest(*fs_, dir_, m);
  }

  // ---- versions and obsolete tables ----
  /// A version of `levels` whose release deletes the retired tables nobody holds any more.
  std::shared_ptr<const version> make_version(std::array<table_list, max_levels> levels) {
    std::shared_ptr<retired_tables> retired = retired_;
    std::shared_ptr<blob_registry> blobs = blobs_;
    std::shared_ptr<const range_tombstones> dels = range_deletions_of(levels);
    auto v = std::make_unique<version>(version{std::move(levels), std::move(dels), {}});
    v->index_levels();
    return {v.release(), [retired, blobs](const version* released) {
              delete released;
              retired->delete_unused();
              blobs->delete_unused();
            }};
  }

  /// The set of every range deletion in `levels` (null if none): the last version's when the
  /// same tables hold them (most flushes and merges touch none), else built anew.
  std::shared_ptr<const range_tombstones> range_deletions_of(
      const std::array<table_list, max_levels>& levels) LSMT_EXCLUDES(range_cache_mutex_) {
    std::vector<uint64_t> holders;  // table numbers: a store never reuses one
    for (const table_list& level : levels) {
      for (const auto& t : level) {
        if (t->has_range_deletions()) holders.push_back(t->meta().number);
      }
    }
    std::sort(holders.begin(), holders.end());
    lock_guard g(range_cache_mutex_);
    if (holders != range_holders_) {
      range_set_ = holders.empty() ? nullptr : collect_range_deletions(levels);
      range_holders_ = std::move(holders);
    }
    return range_set_;
  }

  /// The MANIFEST of `after` replaced that of `before`: the blob files only `before` refers to
  /// are deleted once nobody holds them (blob_set.hpp). Call it only after the MANIFEST is
  /// written: if writing it failed, it may still have reached the disk.
  void retire_blobs(const version& before, const version& after) {
    std::vector<uint64_t> kept;
    for (const blob_meta& b : after.manifest_blobs()) kept.push_back(b.number);
    std::vector<uint64_t> dropped;
    for (const blob_meta& b : before.manifest_blobs()) {
      if (!std::binary_search(kept.begin(), kept.end(), b.number)) dropped.push_back(b.number);
    }
    if (!dropped.empty()) blobs_->retire(dropped);
  }

  /// Tables no version made from now on lists; deleted once nobody holds them.
  void retire(const std::vector<std::shared_ptr<table_handle>>& tables) { retired_->add(tables); }

  /// Deletes the files of retired tables that nobody else holds. Failures are left to the next
  /// open, which removes every table its MANIFEST does not list.
  void delete_obsolete_files() {
    retired_->delete_unused();
    blobs_->delete_unused();
  }

  /// The store is closed: delete what can be deleted, then never delete again.
  void close() {
    retired_->close();
    blobs_->close();
  }

  void remove_quietly(const std::string& path) noexcept { remove_file_quietly(*fs_, path); }

  /// Bytes of the tables mapped now (at most options::max_mapped_bytes).
  uint64_t mapped_bytes() const { return mapped_->used(); }

 private:
  const std::shared_ptr<file_system> fs_;
  const std::string dir_;
  const table_options topts_;
  const std::shared_ptr<block_cache> cache_;
  const std::shared_ptr<mapping_budget> mapped_;  // shared with the mapped files it charges
  std::atomic<uint64_t> next_file_number_{1};
  uint64_t store_id_ = 0;  // set before other threads exist, constant after
  mutex manifest_mutex_;
  // range_deletions_of()'s last answer and the numbers of the tables it came from.
  mutex range_cache_mutex_;  // innermost, like the retired tables' mutex
  std::vector<uint64_t> range_holders_ LSMT_GUARDED_BY(range_cache_mutex_);
  std::shared_ptr<const range_tombstones> range_set_ LSMT_GUARDED_BY(range_cache_mutex_);
  // Versions, and so the retired tables, may outlive this version_set.
  std::shared_ptr<retired_tables> retired_ = std::make_shared<retired_tables>(fs_, dir_);
  std::shared_ptr<blob_registry> blobs_ = std::make_shared<blob_registry>(fs_, dir_);
};

}  // namespace lsmt::detail

#endif  // LSMT_VERSION_SET_HPP
