// tests/fault_fs.hpp - an in-memory lsmt::file_system that models what survives a crash, and
// injects crashes and I/O errors at chosen operations.
//
// The model. Each file (an inode) has the bytes the "OS" holds (what a process crash keeps) and
// a durable length (what a power loss keeps): data[0, durable). sync() makes the whole file
// durable. Each directory has the entries the OS shows and the entries that are durable; create,
// rename and remove change the OS view at once and are queued as pending operations of their
// directory until sync_directory() of that directory makes all of them durable. Directories
// themselves are durable as soon as they are created (lsmt never syncs a store's parent).
//
//   new_writable_file  buffers appends in the file object until flush()/sync()/close() (or
//                      64 KiB); each non-empty push to the OS is one "append" operation.
//   new_log_file       unbuffered: every append reaches the OS at once (as the POSIX log's mmap
//                      memcpy does), one "append" operation each; flush() is then a no-op.
//   new_readable_file  a snapshot of the OS bytes at open; with prefer_mmap, is_mapped() and
//                      reads return views into that stable copy.
//   lock_file          an in-process lock set (locked_error if held); creates no file.
//
// Operations. Every mutating operation -- an append or flush that reaches the OS, sync,
// create, rename, remove, create_directory, sync_directory -- takes the next global op index
// (0, 1, ...). Reads, listings and locks are not counted.
//
// Faults:
//   crash_at(k)       when op k is reached the file system "dies": op k and every later mutating
//                     op throws lsmt::io_error (EIO) and changes nothing. Reads keep working, so
//                     the engine can be closed. The state at the crash is then frozen.
//   crash_state(o, rng)  a fresh fault_fs holding what survives the crash, for outcome o:
//     process_crash   everything the OS had (files and directory entries); a process crash.
//     synced_only     only durable bytes and durable directory entries: the worst power loss.
//     random_unsynced a power loss on a journaling file system: the pending operations of each
//                     directory survive as a random prefix (namespace changes are journaled in
//                     order; a rename is atomic), and of each surviving file's unsynced bytes
//                     either none, all, a random prefix, or random whole pages of a random
//                     prefix (the others read as zeros: the size reached disk, the data didn't).
//     torn_last_write everything the OS had, except that the newest append still (partly)
//                     unsynced is cut at a random length, and/or its tail is replaced with
//                     random bytes or zeros. Synced bytes are never damaged.
//   fail_at(k, err, persistent)  op k (or every op from k on) throws io_error(err) instead of
//                     running; an append or flush that fails first writes half of its bytes (a
//                     short write). Nothing crashes: clear_faults() and the store can reopen.
//
// Determinism: hold_other_threads(true) makes mutating ops of every thread but the caller wait
// until hold_other_threads(false), so a test can keep a store's background threads from
// interleaving their file operations with a write's.
//
// The second half of this file is the workload driver that crash_points_test.cpp and
// io_error_test.cpp share: scripted writes/batches/transactions/flushes/compactions/reopens, a
// model of the expected contents after every prefix of them, and the check of a recovered store.
//
// Thread safety: every member may be called from any thread (one mutex guards the state).
#ifndef LSMT_TEST_FAULT_FS_HPP
#define LSMT_TEST_FAULT_FS_HPP

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "lsmt.hpp"
#include "lsmt/error.hpp"
#include "lsmt/file_system.hpp"
#include "memory_file.hpp"
#include "test_env.hpp"

namespace lsmt_test {

enum class crash_outcome { process_crash, synced_only, random_unsynced, torn_last_write };

inline const char* outcome_name(crash_outcome o) {
  switch (o) {
    case crash_outcome::process_crash: return "process_crash";
    case crash_outcome::synced_only: return "synced_only";
    case crash_outcome::random_unsynced: return "random_unsynced";
    case crash_outcome::torn_last_write: return "torn_last_write";
  }
  return "?";
}

class fault_fs final : public lsmt::file_system {
 public:
  static constexpr size_t page_size = 4096;
  static constexpr size_t buffer_capacity = 64 << 10;

  fault_fs() : s_(std::make_shared<state>()) { s_->dirs["/"]; }

  // ---- lsmt::file_system ------------------------------------------------------------------

  std::unique_ptr<lsmt::writable_file> new_writable_file(const std::string& path) override {
    return create(path, true);
  }
  std::unique_ptr<lsmt::writable_file> new_log_file(const std::string& path) override {
    return create(path, false);
  }

  std::unique_ptr<lsmt::readable_file> new_readable_file(const std::string& path,
                                                         bool prefer_mmap) override {
    std::lock_guard<std::mutex> l(s_->mu);
    const inode_ptr node = find_file(path);
    if (!node) throw lsmt::io_error("fault_fs: open '" + path + "'", ENOENT);
    return std::make_unique<memory_readable_file>(node->data, prefer_mmap);  // a snapshot
  }

  bool file_exists(const std::string& path) override {
    std::lock_guard<std::mutex> l(s_->mu);
    return find_file(path) != nullptr || s_->dirs.count(normalize(path)) != 0;
  }

  std::vector<std::string> list_directory(const std::string& dir) override {
    std::lock_guard<std::mutex> l(s_->mu);
    const std::string d = normalize(dir);
    auto it = s_->dirs.find(d);
    if (it == s_->dirs.end()) throw lsmt::io_error("fault_fs: open directory '" + dir + "'", ENOENT);
    std::vector<std::string> names;
    for (const auto& [name, node] : it->second.os) names.push_back(name);
    for (const auto& [other, ds] : s_->dirs) {
      if (other != d && split(other).first == d) names.push_back(split(other).second);
    }
    return names;
  }

