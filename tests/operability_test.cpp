// tests/operability_test.cpp - what operators use: stats counters, property(), the logger,
// compact_range(), approximate_size(), checkpoint(), verify() and lsmt::destroy().
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sys/resource.h>
#endif

#include "fault_fs.hpp"
#include "log_sink.hpp"
#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace operability_test_cpp {

namespace {

namespace fs = std::filesystem;
using lsmt_test::key_of;
using lsmt_test::log_sink;
using lsmt_test::str_db;

lsmt::options small_options() {
  lsmt::options o;
  o.memtable_max_entries = 500;
  o.target_file_size = 16 << 10;
  o.base_level_bytes = 32 << 10;
  o.block_size = 1024;
  return o;
}

size_t count_files(const fs::path& dir, const std::string& extension) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == extension;
  return n;
}

#if defined(__linux__)
// The nice value of each of this process's threads named `name` (from /proc/self/task).
std::vector<int> nice_of_threads(const std::string& name) {
  std::vector<int> out;
  for (const auto& task : fs::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (!std::getline(comm, line) || line != name) continue;
    // stat: "tid (comm) state ..." with the nice value the 19th field.
    std::ifstream stat(task.path() / "stat");
    std::string text;
    // A thread that exits after its comm was read takes its stat with it: it is gone.
    if (!std::getline(stat, text)) continue;
    const size_t close = text.rfind(')');
    if (close == std::string::npos || close + 2 > text.size()) continue;
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    for (int i = 3; i < 19 && rest >> field; ++i) {
    }
    int nice = 0;
    if (rest >> nice) out.push_back(nice);
  }
  return out;
}

