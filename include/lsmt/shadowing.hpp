// lsmt/shadowing.hpp - how much of a new table shadows older versions deeper down: the estimate
// the space slowdown (write_throttle.hpp) holds to the bottom level's share.
//
// A key in a level above the bottom takes space twice only while an older version of it waits
// deeper down: an overwrite's keys do, a fill's new keys do not. When a flush or merge writes
// tables above the bottom level, it offers this sampler the first user key of each output file
// and every 64th after it (table_write_plan::sample), and the sampler asks the levels below the
// output level whether they may hold that key: their key ranges, then their bloom filters
// (version::deeper_filters_may_hold). The share of the samples found is the table's
// shadowing_share(), set before the table is installed.
//
// - A fill's tables find about the filters' false-positive rate for each deeper level holding
//   tables (about 1% per level at 10 bits per key), an overwrite's nearly all of their keys,
//   from the first table on: the deeper levels answer for the key as written, so the estimate
//   does not lag behind a change of workload.
// - In levels 1 and below, a key's older version stays below its newer one until a merge takes
//   both, which also replaces the table, so a table's share holds for as long as the table
//   lives. A table moved down unchanged keeps its share. A flush is sampled against the version
//   current when it starts, and level 0's own older tables are not asked (level 0's slowdown
//   bounds them), so a level-0 table may undercount by what other level-0 tables held, or what
//   a level-0 merge running beside the flush moved below it.
// - A deletion is sampled like a put: it counts as one version shadowing another, though both
//   go once merged into the bottom. Without bottom_level_filters, the bottom level answers yes
//   for every key in its tables' ranges, and nearly every key counts.
// - Tables opened from disk, tables written into the bottom level, and files of range deletions
//   alone are not sampled: their share is 1 (the space slowdown then counts them whole, as it
//   did before this estimate). The tables an open flushes from the logs are sampled against
//   the sorted levels the MANIFEST listed (recovery.hpp).
// Cost: one probe of each deeper level per 64 keys written, at most 6 searches and filter
// checks, with no I/O beyond the filters' pages.
//
// Thread safety: a sampler belongs to the one thread writing the tables; the version it reads
// is immutable.
#ifndef LSMT_SHADOWING_HPP
#define LSMT_SHADOWING_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "table_writer.hpp"
#include "version.hpp"

namespace lsmt::detail {

class shadowing_sampler {
 public:
  /// Samples against the levels of `v` below `output_level`.
  shadowing_sampler(std::shared_ptr<const version> v, size_t output_level)
      : v_(std::move(v)), output_level_(output_level) {}

  /// Asks `plan` for samples, unless the output goes into the bottom level (no level is below
  /// it). The plan must not outlive the sampler.
  void attach(table_write_plan& plan) {
    if (output_level_ + 1 >= max_levels) return;
    plan.sample = [this](size_t file, std::string_view user_key) { add(file, user_key); };
  }

  /// Sets the shadowing_share() of each of `outputs`, the write's tables in order, that was
  /// sampled.
  void apply(const table_list& outputs) const {
    for (size_t i = 0; i < outputs.size() && i < files_.size(); ++i) {
      const auto [samples, found] = files_[i];
      if (samples != 0) {
        outputs[i]->set_shadowing_share(static_cast<double>(found) / static_cast<double>(samples));
      }
    }
  }

  /// The samples of output file `file` so far, and how many of them a deeper level may hold.
  std::pair<uint64_t, uint64_t> counts(size_t file) const {
    return file < files_.size() ? files_[file] : std::pair<uint64_t, uint64_t>{};
  }

 private:
  void add(size_t file, std::string_view user_key) {
    if (files_.size() <= file) files_.resize(file + 1);
    ++files_[file].first;
    if (v_->deeper_filters_may_hold(output_level_, user_key)) ++files_[file].second;
  }

  std::shared_ptr<const version> v_;
  size_t output_level_;
  std::vector<std::pair<uint64_t, uint64_t>> files_;  // per output file: samples, found below
};

}  // namespace lsmt::detail

#endif  // LSMT_SHADOWING_HPP
