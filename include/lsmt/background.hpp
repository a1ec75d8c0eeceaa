// lsmt/background.hpp - the flush thread and the compaction thread.
//
// The flush thread writes the oldest immutable memtable to tables (dropping the versions no
// snapshot can see), then installs them: the MANIFEST names the new tables and retires the
// memtable's log (the commit point), then the store's current version and read view change,
// and the log file is deleted and closed.
//
// The compaction thread asks the picker (compaction_picker.hpp) for a merge whenever one may be
// due, and runs it (merge_run.hpp): merges the chosen tables into new tables of the output level
// (dropping what no reader can see, and deletions no deeper level needs), or moves them down
// unchanged when nothing overlaps them, installs the result (one MANIFEST for every table it adds
// and removes), and retires the inputs (version_set.hpp); once they are released it deletes the
// retired tables nobody reads any more (releasing a version does the same). While nothing is due it
// watches for writes to stop and then settles the store (idle_settle.hpp): it rotates the memtable
// through write_path::try_rotate_when_idle and, once that is flushed, merges level 0 down. Only
// this thread removes tables or changes the sorted levels, so a merge's picture of the levels below
// level 0 stays true while it runs; flushes only add level-0 tables.
//
// A failure stops writes (store_core::fail) and is reported to the next writer; reads go on.
// When the store starts closing, both threads stop: an unflushed memtable stays in its log,
// and a running merge is cancelled (its files are deleted).
//
// Thread safety: start() and join() are called by the engine, once each; everything else runs
// on the two threads.
#ifndef LSMT_BACKGROUND_HPP
#define LSMT_BACKGROUND_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "compaction_job.hpp"
#include "compaction_picker.hpp"
#include "idle_settler.hpp"
#include "merge_run.hpp"
#include "shadowing.hpp"
#include "store_core.hpp"
#include "table_writer.hpp"
#include "thread_annotations.hpp"
#include "thread_tuning.hpp"
#include "version_set.hpp"

namespace lsmt::detail {

class background_work {
 public:
  /// `writes` rotates the memtable for a settle (idle_settle.hpp).
  background_work(store_core& core, write_path& writes) : c_(core), settler_(core.opts, writes) {}
  background_work(const background_work&) = delete;
  background_work& operator=(const background_work&) = delete;
  ~background_work() { join(); }

  /// Starts both threads. If the second cannot start, stops the first (the store is then
  /// closing) and throws.
  void start() {
    flush_thread_ = std::thread([this] { flush_loop(); });
    try {
      compaction_thread_ = std::thread([this] { compaction_loop(); });
    } catch (...) {
      {
        lock_guard s(c_.state_mutex);
        c_.set_life(lifecycle::closing);
      }
      join();
      throw;
    }
  }
  /// Waits for both threads to stop (call after the store started closing).
  void join() {
    if (flush_thread_.joinable()) flush_thread_.join();
    if (compaction_thread_.joinable()) compaction_thread_.join();
  }

  /// No memtable awaits its flush, no flush or merge is running (with the deletion of the log
  /// or tables it made obsolete, if nobody holds them) and no merge is due
  /// (wait_for_compactions).
  static bool idle(const store_core& c) LSMT_REQUIRES(c.state_mutex) {
    return c.imms.empty() && !c.flushing && !c.compacting && c.manual_requested <= c.manual_done &&
           c.range_requests.empty() && !c.settle_due && c.picker.idle(*c.current);
  }

 private:
  // ---- flushes ----

  void flush_loop() LSMT_EXCLUDES(c_.state_mutex) {
    name_this_thread("lsmt:flush");
    unique_lock s(c_.state_mutex);
    for (;;) {
      while (!c_.closing() && (c_.imms.empty() || c_.failed.load())) c_.work_cv.wait(s);
      if (c_.closing()) return;  // unflushed memtables stay in their logs
      const imm_slot slot = c_.imms.back();
      const uint64_t smallest = c_.smallest_snapshot();
      c_.flushing = true;
      s.unlock();
      flush_result done;
      try {
        done = flush_one(slot, smallest);
      } catch (const std::exception& e) {
        const std::string why = std::string("flush failed: ") + e.what();
        s.lock();
        c_.flushing = false;
        c_.fail(why);
        s.unlock();  // writes are stopped before the logger hears of it
        c_.log(log_level::error, why + "; writes are stopped until the store is reopened");
        s.lock();
        continue;
      }
      s.lock();
      c_.flushing = false;
      c_.flush_bytes += done.bytes + done.blob_bytes;
      c_.blob_bytes += done.blob_bytes;
      ++c_.flushes;
      c_.progress_cv.notify_all();
      c_.work_cv.notify_all();  // the compaction thread may now have work
      if (c_.logging()) {
        s.unlock();  // waiters go on while the logger runs
        c_.log(log_level::info, "flushed the memtable of log " + std::to_string(slot.log_number) +
                                    " to " + done.tables);
        s.lock();
      }
    }
  }

