// lsmt/version.hpp - a version: the live tables at one moment, arranged in levels.
//
// Layout (leveled, after LevelDB and RocksDB):
//   - level 0 holds the tables flushes write, newest first; their key ranges may overlap, so a
//     read checks each of them whose range holds the key;
//   - each level 1 .. max_levels-1 is one sorted run, partitioned by key range into tables:
//     its tables are in key order and no user key is in two of them, so a read checks at most
//     one table of the level, found by a binary search over their largest keys (first over
//     the fences of those keys, fence_index.hpp, then over the few keys that share a fence).
// Invariant: for every user key, the versions of it in a level are newer than those in any
// deeper level, and within level 0 a table's are newer than those of every table after it.
// Flushes add tables at the front of level 0. A compaction replaces some tables of a level, and
// the tables of its output level that overlap them, with its output in that output level: the
// next level down, or for level 0 the base level or a higher sorted level that still holds data
// (no level in between holds any), or the bottom level itself for a merge of the bottom level or
// of everything (compact()). It may instead move tables down unchanged when nothing there
// overlaps them. All of these keep the invariant. Readers take a shared_ptr to a version and
// are never blocked by a compaction installing a new one.
//
// Thread safety: a version is immutable once made, and may be read from any thread.
#ifndef LSMT_VERSION_HPP
#define LSMT_VERSION_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "blob_set.hpp"
#include "fence_index.hpp"
#include "internal_key.hpp"
#include "manifest.hpp"
#include "range_tombstones.hpp"
#include "sstable_reader.hpp"

namespace lsmt::detail {

/// An open table and what the MANIFEST says about it. Immutable; thread-safe.
class table_handle {
 public:
  table_handle(table_meta meta, std::shared_ptr<table_reader> reader, blob_list blobs = {})
      : meta_(std::move(meta)), reader_(std::move(reader)), blobs_(std::move(blobs)) {}
  table_handle(const table_handle&) = delete;
  table_handle& operator=(const table_handle&) = delete;
  ~table_handle() = default;

  const table_meta& meta() const { return meta_; }
  const table_reader& reader() const { return *reader_; }
  /// The blob files its entries refer to (blob_set.hpp), in meta().blob_files' order.
  const blob_list& blobs() const { return blobs_; }
  /// Whether the table holds range deletions (false without a reader: tests of the picker).
  bool has_range_deletions() const { return reader_ && reader_->range_deletions(); }
  /// The share of the table's keys that shadow an older version in a deeper level, as sampled
  /// when a flush or merge wrote it (shadowing.hpp); 1 if it was not sampled (a table opened
  /// from disk, or written into the bottom level).
  double shadowing_share() const { return shadowing_share_; }
  /// Sets shadowing_share(); only before the handle is shared with other threads.
  void set_shadowing_share(double share) { shadowing_share_ = share; }
  std::string_view smallest_user_key() const { return extract_user_key(meta_.smallest); }
  std::string_view largest_user_key() const { return extract_user_key(meta_.largest); }

