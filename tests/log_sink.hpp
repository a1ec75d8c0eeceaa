// tests/log_sink.hpp - a logger for options::logger that keeps what the store tells it, so a
// test can count or wait for a message.
//
// Thread safety: the store may call the logger from any thread; every member locks `mu`.
#ifndef LSMT_TEST_LOG_SINK_HPP
#define LSMT_TEST_LOG_SINK_HPP

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsmt.hpp"

namespace lsmt_test {

// Collects what the store tells its logger (from any thread).
struct log_sink {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<lsmt::log_level, std::string>> lines;

  std::function<void(lsmt::log_level, std::string_view)> logger() {
    return [this](lsmt::log_level level, std::string_view message) {
      std::lock_guard<std::mutex> l(mu);
      lines.emplace_back(level, std::string(message));
      cv.notify_all();
    };
  }
  size_t count(const std::string& part, lsmt::log_level level) {
    std::lock_guard<std::mutex> l(mu);
    return static_cast<size_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& e) {
      return e.first == level && e.second.find(part) != std::string::npos;
    }));
  }
  // Waits up to `seconds` for a line holding `part` at `level`.
  bool wait_for(const std::string& part, lsmt::log_level level, int seconds) {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, std::chrono::seconds(seconds), [&] {
      return std::any_of(lines.begin(), lines.end(), [&](const auto& e) {
        return e.first == level && e.second.find(part) != std::string::npos;
      });
    });
  }
};

}  // namespace lsmt_test

#endif  // LSMT_TEST_LOG_SINK_HPP
