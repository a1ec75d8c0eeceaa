// lsmt/engine.hpp - the untyped core of a store: bytes in, bytes out.
//
// Directory layout:
//   LOCK          flock()ed while a store has the directory open
//   MANIFEST      the live tables and counters (manifest.hpp); replaced atomically
//   NNNNNN.log    write-ahead logs (wal.hpp); one per memtable
//   NNNNNN.sst    sorted string tables (sstable_builder.hpp)
//
// Where a write goes: write() queues the batch; the writer at the head of the
// queue (the leader) gathers the batches queued behind it into one WAL record,
// appends it (and fsyncs once for the whole group if any member asked for
// sync), inserts the entries into the memtable and only then publishes their
// sequence numbers, so readers see a batch entirely or not at all. A full
// memtable becomes immutable, gets a fresh WAL, and a background thread writes
// it to an SSTable; a MANIFEST update then makes the table live and retires the
// WAL. A second background thread merges tables (version.hpp, table_writer.hpp).
//
// Where a read goes: the memtable, then the immutable memtables, newest first,
// then the tables newest first (skipping those whose key range or bloom filter
// excludes the key). The first version found with sequence <= the snapshot wins.
//
// Recovery (open): read MANIFEST, open its tables, replay every WAL it does not
// cover into a memtable (stopping where a power loss cut an earlier log short),
// write that memtable to a table, and write a MANIFEST that covers it; files no
// MANIFEST refers to are leftovers of a crash and are removed. A crash at any
// point of this leaves the old MANIFEST and WALs, so recovery simply runs again.
//
// Thread safety: every public member may be called from any thread at any
// time, including close() racing with other calls (they then throw
// closed_error). Lock order: close_mutex_ > write_mutex_ > manifest_mutex_ >
// state_mutex_; logs_mutex_ is innermost (nothing is locked while it is held).
#ifndef LSMT_ENGINE_HPP
#define LSMT_ENGINE_HPP

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "block_cache.hpp"
#include "db_iterator.hpp"
#include "error.hpp"
#include "manifest.hpp"
#include "memtable.hpp"
#include "merging_iterator.hpp"
#include "options.hpp"
#include "posix_file_system.hpp"
#include "sstable_reader.hpp"
#include "stats.hpp"
#include "table_writer.hpp"
#include "version.hpp"
#include "wal.hpp"
#include "write_batch.hpp"

namespace lsmt::detail {

/// What a reader pins: every source of data at one moment.
struct read_view {
  std::shared_ptr<memtable> mem;
  std::vector<std::shared_ptr<memtable>> imms;  // newest first
  std::shared_ptr<const version> tables;
};

class engine {
 public:
  engine(const std::filesystem::path& dir, const options& opts)
      : opts_(opts), dir_(dir.string()), fs_(opts.fs ? opts.fs : posix_file_system()) {
    validate(opts_, dir);
    topts_.block_size = opts_.block_size;
    topts_.bloom_bits_per_key = opts_.bloom_bits_per_key;
    cache_ = std::make_shared<block_cache>(opts_.block_cache_bytes);
    recover();
    flush_thread_ = std::thread([this] { flush_loop(); });
    compaction_thread_ = std::thread([this] { compaction_loop(); });
    sampler_->set_wake([this] {
      std::lock_guard<std::mutex> s(state_mutex_);
      work_cv_.notify_all();
    });
  }
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;
  ~engine() {
    try {
      close();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; call close()
    }
  }

  /// Applies batch atomically. `check` runs while no other write can
  /// interleave, just before the batch is written; it may throw to refuse it.
  void write(raw_batch& batch, bool sync, const std::function<void()>* check = nullptr) {
    run_writer(writer_kind::write, &batch, sync || opts_.sync, check);
  }

  /// Value of key as of snapshot (nullopt: the latest state); nullopt if absent
  /// or deleted.
  std::optional<std::string> get(std::string_view key, std::optional<uint64_t> snapshot) const {
    ensure_open();
    const auto view = current_view();
    // Without a snapshot, read the sequence only after pinning the view: every
    // version a pinned table dropped is shadowed by one at or below it.
    const uint64_t seq = snapshot ? *snapshot : latest_sequence();
    value_type type{};
    uint64_t found_seq = 0;
    std::string value;
    if (lookup(*view, key, seq, &type, &value, &found_seq) && type == value_type::value) {
      return value;
    }
    return std::nullopt;
  }

  /// Sequence of the newest version (value or deletion) of key, 0 if none.
  uint64_t newest_sequence(std::string_view key) const {
    const auto view = current_view();
    value_type type{};
    uint64_t seq = 0;
    return lookup(*view, key, max_sequence, &type, nullptr, &seq) ? seq : 0;
  }

  uint64_t latest_sequence() const { return last_sequence_.load(std::memory_order_acquire); }

  using key_bounds = std::pair<std::optional<std::string>, std::optional<std::string>>;