// Waits up to 10 s for one thread named `name`; its nice value, or -100 if none appeared.
int nice_of_thread(const std::string& name) {
  for (int i = 0; i < 1000; ++i) {
    const auto found = nice_of_threads(name);
    if (found.size() == 1) return found[0];
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -100;
}

// Waits up to 10 s for no thread named `name` to remain. A joined thread's /proc/self/task entry
// can outlive pthread_join by a moment: the kernel wakes the joiner as the thread releases its
// memory, before it unlinks the task. A thread that was never joined stays, and fails this.
bool threads_gone(const std::string& name) {
  for (int i = 0; i < 1000; ++i) {
    if (nice_of_threads(name).empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}
#endif

}  // namespace

TEST_CASE("stats: the work counters add up", "[operability]") {
  lsmt_test::temp_dir dir;
  lsmt::options o = small_options();
  o.use_mmap_reads = false;  // reads go through the block cache
  str_db d(dir.path(), o);
  uint64_t user_bytes = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string k = key_of(i);
    const std::string v = lsmt_test::pattern_value(static_cast<uint32_t>(i), 40);
    d.put(k, v);
    user_bytes += k.size() + v.size();
  }
  d.erase(key_of(7));
  user_bytes += key_of(7).size();
  d.compact();
  for (int i = 0; i < 3000; i += 3) CHECK(d.get(key_of(i)).has_value() == (i != 7));
  // Absent keys inside the tables' key ranges: only the bloom filters can rule tables out.
  for (int i = 0; i < 300; ++i) CHECK_FALSE(d.get(key_of(i) + "x").has_value());
  const auto snap = d.get_snapshot();
  const lsmt::stats s = d.stats();

  CHECK(s.user_bytes_written == user_bytes);
  CHECK(s.wal_bytes_written > user_bytes);  // records add sequence numbers and lengths
  CHECK(s.flushes >= 6);
  CHECK(s.flush_bytes_written > 0);
  CHECK(s.compactions >= 1);
  CHECK(s.compaction_bytes_read > 0);
  CHECK(s.compaction_bytes_written > 0);
  CHECK(s.write_amplification ==
        Approx(static_cast<double>(s.wal_bytes_written + s.flush_bytes_written +
                                   s.compaction_bytes_written) /
               static_cast<double>(user_bytes)));
  CHECK(s.block_cache_misses > 0);
  CHECK(s.block_cache_hits > 0);  // 1000 gets over a few dozen blocks
  CHECK(s.bloom_checks >= 300);   // every absent key met at least one table's filter
  CHECK(s.bloom_useful >= 250);   // and almost all were ruled out (10 bits per key)
  CHECK(s.bloom_useful <= s.bloom_checks);
  CHECK(s.live_snapshots == 1);
  CHECK(s.immutable_memtable_bytes <= s.memtable_bytes);
  CHECK(s.pending_compaction_bytes == 0);  // compact() left nothing to do
  // By level: the rows add up to the totals, nothing merges into level 0, and compact() wrote
  // into the bottom level.
  lsmt::level_merge_stats sum;
  for (const lsmt::level_merge_stats& m : s.level_merges) {
    CHECK(m.moves <= m.merges);
    CHECK((m.merges == 0) == (m.bytes_in == 0));
    sum.merges += m.merges;
    sum.moves += m.moves;
    sum.bytes_read += m.bytes_read;
    sum.bytes_written += m.bytes_written;
  }
  CHECK(sum.merges == s.compactions);
  CHECK(sum.moves == s.compaction_moves);
  CHECK(sum.bytes_read == s.compaction_bytes_read);
  CHECK(sum.bytes_written == s.compaction_bytes_written);
  CHECK(s.level_merges[0].merges == 0);
  CHECK(s.level_merges[6].merges >= 1);
  CHECK(s.level_merges[6].bytes_written > 0);
  CHECK((s.stalls == 0) == (s.stall_micros == 0));
}

TEST_CASE("stats: stalls are counted, timed and logged", "[operability]") {
  lsmt_test::temp_dir dir;
  log_sink sink;
  lsmt::options o;
  o.memtable_max_entries = 1;  // every write fills the memtable
  o.max_immutable_memtables = 1;
  o.logger = sink.logger();
  str_db d(dir.path(), o);
  for (int i = 0; i < 200; ++i) d.put(key_of(i), "v");
  const lsmt::stats s = d.stats();
  REQUIRE(s.stalls > 0);  // 200 flushes cannot all finish before the next write
  CHECK(s.stall_micros > 0);
  CHECK(sink.count("writes stalled", lsmt::log_level::warning) == s.stalls);
}

TEST_CASE("property: lsmt.stats, lsmt.sstables, lsmt.memory and files per level", "[operability]") {
  lsmt_test::temp_dir dir;
  str_db d(dir.path(), small_options());
  for (int i = 0; i < 2000; ++i) d.put(key_of(i), lsmt_test::pattern_value(1, 30));
  d.put(std::string("bin\x01\xff", 5), "x");
  d.compact();
  const lsmt::stats s = d.stats();

  const auto text = d.property("lsmt.stats");
  REQUIRE(text.has_value());
  CHECK(text->find("level  tables") != std::string::npos);
  CHECK(text->find("bytes written  w-amp") != std::string::npos);
  CHECK(text->find("write amplification") != std::string::npos);
  CHECK(text->find("total  ") != std::string::npos);
  CHECK(text->find("bloom filters:") != std::string::npos);

  const auto tables = d.property("lsmt.sstables");
  REQUIRE(tables.has_value());
  CHECK(static_cast<size_t>(std::count(tables->begin(), tables->end(), '#')) == s.tables);
  CHECK(tables->find("bin\\x01\\xff") != std::string::npos);  // binary keys escaped

  for (int l = 0; l < 7; ++l) {
    const auto n = d.property("lsmt.num-files-at-level" + std::to_string(l));
    REQUIRE(n.has_value());
    CHECK(*n == std::to_string(s.level_tables[static_cast<size_t>(l)]));
  }
  CHECK(d.property("lsmt.memory").value().find("memtables") != std::string::npos);
  CHECK_FALSE(d.property("lsmt.num-files-at-level7").has_value());
  CHECK_FALSE(d.property("lsmt.no-such-property").has_value());
  CHECK_FALSE(d.property("").has_value());
}

TEST_CASE("logger: opens, flushes, compactions and checkpoints are reported", "[operability]") {
  lsmt_test::temp_dir dir;
  log_sink sink;
  lsmt::options o = small_options();
  o.logger = sink.logger();
  {
    str_db d(dir.path(), o);
    for (int i = 0; i < 3000; ++i) d.put(key_of(i), "value");
    d.compact();
    d.checkpoint(dir.sub("copy"));
  }
  CHECK(sink.count("opened '", lsmt::log_level::info) == 1);
  CHECK(sink.count("flushed the memtable", lsmt::log_level::info) >= 6);
  CHECK(sink.count("merged every level", lsmt::log_level::info) == 1);
  CHECK(sink.count("checkpoint written", lsmt::log_level::info) == 1);
  {
    str_db again(dir.path(), o);  // the reopen reports its replay
  }
  CHECK(sink.count("replayed", lsmt::log_level::info) == 2);
}

TEST_CASE("logger: a background failure is reported when it happens", "[operability]") {
  auto ffs = std::make_shared<lsmt_test::fault_fs>();
  log_sink sink;
  lsmt::options o;
  o.fs = ffs;
  o.memtable_max_entries = 10;
  o.logger = sink.logger();
  str_db d("/db", o);
  ffs->hold_other_threads(true);  // the flush thread waits at its first file operation
  for (int i = 0; i < 11; ++i) d.put(key_of(i), "v");  // the 11th rotates the memtable
  ffs->fail_at(ffs->ops(), EIO, true);
  ffs->hold_other_threads(false);
  // No call into the store: the logger alone must hear of it.
  CHECK(sink.wait_for("flush failed", lsmt::log_level::error, 30));
  ffs->clear_faults();
  CHECK_THROWS_AS(d.put("after", "v"), lsmt::io_error);  // writes stay stopped
}

TEST_CASE("logger: a logger that throws loses only its message", "[operability]") {
  lsmt_test::temp_dir dir;
  lsmt::options o = small_options();
  std::atomic<int> calls{0};
  o.logger = [&calls](lsmt::log_level, std::string_view) {
    ++calls;
    throw std::runtime_error("logger broke");
  };
  str_db d(dir.path(), o);
  for (int i = 0; i < 2000; ++i) d.put(key_of(i), "v");
  d.compact();
  CHECK(d.get(key_of(5)) == "v");
  CHECK(calls.load() >= 5);  // the open, flushes and the merge all tried
}

TEST_CASE("compact_range: keeps what a snapshot sees, then drops it once released",
          "[operability]") {
  lsmt_test::temp_dir dir;
  lsmt::options o = small_options();
  o.compaction_interval = 8;  // leave tables in level 0
  str_db d(dir.path(), o);
  std::map<std::string, std::string> model;
  for (int round = 0; round < 4; ++round) {
    for (int i = round; i < 4000; i += 4) {
      d.put(key_of(i), std::to_string(round));
      model[key_of(i)] = std::to_string(round);
    }
  }
  auto snap = std::make_unique<lsmt::snapshot>(d.get_snapshot());
  for (int i = 1000; i < 2000; ++i) {
    d.erase(key_of(i));
    model.erase(key_of(i));
  }
  d.compact_range(key_of(1000), key_of(1999));
  CHECK(lsmt_test::dump(d) == model);
  lsmt::read_options ro;
  ro.snap = snap.get();
  CHECK(d.get(key_of(1002), ro) == "2");  // the merge kept the version the snapshot sees
  const uint64_t kept = d.approximate_size(key_of(1000), key_of(2000));
  CHECK(kept > 0);
  snap.reset();
  d.compact_range(key_of(1000), key_of(1999));
  CHECK(lsmt_test::dump(d) == model);
  // With no snapshot, the deleted range holds nothing but the blocks at its edges.
  CHECK(d.approximate_size(key_of(1000), key_of(2000)) < kept / 4);
}

TEST_CASE("compact_range: the range ends in one level, deletions gone, others untouched",
          "[operability]") {
  lsmt_test::temp_dir dir;
  lsmt::options o = small_options();
  o.compaction_interval = 8;
  str_db d(dir.path(), o);
  for (int i = 0; i < 4000; ++i) d.put(key_of(i), lsmt_test::pattern_value(2, 60));
  d.compact();  // everything in the bottom level
  for (int i = 0; i < 4000; ++i) {
    if (i >= 1000 && i < 3000) d.erase(key_of(i));
  }
  d.flush();
  const uint64_t bytes_before = d.stats().table_bytes;
  d.compact_range(key_of(1000), key_of(2999));
  const lsmt::stats s = d.stats();
  CHECK(s.level_tables[0] == 0);                // level 0 overlapped the range: merged down
  CHECK(s.table_bytes < bytes_before * 2 / 3);  // the deleted half is gone from disk
  CHECK(d.approximate_size(key_of(1000), key_of(3000)) <
        d.approximate_size(key_of(0), key_of(1000)));
  for (int i = 0; i < 4000; i += 37) {
    CHECK(d.get(key_of(i)).has_value() == (i < 1000 || i >= 3000));
  }
  // Unbounded, and an empty store range: both return without error.
  d.compact_range(std::nullopt, std::nullopt);
  d.compact_range(std::string("zzz"), std::nullopt);
  CHECK(d.stats().level_tables[0] == 0);
  CHECK(lsmt_test::dump(d).size() == 2000);
}

TEST_CASE("approximate_size: from the indexes, proportional to the keys in range",
          "[operability]") {
  lsmt_test::temp_dir dir;
  str_db d(dir.path(), small_options());
  for (int i = 0; i < 10000; ++i) d.put(key_of(i), lsmt_test::pattern_value(3, 100));
  d.compact();
  const lsmt::stats s = d.stats();
  const uint64_t all = d.approximate_size(std::nullopt, std::nullopt);
  CHECK(all == s.table_bytes);
  const uint64_t half = d.approximate_size(key_of(0), key_of(5000));
  const uint64_t quarter = d.approximate_size(key_of(5000), key_of(7500));
  CHECK(half > all * 4 / 10);
  CHECK(half < all * 6 / 10);
  CHECK(quarter > all * 2 / 10);
  CHECK(quarter < all * 3 / 10);
  CHECK(d.approximate_size(std::string("a"), std::string("b")) == 0);  // before every key
  CHECK(d.approximate_size(std::string("z"), std::nullopt) == 0);      // after every key
  CHECK(d.approximate_size(key_of(10), key_of(10)) == 0);              // empty range
  // Disjoint ranges add up to the whole, give or take the blocks at their edges.
  const uint64_t parts = d.approximate_size(std::nullopt, key_of(3333)) +
                         d.approximate_size(key_of(3333), std::nullopt);
  CHECK(parts <= all);
  CHECK(parts + 2 * s.tables * 1100 >= all);
}

TEST_CASE("checkpoint: an openable copy holding every acknowledged write", "[operability]") {
  lsmt_test::temp_dir dir;
  const fs::path store = dir.sub("store");
  const fs::path copy = dir.sub("copy");
  lsmt::options o = small_options();
  std::atomic<int> acked{0};
  std::atomic<bool> stop{false};
  int at_call = 0;
  {
    str_db d(store, o);
    for (int i = 0; i < 3000; ++i) d.put(key_of(i), "v" + std::to_string(i));
    acked = 3000;
    std::thread writer([&] {
      for (int i = 3000; !stop.load(); ++i) {
        d.put(key_of(i), "v" + std::to_string(i));
        acked = i + 1;
      }
    });
    at_call = acked.load();
    d.checkpoint(copy);
    stop = true;
    writer.join();
    CHECK_THROWS_AS(d.checkpoint(copy), lsmt::invalid_argument_error);  // dest exists
    CHECK_THROWS_AS(d.checkpoint(dir.sub("no/such/parent")), lsmt::invalid_argument_error);
  }
  lsmt::options ro;
  ro.create_if_missing = false;
  ro.recovery_mode = lsmt::recovery_mode::absolute_consistency;
  str_db c(copy, ro);
  const auto got = lsmt_test::dump(c);
  // A prefix of the writes, holding at least those acknowledged before the call.
  REQUIRE(got.size() >= static_cast<size_t>(at_call));
  int n = 0;
  for (const auto& [k, v] : got) {
    CHECK(k == key_of(n));
    CHECK(v == "v" + std::to_string(n));
    ++n;
  }
  CHECK(c.verify().ok());
  // The copy is a store of its own: writing and compacting it leaves the original alone.
  for (int i = 0; i < 1000; ++i) c.erase(key_of(i));
  c.compact();
  c.close();
  str_db original(store, ro);
  CHECK(original.get(key_of(5)) == "v5");
  CHECK(original.verify().ok());
}

TEST_CASE("checkpoint: a leftover of a crashed checkpoint is replaced", "[operability]") {
  lsmt_test::temp_dir dir;
  str_db d(dir.sub("store"), small_options());
  d.put("k", "v");
  const fs::path copy = dir.sub("copy");
  fs::create_directories(copy.string() + ".checkpoint-tmp");
  std::ofstream(copy.string() + ".checkpoint-tmp/000007.sst") << "half a table";
  d.checkpoint(copy);
  CHECK_FALSE(fs::exists(copy.string() + ".checkpoint-tmp"));
  lsmt::options ro;
  ro.create_if_missing = false;
  str_db c(copy, ro);
  CHECK(c.get("k") == "v");
}

TEST_CASE("verify: a healthy store passes; a flipped byte names its table", "[operability]") {
  lsmt_test::temp_dir dir;
  lsmt::options o = small_options();
  str_db d(dir.path(), o);
  for (int i = 0; i < 3000; ++i) d.put(key_of(i), lsmt_test::pattern_value(4, 50));
  d.compact();
  lsmt::verify_report r = d.verify();
  CHECK(r.ok());
  CHECK(r.tables == d.stats().tables);
  CHECK(r.entries == 3000);
  CHECK(r.bytes == d.stats().table_bytes);

  // Flip a byte in the middle of the first table's data (verify reads the file again).
  fs::path victim;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    if (e.path().extension() == ".sst" && (victim.empty() || e.path() < victim)) victim = e.path();
  }
  REQUIRE_FALSE(victim.empty());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c = 0;
    f.read(&c, 1);
    f.seekp(100);
    c = static_cast<char>(c ^ 0x40);
    f.write(&c, 1);
  }
  r = d.verify();
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].find(victim.filename().string()) != std::string::npos);
  CHECK(r.problems[0].find("checksum") != std::string::npos);
}

