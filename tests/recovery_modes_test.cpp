// tests/recovery_modes_test.cpp - what opening does with each kind of damage to a store's logs
// and tables (log_replay.hpp, table_format.hpp "Identity", options::recovery_mode): the damage
// no crash explains is reported by db::recovery() and the logger in point_in_time mode, which
// keeps the writes before it, and is a corruption_error in absolute_consistency mode; a damaged
// or misplaced table is a corruption_error in both. One test per kind of damage.
//
// Also tested elsewhere: an older log cut short (crash_recovery_test.cpp, "a WAL cut short"),
// byte-by-byte damage to a log (corruption_test.cpp, wal_test.cpp).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lsmt.hpp"
#include "lsmt/crc32c.hpp"
#include "lsmt/table_format.hpp"
#include "lsmt/wal.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace recovery_modes_test_cpp {

namespace {

namespace fs = std::filesystem;
using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::opt_str;
using lsmt_test::read_file;
using lsmt_test::str_db;
using lsmt_test::temp_dir;
using lsmt_test::write_file;

lsmt::options mode_options(lsmt::recovery_mode mode, bool sync = false) {
  lsmt::options o;
  o.recovery_mode = mode;
  o.sync = sync;
  return o;
}
constexpr auto point_in_time = lsmt::recovery_mode::point_in_time;
constexpr auto absolute = lsmt::recovery_mode::absolute_consistency;

/// The files of dir with the given extension, sorted by name.
std::vector<fs::path> files_of(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ext) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// The one log of a store closed with `n` puts in its memtable (keys 0..n-1), and the offset of
/// each put's record.
struct store_with_log {
  temp_dir tmp;
  fs::path dir = tmp.sub("db");
  fs::path log;
  std::vector<uint64_t> record_offsets;

  store_with_log(int n, bool sync) {
    {
      str_db d(dir, mode_options(point_in_time, sync));
      for (int i = 0; i < n; ++i) d.put(key_of(i), "v" + std::to_string(i));
    }
    const auto logs = files_of(dir, ".log");
    REQUIRE(logs.size() == 1);
    log = logs[0];
    const std::string bytes = read_file(log);
    for (size_t off = lsmt::detail::log_header_size; off < bytes.size();) {
      record_offsets.push_back(off);
      off += lsmt::detail::log_record_header_size + lsmt::detail::decode_fixed32(&bytes[off + 4]);
    }
    REQUIRE(record_offsets.size() == static_cast<size_t>(n));
  }

  void flip(uint64_t offset) const {
    std::string bytes = read_file(log);
    bytes[offset] = static_cast<char>(bytes[offset] ^ 0x20);
    write_file(log, bytes);
  }
};

/// Opens in absolute_consistency mode (must throw corruption_error), then in point_in_time mode
/// (must open, report damage and the logger must hear of it); returns the point_in_time state.
std::map<std::string, std::string> expect_reported_damage(const fs::path& dir) {
  CHECK_THROWS_AS(str_db(dir, mode_options(absolute)), lsmt::corruption_error);
  std::vector<std::string> errors;
  lsmt::options o = mode_options(point_in_time);
  o.logger = [&](lsmt::log_level level, std::string_view message) {
    if (level == lsmt::log_level::error) errors.emplace_back(message);
  };
  str_db d(dir, o);
  CHECK_FALSE(d.recovery().clean());
  CHECK(errors.size() == d.recovery().damage.size());
  return dump(d);
}

std::map<std::string, std::string> keys_below(int n) {
  std::map<std::string, std::string> m;
  for (int i = 0; i < n; ++i) m[key_of(i)] = "v" + std::to_string(i);
  return m;
}

}  // namespace

TEST_CASE("recovery: a torn last record is dropped quietly in both modes", "[recovery]") {
  const auto mode = GENERATE(absolute, point_in_time);
  const store_with_log s(10, false);
  fs::resize_file(s.log, fs::file_size(s.log) - 3);
  str_db d(s.dir, mode_options(mode));
  CHECK(d.recovery().clean());
  CHECK(d.recovery().torn_tail_bytes > 0);
  CHECK(d.recovery().logs_replayed == 1);
  CHECK(d.recovery().batches_replayed == 9);
  CHECK(dump(d) == keys_below(9));
}

TEST_CASE("recovery: a flipped bit in the last synced write is damage", "[recovery]") {
  const store_with_log s(10, true);
  s.flip(s.record_offsets.back() + 12);  // inside the payload of the last (synced) batch
  CHECK(expect_reported_damage(s.dir) == keys_below(9));
}

TEST_CASE("recovery: a synced log cut short in the middle is damage", "[recovery]") {
  const store_with_log s(10, true);
  fs::resize_file(s.log, s.record_offsets[5] + 4);
  CHECK(expect_reported_damage(s.dir) == keys_below(5));
}

TEST_CASE("recovery: damage in an unsynced log followed by whole records is damage", "[recovery]") {
  const store_with_log s(10, false);
  s.flip(s.record_offsets[4] + 12);
  CHECK(expect_reported_damage(s.dir) == keys_below(4));
}

