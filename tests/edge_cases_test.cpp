// Edge cases of the store's contents and lifecycle: odd values and keys, big values, versions
// spread over tables, deletions, reopen after close and after a crash, flush/compaction
// bookkeeping, and typed codecs.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "lsmt.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using lsmt_test::temp_dir;

namespace {

const fs::perms rwx_r_x = fs::perms(0755);
using str_db = lsmt::db<>;
using opt_str = std::optional<std::string>;

std::string key_of(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key-%08d", i);
  return buf;
}

// A value whose every byte depends on (seed, position), so a mixed-up value is caught.
std::string pattern_value(uint32_t seed, size_t len) {
  std::string v(len, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < len; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v[i] = static_cast<char>(x & 0xff);
  }
  return v;
}

// The whole store, in scan order.
std::map<std::string, std::string> dump(const str_db& d) {
  std::map<std::string, std::string> out;
  std::string prev;
  bool first = true;
  for (const auto& [k, v] : d.scan()) {
    if (!first) CHECK(prev < k);  // strictly increasing, no duplicates
    prev = k;
    first = false;
    out.emplace(k, v);
  }
  return out;
}

// Waits (up to a deadline) for pred(stats) to hold; returns whether it did.
template <class Db, class Pred>
bool wait_for_stats(const Db& d, Pred pred, std::chrono::seconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred(d.stats())) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace

// ---- values and keys --------------------------------------------------------------------------

TEST_CASE("edge: an empty value is stored and is distinct from absent", "[edge]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    str_db d(dir, rwx_r_x, 100, 8, 2);
    d.put("empty", "");
    CHECK(d.get("empty") == opt_str(""));
    CHECK(d.contains("empty"));
    CHECK_FALSE(d.get("absent").has_value());
    d.flush();
    CHECK(d.get("empty") == opt_str(""));
    d.compact();
    CHECK(d.get("empty") == opt_str(""));
  }
  str_db d(dir, rwx_r_x, 100, 8, 2);
  CHECK(d.get("empty") == opt_str(""));
  const auto all = dump(d);
  REQUIRE(all.size() == 1);
  CHECK(all.at("empty").empty());
}

TEST_CASE("edge: the value \"$tombstone\" is an ordinary value", "[edge]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    str_db d(dir, rwx_r_x, 100, 8, 2);
    d.put("a", "$tombstone");
    d.put("b", "live");
    CHECK(d.get("a") == opt_str("$tombstone"));
    CHECK(d.contains("a"));
    d.flush();
    d.put("c", "$tombstone");
    CHECK(d.get("a") == opt_str("$tombstone"));
    d.compact();
    CHECK(d.get("a") == opt_str("$tombstone"));
    CHECK(d.get("c") == opt_str("$tombstone"));
    CHECK(dump(d).size() == 3);
  }
  str_db d(dir, rwx_r_x, 100, 8, 2);
  CHECK(d.get("a") == opt_str("$tombstone"));
  CHECK(d.get("c") == opt_str("$tombstone"));
  CHECK(d.range("a", "c").to_vector().size() == 3);
}

TEST_CASE("edge: 1 MiB values across flushes, compaction and reopen", "[edge][big]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  constexpr size_t mib = size_t{1} << 20;
  constexpr int n = 8;
  {
    str_db d(dir, rwx_r_x, 3, 4, 2);  // a flush every 3 entries
    for (int i = 0; i < n; ++i) {
      d.put(key_of(i), pattern_value(static_cast<uint32_t>(i), mib));
      d.put(key_of(i) + "-small", "s" + std::to_string(i));
    }
    for (int i = 0; i < n; ++i) {
      const auto v = d.get(key_of(i));
      REQUIRE(v.has_value());
      CHECK(v->size() == mib);
      CHECK(*v == pattern_value(static_cast<uint32_t>(i), mib));
    }
    d.flush();
    CHECK(d.stats().flushes >= 4);
    // overwrite one big value with another big value, in a newer table
    d.put(key_of(3), pattern_value(1000, mib));
    d.compact();
    CHECK(d.get(key_of(3)) == opt_str(pattern_value(1000, mib)));
    CHECK(d.get(key_of(3) + "-small") == opt_str("s3"));
  }
  str_db d(dir, rwx_r_x, 3, 4, 2);
  for (int i = 0; i < n; ++i) {
    const auto v = d.get(key_of(i));
    REQUIRE(v.has_value());
    CHECK(*v == pattern_value(i == 3 ? 1000 : static_cast<uint32_t>(i), mib));
  }
  size_t big = 0;
  for (const auto& [k, v] : d.scan()) big += v.size() == mib ? 1 : 0;
  CHECK(big == static_cast<size_t>(n));
}

