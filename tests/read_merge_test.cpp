// tests/read_merge_test.cpp - read-triggered merges: scans that step over deletions and older
// versions in the tables get them merged down (which drops them); scans over live entries,
// point reads, writes and deletions still in the memtable merge nothing; merges that a snapshot
// keeps from dropping anything back off; and an iterator that steps over deleted entries after
// its store is closed. compaction_interval 64 keeps level-0 merges out of the way. Once only
// the bottom level holds tables, scans get its tables rewritten one at a time. Seeks that
// position level-0 tables below their trigger get level 0 merged down, and then the levels
// above the bottom one; point reads do not.
//
// db::wait_for_compactions() makes these deterministic: it returns once no flush or merge is
// due or running, so a test that expects no merge checks the counter after it, with no sleep.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace read_merge_test_cpp {

namespace fs = std::filesystem;
using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::opt_str;
using lsmt_test::seed_without_settle;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

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

TEST_CASE("compaction: scans over deleted and overwritten entries get the tables merged",
          "[compaction]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), seed_without_settle(1000, 64, 2));
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
  // One scan stepped over 19,000 entries: more than half of the 20,000 the tables hold, so a
  // merge of every table is due.
  CHECK_NOTHROW(d.wait_for_compactions());
  const auto after = d.stats();
  CHECK(after.compactions >= 1);
  CHECK(after.tables == 1);
  CHECK(after.table_bytes < before.table_bytes / 5);  // the hidden entries are gone
  CHECK(dump(d) == seen);
  CHECK_FALSE(d.contains(key_of(1)));
  CHECK(d.get(key_of(10)) == opt_str("new10"));
}

TEST_CASE("compaction: scans get the bottom level's hidden entries dropped one table at a time",
          "[compaction]") {
  // Everything in the bottom level, deletions and the values they hide side by side (a snapshot
  // kept them through compact()), and no other level holding anything: no score asks for a
  // merge, so only scans can get the bottom tables rewritten.
  temp_dir tmp;
  str_db d(tmp.sub("db"), seed_without_settle(1000, 64, 2));
  for (int i = 0; i < 10000; ++i) d.put(key_of(i), "old");
  d.compact();
  {
    const lsmt::snapshot snap = d.get_snapshot();
    for (int i = 0; i < 10000; ++i) {
      if (i % 10 != 0) d.erase(key_of(i));
    }
    d.compact();  // the snapshot keeps the deleted values: deletions and values, all at the bottom
  }
  const auto before = d.stats();
  REQUIRE(before.tables == before.level_tables[6]);
  REQUIRE(before.tables == 2);
  const std::map<std::string, std::string> expect = dump(d);
  REQUIRE(expect.size() == 1000);
  int scans = 0;
  while (d.stats().table_bytes > before.table_bytes / 3 && scans < 20) {
    CHECK(dump(d) == expect);
    d.wait_for_compactions();
    ++scans;
  }
  CAPTURE(scans, before.table_bytes, d.stats().table_bytes);
  CHECK(d.stats().table_bytes <= before.table_bytes / 3);  // the hidden entries are gone
  CHECK(scans <= 4);  // one bottom table per scan that steps over enough of them
  CHECK(d.stats().compactions >= before.compactions + 2);  // both bottom tables, one merge each
  CHECK(dump(d) == expect);
  CHECK(d.stats().tables == d.stats().level_tables[6]);
}

TEST_CASE("compaction: scans over live entries only, point reads and writes merge nothing",
          "[compaction]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), seed_without_settle(1000, 64, 2));
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
  d.wait_for_compactions();  // a merge the reads had made due would have run by now
  const auto st = d.stats();
  CHECK(st.compactions == 0);
  CHECK(st.tables == 30);
}

