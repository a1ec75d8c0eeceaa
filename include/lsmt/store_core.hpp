// lsmt/store_core.hpp - the state a store's parts share: its settings, files, memtables,
// current version, snapshots, counters, lifecycle and the lock that guards them.
//
// The engine (engine_impl.hpp) owns one store_core; the write path, the background threads and
// recovery each work on it. What each member needs is written on it: LSMT_GUARDED_BY(mutex)
// members are touched only with `mutex` held, which clang's -Wthread-safety checks.
//
// Lifecycle: open -> closing (close() has begun: calls throw closed_error, background threads
// stop at their next check, running merges are cancelled) -> closed (background threads have
// exited, the directory lock is released). It only moves forward, and changes under `mutex`,
// so a thread waiting on a condition variable sees it.
//
// Thread safety: see each member; `last_sequence`, `life`, `failed`, `settler_parked` and the
// figures publish_view copies from the current version for the write path (`level0_tables`,
// `level0_raise`, `upper_bytes`,
// `upper_shadowing_bytes`, `bottom_bytes`) are atomics readable without the lock.
#ifndef LSMT_STORE_CORE_HPP
#define LSMT_STORE_CORE_HPP

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "arena.hpp"
#include "block_cache.hpp"
#include "compaction_picker.hpp"
#include "counters.hpp"
#include "error.hpp"
#include "log_set.hpp"
#include "memtable.hpp"
#include "options.hpp"
#include "posix_file_system.hpp"
#include "read_path.hpp"
#include "recovery_report.hpp"
#include "stats.hpp"
#include "table_format.hpp"
#include "thread_annotations.hpp"
#include "version_set.hpp"

namespace lsmt::detail {

enum class lifecycle { open, closing, closed };

/// The table settings of opts: what flushes, compactions and repair write tables with, and
/// what opens them (its compressor).
inline table_options table_options_of(const options& opts) {
  table_options t;
  t.block_size = opts.block_size;
  t.restart_interval = opts.block_restart_interval;
  t.bloom_bits_per_key = opts.bloom_bits_per_key;
  t.compressor = opts.compressor;
  return t;
}

/// A compact_range() call waiting for the compaction thread: its user-key range (nullopt:
/// unbounded) and the level its next step starts from (range_job, compaction_job.hpp).
struct range_request {
  std::optional<std::string> lo, hi;
  size_t level = 0;
  uint64_t ticket = 0;  // served once range_done reaches it
};

/// A full memtable waiting for its flush, and the log that holds its writes.
struct imm_slot {
  std::shared_ptr<memtable> mem;
  uint64_t log_number;
};

class store_core {
 public:
  store_core(const std::string& dir, const options& o, const table_options& topts)
      : opts(o),
        dir(dir),
        fs(o.fs ? o.fs : posix_file_system()),
        cache(std::make_shared<block_cache>(o.block_cache_bytes)),
        versions(fs, dir, topts, cache, o.use_mmap_reads ? o.max_mapped_bytes : 0),
        logs(fs, dir),
        picker(compaction_picker::settings(o), sampler) {}

  const options opts;
  const std::string dir;
  const std::shared_ptr<file_system> fs;
  const std::shared_ptr<block_cache> cache;  // thread-safe (block_cache.hpp)
  version_set versions;                      // thread-safe (version_set.hpp)
  log_set logs;                              // thread-safe (log_set.hpp)
  // Where iterators report what they stepped over; it outlives the store if they do.
  const std::shared_ptr<read_sampler> sampler = std::make_shared<read_sampler>();

  // Set by recovery, before any other thread exists; constant after.
  lsmt::recovery_report recovery;  // what opening replayed and dropped

