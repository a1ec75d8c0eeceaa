// tests/idle_settle_test.cpp - a store whose writes stop settles (idle_settle.hpp): once no write
// has come for options::idle_settle_ms it flushes its memtable and merges level 0 down, keeping
// every value; it does not while writes keep coming, when the level below would cost too much to
// rewrite, or when turned off. The quiet-period clock and the cost rule are checked alone too.
#include "lsmt/idle_settle.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "fault_fs.hpp"
#include "log_sink.hpp"
#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace idle_settle_test_cpp {

using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::str_db;
using lsmt_test::temp_dir;
using namespace std::chrono_literals;

// Small memtables, so that a few hundred writes leave level-0 tables and a memtable behind.
lsmt::options small_options(uint64_t idle_ms) {
  lsmt::options o;
  o.memtable_max_bytes = 16 << 10;
  o.compaction_interval = 8;
  o.idle_settle_ms = idle_ms;
  return o;
}

std::string value_of(const std::string& tag, int i) {
  return tag + std::to_string(i) + std::string(100, 'x');
}

// One batch, so the writes end one quiet period however slowly the test thread runs: a pause
// between single puts (a sanitizer build on a loaded machine) could settle half of them.
void put_values(str_db& d, int first, int count, const std::string& tag) {
  str_db::batch b;
  for (int i = first; i < first + count; ++i) b.put(key_of(i), value_of(tag, i));
  d.write(b);
}

// Polls until a settle has left level 0, the memtable and the immutable ones empty, for at
// most `limit`: whether it did.
bool settles_within(const str_db& d, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const lsmt::stats s = d.stats();
    if (s.idle_settles > 0 && s.level_tables[0] == 0 && s.memtable_entries == 0 &&
        s.immutable_memtables == 0) {
      return true;
    }
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(10ms);
  }
}

// The times the store's compaction threads (named lsmt:compact) have blocked so far: the sum of
// their voluntary context switches (Linux's /proc). Nothing where /proc has no such threads.
std::optional<uint64_t> compaction_thread_waits() {
  namespace fs = std::filesystem;
  std::error_code ec;
  uint64_t total = 0;
  bool found = false;
  for (const auto& task : fs::directory_iterator("/proc/self/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    if (!std::getline(comm, name) || name != "lsmt:compact") continue;
    std::ifstream status(task.path() / "status");
    static const std::string field = "voluntary_ctxt_switches:";
    for (std::string line; std::getline(status, line);) {
      if (line.compare(0, field.size(), field) == 0) {
        total += std::stoull(line.substr(field.size()));
        found = true;
      }
    }
  }
  if (!found) return std::nullopt;
  return total;
}

// Polls until the compaction threads have not woken for `still` (true), for at most `limit`.
bool compaction_threads_sleep(std::chrono::milliseconds still, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  std::optional<uint64_t> before = compaction_thread_waits();
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(still);
    const std::optional<uint64_t> now = compaction_thread_waits();
    if (now == before) return true;
    before = now;
  }
  return false;
}

TEST_CASE("idle settle: the quiet period restarts with each write, and ends once per write",
          "[idle_settle]") {
  using clock = lsmt::detail::idle_watch::clock;
  lsmt::detail::idle_watch w(100);
  REQUIRE(w.enabled());
  const clock::time_point t0{};
  clock::duration wait{};
  CHECK_FALSE(w.quiet(7, t0, &wait));
  CHECK(wait == 100ms);
  CHECK_FALSE(w.quiet(7, t0 + 60ms, &wait));
  CHECK(wait == 40ms);
  CHECK_FALSE(w.quiet(8, t0 + 90ms, &wait));  // a write: the period starts again
  CHECK(wait == 100ms);
  CHECK_FALSE(w.quiet(8, t0 + 189ms, &wait));
  CHECK(wait == 1ms);
  CHECK(w.quiet(8, t0 + 190ms, &wait));        // quiet for 100 ms
  CHECK_FALSE(w.quiet(8, t0 + 400ms, &wait));  // once per write: no retry without one
  CHECK_FALSE(w.quiet(8, t0 + 900ms, &wait));
  CHECK_FALSE(w.quiet(9, t0 + 950ms, &wait));  // the next write starts a new period
  CHECK(w.quiet(9, t0 + 1050ms, &wait));
  w.stop();
  CHECK_FALSE(w.quiet(9, t0 + 1100ms, &wait));  // stop(): a new period, same sequence or not
  CHECK(wait == 100ms);
  CHECK(w.quiet(9, t0 + 1200ms, &wait));
  CHECK_FALSE(lsmt::detail::idle_watch(0).enabled());
}