  void remove_file(const std::string& path) override {
    std::unique_lock<std::mutex> l(s_->mu);
    auto [dir, name] = split(path);
    dir_state* ds = find_dir(dir);
    if (ds == nullptr || ds->os.count(name) == 0) {
      throw lsmt::io_error("fault_fs: remove '" + path + "'", ENOENT);
    }
    if (const int err = begin_op(l, "remove", path)) throw lsmt::io_error("fault_fs: remove '" + path + "'", err);
    ds->os.erase(name);
    ds->pending.push_back(dir_op{dir_op::remove, name, {}, nullptr});
  }

  void rename_file(const std::string& from, const std::string& to) override {
    std::unique_lock<std::mutex> l(s_->mu);
    auto [dir, name] = split(from);
    auto [to_dir, to_name] = split(to);
    const std::string what = from + " -> " + to;
    if (dir != to_dir) throw lsmt::io_error("fault_fs: rename '" + what + "'", EXDEV);
    dir_state* ds = find_dir(dir);
    if (ds == nullptr || ds->os.count(name) == 0) {
      throw lsmt::io_error("fault_fs: rename '" + what + "'", ENOENT);
    }
    if (const int err = begin_op(l, "rename", what)) throw lsmt::io_error("fault_fs: rename '" + what + "'", err);
    inode_ptr node = ds->os[name];
    ds->os.erase(name);
    ds->os[to_name] = node;
    ds->pending.push_back(dir_op{dir_op::rename, name, to_name, node});
  }

  void create_directory(const std::string& dir, std::filesystem::perms /*perms*/) override {
    std::unique_lock<std::mutex> l(s_->mu);
    if (const int err = begin_op(l, "mkdir", dir)) throw lsmt::io_error("fault_fs: mkdir '" + dir + "'", err);
    for (std::string d = normalize(dir); d != "." && d != "/" && s_->dirs.count(d) == 0;
         d = split(d).first) {
      s_->dirs[d];
    }
  }

  void sync_directory(const std::string& dir) override {
    std::unique_lock<std::mutex> l(s_->mu);
    dir_state* ds = find_dir(normalize(dir));
    if (ds == nullptr) throw lsmt::io_error("fault_fs: sync directory '" + dir + "'", ENOENT);
    if (const int err = begin_op(l, "syncdir", dir)) throw lsmt::io_error("fault_fs: sync directory '" + dir + "'", err);
    ds->durable = ds->os;
    ds->pending.clear();
  }

  std::unique_ptr<lsmt::file_lock> lock_file(const std::string& path) override {
    std::lock_guard<std::mutex> l(s_->mu);
    const std::string p = normalize(path);
    if (!s_->locks.insert(p).second) {
      throw lsmt::locked_error("fault_fs: '" + path + "' is locked");
    }
    return std::make_unique<lock>(s_, p);
  }

  // ---- faults -------------------------------------------------------------------------------

  /// Op k and every later mutating op throw io_error; the state at op k is what crash_state sees.
  void crash_at(uint64_t k) {
    std::lock_guard<std::mutex> l(s_->mu);
    s_->crash_at = k;
  }
  /// Op k (every op from k on if persistent) throws io_error(err) without running.
  void fail_at(uint64_t k, int err, bool persistent) {
    std::lock_guard<std::mutex> l(s_->mu);
    s_->fail_at = k;
    s_->fail_errno = err;
    s_->fail_persistent = persistent;
  }
  /// Turns every fault off (a crashed file system works again).
  void clear_faults() {
    std::lock_guard<std::mutex> l(s_->mu);
    s_->crash_at.reset();
    s_->crashed = false;
    s_->fail_at.reset();
  }

  /// Mutating ops so far (the next op's index).
  uint64_t ops() const {
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->ops;
  }
  bool crashed() const {
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->crashed;
  }
  /// Injected failures (fail_at) so far.
  uint64_t failures() const {
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->failures;
  }
  /// The kind ("append", "sync", "rename", ...) of the first injected failure or the crash op.
  std::string fault_kind() const {
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->fault_kind;
  }
  /// The op index of the crash or of the first injected failure (meaningful once fired).
  uint64_t fault_op() const {
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->fault_op;
  }
  /// True once a crash or an injected failure happened.
  bool fault_fired() const {
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->crashed || s_->failures > 0;
  }

  /// Records a description of every mutating op (see trace()).
  void set_tracing(bool on) {
    std::lock_guard<std::mutex> l(s_->mu);
    s_->tracing = on;
  }
  std::vector<std::string> trace() const {
    std::lock_guard<std::mutex> l(s_->mu);
    return s_->trace;
  }

  /// Waits until the op count differs from `seen` or the timeout passes; returns the count.
  uint64_t wait_for_op(uint64_t seen, std::chrono::microseconds timeout) const {
    std::unique_lock<std::mutex> l(s_->mu);
    s_->op_cv.wait_for(l, timeout, [&] { return s_->ops != seen; });
    return s_->ops;
  }

  /// While on, mutating ops of threads other than the caller wait (see the top of the file).
  void hold_other_threads(bool on) {
    std::lock_guard<std::mutex> l(s_->mu);
    s_->hold = on;
    s_->holder = std::this_thread::get_id();
    s_->cv.notify_all();
  }