  struct flush_result {
    uint64_t bytes = 0;       // of the tables written
    uint64_t blob_bytes = 0;  // of the blob files written
    std::string tables;       // what they are, for the logger
  };

  flush_result flush_one(const imm_slot& slot, uint64_t smallest_snapshot)
      LSMT_EXCLUDES(c_.state_mutex) {
    flush_result result;
    {
      auto it = slot.mem->new_iterator();
      it->seek_to_first();
      std::shared_ptr<const version> below;
      {
        lock_guard s(c_.state_mutex);
        below = c_.current;
      }
      shadowing_sampler sampler(std::move(below), 0);  // declared first: it outlives the plan
      table_write_plan plan;
      plan.smallest_snapshot = smallest_snapshot;
      plan.blob_min_size = c_.opts.blob_min_size;
      const range_tombstones dels = slot.mem->range_deletions();
      plan.range_dels = &dels;
      sampler.attach(plan);
      const table_list tables = c_.versions.write_tables(*it, plan);
      sampler.apply(tables);
      result = {total_size(tables), new_blob_bytes(tables, {}),
                c_.logging() ? describe_tables(tables) : std::string()};
      lock_guard m(c_.versions.manifest_mutex());
      std::shared_ptr<const version> now;
      {
        lock_guard s(c_.state_mutex);
        now = c_.current;
      }
      install(c_, edit_levels(*now, {}, 0, tables), 1);
    }
    // A merge may have taken the new tables and retired them while `tables` still held them:
    // nobody else would delete them now.
    c_.versions.delete_obsolete_files();
    c_.versions.remove_quietly(c_.logs.path(slot.log_number));
    c_.logs.close_flushed(slot.log_number);
    return result;
  }

  // ---- merges ----

  bool compaction_due() const LSMT_REQUIRES(c_.state_mutex) {
    if (c_.manual_requested > c_.manual_done) return true;
    if (c_.failed.load()) return false;
    return !c_.range_requests.empty() || c_.picker.due(*c_.current) || idle_settler::ready(c_);
  }

