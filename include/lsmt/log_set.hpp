// lsmt/log_set.hpp - a store's write-ahead logs: the current log, which the write leader
// appends to, and the earlier logs whose memtables are not in a table yet.
//
// Rotation does not sync the old log: a device flush per memtable would stall every writer.
// The new log starts with a link to the old one (its number and final size) instead, so
// recovery can tell when a power loss kept the new log but cut the old one (wal.hpp, "Order
// across logs"). A synced write therefore first syncs every earlier log whose memtable is not
// in a table yet, and the directory entry of the current log, once per log. Logs whose
// memtable is flushed are skipped (their data is safe, and an error syncing them would stop
// writes for nothing) and closed by the flush thread: closing a big unlinked file takes
// milliseconds, which the writer should not pay.
//
// Thread safety: the current log belongs to the write leader: functions that touch it require
// writer_role(), which the engine's write queue grants to one thread at a time. The earlier
// logs are guarded by an internal mutex, the innermost lock of the engine: nothing else is
// locked while it is held.
#ifndef LSMT_LOG_SET_HPP
#define LSMT_LOG_SET_HPP

#include <algorithm>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "file_names.hpp"
#include "file_system.hpp"
#include "thread_annotations.hpp"
#include "wal.hpp"

namespace lsmt::detail {

class log_set {
 public:
  log_set(std::shared_ptr<file_system> fs, std::string dir)
      : fs_(std::move(fs)), dir_(std::move(dir)) {}

  /// Held by the one thread that may touch the current log (the write leader, or the opener).
  role& writer_role() LSMT_RETURN_CAPABILITY(writer_role_) { return writer_role_; }

  /// Creates log `number` as the current log (at open, before any write).
  void start(uint64_t number) LSMT_REQUIRES(writer_role_) {
    current_ = std::make_unique<log_writer>(fs_->new_log_file(path(number)), number);
    current_number_ = number;
  }

  uint64_t current_number() const LSMT_REQUIRES(writer_role_) { return current_number_; }
  /// Bytes of the current log: its header and whole records (no append is half done while
  /// the caller holds the writer role).
  uint64_t current_size() const LSMT_REQUIRES(writer_role_) { return current_->size(); }
  /// Bytes of earlier log `number` (it ended when the next log started), or nullopt if it is
  /// closed. The file may be longer until it closes (a preallocated tail).
  std::optional<uint64_t> earlier_size(uint64_t number) {
    lock_guard g(mutex_);
    for (const earlier_log& e : earlier_) {
      if (e.number == number) return e.log->size();
    }
    return std::nullopt;
  }

  /// Appends one record to the current log. With `sync`, first makes the logs numbered
  /// oldest_needed and up durable, and the current log's directory entry, then syncs the record.
  void append(std::string_view record, bool sync, uint64_t oldest_needed)
      LSMT_REQUIRES(writer_role_) {
    current_->add_record(record);
    if (!sync) {
      current_->flush();
      return;
    }
    {
      lock_guard g(mutex_);
      for (earlier_log& e : earlier_) {
        if (e.synced || e.number < oldest_needed) continue;
        e.log->sync();
        e.synced = true;
      }
    }
    if (!directory_synced_) {
      fs_->sync_directory(dir_);
      directory_synced_ = true;
    }
    current_->sync();
  }

  /// Makes log `number` current; it starts with a link to the old current log, which joins the
  /// earlier logs, unsynced and open.
  /// If it throws, the old log stays current, and the new file is removed if possible (recovery
  /// skips such an unused log if it is not: log_replay.hpp).
  void rotate(uint64_t number) LSMT_REQUIRES(writer_role_) {
    std::unique_ptr<log_writer> next;
    try {
      next = std::make_unique<log_writer>(fs_->new_log_file(path(number)), number);
      next->add_link(log_link{current_number_, current_->size()});
      next->flush();
    } catch (...) {
      next.reset();
      try {
        if (fs_->file_exists(path(number))) fs_->remove_file(path(number));
      } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): see above
      }
      throw;
    }
    {
      lock_guard g(mutex_);
      earlier_.push_back(earlier_log{current_number_, std::move(current_), false});
    }
    current_ = std::move(next);
    current_number_ = number;
    directory_synced_ = false;
  }

  /// Closes earlier log `number`, whose memtable is in a table now (the flush thread).
  void close_flushed(uint64_t number) {
    std::deque<earlier_log> done;
    {
      lock_guard g(mutex_);
      const auto it = std::find_if(earlier_.begin(), earlier_.end(),
                                   [&](const earlier_log& e) { return e.number == number; });
      if (it == earlier_.end()) return;
      done.push_back(std::move(*it));
      earlier_.erase(it);
    }
    close_quietly(done);
  }

  /// Closes every log (the store is closing). The current log's error, if any, is thrown after
  /// the others are closed; theirs are dropped, since recovery reads every log again anyway.
  void close_all() LSMT_REQUIRES(writer_role_) {
    std::deque<earlier_log> logs;
    {
      lock_guard g(mutex_);
      logs.swap(earlier_);
    }
    close_quietly(logs);
    current_->close();
  }

  std::string path(uint64_t number) const { return file_path(dir_, number, file_kind::log); }

 private:
  struct earlier_log {
    uint64_t number;
    std::unique_ptr<log_writer> log;
    bool synced = false;
  };

  static void close_quietly(std::deque<earlier_log>& logs) noexcept {
    for (earlier_log& e : logs) {
      try {
        e.log->close();
      } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): see close_all()
      }
    }
    logs.clear();
  }

  const std::shared_ptr<file_system> fs_;
  const std::string dir_;
  role writer_role_;
  std::unique_ptr<log_writer> current_ LSMT_GUARDED_BY(writer_role_);
  uint64_t current_number_ LSMT_GUARDED_BY(writer_role_) = 0;
  bool directory_synced_ LSMT_GUARDED_BY(writer_role_) = true;  // current log's entry is durable
  mutex mutex_;
  std::deque<earlier_log> earlier_ LSMT_GUARDED_BY(mutex_);  // oldest first
};

}  // namespace lsmt::detail

#endif  // LSMT_LOG_SET_HPP