TEST_CASE("compaction: deletions still in the memtable do not trigger a merge until flushed",
          "[compaction]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), seed_without_settle(100000, 64, 2));
  for (int half = 0; half < 2; ++half) {
    for (int i = half * 10000; i < (half + 1) * 10000; ++i) d.put(key_of(i), "v");
    d.flush();
  }
  for (int i = 0; i < 20000; ++i) d.erase(key_of(i));  // all in the memtable
  // Each scan steps over 20,000 memtable deletions hiding 20,000 table entries: a merge of the
  // tables could drop none of them.
  for (int round = 0; round < 5; ++round) CHECK(dump(d).empty());
  d.wait_for_compactions();  // a merge the scans had made due would have run by now
  CHECK(d.stats().compactions == 0);
  CHECK(d.stats().tables == 2);
  d.flush();  // now the deletions are in a table: the next scan's merge drops everything
  CHECK(dump(d).empty());
  CHECK_NOTHROW(d.wait_for_compactions());
  const auto st = d.stats();
  CHECK(st.compactions >= 1);
  CHECK(st.tables == 0);
}

TEST_CASE("compaction: merges that a snapshot keeps from dropping anything back off",
          "[compaction]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), seed_without_settle(100000, 64, 2));
  for (int i = 0; i < 10000; ++i) d.put(key_of(i), "old");
  d.flush();
  auto snap = d.get_snapshot();  // keeps every "old" version alive
  for (int i = 0; i < 10000; ++i) d.put(key_of(i), "new");
  d.flush();
  // Each scan steps over the 10,000 old versions: half the 20,000 table entries, enough for a
  // merge. The merge drops nothing, so each next one needs twice the scans: 12 scans make at
  // most 4 merges (after scans 1, 3, 7; 12 without the back-off). Each scan's merge, if due,
  // finishes before the next scan starts counting.
  for (int round = 0; round < 12; ++round) {
    const auto all = dump(d);
    REQUIRE(all.size() == 10000);
    CHECK(all.begin()->second == "new");
    d.wait_for_compactions();
  }
  const auto st = d.stats();
  CAPTURE(st.compactions);
  CHECK(st.compactions >= 1);
  CHECK(st.compactions <= 4);
  // The snapshot still sees what it saw.
  lsmt::read_options ro;
  ro.snap = &snap;
  CHECK(d.get(key_of(77), ro) == opt_str("old"));
}

TEST_CASE("iterator: stepping over deleted entries after its store is gone", "[iterator]") {
  temp_dir tmp;
  auto d = std::make_unique<str_db>(tmp.sub("db"), seed_without_settle(1000, 64, 2));
  fill_with_garbage(*d);
  auto it = d->new_iterator();
  d.reset();  // closes the store; the iterator keeps its tables
  size_t shown = 0;
  for (it.seek_to_first(); it.valid(); it.next()) ++shown;
  CHECK(shown == 1000);
  for (it.seek_to_last(); it.valid(); it.prev()) --shown;
  CHECK(shown == 0);
}

// An iterator leaves an empty memtable out of its merge (read_path.hpp): whatever is written
// into that memtable later must stay out of its view, as it would with the memtable in it.
TEST_CASE("iterator: one opened over an empty memtable shows none of the later writes",
          "[iterator]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), seed_without_settle(1000, 64, 2));
  auto fresh = d.new_iterator();  // an empty store: nothing anywhere
  for (int i = 0; i < 100; ++i) d.put(key_of(i), "old");
  d.flush();  // the memtable is empty again
  auto it = d.new_iterator();
  for (int i = 0; i < 200; i += 2) d.put(key_of(i), "new");  // overwrites and new keys
  d.erase(key_of(1));
  fresh.seek_to_first();
  CHECK_FALSE(fresh.valid());
  std::map<std::string, std::string> seen;
  for (it.seek_to_first(); it.valid(); it.next()) seen[it.key()] = it.value();
  REQUIRE(seen.size() == 100);
  for (const auto& [k, v] : seen) CHECK(v == "old");
  it.seek(key_of(150));
  CHECK_FALSE(it.valid());      // key_of(150) and up came later
  auto now = d.new_iterator();  // a memtable with entries joins the merge
  size_t news = 0;
  size_t count = 0;
  for (now.seek_to_first(); now.valid(); now.next(), ++count) news += now.value() == "new";
  CHECK(count == 149);
  CHECK(news == 100);
}

