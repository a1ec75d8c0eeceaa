// lsmt/merge_run.hpp - one merge, run and installed; and the install step flushes share.
//
// run_merge() merges a job's tables (compaction_job.hpp) through a merging iterator into new
// tables of the output level, or moves them down unchanged when nothing there overlaps them, and
// installs the result: the MANIFEST (the commit point) names every table added and removed at
// once, then the store's current version and read view change, and the merged inputs are
// retired (version_set.hpp) to be deleted once nobody reads them.
//
// Thread safety: run on the compaction thread (run_merge) and the flush thread (install, under
// the MANIFEST's mutex); they take store_core's locks as annotated.
#ifndef LSMT_MERGE_RUN_HPP
#define LSMT_MERGE_RUN_HPP

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compaction_job.hpp"
#include "merging_iterator.hpp"
#include "range_tombstones.hpp"
#include "shadowing.hpp"
#include "store_core.hpp"
#include "table_writer.hpp"
#include "thread_annotations.hpp"
#include "version.hpp"
#include "version_set.hpp"

namespace lsmt::detail {

/// "2 tables (#12 #13, 4194304 bytes)", for the logger; the first 8 numbers at most.
inline std::string describe_tables(const table_list& tables) {
  std::string out = std::to_string(tables.size()) + (tables.size() == 1 ? " table (" : " tables (");
  for (size_t i = 0; i < tables.size() && i < 8; ++i) {
    out += "#" + std::to_string(tables[i]->meta().number) + " ";
  }
  if (tables.size() > 8) out += "... ";
  return out + std::to_string(total_size(tables)) + " bytes)";
}

/// Makes `levels` the live tables: MANIFEST first (the commit point), then memory. The oldest
/// `flushed_imms` immutable memtables are in `levels` now.
inline void install(store_core& c, std::array<table_list, max_levels> levels, size_t flushed_imms)
    LSMT_REQUIRES(c.versions.manifest_mutex()) LSMT_EXCLUDES(c.state_mutex) {
  manifest_state m;
  {
    lock_guard s(c.state_mutex);
    m.log_number = c.oldest_needed_log(flushed_imms);
  }
  m.next_file_number = c.versions.next_file_number();
  m.last_sequence = c.last_sequence.load();
  std::shared_ptr<const version> v = c.versions.make_version(std::move(levels));
  m.tables = v->manifest_tables();
  m.blobs = v->manifest_blobs();
  c.versions.write_manifest(m);
  std::shared_ptr<const version> before;  // install()s are serialized: still the current one
  {
    lock_guard s(c.state_mutex);
    before = c.current;
  }
  if (before) c.versions.retire_blobs(*before, *v);
  lock_guard s(c.state_mutex);
  c.current = std::move(v);
  for (size_t i = 0; i < flushed_imms; ++i) c.imms.pop_back();
  c.publish_view();
}

/// What a merge did, for the counters and the logger.
struct merge_result {
  uint64_t entries = 0;             // in the output
  uint64_t bytes_in = 0;            // of the tables that came down (job.inputs)
  uint64_t bytes_read = 0;          // of the inputs (0 for a move)
  uint64_t bytes_written = 0;       // of the outputs (0 for a move), blob files included
  uint64_t blob_bytes_written = 0;  // of them, the blob files it wrote (collection)
  bool moved = false;
  std::string summary;  // for the logger
};

/// Garbage collection of blob files (blob_set.hpp): a merge into the bottom level copies the
/// values its entries keep in a blob file whose garbage (the bytes no table refers to any more,
/// of overwritten and deleted values) is at least blob_gc_garbage of its records into a blob
/// file of its own. Such files then lose their references as the merges sweep the key space,
/// and go. A fill, which leaves no garbage, rewrites no value.
inline constexpr double blob_gc_garbage = 0.25;

/// The blob files of `v` that a merge into its bottom level collects: numbers, ascending.
inline std::vector<uint64_t> blob_gc_files(const version& v) {
  std::vector<uint64_t> out;
  for (const version::blob_file_use& b : v.blob_garbage()) {
    if (static_cast<double>(b.garbage) >= static_cast<double>(b.record_bytes) * blob_gc_garbage) {
      out.push_back(b.meta.number);
    }
  }
  return out;
}

/// Sets `plan` to collect the blob files of `inputs` that `collect` lists (ascending; see
/// blob_gc_garbage), or all of them if `all` (compact()). The values it copies go into a new
/// blob file if they have at least `min_size` bytes (options::blob_min_size), else, or if it is
/// 0, into the tables.
inline void collect_blobs(table_write_plan& plan, const table_list& inputs,
                          std::vector<uint64_t> collect, bool all, size_t min_size) {
  if (collect.empty() && !all) return;
  plan.relocate_min_size = min_size;
  auto files = std::make_shared<std::map<uint64_t, std::shared_ptr<const blob_handle>>>();
  for (const auto& t : inputs) {
    for (const auto& b : t->blobs()) (*files)[b->meta().number] = b;
  }
  if (files->empty()) return;
  if (all) {
    plan.relocate = [](uint64_t) { return true; };
  } else {
    plan.relocate = [collect = std::move(collect)](uint64_t file) {
      return std::binary_search(collect.begin(), collect.end(), file);
    };
  }
  plan.read_blob = [files](std::string_view ikey, std::string_view ref, std::string& out) {
    blob_ref r;
    const auto it = decode_blob_ref(ref, &r) ? files->find(r.file) : files->end();
    if (it == files->end()) {
      throw corruption_error("lsmt: a merge's input refers to a blob file it does not list");
    }
    read_blob_value({it->second}, extract_user_key(ikey), extract_sequence(ikey), ref, out);
  };
}

/// A merge reads at most this many of its inputs through descriptors of their own
/// (version_set::scan_table); the rest through their open readers.
inline constexpr size_t max_scan_files = 64;

/// Runs `job`: merges its inputs (or moves them, if nothing overlaps them) and installs the
/// output in output_level in their place. `sampler` sets the outputs' shadowing shares.
inline merge_result run_merge(store_core& c, const compaction_job& job,
                              const table_write_plan& plan, const shadowing_sampler& sampler)
    LSMT_EXCLUDES(c.state_mutex) {
  table_list inputs = job.inputs;
  inputs.insert(inputs.end(), job.overlapped.begin(), job.overlapped.end());
  table_list outputs;
  merge_result r;
  std::string from;  // for the logger, before the inputs are replaced
  if (c.logging()) {
    from = job.full ? "every level, " + describe_tables(inputs) + ","
                    : "level " + std::to_string(job.level) + " " + describe_tables(job.inputs) +
                          " and level " + std::to_string(job.output_level) + " " +
                          describe_tables(job.overlapped);
  }
  if (job.move) {
    outputs = job.inputs;
  } else {
    std::vector<std::unique_ptr<internal_iterator>> children;
    children.reserve(inputs.size());
    range_tombstones dels;  // the inputs' range deletions
    for (const auto& t : inputs) {
      // A descriptor of its own for each of the first max_scan_files inputs, so that merging
      // a whole large store cannot take every descriptor the process may open.
      children.push_back(children.size() < max_scan_files ? c.versions.scan_table(*t)
                                                          : t->reader().new_iterator(false));
      if (const auto& mine = t->reader().range_deletions()) dels.add_all(*mine);
    }
    merging_iterator merged(std::move(children));
    merged.seek_to_first();
    table_write_plan with_dels = plan;
    if (!dels.empty()) with_dels.range_dels = &dels;
    {
      std::shared_ptr<const version> now;
      {
        lock_guard s(c.state_mutex);
        now = c.current;
      }
      // compact() rewrites every value it keeps, so that the store holds no garbage after it.
      if (job.full) {
        collect_blobs(with_dels, inputs, {}, true, c.opts.blob_min_size);
      } else if (job.output_level >= now->bottom_level()) {
        collect_blobs(with_dels, inputs, blob_gc_files(*now), false, c.opts.blob_min_size);
      }
    }
    outputs = c.versions.write_tables(merged, with_dels);
    sampler.apply(outputs);
  }
  for (const auto& t : outputs) r.entries += t->meta().entries;
  r.bytes_in = total_size(job.inputs);
  if (job.move) {
    r.moved = true;
    if (c.logging()) {
      r.summary = "moved " + describe_tables(outputs) + " from level " + std::to_string(job.level) +
                  " to level " + std::to_string(job.output_level);
    }
  } else {
    r.bytes_read = total_size(inputs);
    r.blob_bytes_written = new_blob_bytes(outputs, inputs);
    r.bytes_written = total_size(outputs) + r.blob_bytes_written;
    if (c.logging()) {
      const char* why = job.read_triggered   ? "read-triggered "
                        : job.seek_triggered ? "seek-triggered "
                        : job.idle_triggered ? "idle-triggered "
                                             : "";
      r.summary = why + ("merged " + from) + " into level " + std::to_string(job.output_level) +
                  " " + describe_tables(outputs);
    }
  }
  {
    lock_guard m(c.versions.manifest_mutex());
    std::shared_ptr<const version> now;
    {
      // Flushes may have added level-0 tables since the pick; the inputs are all still there
      // because only merges (this thread) remove tables.
      lock_guard s(c.state_mutex);
      now = c.current;
    }
    install(c, edit_levels(*now, inputs, job.output_level, outputs), 0);
  }
  if (!job.move) c.versions.retire(inputs);
  return r;
}

}  // namespace lsmt::detail

#endif  // LSMT_MERGE_RUN_HPP
