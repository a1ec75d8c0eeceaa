// tests/layout_test.cpp - the leveled layout (version.hpp, compaction_picker.hpp) at a reduced
// scale: tiny files and levels, so that a store of a few hundred thousand keys spans several
// sorted levels, each cut into many tables. Every read path (get, seeks both ways, scans over
// bounds, snapshots) is compared with a std::map model while merges run, after
// wait_for_compactions(), after compact() and after a reopen; the MANIFEST on disk is decoded,
// which checks that each sorted level is in key order with no user key in two tables.
//
// Floors: the store must reach at least 3 non-empty sorted levels and 50 tables in them, so a
// layout that silently stayed flat fails.
//
// Environment: LSMT_TEST_SEED (fixed by default, printed), LSMT_TEST_SANITIZED (fewer keys).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lsmt.hpp"
#include "lsmt/coding.hpp"
#include "lsmt/manifest.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace layout_test_cpp {

namespace {

namespace fs = std::filesystem;
using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::str_db;
using lsmt_test::temp_dir;
using model_t = std::map<std::string, std::string>;

#ifdef LSMT_TEST_SANITIZED
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif

lsmt::options tiny_levels() {
  lsmt::options o;
  o.memtable_max_bytes = 256 << 10;
  o.compaction_interval = 3;
  o.minimum_sstables = 2;
  o.target_file_size = 32 << 10;
  o.base_level_bytes = 128 << 10;
  o.level_size_ratio = 4;
  o.block_cache_bytes = 1 << 20;
  // The level shapes are checked after each round: a settle during a slow read (a sanitizer
  // build) would add a level-0 table.
  o.idle_settle_ms = 0;
  return o;
}

// Compares gets, forward and backward seeks and a bounded scan at random keys with the model.
void check_reads(const str_db& d, const model_t& model, std::mt19937_64& rng, int keys, int probes,
                 const lsmt::read_options& ro = {}) {
  auto it = d.new_iterator(ro);
  for (int i = 0; i < probes; ++i) {
    const std::string k = key_of(static_cast<int>(rng() % static_cast<uint64_t>(keys)));
    INFO("probe " << k);
    const auto m = model.find(k);
    const auto got = d.get(k, ro);
    REQUIRE(got.has_value() == (m != model.end()));
    if (got) REQUIRE(*got == m->second);
    it.seek(k);
    const auto ge = model.lower_bound(k);
    REQUIRE(it.valid() == (ge != model.end()));
    if (ge != model.end()) {
      REQUIRE(it.key() == ge->first);
      REQUIRE(it.value() == ge->second);
      it.next();  // one step on: across a table or level boundary now and then
      const auto after = std::next(ge);
      REQUIRE(it.valid() == (after != model.end()));
      if (after != model.end()) REQUIRE(it.key() == after->first);
    }
    it.seek_for_prev(k);
    auto le = model.upper_bound(k);
    REQUIRE(it.valid() == (le != model.begin()));
    if (le != model.begin()) {
      --le;
      REQUIRE(it.key() == le->first);
      it.prev();
      REQUIRE(it.valid() == (le != model.begin()));
      if (le != model.begin()) REQUIRE(it.key() == std::prev(le)->first);
    }
  }
  // A bounded range [lo, hi], as the range views cut it into segments.
  const int a = static_cast<int>(rng() % static_cast<uint64_t>(keys));
  const std::string lo = key_of(a);
  const std::string hi = key_of(a + keys / 10);
  model_t expect(model.lower_bound(lo), model.upper_bound(hi));  // range() is inclusive
  model_t got;
  for (const auto& [k, v] : d.range(lo, hi, ro)) got.emplace(k, v);
  INFO("range [" << lo << ", " << hi << "]: " << got.size() << " keys, model " << expect.size());
  REQUIRE(got == expect);
}

}  // namespace

TEST_CASE("layout: many sorted levels of many tables read like the model", "[layout]") {
  const uint64_t seed = lsmt_test::fixed_test_seed(0x1a7e5);
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  const int keys = sanitized ? 20000 : 120000;
  const int rounds = 4;
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  model_t model;
  size_t most_levels = 0;
  size_t most_sorted_tables = 0;
  {
    str_db d(dir, tiny_levels());
    for (int round = 0; round < rounds; ++round) {
      // Overwrites, deletes and new keys, in random order: every level's key range is hit.
      for (int i = 0; i < keys; ++i) {
        const std::string k = key_of(static_cast<int>(rng() % static_cast<uint64_t>(keys)));
        if (rng() % 5 == 0) {
          d.erase(k);
          model.erase(k);
        } else {
          const std::string v = std::to_string(round) + ":" + std::string(40 + rng() % 80, 'v');
          d.put(k, v);
          model[k] = v;
        }
      }
      check_reads(d, model, rng, keys, 300);  // merges may be running
      const lsmt::snapshot snap = d.get_snapshot();
      const model_t at_snapshot = model;
      d.erase(key_of(0));
      d.put(key_of(1), "after the snapshot");
      model.erase(key_of(0));
      model[key_of(1)] = "after the snapshot";
      d.wait_for_compactions();
      lsmt::read_options ro;
      ro.snap = &snap;
      check_reads(d, at_snapshot, rng, keys, 200, ro);
      check_reads(d, model, rng, keys, 300);
      const lsmt::stats st = d.stats();
      size_t levels = 0;
      size_t sorted_tables = 0;
      for (size_t l = 1; l < st.level_tables.size(); ++l) {
        levels += st.level_tables[l] > 0 ? 1 : 0;
        sorted_tables += st.level_tables[l];
      }
      CAPTURE(round, st.tables, st.level_tables[0], st.level0_trigger, levels, sorted_tables);
      // Level 0 is merged down at its trigger: compaction_interval (3), up to 4x that once
      // the bottom level is large (level_targets.hpp).
      CHECK(st.level_tables[0] < st.level0_trigger);
      most_levels = std::max(most_levels, levels);
      most_sorted_tables = std::max(most_sorted_tables, sorted_tables);
    }
    REQUIRE(dump(d) == model);
  }
  WARN("layout: " << most_levels << " sorted levels, " << most_sorted_tables
                  << " tables in them at most");
  CHECK(most_levels >= 3);
  CHECK(most_sorted_tables >= 50);

  // The MANIFEST decodes (its sorted levels are checked), and a reopen reads the same.
  const auto m = lsmt::detail::decode_manifest(lsmt_test::read_file(dir / "MANIFEST"));
  CHECK(m.tables.size() >= 50);
  str_db d(dir, tiny_levels());
  check_reads(d, model, rng, keys, 500);
  // compact() leaves one sorted level of tables of about target_file_size, no deletions.
  d.compact();
  const lsmt::stats st = d.stats();
  CHECK(st.tables == st.level_tables[6]);
  CHECK(st.tables >= 2);
  check_reads(d, model, rng, keys, 500);
  REQUIRE(dump(d) == model);
}

