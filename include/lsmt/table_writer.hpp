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
// A file of at least half target_size is also cut where the plan's boundaries say: at the end
// of a table of the level below the output (version::table_ends_below). Such a file, merged
// down later, then rewrites only the tables its own key range covers, not also the two that
// would stick out at its ends (like the grandparent-aware cuts of LevelDB and RocksDB).
//
// Range deletions (range_tombstones.hpp) given in the plan are the merge's own. A version
// covered by one that every reader sees (sequence <= the smallest live snapshot) is dropped.
// Each fragment is written on: its sequences above the smallest snapshot, and the newest at or
// below it unless no table outside the merge may hold an older version of a key in its range
// (drop_tombstones, or older_outside_range() says so): then it covers nothing older, and goes.
// At a cut between user keys a and b, fragments are cut at a + '\0', so the files' bounds
// (table_format.hpp, "Bounds") never share a user key. Fragments past the last entry go into
// the last file, or into a file of their own.
//
// Blob files (blob_file.hpp). Given plan.blob_min_size (a flush, recovery's flush of a replayed
// log, or repair), a value of at least that many bytes goes into one new blob file, and the
// table holds a blob index for it (the entry's key with type blob_index, and a blob_ref as its
// value). Blob indexes read from the input are
// copied as they are. Each output table lists the blob files its entries refer to
// (table_meta::blob_files), unless plan.relocate() names the file one refers to: then the value
// is read and written into the new blob file, as a flush does (garbage collection), or into the
// table as a plain value if it is smaller than plan.relocate_min_size (or that is 0: the store
// no longer separates values). The blob file is finished, and synced, before the tables.
//
// Thread safety: a free function; it touches only what it is given.
#ifndef LSMT_TABLE_WRITER_HPP
#define LSMT_TABLE_WRITER_HPP

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "blob_file.hpp"
#include "file_system.hpp"
#include "internal_iterator.hpp"
#include "internal_key.hpp"
#include "manifest.hpp"
#include "range_tombstones.hpp"
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
  // The merge's range deletions (null: none).
  const range_tombstones* range_dels = nullptr;
  // If set (and drop_tombstones is not): whether a table outside the merge may hold an older
  // version of a user key in [lo, hi].
  std::function<bool(std::string_view lo, std::string_view hi)> older_outside_range;
  uint64_t target_size = 0;             // 0: a single file
  size_t max_files = 0;                 // 0: no limit
  std::vector<std::string> boundaries;  // user keys, ascending: cut after one (see above)
  std::function<bool()> cancelled;      // if set and true, the write stops (the store is closing)
  bool no_filter = false;               // the tables get no bloom filter, whatever the options say
  // If set: called with the index of an output file and a user key written into it, for the
  // first key of each file and every sample_every-th after it (shadowing.hpp).
  std::function<void(size_t file, std::string_view user_key)> sample;
  size_t sample_every = 64;  // 0 counts as 1
  size_t blob_min_size = 0;  // values of at least this many bytes go into a blob file; 0: none
  // If set (merges): whether a blob index into this blob file has its value copied into the
  // merge's own blob file (garbage collection, merge_run.hpp); read_blob(ikey, ref, out) reads
  // the value then.
  std::function<bool(uint64_t blob_file)> relocate;
  std::function<void(std::string_view ikey, std::string_view ref, std::string& out)> read_blob;
  size_t relocate_min_size = 0;  // a relocated value this size or more goes to a blob file
};

/// A range-deletion fragment to write: [begin, end) at each of seqs (descending).
struct kept_fragment {
  std::string begin;
  std::string end;
  std::vector<uint64_t> seqs;
};