  /// The file system that survives the crash (or, with no crash, the current state) for
  /// outcome. Everything in the result is durable and it has no faults.
  std::shared_ptr<fault_fs> crash_state(crash_outcome outcome, std::mt19937_64& rng) const {
    std::lock_guard<std::mutex> l(s_->mu);
    auto out = std::make_shared<fault_fs>();
    const inode* torn = outcome == crash_outcome::torn_last_write ? newest_unsynced_append() : nullptr;
    std::map<const inode*, inode_ptr> copies;
    for (const auto& [dname, ds] : s_->dirs) {
      std::map<std::string, inode_ptr> entries;
      switch (outcome) {
        case crash_outcome::synced_only: entries = ds.durable; break;
        case crash_outcome::process_crash:
        case crash_outcome::torn_last_write: entries = ds.os; break;
        case crash_outcome::random_unsynced: {
          entries = ds.durable;
          const size_t keep = uniform(rng, 0, ds.pending.size());
          for (size_t i = 0; i < keep; ++i) apply(ds.pending[i], entries);
          break;
        }
      }
      dir_state& nd = out->s_->dirs[dname];
      for (const auto& [name, node] : entries) {
        inode_ptr& copy = copies[node.get()];
        if (!copy) {
          copy = std::make_shared<inode>();
          copy->data = surviving_bytes(*node, outcome, node.get() == torn, rng);
          copy->durable = copy->data.size();
        }
        nd.os[name] = copy;
        nd.durable[name] = copy;
      }
    }
    return out;
  }
  /// A hash of every directory entry and the bytes the OS has, to recognize equal states.
  uint64_t fingerprint() const {
    std::lock_guard<std::mutex> l(s_->mu);
    uint64_t h = 14695981039346656037ULL;
    auto mix = [&h](std::string_view v) {
      h = (h ^ std::hash<std::string_view>{}(v)) * 1099511628211ULL;
    };
    for (const auto& [dname, ds] : s_->dirs) {
      mix(dname);
      for (const auto& [name, node] : ds.os) {
        mix(name);
        mix(node->data);
      }
    }
    return h;
  }
  std::shared_ptr<fault_fs> clone() const {
    std::mt19937_64 unused(0);
    return crash_state(crash_outcome::process_crash, unused);
  }

 private:
  struct inode {
    std::string data;             // what the OS has
    size_t durable = 0;           // data[0, durable) is on disk
    uint64_t last_append_op = 0;  // 1 + op index of the newest append (0: none)
    size_t last_append_begin = 0;
  };
  using inode_ptr = std::shared_ptr<inode>;
  struct dir_op {
    enum kind_t { create, rename, remove } kind;
    std::string name, to;
    inode_ptr node;
  };
  struct dir_state {
    std::map<std::string, inode_ptr> os, durable;
    std::vector<dir_op> pending;  // since the last sync_directory, oldest first
  };
  struct state {
    mutable std::mutex mu;
    std::condition_variable cv;     // the hold was released
    std::condition_variable op_cv;  // an op was counted
    std::map<std::string, dir_state> dirs;
    std::set<std::string> locks;
    uint64_t ops = 0;
    std::optional<uint64_t> crash_at;
    bool crashed = false;
    std::optional<uint64_t> fail_at;
    int fail_errno = EIO;
    bool fail_persistent = false;
    uint64_t failures = 0;
    std::string fault_kind;
    uint64_t fault_op = 0;
    bool hold = false;
    std::thread::id holder;
    bool tracing = false;
    std::vector<std::string> trace;
  };

  static void apply(const dir_op& op, std::map<std::string, inode_ptr>& entries) {
    switch (op.kind) {
      case dir_op::create: entries[op.name] = op.node; break;
      case dir_op::remove: entries.erase(op.name); break;
      case dir_op::rename:
        entries.erase(op.name);
        entries[op.to] = op.node;
        break;
    }
  }

  static size_t uniform(std::mt19937_64& rng, size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>(lo, hi)(rng);
  }

  // REQUIRES: mu held. The inode whose newest append is the newest of all appends that are not
  // entirely durable, among files the OS still names.
  const inode* newest_unsynced_append() const {
    const inode* best = nullptr;
    for (const auto& [dname, ds] : s_->dirs) {
      for (const auto& [name, node] : ds.os) {
        if (node->last_append_op == 0 || node->data.size() <= node->durable) continue;
        if (best == nullptr || node->last_append_op > best->last_append_op) best = node.get();
      }
    }
    return best;
  }

  static std::string surviving_bytes(const inode& node, crash_outcome outcome, bool tear,
                                     std::mt19937_64& rng) {
    const std::string& d = node.data;
    switch (outcome) {
      case crash_outcome::process_crash: return d;
      case crash_outcome::synced_only: return d.substr(0, node.durable);
      case crash_outcome::torn_last_write: {
        if (!tear) return d;
        const size_t begin = std::max(node.last_append_begin, node.durable);
        const size_t end = d.size();
        const size_t cut = uniform(rng, begin, end - 1);
        std::string out = d.substr(0, cut);
        switch (rng() % 3) {
          case 0: break;  // cut short
          case 1:         // the tail is garbage
            for (size_t i = cut; i < end; ++i) out.push_back(static_cast<char>(rng() & 0xff));
            break;
          default: out.append(end - cut, '\0'); break;  // the tail never reached the disk
        }
        return out;
      }
      case crash_outcome::random_unsynced: {
        if (d.size() <= node.durable) return d.substr(0, node.durable);
        switch (rng() % 4) {
          case 0: return d.substr(0, node.durable);
          case 1: return d;
          case 2: return d.substr(0, uniform(rng, node.durable, d.size()));
          default: {
            std::string out = d.substr(0, uniform(rng, node.durable, d.size()));
            for (size_t page = node.durable / page_size * page_size; page < out.size();
                 page += page_size) {
              if (rng() % 2 == 0) continue;
              const size_t from = std::max(page, node.durable);
              const size_t to = std::min(page + page_size, out.size());
              std::fill(out.begin() + static_cast<std::ptrdiff_t>(from),
                        out.begin() + static_cast<std::ptrdiff_t>(to), '\0');
            }
            return out;
          }
        }
      }
    }
    return d;
  }

