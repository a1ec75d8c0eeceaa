// tests/background_test.cpp - the contracts of the background threads that other tests lean on:
// wait_for_compactions() returns only when nothing is left to flush or merge (and the counters
// and files already say so), and tables a merge replaced are deleted explicitly, once no reader
// holds them (version_set.hpp), not while an iterator still reads them.
#include <cstddef>
#include <filesystem>
#include <set>
#include <string>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using lsmt_test::key_of;
using lsmt_test::rwx_r_x;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

namespace {

std::set<std::string> files_with(const fs::path& dir, const std::string& extension) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == extension) names.insert(e.path().filename().string());
  }
  return names;
}

}  // namespace

TEST_CASE("engine: wait_for_compactions leaves nothing to flush or merge", "[engine]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  lsmt::options o;
  o.memtable_max_entries = 50;
  o.max_immutable_memtables = 8;  // let flushes pile up behind the writer
  o.compaction_interval = 4;
  o.minimum_sstables = 2;
  str_db d(dir, o);
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 1000; ++i) d.put(key_of(i), "v" + std::to_string(round));
    d.wait_for_compactions();
    const lsmt::stats st = d.stats();
    CAPTURE(round, st.tables, st.immutable_memtables, st.flushes, st.compactions);
    CHECK(st.immutable_memtables == 0);
    // With interval 4 and minimum 2 the picker always finds a merge among 4 or more tables.
    CHECK(st.tables < 4);
    // Every memtable made immutable is flushed and counted, and its log is gone: only the
    // current memtable's log is left.
    CHECK(st.flushes == static_cast<uint64_t>(round + 1) * 20 - 1);  // the 51st put rotates
    CHECK(files_with(dir, ".log").size() == 1);
    // No table a merge replaced is left on disk: nothing reads them.
    CHECK(files_with(dir, ".sst").size() == st.tables);
  }
  CHECK(d.get(key_of(7)) == "v4");
}

TEST_CASE("engine: wait_for_compactions after close throws closed_error", "[engine]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), rwx_r_x, 100, 4, 2);
  d.put("k", "v");
  d.wait_for_compactions();  // nothing to do: returns at once
  d.close();
  CHECK_THROWS_AS(d.wait_for_compactions(), lsmt::closed_error);
}

TEST_CASE("engine: a replaced table stays on disk while an iterator reads it", "[engine]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  str_db d(dir, rwx_r_x, 100, 8, 1);
  for (int t = 0; t < 3; ++t) {
    for (int i = 0; i < 100; ++i) d.put(key_of(t * 100 + i), "old");
    d.flush();
  }
  const std::set<std::string> old_tables = files_with(dir, ".sst");
  REQUIRE(old_tables.size() == 3);

  auto it = d.new_iterator();  // pins the three tables
  it.seek_to_first();
  REQUIRE(it.valid());
  d.compact();  // replaces them with one table
  REQUIRE(d.stats().tables == 1);
  // Retired, but the iterator still holds them: their files stay, and it reads on.
  for (const std::string& name : old_tables) CHECK(fs::exists(dir / name));
  size_t seen = 0;
  for (; it.valid(); it.next()) ++seen;
  CHECK(seen == 300);

  it = d.new_iterator();  // releases the old view
  // The next flush deletes what nobody holds any more.
  d.put("later", "x");
  d.flush();
  d.wait_for_compactions();
  for (const std::string& name : old_tables) CHECK_FALSE(fs::exists(dir / name));
  CHECK(files_with(dir, ".sst").size() == d.stats().tables);
  CHECK(d.get(key_of(123)) == "old");
}
