// lsmt/engine_impl.hpp - the engine (engine.hpp) and its parts.
//
// The engine owns the parts and offers the entry points lsmt::db calls:
//   store_core.hpp    the shared state: memtables, current version, snapshots, lifecycle
//   write_path.hpp    the writer queue, group commit and memtable rotation
//   log_set.hpp       the write-ahead logs: the current one, earlier ones, syncing, closing
//   read_path.hpp     read views, point lookups and iterators
//   background.hpp    the flush thread and the compaction thread
//   merge_run.hpp     one merge, run and installed
//   shadowing.hpp     what share of a new table shadows older versions (the space slowdown's)
//   compaction_picker.hpp  what to merge: leveled, forced, read- and seek-triggered merges
//   compaction_job.hpp     a merge to run, and compact_range()'s steps
//   version_set.hpp   the live tables, file numbers, MANIFEST writes, obsolete tables
//   recovery.hpp      open: the MANIFEST, log replay, leftovers
//   file_names.hpp    the directory layout
//
// Thread safety: every public member may be called from any thread at any time, including
// close() racing with other calls (they then throw closed_error). Lock order (a lock may be
// taken while holding only locks listed before it):
//   close_mutex_ > checkpoint_mutex_ > verify_readers_ > write_path's queue mutex
//     > version_set's manifest mutex > read_sampler's mutex > store_core::state_mutex
//     > version_set's obsolete-table and range-deletion cache mutexes, log_set's mutex
//     > the leaf locks inside memtable, block_cache and arena.
// The write leader also holds log_set::writer_role (a role, not a lock) while it leads.
#ifndef LSMT_ENGINE_IMPL_HPP
#define LSMT_ENGINE_IMPL_HPP

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "background.hpp"
#include "checkpoint.hpp"
#include "db_iterator.hpp"
#include "engine.hpp"
#include "error.hpp"
#include "options.hpp"
#include "properties.hpp"
#include "read_path.hpp"
#include "recovery.hpp"
#include "stats.hpp"
#include "store_core.hpp"
#include "thread_annotations.hpp"
#include "verify.hpp"
#include "write_batch.hpp"
#include "write_path.hpp"

namespace lsmt::detail {

// engine's parts and the work behind each of its members (engine.hpp forwards to it and
// documents them).
class engine_impl {
 public:
  engine_impl(const std::filesystem::path& dir, const options& opts)
      : core_(dir.string(), validated(opts, dir), table_options_of(opts)) {
    lock_ = recover(core_);
    std::string opened;
    {
      lock_guard s(core_.state_mutex);
      opened = "opened '" + core_.dir + "': " + std::to_string(core_.current->table_count()) +
               " tables, " + std::to_string(core_.current->total_bytes()) +
               " bytes, last sequence " + std::to_string(latest_sequence());
    }
    core_.log(log_level::info, opened);
    background_.start();
    core_.sampler->set_wake([this] {
      lock_guard s(core_.state_mutex);
      core_.work_cv.notify_all();
    });
  }
  engine_impl(const engine_impl&) = delete;
  engine_impl& operator=(const engine_impl&) = delete;
  ~engine_impl() {
    try {
      close();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; call close()
    }
  }

  void write(raw_batch& batch, bool sync, const std::function<void()>* check = nullptr) {
    writes_.run(write_path::kind::write, &batch, sync || core_.opts.sync, check);
  }

  bool get(std::string_view key, std::optional<uint64_t> snapshot, std::string& value,
           std::string* scratch = nullptr) const {
    core_.ensure_open();
    const auto view = core_.current_view();
    const uint64_t seq = snapshot ? *snapshot : latest_sequence();  // after the pin: read_path.hpp
    // A lookup writes only the value it returns; given scratch, it also leaves value alone
    // when a range deletion hides the version it found (read_path.hpp).
    value_type type{};
    uint64_t found_seq = 0;
    return lookup(*view, key, seq, &type, &value, &found_seq, &core_.reads, scratch) &&
           type == value_type::value;
  }

  uint64_t newest_sequence(std::string_view key) const {
    const auto view = core_.current_view();
    value_type type{};
    uint64_t seq = 0;
    return lookup(*view, key, max_sequence, &type, nullptr, &seq) ? seq : 0;
  }

  uint64_t latest_sequence() const { return core_.last_sequence.load(std::memory_order_acquire); }

  std::vector<std::unique_ptr<db_iterator>> new_iterators(
      std::optional<uint64_t> snapshot,
      std::vector<key_bounds> segments) const {  // NOLINT(performance-unnecessary-value-param)
    core_.ensure_open();
    std::shared_ptr<const read_view> view = core_.current_view();
    const uint64_t seq = snapshot ? *snapshot : latest_sequence();  // after the pin, as in get()
    return make_iterators(view, seq, std::move(segments), core_.sampler);
  }
  std::unique_ptr<db_iterator> new_iterator(std::optional<uint64_t> snapshot,
                                            std::optional<std::string> lower,
                                            std::optional<std::string> upper) const {
    core_.ensure_open();
    std::shared_ptr<const read_view> view = core_.current_view();
    const uint64_t seq = snapshot ? *snapshot : latest_sequence();  // after the pin, as in get()
    return make_iterator(view, seq, std::move(lower), std::move(upper), core_.sampler);
  }