  static std::string normalize(const std::string& path) {
    std::string p = std::filesystem::path(path).lexically_normal().string();
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  }
  static std::pair<std::string, std::string> split(const std::string& path) {
    const std::filesystem::path p(normalize(path));
    std::string dir = p.parent_path().string();
    if (dir.empty()) dir = ".";
    return {dir, p.filename().string()};
  }

  // REQUIRES: mu held.
  dir_state* find_dir(const std::string& dir) {
    auto it = s_->dirs.find(normalize(dir));
    return it == s_->dirs.end() ? nullptr : &it->second;
  }
  inode_ptr find_file(const std::string& path) {
    auto [dir, name] = split(path);
    dir_state* ds = find_dir(dir);
    if (ds == nullptr) return nullptr;
    auto it = ds->os.find(name);
    return it == ds->os.end() ? nullptr : it->second;
  }

  // Takes the next op index, applying the hold, the crash and the injected failure. Returns 0
  // to go ahead or the errno to fail with; throws if the file system has crashed.
  static int begin_op(const std::shared_ptr<state>& s, std::unique_lock<std::mutex>& l,
                      const char* kind, const std::string& what) {
    s->cv.wait(l, [&] { return !s->hold || s->holder == std::this_thread::get_id(); });
    const uint64_t idx = s->ops++;
    s->op_cv.notify_all();  // the waiter wakes only after this op is done: it needs the mutex
    if (s->tracing) s->trace.push_back(std::string(kind) + " " + what);
    if (!s->crashed && s->crash_at && idx >= *s->crash_at) {
      s->crashed = true;
      s->fault_kind = kind;
      s->fault_op = idx;
    }
    if (s->crashed) {
      throw lsmt::io_error(std::string("fault_fs: simulated crash (") + kind + " " + what + ")", EIO);
    }
    if (s->fail_at && (idx == *s->fail_at || (s->fail_persistent && idx > *s->fail_at))) {
      if (s->failures++ == 0) {
        s->fault_kind = kind;
        s->fault_op = idx;
      }
      return s->fail_errno;
    }
    return 0;
  }
  int begin_op(std::unique_lock<std::mutex>& l, const char* kind, const std::string& what) {
    return begin_op(s_, l, kind, what);
  }

  class writable final : public lsmt::writable_file {
   public:
    writable(std::shared_ptr<state> s, inode_ptr node, std::string path, bool buffered)
        : s_(std::move(s)), node_(std::move(node)), path_(std::move(path)), buffered_(buffered) {}
    ~writable() override {
      try {
        close();
      } catch (...) {  // NOLINT(bugprone-empty-catch): as the POSIX file: close() to learn of it
      }
    }
    void append(std::string_view data) override {
      check_open("append");
      if (!buffered_) {
        push(data);
        return;
      }
      buffer_.append(data.data(), data.size());
      size_ += data.size();
      if (buffer_.size() >= buffer_capacity) flush_buffer();
    }
    void flush() override {
      check_open("flush");
      flush_buffer();
    }
    void sync() override {
      flush();
      std::unique_lock<std::mutex> l(s_->mu);
      if (const int err = begin_op(s_, l, "sync", path_)) {
        throw lsmt::io_error("fault_fs: fsync '" + path_ + "'", err);
      }
      node_->durable = node_->data.size();
    }
    void close() override {
      if (closed_) return;
      closed_ = true;
      flush_buffer();
    }
    uint64_t size() const override { return size_; }

   private:
    void check_open(const char* op) const {
      if (closed_) throw lsmt::io_error(std::string("fault_fs: ") + op + " on closed file '" + path_ + "'", EBADF);
    }
    void flush_buffer() {
      if (buffer_.empty()) return;
      std::string data = std::move(buffer_);
      buffer_.clear();
      try {
        write_through(data);
      } catch (...) {
        buffer_ = data.substr(written_);  // what did not reach the OS stays buffered
        throw;
      }
    }
    void push(std::string_view data) {
      try {
        write_through(data);
      } catch (...) {
        size_ += written_;
        throw;
      }
      size_ += data.size();
    }
    // One append op; on an injected failure half of the bytes reach the OS (a short write).
    void write_through(std::string_view data) {
      written_ = 0;
      std::unique_lock<std::mutex> l(s_->mu);
      const int err = begin_op(s_, l, "append", path_ + " +" + std::to_string(data.size()));
      const size_t n = err != 0 ? data.size() / 2 : data.size();
      if (n > 0) {
        node_->last_append_begin = node_->data.size();
        node_->last_append_op = s_->ops;
        node_->data.append(data.data(), n);
      }
      written_ = n;
      if (err != 0) throw lsmt::io_error("fault_fs: write '" + path_ + "'", err);
    }

