// tests/compaction_test.cpp - flush and compaction accounting: small memtable limits make
// flushes and size-tiered compactions happen and the counters say so, compact() leaves at most
// minimum_sstables tables, and compact() drops deleted keys and their tombstones (down to no
// table at all). Read-triggered merges are in read_merge_test.cpp.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace compaction_test_cpp {

namespace fs = std::filesystem;
using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::opt_str;
using lsmt_test::rwx_r_x;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

TEST_CASE("compaction: small memtable limits make flushes and compactions happen", "[compaction]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), lsmt_test::seed_without_settle(10, 4, 2));  // flushes counted exactly
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
  // Automatic compaction runs in the background once level 0 holds 4 tables; it keeps the count
  // down.
  // wait_for_compactions() returns once no merge is due or running any more.
  CHECK_NOTHROW(d.wait_for_compactions());
  st = d.stats();
  CHECK(st.compactions >= 1);
  CHECK(st.tables >= 1);
  CHECK(st.level_tables[0] < 4);
  CHECK(st.tables > st.level_tables[0]);  // the rest is in sorted levels
  CHECK(st.immutable_memtables == 0);
  CHECK(dump(d).size() == 200);
}

// A merge reads its inputs through descriptors of their own (version_set::scan_table). A table
// file replaced on disk after the store opened it is not the table the MANIFEST names: the
// merge must read the table it opened (still mapped or open), not the file now at its path.
TEST_CASE("compaction: a table file replaced on disk is merged from the table opened",
          "[compaction]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  str_db d(dir, rwx_r_x, 100, 1000, 1);  // no merge before compact()
  for (int i = 0; i < 300; ++i) d.put(key_of(i), "v" + std::to_string(i));
  d.flush();
  REQUIRE(d.stats().tables >= 3);
  int replaced = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".sst") continue;
    const fs::path fake = e.path().string() + ".new";
    {
      std::ofstream out(fake, std::ios::binary);
      out << std::string(static_cast<size_t>(fs::file_size(e.path())), '\x5a');
    }
    fs::rename(fake, e.path());
    ++replaced;
  }
  REQUIRE(replaced >= 3);
  d.compact();
  const auto all = dump(d);
  REQUIRE(all.size() == 300);
  for (int i = 0; i < 300; ++i) CHECK(all.at(key_of(i)) == "v" + std::to_string(i));
}

// Regression: compact() once cut its output by raw key+value bytes (more than the prefix-
// compressed file bytes), leaving more than minimum_sstables tables.
TEST_CASE("compaction: compact() leaves at most minimum_sstables tables", "[compaction]") {
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
TEST_CASE("compaction: compact() leaves at most minimum_sstables tables (long shared-prefix keys)",
          "[compaction]") {
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

TEST_CASE("compaction: compact() drops deleted keys", "[compaction]") {
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

}  // namespace compaction_test_cpp