  uint64_t acquire_snapshot() {
    core_.ensure_open();
    lock_guard s(core_.state_mutex);
    const uint64_t seq = latest_sequence();
    core_.snapshots.insert(seq);
    return seq;
  }
  void release_snapshot(uint64_t seq) noexcept {
    lock_guard s(core_.state_mutex);
    auto it = core_.snapshots.find(seq);
    if (it != core_.snapshots.end()) core_.snapshots.erase(it);
  }

  void flush() {
    writes_.run(write_path::kind::rotate, nullptr, false, nullptr);
    unique_lock s(core_.state_mutex);
    // Memtables are flushed in the order they were rotated out.
    const uint64_t target = core_.rotations;
    while (core_.flushes < target && !core_.failed.load() && !core_.closing()) {
      core_.progress_cv.wait(s);
    }
    finish_wait();
  }

  void compact() {
    flush();
    unique_lock s(core_.state_mutex);
    const uint64_t target = ++core_.manual_requested;
    core_.work_cv.notify_all();
    while (core_.manual_done < target && !core_.failed.load() && !core_.closing()) {
      core_.progress_cv.wait(s);
    }
    finish_wait();
  }

  void compact_range(std::optional<std::string> lo, std::optional<std::string> hi) {
    flush();
    unique_lock s(core_.state_mutex);
    const uint64_t ticket = ++core_.range_requested;
    core_.range_requests.push_back(range_request{std::move(lo), std::move(hi), 0, ticket});
    core_.work_cv.notify_all();
    while (core_.range_done < ticket && !core_.failed.load() && !core_.closing()) {
      core_.progress_cv.wait(s);
    }
    finish_wait();
  }

  uint64_t approximate_size(const std::optional<std::string>& lo,
                            const std::optional<std::string>& hi) const {
    core_.ensure_open();
    const auto view = core_.current_view();
    uint64_t bytes = 0;
    for (const table_list& level : view->tables->levels) {
      for (const auto& t : level) {
        if (lo && compare_user_keys(t->largest_user_key(), *lo) < 0) continue;
        if (hi && compare_user_keys(t->smallest_user_key(), *hi) >= 0) continue;
        const table_reader& r = t->reader();
        const uint64_t begin = lo ? r.approximate_offset(*lo) : 0;
        const uint64_t end = hi ? r.approximate_offset(*hi) : r.file_size();
        if (end > begin) bytes += end - begin;
      }
    }
    return bytes;
  }

  void checkpoint(const std::filesystem::path& dest) LSMT_EXCLUDES(checkpoint_mutex_) {
    lock_guard one_at_a_time(checkpoint_mutex_);  // two checkpoints to one dest share a tmp
    flush();
    write_checkpoint(core_, dest.string(), [this](const std::function<void()>& fn) {
      write_path::log_position at;
      const std::function<void()> run = [&] {
        at = writes_.barrier_log();  // read inside: another barrier may follow this one
        fn();
      };
      writes_.run(write_path::kind::barrier, nullptr, false, &run);
      return at;
    });
    core_.log(log_level::info, "checkpoint written to '" + dest.string() + "'");
  }

  verify_report verify() const LSMT_EXCLUDES(verify_readers_) {
    shared_lock reading(verify_readers_);  // close() keeps the store locked until it is done
    core_.ensure_open();
    const auto view = core_.current_view();
    return verify_tables(*core_.fs, core_.dir, core_.versions.store_id(),
                         table_options_of(core_.opts), *view->tables);
  }

  std::optional<std::string> property(std::string_view name) const {
    const lsmt::stats st = stats();
    return property_text(name, st, *core_.current_view()->tables);
  }

  void wait_for_compactions() {
    core_.ensure_open();
    unique_lock s(core_.state_mutex);
    while (!background_work::idle(core_) && !core_.failed.load() && !core_.closing()) {
      core_.progress_cv.wait(s);
    }
    finish_wait();
  }

  void close() LSMT_EXCLUDES(close_mutex_, checkpoint_mutex_, verify_readers_) {
    lock_guard c(close_mutex_);
    if (core_.closing()) return;
    core_.sampler->set_wake(nullptr);  // iterators may outlive the store
    std::exception_ptr err;
    try {
      writes_.run(write_path::kind::close, nullptr, false, nullptr);  // after writes in flight
    } catch (...) {
      err = std::current_exception();
    }
    {
      lock_guard s(core_.state_mutex);
      core_.set_life(lifecycle::closing);  // done by the close request, unless it failed early
    }
    background_.join();
    core_.versions.close();  // deletes what nobody holds; the rest is the next open's
    {
      lock_guard s(core_.state_mutex);
      core_.set_life(lifecycle::closed);
    }
    {
      // A checkpoint past its barrier may still be linking this store's tables; the next open
      // (here or in another process) could delete those a merge had replaced, so the store
      // stays locked until it is done. It fails fast now if it has not reached its barrier.
      lock_guard wait(checkpoint_mutex_);
    }
    {
      // verify() opens the tables of its version by name: likewise, until it is done.
      exclusive_lock wait(verify_readers_);
    }
    lock_.reset();
    if (err) std::rethrow_exception(err);
  }