  /// Iterators over [lower, upper) segments, all at one point in time: the
  /// snapshot, or (nullopt) the latest state.
  // `segments` is taken by value: its bounds are moved into the iterators.
  std::vector<std::unique_ptr<db_iterator>> new_iterators(
      std::optional<uint64_t> snapshot,
      std::vector<key_bounds> segments) const {  // NOLINT(performance-unnecessary-value-param)
    ensure_open();
    std::shared_ptr<const read_view> view = current_view();
    const uint64_t seq = snapshot ? *snapshot : latest_sequence();  // after the pin, as in get()
    std::vector<std::unique_ptr<db_iterator>> out;
    for (auto& [lower, upper] : segments) {
      std::vector<std::unique_ptr<internal_iterator>> children;
      children.push_back(view->mem->new_iterator());
      for (const auto& m : view->imms) children.push_back(m->new_iterator());
      for (const auto& t : view->tables->tables) {
        if (lower && compare_user_keys(extract_user_key(t->meta().largest), *lower) < 0) continue;
        if (upper && compare_user_keys(extract_user_key(t->meta().smallest), *upper) >= 0) continue;
        children.push_back(t->reader().new_iterator());
      }
      out.push_back(
          std::make_unique<db_iterator>(std::make_unique<merging_iterator>(std::move(children)),
                                        seq, view, std::move(lower), std::move(upper), sampler_));
    }
    return out;
  }

  /// Registers a snapshot at the latest sequence; compactions keep what it sees.
  uint64_t acquire_snapshot() {
    ensure_open();
    std::lock_guard<std::mutex> g(state_mutex_);
    const uint64_t seq = latest_sequence();
    snapshots_.insert(seq);
    return seq;
  }
  void release_snapshot(uint64_t seq) noexcept {
    std::lock_guard<std::mutex> g(state_mutex_);
    auto it = snapshots_.find(seq);
    if (it != snapshots_.end()) snapshots_.erase(it);
  }

  /// Writes the memtable to an SSTable and waits until it is live.
  void flush() {
    run_writer(writer_kind::rotate, nullptr, false, nullptr);
    std::unique_lock<std::mutex> s(state_mutex_);
    // Memtables are flushed in the order they were rotated out.
    const uint64_t target = rotations_;
    flush_cv_.wait(s, [&] { return flushes_ >= target || bg_failed_ || closing_; });
    throw_if_failed_locked();
    if (closing_) throw closed_error();
  }

  /// Flushes, then merges every table (dropping all tombstones) and waits.
  void compact() {
    flush();
    std::unique_lock<std::mutex> s(state_mutex_);
    const uint64_t target = ++manual_requested_;
    work_cv_.notify_all();
    flush_cv_.wait(s, [&] { return manual_done_ >= target || bg_failed_ || closing_; });
    throw_if_failed_locked();
    if (closing_) throw closed_error();
  }

  /// Waits until no memtable awaits its flush and no merge is due or running.
  void wait_for_compactions() {
    ensure_open();
    std::unique_lock<std::mutex> s(state_mutex_);
    flush_cv_.wait(s, [&] { return background_idle_locked() || bg_failed_ || closing_; });
    throw_if_failed_locked();
    if (closing_) throw closed_error();
  }

  /// Stops background work, closes the WAL and releases the directory.
  /// Idempotent. Data already acknowledged is in the WAL or in tables.
  void close() {
    std::lock_guard<std::mutex> c(close_mutex_);
    if (closed_.load()) return;
    sampler_->set_wake(nullptr);  // iterators may outlive the store
    std::exception_ptr err;
    try {
      run_writer(writer_kind::close, nullptr, false, nullptr);  // waits for writes in flight
    } catch (...) {
      err = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> s(state_mutex_);
      closing_ = true;
    }
    cancel_.store(true);
    work_cv_.notify_all();
    flush_cv_.notify_all();
    if (flush_thread_.joinable()) flush_thread_.join();
    if (compaction_thread_.joinable()) compaction_thread_.join();
    store_open_->store(false);
    lock_.reset();
    if (err) std::rethrow_exception(err);
  }

  bool is_open() const { return !closed_.load(); }

  lsmt::stats stats() const {
    ensure_open();
    std::lock_guard<std::mutex> s(state_mutex_);
    lsmt::stats st;
    st.tables = current_->tables.size();
    st.immutable_memtables = imms_.size();
    st.flushes = flushes_;
    st.compactions = compactions_;
    for (const auto& t : current_->tables) st.table_bytes += t->meta().size;
    st.last_sequence = latest_sequence();
    return st;
  }

  void ensure_open() const {
    if (closed_.load(std::memory_order_acquire)) throw closed_error();
  }