TEST_CASE("compaction: seeks that pay for level-0 tables get level 0 merged below its trigger",
          "[compaction]") {
  // 3 level-0 tables of 1000 keys, below the trigger of 8. Merging them reads 3000 entries, so
  // the rule asks for at least min_upper_seeks (4096) level-0 tables positioned: 1366 seeks.
  temp_dir tmp;
  str_db d(tmp.sub("db"), seed_without_settle(1000, 8, 2));
  for (int i = 0; i < 3000; ++i) d.put(key_of((i * 7) % 3000), "v" + std::to_string(i));
  d.flush();
  d.wait_for_compactions();
  const auto before = d.stats();
  REQUIRE(before.level_tables[0] == 3);
  REQUIRE(before.compactions == 0);
  const auto model = dump(d);

  // Point reads, however many, leave level 0 alone: bloom filters skip its tables.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3000; ++i) REQUIRE(d.contains(key_of(i)));
  }
  // 1300 seeks position 3900 level-0 tables: below the threshold.
  for (int i = 0; i < 1300; ++i) {
    auto it = d.new_iterator();
    it.seek(key_of(i));
    REQUIRE(it.valid());
  }
  d.wait_for_compactions();
  CHECK(d.stats().level_tables[0] == 3);
  CHECK(d.stats().compactions == 0);

  // 100 more (4200 in all), from one iterator and with every kind of seek.
  auto it = d.new_iterator();
  for (int i = 0; i < 25; ++i) {
    it.seek(key_of(i * 100));
    it.seek_to_first();
    it.seek_to_last();
    it.seek_for_prev(key_of(i * 100 + 50));
  }
  it = d.new_iterator();  // the old one reports what it counted when it is destroyed
  d.wait_for_compactions();
  const auto after = d.stats();
  CHECK(after.level_tables[0] == 0);
  CHECK(after.compactions == 1);
  CHECK(dump(d) == model);
}

TEST_CASE("compaction: seeks that pay for a level above the bottom get it merged into the bottom",
          "[compaction]") {
  // 3000 keys compacted into the bottom level (2 tables, over base_level_bytes, so level 5
  // becomes the base level, with a tenth of the bottom's bytes as its target), then 100
  // overwrites flushed to level 0, within that target. Seeks get level 0 merged
  // (a move into level 5), then level 5 into the bottom: each waits for min_upper_seeks (4096)
  // tables positioned, one per seek, since an eighth of the entries it rewrites are fewer.
  lsmt::options o;
  o.compaction_interval = 64;
  o.minimum_sstables = 2;
  o.target_file_size = 32 << 10;
  o.base_level_bytes = 16 << 10;
  o.idle_settle_ms = 0;  // the seeks alone must get level 0 merged
  temp_dir tmp;
  str_db d(tmp.sub("db"), o);
  for (int i = 0; i < 3000; ++i) d.put(key_of(i), "v" + std::to_string(i));
  d.compact();
  for (int i = 0; i < 3000; i += 30) d.put(key_of(i), "w" + std::to_string(i));
  d.flush();
  d.wait_for_compactions();
  const auto levels = [&] { return d.stats().level_tables; };
  REQUIRE(levels()[0] == 1);
  REQUIRE(levels()[6] >= 2);
  const auto model = dump(d);
  const auto seek = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto it = d.new_iterator();
      it.seek(key_of((i * 7) % 3000));
      REQUIRE(it.valid());
    }
    d.wait_for_compactions();
  };

  seek(4100);  // level 0 goes down to the base level
  auto now = levels();
  CHECK(now[0] == 0);
  REQUIRE(now[5] == 1);
  const uint64_t merges = d.stats().compactions;

  seek(4000);  // below the threshold: nothing moves
  CHECK(levels() == now);
  CHECK(d.stats().compactions == merges);
  // Point reads, however many, do not count.
  for (int i = 0; i < 9000; ++i) REQUIRE(d.contains(key_of(i % 3000)));
  d.wait_for_compactions();
  CHECK(levels() == now);

  seek(100);  // 4100 in all: level 5 goes into the bottom
  now = levels();
  CHECK(d.stats().compactions == merges + 1);
  for (size_t l = 0; l < 6; ++l) CHECK(now[l] == 0);
  CHECK(now[6] >= 2);
  CHECK(dump(d) == model);

  seek(10000);  // only the bottom level is left: seeks ask for nothing more
  CHECK(d.stats().compactions == merges + 1);
}

}  // namespace read_merge_test_cpp
