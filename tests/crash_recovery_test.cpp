// tests/crash_recovery_test.cpp - a store reopens with everything it promised after what a
// process crash (a forked child that exits with the store open), a power loss (WAL files cut
// short or missing) or an older lsmt (a version 1 or 2 MANIFEST) left in its directory.
//
// The exhaustive versions of these checks, on a simulated file system, are in
// crash_points_test.cpp; kill_test.cpp and batch_crash_test.cpp kill real processes.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "lsmt.hpp"
#include "lsmt/manifest.hpp"
#include "lsmt/wal.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace crash_recovery_test_cpp {

namespace fs = std::filesystem;
using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::opt_str;
using lsmt_test::rwx_r_x;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

TEST_CASE("crash: acknowledged writes survive a process crash", "[crash]") {
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

TEST_CASE("crash: a crash right after open, and with nothing written, recovers", "[crash]") {
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
  lsmt::detail::log_writer w(fsys->new_writable_file((dir / name).string()), number);
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

TEST_CASE("crash: a WAL cut short by a power loss drops every later WAL", "[crash]") {
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
  if (what != "intact") {
    // Not a torn last record: absolute_consistency refuses, and changes nothing.
    lsmt::options strict;
    strict.recovery_mode = lsmt::recovery_mode::absolute_consistency;
    CHECK_THROWS_AS(str_db(dir, strict), lsmt::corruption_error);
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    str_db d(dir, rwx_r_x, 100, 4, 2);
    const auto all = dump(d);
    CHECK(all.size() == static_cast<size_t>(expected) + (reopen == 1 ? 1 : 0));
    for (int i = 0; i < expected; ++i) CHECK(all.count(key_of(i)) == 1);
    // point_in_time reports what it dropped; the reopen after it has nothing to report.
    CHECK(d.recovery().clean() == (what == "intact" || reopen == 1));
    uint64_t dropped_logs = 0;
    if (reopen == 0 && what != "intact") dropped_logs = what == "middle cut" ? 1 : 2;
    CHECK(d.recovery().dropped_logs == dropped_logs);
    if (reopen == 0) d.put("after", "recovery");  // the dropped logs stay dropped
    if (reopen == 1) CHECK(d.get("after") == opt_str("recovery"));
  }
}

TEST_CASE("crash: a log whose creation failed is skipped by the chain of logs", "[crash]") {
  // Log 2 was created but its header never got whole (a failed or crashed rotation); the writer
  // went on with log 3, which links to log 1. Nothing is lost or reported.
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  fs::create_directories(dir);
  const uint64_t size1 = write_wal(dir, 1, std::nullopt, 0, 10, 1);
  lsmt_test::write_file(dir / "000002.log", lsmt::detail::encode_log_header(2, 0).substr(0, 16));
  write_wal(dir, 3, lsmt::detail::log_link{1, size1}, 10, 20, 11);
  lsmt::options strict;
  strict.recovery_mode = lsmt::recovery_mode::absolute_consistency;
  str_db d(dir, strict);
  CHECK(d.recovery().clean());
  CHECK(d.recovery().logs_replayed == 2);
  CHECK(dump(d).size() == 20);
}

TEST_CASE("crash: a later log without a link or with a wrong link is damage", "[crash]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  fs::create_directories(dir);
  const uint64_t size1 = write_wal(dir, 1, std::nullopt, 0, 10, 1);
  const std::string what = GENERATE("no link", "link to a missing log", "link with a wrong size");
  CAPTURE(what);
  std::optional<lsmt::detail::log_link> link;
  if (what == "link to a missing log") link = lsmt::detail::log_link{2, size1};
  if (what == "link with a wrong size") link = lsmt::detail::log_link{1, size1 + 9};
  write_wal(dir, 3, link, 10, 20, 11);
  lsmt::options strict;
  strict.recovery_mode = lsmt::recovery_mode::absolute_consistency;
  CHECK_THROWS_AS(str_db(dir, strict), lsmt::corruption_error);
  str_db d(dir, rwx_r_x, 100, 4, 2);
  REQUIRE(d.recovery().damage.size() == 1);
  CHECK(d.recovery().dropped_logs == 1);
  CHECK(dump(d).size() == 10);  // log 1 only
}

TEST_CASE("crash: logs the MANIFEST no longer needs are removed at open", "[crash]") {
  // A crash between writing a MANIFEST and removing the logs it covers leaves them behind.
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  { str_db d(dir, rwx_r_x, 100, 4, 2); }
  { str_db d(dir, rwx_r_x, 100, 4, 2); }  // the MANIFEST now needs a log numbered above 1
  write_wal(dir, 1, std::nullopt, 0, 10, 1);
  str_db d(dir, rwx_r_x, 100, 4, 2);
  CHECK(d.recovery().clean());
  CHECK(d.recovery().batches_replayed == 0);
  CHECK(dump(d).empty());
  CHECK_FALSE(fs::exists(dir / "000001.log"));
}

TEST_CASE("manifest: a store with a version 1 or 2 MANIFEST is refused by name", "[manifest]") {
  // Versions 1 and 2 had logs without headers and tables without identity (manifest.hpp).
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    str_db d(dir, rwx_r_x, 4, 4, 2);
    for (int i = 0; i < 10; ++i) d.put(key_of(i), "v" + std::to_string(i));
  }
  const std::string bytes = lsmt_test::read_file(dir / "MANIFEST");
  REQUIRE(lsmt::detail::decode_fixed32(bytes.data() + 8) == 4);
  for (uint32_t version : {1u, 2u}) {
    std::string old = bytes;
    lsmt::detail::encode_fixed32(&old[8], version);  // outside the checksummed payload
    lsmt_test::write_file(dir / "MANIFEST", old);
    try {
      str_db d(dir, rwx_r_x, 4, 4, 2);
      FAIL("opened a version " << version << " store");
    } catch (const lsmt::corruption_error& e) {
      CHECK(std::string(e.what()).find("written by an older lsmt") != std::string::npos);
    }
  }
  lsmt_test::write_file(dir / "MANIFEST", bytes);
  str_db d(dir, rwx_r_x, 4, 4, 2);
  CHECK(dump(d).size() == 10);
}

TEST_CASE("manifest: a store with a version 3 MANIFEST opens and moves to version 4",
          "[manifest]") {
  // Version 3 had no levels: its tables overlapped, newest first, as level 0's do. A version 4
  // list in level order is a valid version 3 list (deeper levels hold older data).
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  lsmt::options o;
  o.memtable_max_entries = 40;
  o.target_file_size = 64 << 10;
  std::map<std::string, std::string> model;
  {
    str_db d(dir, o);
    for (int i = 0; i < 3000; ++i) {
      const std::string k = key_of((i * 7919) % 1000);
      const std::string v = "v" + std::to_string(i) + std::string(100, 'x');
      d.put(k, v);
      model[k] = v;
    }
    d.wait_for_compactions();
    REQUIRE(d.stats().tables > d.stats().level_tables[0]);  // sorted levels hold tables
  }
  const lsmt::detail::manifest_state m =
      lsmt::detail::decode_manifest(lsmt_test::read_file(dir / "MANIFEST"));
  std::string payload;
  lsmt::detail::put_varint64(payload, m.next_file_number);
  lsmt::detail::put_varint64(payload, m.last_sequence);
  lsmt::detail::put_varint64(payload, m.log_number);
  lsmt::detail::put_fixed64(payload, m.store_id);
  lsmt::detail::put_varint32(payload, static_cast<uint32_t>(m.tables.size()));
  for (const auto& t : m.tables) {
    lsmt::detail::put_varint64(payload, t.number);
    lsmt::detail::put_varint64(payload, t.size);
    lsmt::detail::put_varint64(payload, t.entries);
    lsmt::detail::put_length_prefixed(payload, t.smallest);
    lsmt::detail::put_length_prefixed(payload, t.largest);
  }
  std::string v3;
  lsmt::detail::put_fixed64(v3, lsmt::detail::manifest_magic);
  lsmt::detail::put_fixed32(v3, 3);
  lsmt::detail::put_fixed32(v3, static_cast<uint32_t>(payload.size()));
  v3 += payload;
  lsmt::detail::put_fixed32(
      v3, lsmt::detail::crc32c::mask(lsmt::detail::crc32c::value(payload.data(), payload.size())));
  lsmt_test::write_file(dir / "MANIFEST", v3);
  {
    lsmt::options strict = o;
    strict.recovery_mode = lsmt::recovery_mode::absolute_consistency;
    str_db d(dir, strict);
    CHECK(d.recovery().clean());
    CHECK(dump(d) == model);
    d.put("after", "upgrade");
    model["after"] = "upgrade";
    d.wait_for_compactions();
    CHECK(dump(d) == model);
  }
  CHECK(lsmt::detail::decode_fixed32(lsmt_test::read_file(dir / "MANIFEST").data() + 8) == 4);
  str_db d(dir, o);
  CHECK(dump(d) == model);
}

}  // namespace crash_recovery_test_cpp