  void compaction_loop() LSMT_EXCLUDES(c_.state_mutex) {
    // Priority first: once the name shows (ps, /proc), the nice value it shows is final.
    lower_this_thread_priority(c_.opts.compaction_nice);
    name_this_thread("lsmt:compact");
    unique_lock s(c_.state_mutex);
    bool range_turn = false;  // whether a compact_range() step goes next
    for (;;) {
      while (!c_.closing() && !compaction_due()) {
        if (!settler_.wait_for_quiet(c_, s)) continue;
        const size_t entries = c_.mem->entry_count();
        s.unlock();
        const bool settling = settler_.rotate(c_, entries);
        s.lock();
        if (settling) {
          c_.settle_due = true;  // level 0 merges once the flush is done (settler_.ready)
          ++c_.settles;
        }
      }
      if (c_.closing()) return;
      const uint64_t manual = c_.manual_requested;
      const bool forced = manual > c_.manual_done;
      std::shared_ptr<const version> picked = c_.current;
      compaction_job job;
      // A compact_range() takes turns with the merges the layout needs (level 0 must not fill
      // up meanwhile). Both only move data down, so neither undoes the other's steps.
      range_turn = !range_turn || !c_.picker.due(*picked);
      if (!forced && !c_.range_requests.empty() && range_turn) {
        range_request& r = c_.range_requests.front();
        job = range_job(*picked, r.lo, r.hi, &r.level, c_.opts.target_file_size);
        if (job.empty()) {  // the range is done
          c_.range_done = r.ticket;
          c_.range_requests.pop_front();
          c_.progress_cv.notify_all();
          continue;
        }
      } else {
        job = c_.picker.pick(*picked, forced);
        if (job.empty() && idle_settler::ready(c_)) {
          c_.settle_due = false;
          job = c_.picker.settle_job(*picked);
          if (job.empty()) {  // level 0 is empty (a merge emptied it), or merging it does not pay
            c_.progress_cv.notify_all();
            continue;
          }
        }
      }
      if (job.empty()) {
        if (forced) {
          c_.manual_done = manual;
          c_.progress_cv.notify_all();
          continue;
        }
        // Due but nothing to pick (pick() took a read sampler's due flag, say): what
        // wait_for_compactions() waits on may have changed. Then wait for a change.
        c_.progress_cv.notify_all();
        c_.work_cv.wait(s);
        continue;
      }
      table_write_plan plan;
      plan.smallest_snapshot = c_.smallest_snapshot();
      // Only this thread changes the levels below level 0, so `picked` stays right about them.
      plan.drop_tombstones = job.full;
      plan.older_outside = [picked, out = job.output_level](std::string_view user_key) {
        return picked->deeper_may_hold(out, user_key);
      };
      plan.older_outside_range = [picked, out = job.output_level](std::string_view lo,
                                                                  std::string_view hi) {
        return picked->deeper_may_hold_range(out, lo, hi);
      };
      plan.cancelled = [this] { return c_.closing(); };
      plan.target_size = job.target_size;
      plan.max_files = job.max_files;
      plan.boundaries = picked->table_ends_below(job.output_level);
      plan.no_filter = !c_.opts.bottom_level_filters && job.output_level == max_levels - 1;
      std::optional<shadowing_sampler> sampler(std::in_place, picked, job.output_level);
      sampler->attach(plan);
      uint64_t input_entries = 0;
      for (const auto& t : job.inputs) input_entries += t->meta().entries;
      for (const auto& t : job.overlapped) input_entries += t->meta().entries;
      c_.compacting = true;
      settler_.merge_starts(c_);
      s.unlock();
      std::string error;
      merge_result result;
      bool done = false;
      try {
        result = run_merge(c_, job, plan, *sampler);
        done = true;
      } catch (const table_write_cancelled&) {  // closing
      } catch (const std::exception& e) {
        error = std::string("compaction failed: ") + e.what();
      }
      if (done && c_.logging()) c_.log(log_level::info, result.summary);
      // Let go of the inputs (the job and the version they were picked from hold them), then
      // delete what nobody holds: relying on the last release of that version alone would miss
      // an input that some other holder, such as a flush, let go of last.
      const bool read_triggered = job.read_triggered;
      const bool full = job.full;
      const size_t output_level = job.output_level;
      plan = {};
      sampler.reset();
      job = {};
      picked.reset();
      c_.versions.delete_obsolete_files();
      s.lock();
      c_.compacting = false;
      if (!done) {
        if (!error.empty()) {
          c_.fail(error);
          if (forced) c_.manual_done = manual;  // compact() reports the failure; no retry loop
        }
        c_.progress_cv.notify_all();
        if (!error.empty()) {
          s.unlock();  // writes are stopped before the logger hears of it
          c_.log(log_level::error, error + "; writes are stopped until the store is reopened");
          s.lock();
        }
        continue;
      }
      ++c_.compactions;
      if (result.moved) ++c_.moves;
      c_.compaction_bytes_read += result.bytes_read;
      c_.compaction_bytes_written += result.bytes_written;
      c_.blob_bytes += result.blob_bytes_written;
      lsmt::level_merge_stats& into = c_.level_merges[output_level];
      ++into.merges;
      into.moves += result.moved ? 1 : 0;
      into.bytes_in += result.bytes_in;
      into.bytes_read += result.bytes_read;
      into.bytes_written += result.bytes_written;
      if (forced) c_.manual_done = manual;
      c_.picker.finished(full, read_triggered, input_entries, result.entries, *c_.current);
      c_.progress_cv.notify_all();  // writers may wait on the table count; compact() too
    }
  }

  store_core& c_;
  idle_settler settler_;  // the compaction thread's alone
  std::thread flush_thread_;
  std::thread compaction_thread_;
};

}  // namespace lsmt::detail

#endif  // LSMT_BACKGROUND_HPP