TEST_CASE("edge: keys with NUL and 0xFF bytes, and the empty key", "[edge][keys]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  using namespace std::string_literals;
  // In unsigned byte order, as the store must return them.
  const std::vector<std::string> keys = {
      ""s,      "\0"s,    "\0\0"s,  "\0\xff"s, "a"s,         "a\0"s,         "a\0b"s,
      "a\x01"s, "a\x7f"s, "a\x80"s, "a\xff"s,  "a\xff\xff"s, "b"s,           "\x7f"s,
      "\x80"s,  "\xfe"s,  "\xff"s,  "\xff\0"s, "\xff\xff"s,  "\xff\xff\xff"s};
  auto value_for = [](const std::string& k) { return "v:"s + k + ":"s + std::to_string(k.size()); };

  auto verify = [&](const str_db& d) {
    for (const auto& k : keys) {
      INFO("key size " << k.size());
      CHECK(d.get(k) == opt_str(value_for(k)));
    }
    std::vector<std::string> scanned;
    for (const auto& kv : d.scan()) scanned.push_back(kv.first);
    CHECK(scanned == keys);
    // Prefixes of a stored key that are not keys themselves are absent.
    CHECK_FALSE(d.contains("a\0b\0"s));
    CHECK_FALSE(d.contains("\xff\xff\xff\xff"s));
    // Range bounds containing NUL/0xFF: [a\0, a\xff] holds a\0 .. a\xff (not a\xff\xff).
    const auto r = d.range("a\0"s, "a\xff"s).to_vector();
    REQUIRE(r.size() == 6);
    CHECK(r.front().first == "a\0"s);
    CHECK(r.back().first == "a\xff"s);
    CHECK(d.less_than("\0"s).to_vector().size() == 1);  // only the empty key
    CHECK(d.greater_than("\xff\xff"s).to_vector().size() == 1);
    CHECK(d.all_except(""s).to_vector().size() == keys.size() - 1);
  };

  {
    str_db d(dir, rwx_r_x, 4, 8, 2);
    // insert in reverse so the order is the store's doing
    for (auto it = keys.rbegin(); it != keys.rend(); ++it) d.put(*it, value_for(*it));
    verify(d);  // memtable + flushed tables
    d.flush();
    verify(d);
    d.compact();
    verify(d);
    d.erase(""s);
    d.erase("\xff\xff\xff"s);
    CHECK_FALSE(d.contains(""s));
    d.put(""s, value_for(""));
    d.put("\xff\xff\xff"s, value_for("\xff\xff\xff"s));
  }
  str_db d(dir, rwx_r_x, 4, 8, 2);
  verify(d);
}

// ---- versions across tables --------------------------------------------------------------------

TEST_CASE("edge: overwrites spread across SSTables return the newest", "[edge][versions]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  constexpr int keys = 50;
  constexpr int rounds = 5;
  {
    str_db d(dir, rwx_r_x, 1000, 16, 2);  // big interval: no automatic compaction
    for (int r = 0; r < rounds; ++r) {
      for (int i = 0; i < keys; ++i) d.put(key_of(i), "r" + std::to_string(r));
      d.flush();
    }
    CHECK(d.stats().tables == static_cast<size_t>(rounds));
    CHECK(d.stats().compactions == 0);
    for (int i = 0; i < keys; ++i) CHECK(d.get(key_of(i)) == opt_str("r4"));
    // a newer version in the memtable shadows the tables; an odd key only in an old table
    d.put(key_of(7), "mem");
    CHECK(d.get(key_of(7)) == opt_str("mem"));
    auto all = dump(d);
    CHECK(all.size() == static_cast<size_t>(keys));
    CHECK(all.at(key_of(7)) == "mem");
    CHECK(all.at(key_of(8)) == "r4");

    d.compact();
    CHECK(d.stats().tables <= 2);
    CHECK(d.get(key_of(7)) == opt_str("mem"));
    CHECK(d.get(key_of(0)) == opt_str("r4"));
    CHECK(dump(d).size() == static_cast<size_t>(keys));
  }
  str_db d(dir, rwx_r_x, 1000, 16, 2);
  CHECK(d.get(key_of(7)) == opt_str("mem"));
  CHECK(d.get(key_of(49)) == opt_str("r4"));
}

TEST_CASE("edge: delete then re-put", "[edge][delete]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    str_db d(dir, rwx_r_x, 100, 8, 2);
    d.put("k", "one");
    d.erase("k");
    CHECK_FALSE(d.get("k").has_value());
    d.put("k", "two");  // all three versions in the memtable
    CHECK(d.get("k") == opt_str("two"));

    d.flush();
    d.erase("k");  // tombstone in memtable over a value in a table
    CHECK_FALSE(d.contains("k"));
    d.flush();  // tombstone in the newer table
    CHECK_FALSE(d.contains("k"));
    d.put("k", "three");
    CHECK(d.get("k") == opt_str("three"));
    d.flush();
    CHECK(d.get("k") == opt_str("three"));
    d.compact();
    CHECK(d.get("k") == opt_str("three"));
    d.erase("k");
    d.put("k", "four");
  }
  str_db d(dir, rwx_r_x, 100, 8, 2);
  CHECK(d.get("k") == opt_str("four"));
  CHECK(dump(d).size() == 1);
}

