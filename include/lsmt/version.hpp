// lsmt/version.hpp - the set of live SSTables and the choice of what to compact.
//
// A version is an immutable list of tables, newest first. Its invariant: for
// every user key, the versions of that key held by a table are all newer than
// those held by any table after it. Flushes put a new table at the front;
// a compaction replaces a contiguous run of tables with one table in the same
// place, which keeps the invariant. Readers take a shared_ptr to the current
// version and are never blocked by a compaction installing a new one.
//
// A table_handle owns an open table. When a compaction makes a table obsolete
// the file is removed as soon as the last version, iterator or snapshot read
// using it lets go -- but only while the store is still open, so a handle that
// outlives its store never touches a directory another store may now own.
//
// Compaction policy (size-tiered, after the "universal" style): compaction is
// due when the number of tables reaches compaction_interval. Scanning from the
// newest table, the first run of two or more adjacent tables where each next
// table is no bigger than everything gathered so far is merged; failing that,
// the adjacent pair with the smallest combined size. A table is rewritten only
// when merged with runs of comparable total size, so each byte is rewritten
// O(log(total / memtable)) times: write amplification stays bounded as data
// grows. A merge never leaves fewer than minimum_sstables tables. Scans that
// step over many older versions and deletions make the engine merge every
// table as compact() does (engine.hpp, read-triggered merges), as reads make
// LevelDB compact files they keep seeking through. A forced
// compaction (compact()) merges every table, dropping all tombstones, and
// splits the result by key range into at most minimum_sstables tables of about
// equal size (fewer when deletions shrink the data).
//
// Thread safety: a version is immutable once published; table_handle's
// obsolete flag is atomic.
#ifndef LSMT_VERSION_HPP
#define LSMT_VERSION_HPP

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "file_system.hpp"
#include "manifest.hpp"
#include "sstable_reader.hpp"

namespace lsmt::detail {

class table_handle {
 public:
  table_handle(table_meta meta, std::shared_ptr<table_reader> reader, std::string path,
               std::shared_ptr<file_system> fs, std::shared_ptr<std::atomic<bool>> store_open)
      : meta_(std::move(meta)),
        reader_(std::move(reader)),
        path_(std::move(path)),
        fs_(std::move(fs)),
        store_open_(std::move(store_open)) {}
  table_handle(const table_handle&) = delete;
  table_handle& operator=(const table_handle&) = delete;
  ~table_handle() {
    if (obsolete_.load() && store_open_->load()) {
      reader_.reset();
      try {
        fs_->remove_file(path_);
      } catch (...) {  // NOLINT(bugprone-empty-catch): the next open removes orphans
      }
    }
  }

  const table_meta& meta() const { return meta_; }
  const table_reader& reader() const { return *reader_; }
  void mark_obsolete() { obsolete_.store(true); }

 private:
  table_meta meta_;
  std::shared_ptr<table_reader> reader_;
  std::string path_;
  std::shared_ptr<file_system> fs_;
  std::shared_ptr<std::atomic<bool>> store_open_;
  std::atomic<bool> obsolete_{false};
};

struct version {
  std::vector<std::shared_ptr<table_handle>> tables;  // newest first
};

/// A run of tables [first, first + count) to merge.
struct compaction_pick {
  size_t first = 0;
  size_t count = 0;
};

/// Chooses the run to merge from table sizes (newest first), or count == 0.
/// `force` merges everything that minimum_sstables allows.
inline compaction_pick pick_compaction(const std::vector<uint64_t>& sizes,
                                       size_t compaction_interval, size_t minimum_sstables,
                                       bool force) {
  const size_t n = sizes.size();
  if (force) return {0, n};  // the caller splits the output into minimum_sstables tables
  const size_t keep = minimum_sstables == 0 ? 1 : minimum_sstables;
  if (n < 2 || n < keep + 1 || n < compaction_interval) return {};
  const size_t max_width = n - keep + 1;  // merging k tables leaves n - k + 1
  for (size_t start = 0; start + 1 < n; ++start) {
    uint64_t total = sizes[start];
    size_t width = 1;
    while (start + width < n && width < max_width && sizes[start + width] <= total) {
      total += sizes[start + width];
      ++width;
    }
    if (width >= 2) return {start, width};
  }
  size_t best = 0;
  for (size_t i = 1; i + 1 < n; ++i) {
    if (sizes[i] + sizes[i + 1] < sizes[best] + sizes[best + 1]) best = i;
  }
  return {best, 2};
}

}  // namespace lsmt::detail

#endif  // LSMT_VERSION_HPP