TEST_CASE("layout: sequential inserts move tables down without rewriting them", "[layout]") {
  temp_dir tmp;
  lsmt::options o = tiny_levels();
  str_db d(tmp.sub("db"), o);
  const int keys = sanitized ? 20000 : 60000;
  for (int i = 0; i < keys; ++i) d.put(key_of(i), std::string(60, 'x'));
  d.flush();
  d.wait_for_compactions();
  const lsmt::stats st = d.stats();
  CAPTURE(st.tables, st.flushes, st.compactions, st.table_bytes);
  // Each flush covers keys after every table's: nothing overlaps, so tables only move.
  // Were they merged, the bytes written would be a multiple of the flushed bytes.
  CHECK(st.tables >= st.flushes);
  // Per level: moves write nothing, and the bytes they bring down are counted.
  uint64_t moved_in = 0;
  CHECK(st.compaction_moves > 0);
  for (const lsmt::level_merge_stats& m : st.level_merges) {
    if (m.merges != m.moves) continue;
    CHECK(m.bytes_written == 0);
    CHECK(m.bytes_read == 0);
    moved_in += m.bytes_in;
  }
  CHECK(moved_in > 0);
  CHECK(dump(d).size() == static_cast<size_t>(keys));
}

TEST_CASE("layout: a merge into a level above the bottom cuts its files at the bottom's",
          "[layout]") {
  // The bottom level holds the even keys in files of 32 KiB; then the odd keys come through
  // level 0 and merge into the level above it (the base level: 1 MiB is more than a quarter of
  // the bottom), whose files must end where the bottom's do once they hold 16 KiB.
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  lsmt::options o = tiny_levels();
  o.compaction_interval = 2;
  o.compaction_interval_growth = 1;  // both level-0 tables merge, however large the bottom
  o.base_level_bytes = 1 << 20;
  const int keys = 30000;
  {
    str_db d(dir, o);
    for (int i = 0; i < keys; i += 2) d.put(key_of(i), std::string(100, 'e'));
    d.compact();
    for (int i = 1; i < keys; i += 24) d.put(key_of(i), std::string(100, 'o'));
    d.flush();
    for (int i = 13; i < keys; i += 24) d.put(key_of(i), std::string(100, 'o'));
    d.flush();
    d.wait_for_compactions();
    const lsmt::stats st = d.stats();
    CAPTURE(st.level_tables[0], st.level_tables[5], st.level_tables[6]);
    REQUIRE(st.level_tables[0] == 0);
    REQUIRE(st.level_tables[5] >= 4);
    REQUIRE(st.level_tables[6] >= 20);
  }
  const auto m = lsmt::detail::decode_manifest(lsmt_test::read_file(dir / "MANIFEST"));
  using lsmt::detail::extract_user_key;
  std::vector<std::string> bottom_ends;
  std::vector<lsmt::detail::table_meta> above;
  for (const auto& t : m.tables) {
    if (t.level == 6) bottom_ends.emplace_back(extract_user_key(t.largest));
    if (t.level == 5) above.push_back(t);
  }
  // Each file but the last ends at its target size, or between two files of the bottom level.
  size_t boundary_cuts = 0;
  for (size_t i = 0; i + 1 < above.size(); ++i) {
    const std::string end(extract_user_key(above[i].largest));
    const std::string next(extract_user_key(above[i + 1].smallest));
    const auto b = std::lower_bound(bottom_ends.begin(), bottom_ends.end(), end);
    const bool at_boundary = b != bottom_ends.end() && *b < next;
    CAPTURE(i, end, next, above[i].size);
    CHECK((at_boundary || above[i].size >= o.target_file_size));
    CHECK(above[i].size >= o.target_file_size / 2);
    if (at_boundary && above[i].size < o.target_file_size) ++boundary_cuts;
  }
  CHECK(boundary_cuts >= 3);
}

}  // namespace layout_test_cpp