TEST_CASE("edge: deleting a key that only exists in an old SSTable", "[edge][delete]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  const std::string victim = key_of(25);
  {
    str_db d(dir, rwx_r_x, 1000, 16, 2);
    for (int i = 0; i < 50; ++i) d.put(key_of(i), "old");
    d.flush();                     // the oldest table holds the victim
    for (int t = 0; t < 3; ++t) {  // newer tables without it
      for (int i = 0; i < 20; ++i) d.put("other-" + std::to_string(t) + "-" + key_of(i), "x");
      d.flush();
    }
    REQUIRE(d.stats().tables == 4);
    CHECK(d.get(victim) == opt_str("old"));

    d.erase(victim);
    CHECK_FALSE(d.contains(victim));
    d.flush();  // the tombstone now sits in the newest table
    CHECK_FALSE(d.contains(victim));
    CHECK(d.range(key_of(24), key_of(26)).to_vector().size() == 2);

    d.compact();  // merges the tombstone with the old value; both go
    CHECK_FALSE(d.contains(victim));
    CHECK(d.get(key_of(24)) == opt_str("old"));
    CHECK(d.greater_or_equal(victim).to_vector().front().first == key_of(26));
  }
  {
    str_db d(dir, rwx_r_x, 1000, 16, 2);
    CHECK_FALSE(d.contains(victim));
    CHECK(dump(d).size() == 49 + 60);
    // and again, with the tombstone only in the WAL at the time of close
    d.erase(key_of(30));
  }
  str_db d(dir, rwx_r_x, 1000, 16, 2);
  CHECK_FALSE(d.contains(victim));
  CHECK_FALSE(d.contains(key_of(30)));
  CHECK(d.get(key_of(31)) == opt_str("old"));
  d.compact();
  CHECK_FALSE(d.contains(key_of(30)));
  CHECK(dump(d).size() == 48 + 60);
}

TEST_CASE("edge: a snapshot keeps a deleted old-table key visible through compaction",
          "[edge][delete][snapshot]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), rwx_r_x, 1000, 16, 2);
  for (int i = 0; i < 10; ++i) d.put(key_of(i), "old");
  d.flush();
  d.put("newer", "x");
  d.flush();
  const lsmt::snapshot snap = d.get_snapshot();
  d.erase(key_of(5));
  d.put(key_of(6), "new");
  d.compact();
  lsmt::read_options ro;
  ro.snap = &snap;
  CHECK(d.get(key_of(5), ro) == opt_str("old"));
  CHECK(d.get(key_of(6), ro) == opt_str("old"));
  CHECK_FALSE(d.contains(key_of(5)));
  CHECK(d.get(key_of(6)) == opt_str("new"));
}

// ---- reopen -------------------------------------------------------------------------------------

TEST_CASE("edge: reopen after close keeps everything (random workload)", "[edge][reopen]") {
  LSMT_TEST_RNG(rng);
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  std::map<std::string, std::string> model;
  for (int session = 0; session < 3; ++session) {
    CAPTURE(session);
    str_db d(dir, rwx_r_x, 64, 4, 2);
    CHECK(dump(d) == model);
    for (int op = 0; op < 400; ++op) {
      const std::string k = "k" + std::to_string(rng.uniform(0, 299));
      if (rng.chance(0.25)) {
        d.erase(k);
        model.erase(k);
      } else {
        const std::string v = rng.bytes(rng.uniform(0, 40));
        d.put(k, v);
        model[k] = v;
      }
      if (rng.chance(0.005)) d.flush();
    }
    CHECK(dump(d) == model);
    if (session % 2 == 1) d.compact();
    d.close();
  }
  str_db d(dir, rwx_r_x, 64, 4, 2);
  CHECK(dump(d) == model);
  for (const auto& [k, v] : model) REQUIRE(d.get(k) == opt_str(v));
}

TEST_CASE("edge: acknowledged writes survive a process crash", "[edge][crash]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  const bool sync = GENERATE(false, true);
  // Synced writes cost an fsync each: fewer of them, with a smaller memtable so tables still
  // get flushed and compacted.
  const int n = sync ? 120 : 2000;
  const size_t entries = sync ? 30 : 200;
  CAPTURE(sync, n);

  // The child writes n keys (flushes and compactions run in the background with these limits)
  // and dies without closing the store.
  const int status = lsmt_test::run_in_child([&] {
    lsmt::options o;
    o.memtable_max_entries = entries;
    o.compaction_interval = 4;
    o.minimum_sstables = 2;
    o.sync = sync;
    auto* leaked = new str_db(dir, o);
    for (int i = 0; i < n; ++i) leaked->put(key_of(i), "v" + std::to_string(i));
    leaked->erase(key_of(0));
    lsmt_test::simulated_crash(0);
  });
  REQUIRE(status == 0);

  {
    str_db d(dir, rwx_r_x, entries, 4, 2);
    CHECK_FALSE(d.contains(key_of(0)));
    int found = 0;
    for (int i = 1; i < n; ++i) found += d.get(key_of(i)) == opt_str("v" + std::to_string(i));
    CHECK(found == n - 1);
    CHECK(dump(d).size() == static_cast<size_t>(n - 1));
  }

  // A second crash on top of the recovered store, then recovery again.
  const int status2 = lsmt_test::run_in_child([&] {
    auto* leaked = new str_db(dir, rwx_r_x, entries, 4, 2);
    for (int i = 0; i < 100; ++i) leaked->put(key_of(i), "second");
    lsmt_test::simulated_crash(0);
  });
  REQUIRE(status2 == 0);
  str_db d(dir, rwx_r_x, entries, 4, 2);
  int second = 0;
  for (int i = 0; i < 100; ++i) second += d.get(key_of(i)) == opt_str("second");
  CHECK(second == 100);
  CHECK(d.get(key_of(n - 1)) == opt_str("v" + std::to_string(n - 1)));
  CHECK(dump(d).size() == static_cast<size_t>(n));
}