/// The fragments of plan.range_dels that the output keeps, in key order (see the file comment).
inline std::vector<kept_fragment> kept_fragments(const table_write_plan& plan) {
  std::vector<kept_fragment> out;
  if (plan.range_dels == nullptr) return out;
  plan.range_dels->for_each([&](std::string_view b, std::string_view e, const auto& seqs) {
    kept_fragment f{std::string(b), std::string(e), {}};
    bool kept_visible = false;  // the newest sequence every reader sees is kept
    for (auto it = seqs.rbegin(); it != seqs.rend(); ++it) {
      if (*it > plan.smallest_snapshot) {
        f.seqs.push_back(*it);
      } else if (!kept_visible) {
        kept_visible = true;
        const bool dead = plan.drop_tombstones || (plan.older_outside_range &&
                                                   !plan.older_outside_range(b, range_claim(e)));
        if (!dead) f.seqs.push_back(*it);
      }
    }
    if (!f.seqs.empty()) out.push_back(std::move(f));
  });
  return out;
}

/// Counts a reference of table `t` to `bytes` of blob file `number` (table_meta::blob_files).
inline void add_blob_ref(table_meta& t, uint64_t number, uint64_t bytes) {
  const auto it = std::lower_bound(t.blob_files.begin(), t.blob_files.end(), number);
  const auto i = it - t.blob_files.begin();
  if (it == t.blob_files.end() || *it != number) {
    t.blob_files.insert(it, number);
    t.blob_bytes.insert(t.blob_bytes.begin() + i, 0);
  }
  t.blob_bytes[static_cast<size_t>(i)] += bytes;
}

/// Where the blob files of a write come from and go (see the top of this file).
struct blob_output {
  /// Creates the next blob file (the caller records its number, to delete it if the write fails).
  std::function<std::unique_ptr<blob_writer>()> new_file;
  /// The blob files written, finished and synced.
  std::vector<blob_meta> written;
};