  bool is_open() const { return !core_.closing(); }

  lsmt::stats stats() const {
    core_.ensure_open();
    lock_guard s(core_.state_mutex);
    return core_.stats();
  }

  void ensure_open() const { core_.ensure_open(); }

  const lsmt::recovery_report& recovery() const {
    core_.ensure_open();
    return core_.recovery;
  }

 private:
  static const options& validated(const options& opts, const std::filesystem::path& dir) {
    validate(opts, dir);
    return opts;
  }

  // After a wait for background progress: throws the background error or closed_error.
  void finish_wait() const LSMT_REQUIRES(core_.state_mutex) {
    core_.throw_if_failed();
    if (core_.closing()) throw closed_error();
  }

  mutable store_core core_;
  write_path writes_{core_};
  background_work background_{core_, writes_};
  mutex close_mutex_;                    // serializes close()
  mutex checkpoint_mutex_;               // serializes checkpoint(); close() waits for it
  mutable shared_mutex verify_readers_;  // held shared by verify(); close() waits for them
  std::unique_ptr<file_lock> lock_;      // the directory's LOCK, held while open
};

// --- engine (engine.hpp): each member forwards to engine_impl ----------------------------------

LSMT_INLINE engine::engine(const std::filesystem::path& dir, const options& opts)
    : impl_(std::make_unique<engine_impl>(dir, opts)) {}
LSMT_INLINE engine::~engine() = default;

LSMT_INLINE void engine::write(raw_batch& batch, bool sync, const std::function<void()>* check) {
  impl_->write(batch, sync, check);
}
LSMT_INLINE std::optional<std::string> engine::get(std::string_view key,
                                                   std::optional<uint64_t> snapshot) const {
  std::string value;
  if (!impl_->get(key, snapshot, value)) return std::nullopt;
  return value;
}
LSMT_INLINE bool engine::get(std::string_view key, std::optional<uint64_t> snapshot,
                             std::string& value, std::string* scratch) const {
  return impl_->get(key, snapshot, value, scratch);
}
LSMT_INLINE uint64_t engine::newest_sequence(std::string_view key) const {
  return impl_->newest_sequence(key);
}
LSMT_INLINE uint64_t engine::latest_sequence() const { return impl_->latest_sequence(); }
LSMT_INLINE std::vector<std::unique_ptr<db_iterator>> engine::new_iterators(
    std::optional<uint64_t> snapshot,
    std::vector<key_bounds> segments) const {  // NOLINT(performance-unnecessary-value-param)
  return impl_->new_iterators(snapshot, std::move(segments));
}
LSMT_INLINE std::unique_ptr<db_iterator> engine::new_iterator(
    std::optional<uint64_t> snapshot, std::optional<std::string> lower,
    std::optional<std::string> upper) const {  // NOLINT(performance-unnecessary-value-param)
  return impl_->new_iterator(snapshot, std::move(lower), std::move(upper));
}
LSMT_INLINE uint64_t engine::acquire_snapshot() { return impl_->acquire_snapshot(); }
LSMT_INLINE void engine::release_snapshot(uint64_t seq) noexcept { impl_->release_snapshot(seq); }
LSMT_INLINE void engine::flush() { impl_->flush(); }
LSMT_INLINE void engine::compact() { impl_->compact(); }
LSMT_INLINE void engine::compact_range(std::optional<std::string> lo,
                                       std::optional<std::string> hi) {
  impl_->compact_range(std::move(lo), std::move(hi));
}
LSMT_INLINE uint64_t engine::approximate_size(const std::optional<std::string>& lo,
                                              const std::optional<std::string>& hi) const {
  return impl_->approximate_size(lo, hi);
}
LSMT_INLINE void engine::checkpoint(const std::filesystem::path& dest) { impl_->checkpoint(dest); }
LSMT_INLINE verify_report engine::verify() const { return impl_->verify(); }
LSMT_INLINE std::optional<std::string> engine::property(std::string_view name) const {
  return impl_->property(name);
}
LSMT_INLINE void engine::wait_for_compactions() { impl_->wait_for_compactions(); }
LSMT_INLINE void engine::close() { impl_->close(); }
LSMT_INLINE bool engine::is_open() const { return impl_->is_open(); }
LSMT_INLINE lsmt::stats engine::stats() const { return impl_->stats(); }
LSMT_INLINE void engine::ensure_open() const { impl_->ensure_open(); }
LSMT_INLINE const lsmt::recovery_report& engine::recovery() const { return impl_->recovery(); }

}  // namespace lsmt::detail

#endif  // LSMT_ENGINE_IMPL_HPP