TEST_CASE("edge: a crash right after open, and with nothing written, recovers", "[edge][crash]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  REQUIRE(lsmt_test::run_in_child([&] {
            (void)new str_db(dir, rwx_r_x, 10, 4, 2);
            lsmt_test::simulated_crash(0);
          }) == 0);
  {
    str_db d(dir, rwx_r_x, 10, 4, 2);
    CHECK(d.scan().empty());
    d.put("a", "1");
  }
  REQUIRE(lsmt_test::run_in_child([&] {
            auto* d = new str_db(dir, rwx_r_x, 10, 4, 2);
            d->put("b", "2");
            d->flush();
            lsmt_test::simulated_crash(0);
          }) == 0);
  str_db d(dir, rwx_r_x, 10, 4, 2);
  CHECK(d.get("a") == opt_str("1"));
  CHECK(d.get("b") == opt_str("2"));
}

namespace {

// Writes WAL `number` into dir: a link record if given, then one put per key (value "v<i>"),
// sequences from first_seq. Returns the log's size.
uint64_t write_wal(const fs::path& dir, uint64_t number, std::optional<lsmt::detail::log_link> link,
                   int from, int to, uint64_t first_seq) {
  char name[32];
  std::snprintf(name, sizeof name, "%06llu.log", static_cast<unsigned long long>(number));
  auto fsys = lsmt::posix_file_system();
  lsmt::detail::log_writer w(fsys->new_writable_file((dir / name).string()));
  if (link) w.add_link(*link);
  for (int i = from; i < to; ++i) {
    lsmt::detail::raw_batch b;
    b.put(key_of(i), "v" + std::to_string(i));
    b.set_sequence(first_seq + static_cast<uint64_t>(i - from));
    w.add_record(b.rep());
  }
  const uint64_t size = w.size();
  w.close();
  return size;
}

}  // namespace

TEST_CASE("edge: a WAL cut short by a power loss drops every later WAL", "[edge][crash]") {
  // Logs 1, 2 and 3 as three rotations leave them: 2 and 3 start with a link to their
  // predecessor and its final size. A power loss may keep a later log and lose the end (or
  // all) of an earlier one, which was never synced; recovery must then keep a prefix.
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  fs::create_directories(dir);
  const uint64_t size1 = write_wal(dir, 1, std::nullopt, 0, 10, 1);
  const uint64_t size2 = write_wal(dir, 2, lsmt::detail::log_link{1, size1}, 10, 20, 11);
  write_wal(dir, 3, lsmt::detail::log_link{2, size2}, 20, 30, 21);
  const std::string what = GENERATE("intact", "cut", "missing", "middle cut");
  CAPTURE(what);
  int expected = 30;  // keys 0..expected-1 survive
  if (what == "cut") {
    fs::resize_file(dir / "000001.log", size1 - 3);  // the last record of log 1 is torn
    expected = 9;
  } else if (what == "missing") {
    fs::remove(dir / "000001.log");  // its directory entry never reached the disk
    expected = 0;
  } else if (what == "middle cut") {
    fs::resize_file(dir / "000002.log", size2 - 1);
    expected = 19;
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    str_db d(dir, rwx_r_x, 100, 4, 2);
    const auto all = dump(d);
    CHECK(all.size() == static_cast<size_t>(expected) + (reopen == 1 ? 1 : 0));
    for (int i = 0; i < expected; ++i) CHECK(all.count(key_of(i)) == 1);
    if (reopen == 0) d.put("after", "recovery");  // the dropped logs stay dropped
    if (reopen == 1) CHECK(d.get("after") == opt_str("recovery"));
  }
}

TEST_CASE("edge: a store with a version 1 MANIFEST opens and is upgraded", "[edge][reopen]") {
  // Version 1 is what lsmt wrote before logs had link records; such a store must still open.
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    str_db d(dir, rwx_r_x, 4, 4, 2);
    for (int i = 0; i < 10; ++i) d.put(key_of(i), "v" + std::to_string(i));
  }
  std::string bytes = lsmt_test::read_file(dir / "MANIFEST");
  REQUIRE(lsmt::detail::decode_fixed32(bytes.data() + 8) == 2);
  lsmt::detail::encode_fixed32(&bytes[8], 1);  // outside the checksummed payload
  lsmt_test::write_file(dir / "MANIFEST", bytes);
  {
    str_db d(dir, rwx_r_x, 4, 4, 2);
    CHECK(dump(d).size() == 10);
    CHECK(d.get(key_of(9)) == opt_str("v9"));
  }
  bytes = lsmt_test::read_file(dir / "MANIFEST");
  CHECK(lsmt::detail::decode_fixed32(bytes.data() + 8) == 2);
}

// ---- flush and compaction bookkeeping
// ------------------------------------------------------------

