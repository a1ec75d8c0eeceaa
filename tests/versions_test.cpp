// tests/versions_test.cpp - the newest version of a key wins wherever its versions are (memtable,
// newer and older tables), deletions hide older values until compaction drops both, a snapshot
// keeps what it saw through compaction, and a reopen after close keeps everything.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace versions_test_cpp {

namespace fs = std::filesystem;
using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::opt_str;
using lsmt_test::rwx_r_x;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

TEST_CASE("engine: overwrites spread across SSTables return the newest", "[engine]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  constexpr int keys = 50;
  constexpr int rounds = 5;
  {
    // A big interval and no idle settle: no automatic compaction.
    str_db d(dir, lsmt_test::seed_without_settle(1000, 16, 2));
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

TEST_CASE("engine: delete then re-put", "[engine]") {
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

TEST_CASE("engine: deleting a key that only exists in an old SSTable", "[engine]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  const std::string victim = key_of(25);
  {
    str_db d(dir, lsmt_test::seed_without_settle(1000, 16, 2));
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

TEST_CASE("engine: a snapshot keeps a deleted old-table key visible through compaction",
          "[engine]") {
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

TEST_CASE("engine: reopen after close keeps everything (random workload)", "[engine]") {
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

}  // namespace versions_test_cpp