TEST_CASE("idle settle: a merge's or a flush's time counts as quiet time when no write comes",
          "[idle_settle]") {
  using clock = lsmt::detail::idle_watch::clock;
  lsmt::detail::idle_watch w(100);
  const clock::time_point t0{};
  clock::duration wait{};
  w.observe(7, t0);                      // a merge starts
  CHECK(w.quiet(7, t0 + 100ms, &wait));  // it ended 100 ms later, and no write came
  CHECK(w.fired_for(7));
  CHECK_FALSE(w.fired_for(8));
  w.observe(7, t0 + 200ms);  // the same sequence: nothing restarts
  CHECK(w.fired_for(7));
  CHECK_FALSE(w.quiet(7, t0 + 300ms, &wait));  // still once per write
  w.observe(8, t0 + 400ms);                    // a write came: a new period from here
  CHECK_FALSE(w.fired_for(8));
  CHECK_FALSE(w.quiet(8, t0 + 450ms, &wait));
  CHECK(wait == 50ms);
  w.observe(8, t0 + 480ms);  // the period does not restart either
  CHECK(w.quiet(8, t0 + 500ms, &wait));
  w.observe(9, t0 + 600ms);
  CHECK_FALSE(w.quiet(10, t0 + 900ms, &wait));  // a later write restarts it
  CHECK(wait == 100ms);
}

TEST_CASE("idle settle: it pays once what settles is 1 / compaction_interval of what it rewrites",
          "[idle_settle]") {
  using lsmt::detail::worth_settling;
  CHECK(worth_settling(100, 0, 8));  // nothing below to rewrite
  CHECK(worth_settling(100, 800, 8));
  CHECK_FALSE(worth_settling(100, 801, 8));
  CHECK_FALSE(worth_settling(1, 1 << 20, 8));
  CHECK(worth_settling(1, UINT64_MAX, UINT64_MAX));
  CHECK_FALSE(worth_settling(0, 0, 8));  // nothing to settle
}

TEST_CASE("idle settle: a store whose writes stop flushes its memtable and merges level 0 down",
          "[idle_settle]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  {
    str_db d(dir, small_options(200));
    put_values(d, 0, 600, "a");
    str_db::batch b;  // newer versions in level 0 and the memtable, and a deletion
    for (int i = 0; i < 300; ++i) b.put(key_of(i), value_of("b", i));
    b.erase(key_of(5));
    d.write(b);
    REQUIRE(settles_within(d, 30s));
    const auto all = dump(d);
    REQUIRE(all.size() == 599);
    CHECK(all.count(key_of(5)) == 0);
    for (int i = 0; i < 600; ++i) {
      if (i != 5) CHECK(all.at(key_of(i)) == value_of(i < 300 ? "b" : "a", i));
    }
  }
  str_db again(dir, small_options(200));
  const auto all = dump(again);
  CHECK(all.size() == 599);
  CHECK(all.at(key_of(0)) == value_of("b", 0));
  CHECK(all.at(key_of(599)) == value_of("a", 599));
}

TEST_CASE("idle settle: a fresh store's first writes settle from the memtable alone",
          "[idle_settle]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), small_options(50));
  put_values(d, 0, 20, "a");  // far less than a memtable
  REQUIRE(settles_within(d, 30s));
  CHECK(d.stats().flushes == 1);
  CHECK(d.stats().tables == 1);
  CHECK(dump(d).size() == 20);
}

TEST_CASE("idle settle: snapshots and range deletions in the memtable survive it",
          "[idle_settle]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), small_options(50));
  put_values(d, 0, 300, "a");
  lsmt::snapshot before = d.get_snapshot();
  str_db::batch b;  // one batch: a range deletion alone in the memtable would not pay
  for (int i = 0; i < 100; ++i) b.put(key_of(i), value_of("b", i));
  b.delete_range(key_of(200), key_of(250));
  d.write(b);
  REQUIRE(settles_within(d, 30s));
  CHECK(d.get(key_of(10)) == std::optional<std::string>(value_of("b", 10)));
  CHECK_FALSE(d.get(key_of(220)));
  CHECK(dump(d).size() == 250);
  lsmt::read_options ro;
  ro.snap = &before;
  CHECK(d.get(key_of(10), ro) == std::optional<std::string>(value_of("a", 10)));
  CHECK(d.get(key_of(220), ro) == std::optional<std::string>(value_of("a", 220)));
  CHECK(d.scan(ro).to_vector().size() == 300);
}

