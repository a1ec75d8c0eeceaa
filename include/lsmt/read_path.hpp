// lsmt/read_path.hpp - how reads find data: a pinned view of every source, point lookups, and
// iterators over a view.
//
// Where a read goes: the memtable, then the immutable memtables, newest first, then level 0's
// tables newest first (skipping those whose key range or bloom filter excludes the key), then
// in each sorted level the one table whose key range may hold the key (version.hpp). The first
// version found with sequence <= the snapshot wins, unless a range deletion with a newer
// sequence <= the snapshot covers the key: every source's range deletions are asked (memtables
// keep theirs, the version has every table's in one set). Without a snapshot, a read takes the
// latest sequence only after pinning its view: every version a pinned table dropped is shadowed by
// one at or below that sequence.
//
// Thread safety: a read_view is immutable once published; lookup() and make_iterators() only
// read it, from any number of threads.
#ifndef LSMT_READ_PATH_HPP
#define LSMT_READ_PATH_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "block.hpp"
#include "coding.hpp"
#include "counters.hpp"
#include "db_iterator.hpp"
#include "internal_key.hpp"
#include "level_iterator.hpp"
#include "memtable.hpp"
#include "merging_iterator.hpp"
#include "read_sampler.hpp"
#include "version_set.hpp"

namespace lsmt::detail {

/// What a reader pins: every source of data at one moment.
struct read_view {
  std::shared_ptr<memtable> mem;
  std::vector<std::shared_ptr<memtable>> imms;  // newest first
  std::shared_ptr<const version> tables;
};

/// The newest range deletion with sequence <= snapshot in v that covers key (seq 0: none), and
/// whether it is in a memtable.
inline range_cover cover_of(const read_view& v, std::string_view key, uint64_t snapshot) {
  uint64_t in_memory = v.mem->covering(key, snapshot);
  for (const auto& m : v.imms) in_memory = std::max(in_memory, m->covering(key, snapshot));
  const uint64_t in_tables =
      v.tables->range_dels ? v.tables->range_dels->covering(key, snapshot) : 0;
  return range_cover{std::max(in_memory, in_tables), in_memory > in_tables};
}

/// The newest point version of key with sequence <= snapshot in v (see lookup()). A value in a
/// blob file is read only if its sequence is above `deleted_at` (a range deletion that covers
/// the key hides it otherwise, and lookup() returns the deletion).
inline bool lookup_point(const read_view& v, std::string_view key, uint64_t snapshot,
                         value_type* type, std::string* value, uint64_t* seq,
                         read_counters* counters, uint64_t deleted_at = 0) {
  std::string scratch;
  std::string* out = value != nullptr ? value : &scratch;
  const uint64_t h = hash64(key);  // for every bloom filter on the way
  const version& tables = *v.tables;
  // Each source's filter line is a likely cache miss: ask for all of them before checking the
  // first, so that the misses overlap instead of following one another.
  v.mem->prefetch_filter(h);
  for (const auto& m : v.imms) m->prefetch_filter(h);
  for (const auto& t : tables.levels[0]) {
    if (overlaps(*t, key, key)) t->reader().prefetch_filter(h);
  }
  std::array<const table_handle*, max_levels> in_level{};  // the one candidate of levels 1..
  for (size_t l = 1; l < max_levels; ++l) {
    in_level[l] = tables.table_for(l, key);
    if (in_level[l] != nullptr) in_level[l]->reader().prefetch_filter(h);
  }
  if (v.mem->get(key, h, snapshot, type, out, seq)) return true;
  for (const auto& m : v.imms) {
    if (m->get(key, h, snapshot, type, out, seq)) return true;
  }
  key_buffer lookup_buffer;
  std::string_view lookup_key;
  const auto get = [&](const table_handle& t) {
    if (lookup_key.empty()) lookup_key = lookup_key_in(lookup_buffer, key, snapshot);
    if (!t.reader().get(lookup_key, h, type, out, seq, counters)) return false;
    if (*type == value_type::blob_index) {
      // The entry's value is a blob_ref: read the value it names, unless none is wanted.
      if (value != nullptr && *seq > deleted_at) read_blob_value(t.blobs(), key, *seq, *out, *out);
      *type = value_type::value;
    }
    return true;
  };
  for (const auto& t : tables.levels[0]) {
    if (overlaps(*t, key, key) && get(*t)) return true;
  }
  for (size_t l = 1; l < max_levels; ++l) {
    if (in_level[l] != nullptr && get(*in_level[l])) return true;
  }
  return false;
}

/// The newest version of key with sequence <= snapshot in v: false if there is none, else sets
/// *type, *seq and (for a value, if value is not null) *value. A range deletion covering the
/// key counts as a deletion at its sequence. Counts the tables' bloom filter checks in
/// *counters, if given. Given scratch, *value is written only if the key has a value: where a
/// range deletion covers the key, the version found is read into scratch, and copied to *value
/// only if it is a value newer than the deletion. Without scratch, *value is cleared when a
/// range deletion hides the key.
inline bool lookup(const read_view& v, std::string_view key, uint64_t snapshot, value_type* type,
                   std::string* value, uint64_t* seq, read_counters* counters = nullptr,
                   std::string* scratch = nullptr) {
  const uint64_t deleted_at = cover_of(v, key, snapshot).seq;
  std::string* into = deleted_at != 0 && scratch != nullptr && value != nullptr ? scratch : value;
  const bool found = lookup_point(v, key, snapshot, type, into, seq, counters, deleted_at);
  if (deleted_at == 0 || (found && *seq > deleted_at)) {
    if (found && into != value && *type == value_type::value) value->assign(*into);
    return found;
  }
  *type = value_type::deletion;
  *seq = deleted_at;
  if (into == value && value != nullptr) value->clear();
  return true;
}

/// Whether any range deletion is in v. A range deletion with a sequence a reader may see was
/// added before that sequence was published (write_path.hpp), so a reader that checks after
/// taking its sequence finds it.
inline bool has_range_deletions(const read_view& v) {
  bool any = v.mem->has_range_deletions() || v.tables->range_dels != nullptr;
  for (const auto& m : v.imms) any = any || m->has_range_deletions();
  return any;
}

/// For an iterator at snapshot seq over v: a function telling what range deletion covers a key
/// (range_cover), or null when no range deletion can cover anything it reads.
inline std::function<range_cover(std::string_view)> covering_function(const read_view& v,
                                                                      uint64_t seq) {
  if (!has_range_deletions(v)) return nullptr;
  // The iterator pins the view, so the pointer stays valid for as long as it is used.
  return [view = &v, seq](std::string_view key) { return cover_of(*view, key, seq); };
}

/// What each seek of an iterator over `v` reports to the read_sampler: the tables a
/// seek-triggered merge would take away (compaction_picker.hpp). While level 0 holds tables,
/// the `level0` of them the seeks position; then 1 if they position the first sorted level
/// above the bottom (`positioned`: the sorted levels they position), whose tables such merges
/// move down, one level at most.
inline uint64_t seek_cost(const version& v, uint64_t level0,
                          const std::array<bool, max_levels>& positioned) {
  if (!v.levels[0].empty()) return level0;
  const size_t first = v.first_level_above_bottom();
  return first != 0 && positioned[first] ? 1 : 0;
}

/// An iterator over [lower, upper) of `view` at sequence seq. Tables outside the bounds, and an
/// empty memtable, are left out of its merge; each sorted level is one child (level_iterator.hpp).
/// An iterator over one table that refers to blob files, whose values are what readers see: for
/// a blob index, the value its reference names (blob_set.hpp). The table must outlive it (the
/// read view pins it). One thread at a time.
class blob_resolving_iterator final : public internal_iterator {
 public:
  blob_resolving_iterator(std::unique_ptr<internal_iterator> inner, const table_handle& table)
      : inner_(std::move(inner)), table_(table) {}
  bool valid() const override { return inner_->valid(); }
  void seek_to_first() override { inner_->seek_to_first(); }
  void seek_to_last() override { inner_->seek_to_last(); }
  void seek(std::string_view target) override { inner_->seek(target); }
  void prefetch_seek(std::string_view target) override { inner_->prefetch_seek(target); }
  void seek_prefetched(std::string_view target) override { inner_->seek_prefetched(target); }
  void next() override { inner_->next(); }
  void prev() override { inner_->prev(); }
  std::string_view key() const override { return inner_->key(); }
  std::string_view value() const override {
    return values_.resolve(table_.blobs(), inner_->key(), inner_->value());
  }
  std::string_view stored_value() const override { return inner_->value(); }
  const blob_list* value_blobs() const override {
    return extract_type(inner_->key()) == value_type::blob_index ? &table_.blobs() : nullptr;
  }

