// tests/stats_test.cpp - db::stats(): the layout's counts per level add up to the totals, and
// the memory it reports (memtables, filters, indexes, block cache) follows what the store holds,
// with and without the last level's bloom filters (options::bottom_level_filters).
#include <cstdint>
#include <filesystem>
#include <string>

#include "lsmt.hpp"
#include "lsmt/arena.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace stats_test_cpp {

using lsmt_test::key_of;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

TEST_CASE("stats: levels add up, and memory follows what the store holds", "[stats]") {
  temp_dir tmp;
  lsmt::options o;
  o.memtable_max_bytes = 256 << 10;
  o.target_file_size = 64 << 10;
  o.base_level_bytes = 256 << 10;
  o.use_mmap_reads = GENERATE(true, false);
  o.block_cache_bytes = 1 << 20;
  CAPTURE(o.use_mmap_reads);
  str_db d(tmp.sub("db"), o);
  const lsmt::stats empty = d.stats();
  CHECK(empty.tables == 0);
  CHECK(empty.filter_bytes == 0);
  CHECK(empty.index_bytes == 0);
  CHECK(empty.block_cache_bytes == 0);
  CHECK(empty.memtable_bytes > 0);  // an empty memtable still has its arena and bloom filter

  const int keys = 20000;
  for (int i = 0; i < keys; ++i) d.put(key_of(i * 7919 % keys), std::string(100, 'v'));
  d.flush();
  d.wait_for_compactions();
  lsmt::stats st = d.stats();
  size_t tables = 0;
  uint64_t bytes = 0;
  for (size_t l = 0; l < st.level_tables.size(); ++l) {
    tables += st.level_tables[l];
    bytes += st.level_bytes[l];
  }
  CHECK(tables == st.tables);
  CHECK(bytes == st.table_bytes);
  CHECK(st.tables > st.level_tables[0]);
  // 10 bits per key: about 25,000 bytes of filters for 20,000 keys, in every table's filter.
  CHECK(st.filter_bytes >= keys * 10 / 8);
  CHECK(st.filter_bytes <= keys * 12 / 8 + 64 * st.tables);
  // One index entry per 4 KiB data block: far less than the data, more than nothing.
  CHECK(st.index_bytes > st.table_bytes / 4096 * 8);
  CHECK(st.index_bytes < st.table_bytes / 10);
  // The flushed memtables' 2 MiB arena blocks wait in the process's pool for the next ones.
  CHECK(st.memtable_pool_bytes > 0);
  CHECK(st.memtable_pool_bytes == lsmt::detail::arena_block_pool::instance().bytes());

  for (int i = 0; i < 2000; ++i) CHECK(d.get(key_of(i * 13 % keys)).has_value());
  st = d.stats();
  if (o.use_mmap_reads) {
    CHECK(st.block_cache_bytes == 0);  // mapped reads need no cache
  } else {
    CHECK(st.block_cache_bytes > 0);
    CHECK(st.block_cache_bytes <= o.block_cache_bytes);
  }
}

TEST_CASE("stats: a memtable limit below one arena block still holds many entries", "[stats]") {
  // The arena takes a 64 KiB block, then 2 MiB ones; the limit counts the bytes entries took,
  // so a 16 KiB limit flushes about every 16 KiB of entries, not after every write.
  temp_dir tmp;
  lsmt::options o;
  o.memtable_max_bytes = 16 << 10;
  str_db d(tmp.sub("db"), o);
  const int keys = 2000;
  for (int i = 0; i < keys; ++i) d.put(key_of(i), std::string(100, 'v'));  // ~250 KiB
  d.flush();
  const lsmt::stats st = d.stats();
  CHECK(st.flushes >= 10);
  CHECK(st.flushes <= 40);
  CHECK(d.get(key_of(1234)) == std::string(100, 'v'));
}

TEST_CASE("stats: bottom_level_filters false leaves the last level without filters", "[stats]") {
  temp_dir tmp;
  const int keys = 20000;
  const auto fill = [&](str_db& d, int from, int to) {
    for (int i = from; i < to; ++i) d.put(key_of(i * 7919 % keys), "v" + std::to_string(i));
  };
  const auto check_reads = [&](str_db& d, int present) {
    for (int i = 0; i < present; ++i) {
      REQUIRE(d.get(key_of(i * 7919 % keys)) == "v" + std::to_string(i));
    }
    for (int i = 0; i < 500; ++i) REQUIRE_FALSE(d.get(key_of(keys + i)).has_value());
  };
  lsmt::options o;
  o.memtable_max_bytes = 256 << 10;
  o.target_file_size = 64 << 10;
  o.base_level_bytes = 256 << 10;
  o.bottom_level_filters = GENERATE(true, false);
  CAPTURE(o.bottom_level_filters);
  {
    str_db d(tmp.sub("db"), o);
    fill(d, 0, keys / 2);
    d.compact();  // everything into the last level
    lsmt::stats st = d.stats();
    REQUIRE(st.tables > 0);
    REQUIRE(st.level_tables[6] == st.tables);
    if (o.bottom_level_filters) {
      CHECK(st.filter_bytes >= keys / 2 * 10 / 8);
    } else {
      CHECK(st.filter_bytes == 0);
    }
    const uint64_t checks = st.bloom_checks;
    check_reads(d, keys / 2);
    st = d.stats();
    if (o.bottom_level_filters) {
      CHECK(st.bloom_checks > checks);
    } else {
      CHECK(st.bloom_checks == checks);  // no filter to check in the last level
    }
    // Flushes still write filters.
    fill(d, keys / 2, keys);
    d.flush();
    st = d.stats();
    CHECK(st.level_tables[0] > 0);
    CHECK(st.filter_bytes > 0);
    check_reads(d, keys);
  }
  // A store written either way opens and reads with the other setting.
  o.bottom_level_filters = !o.bottom_level_filters;
  str_db d(tmp.sub("db"), o);
  check_reads(d, keys);
  d.compact();
  check_reads(d, keys);
  CHECK((d.stats().filter_bytes == 0) == !o.bottom_level_filters);
}

}  // namespace stats_test_cpp