 private:
  table_meta meta_;
  std::shared_ptr<table_reader> reader_;
  blob_list blobs_;
  double shadowing_share_ = 1;
};

using table_list = std::vector<std::shared_ptr<table_handle>>;

/// Whether a table's key range and the user-key range [lo, hi] share a key.
inline bool overlaps(const table_handle& t, std::string_view lo, std::string_view hi) {
  return compare_user_keys(t.largest_user_key(), lo) >= 0 &&
         compare_user_keys(t.smallest_user_key(), hi) <= 0;
}

/// The smallest and largest user keys of a non-empty list of tables.
inline std::pair<std::string_view, std::string_view> key_range(const table_list& tables) {
  std::string_view lo = tables.front()->smallest_user_key();
  std::string_view hi = tables.front()->largest_user_key();
  for (const auto& t : tables) {
    if (compare_user_keys(t->smallest_user_key(), lo) < 0) lo = t->smallest_user_key();
    if (compare_user_keys(t->largest_user_key(), hi) > 0) hi = t->largest_user_key();
  }
  return {lo, hi};
}

/// The bytes of the files of `tables`.
inline uint64_t total_size(const table_list& tables) {
  uint64_t bytes = 0;
  for (const auto& t : tables) bytes += t->meta().size;
  return bytes;
}

/// The bytes of the blob files `outputs` refer to and none of `inputs` does: those a flush or a
/// merge with these inputs wrote along with `outputs`.
inline uint64_t new_blob_bytes(const table_list& outputs, const table_list& inputs) {
  std::unordered_set<uint64_t> seen;  // the blob files of inputs, then those counted
  for (const auto& t : inputs) {
    for (const auto& b : t->blobs()) seen.insert(b->meta().number);
  }
  uint64_t bytes = 0;
  for (const auto& t : outputs) {
    for (const auto& b : t->blobs()) {
      if (seen.insert(b->meta().number).second) bytes += b->meta().size;
    }
  }
  return bytes;
}

/// Whether no two of `tables` share a user key (level-0 tables may move down together only then).
inline bool disjoint(table_list tables) {
  std::sort(tables.begin(), tables.end(), [](const auto& a, const auto& b) {
    return compare_user_keys(a->smallest_user_key(), b->smallest_user_key()) < 0;
  });
  for (size_t i = 1; i < tables.size(); ++i) {
    if (compare_user_keys(tables[i - 1]->largest_user_key(), tables[i]->smallest_user_key()) >= 0) {
      return false;
    }
  }
  return true;
}

struct version {
  std::array<table_list, max_levels> levels;
  // Every table's range deletions in one set (null if no table has any): reads ask it whatever
  // level they find a key in, since sequences alone decide what a deletion covers.
  std::shared_ptr<const range_tombstones> range_dels;
  // Per sorted level, the fences of its tables' largest user keys (index_levels()); empty until
  // then, and in versions tests build by hand, which search without them.
  std::array<fence_index, max_levels> fences;

  size_t table_count() const {
    size_t n = 0;
    for (const table_list& l : levels) n += l.size();
    return n;
  }
  uint64_t level_bytes(size_t level) const { return total_size(levels[level]); }
  /// The bytes of `level` weighted by each table's shadowing_share(): about what its keys'
  /// older versions deeper down take (those versions are as large, for keys of one kind).
  uint64_t level_shadowing_bytes(size_t level) const {
    double bytes = 0;
    for (const auto& t : levels[level]) {
      bytes += t->shadowing_share() * static_cast<double>(t->meta().size);
    }
    return static_cast<uint64_t>(bytes);
  }
  uint64_t level_entries(size_t level) const {
    uint64_t entries = 0;
    for (const auto& t : levels[level]) entries += t->meta().entries;
    return entries;
  }
  uint64_t total_bytes() const {
    uint64_t bytes = 0;
    for (size_t l = 0; l < max_levels; ++l) bytes += level_bytes(l);
    return bytes;
  }
  /// The deepest level holding a table, or 0.
  size_t bottom_level() const {
    for (size_t l = max_levels - 1; l > 0; --l) {
      if (!levels[l].empty()) return l;
    }
    return 0;
  }
  /// The first sorted level above bottom_level() that holds a table, or 0 if there is none.
  size_t first_level_above_bottom() const {
    const size_t bottom = bottom_level();
    for (size_t l = 1; l < bottom; ++l) {
      if (!levels[l].empty()) return l;
    }
    return 0;
  }
  /// The first level below `level` that holds a table; the last level if none does.
  size_t next_level_holding(size_t level) const {
    size_t out = level + 1;
    while (out + 1 < max_levels && levels[out].empty()) ++out;
    return out;
  }

  /// In sorted level `level` (>= 1): the index of the first table whose largest user key is
  /// >= user_key (levels[level].size() if none).
  size_t find_table(size_t level, std::string_view user_key) const {
    return search_level(level, user_key, 0, levels[level].size(), [&](const table_handle& t) {
      return compare_user_keys(t.largest_user_key(), user_key) < 0;
    });
  }

