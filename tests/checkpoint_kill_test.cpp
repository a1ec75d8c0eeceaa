// tests/checkpoint_kill_test.cpp - SIGKILL during checkpoints never leaves a half checkpoint
// that opens as a store, and every finished checkpoint holds what it promises.
//
// Each cycle forks a child that opens a store, starts a writer thread (sequential keys
// key_of(0), key_of(1), ..., each value naming its key) and checkpoints the store again and
// again into dest-N, reporting to a pipe "checkpoint N starts; A writes are acknowledged" and
// "checkpoint N is done". The parent SIGKILLs the child after a random delay, then checks:
//   - a checkpoint reported done exists;
//   - every dest-N that exists opens (recovery_mode::absolute_consistency, a clean recovery
//     report) and holds exactly key_of(0) .. key_of(k-1) with the right values, for some
//     k >= A: a prefix of the writes holding every write acknowledged before the call;
//   - a checkpoint cut short left no dest-N, and checkpointing to that dest-N again (from the
//     reopened store) succeeds and removes the leftover dest-N.checkpoint-tmp;
//   - the store itself reopens and holds at least every acknowledged write.
//
// Environment: LSMT_TEST_SEED (the seed), LSMT_CHECKPOINT_KILL_SECONDS (budget, default 8).
// Floors: at least 8 cycles, 8 finished checkpoints checked, and 2 kills that landed inside a
// checkpoint (so the crash path was really exercised).
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace checkpoint_kill_test_cpp {

namespace {

namespace fs = std::filesystem;
using lsmt_test::key_of;

constexpr uint64_t tag_start = 1;  // then N, then A
constexpr uint64_t tag_done = 2;   // then N

std::string value_of(uint64_t i) { return "value-" + std::to_string(i); }

fs::path dest(const fs::path& base, uint64_t n) { return base / ("dest-" + std::to_string(n)); }

lsmt::options store_options() {
  lsmt::options o;
  o.memtable_max_entries = 2000;
  o.target_file_size = 64 << 10;
  o.base_level_bytes = 128 << 10;
  return o;
}

[[noreturn]] void child_main(const fs::path& base, uint64_t first_n, int fd) {
  try {
    lsmt::db<> db(base / "store", store_options());
    std::atomic<uint64_t> acked{0};
    uint64_t start = 0;
    for (const auto& [k, v] : db.scan()) {
      (void)k;
      (void)v;
      ++start;
    }
    acked = start;
    std::thread writer([&] {
      try {
        for (uint64_t i = start;; ++i) {
          db.put(key_of(static_cast<int>(i)), value_of(i));
          acked = i + 1;
        }
      } catch (const std::exception& e) {  // the main thread failed and closed the store
        const std::string msg = std::string("checkpoint_kill_test writer: ") + e.what() + "\n";
        (void)!::write(2, msg.data(), msg.size());
        ::_exit(2);
      }
    });
    writer.detach();  // runs until the kill
    for (uint64_t n = first_n;; ++n) {
      lsmt_test::write_u64_or_exit(fd, tag_start);
      lsmt_test::write_u64_or_exit(fd, n);
      lsmt_test::write_u64_or_exit(fd, acked.load());
      db.checkpoint(dest(base, n));
      lsmt_test::write_u64_or_exit(fd, tag_done);
      lsmt_test::write_u64_or_exit(fd, n);
    }
  } catch (const std::exception& e) {
    const std::string msg = std::string("checkpoint_kill_test child failed: ") + e.what() + "\n";
    (void)!::write(2, msg.data(), msg.size());
  }
  ::_exit(2);
}

struct report {
  std::map<uint64_t, uint64_t> started;  // N -> writes acknowledged when it started
  std::vector<uint64_t> done;
};

report parse(const std::string& bytes) {
  std::vector<uint64_t> words(bytes.size() / 8);
  if (!words.empty()) std::memcpy(words.data(), bytes.data(), words.size() * 8);  // else null
  report r;
  for (size_t i = 0; i < words.size();) {
    if (words[i] == tag_start && i + 2 < words.size()) {
      r.started[words[i + 1]] = words[i + 2];
      i += 3;
    } else if (words[i] == tag_done && i + 1 < words.size()) {
      r.done.push_back(words[i + 1]);
      i += 2;
    } else {
      break;  // a record cut by the kill
    }
  }
  return r;
}

lsmt::options reopen_options() {
  lsmt::options o = store_options();
  o.create_if_missing = false;
  o.recovery_mode = lsmt::recovery_mode::absolute_consistency;
  return o;
}

// Returns k if the store holds exactly key_of(0 .. k-1), with their values; fails the test if
// it holds anything else.
uint64_t check_prefix(const lsmt::db<>& c) {
  CHECK(c.recovery().damage.empty());
  uint64_t k = 0;
  for (const auto& [key, value] : c.scan()) {
    REQUIRE(key == key_of(static_cast<int>(k)));
    REQUIRE(value == value_of(k));
    ++k;
  }
  return k;
}

uint64_t check_prefix(const fs::path& dir) {
  const lsmt::db<> c(dir, reopen_options());
  return check_prefix(c);
}

}  // namespace

TEST_CASE("crash: SIGKILL during checkpoints leaves whole checkpoints or none",
          "[crash][checkpoint]") {
  lsmt_test::temp_dir base(lsmt_test::store_base_dir(), "lsmt-ckpt-kill");
  const uint64_t seed = lsmt_test::test_seed();
  INFO("LSMT_TEST_SEED=" << seed);
  std::mt19937_64 rng(seed);
  const double budget = lsmt_test::env_seconds("LSMT_CHECKPOINT_KILL_SECONDS", 8);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(budget);
  uint64_t next_n = 0;
  size_t cycles = 0;
  size_t checked = 0;
  size_t cut_short = 0;
  // The budget, then on (for at most 120 s more) until every floor below is met: under a
  // sanitizer a checkpoint takes longer, so more of them are cut short by the kill.
  const auto give_up = deadline + std::chrono::seconds(120);
  const auto floors_met = [&] { return cycles >= 8 && checked >= 8 && cut_short >= 2; };
  while (std::chrono::steady_clock::now() < deadline ||
         (!floors_met() && std::chrono::steady_clock::now() < give_up)) {
    ++cycles;
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(pipe_fds[0]);
      child_main(base.path(), next_n, pipe_fds[1]);
    }
    ::close(pipe_fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 300));
    ::kill(pid, SIGKILL);
    std::string bytes;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
      if (n <= 0) break;
      bytes.append(buf, static_cast<size_t>(n));
    }
    ::close(pipe_fds[0]);
    // Killed, not exited: a child whose checkpoint threw exits 2, which is a failure here.
    CHECK(lsmt_test::wait_child(pid) == 128 + SIGKILL);
    const report r = parse(bytes);
    INFO("cycle " << cycles << ": " << r.started.size() << " checkpoints started, " << r.done.size()
                  << " done");
    // A child killed before it created the store (a slow start, under a sanitizer) started no
    // checkpoint and acknowledged nothing: there is nothing to check yet.
    if (r.started.empty() && !fs::exists(base.path() / "store" / "MANIFEST")) continue;
    for (const uint64_t n : r.done) CHECK(fs::exists(dest(base.path(), n)));
    for (const auto& [n, acked] : r.started) {
      const fs::path d = dest(base.path(), n);
      if (fs::exists(d)) {
        CHECK(check_prefix(d) >= acked);
        ++checked;
      } else {
        ++cut_short;
      }
      next_n = std::max(next_n, n + 1);
    }
    {
      lsmt::db<> store(base.path() / "store", reopen_options());
      uint64_t acked = 0;
      if (!r.started.empty()) acked = r.started.rbegin()->second;
      CHECK(check_prefix(store) >= acked);
      // Checkpoints that were cut short: their destination is free, and a new checkpoint there
      // replaces the leftover.
      for (const auto& [n, unused] : r.started) {
        (void)unused;
        const fs::path d = dest(base.path(), n);
        if (fs::exists(d)) continue;
        store.checkpoint(d);
        CHECK_FALSE(fs::exists(d.string() + ".checkpoint-tmp"));
        check_prefix(d);
      }
    }
    for (const auto& [n, unused] : r.started) {
      (void)unused;
      fs::remove_all(dest(base.path(), n));
      fs::remove_all(dest(base.path(), n).string() + ".checkpoint-tmp");
    }
  }
  std::printf("checkpoint kill: %zu cycles, %zu checkpoints checked, %zu cut short by the kill\n",
              cycles, checked, cut_short);
  INFO(cycles << " cycles, " << checked << " checkpoints checked, " << cut_short
              << " cut short by the kill");
  CHECK(cycles >= 8);
  CHECK(checked >= 8);
  CHECK(cut_short >= 2);
}

}  // namespace checkpoint_kill_test_cpp