    std::shared_ptr<state> s_;
    inode_ptr node_;
    std::string path_;
    bool buffered_;
    bool closed_ = false;
    std::string buffer_;
    uint64_t size_ = 0;
    size_t written_ = 0;
  };

  class lock final : public lsmt::file_lock {
   public:
    lock(std::shared_ptr<state> s, std::string path) : s_(std::move(s)), path_(std::move(path)) {}
    ~lock() override {
      std::lock_guard<std::mutex> l(s_->mu);
      s_->locks.erase(path_);
    }

   private:
    std::shared_ptr<state> s_;
    std::string path_;
  };

  std::unique_ptr<lsmt::writable_file> create(const std::string& path, bool buffered) {
    std::unique_lock<std::mutex> l(s_->mu);
    auto [dir, name] = split(path);
    dir_state* ds = find_dir(dir);
    if (ds == nullptr || name.empty()) throw lsmt::io_error("fault_fs: create '" + path + "'", ENOENT);
    if (const int err = begin_op(l, "create", path)) throw lsmt::io_error("fault_fs: create '" + path + "'", err);
    auto node = std::make_shared<inode>();
    ds->os[name] = node;
    ds->pending.push_back(dir_op{dir_op::create, name, {}, node});
    return std::make_unique<writable>(s_, node, path, buffered);
  }

  std::shared_ptr<state> s_;
};

// =============================================================================================
// The workload driver shared by crash_points_test.cpp and io_error_test.cpp.
// =============================================================================================

namespace crash_work {

using kv_map = std::map<std::string, std::string>;
using store_t = lsmt::db<>;

inline const std::string db_dir = "/db";

struct kv_op {
  bool erase = false;
  std::string key, value;
};

/// One scripted call. write: a batch of ops (one op: put or erase). txn: reads ops[0].key and
/// writes it back with "|" + ops[0].value appended, plus the other ops. hold/release bracket
/// writes during which the background threads may not touch files (so a write can land while a
/// rotated memtable still waits for its flush).
struct step {
  enum kind_t { write, txn, flush, compact, reopen, hold, release } kind = write;
  std::vector<kv_op> ops;
  bool sync = false;
};

struct workload {
  std::string name;
  lsmt::options opts;
  std::vector<step> steps;
  std::vector<kv_map> states;  // states[i]: the contents after the first i writes
  std::set<std::string> keys;  // every key the workload touches
};

inline bool is_write(const step& s) { return s.kind == step::write || s.kind == step::txn; }

/// The model: applies one write step.
inline void apply(const step& s, kv_map& m) {
  for (size_t i = 0; i < s.ops.size(); ++i) {
    const kv_op& op = s.ops[i];
    if (op.erase) {
      m.erase(op.key);
    } else if (s.kind == step::txn && i == 0) {
      auto it = m.find(op.key);
      m[op.key] = (it == m.end() ? std::string() : it->second) + "|" + op.value;
    } else {
      m[op.key] = op.value;
    }
  }
}

inline void finish(workload& w) {
  w.states.assign(1, kv_map{});
  for (const step& s : w.steps) {
    for (const kv_op& op : s.ops) w.keys.insert(op.key);
    if (!is_write(s)) continue;
    kv_map next = w.states.back();
    apply(s, next);
    w.states.push_back(std::move(next));
  }
}

/// Builds random steps over a small key space (so overwrites and deletes hit live keys).
class generator {
 public:
  generator(workload& w, uint64_t seed, size_t key_space) : w_(w), rng_(seed), keys_(key_space) {}

  std::string key() { return "k" + std::to_string(rng_() % keys_); }
  std::string value() {
    // Mostly small; sometimes big enough that a WAL record spans pages.
    const size_t len = rng_() % 8 == 0 ? 1500 + rng_() % 3000 : 1 + rng_() % 40;
    std::string v = "v" + std::to_string(counter_++) + ":";
    while (v.size() < len) v.push_back(static_cast<char>('a' + rng_() % 26));
    return v;
  }
  /// n random writes; each is synced with probability sync_p.
  void writes(size_t n, double sync_p) {
    for (size_t i = 0; i < n; ++i) {
      step s;
      const unsigned r = static_cast<unsigned>(rng_() % 100);
      s.sync = std::bernoulli_distribution(sync_p)(rng_);
      if (r < 45) {
        s.ops.push_back({false, key(), value()});
      } else if (r < 65) {
        s.ops.push_back({true, key(), {}});
      } else if (r < 85) {
        const size_t n_ops = 2 + rng_() % 4;
        for (size_t j = 0; j < n_ops; ++j) {
          if (rng_() % 4 == 0) {
            s.ops.push_back({true, key(), {}});
          } else {
            s.ops.push_back({false, key(), value()});
          }
        }
      } else {
        s.kind = step::txn;
        s.ops.push_back({false, key(), "t" + std::to_string(counter_++)});
        const size_t n_ops = rng_() % 3;
        for (size_t j = 0; j < n_ops; ++j) s.ops.push_back({rng_() % 3 == 0, key(), value()});
        // A later op on the read key would overwrite the read-modify-write; keep it simple.
        for (size_t j = 1; j < s.ops.size(); ++j) {
          if (s.ops[j].key == s.ops[0].key) s.ops[j].key += "x";
        }
      }
      w_.steps.push_back(std::move(s));
    }
  }
  void add(step::kind_t k) {
    step s;
    s.kind = k;
    w_.steps.push_back(std::move(s));
  }
  void put(const std::string& k, bool sync) {
    step s;
    s.sync = sync;
    s.ops.push_back({false, k, value()});
    w_.steps.push_back(std::move(s));
  }