  read_counters reads;                     // thread-safe: what point lookups counted
  std::atomic<uint64_t> user_bytes{0};     // keys and values written (by the write leader)
  std::atomic<uint64_t> wal_bytes{0};      // log records written (by the write leader)
  std::atomic<uint64_t> last_sequence{0};  // the newest write readers may see
  std::atomic<lifecycle> life{lifecycle::open};
  std::atomic<bool> failed{false};          // a background or WAL failure stopped writes
  std::atomic<bool> settler_parked{false};  // the compaction thread awaits a write (settler)
  std::atomic<size_t> level0_tables{0};     // current's level-0 tables (publish_view sets it)
  std::atomic<size_t> level0_raise{0};      // its merge trigger over compaction_interval (same)
  std::atomic<uint64_t> upper_bytes{0};     // current's levels above the bottom (likewise)
  std::atomic<uint64_t> upper_shadowing_bytes{0};  // their level_shadowing_bytes() (likewise)
  std::atomic<uint64_t> bottom_bytes{0};     // current's bottom level, the deepest holding tables
  std::atomic<uint64_t> slowdowns{0};        // times the write leader slept (write_path.hpp)
  std::atomic<uint64_t> slowdown_micros{0};  // and how long, in total

  mutable mutex state_mutex;
  std::shared_ptr<memtable> mem LSMT_GUARDED_BY(state_mutex);  // written with the writer role
  uint64_t log_number LSMT_GUARDED_BY(state_mutex) = 0;        // mem's log
  std::deque<imm_slot> imms LSMT_GUARDED_BY(state_mutex);      // newest first
  std::shared_ptr<const version> current LSMT_GUARDED_BY(state_mutex);
  std::multiset<uint64_t> snapshots LSMT_GUARDED_BY(state_mutex);
  compaction_picker picker LSMT_GUARDED_BY(state_mutex);
  std::string error LSMT_GUARDED_BY(state_mutex);              // why writes stopped (failed)
  uint64_t rotations LSMT_GUARDED_BY(state_mutex) = 0;         // memtables made immutable
  uint64_t flushes LSMT_GUARDED_BY(state_mutex) = 0;           // memtables written to tables
  uint64_t compactions LSMT_GUARDED_BY(state_mutex) = 0;       // merges finished
  uint64_t manual_requested LSMT_GUARDED_BY(state_mutex) = 0;  // compact() calls
  uint64_t manual_done LSMT_GUARDED_BY(state_mutex) = 0;       // compact() calls served
  std::deque<range_request> range_requests LSMT_GUARDED_BY(state_mutex);  // oldest first
  uint64_t range_requested LSMT_GUARDED_BY(state_mutex) = 0;              // compact_range() calls
  uint64_t range_done LSMT_GUARDED_BY(state_mutex) = 0;                   // and the last one served
  uint64_t flush_bytes LSMT_GUARDED_BY(state_mutex) = 0;  // table and blob bytes flushes wrote
  uint64_t blob_bytes LSMT_GUARDED_BY(state_mutex) = 0;   // blob bytes flushes and merges wrote
  uint64_t compaction_bytes_read LSMT_GUARDED_BY(state_mutex) = 0;
  uint64_t compaction_bytes_written LSMT_GUARDED_BY(state_mutex) = 0;
  uint64_t moves LSMT_GUARDED_BY(state_mutex) = 0;  // merges that moved tables down
  std::array<lsmt::level_merge_stats, max_levels> level_merges LSMT_GUARDED_BY(state_mutex){};
  uint64_t stalls LSMT_GUARDED_BY(state_mutex) = 0;        // times writers were made to wait
  uint64_t stall_micros LSMT_GUARDED_BY(state_mutex) = 0;  // and how long, in total
  bool flushing LSMT_GUARDED_BY(state_mutex) = false;      // a flush is running
  bool compacting LSMT_GUARDED_BY(state_mutex) = false;    // a merge is running
  bool settle_due LSMT_GUARDED_BY(state_mutex) = false;    // an idle settle awaits its merge
  uint64_t settles LSMT_GUARDED_BY(state_mutex) = 0;       // idle settles started
  // The published view, once per thread slot (publish_view(), current_view()).
  struct alignas(64) view_pin {
    mutex mu;
    std::shared_ptr<const read_view> view LSMT_GUARDED_BY(mu);
  };
  mutable std::array<view_pin, thread_slots> view_pins_;
  cond_var work_cv;      // wakes the background threads: work, or closing
  cond_var progress_cv;  // background progress: flushes, merges, failures, closing