TEST_CASE("edge: small memtable limits make flushes and compactions happen", "[edge][stats]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), rwx_r_x, 10, 4, 2);
  const auto before = d.stats();
  CHECK(before.flushes == 0);
  CHECK(before.compactions == 0);
  CHECK(before.tables == 0);
  for (int i = 0; i < 200; ++i) d.put(key_of(i), std::string(50, 'x'));
  CHECK(d.stats().last_sequence == 200);
  d.flush();
  auto st = d.stats();
  CHECK(st.flushes == 20);  // 200 entries, 10 per memtable
  CHECK(st.table_bytes > 0);
  // Automatic compaction runs in the background once 4 tables exist; it keeps the count down.
  CHECK(wait_for_stats(
      d, [](const lsmt::stats& s) { return s.compactions >= 1 && s.tables < 4; }));
  st = d.stats();
  CHECK(st.compactions >= 1);
  CHECK(st.tables >= 1);
  CHECK(st.tables < 4);
  CHECK(st.immutable_memtables == 0);
  CHECK(dump(d).size() == 200);
}

// Regression: compact() once cut its output by raw key+value bytes (more than the prefix-
// compressed file bytes), leaving more than minimum_sstables tables.
TEST_CASE("edge: compact() leaves at most minimum_sstables tables", "[edge][stats]") {
  temp_dir tmp;
  const size_t minimum = GENERATE(1, 2, 3, 5);
  CAPTURE(minimum);
  str_db d(tmp.sub("db"), rwx_r_x, 200, 8, minimum);
  for (int i = 0; i < 1000; ++i) d.put(key_of(i), "v" + std::to_string(i));
  d.compact();
  const auto st = d.stats();
  CAPTURE(st.tables, st.table_bytes);
  CHECK(st.tables >= 1);
  CHECK(st.tables <= minimum);
  CHECK(d.get(key_of(567)) == opt_str("v567"));
  CHECK(dump(d).size() == 1000);
}

// Regression: long shared key prefixes made the over-splitting extreme (16 tables for minimum 3).
TEST_CASE("edge: compact() leaves at most minimum_sstables tables (long shared-prefix keys)",
          "[edge][stats]") {
  temp_dir tmp;
  const size_t minimum = 3;
  str_db d(tmp.sub("db"), rwx_r_x, 1000, 8, minimum);
  const std::string prefix(100, 'p');
  for (int i = 0; i < 3000; ++i) d.put(prefix + key_of(i), "v");
  d.compact();
  const auto st = d.stats();
  CAPTURE(st.tables, st.table_bytes);
  CHECK(st.tables <= minimum);
  CHECK(dump(d).size() == 3000);
}

TEST_CASE("edge: compact() drops deleted keys", "[edge][stats][delete]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  str_db d(dir, rwx_r_x, 2000, 8, 2);
  for (int i = 0; i < 1000; ++i) d.put(key_of(i), std::string(100, 'v'));
  d.compact();
  const uint64_t full = d.stats().table_bytes;
  REQUIRE(full > 100 * 1000);

  for (int i = 0; i < 1000; i += 2) d.erase(key_of(i));
  d.compact();
  const uint64_t half = d.stats().table_bytes;
  CHECK(half < full * 6 / 10);  // the deleted values and their tombstones are gone
  CHECK(dump(d).size() == 500);

  for (int i = 1; i < 1000; i += 2) d.erase(key_of(i));
  d.compact();
  const auto st = d.stats();
  CHECK(st.tables == 0);
  CHECK(st.table_bytes == 0);
  CHECK(d.scan().empty());
  CHECK_FALSE(d.contains(key_of(1)));
  d.close();

  // no table files remain on disk either
  size_t sst = 0;
  for (const auto& e : fs::directory_iterator(dir)) sst += e.path().extension() == ".sst";
  CHECK(sst == 0);
  str_db again(dir, rwx_r_x, 100, 8, 2);
  CHECK(again.scan().empty());
}

// Read-triggered merging: scans that step over deletions and older versions get the tables
// merged, which drops them. compaction_interval 64 keeps size-tiered merges out of the way.
namespace {
// 10 tables of 1000 keys each, then deletes of 9 keys in 10 and overwrites of the rest:
// 19 tables, of which a scan shows 1000 keys and steps over 19,000 entries.
void fill_with_garbage(str_db& d) {
  for (int i = 0; i < 10000; ++i) d.put(key_of(i), "old");
  for (int i = 0; i < 10000; ++i) {
    if (i % 10 == 0) {
      d.put(key_of(i), "new" + std::to_string(i));
    } else {
      d.erase(key_of(i));
    }
  }
  d.flush();
}
}  // namespace

