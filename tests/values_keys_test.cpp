// tests/values_keys_test.cpp - odd values and keys through a whole store: the empty value, a
// value that looks like a marker, 1 MiB values, keys with NUL and 0xFF bytes and the empty key,
// each through the memtable, flushes, compaction and a reopen.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace values_keys_test_cpp {

namespace fs = std::filesystem;
using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::opt_str;
using lsmt_test::pattern_value;
using lsmt_test::rwx_r_x;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

TEST_CASE("engine: an empty value is stored and is distinct from absent", "[engine]") {
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

TEST_CASE("engine: the value \"$tombstone\" is an ordinary value", "[engine]") {
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

TEST_CASE("engine: 1 MiB values across flushes, compaction and reopen", "[engine]") {
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

TEST_CASE("engine: keys with NUL and 0xFF bytes, and the empty key", "[engine]") {
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

TEST_CASE("engine: get(k, out) fills the caller's value, and leaves it alone if k has none",
          "[engine]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), rwx_r_x, 100, 8, 2);
  d.put("a", "alpha");
  d.put("big", pattern_value(7, 3000));
  d.put("gone", "x");
  d.erase("gone");
  d.put("ranged", "y");
  d.put("rewritten", "hidden");
  d.delete_range("r", "s");
  d.put("rewritten", "after the range deletion");
  const lsmt::snapshot before = d.get_snapshot();
  d.put("a", "alpha 2");
  lsmt::read_options at_before;
  at_before.snap = &before;

  for (const char* where : {"memtable", "table"}) {
    INFO(where);
    std::string out = "kept";
    CHECK_FALSE(d.get("absent", out));
    CHECK_FALSE(d.get("gone", out));
    CHECK_FALSE(d.get("ranged", out));
    CHECK(out == "kept");
    // Covered by the range deletion, but written again after it.
    REQUIRE(d.get("rewritten", out));
    CHECK(out == "after the range deletion");
    out = "kept";
    d.erase("rewritten");  // a point deletion newer than the range deletion
    CHECK_FALSE(d.get("rewritten", out));
    CHECK(out == "kept");
    d.put("rewritten", "after the range deletion");
    REQUIRE(d.get("a", out));
    CHECK(out == "alpha 2");
    REQUIRE(d.get("a", out, at_before));
    CHECK(out == "alpha");
    REQUIRE(d.get("big", out));
    CHECK(out == pattern_value(7, 3000));
    // A value that fits goes into the memory out already has.
    const char* const buffer = out.data();
    REQUIRE(d.get("a", out));
    CHECK(out == "alpha 2");
    CHECK(out.data() == buffer);
    REQUIRE(d.get("big", out));
    CHECK(out.data() == buffer);
    d.flush();
  }

  // A value type with a codec of its own is decoded into out.
  lsmt::db<std::string, std::vector<uint8_t>> typed(tmp.sub("typed"), rwx_r_x, 100, 8, 2);
  typed.put("k", std::vector<uint8_t>{1, 2, 3});
  std::vector<uint8_t> bytes{9};
  CHECK_FALSE(typed.get("other", bytes));
  CHECK(bytes == std::vector<uint8_t>{9});
  REQUIRE(typed.get("k", bytes));
  CHECK(bytes == std::vector<uint8_t>{1, 2, 3});
}

TEST_CASE(
    "engine: get(k, out) without range deletions reads into out and leaves it alone on a miss",
    "[engine]") {
  // With no range deletion in the store, get(k, out) reads the value straight into out (no
  // buffer in between), so a lookup must write out only for the value it returns: not for an
  // absent key, a deletion it meets first, or a key written after the snapshot.
  temp_dir tmp;
  str_db d(tmp.sub("db"), rwx_r_x, 100, 8, 2);
  d.put("old", "o1");
  d.put("gone", pattern_value(5, 3000));
  const lsmt::snapshot before = d.get_snapshot();
  d.erase("gone");
  d.put("new", "n1");
  lsmt::read_options at_before;
  at_before.snap = &before;

  for (const char* where : {"memtable", "tables"}) {
    INFO(where);
    std::string out = "kept";
    CHECK_FALSE(d.get("absent", out));
    CHECK_FALSE(d.get("gone", out));  // the deletion is newer than the value below it
    CHECK_FALSE(d.get("new", out, at_before));
    CHECK(out == "kept");
    REQUIRE(d.get("gone", out, at_before));
    CHECK(out == pattern_value(5, 3000));
    REQUIRE(d.get("old", out));
    CHECK(out == "o1");
    d.flush();
  }
  // The deletion and the value it hides in separate tables (level 0, newest first).
  d.put("split", "s1");
  d.flush();
  d.erase("split");
  d.flush();
  std::string out = "kept";
  CHECK_FALSE(d.get("split", out));
  CHECK(out == "kept");
}

TEST_CASE("transaction: get(k, out) reads own writes over the snapshot, and records the read",
          "[transaction]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), rwx_r_x, 100, 8, 2);
  d.put("stored", "s1");
  d.put("erased", "e1");
  d.put("big", pattern_value(3, 2000));
  d.flush();
  auto t = d.begin_transaction();
  d.put("stored", "s2");  // after the snapshot: the transaction does not see it
  t.put("own", "o1");
  t.erase("erased");

  std::string out = "kept";
  CHECK_FALSE(t.get("absent", out));
  CHECK_FALSE(t.get("erased", out));  // the transaction's own erase hides the stored value
  CHECK(out == "kept");
  REQUIRE(t.get("own", out));
  CHECK(out == "o1");
  REQUIRE(t.get("big", out));
  CHECK(out == pattern_value(3, 2000));
  const char* const buffer = out.data();
  REQUIRE(t.get("stored", out));
  CHECK(out == "s1");
  CHECK(out.data() == buffer);  // a value that fits goes into out's memory
  CHECK(t.get("stored") == std::optional<std::string>("s1"));  // both forms agree

  // The read of "stored" is checked at commit: another writer changed it after the snapshot.
  CHECK_THROWS_AS(t.commit(), lsmt::conflict_error);
  CHECK(d.get("own") == std::nullopt);

  // A read through get(k, out) alone records the key too.
  auto u = d.begin_transaction();
  REQUIRE(u.get("big", out));
  d.put("big", "changed");
  u.put("other", "x");
  CHECK_THROWS_AS(u.commit(), lsmt::conflict_error);
  CHECK_THROWS_AS(u.get("big", out), lsmt::invalid_argument_error);  // finished

  // A value type with a codec of its own is decoded into out.
  lsmt::db<std::string, std::vector<uint8_t>> typed(tmp.sub("typed"), rwx_r_x, 100, 8, 2);
  typed.put("k", std::vector<uint8_t>{1, 2, 3});
  auto v = typed.begin_transaction();
  std::vector<uint8_t> bytes{9};
  CHECK_FALSE(v.get("other", bytes));
  CHECK(bytes == std::vector<uint8_t>{9});
  REQUIRE(v.get("k", bytes));
  CHECK(bytes == std::vector<uint8_t>{1, 2, 3});
  v.commit();
}

}  // namespace values_keys_test_cpp
