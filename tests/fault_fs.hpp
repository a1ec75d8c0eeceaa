// tests/fault_fs.hpp - an in-memory lsmt::file_system that models what survives a crash, and
// injects crashes and I/O errors at chosen operations. It holds no store logic.
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
//   write_at           one "write_at" operation, which reaches the OS at once; a power loss may
//                      undo the overwrites since the file's last sync (newest first).
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
//   crash_state(o, rng)  a fresh fault_fs holding what survives the crash, for outcome o
//                     (crash_outcome.hpp). Directory entries: process_crash and torn_last_write
//                     keep what the OS showed, synced_only only the durable entries, and
//                     random_unsynced the durable entries plus a random prefix of each
//                     directory's pending operations (namespace changes are journaled in order;
//                     a rename is atomic). File bytes: surviving_bytes() of crash_outcome.hpp,
//                     where torn_last_write tears the file with the newest unsynced append.
//   fail_at(k, err, persistent)  op k (or every op from k on) throws io_error(err) instead of
//                     running; an append or flush that fails first writes half of its bytes (a
//                     short write). Nothing crashes: clear_faults() and the store can reopen.
//
// Determinism: hold_other_threads(true) makes mutating ops of every thread but the caller wait
// until hold_other_threads(false), so a test can keep a store's background threads from
// interleaving their file operations with a write's; wait_for_held(n) waits until n ops wait.
//
// The workloads that run against it are in crash_workload.hpp and workload_driver.hpp.
//
// Thread safety: every member may be called from any thread (one mutex guards the state).
#ifndef LSMT_TEST_FAULT_FS_HPP
#define LSMT_TEST_FAULT_FS_HPP

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crash_outcome.hpp"
#include "fault_fs_state.hpp"
#include "lsmt/error.hpp"
#include "lsmt/file_system.hpp"
#include "memory_file.hpp"

namespace lsmt_test {

class fault_fs final : public lsmt::file_system {
 public:
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
    return find_file(path) != nullptr || s_->dirs.count(fault_fs_detail::normalize(path)) != 0;
  }

  std::vector<std::string> list_directory(const std::string& dir) override {
    std::lock_guard<std::mutex> l(s_->mu);
    const std::string d = fault_fs_detail::normalize(dir);
    auto it = s_->dirs.find(d);
    if (it == s_->dirs.end()) {
      throw lsmt::io_error("fault_fs: open directory '" + dir + "'", ENOENT);
    }
    std::vector<std::string> names;
    for (const auto& [name, node] : it->second.os) names.push_back(name);
    for (const auto& [other, ds] : s_->dirs) {
      if (other != d && fault_fs_detail::split(other).first == d) {
        names.push_back(fault_fs_detail::split(other).second);
      }
    }
    return names;
  }

  void remove_file(const std::string& path) override {
    std::unique_lock<std::mutex> l(s_->mu);
    auto [dir, name] = fault_fs_detail::split(path);
    dir_state* ds = find_dir(dir);
    if (ds == nullptr || ds->os.count(name) == 0) {
      throw lsmt::io_error("fault_fs: remove '" + path + "'", ENOENT);
    }
    if (const int err = begin_op(l, "remove", path)) {
      throw lsmt::io_error("fault_fs: remove '" + path + "'", err);
    }
    ds->os.erase(name);
    ds->pending.push_back(dir_op{dir_op::remove, name, {}, nullptr});
  }

  void rename_file(const std::string& from, const std::string& to) override {
    std::unique_lock<std::mutex> l(s_->mu);
    auto [dir, name] = fault_fs_detail::split(from);
    auto [to_dir, to_name] = fault_fs_detail::split(to);
    const std::string what = from + " -> " + to;
    if (dir != to_dir) throw lsmt::io_error("fault_fs: rename '" + what + "'", EXDEV);
    dir_state* ds = find_dir(dir);
    if (ds == nullptr || ds->os.count(name) == 0) {
      throw lsmt::io_error("fault_fs: rename '" + what + "'", ENOENT);
    }
    if (const int err = begin_op(l, "rename", what)) {
      throw lsmt::io_error("fault_fs: rename '" + what + "'", err);
    }
    inode_ptr node = ds->os[name];
    ds->os.erase(name);
    ds->os[to_name] = node;
    ds->pending.push_back(dir_op{dir_op::rename, name, to_name, node});
  }

  void create_directory(const std::string& dir, std::filesystem::perms /*perms*/) override {
    std::unique_lock<std::mutex> l(s_->mu);
    if (const int err = begin_op(l, "mkdir", dir)) {
      throw lsmt::io_error("fault_fs: mkdir '" + dir + "'", err);
    }
    for (std::string d = fault_fs_detail::normalize(dir);
         d != "." && d != "/" && s_->dirs.count(d) == 0; d = fault_fs_detail::split(d).first) {
      s_->dirs[d];
    }
  }

