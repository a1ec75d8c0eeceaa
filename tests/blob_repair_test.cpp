// tests/blob_repair_test.cpp - lsmt::repair() of a store that keeps values in blob files
// (options::blob_min_size): every value it can read is written again, into new blob files or
// tables as the options say; a value it cannot read from any copy is lost, its key deleted
// rather than an older version brought back, and the report and lost/ say so.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "blob_util.hpp"
#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace blob_repair_test_cpp {

namespace fs = std::filesystem;
using lsmt_test::damage_byte;
using lsmt_test::dump;
using lsmt_test::files_with;
using lsmt_test::key_of;
using lsmt_test::pattern_value;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

namespace {

lsmt::options blob_options() {
  lsmt::options o;
  o.memtable_max_bytes = 64 << 10;
  o.compaction_interval = 3;
  o.target_file_size = 16 << 10;
  o.idle_settle_ms = 0;
  o.blob_min_size = 100;
  return o;
}

// A store of 400 keys, each overwritten a few times, half of the values in blob files.
std::map<std::string, std::string> fill(const std::string& dir) {
  std::map<std::string, std::string> model;
  std::mt19937 rng(41);
  str_db d(dir, blob_options());
  for (int i = 0; i < 1600; ++i) {
    const std::string k = key_of(static_cast<int>(rng() % 400));
    model[k] = pattern_value(static_cast<uint32_t>(rng()), rng() % 2 == 0 ? 50 : 300);
    d.put(k, model[k]);
  }
  d.flush();
  d.wait_for_compactions();
  return model;
}

}  // namespace

TEST_CASE("blob repair: a lost MANIFEST; every value comes back, in new blob files",
          "[blob_store][repair]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const auto model = fill(dir);
  const std::vector<std::string> old_blobs = files_with(dir, ".blob");
  REQUIRE(!old_blobs.empty());
  fs::remove(fs::path(dir) / "MANIFEST");
  const lsmt::repair_report r = lsmt::repair(dir, blob_options());
  CHECK(r.ok());  // a missing MANIFEST loses nothing: every table and blob file is read
  const std::vector<std::string> new_blobs = files_with(dir, ".blob");
  CHECK(!new_blobs.empty());
  for (const std::string& b : old_blobs) CHECK(!fs::exists(b));  // written again, then deleted
  str_db d(dir, blob_options());
  CHECK(dump(d) == model);
  CHECK(d.verify().ok());
}

TEST_CASE("blob repair: without blob_min_size, the values go into the tables",
          "[blob_store][repair]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const auto model = fill(dir);
  lsmt::options plain = blob_options();
  plain.blob_min_size = 0;
  const lsmt::repair_report r = lsmt::repair(dir, plain);
  CHECK(r.ok());
  CHECK(files_with(dir, ".blob").empty());
  str_db d(dir, plain);
  CHECK(dump(d) == model);
}

TEST_CASE("blob repair: a damaged record loses its value, not the store; its key is deleted",
          "[blob_store][repair]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const std::string old_value = pattern_value(1, 500);
  const std::string new_value = pattern_value(2, 500);
  lsmt::options o = blob_options();
  o.compaction_interval = 100;  // the versions stay in two tables
  {
    str_db d(dir, o);
    d.put("a", old_value);
    d.put("k", old_value);
    d.flush();
    d.put("k", new_value);
    d.put("z", new_value);
    d.flush();
  }
  const std::vector<std::string> blobs = files_with(dir, ".blob");
  REQUIRE(blobs.size() == 2);
  {
    // The second file holds k's newer version, then z's: damage k's record.
    damage_byte(blobs[1], 32 + 100);  // past the 32-byte header, inside the first record
  }
  const lsmt::repair_report r = lsmt::repair(dir, o);
  REQUIRE(r.lost.size() == 1);
  const std::string name = fs::path(blobs[1]).filename().string();
  INFO(r.lost[0]);
  CHECK(r.lost[0].find(name) != std::string::npos);
  CHECK(r.lost[0].find("1 values could not be read") != std::string::npos);
  CHECK(fs::exists(fs::path(dir) / "lost" / name));  // kept for a closer look
  CHECK(!fs::exists(blobs[0]));                      // read whole, written again
  str_db d(dir, o);
  CHECK(d.get("a") == old_value);
  CHECK(!d.get("k").has_value());  // neither the lost value nor the older one
  CHECK(d.get("z") == new_value);
  CHECK(d.verify().ok());
}

TEST_CASE("blob repair: a missing blob file loses its values; a foreign one is not read",
          "[blob_store][repair]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const std::string other = tmp.sub("other");
  const std::string value = pattern_value(5, 500);
  {
    str_db d(dir, blob_options());
    d.put("k", value);
    d.put("small", "v");
    d.flush();
    str_db e(other, blob_options());
    e.put("k", value);
    e.flush();
  }
  const std::vector<std::string> blobs = files_with(dir, ".blob");
  REQUIRE(blobs.size() == 1);
  std::string why = "the blob file is missing";
  SECTION("missing") { fs::remove(blobs[0]); }
  SECTION("foreign") {
    // Another store's blob file, renamed to this one's number: it names another store.
    const std::vector<std::string> foreign = files_with(other, ".blob");
    REQUIRE(foreign.size() == 1);
    fs::copy_file(foreign[0], blobs[0], fs::copy_options::overwrite_existing);
    why = "belongs to another store";
  }
  const lsmt::repair_report r = lsmt::repair(dir, blob_options());
  REQUIRE(r.lost.size() == 1);
  INFO(r.lost[0]);
  CHECK(r.lost[0].find("1 values could not be read") != std::string::npos);
  CHECK(r.lost[0].find(why) != std::string::npos);
  str_db d(dir, blob_options());
  CHECK(!d.get("k").has_value());
  CHECK(d.get("small") == "v");
}