 private:
  workload& w_;
  std::mt19937_64 rng_;
  size_t keys_;
  uint64_t counter_ = 0;
};

inline lsmt::options base_options() {
  lsmt::options o;
  o.block_size = 1024;
  o.block_cache_bytes = 64 << 10;
  o.compaction_interval = 8;
  o.minimum_sstables = 2;
  return o;
}

/// The workloads both tests run. `quick` shrinks them (LSMT_TEST_QUICK).
inline std::vector<workload> make_workloads(uint64_t seed, bool quick) {
  std::vector<workload> out;
  const size_t scale = quick ? 2 : 1;
  auto make = [&](const std::string& name, lsmt::options o, auto&& body) {
    workload w;
    w.name = name;
    w.opts = o;
    generator g(w, seed ^ std::hash<std::string>{}(name), 12);
    body(g);
    finish(w);
    out.push_back(std::move(w));
  };
  {  // WAL append and sync, sync markers, no rotation.
    make("wal", base_options(), [&](generator& g) { g.writes(24 / scale, 0.35); });
  }
  {  // Plain writes only: a power loss promises nothing, a process crash everything.
    lsmt::options o = base_options();
    o.memtable_max_entries = 4;
    make("plain_rotation", o, [&](generator& g) {
      g.writes(18 / scale, 0.0);
      g.add(step::flush);
      g.writes(8 / scale, 0.0);
    });
  }
  {  // WAL rotation and memtable flushes, mixed sync.
    lsmt::options o = base_options();
    o.memtable_max_entries = 3;
    make("rotation_flush", o, [&](generator& g) {
      g.writes(14 / scale, 0.3);
      g.add(step::flush);
      g.writes(10 / scale, 0.3);
    });
  }
  {  // Compaction every 2 tables (tombstones dropped when the oldest table is merged).
    lsmt::options o = base_options();
    o.memtable_max_entries = 3;
    o.compaction_interval = 2;
    o.minimum_sstables = 1;
    make("compaction_2", o, [&](generator& g) {
      g.writes(20 / scale, 0.25);
      g.add(step::flush);  // else compact() races the automatic compaction its flush starts
      g.add(step::compact);
      g.writes(6 / scale, 0.25);
    });
  }
  {  // Compaction every 3 tables, leaving 2.
    lsmt::options o = base_options();
    o.memtable_max_entries = 3;
    o.compaction_interval = 3;
    o.minimum_sstables = 2;
    make("compaction_3", o, [&](generator& g) { g.writes(26 / scale, 0.3); });
  }
  {  // Reopens: recovery replays WALs into a table mid-workload.
    lsmt::options o = base_options();
    o.memtable_max_entries = 5;
    o.compaction_interval = 3;
    o.minimum_sstables = 1;
    make("reopen", o, [&](generator& g) {
      g.writes(12 / scale, 0.2);
      g.add(step::reopen);
      g.writes(8 / scale, 0.2);
      g.add(step::reopen);
      g.writes(4, 0.0);
    });
  }
  return out;
}

/// Writes that land in a new WAL while the previous memtable (and its unsynced WAL) still waits
/// for its flush (the background is held off), then a synced write in the new WAL: a synced
/// write's durability must cover every write acknowledged before it.
inline workload make_pending_flush_workload(uint64_t seed) {
  workload w;
  w.name = "sync_after_rotation";
  w.opts = base_options();
  w.opts.memtable_max_entries = 3;
  generator g(w, seed ^ 0x9e3779b97f4a7c15ULL, 8);
  for (int round = 0; round < 3; ++round) {
    // The memtable is empty before round 0 and holds the synced write after every round.
    g.add(step::hold);
    for (int i = round == 0 ? 0 : 1; i < 3; ++i) g.put("p" + std::to_string(round * 3 + i), false);
    g.put("s" + std::to_string(round), true);  // rotates (the memtable is full), then syncs
    g.add(step::release);
  }
  finish(w);
  return w;
}

/// What a run of a workload did.
struct run_log {
  std::vector<size_t> attempted;  // write indices, in order
  std::set<size_t> uncertain;     // writes whose call threw: applied or not
  size_t acked = 0;               // writes that returned
  size_t durable = 0;             // prefix of `attempted` that survives a power loss
  size_t failed_calls = 0;
  bool open_failed = false;
  bool probe_ok = false;          // the post-fault probe (compact()) succeeded
  bool reopened_after_fault = false;  // a reopen step came after the fault (and cleared it)
  std::vector<std::string> unexpected;  // wrong exception types, hangs
};

/// Counts files of the store's directory with extension ext.
inline size_t count_files(fault_fs& fs, const std::string& ext) {
  size_t n = 0;
  for (const std::string& name : fs.list_directory(db_dir)) {
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) ++n;
  }
  return n;
}

/// Waits until the store's background threads are idle: nothing awaits a flush, no compaction
/// is due, and no leftover (a retired WAL, a compacted table) awaits removal. Returns early
/// once a fault fired (the engine may then never settle). Throws on a hang.
inline void quiesce(const store_t& db, fault_fs& fs, const lsmt::options& o) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    // Background work ends with a file op (removing a retired WAL or compacted table), so
    // waiting for the next op rather than polling costs no CPU; the timeout is a fallback.
    const uint64_t seen = fs.ops();
    if (fs.fault_fired()) return;
    const auto st = db.stats();
    if (st.immutable_memtables == 0 && st.tables < o.compaction_interval &&
        count_files(fs, ".log") == 1 && count_files(fs, ".sst") == st.tables) {
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("hang: background work did not settle in 60 s");
    }
    fs.wait_for_op(seen, std::chrono::milliseconds(2));
  }
}