TEST_CASE("destroy: refuses an open store, removes only lsmt's files", "[operability]") {
  lsmt_test::temp_dir dir;
  const fs::path store = dir.sub("store");
  {
    str_db d(store, small_options());
    for (int i = 0; i < 2000; ++i) d.put(key_of(i), "v");
    d.flush();
    CHECK_THROWS_AS(lsmt::destroy(store), lsmt::locked_error);
    CHECK(d.get(key_of(1)) == "v");  // untouched
  }
  REQUIRE(count_files(store, ".sst") > 0);
  std::ofstream(store / "notes.txt") << "mine";
  lsmt::destroy(store);
  CHECK(fs::exists(store / "notes.txt"));  // not lsmt's: kept, and so is the directory
  CHECK(count_files(store, ".sst") == 0);
  CHECK(count_files(store, ".log") == 0);
  CHECK_FALSE(fs::exists(store / "MANIFEST"));
  CHECK_FALSE(fs::exists(store / "LOCK"));
  fs::remove(store / "notes.txt");

  // An empty store directory goes entirely; no store, or no directory, is not an error.
  { str_db d(store, small_options()); }
  lsmt::destroy(store);
  CHECK_FALSE(fs::exists(store));
  lsmt::destroy(store);
  fs::create_directories(store);
  std::ofstream(store / "000001.log") << "not a store's";
  lsmt::destroy(store);  // no MANIFEST: nothing is lsmt's
  CHECK(fs::exists(store / "000001.log"));
}

#if defined(__linux__)
TEST_CASE("threads: named, and the compaction thread runs at a lower priority", "[operability]") {
  lsmt_test::temp_dir tmp;
  errno = 0;
  const int own = getpriority(PRIO_PROCESS, 0);  // the test process's nice value
  REQUIRE(errno == 0);
  const int increment = GENERATE(10, 3, 0);
  CAPTURE(increment);
  lsmt::options o;
  o.compaction_nice = increment;
  {
    lsmt::db<std::string, std::string> d(tmp.sub("db"), o);
    d.put("k", "v");
    CHECK(nice_of_thread("lsmt:flush") == own);
    CHECK(nice_of_thread("lsmt:compact") == std::min(own + increment, 19));
  }
  CHECK(threads_gone("lsmt:flush"));  // joined at close
  CHECK(threads_gone("lsmt:compact"));
}
#endif

}  // namespace operability_test_cpp
