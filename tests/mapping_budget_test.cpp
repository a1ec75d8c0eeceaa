// tests/mapping_budget_test.cpp - options::max_mapped_bytes: the bytes of mapped tables never
// exceed it, tables past it are read with pread and give the same answers, and a table's bytes
// go back to the budget when its file closes (not before: an iterator may still read it), and a
// table read with pread is mapped by a later read once the budget has room for it.
#include "lsmt/mapping_budget.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lsmt.hpp"
#include "memory_file.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace mapping_budget_test_cpp {

using lsmt::detail::charged_file;
using lsmt::detail::mapping_budget;
using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::pattern_value;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

TEST_CASE("mapping budget: takes only what fits, and a charged file gives it back", "[mmap]") {
  auto budget = std::make_shared<mapping_budget>(100);
  CHECK(budget->try_take(60));
  CHECK_FALSE(budget->try_take(41));  // 101 > 100: nothing taken
  CHECK(budget->used() == 60);
  CHECK(budget->try_take(40));
  CHECK_FALSE(budget->try_take(1));
  budget->give_back(40);
  CHECK_FALSE(budget->try_take(0));  // an empty file is never mapped
  CHECK_FALSE(budget->try_take(UINT64_MAX));
  CHECK(budget->used() == 60);
  CHECK(budget->has_room(40));
  CHECK_FALSE(budget->has_room(41));
  CHECK_FALSE(budget->has_room(0));
  CHECK_FALSE(budget->has_room(UINT64_MAX));
  {
    CHECK(budget->try_take(30));
    charged_file f(std::make_unique<lsmt_test::memory_readable_file>(std::string(30, 'x'), true),
                   budget, 30);
    CHECK(f.is_mapped());
    CHECK(f.size() == 30);
    CHECK(f.read(28, 10, nullptr) == "xx");
    CHECK(budget->used() == 90);
  }
  CHECK(budget->used() == 60);
}

namespace {

lsmt::options small_tables(uint64_t max_mapped) {
  lsmt::options o;
  o.memtable_max_bytes = 64 << 10;
  o.target_file_size = 32 << 10;
  o.base_level_bytes = 128 << 10;
  o.block_cache_bytes = 64 << 10;
  o.max_mapped_bytes = max_mapped;
  return o;
}

void fill(str_db& d, std::map<std::string, std::string>& model, int n, uint32_t seed) {
  for (int i = 0; i < n; ++i) {
    const int k = static_cast<int>((static_cast<uint32_t>(i) * 7919u + seed) % 6000u);
    std::string v = pattern_value(seed + static_cast<uint32_t>(i), 60 + k % 90);
    d.put(key_of(k), v);
    model[key_of(k)] = std::move(v);
  }
}

void check_reads(const str_db& d, const std::map<std::string, std::string>& model) {
  CHECK(dump(d) == model);
  for (int k = 0; k < 6000; k += 7) {
    const auto it = model.find(key_of(k));
    const auto got = d.get(key_of(k));
    if (it == model.end()) {
      CHECK_FALSE(got.has_value());
    } else {
      REQUIRE(got.has_value());
      CHECK(*got == it->second);
    }
  }
}

}  // namespace

TEST_CASE("mapping budget: a store maps at most max_mapped_bytes and preads the rest", "[mmap]") {
  temp_dir tmp;
  const uint64_t cap = GENERATE(uint64_t{0}, uint64_t{100} << 10, UINT64_MAX);
  CAPTURE(cap);
  std::map<std::string, std::string> model;
  {
    str_db d(tmp.sub("db"), small_tables(cap));
    for (uint32_t round = 0; round < 6; ++round) {
      fill(d, model, 3000, round * 1000);
      const lsmt::stats st = d.stats();
      CHECK(st.mapped_bytes <= cap);
      check_reads(d, model);
    }
    d.flush();
    d.wait_for_compactions();
    const lsmt::stats st = d.stats();
    REQUIRE(st.tables > 4);
    CHECK(st.mapped_bytes <= cap);
    CHECK(st.mapped_bytes <= st.table_bytes);  // deleted tables gave their bytes back
    if (cap == 0) CHECK(st.mapped_bytes == 0);
    if (cap == UINT64_MAX) CHECK(st.mapped_bytes == st.table_bytes);
    if (cap == uint64_t{100} << 10) {
      CHECK(st.table_bytes > cap);  // so some tables are read with pread...
      CHECK(st.mapped_bytes > 0);   // ...and some through maps
    }
    check_reads(d, model);
  }
  // Reopened: the MANIFEST's tables are opened within the same cap.
  str_db d(tmp.sub("db"), small_tables(cap));
  CHECK(d.stats().mapped_bytes <= cap);
  check_reads(d, model);
}

