// tests/repair_test.cpp - lsmt::repair(): a store whose MANIFEST is lost or damaged, or whose
// table or log is damaged, opens again with everything its files still hold, and the report
// names what could not be saved.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace repair_test_cpp {

namespace {

namespace fs = std::filesystem;
using lsmt_test::key_of;
using lsmt_test::str_db;
using model_t = std::map<std::string, std::string>;

lsmt::options small_options() {
  lsmt::options o;
  o.memtable_max_bytes = 16 << 10;
  o.target_file_size = 16 << 10;
  o.base_level_bytes = 32 << 10;
  o.block_size = 1024;
  return o;
}

// A store with tables in several levels, deletions, overwrites and a log tail.
model_t make_store(const fs::path& dir) {
  model_t model;
  str_db d(dir, small_options());
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 3000; ++i) {
      if ((i + round) % 5 == 0) {
        d.erase(key_of(i));
        model.erase(key_of(i));
      } else {
        const std::string v = lsmt_test::pattern_value(static_cast<uint32_t>(i * 7 + round), 30);
        d.put(key_of(i), v);
        model[key_of(i)] = v;
      }
    }
  }
  d.wait_for_compactions();
  for (int i = 0; i < 10; ++i) {  // a tail left only in the log
    d.put("tail-" + std::to_string(i), "t");
    model["tail-" + std::to_string(i)] = "t";
  }
  return model;
}

void flip_byte(const fs::path& file, std::streamoff at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  f.seekp(at);
  c = static_cast<char>(c ^ 0x20);
  f.write(&c, 1);
}

std::vector<fs::path> files_with(const fs::path& dir, const std::string& extension) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == extension) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("repair: a lost MANIFEST is rebuilt from the tables and logs", "[repair]") {
  lsmt_test::temp_dir dir;
  const model_t model = make_store(dir.path());
  fs::remove(dir.path() / "MANIFEST");
  CHECK_THROWS_AS(str_db(dir.path(), small_options()), lsmt::corruption_error);
  const lsmt::repair_report r = lsmt::repair(dir.path());
  CHECK(r.ok());
  CHECK(r.tables_merged > 1);
  CHECK(r.logs_replayed >= 1);
  CHECK(r.batches_replayed >= 10);
  CHECK(r.entries_written == model.size());  // deletions and old versions dropped
  lsmt::options o = small_options();
  o.recovery_mode = lsmt::recovery_mode::absolute_consistency;
  str_db d(dir.path(), o);
  CHECK(lsmt_test::dump(d) == model);
  CHECK(d.verify().ok());
  d.put("after", "repair");  // writable
  CHECK(d.get("after") == "repair");
}

TEST_CASE("repair: a damaged MANIFEST is reported and rebuilt", "[repair]") {
  lsmt_test::temp_dir dir;
  const model_t model = make_store(dir.path());
  flip_byte(dir.path() / "MANIFEST", 20);
  CHECK_THROWS_AS(str_db(dir.path(), small_options()), lsmt::corruption_error);
  const lsmt::repair_report r = lsmt::repair(dir.path());
  REQUIRE(r.lost.size() == 1);
  CHECK(r.lost[0].find("MANIFEST") != std::string::npos);
  str_db d(dir.path(), small_options());
  CHECK(lsmt_test::dump(d) == model);
}

