// engine_lmdb.hpp - db_bench's adapter for LMDB (a copy-on-write B+tree in one memory map).
//
// Settings, chosen to give LMDB the durability the LSM engines have by default (a write
// survives a process crash, not a power loss):
//   mdb_env_open flags: MDB_NOSYNC (commits write their pages to the file with pwrite but do
//     not fsync it; fillsync calls mdb_env_sync(env, 1) after each commit instead), MDB_NOTLS
//     (read transactions are not tied to threads, so a thread may hold one per cursor).
//   map size: 1 TiB of address space; the file grows only as pages are used.
//   max readers: 2 per benchmark thread + 64 (each thread holds one reusable read transaction,
//     and a cursor opened while it is busy takes a second).
//   One write transaction per put or delete, as the other engines' single-key calls.
//   Reads reuse the thread's read transaction with mdb_txn_reset / mdb_txn_renew.
// No bloom filter or block cache applies: reads go through the memory map and the OS's page
// cache, whatever --bloom_bits and --cache_size say.
#pragma once

#include <lmdb.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine.hpp"

namespace bench {

// The calling thread's reusable read transaction, renewed for one read and reset after it. If
// it is busy (a cursor holds it), a fresh transaction is used and aborted instead.
struct lmdb_thread_reader {
  const void* owner = nullptr;  // the lmdb_engine it belongs to
  MDB_txn* txn = nullptr;
  bool busy = false;
};

class lmdb_engine final : public engine {
 public:
  static constexpr size_t kMapSize = size_t{1} << 40;

  static std::string describe(const config&) {
    return std::string(MDB_VERSION_STRING) + ", MDB_NOSYNC|MDB_NOTLS, map 1 TiB, " +
           "one write transaction per put";
  }

  lmdb_engine(const std::string& dir, const config& cfg) {
    check(mdb_env_create(&env_), "mdb_env_create");
    check(mdb_env_set_mapsize(env_, kMapSize), "mdb_env_set_mapsize");
    check(mdb_env_set_maxreaders(env_, static_cast<unsigned>(2 * cfg.threads + 64)),
          "mdb_env_set_maxreaders");
    int rc = mdb_env_open(env_, dir.c_str(), MDB_NOSYNC | MDB_NOTLS, 0644);
    if (rc != 0) {
      mdb_env_close(env_);
      check(rc, "mdb_env_open");
    }
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    check(mdb_dbi_open(txn, nullptr, 0, &dbi_), "mdb_dbi_open");
    check(mdb_txn_commit(txn), "mdb_txn_commit");
  }
  ~lmdb_engine() override {
    std::lock_guard<std::mutex> lock(readers_mu_);
    for (MDB_txn* txn : readers_) mdb_txn_abort(txn);  // threads that never called end_thread
    mdb_env_close(env_);
  }
  lmdb_engine(const lmdb_engine&) = delete;
  lmdb_engine& operator=(const lmdb_engine&) = delete;

