// tests/fault_fs_state.hpp - the state behind the simulated file system of fault_fs.hpp: files
// (inodes) with the bytes the OS holds and a durable length, directories with the entries the
// OS shows, the durable entries and the pending operations between them, the fault settings,
// and begin_op(), which numbers every mutating operation and fires the crash or the injected
// failure at it. Also the open-file objects fault_fs hands out (a writable file, whose appends
// are operations, and a lock). fault_fs.hpp documents the model.
#ifndef LSMT_TEST_FAULT_FS_STATE_HPP
#define LSMT_TEST_FAULT_FS_STATE_HPP

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "lsmt/error.hpp"
#include "lsmt/file_system.hpp"

namespace lsmt_test::fault_fs_detail {

/// Appends and flushes of a new_writable_file are buffered up to this many bytes.
inline constexpr size_t buffer_capacity = 64 << 10;

/// A file: the bytes the OS holds, and how many of them are on disk.
struct inode {
  std::string data;             // what the OS has
  size_t durable = 0;           // data[0, durable) is on disk
  uint64_t last_append_op = 0;  // 1 + op index of the newest append (0: none)
  size_t last_append_begin = 0;
  // Bytes that write_at() overwrote since the last sync, oldest first: (offset, old bytes).
  // A power loss may undo any suffix of these overwrites.
  std::vector<std::pair<size_t, std::string>> undo;
};
using inode_ptr = std::shared_ptr<inode>;
/// A namespace change of a directory, pending until the directory is synced.
struct dir_op {
  enum kind_t { create, rename, remove } kind;
  std::string name, to;
  inode_ptr node;
};
/// A directory: the entries the OS shows, the durable ones, and the changes between them.
struct dir_state {
  std::map<std::string, inode_ptr> os, durable;
  std::vector<dir_op> pending;  // since the last sync_directory, oldest first
};
/// The whole simulated disk and the fault settings; `mu` guards everything.
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
  size_t held = 0;  // ops waiting for the hold's release
  bool tracing = false;
  std::vector<std::string> trace;
};

/// Applies a pending directory change to a set of entries.
inline void apply(const dir_op& op, std::map<std::string, inode_ptr>& entries) {
  switch (op.kind) {
    case dir_op::create:
      entries[op.name] = op.node;
      break;
    case dir_op::remove:
      entries.erase(op.name);
      break;
    case dir_op::rename:
      entries.erase(op.name);
      entries[op.to] = op.node;
      break;
  }
}

/// A path without "." and ".." parts or a trailing slash; split() gives (directory, name).
inline std::string normalize(const std::string& path) {
  std::string p = std::filesystem::path(path).lexically_normal().string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}
inline std::pair<std::string, std::string> split(const std::string& path) {
  const std::filesystem::path p(normalize(path));
  std::string dir = p.parent_path().string();
  if (dir.empty()) dir = ".";
  return {dir, p.filename().string()};
}

// Takes the next op index, applying the hold, the crash and the injected failure. Returns 0
// to go ahead or the errno to fail with; throws if the file system has crashed.
inline int begin_op(const std::shared_ptr<state>& s, std::unique_lock<std::mutex>& l,
                    const char* kind, const std::string& what) {
  if (s->hold && s->holder != std::this_thread::get_id()) {
    ++s->held;
    s->op_cv.notify_all();
    s->cv.wait(l, [&] { return !s->hold; });
    --s->held;
  }
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

/// A file open for writing; each push of bytes to the OS is one "append" op (see fault_fs.hpp).
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
    node_->undo.clear();
  }
  // One "write_at" op; an injected failure changes nothing.
  bool write_at(uint64_t offset, std::string_view data) override {
    flush();
    std::unique_lock<std::mutex> l(s_->mu);
    if (offset > node_->data.size() || data.size() > node_->data.size() - offset) {
      throw lsmt::io_error("fault_fs: write_at beyond the end of '" + path_ + "'", EINVAL);
    }
    if (const int err = begin_op(s_, l, "write_at", path_)) {
      throw lsmt::io_error("fault_fs: write '" + path_ + "'", err);
    }
    const auto at = static_cast<size_t>(offset);
    node_->undo.emplace_back(at, node_->data.substr(at, data.size()));
    node_->data.replace(at, data.size(), data.data(), data.size());
    return true;
  }
  void close() override {
    if (closed_) return;
    closed_ = true;
    flush_buffer();
  }
  uint64_t size() const override { return size_; }

 private:
  void check_open(const char* op) const {
    if (closed_) {
      throw lsmt::io_error(std::string("fault_fs: ") + op + " on closed file '" + path_ + "'",
                           EBADF);
    }
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

/// A held lock_file() lock; released when destroyed.
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

}  // namespace lsmt_test::fault_fs_detail

#endif  // LSMT_TEST_FAULT_FS_STATE_HPP