  /// In sorted level `level` (>= 1), among its tables [first, last): the first table for which
  /// below(table) is false, or last. below must hold for each table whose largest user key is
  /// less than user_key, and not for any whose largest user key is greater (such as "its largest
  /// key < k", k user_key or an internal key of it). The level's fences (index_levels()) narrow
  /// the search to the tables whose largest user key has user_key's fence, most often one or
  /// none, without following a pointer; below is asked only about those.
  template <class Below>
  size_t search_level(size_t level, std::string_view user_key, size_t first, size_t last,
                      const Below& below) const {
    const table_list& l = levels[level];
    const fence_index& f = fences[level];
    size_t lo = first;
    size_t hi = last;
    if (f.size() == l.size() && lo < hi) {  // indexed (versions tests build by hand are not)
      // Every table before the range is below user_key, every one after it above.
      const fence_index::range eq = f.equal_range(f.fence(user_key));
      lo = std::clamp<size_t>(eq.first, first, last);
      hi = std::clamp<size_t>(eq.last, lo, last);
    }
    const auto begin = l.begin();
    return static_cast<size_t>(std::partition_point(begin + static_cast<std::ptrdiff_t>(lo),
                                                    begin + static_cast<std::ptrdiff_t>(hi),
                                                    [&](const auto& t) { return below(*t); }) -
                               begin);
  }

  /// Builds each sorted level's fences over its tables' largest user keys (fence_index.hpp).
  /// Called once on a new version, before it is shared.
  void index_levels() {
    std::vector<std::string_view> keys;
    for (size_t l = 1; l < max_levels; ++l) {
      keys.clear();
      for (const auto& t : levels[l]) keys.push_back(t->largest_user_key());
      fences[l].build(keys);
    }
  }

  /// In sorted level `level` (>= 1): the one table whose key range holds user_key, or null.
  const table_handle* table_for(size_t level, std::string_view user_key) const {
    const table_list& l = levels[level];
    if (l.empty()) return nullptr;  // most levels of a small store: no search call at all
    const size_t i = find_table(level, user_key);
    if (i == l.size() || compare_user_keys(l[i]->smallest_user_key(), user_key) > 0) return nullptr;
    return l[i].get();
  }

  /// The tables of `level` whose key range shares a user key with [lo, hi].
  table_list overlapping(size_t level, std::string_view lo, std::string_view hi) const {
    table_list out;
    const table_list& l = levels[level];
    const size_t first = level == 0 ? 0 : find_table(level, lo);
    for (size_t i = first; i < l.size(); ++i) {
      if (overlaps(*l[i], lo, hi)) {
        out.push_back(l[i]);
      } else if (level > 0) {
        break;  // sorted: every later table starts after hi
      }
    }
    return out;
  }

  /// Whether a level deeper than `level` may hold a version of user_key.
  bool deeper_may_hold(size_t level, std::string_view user_key) const {
    for (size_t l = level + 1; l < max_levels; ++l) {
      if (table_for(l, user_key) != nullptr) return true;
    }
    return false;
  }
  /// Whether a level deeper than `level` may hold a version of user_key, as the key ranges and
  /// the bloom filters of its tables tell (a table without a filter may hold any key of its range).
  bool deeper_filters_may_hold(size_t level, std::string_view user_key) const {
    for (size_t l = level + 1; l < max_levels; ++l) {
      const table_handle* t = table_for(l, user_key);
      if (t != nullptr && t->reader().may_contain(user_key)) return true;
    }
    return false;
  }
  /// Whether a level deeper than `level` may hold a version of a user key in [lo, hi].
  bool deeper_may_hold_range(size_t level, std::string_view lo, std::string_view hi) const {
    for (size_t l = level + 1; l < max_levels; ++l) {
      const size_t i = find_table(l, lo);
      if (i < levels[l].size() && compare_user_keys(levels[l][i]->smallest_user_key(), hi) <= 0) {
        return true;
      }
    }
    return false;
  }

  /// The largest user key of each table of the first level below `level` that holds tables, in
  /// key order (none below the bottom level): where a merge into `level` cuts its output files
  /// (table_writer.hpp), so that each of them later merges into few of those tables.
  std::vector<std::string> table_ends_below(size_t level) const {
    std::vector<std::string> out;
    for (size_t l = level + 1; l < max_levels && out.empty(); ++l) {
      for (const auto& t : levels[l]) out.emplace_back(t->largest_user_key());
    }
    return out;
  }