TEST_CASE("idle settle: not while writes keep coming", "[idle_settle]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), small_options(1000));
  put_values(d, 0, 400, "a");
  // One write every 10 ms for 1.5 s: never a quiet second.
  const auto end = std::chrono::steady_clock::now() + 1500ms;
  int i = 400;
  while (std::chrono::steady_clock::now() < end) {
    d.put(key_of(i), value_of("w", i));
    ++i;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(d.stats().idle_settles == 0);
  REQUIRE(settles_within(d, 30s));  // then it does
  CHECK(dump(d).size() == static_cast<size_t>(i));
}

TEST_CASE("idle settle: a few bytes never rewrite the level below; enough do; 0 turns it off",
          "[idle_settle]") {
  temp_dir tmp;
  SECTION("over a large level, a few bytes stay in the memtable and enough bytes settle") {
    str_db d(tmp.sub("db"), small_options(50));
    put_values(d, 0, 4000, "a");
    d.compact();  // about 450 KB, all in the bottom level
    REQUIRE(d.stats().level_tables[0] == 0);
    const uint64_t flushes = d.stats().flushes;
    const uint64_t settles = d.stats().idle_settles;
    d.put(key_of(7), "new");             // one entry over the bottom table it overlaps (of two)
    std::this_thread::sleep_for(500ms);  // ten quiet periods
    if (compaction_thread_waits()) {
      // Not worth settling: the compaction thread sleeps until the next write, instead of
      // waking every idle_settle_ms (it did, 10 times in this sleep, before it parked).
      CHECK(compaction_threads_sleep(500ms, 30s));
    }
    CHECK(d.stats().flushes == flushes);
    CHECK(d.stats().idle_settles == settles);
    CHECK(d.stats().memtable_entries == 1);
    put_values(d, 0, 600, "b");  // a third of the table below: more than 1 / compaction_interval
    REQUIRE(settles_within(d, 30s));
    CHECK(d.stats().idle_settles == settles + 1);
    CHECK(d.get(key_of(7)) == std::optional<std::string>(value_of("b", 7)));
  }
  SECTION("idle_settle_ms = 0") {
    str_db d(tmp.sub("db"), small_options(0));
    for (int i = 0; i < 600; ++i) d.put(key_of(i), value_of("a", i));  // several memtables
    d.wait_for_compactions();
    const lsmt::stats before = d.stats();
    REQUIRE(before.level_tables[0] > 0);
    std::this_thread::sleep_for(500ms);
    const lsmt::stats after = d.stats();
    CHECK(after.idle_settles == 0);
    CHECK(after.flushes == before.flushes);
    CHECK(after.level_tables[0] == before.level_tables[0]);
  }
}

TEST_CASE("idle settle: closing while a settle may start loses nothing", "[idle_settle]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  for (int round = 0; round < 20; ++round) {
    str_db d(dir, small_options(1));
    put_values(d, round * 50, 50, "r");
    std::this_thread::sleep_for(std::chrono::milliseconds(round % 4 * 5));
    if (round == 19) REQUIRE(settles_within(d, 30s));  // at least this one
  }
  str_db d(dir, small_options(1));
  const auto all = dump(d);
  REQUIRE(all.size() == 1000);
  for (int i = 0; i < 1000; ++i) CHECK(all.at(key_of(i)) == value_of("r", i));
}

// The compaction thread must never wait for a writer (a stalled leader waits for it). Here a
// writer is queued, held inside its log append, when the settle comes due: the settle finds the
// queue busy, must not rotate then, and must settle once the writer is done.
TEST_CASE("idle settle: a busy write queue defers it, and nothing is lost", "[idle_settle]") {
  auto ffs = std::make_shared<lsmt_test::fault_fs>();
  lsmt_test::log_sink sink;
  lsmt::options o = small_options(1500);
  o.fs = ffs;
  o.logger = sink.logger();
  str_db d("/db", o);
  put_values(d, 0, 50, "a");  // unsettled: the settle comes due 1.5 s from now
  ffs->hold_other_threads(true);
  std::thread writer([&d] { put_values(d, 50, 50, "b"); });
  struct release_and_join {  // also when a REQUIRE below fails
    lsmt_test::fault_fs& fs;
    std::thread& t;
    ~release_and_join() {
      fs.hold_other_threads(false);
      if (t.joinable()) t.join();
    }
  } guard{*ffs, writer};
  REQUIRE(ffs->wait_for_held(1, 30s));  // the writer, queued, waits in its log append
  CHECK(sink.wait_for("write queue is busy", lsmt::log_level::info, 30));
  const lsmt::stats held = d.stats();
  CHECK(held.idle_settles == 0);
  CHECK(held.flushes == 0);
  ffs->hold_other_threads(false);
  writer.join();
  REQUIRE(settles_within(d, 30s));
  const auto all = dump(d);
  REQUIRE(all.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(all.at(key_of(i)) == value_of(i < 50 ? "a" : "b", i));
}

TEST_CASE("idle settle: idle_settle_ms above a day is refused", "[idle_settle]") {
  temp_dir tmp;
  lsmt::options o;
  o.idle_settle_ms = 86'400'001;
  CHECK_THROWS_AS(str_db(tmp.sub("db"), o), lsmt::invalid_argument_error);
  o.idle_settle_ms = 86'400'000;
  CHECK_NOTHROW(str_db(tmp.sub("db"), o));
}

}  // namespace idle_settle_test_cpp
