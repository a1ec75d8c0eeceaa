// lsmt/table_writer.hpp - turns a sorted stream of entries into SSTable files.
//
// Flushes and compactions both end here. While copying, it drops what no
// reader can see any more:
//   - an older version of a key when a newer version is visible to every
//     reader (its sequence is <= the smallest live snapshot);
//   - a deletion visible to every reader, when the caller says no older
//     version of the key can exist in a table outside this merge
//     (drop_tombstones, or older_outside() says so for that key).
// Output is cut into files of about target_size bytes (at most max_files of
// them), only between two user keys, so every version of a key stays in one file.
//
// Thread safety: a free function; it touches only what it is given.
#ifndef LSMT_TABLE_WRITER_HPP
#define LSMT_TABLE_WRITER_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "file_system.hpp"
#include "internal_iterator.hpp"
#include "internal_key.hpp"
#include "manifest.hpp"
#include "sstable_builder.hpp"

namespace lsmt::detail {

/// Thrown when a table write stops because the store is closing.
struct table_write_cancelled {};

struct table_write_plan {
  uint64_t smallest_snapshot = max_sequence;
  bool drop_tombstones = false;  // no table outside the merge holds an older version of any key
  // If set (and drop_tombstones is not): whether a table outside the merge may hold an older
  // version of this user key. Asked only for deletions visible to every reader.
  std::function<bool(std::string_view)> older_outside;
  uint64_t target_size = 0;         // 0: a single file
  size_t max_files = 0;             // 0: no limit
  std::function<bool()> cancelled;  // if set and true, the write stops (the store is closing)
};

/// Writes the entries of `in` (from its current position) into new tables of store `store_id`.
/// new_file() returns the number and the path of the next file to create; every
/// number it hands out is appended to `created` first, so the caller can
/// delete them if this throws.
inline std::vector<table_meta> write_tables(
    internal_iterator& in, const table_write_plan& plan, const table_options& topts,
    uint64_t store_id, file_system& fs,
    const std::function<std::pair<uint64_t, std::string>()>& new_file,
    std::vector<uint64_t>& created) {
  std::vector<table_meta> out;
  std::unique_ptr<table_builder> builder;
  table_meta meta;

  auto finish = [&] {
    builder->finish();
    meta.size = builder->file_size();
    meta.entries = builder->entry_count();
    meta.smallest = builder->smallest_key();
    meta.largest = builder->largest_key();
    out.push_back(std::move(meta));
    meta = table_meta{};
    builder.reset();
  };

  std::string current_key;
  bool has_key = false;
  uint64_t last_seq_for_key = 0;
  try {
    for (; in.valid(); in.next()) {
      if (plan.cancelled && plan.cancelled()) throw table_write_cancelled{};
      const std::string_view ikey = in.key();
      const std::string_view user_key = extract_user_key(ikey);
      if (!has_key || compare_user_keys(user_key, current_key) != 0) {
        if (builder && plan.target_size != 0 && builder->file_size() >= plan.target_size &&
            (plan.max_files == 0 || out.size() + 1 < plan.max_files)) {
          finish();
        }
        current_key.assign(user_key);
        has_key = true;
        last_seq_for_key = max_sequence + 1;  // no newer version seen yet
      }
      const uint64_t seq = extract_sequence(ikey);
      const bool hidden = last_seq_for_key <= plan.smallest_snapshot;
      const bool dead_tombstone =
          extract_type(ikey) == value_type::deletion && seq <= plan.smallest_snapshot &&
          (plan.drop_tombstones || (plan.older_outside && !plan.older_outside(user_key)));
      last_seq_for_key = seq;
      if (hidden || dead_tombstone) continue;
      if (!builder) {
        auto [number, path] = new_file();
        created.push_back(number);
        meta.number = number;
        builder =
            std::make_unique<table_builder>(topts, fs.new_writable_file(path), number, store_id);
      }
      builder->add(ikey, in.value());
    }
    if (builder) finish();
  } catch (...) {
    if (builder) builder->abandon();
    throw;
  }
  return out;
}

}  // namespace lsmt::detail

#endif  // LSMT_TABLE_WRITER_HPP