TEST_CASE("blob repair: a value a log still holds is not lost with its blob record",
          "[blob_store][repair]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const std::string saved = tmp.sub("saved.log");
  const std::string value = pattern_value(9, 500);
  std::string log;
  {
    str_db d(dir, blob_options());
    d.put("k", value);
    const std::vector<std::string> logs = files_with(dir, ".log");
    REQUIRE(logs.size() == 1);
    log = logs[0];
    fs::copy_file(log, saved);
    d.flush();
  }
  // As if a crash had come between the flush's MANIFEST and the log's deletion, and the
  // MANIFEST were lost since: repair reads the log as well as the table.
  REQUIRE(!fs::exists(log));
  fs::copy_file(saved, log);
  fs::remove(fs::path(dir) / "MANIFEST");
  const std::vector<std::string> blobs = files_with(dir, ".blob");
  REQUIRE(blobs.size() == 1);
  { damage_byte(blobs[0], 32 + 100); }
  const lsmt::repair_report r = lsmt::repair(dir, blob_options());
  REQUIRE(r.lost.size() == 1);
  INFO(r.lost[0]);
  CHECK(r.lost[0].find("but another copy of each was") != std::string::npos);
  CHECK(fs::exists(fs::path(dir) / "lost" / fs::path(blobs[0]).filename()));
  str_db d(dir, blob_options());
  CHECK(d.get("k") == value);
}

TEST_CASE("blob repair: a write found in two tables is kept if either copy reads",
          "[blob_store][repair]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const std::string again = tmp.sub("again");
  lsmt::options o = blob_options();
  o.compaction_interval = 100;
  const std::string value = pattern_value(8, 500);
  {
    str_db d(dir, o);
    d.put("k", value);
    d.flush();
  }
  const std::vector<std::string> old_blobs = files_with(dir, ".blob");
  REQUIRE(old_blobs.size() == 1);
  // A repair of a copy writes the same write into a new table and blob file, numbered past the
  // store's files: as a repair that crashed before its MANIFEST leaves them beside the old ones.
  fs::copy(dir, again);
  REQUIRE(lsmt::repair(again, o).ok());
  const std::vector<std::string> new_tables = files_with(again, ".sst");
  const std::vector<std::string> new_blobs = files_with(again, ".blob");
  REQUIRE(new_tables.size() == 1);
  REQUIRE(new_blobs.size() == 1);
  const auto into_dir = [&](const std::string& path) {
    fs::copy_file(path, fs::path(dir) / fs::path(path).filename());
  };
  into_dir(new_tables[0]);
  // The merge meets the two copies in one order: one section has repair read the unreadable
  // copy first, and fall back to the other.
  static size_t fallbacks = 0;
  bool last_section = false;
  SECTION("the new copy's blob file is missing") {}
  SECTION("the old copy's blob file is missing") {
    into_dir(new_blobs[0]);
    fs::remove(old_blobs[0]);
    last_section = true;
  }
  fs::remove(fs::path(dir) / "MANIFEST");  // so repair reads every table
  const lsmt::repair_report r = lsmt::repair(dir, o);
  REQUIRE(r.lost.size() <= 1);  // nothing lost; at most the blob file a read failed in
  if (!r.lost.empty()) {
    INFO(r.lost[0]);
    CHECK(r.lost[0].find("but another copy of each was") != std::string::npos);
    ++fallbacks;
  }
  if (last_section) CHECK(fallbacks == 1);
  str_db d(dir, o);
  CHECK(d.get("k") == value);
  CHECK(d.verify().ok());
}

TEST_CASE("blob repair: once a table goes to lost/, so does every blob file",
          "[blob_store][repair]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  lsmt::options o = blob_options();
  o.compaction_interval = 100;
  {
    str_db d(dir, o);
    d.put("a", pattern_value(1, 500));
    d.flush();
    d.put("b", pattern_value(2, 500));
    d.flush();
  }
  const std::vector<std::string> tables = files_with(dir, ".sst");
  const std::vector<std::string> blobs = files_with(dir, ".blob");
  REQUIRE(tables.size() == 2);
  REQUIRE(blobs.size() == 2);
  {
    // The first table's first data block: the table is lost from there on, and what it holds
    // after the damage may refer to any blob file.
    damage_byte(tables[0], 10);
  }
  const lsmt::repair_report r = lsmt::repair(dir, o);
  REQUIRE(r.lost.size() == 1);
  CHECK(r.lost[0].find(fs::path(tables[0]).filename().string()) != std::string::npos);
  const fs::path lost = fs::path(dir) / "lost";
  CHECK(fs::exists(lost / fs::path(tables[0]).filename()));
  for (const std::string& b : blobs) CHECK(fs::exists(lost / fs::path(b).filename()));
  str_db d(dir, o);
  CHECK(!d.get("a").has_value());  // in the damaged table
  CHECK(d.get("b") == pattern_value(2, 500));
}

TEST_CASE("blob repair: the MANIFEST's obsolete blob files are deleted, not read",
          "[blob_store][repair]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const auto model = fill(dir);
  // A blob file the MANIFEST does not list (a crash before its flush's MANIFEST): garbage.
  const std::string stray = (fs::path(dir) / "999999.blob").string();
  std::ofstream(stray) << "not a blob file";
  const lsmt::repair_report r = lsmt::repair(dir, blob_options());
  CHECK(r.ok());
  CHECK(!fs::exists(stray));
  str_db d(dir, blob_options());
  CHECK(dump(d) == model);
}

}  // namespace blob_repair_test_cpp