TEST_CASE("edge: scans over deleted and overwritten entries get the tables merged",
          "[edge][stats][delete]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), rwx_r_x, 1000, 64, 2);
  fill_with_garbage(d);
  const auto before = d.stats();
  REQUIRE(before.tables == 20);
  REQUIRE(before.compactions == 0);
  // Forward and backward scans both count what they step over.
  const bool backward = GENERATE(false, true);
  CAPTURE(backward);
  std::map<std::string, std::string> seen;
  if (backward) {
    auto it = d.new_iterator();
    for (it.seek_to_last(); it.valid(); it.prev()) seen.emplace(it.key(), it.value());
  } else {
    seen = dump(d);
  }
  REQUIRE(seen.size() == 1000);
  CHECK(seen[key_of(9990)] == "new9990");
  // One scan stepped over 19,000 entries: more than half of the 20,000 the tables hold.
  CHECK(wait_for_stats(
      d, [](const lsmt::stats& s) { return s.compactions >= 1 && s.tables == 1; }));
  const auto after = d.stats();
  CHECK(after.tables == 1);
  CHECK(after.table_bytes < before.table_bytes / 5);  // the hidden entries are gone
  CHECK(dump(d) == seen);
  CHECK_FALSE(d.contains(key_of(1)));
  CHECK(d.get(key_of(10)) == opt_str("new10"));
}