inline void run_step(store_t& db, const step& s) {
  const lsmt::write_options wo{s.sync};
  if (s.kind == step::write) {
    if (s.ops.size() == 1) {
      if (s.ops[0].erase) {
        db.erase(s.ops[0].key, wo);
      } else {
        db.put(s.ops[0].key, s.ops[0].value, wo);
      }
      return;
    }
    store_t::batch b;
    for (const kv_op& op : s.ops) {
      if (op.erase) {
        b.erase(op.key);
      } else {
        b.put(op.key, op.value);
      }
    }
    db.write(b, wo);
  } else if (s.kind == step::txn) {
    auto tx = db.begin_transaction();
    const std::optional<std::string> old = tx.get(s.ops[0].key);
    tx.put(s.ops[0].key, old.value_or("") + "|" + s.ops[0].value);
    for (size_t i = 1; i < s.ops.size(); ++i) {
      if (s.ops[i].erase) {
        tx.erase(s.ops[i].key);
      } else {
        tx.put(s.ops[i].key, s.ops[i].value);
      }
    }
    tx.commit(wo);
  } else if (s.kind == step::flush) {
    db.flush();
  } else if (s.kind == step::compact) {
    db.compact();
  }
}

inline std::atomic<uint64_t>& heartbeat() {
  static std::atomic<uint64_t> beat{0};
  return beat;
}

/// Aborts the process (with `what()` of the current context) if no heartbeat() comes for
/// `limit`: a hung engine must fail the test, not stall it.
class watchdog {
 public:
  explicit watchdog(std::function<std::string()> what,
                    std::chrono::seconds limit = std::chrono::seconds(120))
      : what_(std::move(what)), thread_([this, limit] { run(limit); }) {}
  ~watchdog() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