  bool closing() const { return life.load(std::memory_order_acquire) != lifecycle::open; }

  void ensure_open() const {
    if (closing()) throw closed_error();
  }

  /// Publishes a new read view of mem, imms and current, and retunes the read sampler.
  void publish_view() LSMT_REQUIRES(state_mutex) {
    auto v = std::make_shared<read_view>();
    v->mem = mem;
    for (const auto& slot : imms) v->imms.push_back(slot.mem);
    v->tables = current;
    for (view_pin& p : view_pins_) {
      // Each pin owns the view through a reference of its own: a shared_ptr aliasing it, with
      // its own count, so readers on different pins share no cache line (current_view()).
      auto owner = std::make_shared<std::shared_ptr<const read_view>>(v);
      std::shared_ptr<const read_view> old(owner, v.get());
      {
        lock_guard g(p.mu);
        p.view.swap(old);
      }
      // `old` goes here, outside the pin's lock: its view may be the last user of a memtable.
    }
    picker.set_threshold(*current);
    level0_tables.store(current->levels[0].size(), std::memory_order_relaxed);
    level0_raise.store(picker.level0_raise(*current), std::memory_order_relaxed);
    const size_t bottom = current->bottom_level();  // 0 when no sorted level holds a table
    uint64_t upper = current->level_bytes(0);
    uint64_t shadowing = current->level_shadowing_bytes(0);
    for (size_t l = 1; l < bottom; ++l) {
      upper += current->level_bytes(l);
      shadowing += current->level_shadowing_bytes(l);
    }
    upper_bytes.store(upper, std::memory_order_relaxed);
    upper_shadowing_bytes.store(shadowing, std::memory_order_relaxed);
    bottom_bytes.store(bottom == 0 ? 0 : current->level_bytes(bottom), std::memory_order_relaxed);
  }

  /// The memtable, for the write leader: only the leader replaces it (under state_mutex), so
  /// the leader may read it without the lock.
  memtable& leader_mem() LSMT_REQUIRES(logs.writer_role()) LSMT_NO_THREAD_SAFETY_ANALYSIS {
    return *mem;
  }

  /// The read view published last, pinned. Through the calling thread's pin: a reader copies
  /// a shared_ptr whose count and lock only threads of the same slot (counters.hpp) touch, so
  /// readers on two cores do not trade a cache line on every get.
  std::shared_ptr<const read_view> current_view() const {
    view_pin& p = view_pins_[thread_slot()];
    lock_guard g(p.mu);
    return p.view;
  }

  uint64_t smallest_snapshot() const LSMT_REQUIRES(state_mutex) {
    return snapshots.empty() ? last_sequence.load() : *snapshots.begin();
  }

  /// Oldest log still needed once `flushed_imms` of the oldest memtables are in tables.
  uint64_t oldest_needed_log(size_t flushed_imms) const LSMT_REQUIRES(state_mutex) {
    return imms.size() > flushed_imms ? imms[imms.size() - 1 - flushed_imms].log_number
                                      : log_number;
  }

  /// An empty memtable. Its bloom filter is 1/64 of its byte limit, up to 16 MiB, and no more
  /// than 16 bits per entry when an entry limit is set; its hash index grows for its limits.
  std::shared_ptr<memtable> new_memtable() const {
    size_t filter = std::min<size_t>(opts.memtable_max_bytes / 64, size_t{16} << 20);
    if (opts.memtable_max_entries != 0) filter = std::min(filter, 2 * opts.memtable_max_entries);
    return std::make_shared<memtable>(filter, opts.memtable_max_bytes, opts.memtable_max_entries);
  }