TEST_CASE("edge: scans over live entries only, point reads and writes merge nothing",
          "[edge][stats]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), rwx_r_x, 1000, 64, 2);
  for (int i = 0; i < 20000; ++i) d.put(key_of(i), "v");
  d.flush();
  for (int round = 0; round < 5; ++round) {
    CHECK(dump(d).size() == 20000);
    for (int i = 0; i < 20000; i += 7) CHECK(d.contains(key_of(i)));
  }
  // Misses and deleted keys found by get() are not counted either.
  for (int i = 0; i < 20000; i += 2) d.erase(key_of(i));
  d.flush();
  for (int i = 0; i < 20000; ++i) REQUIRE(d.contains(key_of(i)) == (i % 2 == 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto st = d.stats();
  CHECK(st.compactions == 0);
  CHECK(st.tables == 30);
}

TEST_CASE("edge: deletions still in the memtable do not trigger a merge until flushed",
          "[edge][stats][delete]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), rwx_r_x, 100000, 64, 2);
  for (int half = 0; half < 2; ++half) {
    for (int i = half * 10000; i < (half + 1) * 10000; ++i) d.put(key_of(i), "v");
    d.flush();
  }
  for (int i = 0; i < 20000; ++i) d.erase(key_of(i));  // all in the memtable
  // Each scan steps over 20,000 memtable deletions hiding 20,000 table entries: a merge of the
  // tables could drop none of them.
  for (int round = 0; round < 5; ++round) CHECK(dump(d).empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(d.stats().compactions == 0);
  CHECK(d.stats().tables == 2);
  d.flush();  // now the deletions are in a table: the next scan's merge drops everything
  CHECK(dump(d).empty());
  CHECK(wait_for_stats(
      d, [](const lsmt::stats& s) { return s.compactions >= 1 && s.tables == 0; }));
}

TEST_CASE("edge: merges that a snapshot keeps from dropping anything back off",
          "[edge][stats][snapshot]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), rwx_r_x, 100000, 64, 2);
  for (int i = 0; i < 10000; ++i) d.put(key_of(i), "old");
  d.flush();
  auto snap = d.get_snapshot();  // keeps every "old" version alive
  for (int i = 0; i < 10000; ++i) d.put(key_of(i), "new");
  d.flush();
  // Each scan steps over the 10,000 old versions: half the 20,000 table entries, enough for a
  // merge. The merge drops nothing, so each next one needs twice the scans: 12 scans make at
  // most 4 merges (after scans 1, 3, 7; 12 without the back-off).
  for (int round = 0; round < 12; ++round) {
    const auto all = dump(d);
    REQUIRE(all.size() == 10000);
    CHECK(all.begin()->second == "new");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(wait_for_stats(d, [](const lsmt::stats& s) { return s.compactions >= 1; }));
  const auto st = d.stats();
  CAPTURE(st.compactions);
  CHECK(st.compactions <= 4);
  // The snapshot still sees what it saw.
  lsmt::read_options ro;
  ro.snap = &snap;
  CHECK(d.get(key_of(77), ro) == opt_str("old"));
}

TEST_CASE("edge: an iterator stepping over deleted entries after its store is gone",
          "[edge][delete]") {
  temp_dir tmp;
  auto d = std::make_unique<str_db>(tmp.sub("db"), rwx_r_x, 1000, 64, 2);
  fill_with_garbage(*d);
  auto it = d->new_iterator();
  d.reset();  // closes the store; the iterator keeps its tables
  size_t shown = 0;
  for (it.seek_to_first(); it.valid(); it.next()) ++shown;
  CHECK(shown == 1000);
  for (it.seek_to_last(); it.valid(); it.prev()) --shown;
  CHECK(shown == 0);
}

// ---- typed codecs
// ---------------------------------------------------------------------------------

TEST_CASE("edge: db<int64_t, std::string> orders keys numerically, negatives first",
          "[edge][codec]") {
  LSMT_TEST_RNG(rng);
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  using int_db = lsmt::db<int64_t, std::string>;
  constexpr int64_t lo = std::numeric_limits<int64_t>::min();
  constexpr int64_t hi = std::numeric_limits<int64_t>::max();
  std::map<int64_t, std::string> model;
  {
    int_db d(dir, rwx_r_x, 50, 4, 2);
    for (int64_t k : {lo, lo + 1, int64_t{-256}, int64_t{-255}, int64_t{-1}, int64_t{0}, int64_t{1},
                      int64_t{255}, int64_t{256}, hi - 1, hi}) {
      model[k] = std::to_string(k);
    }
    for (int i = 0; i < 300; ++i) {
      const auto k = static_cast<int64_t>(rng());
      model[k] = std::to_string(k);
    }
    for (const auto& [k, v] : model) d.put(k, v);
    d.erase(int64_t{255});
    model.erase(255);

    std::vector<int64_t> got;
    for (const auto& [k, v] : d.scan()) {
      got.push_back(k);
      CHECK(v == std::to_string(k));
    }
    std::vector<int64_t> want;
    for (const auto& kv : model) want.push_back(kv.first);
    CHECK(got == want);

    // range queries use numeric bounds
    const auto mid = d.range(-256, 256).to_vector();
    REQUIRE(mid.size() == 6);  // -256 -255 -1 0 1 256 (255 deleted); a random key here: ~2^-46
    CHECK(mid.front().first == -256);
    CHECK(mid.back().first == 256);
    CHECK(d.greater_than(hi - 1).to_vector() ==
          std::vector<std::pair<int64_t, std::string>>{{hi, std::to_string(hi)}});
    CHECK(d.less_than(lo + 1).to_vector().size() == 1);
    CHECK(d.less_than(0).to_vector().size() ==
          static_cast<size_t>(std::distance(model.begin(), model.lower_bound(0))));
    CHECK(d.greater_or_equal(0).to_vector().size() ==
          static_cast<size_t>(std::distance(model.lower_bound(0), model.end())));
    CHECK(d.get(lo) == opt_str(std::to_string(lo)));
    CHECK(d.get(-1) == opt_str("-1"));
    CHECK_FALSE(d.get(255).has_value());

    // iterator: seek to a negative key and walk backwards across zero
    auto it = d.new_iterator();
    it.seek(1);
    REQUIRE(it.valid());
    CHECK(it.key() == 1);
    it.prev();
    REQUIRE(it.valid());
    CHECK(it.key() == 0);
    it.prev();
    REQUIRE(it.valid());
    CHECK(it.key() == -1);
  }
  int_db d(dir, rwx_r_x, 50, 4, 2);
  d.compact();
  std::vector<int64_t> got;
  for (const auto& kv : d.scan()) got.push_back(kv.first);
  CHECK(got.size() == model.size());
  CHECK(std::is_sorted(got.begin(), got.end()));
  CHECK(got.front() == lo);
  CHECK(got.back() == hi);
}

TEST_CASE("edge: db<uint32_t, std::vector<uint8_t>>", "[edge][codec]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  using bytes = std::vector<uint8_t>;
  using u32_db = lsmt::db<uint32_t, bytes>;
  const std::vector<uint32_t> keys = {0u,     1u,          255u,        256u,        65535u,
                                      65536u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
  auto value_for = [](uint32_t k) {
    return bytes{0x00, 0xff, static_cast<uint8_t>(k & 0xff), static_cast<uint8_t>(k >> 24), 0x00};
  };
  {
    u32_db d(dir, rwx_r_x, 3, 4, 2);
    for (auto it = keys.rbegin(); it != keys.rend(); ++it) d.put(*it, value_for(*it));
    d.put(42u, bytes{});  // empty byte vector
    d.flush();
  }
  u32_db d(dir, rwx_r_x, 3, 4, 2);
  std::vector<uint32_t> got;
  for (const auto& [k, v] : d.scan()) {
    got.push_back(k);
    if (k != 42u) CHECK(v == value_for(k));
  }
  std::vector<uint32_t> want = keys;
  want.insert(want.begin() + 2, 42u);
  CHECK(got == want);
  CHECK(d.get(42u) == std::optional<bytes>(bytes{}));
  CHECK(d.get(0xffffffffu) == std::optional<bytes>(value_for(0xffffffffu)));
  CHECK_FALSE(d.get(2u).has_value());
  CHECK(d.range(256u, 0x80000000u).to_vector().size() == 5);
}

// A user-defined codec, as lsmt/codec.hpp documents: (x, y) ordered by x, then y.
namespace edge_test {
struct point {
  int32_t x = 0;
  int32_t y = 0;
  friend bool operator==(const point& a, const point& b) { return a.x == b.x && a.y == b.y; }
  friend bool operator<(const point& a, const point& b) {
    return a.x != b.x ? a.x < b.x : a.y < b.y;
  }
};
}  // namespace edge_test

template <>
struct lsmt::codec<edge_test::point> {
  static void encode(const edge_test::point& p, std::string& out) {
    lsmt::codec<int32_t>::encode(p.x, out);
    lsmt::codec<int32_t>::encode(p.y, out);
  }
  static edge_test::point decode(std::string_view bytes) {
    if (bytes.size() != 8) throw lsmt::corruption_error("point: expected 8 bytes");
    return {lsmt::codec<int32_t>::decode(bytes.substr(0, 4)),
            lsmt::codec<int32_t>::decode(bytes.substr(4, 4))};
  }
};

namespace edge_test {
// A value codec that reads the store while encoding (say, to look up a dictionary entry):
// single-key calls reuse per-thread buffers, and the nested read must not disturb them.
struct looked_up_value {
  std::string text;
};
struct lookup_codec;
using lookup_db = lsmt::db<std::string, looked_up_value, lsmt::codec<std::string>, lookup_codec>;
inline lookup_db* lookup_store = nullptr;
struct lookup_codec {
  static void encode(const looked_up_value& v, std::string& out) {
    out.append(v.text);
    if (lookup_store != nullptr) {
      const auto suffix = lookup_store->get("suffix");
      if (suffix) out.append(suffix->text);
    }
  }
  static looked_up_value decode(std::string_view bytes) { return {std::string(bytes)}; }
};
}  // namespace edge_test

TEST_CASE("edge: a codec that reads the store while a put encodes", "[edge][codec]") {
  using edge_test::lookup_db;
  temp_dir tmp;
  lookup_db d(tmp.sub("db"), rwx_r_x, 1000, 4, 2);
  d.put("suffix", {"-sfx"});
  edge_test::lookup_store = &d;
  d.put("alpha", {"a"});  // encode() calls d.get("suffix") in the middle of the put
  d.put(std::string(100000, 'k'), {std::string(100000, 'v')});  // beyond the kept 64 KiB
  d.put("beta", {"b"});
  edge_test::lookup_store = nullptr;
  const auto alpha = d.get("alpha");
  REQUIRE(alpha.has_value());
  CHECK(alpha->text == "a-sfx");
  CHECK(d.get("beta")->text == "b-sfx");
  CHECK(d.get(std::string(100000, 'k'))->text == std::string(100000, 'v') + "-sfx");
  CHECK(d.get("suffix")->text == "-sfx");
  std::vector<std::string> keys;
  for (const auto& [k, v] : d.scan()) keys.push_back(k.substr(0, 8));
  CHECK(keys == std::vector<std::string>{"alpha", "beta", "kkkkkkkk", "suffix"});
}

TEST_CASE("edge: a user-defined codec for a struct", "[edge][codec]") {
  using edge_test::point;
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  using point_db = lsmt::db<point, point>;
  std::vector<point> pts;
  for (int32_t x : {-3, -1, 0, 2}) {
    for (int32_t y : {-2, 0, 5}) pts.push_back({x, y});
  }
  {
    point_db d(dir, rwx_r_x, 4, 4, 2);
    for (auto it = pts.rbegin(); it != pts.rend(); ++it) d.put(*it, point{it->y, it->x});
  }
  point_db d(dir, rwx_r_x, 4, 4, 2);
  std::vector<point> got;
  for (const auto& [k, v] : d.scan()) {
    got.push_back(k);
    CHECK(v == point{k.y, k.x});
  }
  CHECK(std::is_sorted(pts.begin(), pts.end()));
  CHECK(got == pts);
  CHECK(d.get(point{-1, 5}) == std::optional<point>(point{5, -1}));
  // all points with x == 0, via a range over the struct's order
  const auto row = d.range(point{0, std::numeric_limits<int32_t>::min()},
                           point{0, std::numeric_limits<int32_t>::max()})
                       .to_vector();
  REQUIRE(row.size() == 3);
  CHECK(row[0].first == point{0, -2});
  CHECK(row[2].first == point{0, 5});
}

TEST_CASE("edge: decoding a wrong-size integer throws corruption_error", "[edge][codec]") {
  CHECK_THROWS_AS(lsmt::codec<int64_t>::decode("abc"), lsmt::corruption_error);
  CHECK_THROWS_AS(lsmt::codec<int64_t>::decode(""), lsmt::corruption_error);
  CHECK_THROWS_AS(lsmt::codec<uint32_t>::decode("12345"), lsmt::corruption_error);
  CHECK_THROWS_AS(lsmt::codec<int16_t>::decode("x"), lsmt::corruption_error);
  CHECK(lsmt::codec<uint32_t>::decode(std::string("\x00\x00\x01\x02", 4)) == 0x0102u);
  CHECK(lsmt::codec<int8_t>::decode(std::string("\x7f", 1)) == -1);
  try {
    lsmt::codec<int32_t>::decode("toolong");
    FAIL("no exception");
  } catch (const lsmt::corruption_error& e) {
    CHECK(e.code() == lsmt::errc::corruption);
  }

  // Through a store: bytes written by a db<string, string> read back as integers.
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    str_db d(dir, rwx_r_x, 100, 8, 2);
    d.put("abc", "not-four");
  }
  {
    lsmt::db<std::string, uint32_t> d(dir, rwx_r_x, 100, 8, 2);
    CHECK_THROWS_AS(d.get("abc"), lsmt::corruption_error);
    CHECK(d.contains("abc"));  // contains does not decode
  }
  lsmt::db<int64_t, std::string> d(dir, rwx_r_x, 100, 8, 2);
  CHECK_THROWS_AS(d.scan().to_vector(), lsmt::corruption_error);
  auto it = d.new_iterator();
  it.seek_to_first();
  REQUIRE(it.valid());
  CHECK(it.raw_key() == "abc");
  CHECK_THROWS_AS(it.key(), lsmt::corruption_error);
}