TEST_CASE("repair: a damaged table keeps what precedes the damage; the file goes to lost/",
          "[repair]") {
  lsmt_test::temp_dir dir;
  const model_t model = make_store(dir.path());
  const std::vector<fs::path> tables = files_with(dir.path(), ".sst");
  REQUIRE(tables.size() >= 2);
  // The largest table: a third of the way into it is a data block. (In the newest table it may
  // not be: the last output of a merge can be a few entries, and a third of the way into it the
  // index or filter, whose damage stops the store from opening at all.)
  const fs::path victim = *std::max_element(
      tables.begin(), tables.end(),
      [](const fs::path& a, const fs::path& b) { return fs::file_size(a) < fs::file_size(b); });
  const auto size = static_cast<std::streamoff>(fs::file_size(victim));
  REQUIRE(size > 8 * 1024);     // many 1 KiB data blocks before the index and filter
  flip_byte(victim, size / 3);  // in a data block
  {
    str_db damaged(dir.path(), small_options());  // it opens; verify finds the damage
    CHECK_FALSE(damaged.verify().ok());
  }
  const lsmt::repair_report r = lsmt::repair(dir.path());
  REQUIRE(r.lost.size() == 1);
  CHECK(r.lost[0].find(victim.filename().string()) != std::string::npos);
  CHECK(r.lost[0].find("were kept") != std::string::npos);
  CHECK(fs::exists(dir.path() / "lost" / victim.filename()));
  CHECK_FALSE(fs::exists(victim));
  str_db d(dir.path(), small_options());
  CHECK(d.verify().ok());
  // Most keys survive with their newest value (the damaged table held only part of them).
  const model_t got = lsmt_test::dump(d);
  size_t same = 0;
  for (const auto& [k, v] : got) same += model.count(k) != 0 && model.at(k) == v;
  CHECK(same > model.size() / 2);
}

TEST_CASE("repair: a damaged log keeps its whole records before the damage and later logs",
          "[repair]") {
  lsmt_test::temp_dir dir;
  model_t model;
  {
    lsmt::options o = small_options();
    o.memtable_max_bytes = 64 << 20;  // everything stays in logs
    str_db d(dir.path(), o);
    for (int i = 0; i < 200; ++i) {
      d.put(key_of(i), "v" + std::to_string(i));
      model[key_of(i)] = "v" + std::to_string(i);
    }
  }
  const std::vector<fs::path> logs = files_with(dir.path(), ".log");
  REQUIRE(logs.size() == 1);
  flip_byte(logs[0], static_cast<std::streamoff>(fs::file_size(logs[0]) / 2));
  const lsmt::repair_report r = lsmt::repair(dir.path());
  REQUIRE(r.lost.size() == 1);
  CHECK(r.lost[0].find(logs[0].filename().string()) != std::string::npos);
  CHECK(r.batches_replayed > 50);
  CHECK(r.batches_replayed < 200);
  str_db d(dir.path(), small_options());
  const model_t got = lsmt_test::dump(d);
  CHECK(got.size() == r.batches_replayed);
  for (const auto& [k, v] : got) CHECK(model.at(k) == v);
}

TEST_CASE("repair: refuses an open store and a directory with no store", "[repair]") {
  lsmt_test::temp_dir dir;
  {
    str_db d(dir.sub("store"), small_options());
    d.put("k", "v");
    CHECK_THROWS_AS(lsmt::repair(dir.sub("store")), lsmt::locked_error);
  }
  fs::create_directories(dir.sub("empty"));
  CHECK_THROWS_AS(lsmt::repair(dir.sub("empty")), lsmt::invalid_argument_error);
  CHECK_THROWS_AS(lsmt::repair(dir.sub("missing")), lsmt::invalid_argument_error);
  // A healthy store repairs to itself.
  const lsmt::repair_report r = lsmt::repair(dir.sub("store"));
  CHECK(r.ok());
  str_db d(dir.sub("store"), small_options());
  CHECK(d.get("k") == "v");
}

TEST_CASE("repair: a table of another store is set aside, not merged", "[repair]") {
  lsmt_test::temp_dir dir;
  const model_t model = make_store(dir.sub("a"));
  {
    str_db other(dir.sub("b"), small_options());
    for (int i = 0; i < 2000; ++i) other.put(key_of(i), "foreign");
    other.compact();
  }
  fs::remove(dir.sub("a") / "MANIFEST");
  const fs::path foreign = files_with(dir.sub("b"), ".sst").front();
  const fs::path planted = dir.sub("a") / "999999.sst";
  fs::copy_file(foreign, planted);
  const lsmt::repair_report r = lsmt::repair(dir.sub("a"));
  bool reported = false;
  for (const std::string& l : r.lost) reported |= l.find("999999.sst") != std::string::npos;
  CHECK(reported);
  str_db d(dir.sub("a"), small_options());
  CHECK(lsmt_test::dump(d) == model);
}

}  // namespace repair_test_cpp