 private:
  std::unique_ptr<internal_iterator> inner_;
  const table_handle& table_;
  mutable blob_value_reader values_;
};

/// The iterator keeps the view, and so the levels its children read, alive.
inline std::unique_ptr<db_iterator> make_iterator(const std::shared_ptr<const read_view>& view,
                                                  uint64_t seq, std::optional<std::string> lower,
                                                  std::optional<std::string> upper,
                                                  const std::shared_ptr<read_sampler>& sampler) {
  std::vector<std::unique_ptr<internal_iterator>> children;
  children.reserve(1 + view->imms.size() + view->tables->levels[0].size() + max_levels - 1);
  // An empty memtable adds nothing: an entry added from now on has a sequence above seq (a
  // write is published after it is added, and seq was taken after that), so it would be hidden.
  if (view->mem->entry_count() > 0) children.push_back(view->mem->new_iterator());
  for (const auto& m : view->imms) children.push_back(m->new_iterator());
  const version& tables = *view->tables;
  uint64_t level0 = 0;
  std::array<bool, max_levels> positioned{};  // sorted levels the seeks position
  for (const auto& t : tables.levels[0]) {
    if (lower && compare_user_keys(t->largest_user_key(), *lower) < 0) continue;
    if (upper && compare_user_keys(t->smallest_user_key(), *upper) >= 0) continue;
    if (t->blobs().empty()) {
      children.push_back(t->reader().new_iterator());
    } else {
      children.push_back(std::make_unique<blob_resolving_iterator>(t->reader().new_iterator(), *t));
    }
    ++level0;
  }
  for (size_t l = 1; l < max_levels; ++l) {
    const table_list& level = tables.levels[l];
    const size_t first = lower ? tables.find_table(l, *lower) : 0;
    size_t last = level.size();
    if (upper) {
      last = static_cast<size_t>(
          std::lower_bound(level.begin() + static_cast<std::ptrdiff_t>(first), level.end(), *upper,
                           [](const auto& t, const std::string& k) {
                             return compare_user_keys(t->smallest_user_key(), k) < 0;
                           }) -
          level.begin());
    }
    if (first < last) {
      children.push_back(std::make_unique<level_iterator>(tables, l, first, last));
      positioned[l] = true;
    }
  }
  auto it = std::make_unique<db_iterator>(std::make_unique<merging_iterator>(std::move(children)),
                                          seq, view, std::move(lower), std::move(upper), sampler,
                                          covering_function(*view, seq));
  it->set_upper_tables(seek_cost(tables, level0, positioned));
  return it;
}

/// One iterator per [lower, upper) segment, all over `view` at sequence seq (make_iterator).
// `segments` is taken by value: its bounds are moved into the iterators.
inline std::vector<std::unique_ptr<db_iterator>> make_iterators(
    const std::shared_ptr<const read_view>& view, uint64_t seq,
    std::vector<key_bounds> segments,  // NOLINT(performance-unnecessary-value-param)
    const std::shared_ptr<read_sampler>& sampler) {
  std::vector<std::unique_ptr<db_iterator>> out;
  out.reserve(segments.size());
  for (auto& [lower, upper] : segments) {
    out.push_back(make_iterator(view, seq, std::move(lower), std::move(upper), sampler));
  }
  return out;
}

}  // namespace lsmt::detail

#endif  // LSMT_READ_PATH_HPP
