// tests/checkpoint_race_test.cpp - checkpoint() racing the store's other threads.
// A flush under its write barrier: the flush thread does not wait for the barrier, and may
// install its table, then remove and close its memtable's log, between the checkpoint's snapshot
// and its opening of that log. The checkpoint must take its snapshot again and succeed with
// every acknowledged write. And close() while a checkpoint links the store's tables, or while
// verify() opens them by name: the store must stay locked until they are done.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "forwarding_fs.hpp"
#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace checkpoint_race_test_cpp {

namespace {

using lsmt_test::key_of;
using lsmt_test::str_db;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Holds table creations (the flush thread's) while `hold` is set. Once armed, the first open of
// a log (the checkpoint's, under its barrier) releases them and waits until that log has been
// removed, which the flush thread does after installing its table. `on_create_directory` runs
// when the checkpoint creates its directory: after its own flush, before its barrier.
class race_fs : public lsmt_test::forwarding_fs {
 public:
  std::function<void()> on_create_directory;

  void hold_tables() {
    const std::lock_guard<std::mutex> l(mu_);
    hold_ = true;
    armed_ = true;
  }
  bool fired() {
    const std::lock_guard<std::mutex> l(mu_);
    return fired_;
  }
  bool removed_in_time() {
    const std::lock_guard<std::mutex> l(mu_);
    return removed_in_time_;
  }

  std::unique_ptr<lsmt::writable_file> new_writable_file(const std::string& path) override {
    if (ends_with(path, ".sst")) {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return !hold_; });
    }
    return forwarding_fs::new_writable_file(path);
  }
  std::unique_ptr<lsmt::readable_file> new_readable_file(const std::string& path,
                                                         bool prefer_mmap) override {
    if (ends_with(path, ".log")) {
      std::unique_lock<std::mutex> l(mu_);
      if (armed_ && !fired_) {
        fired_ = true;
        hold_ = false;
        cv_.notify_all();
        removed_in_time_ =
            cv_.wait_for(l, std::chrono::seconds(30), [&] { return removed_.count(path) > 0; });
      }
    }
    return forwarding_fs::new_readable_file(path, prefer_mmap);
  }
  void remove_file(const std::string& path) override {
    forwarding_fs::remove_file(path);
    const std::lock_guard<std::mutex> l(mu_);
    removed_.insert(path);
    cv_.notify_all();
  }
  void create_directory(const std::string& dir, std::filesystem::perms perms) override {
    forwarding_fs::create_directory(dir, perms);
    if (on_create_directory) on_create_directory();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  bool armed_ = false;
  bool fired_ = false;
  bool removed_in_time_ = false;
  std::set<std::string> removed_;
};

// A file system that can stop one call at a hold point until the test releases it, and tells
// the test when a call got there.
class hold_point_fs : public lsmt_test::forwarding_fs {
 public:
  bool wait_until_held() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(30), [&] { return held_; });
  }
  void release() {
    const std::lock_guard<std::mutex> l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 protected:
  void hold() {
    std::unique_lock<std::mutex> l(mu_);
    held_ = true;
    cv_.notify_all();
    cv_.wait(l, [&] { return released_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool released_ = false;
};

// Holds the checkpoint's MANIFEST write (its last step with the store's tables linked).
class manifest_hold_fs : public hold_point_fs {
 public:
  std::unique_ptr<lsmt::writable_file> new_writable_file(const std::string& path) override {
    if (path.find(".checkpoint-tmp") != std::string::npos &&
        path.find("MANIFEST") != std::string::npos) {
      hold();
    }
    return forwarding_fs::new_writable_file(path);
  }
};

/// Holds the first table opened for reading after arm().
class table_read_hold_fs : public hold_point_fs {
 public:
  void arm() { armed_ = true; }
  std::unique_ptr<lsmt::readable_file> new_readable_file(const std::string& path,
                                                         bool prefer_mmap) override {
    if (path.size() > 4 && path.compare(path.size() - 4, 4, ".sst") == 0 &&
        armed_.exchange(false)) {
      hold();
    }
    return forwarding_fs::new_readable_file(path, prefer_mmap);
  }

 private:
  std::atomic<bool> armed_{false};
};

// With an operation held at hfs's hold point, checks that close() on another thread does not
// return, and that the store stays locked, until the hold is released; then joins the closer.
void check_close_waits_for_hold(str_db& d, hold_point_fs& hfs, const std::filesystem::path& store) {
  REQUIRE(hfs.wait_until_held());
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    d.close();
    closed = true;
  });
  // close() gets through everything else at once; then it must wait for the held operation.
  for (int i = 0; i < 200 && !closed.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK_FALSE(closed.load());
  CHECK_THROWS(str_db(store, lsmt::options{}).get(key_of(1)));  // still locked
  hfs.release();
  closer.join();
  CHECK(closed.load());
}

}  // namespace

TEST_CASE("verify: close() keeps the store locked until a verify() in flight is done",
          "[operability]") {
  lsmt_test::temp_dir dir;
  const std::filesystem::path store = dir.sub("store");
  auto hfs = std::make_shared<table_read_hold_fs>();
  lsmt::options o;
  o.fs = hfs;
  auto d = std::make_unique<str_db>(store, o);
  for (int i = 0; i < 500; ++i) d->put(key_of(i), "v" + std::to_string(i));
  d->flush();
  d->wait_for_compactions();
  hfs->arm();
  lsmt::verify_report report;
  std::string verify_error;
  std::thread verifier([&] {
    try {
      report = d->verify();
    } catch (const std::exception& e) {
      verify_error = e.what();
    }
  });
  // verify() is opening its first table by name.
  check_close_waits_for_hold(*d, *hfs, store);
  verifier.join();
  CHECK(verify_error.empty());
  CHECK(report.tables >= 1);
  CHECK(report.ok());
  d.reset();
  lsmt::options ro;
  ro.create_if_missing = false;
  str_db again(store, ro);  // unlocked now
  CHECK(again.get(key_of(7)) == "v7");
}

TEST_CASE("checkpoint: close() keeps the store locked until a checkpoint in flight is done",
          "[operability]") {
  lsmt_test::temp_dir dir;
  const std::filesystem::path store = dir.sub("store");
  const std::filesystem::path copy = dir.sub("copy");
  auto hfs = std::make_shared<manifest_hold_fs>();
  lsmt::options o;
  o.fs = hfs;
  auto d = std::make_unique<str_db>(store, o);
  for (int i = 0; i < 500; ++i) d->put(key_of(i), "v" + std::to_string(i));
  std::string checkpoint_error;
  std::thread checkpointer([&] {
    try {
      d->checkpoint(copy);
    } catch (const std::exception& e) {
      checkpoint_error = e.what();
    }
  });
  // The checkpoint is past the barrier, its tables linked.
  check_close_waits_for_hold(*d, *hfs, store);
  checkpointer.join();
  CHECK(checkpoint_error.empty());
  d.reset();
  lsmt::options ro;
  ro.create_if_missing = false;
  str_db c(copy, ro);
  CHECK(lsmt_test::dump(c).size() == 500);
  str_db again(store, ro);  // unlocked now
  CHECK(again.get(key_of(7)) == "v7");
}

TEST_CASE("checkpoint: a flush that closes a memtable's log under the barrier is retried",
          "[operability]") {
  lsmt_test::temp_dir dir;
  const std::filesystem::path copy = dir.sub("copy");
  auto rfs = std::make_shared<race_fs>();
  lsmt::options o;
  o.fs = rfs;
  o.memtable_max_entries = 100;
  constexpr int before = 1000;
  constexpr int during = 150;  // fills one memtable, which rotates out and waits for its flush
  {
    str_db d(dir.sub("store"), o);
    for (int i = 0; i < before; ++i) d.put(key_of(i), "v" + std::to_string(i));
    rfs->on_create_directory = [&] {
      rfs->on_create_directory = nullptr;
      rfs->hold_tables();
      for (int i = before; i < before + during; ++i) d.put(key_of(i), "v" + std::to_string(i));
    };
    d.checkpoint(copy);
    CHECK(rfs->fired());
    CHECK(rfs->removed_in_time());
  }
  lsmt::options ro;
  ro.create_if_missing = false;
  ro.recovery_mode = lsmt::recovery_mode::absolute_consistency;
  str_db c(copy, ro);
  const auto got = lsmt_test::dump(c);
  REQUIRE(got.size() == static_cast<size_t>(before + during));
  for (int i = 0; i < before + during; ++i) {
    const auto it = got.find(key_of(i));
    REQUIRE(it != got.end());
    CHECK(it->second == "v" + std::to_string(i));
  }
  CHECK(c.verify().ok());
}

}  // namespace checkpoint_race_test_cpp