  void sync_directory(const std::string& dir) override {
    std::unique_lock<std::mutex> l(s_->mu);
    dir_state* ds = find_dir(fault_fs_detail::normalize(dir));
    if (ds == nullptr) throw lsmt::io_error("fault_fs: sync directory '" + dir + "'", ENOENT);
    if (const int err = begin_op(l, "syncdir", dir)) {
      throw lsmt::io_error("fault_fs: sync directory '" + dir + "'", err);
    }
    ds->durable = ds->os;
    ds->pending.clear();
  }

  std::unique_ptr<lsmt::file_lock> lock_file(const std::string& path) override {
    std::lock_guard<std::mutex> l(s_->mu);
    const std::string p = fault_fs_detail::normalize(path);
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

  /// Waits until `n` ops of other threads wait for the hold, or the timeout passes: whether so.
  /// Ops released by hold_other_threads(false) count until their threads wake.
  bool wait_for_held(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> l(s_->mu);
    return s_->op_cv.wait_for(l, timeout, [&] { return s_->held >= n; });
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
    const inode* torn =
        outcome == crash_outcome::torn_last_write ? newest_unsynced_append() : nullptr;
    std::map<const inode*, inode_ptr> copies;
    for (const auto& [dname, ds] : s_->dirs) {
      std::map<std::string, inode_ptr> entries;
      switch (outcome) {
        case crash_outcome::synced_only:
          entries = ds.durable;
          break;
        case crash_outcome::process_crash:
        case crash_outcome::torn_last_write:
          entries = ds.os;
          break;
        case crash_outcome::random_unsynced: {
          entries = ds.durable;
          const size_t keep = uniform_size(rng, 0, ds.pending.size());
          for (size_t i = 0; i < keep; ++i) fault_fs_detail::apply(ds.pending[i], entries);
          break;
        }
      }
      dir_state& nd = out->s_->dirs[dname];
      for (const auto& [name, node] : entries) {
        inode_ptr& copy = copies[node.get()];
        if (!copy) {
          copy = std::make_shared<inode>();
          copy->data = surviving_bytes(node->data, node->durable, node->last_append_begin, outcome,
                                       node.get() == torn, rng);
          undo_overwrites(*node, outcome, rng, copy->data);
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
  using inode = fault_fs_detail::inode;
  using inode_ptr = fault_fs_detail::inode_ptr;
  using dir_op = fault_fs_detail::dir_op;
  using dir_state = fault_fs_detail::dir_state;
  using state = fault_fs_detail::state;
  using writable = fault_fs_detail::writable;
  using lock = fault_fs_detail::lock;

  // A power loss keeps the overwrites of a file (write_at) since its last sync up to a point:
  // synced_only none of them, random_unsynced a random prefix; a process crash keeps them all.
  static void undo_overwrites(const inode& node, crash_outcome outcome, std::mt19937_64& rng,
                              std::string& data) {
    size_t keep = node.undo.size();
    if (outcome == crash_outcome::synced_only) keep = 0;
    if (outcome == crash_outcome::random_unsynced) keep = uniform_size(rng, 0, node.undo.size());
    for (size_t i = node.undo.size(); i > keep; --i) {
      const auto& [offset, old] = node.undo[i - 1];
      if (offset < data.size())
        data.replace(offset, std::min(old.size(), data.size() - offset), old);
    }
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

  // REQUIRES: mu held.
  dir_state* find_dir(const std::string& dir) {
    auto it = s_->dirs.find(fault_fs_detail::normalize(dir));
    return it == s_->dirs.end() ? nullptr : &it->second;
  }
  inode_ptr find_file(const std::string& path) {
    auto [dir, name] = fault_fs_detail::split(path);
    dir_state* ds = find_dir(dir);
    if (ds == nullptr) return nullptr;
    auto it = ds->os.find(name);
    return it == ds->os.end() ? nullptr : it->second;
  }

  int begin_op(std::unique_lock<std::mutex>& l, const char* kind, const std::string& what) {
    return fault_fs_detail::begin_op(s_, l, kind, what);
  }

  std::unique_ptr<lsmt::writable_file> create(const std::string& path, bool buffered) {
    std::unique_lock<std::mutex> l(s_->mu);
    auto [dir, name] = fault_fs_detail::split(path);
    dir_state* ds = find_dir(dir);
    if (ds == nullptr || name.empty()) {
      throw lsmt::io_error("fault_fs: create '" + path + "'", ENOENT);
    }
    if (const int err = begin_op(l, "create", path)) {
      throw lsmt::io_error("fault_fs: create '" + path + "'", err);
    }
    auto node = std::make_shared<inode>();
    ds->os[name] = node;
    ds->pending.push_back(dir_op{dir_op::create, name, {}, node});
    return std::make_unique<writable>(s_, node, path, buffered);
  }

  std::shared_ptr<state> s_;
};

}  // namespace lsmt_test

#endif  // LSMT_TEST_FAULT_FS_HPP