  void put(const std::string& key, const std::string& value, bool sync) override {
    MDB_val k = as_val(key), v = as_val(value);
    write([&](MDB_txn* txn) { return mdb_put(txn, dbi_, &k, &v, 0); }, sync);
  }
  bool get(const std::string& key, std::string* value) override {
    reader r(*this);
    MDB_val k = as_val(key), v;
    int rc = mdb_get(r.txn, dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    check(rc, "mdb_get");
    value->assign(static_cast<const char*>(v.mv_data), v.mv_size);
    return true;
  }
  void erase(const std::string& key, bool sync) override {
    MDB_val k = as_val(key);
    write(
        [&](MDB_txn* txn) {
          int rc = mdb_del(txn, dbi_, &k, nullptr);
          return rc == MDB_NOTFOUND ? 0 : rc;
        },
        sync);
  }
  std::unique_ptr<cursor> new_cursor() override { return std::make_unique<lmdb_cursor>(*this); }
  void end_thread() override {
    if (local_.owner != this || local_.txn == nullptr) return;
    std::lock_guard<std::mutex> lock(readers_mu_);
    auto it = std::find(readers_.begin(), readers_.end(), local_.txn);
    if (it != readers_.end()) *it = readers_.back(), readers_.pop_back();
    mdb_txn_abort(local_.txn);
    local_ = {};
  }

 private:
  static void check(int rc, const char* what) {
    if (rc != 0) throw std::runtime_error(std::string("lmdb: ") + what + ": " + mdb_strerror(rc));
  }
  static MDB_val as_val(const std::string& s) {
    return MDB_val{s.size(), const_cast<char*>(s.data())};  // LMDB does not write through it
  }

  template <class Op>
  void write(Op&& op, bool sync) {
    MDB_txn* txn = nullptr;
    check(mdb_txn_begin(env_, nullptr, 0, &txn), "mdb_txn_begin");
    int rc = op(txn);
    if (rc != 0) {
      mdb_txn_abort(txn);
      check(rc, "write");
    }
    check(mdb_txn_commit(txn), "mdb_txn_commit");
    if (sync) check(mdb_env_sync(env_, 1), "mdb_env_sync");
  }

  static inline thread_local lmdb_thread_reader local_;

  class reader {
   public:
    explicit reader(lmdb_engine& e) {
      if (local_.owner != &e) local_ = lmdb_thread_reader{&e, nullptr, false};
      if (!local_.busy && local_.txn != nullptr) {
        check(mdb_txn_renew(local_.txn), "mdb_txn_renew");
        reused_ = true;
      } else {
        check(mdb_txn_begin(e.env_, nullptr, MDB_RDONLY, &txn), "mdb_txn_begin");
        if (!local_.busy) {  // the thread's first read: keep this one for reuse
          std::lock_guard<std::mutex> lock(e.readers_mu_);
          e.readers_.push_back(txn);
          local_.txn = txn;
          reused_ = true;
        }
      }
      if (reused_) txn = local_.txn, local_.busy = true;
    }
    ~reader() {
      if (reused_) {
        mdb_txn_reset(txn);
        local_.busy = false;
      } else {
        mdb_txn_abort(txn);
      }
    }
    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;
    MDB_txn* txn = nullptr;

   private:
    bool reused_ = false;
  };

  class lmdb_cursor final : public cursor {
   public:
    explicit lmdb_cursor(lmdb_engine& e) : reader_(e) {
      check(mdb_cursor_open(reader_.txn, e.dbi_, &cursor_), "mdb_cursor_open");
    }
    ~lmdb_cursor() override { mdb_cursor_close(cursor_); }
    lmdb_cursor(const lmdb_cursor&) = delete;
    lmdb_cursor& operator=(const lmdb_cursor&) = delete;
    void seek_to_first() override { move(MDB_FIRST); }
    void seek_to_last() override { move(MDB_LAST); }
    void seek(const std::string& key) override {
      key_ = as_val(key);
      move(MDB_SET_RANGE);
    }
    bool valid() const override { return valid_; }
    void next() override { move(MDB_NEXT); }
    void prev() override { move(MDB_PREV); }
    std::string_view key() override { return {static_cast<char*>(key_.mv_data), key_.mv_size}; }
    std::string_view value() override {
      return {static_cast<char*>(value_.mv_data), value_.mv_size};
    }

   private:
    void move(MDB_cursor_op op) {
      int rc = mdb_cursor_get(cursor_, &key_, &value_, op);
      if (rc != 0 && rc != MDB_NOTFOUND) check(rc, "mdb_cursor_get");
      valid_ = rc == 0;
    }
    reader reader_;
    MDB_cursor* cursor_ = nullptr;
    MDB_val key_{}, value_{};
    bool valid_ = false;
  };

  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  std::mutex readers_mu_;
  std::vector<MDB_txn*> readers_;  // every thread's reusable read transaction
};

}  // namespace bench