TEST_CASE("mapping budget: a retired table keeps its bytes while an iterator reads it", "[mmap]") {
  temp_dir tmp;
  std::map<std::string, std::string> model;
  str_db d(tmp.sub("db"), small_tables(UINT64_MAX));
  fill(d, model, 4000, 1);
  d.flush();
  d.wait_for_compactions();
  const uint64_t before = d.stats().mapped_bytes;
  REQUIRE(before == d.stats().table_bytes);
  {
    auto it = d.new_iterator();
    it.seek_to_first();
    REQUIRE(it.valid());
    const std::map<std::string, std::string> old = model;
    fill(d, model, 4000, 77);
    d.compact();  // replaces every table the iterator's version holds
    const lsmt::stats st = d.stats();
    // The iterator's tables are still mapped (it reads them), beside the new ones.
    CHECK(st.mapped_bytes > st.table_bytes);
    std::map<std::string, std::string> seen;
    for (; it.valid(); it.next()) seen.emplace(it.key(), it.value());
    CHECK(seen == old);
  }
  const lsmt::stats st = d.stats();
  CHECK(st.mapped_bytes == st.table_bytes);  // given back once the iterator let go
  check_reads(d, model);
}

TEST_CASE("mapping budget: a table opened for pread is mapped by a read once there is room",
          "[mmap]") {
  temp_dir tmp;
  std::map<std::string, std::string> model;
  uint64_t first_bytes = 0;
  {
    str_db d(tmp.sub("db"), small_tables(UINT64_MAX));
    fill(d, model, 4000, 1);
    d.compact();
    first_bytes = d.stats().table_bytes;
  }
  // Room for the store, but not for it and its replacement at once.
  const uint64_t cap = first_bytes + first_bytes / 2;
  str_db d(tmp.sub("db"), small_tables(cap));
  REQUIRE(d.stats().mapped_bytes == first_bytes);
  {
    auto it = d.new_iterator();  // holds the first tables, and their charge, open
    it.seek_to_first();
    fill(d, model, 4000, 77);
    d.compact();  // its tables open while the first ones hold their charge: some cannot map
  }
  const lsmt::stats before = d.stats();
  CHECK(before.mapped_bytes <= cap);
  REQUIRE(before.table_bytes <= cap);
  REQUIRE(before.mapped_bytes < before.table_bytes);  // some tables are read with pread
  // An iterator made before the mapping goes on across it (checked at the end).
  auto it = d.new_iterator();
  it.seek_to_first();
  REQUIRE(it.valid());
  // Two threads read every key: the first read of a table with room maps it, once.
  std::atomic<int> wrong{0};
  const auto reader = [&](int offset) {
    for (int k = offset; k < 6000; k += 2) {
      const auto want = model.find(key_of(k));
      const auto got = d.get(key_of(k));
      if (want == model.end() ? got.has_value() : (!got || *got != want->second)) ++wrong;
    }
  };
  std::thread a(reader, 0);
  std::thread b(reader, 1);
  a.join();
  b.join();
  CHECK(wrong.load() == 0);
  const lsmt::stats after = d.stats();
  CHECK(after.mapped_bytes == after.table_bytes);
  std::map<std::string, std::string> seen;
  for (; it.valid(); it.next()) seen.emplace(it.key(), it.value());
  CHECK(seen == model);
  check_reads(d, model);
}

}  // namespace mapping_budget_test_cpp