TEST_CASE("recovery: a missing log that the MANIFEST needs is damage", "[recovery]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    str_db d(dir);
    d.put("flushed", "1");
    d.flush();
    d.put("in the log", "2");
  }
  const auto logs = files_of(dir, ".log");
  REQUIRE(logs.size() == 1);
  fs::remove(logs[0]);
  const auto state = expect_reported_damage(dir);
  CHECK(state == std::map<std::string, std::string>{{"flushed", "1"}});
}

TEST_CASE("recovery: a log record with a valid checksum and sequence 2^56 is damage",
          "[recovery]") {
  const store_with_log s(3, false);
  lsmt::detail::raw_batch b;
  b.put("late", "x");
  b.set_sequence(uint64_t{1} << 56);
  std::string record(9, '\0');
  lsmt::detail::encode_fixed32(&record[4], static_cast<uint32_t>(b.rep().size()));
  record[8] = static_cast<char>(lsmt::detail::log_record_type::batch);
  record += b.rep();
  lsmt::detail::encode_fixed32(&record[0], lsmt::detail::crc32c::mask(lsmt::detail::crc32c::value(
                                               record.data() + 4, record.size() - 4)));
  write_file(s.log, read_file(s.log) + record);
  CHECK(expect_reported_damage(s.dir) == keys_below(3));
  // point_in_time wrote a consistent store: it opens again, in either mode, with the same keys.
  str_db d(s.dir, mode_options(absolute));
  CHECK(d.recovery().clean());
  CHECK(dump(d) == keys_below(3));
  d.put("more", "y");
  CHECK(d.get("more") == opt_str("y"));
}

namespace {

/// A closed store with two tables (keys 0..49 and 50..99), and their paths.
struct store_with_tables {
  temp_dir tmp;
  fs::path dir;
  std::vector<fs::path> tables;
  explicit store_with_tables(const std::string& name = "db") : dir(tmp.sub(name)) {
    str_db d(dir);
    for (int i = 0; i < 50; ++i) d.put(key_of(i), "v" + std::to_string(i));
    d.flush();
    for (int i = 50; i < 100; ++i) d.put(key_of(i), "v" + std::to_string(i));
    d.flush();
    d.close();
    tables = files_of(dir, ".sst");
    REQUIRE(tables.size() == 2);
  }
};

void expect_table_corruption(const fs::path& dir, const std::string& what) {
  for (const auto mode : {point_in_time, absolute}) {
    try {
      str_db d(dir, mode_options(mode));
      FAIL("opened");
    } catch (const lsmt::corruption_error& e) {
      CHECK(std::string(e.what()).find(what) != std::string::npos);
    }
  }
}

}  // namespace

TEST_CASE("recovery: two swapped tables are a corruption_error at open", "[recovery]") {
  const store_with_tables s;
  const fs::path tmp = s.dir / "swap";
  fs::rename(s.tables[0], tmp);
  fs::rename(s.tables[1], s.tables[0]);
  fs::rename(tmp, s.tables[1]);
  // Equal sizes would leave the footer's number to catch it; sizes are checked first.
  expect_table_corruption(s.dir, "table '");
}

TEST_CASE("recovery: a table renamed over another of the same size is caught by its footer",
          "[recovery]") {
  const store_with_tables s;
  const std::string a = read_file(s.tables[0]);
  std::string b = read_file(s.tables[1]);
  b.resize(a.size(), '\0');  // the same size as table a: only the footer can tell them apart
  const std::string footer = a.substr(a.size() - lsmt::detail::footer_size);
  // Table b's footer, moved to the end of a file of table a's size.
  const std::string b_footer =
      read_file(s.tables[1]).substr(read_file(s.tables[1]).size() - lsmt::detail::footer_size);
  b.replace(b.size() - lsmt::detail::footer_size, lsmt::detail::footer_size, b_footer);
  write_file(s.tables[0], b);
  expect_table_corruption(s.dir, "footer says it is table");
}

TEST_CASE("recovery: a truncated or extended table is a corruption_error at open", "[recovery]") {
  const store_with_tables s;
  const auto size = fs::file_size(s.tables[1]);
  SECTION("truncated") { fs::resize_file(s.tables[1], size - 1); }
  SECTION("extended") { fs::resize_file(s.tables[1], size + 1); }
  expect_table_corruption(s.dir, "bytes, but the MANIFEST says");
}

TEST_CASE("recovery: a table from another store is a corruption_error at open", "[recovery]") {
  // Two stores with the same writes have tables of the same numbers and bytes, but for their
  // store ids.
  const store_with_tables a("a");
  const store_with_tables b("b");
  REQUIRE(a.tables[0].filename() == b.tables[0].filename());
  REQUIRE(fs::file_size(a.tables[0]) == fs::file_size(b.tables[0]));
  fs::copy_file(b.tables[0], a.tables[0], fs::copy_options::overwrite_existing);
  expect_table_corruption(a.dir, "belongs to another store");
}

}  // namespace recovery_modes_test_cpp