/// Writes the entries of `in` (from its current position) into new tables of store `store_id`.
/// new_file() returns the number and the path of the next file to create; every
/// number it hands out is appended to `created` first, so the caller can
/// delete them if this throws. `blobs` is needed only with plan.blob_min_size.
inline std::vector<table_meta> write_tables(
    internal_iterator& in, const table_write_plan& plan, const table_options& topts,
    uint64_t store_id, file_system& fs,
    const std::function<std::pair<uint64_t, std::string>()>& new_file,
    std::vector<uint64_t>& created, blob_output* blobs = nullptr) {
  std::vector<table_meta> out;
  std::unique_ptr<blob_writer> blob;
  std::string blob_key;    // an entry's key with type blob_index
  std::string blob_value;  // its blob_ref
  std::string relocated;   // a value read back from an old blob file
  std::unique_ptr<table_builder> builder;
  table_meta meta;
  std::vector<kept_fragment> fragments = kept_fragments(plan);
  size_t next_fragment = 0;

  size_t keys_in_file = 0;  // user keys written into the current file
  auto start_file = [&] {
    keys_in_file = 0;
    auto [number, path] = new_file();
    created.push_back(number);
    meta.number = number;
    builder = std::make_unique<table_builder>(topts, fs.new_writable_file(path), number, store_id);
  };
  // Finishes the current file; its range deletions end before `cut` (all that are left if
  // cut is null).
  auto finish = [&](const std::string* cut) {
    for (; next_fragment < fragments.size(); ++next_fragment) {
      kept_fragment& f = fragments[next_fragment];
      if (cut != nullptr && compare_user_keys(f.begin, *cut) >= 0) break;
      const bool split = cut != nullptr && compare_user_keys(*cut, f.end) < 0;
      for (const uint64_t seq : f.seqs) {
        builder->add_range_deletion(f.begin, split ? std::string_view(*cut) : f.end, seq);
      }
      if (split) {
        f.begin = *cut;  // the rest goes into the next file
        break;
      }
    }
    builder->finish();
    meta.size = builder->file_size();
    meta.entries = builder->entry_count();
    meta.smallest = builder->smallest_key();
    meta.largest = builder->largest_key();
    out.push_back(std::move(meta));
    meta = table_meta{};
    builder.reset();
  };

  // Writes (user_key, seq)'s value into the blob file and a blob index into the table.
  const auto add_blob = [&](std::string_view user_key, uint64_t seq, std::string_view value) {
    if (!blob) blob = blobs->new_file();
    const blob_ref ref = blob->add(user_key, seq, value);
    blob_key.assign(user_key.data(), user_key.size());
    put_fixed64(blob_key, pack_tag(seq, value_type::blob_index));
    blob_value.clear();
    encode_blob_ref(blob_value, ref);
    builder->add(blob_key, blob_value);
    add_blob_ref(meta, ref.file, ref.size);
  };
  std::string current_key;
  bool has_key = false;
  bool key_written = false;  // whether a version of current_key went into the output
  uint64_t last_seq_for_key = 0;
  size_t next_boundary = 0;  // the first of plan.boundaries not below current_key
  // Whether the output should end between current_key and user_key (which follows it).
  const auto cut_here = [&](std::string_view user_key) {
    if (plan.target_size == 0 || (plan.max_files != 0 && out.size() + 1 >= plan.max_files)) {
      return false;
    }
    const uint64_t size = builder->file_size();
    if (size >= plan.target_size) return true;
    if (size < plan.target_size / 2) return false;
    const auto& b = plan.boundaries;
    while (next_boundary < b.size() && compare_user_keys(b[next_boundary], current_key) < 0) {
      ++next_boundary;
    }
    return next_boundary < b.size() && compare_user_keys(b[next_boundary], user_key) < 0;
  };
  try {
    for (; in.valid(); in.next()) {
      if (plan.cancelled && plan.cancelled()) throw table_write_cancelled{};
      const std::string_view ikey = in.key();
      const std::string_view user_key = extract_user_key(ikey);
      if (!has_key || compare_user_keys(user_key, current_key) != 0) {
        if (builder && cut_here(user_key)) {
          const std::string cut = current_key + '\0';  // just past the file's last user key
          finish(&cut);
        }
        current_key.assign(user_key);
        has_key = true;
        key_written = false;
        last_seq_for_key = max_sequence + 1;  // no newer version seen yet
      }
      const uint64_t seq = extract_sequence(ikey);
      const bool hidden = last_seq_for_key <= plan.smallest_snapshot ||
                          (plan.range_dels != nullptr &&
                           plan.range_dels->covering(user_key, plan.smallest_snapshot) > seq);
      const bool dead_tombstone =
          extract_type(ikey) == value_type::deletion && seq <= plan.smallest_snapshot &&
          (plan.drop_tombstones || (plan.older_outside && !plan.older_outside(user_key)));
      last_seq_for_key = seq;
      if (hidden || dead_tombstone) continue;
      if (!builder) start_file();
      const std::string_view value = in.value();
      const value_type type = extract_type(ikey);
      if (type == value_type::value && plan.blob_min_size != 0 &&
          value.size() >= plan.blob_min_size && blobs != nullptr) {
        add_blob(user_key, seq, value);
      } else if (type == value_type::blob_index) {
        blob_ref ref;
        if (!decode_blob_ref(value, &ref)) {
          throw corruption_error("lsmt: a malformed blob reference in a merge's input");
        }
        if (plan.relocate && blobs != nullptr && plan.relocate(ref.file)) {
          plan.read_blob(ikey, value, relocated);
          if (plan.relocate_min_size != 0 && relocated.size() >= plan.relocate_min_size) {
            add_blob(user_key, seq, relocated);
          } else {
            blob_key.assign(user_key.data(), user_key.size());
            put_fixed64(blob_key, pack_tag(seq, value_type::value));
            builder->add(blob_key, relocated);
          }
        } else {
          builder->add(ikey, value);
          add_blob_ref(meta, ref.file, ref.size);
        }
      } else {
        builder->add(ikey, value);
      }
      if (!key_written) {
        key_written = true;
        if (plan.sample && keys_in_file++ % std::max<size_t>(plan.sample_every, 1) == 0) {
          plan.sample(out.size(), user_key);
        }
      }
    }
    if (!builder && next_fragment < fragments.size()) start_file();  // range deletions only
    if (blob) {
      blob->finish();
      blobs->written.push_back(blob_meta{blob->number(), blob->file_size(), blob->record_count()});
      blob.reset();
    }
    if (builder) finish(nullptr);
  } catch (...) {
    if (builder) builder->abandon();
    if (blob) blob->abandon();
    throw;
  }
  return out;
}

}  // namespace lsmt::detail

#endif  // LSMT_TABLE_WRITER_HPP