  /// The MANIFEST's blob list: every blob file a table refers to, once, ascending.
  std::vector<blob_meta> manifest_blobs() const {
    std::vector<blob_meta> out;
    for (const table_list& l : levels) {
      for (const auto& t : l) {
        for (const auto& b : t->blobs()) out.push_back(b->meta());
      }
    }
    std::sort(out.begin(), out.end(),
              [](const blob_meta& a, const blob_meta& b) { return a.number < b.number; });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  /// A blob file the tables refer to, and its garbage: the bytes of its records that no table
  /// refers to any more (values overwritten or deleted since it was written).
  struct blob_file_use {
    blob_meta meta;
    uint64_t record_bytes = 0;  // the bytes of its records: its size less header and footer
    uint64_t garbage = 0;
  };
  /// Every blob file a table refers to, once, ascending by number, with its garbage.
  std::vector<blob_file_use> blob_garbage() const {
    std::map<uint64_t, uint64_t> used;  // the bytes of each blob file that the tables refer to
    for (const table_list& l : levels) {
      for (const auto& t : l) {
        const table_meta& m = t->meta();
        for (size_t i = 0; i < m.blob_files.size(); ++i) used[m.blob_files[i]] += m.blob_bytes[i];
      }
    }
    std::vector<blob_file_use> out;
    for (const blob_meta& b : manifest_blobs()) {
      blob_file_use u;
      u.meta = b;
      u.record_bytes = b.size - blob_header_size - blob_footer_size;
      const auto it = used.find(b.number);
      u.garbage = u.record_bytes - (it == used.end() ? 0 : std::min(it->second, u.record_bytes));
      out.push_back(u);
    }
    return out;
  }
  /// Every blob file a table refers to, once.
  blob_list all_blobs() const {
    blob_list out;
    for (const table_list& l : levels) {
      for (const auto& t : l) out.insert(out.end(), t->blobs().begin(), t->blobs().end());
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  /// The MANIFEST's list: every table with its level, level 0 first.
  std::vector<table_meta> manifest_tables() const {
    std::vector<table_meta> out;
    for (size_t l = 0; l < max_levels; ++l) {
      for (const auto& t : levels[l]) {
        out.push_back(t->meta());
        out.back().level = static_cast<uint32_t>(l);
      }
    }
    return out;
  }
};

/// The range deletions of every table in `levels`, in one set; null if there are none.
inline std::shared_ptr<const range_tombstones> collect_range_deletions(
    const std::array<table_list, max_levels>& levels) {
  std::shared_ptr<range_tombstones> all;
  for (const table_list& level : levels) {
    for (const auto& t : level) {
      const auto& mine = t->reader().range_deletions();
      if (!mine) continue;
      if (!all) all = std::make_shared<range_tombstones>();
      all->add_all(*mine);
    }
  }
  return all;
}

/// The levels of `v` with `removed` taken out and `added` put into `level` (>= 1) in key order,
/// or at the front of level 0 if `level` is 0.
inline std::array<table_list, max_levels> edit_levels(const version& v, const table_list& removed,
                                                      size_t level, const table_list& added) {
  std::unordered_set<const table_handle*> gone;
  for (const auto& t : removed) gone.insert(t.get());
  std::array<table_list, max_levels> out;
  for (size_t l = 0; l < max_levels; ++l) {
    for (const auto& t : v.levels[l]) {
      if (gone.count(t.get()) == 0) out[l].push_back(t);
    }
  }
  table_list& target = out[level];
  if (level == 0) {
    target.insert(target.begin(), added.begin(), added.end());
  } else {
    target.insert(target.end(), added.begin(), added.end());
    std::sort(target.begin(), target.end(), [](const auto& a, const auto& b) {
      return compare_user_keys(a->smallest_user_key(), b->smallest_user_key()) < 0;
    });
  }
  return out;
}

}  // namespace lsmt::detail

#endif  // LSMT_VERSION_HPP