 private:
  enum class writer_kind { write, rotate, close };
  struct writer {
    writer_kind kind;
    raw_batch* batch;
    bool sync;
    const std::function<void()>* check;
    bool done = false;
    std::exception_ptr error;
    std::condition_variable cv;
  };
  struct imm_slot {
    std::shared_ptr<memtable> mem;
    uint64_t log_number;
  };
  struct earlier_log {
    uint64_t number;
    std::unique_ptr<log_writer> log;
    bool synced = false;
  };

  static constexpr size_t max_group_bytes = size_t{1} << 20;

  // ---- write path -------------------------------------------------------

  void run_writer(writer_kind kind, raw_batch* batch, bool sync,
                  const std::function<void()>* check) {
    writer w{kind, batch, sync, check, false, nullptr, {}};
    std::unique_lock<std::mutex> l(write_mutex_);
    writers_.push_back(&w);
    while (!w.done && &w != writers_.front()) w.cv.wait(l);
    if (w.done) {
      if (w.error) std::rethrow_exception(w.error);
      return;
    }
    writer* last = &w;
    std::exception_ptr err;
    try {
      if (closed_.load()) throw closed_error();
      if (kind == writer_kind::close) {
        closed_.store(true, std::memory_order_release);
        std::deque<earlier_log> logs;
        {
          std::lock_guard<std::mutex> g(logs_mutex_);
          logs.swap(earlier_logs_);
        }
        close_logs(logs);
        log_->close();
      } else {
        make_room(kind == writer_kind::rotate);
        if (kind == writer_kind::write) {
          if (check != nullptr) (*check)();
          raw_batch* group = build_group(&last);
          apply_group(l, group, last);
        }
      }
    } catch (...) {
      err = std::current_exception();
    }
    for (;;) {
      writer* r = writers_.front();
      writers_.pop_front();
      if (r != &w) {
        r->error = err;
        r->done = true;
        r->cv.notify_one();
      }
      if (r == last) break;
    }
    if (!writers_.empty()) writers_.front()->cv.notify_one();
    if (err) std::rethrow_exception(err);
  }

  // Merges the batches queued behind the leader into one record. A writer with
  // a check (a transaction) is never merged: its check must see every write
  // before it applied.
  raw_batch* build_group(writer** last) {
    writer* leader = writers_.front();
    if (leader->check != nullptr || writers_.size() == 1) return leader->batch;
    raw_batch* group = leader->batch;
    size_t bytes = group->byte_size();
    for (auto it = writers_.begin() + 1; it != writers_.end(); ++it) {
      writer* w = *it;
      if (w->kind != writer_kind::write || w->check != nullptr) break;
      bytes += w->batch->byte_size();
      if (bytes > max_group_bytes) break;
      if (group == leader->batch) {
        group_batch_.clear();
        group_batch_.append(*leader->batch);
        group = &group_batch_;
      }
      group->append(*w->batch);
      leader->sync = leader->sync || w->sync;
      *last = w;
    }
    return group;
  }

  // Appends the group to the WAL and the memtable. Runs without write_mutex_
  // held: followers keep queueing, and nobody else touches log_ or mem_ because
  // only the leader does.
  void apply_group(std::unique_lock<std::mutex>& l, raw_batch* group, writer* /*last*/) {
    if (group->empty()) return;
    const bool sync = writers_.front()->sync;
    const uint64_t first = last_sequence_.load(std::memory_order_relaxed) + 1;
    group->set_sequence(first);
    memtable* mem = mem_.get();
    l.unlock();
    try {
      log_->add_record(group->rep());
      if (sync) {
        sync_earlier_logs();
        log_->sync();
      } else {
        log_->flush();
      }
    } catch (const std::exception& e) {
      // The WAL may now end in a partial record; appending after it could hide
      // later records from recovery, so writes stop until the store is reopened.
      l.lock();
      fail(std::string("WAL write failed: ") + e.what());
      throw;
    }
    group->for_each([mem](value_type t, std::string_view k, std::string_view v, uint64_t seq) {
      mem->add(seq, t, k, v);
    });
    l.lock();
    last_sequence_.store(first + group->count() - 1, std::memory_order_release);
  }

  // Ensures the memtable has room, rotating it when full (or when forced and
  // non-empty). Waits while too many immutable memtables await their flush.
  void make_room(bool force) {
    for (;;) {
      if (bg_failed_.load()) {
        std::lock_guard<std::mutex> s(state_mutex_);
        throw_if_failed_locked();
      }
      const bool full = force ? mem_->entry_count() > 0
                              : (mem_->memory_usage() >= opts_.memtable_max_bytes ||
                                 (opts_.memtable_max_entries != 0 &&
                                  mem_->entry_count() >= opts_.memtable_max_entries));
      if (!full) return;
      {
        std::unique_lock<std::mutex> s(state_mutex_);
        // Like LevelDB's level-0 stop trigger: when compaction falls far behind,
        // every read would pay for the extra tables, so writers wait for it.
        if (current_->tables.size() >= stall_tables()) {
          flush_cv_.wait(s, [&] {
            return current_->tables.size() < stall_tables() || bg_failed_ || closing_;
          });
          if (closing_) throw closed_error();
          continue;
        }
        if (imms_.size() >= opts_.max_immutable_memtables) {
          flush_cv_.wait(s, [&] {
            return imms_.size() < opts_.max_immutable_memtables || bg_failed_ || closing_;
          });
          if (closing_) throw closed_error();
          continue;
        }
      }
      rotate_memtable();
      if (force) return;
    }
  }