  /// The counters and sizes db::stats() reports.
  lsmt::stats stats() const LSMT_REQUIRES(state_mutex) {
    lsmt::stats st;
    static_assert(max_levels == std::tuple_size_v<decltype(st.level_tables)>);
    st.tables = current->table_count();
    for (size_t l = 0; l < max_levels; ++l) {
      st.level_tables[l] = current->levels[l].size();
      st.level_bytes[l] = current->level_bytes(l);
    }
    st.table_bytes = current->total_bytes();
    st.pending_compaction_bytes = picker.pending_bytes(*current);
    st.shadowing_bytes = upper_shadowing_bytes.load(std::memory_order_relaxed);
    st.level0_trigger = picker.level0_tables_due(*current);
    st.last_sequence = last_sequence.load(std::memory_order_acquire);
    st.live_snapshots = snapshots.size();

    st.user_bytes_written = user_bytes.load(std::memory_order_relaxed);
    st.wal_bytes_written = wal_bytes.load(std::memory_order_relaxed);
    st.flushes = flushes;
    st.flush_bytes_written = flush_bytes;
    st.compactions = compactions;
    st.compaction_moves = moves;
    st.idle_settles = settles;
    st.compaction_bytes_read = compaction_bytes_read;
    st.compaction_bytes_written = compaction_bytes_written;
    st.level_merges = level_merges;
    st.blob_bytes_written = blob_bytes;
    for (const version::blob_file_use& b : current->blob_garbage()) {
      ++st.blob_files;
      st.blob_file_bytes += b.meta.size;
      st.blob_garbage_bytes += b.garbage;
    }
    if (st.user_bytes_written != 0) {
      st.write_amplification = static_cast<double>(st.wal_bytes_written + st.flush_bytes_written +
                                                   st.compaction_bytes_written) /
                               static_cast<double>(st.user_bytes_written);
    }
    st.stalls = stalls;
    st.stall_micros = stall_micros;
    st.slowdowns = slowdowns.load(std::memory_order_relaxed);
    st.slowdown_micros = slowdown_micros.load(std::memory_order_relaxed);
    st.block_cache_hits = cache->hits();
    st.block_cache_misses = cache->misses();
    st.bloom_checks = reads.bloom_checks.load();
    st.bloom_useful = reads.bloom_useful.load();

    st.immutable_memtables = imms.size();
    st.memtable_entries = mem->entry_count();
    for (const auto& level : current->levels) {
      for (const auto& t : level) {
        st.filter_bytes += t->reader().filter_bytes();
        st.index_bytes += t->reader().index_bytes();
        if (const auto& dels = t->reader().range_deletions()) {
          st.table_range_deletions += dels->count();
        }
      }
    }
    st.memtable_range_deletions = mem->range_deletion_count();
    for (const auto& slot : imms) {
      st.memtable_range_deletions += slot.mem->range_deletion_count();
      st.immutable_memtable_bytes += slot.mem->memory_usage();
    }
    st.memtable_bytes = mem->memory_usage() + st.immutable_memtable_bytes;
    st.memtable_pool_bytes = arena_block_pool::instance().bytes();
    st.block_cache_bytes = cache->usage();
    st.mapped_bytes = versions.mapped_bytes();
    return st;
  }

  /// A background or WAL failure stops writes (reads go on) until reopen: what was acknowledged
  /// is safe in the WAL and tables, and recovery sorts it out.
  void fail(const std::string& why) LSMT_REQUIRES(state_mutex) {
    if (!failed.load()) error = why;
    failed.store(true);
    progress_cv.notify_all();
    work_cv.notify_all();
  }
  void throw_if_failed() const LSMT_REQUIRES(state_mutex) {
    if (failed.load()) {
      throw io_error("lsmt: writes are stopped after an earlier failure (" + error +
                     "); reopen the store");
    }
  }

  /// Sends a message to options::logger, if set. Call it with state_mutex released: the logger
  /// is the user's code. A logger that throws loses that message only.
  void log(log_level level, const std::string& message) const LSMT_EXCLUDES(state_mutex) {
    log_to(opts, level, message);
  }
  /// Whether anyone hears log(): callers skip building messages otherwise.
  bool logging() const noexcept { return static_cast<bool>(opts.logger); }

  /// Moves the lifecycle forward and wakes every waiter.
  void set_life(lifecycle next) LSMT_REQUIRES(state_mutex) {
    life.store(next, std::memory_order_release);
    progress_cv.notify_all();
    work_cv.notify_all();
  }
};

}  // namespace lsmt::detail

#endif  // LSMT_STORE_CORE_HPP
