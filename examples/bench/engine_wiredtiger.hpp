// engine_wiredtiger.hpp - db_bench's adapter for WiredTiger (MongoDB's engine), as a B-tree.
//
// Settings, chosen to give WiredTiger the durability the LSM engines have by default (a write
// survives a process crash, not a power loss):
//   wiredtiger_open: "create,log=(enabled=true),transaction_sync=(enabled=true,method=none)":
//     every commit writes its log record to the log file (write(2)), none fsyncs it; fillsync
//     calls WT_SESSION::log_flush("sync=on") after each write instead.
//   session_max: 2 per benchmark thread + 64.
//   table: "table:bench" with "key_format=u,value_format=u" (raw bytes), a btree (the default
//     type), no block compression (the default).
//   Each put or delete is its own auto-committed transaction, like the other engines' calls.
//   Everything else is WiredTiger's default, including its 100 MiB page cache: WiredTiger keeps
//   pages in its own cache (RSS counts it) and has no separate block cache or bloom filter for
//   a btree table, so --cache_size and --bloom_bits do not apply.
// WT_SESSION and WT_CURSOR handles are single-threaded: each thread opens its own session (and
// one cursor for point operations) on first use, and closes it in end_thread().
#pragma once

#include <wiredtiger.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine.hpp"

namespace bench {

// A thread's session, and its cursor for point operations (reset after each).
struct wt_thread_session {
  const void* owner = nullptr;  // the wiredtiger_engine it belongs to
  WT_SESSION* session = nullptr;
  WT_CURSOR* point = nullptr;
};

class wiredtiger_engine final : public engine {
 public:
  static std::string describe(const config&) {
    return std::string(WIREDTIGER_VERSION_STRING) +
           ", btree, log on, transaction_sync=(enabled=true,method=none), cache 100 MiB";
  }

  wiredtiger_engine(const std::string& dir, const config& cfg) {
    std::string open_config =
        "create,log=(enabled=true),transaction_sync=(enabled=true,method=none),session_max=" +
        std::to_string(2 * cfg.threads + 64);
    check(wiredtiger_open(dir.c_str(), nullptr, open_config.c_str(), &conn_), "wiredtiger_open");
    WT_SESSION* session = nullptr;
    check(conn_->open_session(conn_, nullptr, nullptr, &session), "open_session");
    check(session->create(session, kTable, "key_format=u,value_format=u"), "create");
    check(session->close(session, nullptr), "session close");
  }
  ~wiredtiger_engine() override { conn_->close(conn_, nullptr); }  // closes every session too
  wiredtiger_engine(const wiredtiger_engine&) = delete;
  wiredtiger_engine& operator=(const wiredtiger_engine&) = delete;

  void put(const std::string& key, const std::string& value, bool sync) override {
    wt_thread_session& t = local();
    WT_ITEM k = item(key), v = item(value);
    t.point->set_key(t.point, &k);
    t.point->set_value(t.point, &v);
    check(t.point->insert(t.point), "insert");
    t.point->reset(t.point);
    if (sync) check(t.session->log_flush(t.session, "sync=on"), "log_flush");
  }
  bool get(const std::string& key, std::string* value) override {
    wt_thread_session& t = local();
    WT_ITEM k = item(key), v{};
    t.point->set_key(t.point, &k);
    int rc = t.point->search(t.point);
    if (rc == 0) {
      check(t.point->get_value(t.point, &v), "get_value");
      value->assign(static_cast<const char*>(v.data), v.size);
    }
    t.point->reset(t.point);
    if (rc == WT_NOTFOUND) return false;
    check(rc, "search");
    return true;
  }
  void erase(const std::string& key, bool sync) override {
    wt_thread_session& t = local();
    WT_ITEM k = item(key);
    t.point->set_key(t.point, &k);
    int rc = t.point->remove(t.point);
    t.point->reset(t.point);
    if (rc != WT_NOTFOUND) check(rc, "remove");
    if (sync) check(t.session->log_flush(t.session, "sync=on"), "log_flush");
  }
  std::unique_ptr<cursor> new_cursor() override {
    return std::make_unique<wt_cursor>(local().session);
  }
  void end_thread() override {
    if (local_.owner != this || local_.session == nullptr) return;
    std::lock_guard<std::mutex> lock(sessions_mu_);
    auto it = std::find(sessions_.begin(), sessions_.end(), local_.session);
    if (it != sessions_.end()) {
      *it = sessions_.back(), sessions_.pop_back();
      local_.session->close(local_.session, nullptr);  // closes its cursors too
    }
    local_ = {};
  }

 private:
  static constexpr const char* kTable = "table:bench";

  static void check(int rc, const char* what) {
    if (rc != 0) {
      throw std::runtime_error(std::string("wiredtiger: ") + what + ": " + wiredtiger_strerror(rc));
    }
  }
  static WT_ITEM item(const std::string& s) {
    WT_ITEM i{};
    i.data = s.data();
    i.size = s.size();
    return i;
  }

  static inline thread_local wt_thread_session local_;

  wt_thread_session& local() {
    if (local_.owner == this && local_.session != nullptr) return local_;
    wt_thread_session t;
    t.owner = this;
    check(conn_->open_session(conn_, nullptr, nullptr, &t.session), "open_session");
    check(t.session->open_cursor(t.session, kTable, nullptr, nullptr, &t.point), "open_cursor");
    {
      std::lock_guard<std::mutex> lock(sessions_mu_);
      sessions_.push_back(t.session);
    }
    local_ = t;
    return local_;
  }

  class wt_cursor final : public cursor {
   public:
    explicit wt_cursor(WT_SESSION* session) {
      check(session->open_cursor(session, kTable, nullptr, nullptr, &c_), "open_cursor");
    }
    ~wt_cursor() override { c_->close(c_); }
    wt_cursor(const wt_cursor&) = delete;
    wt_cursor& operator=(const wt_cursor&) = delete;
    void seek_to_first() override {
      c_->reset(c_);
      settle(c_->next(c_));
    }
    void seek_to_last() override {
      c_->reset(c_);
      settle(c_->prev(c_));
    }
    void seek(const std::string& key) override {
      WT_ITEM k = item(key);
      c_->set_key(c_, &k);
      int exact = 0;
      int rc = c_->search_near(c_, &exact);
      if (rc == 0 && exact < 0) rc = c_->next(c_);  // landed before the key: step past it
      settle(rc);
    }
    bool valid() const override { return valid_; }
    void next() override { settle(c_->next(c_)); }
    void prev() override { settle(c_->prev(c_)); }
    std::string_view key() override { return {static_cast<const char*>(k_.data), k_.size}; }
    std::string_view value() override { return {static_cast<const char*>(v_.data), v_.size}; }

   private:
    void settle(int rc) {
      if (rc != 0 && rc != WT_NOTFOUND) check(rc, "cursor");
      valid_ = rc == 0;
      if (valid_) {
        check(c_->get_key(c_, &k_), "get_key");
        check(c_->get_value(c_, &v_), "get_value");
      }
    }
    WT_CURSOR* c_ = nullptr;
    WT_ITEM k_{}, v_{};
    bool valid_ = false;
  };

  WT_CONNECTION* conn_ = nullptr;
  std::mutex sessions_mu_;
  std::vector<WT_SESSION*> sessions_;  // every thread's session, closed by end_thread or close
};

}  // namespace bench
