// lsmt/compaction_job.hpp - a merge to run (compaction_picker.hpp picks most of them), and the
// steps of compact_range(), which merge a key range down level by level.
//
// Thread safety: a compaction_job is a plain value. range_job reads only the version, which is
// immutable, and its arguments; *level is the caller's to guard (store_core's range_request,
// under state_mutex).
#ifndef LSMT_COMPACTION_JOB_HPP
#define LSMT_COMPACTION_JOB_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "version.hpp"

namespace lsmt::detail {

/// A merge to run: tables of `level` (with the tables of output_level they overlap), or every
/// table for compact(). Inputs are held here, so they outlive any version change.
struct compaction_job {
  size_t level = 0;             // where `inputs` are
  size_t output_level = 0;      // where the output goes
  table_list inputs;            // tables of `level` (every table, for a full merge)
  table_list overlapped;        // tables of output_level that overlap the inputs
  bool full = false;            // every table, into the bottom level: compact()
  bool move = false;            // the inputs move to output_level unchanged (nothing overlaps them)
  bool read_triggered = false;  // asked for by scans (its result adjusts the back-off)
  bool seek_triggered = false;  // merged below its target because seeks paid for it
  bool idle_triggered = false;  // level 0 merged below its trigger: writes stopped (idle_settle)
  uint64_t target_size = 0;     // output file size (0: one file)
  size_t max_files = 0;         // at most this many output files (0: no limit)
  bool empty() const { return inputs.empty(); }
};

/// compact_range()'s next step (engine_impl.hpp; the background thread runs it), for the user
/// keys [lo, hi] (nullopt: unbounded). *level is where the step starts (0 at first) and is
/// advanced for the next step:
///   - the tables of the first level from *level up to the one above the bottom that overlap
///     the range (every level-0 table if any does, as a level-0 merge takes them), merged with
///     what they overlap in the next level holding data, or the bottom level; the output level
///     is where the next step starts. A step into the bottom level is the last.
///   - if no level above the bottom overlaps the range, the range's data is in the bottom
///     level already: one step rewrites its tables there in place, dropping what no reader
///     needs any more (what a released snapshot kept, say).
/// Steps are never moves: the point is to rewrite. Outputs are cut at target_file_size. Empty
/// once the range is done.
inline compaction_job range_job(const version& v, const std::optional<std::string>& lo,
                                const std::optional<std::string>& hi, size_t* level,
                                uint64_t target_file_size) {
  constexpr size_t last = max_levels - 1;
  if (*level >= max_levels) return {};
  const auto in_range = [&](const table_handle& t) {
    return (!lo || compare_user_keys(t.largest_user_key(), *lo) >= 0) &&
           (!hi || compare_user_keys(t.smallest_user_key(), *hi) <= 0);
  };
  compaction_job job;
  job.target_size = target_file_size;
  for (size_t l = *level; l < last && job.inputs.empty(); ++l) {
    for (const auto& t : v.levels[l]) {
      if (in_range(*t)) job.inputs.push_back(t);
    }
    if (l == 0 && !job.inputs.empty()) job.inputs = v.levels[0];
    job.level = l;
  }
  if (job.inputs.empty()) {  // the bottom level, in place
    for (const auto& t : v.levels[last]) {
      if (in_range(*t)) job.inputs.push_back(t);
    }
    job.level = job.output_level = last;
    *level = max_levels;
    return job.inputs.empty() ? compaction_job{} : job;
  }
  const size_t out = v.next_level_holding(job.level);
  job.output_level = out;
  const auto [first, end] = key_range(job.inputs);
  job.overlapped = v.overlapping(out, first, end);
  *level = out == last ? max_levels : out;
  return job;
}

}  // namespace lsmt::detail

#endif  // LSMT_COMPACTION_JOB_HPP
