// tests/blob_open_test.cpp - opening a store checks each blob file its MANIFEST lists, as it
// checks each table: a blob file swapped with another, missing, truncated, extended or copied
// in from another store gives corruption_error before any read, in both recovery modes, and
// changes no file.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "blob_util.hpp"
#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace blob_open_test_cpp {

namespace fs = std::filesystem;
using lsmt_test::pattern_value;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

namespace {

lsmt::options blob_options() {
  lsmt::options o;
  o.compaction_interval = 100;  // every flush's table and blob file stay
  o.idle_settle_ms = 0;
  o.blob_min_size = 100;
  return o;
}

std::vector<std::string> blob_files(const std::string& dir) {
  return lsmt_test::files_with(dir, ".blob");
}

// Two flushes, so two blob files, of a store in dir.
void make_store(const std::string& dir, uint32_t seed) {
  str_db d(dir, blob_options());
  d.put("a", pattern_value(seed, 500));
  d.flush();
  d.put("b", pattern_value(seed + 1, 500));
  d.flush();
}

std::map<std::string, std::string> contents(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::ifstream f(e.path(), std::ios::binary);
    out[e.path().filename().string()] =
        std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  return out;
}

}  // namespace

TEST_CASE("blob open: a blob file that is not the one the MANIFEST lists is refused",
          "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const std::string other = tmp.sub("other");
  make_store(dir, 1);
  make_store(other, 1);  // the same file numbers and contents, another store id
  const std::vector<std::string> blobs = blob_files(dir);
  REQUIRE(blobs.size() == 2);
  std::string what;
  SECTION("swapped") {
    fs::rename(blobs[1], tmp.sub("second.blob"));
    fs::rename(blobs[0], blobs[1]);
    fs::rename(tmp.sub("second.blob"), blobs[0]);
    what = "its header says it is blob file";
  }
  SECTION("missing") {
    fs::remove(blobs[1]);
    what = "is missing";
  }
  SECTION("truncated") {
    fs::resize_file(blobs[0], fs::file_size(blobs[0]) - 1);
    what = "bytes, but the MANIFEST says";
  }
  SECTION("extended") {
    std::ofstream(blobs[0], std::ios::app | std::ios::binary) << 'x';
    what = "bytes, but the MANIFEST says";
  }
  SECTION("from another store") {
    fs::copy_file(blob_files(other)[0], blobs[0], fs::copy_options::overwrite_existing);
    what = "belongs to another store";
  }
  const auto before = contents(dir);
  for (const auto mode :
       {lsmt::recovery_mode::point_in_time, lsmt::recovery_mode::absolute_consistency}) {
    lsmt::options o = blob_options();
    o.recovery_mode = mode;
    try {
      str_db d(dir, o);
      FAIL("the store opened");
    } catch (const lsmt::corruption_error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(what) != std::string::npos);
    }
    CHECK(contents(dir) == before);  // nothing removed or rewritten
  }
}

TEST_CASE("blob open: the intact store opens and reads both blob files", "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  make_store(dir, 1);
  str_db d(dir, blob_options());
  CHECK(d.get("a") == pattern_value(1, 500));
  CHECK(d.get("b") == pattern_value(2, 500));
  CHECK(d.stats().blob_files == 2);
}

TEST_CASE("blob open: the MANIFEST is version 5 only while blob files exist", "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const auto version = [&] {
    std::ifstream f(fs::path(dir) / "MANIFEST", std::ios::binary);
    char b[12] = {};
    f.read(b, sizeof b);
    return static_cast<unsigned>(static_cast<unsigned char>(b[8]));  // fixed32 at offset 8
  };
  lsmt::options o = blob_options();
  o.blob_min_size = 0;
  {
    str_db d(dir, o);
    d.put("a", pattern_value(1, 500));
    d.flush();
  }
  CHECK(version() == 4);  // as an older lsmt writes it, and reads it
  {
    str_db d(dir, blob_options());
    d.put("b", pattern_value(2, 500));
    d.flush();
  }
  CHECK(version() == 5);
  {
    str_db d(dir, o);
    d.compact();  // the values go back into the tables (blob_min_size 0), the blob file goes
    CHECK(d.stats().blob_files == 0);
  }
  CHECK(version() == 4);
}

}  // namespace blob_open_test_cpp