  // The memtable's bloom filter: 1/64 of its byte limit, up to 16 MiB, and no
  // more than 16 bits per entry when an entry limit is set (it is zeroed at
  // every rotation).
  size_t memtable_filter_bytes() const {
    size_t bytes = std::min<size_t>(opts_.memtable_max_bytes / 64, size_t{16} << 20);
    if (opts_.memtable_max_entries != 0 && opts_.memtable_max_entries < bytes / 2) {
      bytes = 2 * opts_.memtable_max_entries;
    }
    return bytes;
  }

  size_t stall_tables() const { return std::max<size_t>(3 * opts_.compaction_interval, 12); }

  // The old log is neither synced nor closed here: a device flush per memtable
  // would stall every writer. The new log starts with a link to it instead, so
  // recovery can tell when a power loss kept the new log but cut the old one
  // (wal.hpp, "Order across logs"), and a synced write syncs it first.
  void rotate_memtable() {
    const uint64_t number = next_file_number_.fetch_add(1);
    auto new_log = std::make_unique<log_writer>(fs_->new_log_file(file_path(number, "log")));
    new_log->add_link(log_link{log_number_, log_->size()});
    new_log->flush();
    {
      std::lock_guard<std::mutex> g(logs_mutex_);
      earlier_logs_.push_back(earlier_log{log_number_, std::move(log_), false});
    }
    log_ = std::move(new_log);
    log_directory_synced_ = false;
    {
      std::lock_guard<std::mutex> s(state_mutex_);
      imms_.push_front(imm_slot{mem_, log_number_});
      ++rotations_;
      mem_ = std::make_shared<memtable>(memtable_filter_bytes());
      log_number_ = number;
      publish_view_locked();
      work_cv_.notify_all();
    }
  }

  // Before a synced write in the current log is acknowledged, the logs before
  // it and its directory entry must be durable too. Logs whose memtable is in a
  // table already are skipped (their data is safe, and an error syncing them
  // would stop writes for nothing); synced logs stay open for the flush thread
  // to close.
  void sync_earlier_logs() {
    uint64_t oldest_needed;
    {
      std::lock_guard<std::mutex> s(state_mutex_);
      oldest_needed = oldest_needed_log_locked(0);
    }
    {
      std::lock_guard<std::mutex> g(logs_mutex_);
      for (earlier_log& e : earlier_logs_) {
        if (e.synced || e.number < oldest_needed) continue;
        e.log->sync();
        e.synced = true;
      }
    }
    if (!log_directory_synced_) {
      fs_->sync_directory(dir_);
      log_directory_synced_ = true;
    }
  }

