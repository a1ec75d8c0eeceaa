// Group commit: concurrent synced writers share fsyncs instead of paying one each.
//
// A file-system wrapper counts the syncs of WAL files and makes each one slow
// (as a real disk is), so writers queue up behind it. If every synced write
// paid for its own fsync, the count would equal the number of writes.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "forwarding_fs.hpp"
#include "lsmt.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace group_commit_test_cpp {

namespace {

class counting_log : public lsmt::writable_file {
 public:
  counting_log(std::unique_ptr<lsmt::writable_file> inner, std::atomic<int>* syncs)
      : inner_(std::move(inner)), syncs_(syncs) {}
  void append(std::string_view data) override { inner_->append(data); }
  void flush() override { inner_->flush(); }
  void sync() override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    syncs_->fetch_add(1);
    inner_->sync();
  }
  void close() override { inner_->close(); }
  uint64_t size() const override { return inner_->size(); }

 private:
  std::unique_ptr<lsmt::writable_file> inner_;
  std::atomic<int>* syncs_;
};

// The POSIX file system, with WAL files that count (and slow) their syncs.
class counting_fs final : public lsmt_test::forwarding_fs {
 public:
  std::atomic<int> log_syncs{0};

  std::unique_ptr<lsmt::writable_file> new_log_file(const std::string& p) override {
    return std::make_unique<counting_log>(forwarding_fs::new_log_file(p), &log_syncs);
  }
};

}  // namespace

TEST_CASE("wal: concurrent synced writers share fsyncs (group commit)", "[wal]") {
  lsmt_test::temp_dir tmp;
  auto fs = std::make_shared<counting_fs>();
  lsmt::options o;
  o.fs = fs;
  o.sync = true;
  constexpr int threads = 8;
  constexpr int per_thread = 25;
  {
    lsmt::db<> d(tmp.path() / "db", o);
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t) {
      writers.emplace_back([&d, t] {
        for (int i = 0; i < per_thread; ++i) {
          d.put("k" + std::to_string(t) + "-" + std::to_string(i), std::to_string(i));
        }
      });
    }
    for (auto& w : writers) w.join();
    for (int t = 0; t < threads; ++t) {
      for (int i = 0; i < per_thread; ++i) {
        REQUIRE(d.get("k" + std::to_string(t) + "-" + std::to_string(i)) == std::to_string(i));
      }
    }
  }
  const int syncs = fs->log_syncs.load();
  CAPTURE(syncs);
  CHECK(syncs >= 1);
  // One fsync per write would be 200; a queue of up to 7 waiting writers per
  // fsync brings it far below. Half leaves room for scheduling noise.
  CHECK(syncs <= threads * per_thread / 2);
}

}  // namespace group_commit_test_cpp
