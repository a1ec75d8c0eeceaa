// tests/watchdog.hpp - turns a hang into a failure: a watchdog thread aborts the process (naming
// what was running) if the test stops calling heartbeat() for too long. The fault-injection
// suites beat once per workload step and per crash point; a store that hangs on a faulty file
// system must fail the run, not stall it until the ctest timeout.
#ifndef LSMT_TEST_WATCHDOG_HPP
#define LSMT_TEST_WATCHDOG_HPP

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace lsmt_test {

/// Progress: increment it (++heartbeat()) whenever the test moves on.
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

}  // namespace lsmt_test

#endif  // LSMT_TEST_WATCHDOG_HPP