  // Closes logs whose memtable is in a table already, or all of them at close(),
  // where the logs' fate is recovery's anyway: a failure loses nothing.
  static void close_logs(std::deque<earlier_log>& logs) noexcept {
    for (earlier_log& e : logs) {
      try {
        e.log->close();
      } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): see above
      }
    }
    logs.clear();
  }

  // Takes log `number` out of earlier_logs_ (if there) and closes it: its memtable is flushed.
  // Runs on the flush thread: closing a big unlinked file takes milliseconds.
  void close_flushed_log(uint64_t number) {
    std::deque<earlier_log> done;
    {
      std::lock_guard<std::mutex> g(logs_mutex_);
      const auto it = std::find_if(earlier_logs_.begin(), earlier_logs_.end(),
                                   [&](const earlier_log& e) { return e.number == number; });
      if (it == earlier_logs_.end()) return;
      done.push_back(std::move(*it));
      earlier_logs_.erase(it);
    }
    close_logs(done);
  }

  // ---- reads --------------------------------------------------------------

  std::shared_ptr<const read_view> current_view() const {
    std::lock_guard<std::mutex> s(state_mutex_);
    return view_;
  }

  static bool lookup(const read_view& v, std::string_view key, uint64_t snapshot, value_type* type,
                     std::string* value, uint64_t* seq) {
    std::string scratch;
    std::string* out = value != nullptr ? value : &scratch;
    const uint64_t h = hash64(key);  // for every bloom filter on the way
    if (v.mem->get(key, h, snapshot, type, out, seq)) return true;
    for (const auto& m : v.imms) {
      if (m->get(key, h, snapshot, type, out, seq)) return true;
    }
    if (v.tables->tables.empty()) return false;
    const std::string lookup_key = make_lookup_key(key, snapshot);
    const auto& tables = v.tables->tables;
    return std::any_of(tables.begin(), tables.end(), [&](const auto& t) {
      const table_meta& m = t->meta();
      return compare_user_keys(key, extract_user_key(m.smallest)) >= 0 &&
             compare_user_keys(key, extract_user_key(m.largest)) <= 0 &&
             t->reader().get(lookup_key, h, type, out, seq);
    });
  }

  // ---- files ----------------------------------------------------------------

  std::string file_path(uint64_t number, const char* ext) const {
    char name[32];
    std::snprintf(name, sizeof(name), "%06llu.%s", static_cast<unsigned long long>(number), ext);
    return dir_ + "/" + name;
  }

  // Parses "NNNNNN.ext"; returns 0 if name is not such a file.
  static uint64_t parse_number(const std::string& name, const std::string& ext) {
    const std::string suffix = "." + ext;
    if (name.size() <= suffix.size() ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      return 0;
    }
    uint64_t n = 0;
    for (size_t i = 0; i + suffix.size() < name.size(); ++i) {
      if (name[i] < '0' || name[i] > '9' || n > (max_sequence / 10)) return 0;
      n = n * 10 + static_cast<uint64_t>(name[i] - '0');
    }
    return n;
  }

  std::shared_ptr<table_handle> open_table(const table_meta& meta) {
    auto file = fs_->new_readable_file(file_path(meta.number, "sst"), opts_.use_mmap_reads);
    auto reader = table_reader::open(std::move(file), meta.number, topts_, cache_);
    return std::make_shared<table_handle>(meta, std::move(reader), file_path(meta.number, "sst"),
                                          fs_, store_open_);
  }

  void remove_quietly(const std::string& path) noexcept {
    try {
      fs_->remove_file(path);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a leftover is removed at the next open
    }
  }

  std::vector<table_meta> write_memtable(const memtable& mem, uint64_t smallest_snapshot) {
    auto it = mem.new_iterator();
    it->seek_to_first();
    table_write_plan plan;
    plan.smallest_snapshot = smallest_snapshot;
    return write_tables_or_clean_up(*it, plan);
  }

  std::vector<table_meta> write_tables_or_clean_up(internal_iterator& in,
                                                   const table_write_plan& plan) {
    std::vector<uint64_t> created;
    try {
      return write_tables(
          in, plan, topts_, *fs_,
          [this] {
            const uint64_t n = next_file_number_.fetch_add(1);
            return std::make_pair(n, file_path(n, "sst"));
          },
          created);
    } catch (...) {
      for (uint64_t n : created) remove_quietly(file_path(n, "sst"));
      throw;
    }
  }

  // ---- recovery -------------------------------------------------------------

  void recover() {
    if (!opts_.create_if_missing && !fs_->file_exists(dir_ + "/MANIFEST")) {
      throw invalid_argument_error("lsmt: no store in " + dir_ + " and create_if_missing is off");
    }
    fs_->create_directory(dir_, opts_.directory_permissions);
    lock_ = fs_->lock_file(dir_ + "/LOCK");
    std::optional<manifest_state> m = read_manifest(*fs_, dir_);
    if (m && opts_.error_if_exists) {
      throw invalid_argument_error("lsmt: a store already exists in " + dir_);
    }
    std::vector<uint64_t> logs;
    std::set<uint64_t> tables_on_disk;
    uint64_t max_number = 0;
    for (const std::string& name : fs_->list_directory(dir_)) {
      if (const uint64_t n = parse_number(name, "log"); n != 0) {
        logs.push_back(n);
        max_number = std::max(max_number, n);
      } else if (const uint64_t t = parse_number(name, "sst"); t != 0) {
        tables_on_disk.insert(t);
        max_number = std::max(max_number, t);
      }
    }
    if (!m) {
      // Without a MANIFEST only WALs can be trusted leftovers (a crash during
      // the very first open). Tables would mean a lost MANIFEST: refuse rather
      // than silently drop them.
      if (!tables_on_disk.empty()) {
        throw corruption_error("lsmt: " + dir_ + " has table files but no MANIFEST");
      }
      m = manifest_state{};
    }
    next_file_number_.store(std::max(m->next_file_number, max_number + 1));

    std::vector<std::shared_ptr<table_handle>> tables;
    for (const table_meta& meta : m->tables) {
      if (tables_on_disk.count(meta.number) == 0) {
        throw corruption_error("lsmt: table " + file_path(meta.number, "sst") +
                               " listed in MANIFEST is missing");
      }
      tables.push_back(open_table(meta));
    }

    // Replay every WAL the MANIFEST does not cover, oldest first, up to the
    // first one whose predecessor lost writes (wal.hpp, "Order across logs").
    std::sort(logs.begin(), logs.end());
    auto replayed = std::make_shared<memtable>(memtable_filter_bytes());
    uint64_t last_seq = m->last_sequence;
    std::map<uint64_t, uint64_t> replayed_end;  // log number -> end of its valid records
    for (uint64_t n : logs) {
      if (n < m->log_number) continue;
      auto file = fs_->new_readable_file(file_path(n, "log"), false);
      log_reader reader(*file);
      std::string payload;
      bool more = reader.read_record(payload);
      if (const std::optional<log_link>& link = reader.link();
          link && link->previous_log >= m->log_number) {
        const auto prev = replayed_end.find(link->previous_log);
        if (prev == replayed_end.end() || prev->second < link->previous_size) break;
      }
      raw_batch batch;
      for (; more; more = reader.read_record(payload)) {
        batch.set_rep(std::move(payload));
        batch.for_each([&](value_type t, std::string_view k, std::string_view v, uint64_t seq) {
          replayed->add(seq, t, k, v);
          last_seq = std::max(last_seq, seq);
        });
      }
      replayed_end[n] = reader.valid_end();
    }
    last_sequence_.store(last_seq);

    const uint64_t log_number = next_file_number_.fetch_add(1);
    log_ = std::make_unique<log_writer>(fs_->new_log_file(file_path(log_number, "log")));
    log_number_ = log_number;
    if (replayed->entry_count() > 0) {
      auto metas = write_memtable(*replayed, max_sequence);
      for (auto it = metas.rbegin(); it != metas.rend(); ++it) {
        tables.insert(tables.begin(), open_table(*it));
      }
    }
    // This MANIFEST covers the replayed WALs; it also syncs the directory, so the
    // new WAL's entry is durable before any write is acknowledged.
    manifest_state next;
    next.next_file_number = next_file_number_.load();
    next.last_sequence = last_seq;
    next.log_number = log_number;
    for (const auto& t : tables) next.tables.push_back(t->meta());
    write_manifest(*fs_, dir_, next);

    // Leftovers of earlier runs: covered WALs, tables no MANIFEST lists.
    std::set<uint64_t> live;
    for (const auto& t : tables) live.insert(t->meta().number);
    for (uint64_t n : logs) {
      if (n < log_number) remove_quietly(file_path(n, "log"));
    }
    for (uint64_t n : tables_on_disk) {
      if (live.count(n) == 0) remove_quietly(file_path(n, "sst"));
    }
    if (fs_->file_exists(dir_ + "/MANIFEST.tmp")) remove_quietly(dir_ + "/MANIFEST.tmp");

    auto v = std::make_shared<version>();
    v->tables = std::move(tables);
    current_ = std::move(v);
    mem_ = std::make_shared<memtable>(memtable_filter_bytes());
    publish_view_locked();
  }

  // ---- background work --------------------------------------------------------

  void publish_view_locked() {
    auto v = std::make_shared<read_view>();
    v->mem = mem_;
    for (const auto& slot : imms_) v->imms.push_back(slot.mem);
    v->tables = current_;
    view_ = std::move(v);
    set_read_threshold_locked();
  }

  // The sampler's threshold for the current tables (see compaction_loop).
  void set_read_threshold_locked() {
    uint64_t entries = 0;
    for (const auto& t : current_->tables) entries += t->meta().entries;
    sampler_->set_threshold(std::max<uint64_t>(entries / 2, min_read_compaction_skips) *
                            read_compaction_backoff_);
  }

  uint64_t smallest_snapshot_locked() const {
    return snapshots_.empty() ? latest_sequence() : *snapshots_.begin();
  }

  // Oldest WAL still needed: that of the oldest memtable not yet in a table.
  uint64_t oldest_needed_log_locked(size_t flushed_imms) const {
    return imms_.size() > flushed_imms ? imms_[imms_.size() - 1 - flushed_imms].log_number
                                       : log_number_;
  }

  // Makes `tables` the live set: MANIFEST first (the commit point), then memory.
  // REQUIRES: manifest_mutex_ held.
  void install(std::vector<std::shared_ptr<table_handle>> tables, size_t flushed_imms) {
    manifest_state m;
    {
      std::lock_guard<std::mutex> s(state_mutex_);
      m.log_number = oldest_needed_log_locked(flushed_imms);
    }
    m.next_file_number = next_file_number_.load();
    m.last_sequence = latest_sequence();
    for (const auto& t : tables) m.tables.push_back(t->meta());
    write_manifest(*fs_, dir_, m);
    std::lock_guard<std::mutex> s(state_mutex_);
    auto v = std::make_shared<version>();
    v->tables = std::move(tables);
    current_ = std::move(v);
    for (size_t i = 0; i < flushed_imms; ++i) imms_.pop_back();
    publish_view_locked();
  }

  void flush_loop() {
    std::unique_lock<std::mutex> s(state_mutex_);
    for (;;) {
      work_cv_.wait(s, [&] { return closing_ || (!imms_.empty() && !bg_failed_); });
      if (closing_) return;  // unflushed memtables stay in their WALs
      const imm_slot slot = imms_.back();
      const uint64_t smallest = smallest_snapshot_locked();
      s.unlock();
      try {
        flush_one(slot, smallest);
      } catch (const std::exception& e) {
        s.lock();
        fail_locked(std::string("flush failed: ") + e.what());
        continue;
      }
      s.lock();
      ++flushes_;
      flush_cv_.notify_all();
      work_cv_.notify_all();  // the compaction thread may now have work
    }
  }

  void flush_one(const imm_slot& slot, uint64_t smallest_snapshot) {
    std::vector<std::shared_ptr<table_handle>> added;
    for (const table_meta& meta : write_memtable(*slot.mem, smallest_snapshot)) {
      added.push_back(open_table(meta));
    }
    {
      std::lock_guard<std::mutex> mg(manifest_mutex_);
      std::vector<std::shared_ptr<table_handle>> tables = std::move(added);
      {
        std::lock_guard<std::mutex> s(state_mutex_);
        tables.insert(tables.end(), current_->tables.begin(), current_->tables.end());
      }
      install(std::move(tables), 1);
    }
    remove_quietly(file_path(slot.log_number, "log"));
    close_flushed_log(slot.log_number);
  }

  // No flush or merge is waiting or running: what the compaction thread would pick is empty.
  bool background_idle_locked() const {
    if (!imms_.empty() || compacting_ || manual_requested_ > manual_done_ || sampler_->due()) {
      return false;
    }
    if (current_->tables.size() < opts_.compaction_interval) return true;
    std::vector<uint64_t> sizes;
    for (const auto& t : current_->tables) sizes.push_back(t->meta().size);
    return pick_compaction(sizes, opts_.compaction_interval, opts_.minimum_sstables, false).count ==
           0;
  }

  bool compaction_due_locked() const {
    if (manual_requested_ > manual_done_) return true;
    if (bg_failed_) return false;
    return sampler_->due() || current_->tables.size() >= opts_.compaction_interval;
  }

  // Read-triggered merges (like LevelDB's seek-triggered compaction): scans that
  // step over older versions and deletions in the tables report them to
  // sampler_; once they have stepped over as many as half the entries the tables
  // hold (and at least this many), every table is merged as compact() does,
  // which drops them. A store that is only written never merges this way. When a
  // merge drops less than a tenth of its input (the hidden entries were kept for
  // a snapshot, say), the threshold doubles, up to 64 times; a merge that drops
  // more resets it.
  static constexpr uint64_t min_read_compaction_skips = 4096;
  static constexpr uint64_t max_read_compaction_backoff = 64;

  void compaction_loop() {
    std::unique_lock<std::mutex> s(state_mutex_);
    for (;;) {
      work_cv_.wait(s, [&] { return closing_ || compaction_due_locked(); });
      if (closing_) return;
      const uint64_t manual = manual_requested_;
      const bool force = manual > manual_done_;
      // A read-triggered merge takes every table, as compact() does (if there are two).
      const bool sampled = sampler_->take_due();
      const bool read_triggered = !force && sampled && current_->tables.size() >= 2;
      std::vector<uint64_t> sizes;
      for (const auto& t : current_->tables) sizes.push_back(t->meta().size);
      const compaction_pick pick = pick_compaction(sizes, opts_.compaction_interval,
                                                   opts_.minimum_sstables, force || read_triggered);
      if (pick.count == 0) {
        if (force) {
          manual_done_ = manual;
          flush_cv_.notify_all();
          continue;
        }
        work_cv_.wait(s);  // due but nothing to pick: wait for a change
        continue;
      }
      std::vector<std::shared_ptr<table_handle>> inputs(
          current_->tables.begin() + static_cast<std::ptrdiff_t>(pick.first),
          current_->tables.begin() + static_cast<std::ptrdiff_t>(pick.first + pick.count));
      table_write_plan plan;
      plan.smallest_snapshot = smallest_snapshot_locked();
      plan.drop_tombstones = pick.first + pick.count == current_->tables.size();
      plan.cancel = &cancel_;
      if (force || read_triggered) {
        uint64_t total = 0;
        for (uint64_t sz : sizes) total += sz;
        plan.target_size = std::max<uint64_t>(1, total / opts_.minimum_sstables);
        plan.max_files = opts_.minimum_sstables;
      }
      uint64_t input_entries = 0;
      for (const auto& t : inputs) input_entries += t->meta().entries;
      uint64_t output_entries = 0;
      compacting_ = true;
      s.unlock();
      try {
        output_entries = compact_tables(inputs, plan);
      } catch (const table_write_cancelled&) {
        s.lock();
        compacting_ = false;
        continue;
      } catch (const std::exception& e) {
        s.lock();
        compacting_ = false;
        fail_locked(std::string("compaction failed: ") + e.what());
        continue;
      }
      s.lock();
      compacting_ = false;
      ++compactions_;
      if (force) manual_done_ = manual;
      // What scans stepped over during a full merge is gone now.
      if (force || read_triggered) sampler_->reset();
      if (read_triggered) {
        const bool productive = output_entries < input_entries - input_entries / 10;
        read_compaction_backoff_ =
            productive ? 1 : std::min(read_compaction_backoff_ * 2, max_read_compaction_backoff);
        set_read_threshold_locked();
      }
      flush_cv_.notify_all();  // writers may wait on table count; compact() on manual_done_
    }
  }

  // Returns the number of entries written.
  uint64_t compact_tables(const std::vector<std::shared_ptr<table_handle>>& inputs,
                          const table_write_plan& plan) {
    std::vector<std::unique_ptr<internal_iterator>> children;
    children.reserve(inputs.size());
    for (const auto& t : inputs) children.push_back(t->reader().new_iterator());
    merging_iterator merged(std::move(children));
    merged.seek_to_first();
    std::vector<std::shared_ptr<table_handle>> outputs;
    uint64_t written = 0;
    for (const table_meta& meta : write_tables_or_clean_up(merged, plan)) {
      outputs.push_back(open_table(meta));
      written += meta.entries;
    }
    std::lock_guard<std::mutex> mg(manifest_mutex_);
    std::vector<std::shared_ptr<table_handle>> tables;
    {
      // Flushes may have added newer tables in front since the pick; the inputs
      // are still adjacent because only compactions (this thread) remove tables.
      std::lock_guard<std::mutex> s(state_mutex_);
      tables = current_->tables;
    }
    auto first = std::find(tables.begin(), tables.end(), inputs.front());
    first = tables.erase(first, first + static_cast<std::ptrdiff_t>(inputs.size()));
    tables.insert(first, outputs.begin(), outputs.end());
    install(std::move(tables), 0);
    for (const auto& t : inputs) t->mark_obsolete();
    return written;
  }

  // ---- errors -------------------------------------------------------------------

  // A background or WAL failure stops writes (reads go on) until reopen: what
  // was acknowledged is safe in the WAL and tables, and recovery sorts it out.
  void fail(const std::string& why) {
    std::lock_guard<std::mutex> s(state_mutex_);
    fail_locked(why);
  }
  void fail_locked(const std::string& why) {
    if (!bg_failed_.load()) bg_error_ = why;
    bg_failed_.store(true);
    flush_cv_.notify_all();
    work_cv_.notify_all();
  }
  void throw_if_failed_locked() const {
    if (bg_failed_.load()) {
      throw io_error("lsmt: writes are stopped after an earlier failure (" + bg_error_ +
                     "); reopen the store");
    }
  }

  // ---- members ------------------------------------------------------------------

  const options opts_;
  const std::string dir_;
  const std::shared_ptr<file_system> fs_;
  table_options topts_;
  std::shared_ptr<block_cache> cache_;
  std::unique_ptr<file_lock> lock_;
  std::shared_ptr<std::atomic<bool>> store_open_ = std::make_shared<std::atomic<bool>>(true);
  std::atomic<uint64_t> next_file_number_{1};
  std::atomic<uint64_t> last_sequence_{0};
  std::atomic<bool> closed_{false};
  std::atomic<bool> cancel_{false};
  std::atomic<bool> bg_failed_{false};

  std::mutex close_mutex_;

  std::mutex write_mutex_;  // guards writers_; the leader alone uses log_ and mem_ writes
  std::deque<writer*> writers_;
  raw_batch group_batch_;
  std::unique_ptr<log_writer> log_;
  bool log_directory_synced_ = true;      // log_'s directory entry is durable
  std::mutex logs_mutex_;                 // guards earlier_logs_; innermost lock
  std::deque<earlier_log> earlier_logs_;  // logs before log_ not yet closed, oldest first

  std::mutex manifest_mutex_;  // serializes MANIFEST writes and version changes

  mutable std::mutex state_mutex_;  // guards everything below
  std::shared_ptr<memtable> mem_;
  uint64_t log_number_ = 0;
  std::deque<imm_slot> imms_;  // newest first
  std::shared_ptr<const version> current_;
  std::shared_ptr<const read_view> view_;
  std::multiset<uint64_t> snapshots_;
  bool closing_ = false;
  std::string bg_error_;
  uint64_t manual_requested_ = 0;
  uint64_t manual_done_ = 0;
  uint64_t rotations_ = 0;
  uint64_t flushes_ = 0;
  uint64_t compactions_ = 0;
  bool compacting_ = false;  // the compaction thread is merging (wait_for_compactions)
  std::shared_ptr<read_sampler> sampler_ = std::make_shared<read_sampler>();
  uint64_t read_compaction_backoff_ = 1;  // multiplies the sampler's threshold
  std::condition_variable work_cv_;       // wakes the background threads
  std::condition_variable flush_cv_;      // background progress: flushes, compactions, failures
  std::thread flush_thread_;
  std::thread compaction_thread_;
};

}  // namespace lsmt::detail

#endif  // LSMT_ENGINE_HPP