 private:
  void run(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> l(mu_);
    uint64_t last = heartbeat().load();
    auto since = std::chrono::steady_clock::now();
    while (!cv_.wait_for(l, std::chrono::milliseconds(200), [&] { return stop_; })) {
      const uint64_t now_beat = heartbeat().load();
      const auto now = std::chrono::steady_clock::now();
      if (now_beat != last) {
        last = now_beat;
        since = now;
      } else if (now - since > limit) {
        std::fprintf(stderr, "watchdog: no progress for %llds: hang in %s\n",
                     static_cast<long long>(limit.count()), what_().c_str());
        std::fflush(stderr);
        std::abort();
      }
    }
  }
  std::function<std::string()> what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

/// Runs w against fs. With keep_going false (a crash) it stops at the first failed call; with
/// keep_going (injected I/O errors) it goes on until max_failures calls failed. Writes run with
/// the background held off and are followed by quiesce(), so the op sequence is deterministic
/// until the first fault. Closes the store at the end (errors ignored). With probe, a store that
/// saw a fault no call reported gets a compact(), which must fail.
inline run_log run_workload(const workload& w, const std::shared_ptr<fault_fs>& fs,
                            bool keep_going, size_t max_failures = 3, bool probe = false) {
  run_log log;
  lsmt::options o = w.opts;
  o.fs = fs;
  std::unique_ptr<store_t> db;
  auto unexpected = [&](const std::string& where, const char* what) {
    log.unexpected.push_back(where + ": " + what);
  };
  try {
    db = std::make_unique<store_t>(db_dir, o);
    quiesce(*db, *fs, w.opts);
  } catch (const lsmt::io_error&) {
    log.open_failed = true;
    ++log.failed_calls;
    return log;
  } catch (const std::exception& e) {
    unexpected("open", e.what());
    return log;
  }
  bool held = false;
  size_t write_index = 0;
  size_t step_index = 0;
  for (const step& s : w.steps) {
    ++heartbeat();
    const std::string where = "step " + std::to_string(step_index++);
    if (s.kind == step::hold || s.kind == step::release) {
      // Once a fault fired the background may be behind (no quiesce), and a write may have to
      // wait for its flush: holding it off could deadlock. Determinism ends at the fault.
      held = s.kind == step::hold && !fs->fault_fired();
      fs->hold_other_threads(held);
      if (!held) {
        try {
          quiesce(*db, *fs, w.opts);
        } catch (const std::exception& e) {
          unexpected(where, e.what());
          break;
        }
      }
      continue;
    }
    const bool writes = is_write(s);
    bool ok = true;
    const bool hold_this = !held && writes && !fs->fault_fired();
    if (hold_this) fs->hold_other_threads(true);
    try {
      if (s.kind == step::reopen) {
        if (fs->fault_fired()) log.reopened_after_fault = true;
        db->close();
        db.reset();
        db = std::make_unique<store_t>(db_dir, o);
      } else {
        run_step(*db, s);
      }
    } catch (const lsmt::io_error&) {
      ok = false;
    } catch (const std::exception& e) {
      ok = false;
      unexpected(where, e.what());
    }
    if (hold_this) fs->hold_other_threads(false);
    if (writes) {
      log.attempted.push_back(write_index);
      if (ok) {
        ++log.acked;
        if (s.sync) log.durable = log.attempted.size();
      } else {
        log.uncertain.insert(write_index);
      }
      ++write_index;
    } else if (ok) {
      log.durable = log.attempted.size();  // a flush, compaction or recovery syncs everything
    }
    if (!ok) {
      ++log.failed_calls;
      if (!keep_going || log.failed_calls >= max_failures || !db) break;
    }
    if (fs->crashed()) break;
    if (!held) {
      try {
        quiesce(*db, *fs, w.opts);
      } catch (const std::exception& e) {
        unexpected(where, e.what());
        break;
      }
    }
    if (fs->crashed()) break;  // it crashed in background work: the process is gone
  }
  if (held) fs->hold_other_threads(false);
  if (db && probe && log.failed_calls == 0 && fs->fault_fired() && fs->fault_kind() != "remove" &&
      !log.reopened_after_fault) {
    // The fault hit background work: the engine must stop. compact() waits for the background
    // to finish or fail (a write could race the failing thread and legitimately succeed).
    try {
      db->compact();
      log.probe_ok = true;
    } catch (const lsmt::io_error&) {
      ++log.failed_calls;
    } catch (const std::exception& e) {
      unexpected("probe", e.what());
    }
  }
  if (db) {
    try {
      db->close();
    } catch (const lsmt::io_error&) {
    } catch (const std::exception& e) {
      unexpected("close", e.what());
    }
  }
  return log;
}

/// The whole contents of a store, read by a scan; point lookups of every key must agree.
inline kv_map read_all(const store_t& db, const std::set<std::string>& keys, std::string* problem) {
  kv_map m;
  for (auto& [k, v] : db.scan().to_vector()) m[k] = v;
  for (const std::string& k : keys) {
    const std::optional<std::string> v = db.get(k);
    auto it = m.find(k);
    const bool same = v ? (it != m.end() && it->second == *v) : it == m.end();
    if (!same && problem->empty()) *problem = "get(" + k + ") disagrees with the scan";
  }
  return m;
}

inline std::string show(const std::string& v) {
  return v.size() > 24 ? v.substr(0, 20) + "...(" + std::to_string(v.size()) + ")" : v;
}

/// The first few differences between a recovered state and a model state.
inline std::string diff(const kv_map& got, const kv_map& want) {
  std::ostringstream out;
  int shown = 0;
  std::set<std::string> keys;
  for (const auto& kv : got) keys.insert(kv.first);
  for (const auto& kv : want) keys.insert(kv.first);
  for (const std::string& k : keys) {
    auto g = got.find(k);
    auto w = want.find(k);
    if (g != got.end() && w != want.end() && g->second == w->second) continue;
    if (shown++ == 6) {
      out << " ...";
      break;
    }
    out << " " << k << ": got " << (g == got.end() ? "<absent>" : show(g->second)) << ", want "
        << (w == want.end() ? "<absent>" : show(w->second)) << ";";
  }
  return out.str();
}

/// Is `got` a state the run permits? It must equal the model after the first P attempted writes
/// for some P >= min_prefix, where each uncertain write among them may or may not be applied.
/// Returns "" if so, else a description.
inline std::string check_state(const workload& w, const run_log& log, size_t min_prefix,
                               const kv_map& got) {
  const size_t n = log.attempted.size();
  // Fast path: no uncertain write before the end, so the precomputed prefix states apply.
  const bool simple = log.uncertain.empty() ||
                      (log.uncertain.size() == 1 && *log.uncertain.begin() == n - 1);
  if (simple) {
    // An uncertain last write may be missing even when every write must be kept.
    const size_t lower = log.uncertain.empty() ? min_prefix : std::min(min_prefix, n - 1);
    for (size_t p = lower; p <= n; ++p) {
      if (w.states[p] == got) return "";
    }
  } else {
    std::vector<size_t> unc(log.uncertain.begin(), log.uncertain.end());
    for (size_t mask = 0; mask < (size_t{1} << unc.size()); ++mask) {
      kv_map m;
      size_t u = 0;
      for (size_t p = 0;; ++p) {
        if (p >= min_prefix && m == got) return "";
        if (p == n) break;
        const size_t wi = log.attempted[p];
        const bool is_unc = u < unc.size() && unc[u] == wi;
        const bool on = !is_unc || ((mask >> u) & 1) != 0;
        if (is_unc) ++u;
        if (on) {
          size_t seen = 0;
          for (const step& s : w.steps) {
            if (!is_write(s)) continue;
            if (seen++ == wi) {
              apply(s, m);
              break;
            }
          }
        }
      }
    }
  }
  std::ostringstream out;
  out << "recovered state matches no permitted prefix (attempted " << n << ", acked " << log.acked
      << ", must keep >= " << min_prefix << " writes). vs. all attempted:"
      << diff(got, w.states[n]) << "  vs. the minimum prefix:" << diff(got, w.states[min_prefix]);
  return out.str();
}

/// The workloads' seed: $LSMT_TEST_SEED, else a fixed one (so op counts are stable).
inline uint64_t workload_seed() { return fixed_test_seed(20240611); }

}  // namespace crash_work
}  // namespace lsmt_test

#endif  // LSMT_TEST_FAULT_FS_HPP
