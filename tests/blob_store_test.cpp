// tests/blob_store_test.cpp - key-value separation in a store (options::blob_min_size): values
// at or above the threshold go into blob files at the flush, and gets, scans, snapshots, merges,
// reopening and checkpoints see the same data as a model; a blob file no table refers to any
// more is deleted; a damaged blob file is an error, never a wrong value.
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
#include "lsmt/blob_set.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace blob_store_test_cpp {

namespace fs = std::filesystem;
using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::pattern_value;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

namespace {

lsmt::options blob_options() {
  lsmt::options o;
  o.memtable_max_bytes = 64 << 10;  // many flushes
  o.compaction_interval = 3;
  o.target_file_size = 16 << 10;
  o.base_level_bytes = 32 << 10;
  o.idle_settle_ms = 0;
  o.blob_min_size = 100;
  return o;
}

size_t files_with(const std::string& dir, const std::string& ext) {
  return lsmt_test::files_with(dir, ext).size();
}

void check_model(const str_db& d, const std::map<std::string, std::string>& model) {
  CHECK(dump(d) == model);
  for (const auto& [k, v] : model) {
    const auto got = d.get(k);
    REQUIRE(got.has_value());
    REQUIRE(*got == v);
  }
}

}  // namespace

TEST_CASE("blob store: values above the threshold live in blob files and read back",
          "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  std::map<std::string, std::string> model;
  std::mt19937 rng(11);
  {
    str_db d(dir, blob_options());
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 1500; ++i) {
        const int k = static_cast<int>(rng() % 1000);
        if (rng() % 10 == 0) {
          d.erase(key_of(k));
          model.erase(key_of(k));
          continue;
        }
        const size_t len = rng() % 3 == 0 ? rng() % 100 : 100 + rng() % 900;  // half in blobs
        const std::string v = pattern_value(static_cast<uint32_t>(rng()), len);
        d.put(key_of(k), v);
        model[key_of(k)] = v;
      }
      d.flush();
      check_model(d, model);
    }
    CHECK(files_with(dir, ".blob") > 0);
    d.wait_for_compactions();
    check_model(d, model);
    d.compact();
    check_model(d, model);
  }
  str_db again(dir, blob_options());
  check_model(again, model);
}

TEST_CASE("blob store: range deletes, backward scans and transactions read blob values",
          "[blob_store]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), blob_options());
  std::map<std::string, std::string> model;
  std::mt19937 rng(23);
  for (int step = 0; step < 4000; ++step) {
    const int k = static_cast<int>(rng() % 500);
    const unsigned op = rng() % 100;
    if (op < 3) {
      const int end = k + static_cast<int>(rng() % 20);
      d.delete_range(key_of(k), key_of(end));
      model.erase(model.lower_bound(key_of(k)), model.lower_bound(key_of(end)));
    } else if (op < 10) {
      d.erase(key_of(k));
      model.erase(key_of(k));
    } else {
      const std::string v = pattern_value(static_cast<uint32_t>(rng()), 50 + rng() % 400);
      d.put(key_of(k), v);
      model[key_of(k)] = v;
    }
    if (step % 1000 == 999) d.flush();
  }
  d.wait_for_compactions();
  check_model(d, model);
  // Backward, as a reverse scan steps through every version of a key.
  auto it = d.new_iterator();
  auto expected = model.rbegin();
  for (it.seek_to_last(); it.valid(); it.prev(), ++expected) {
    REQUIRE(expected != model.rend());
    REQUIRE(it.key() == expected->first);
    REQUIRE(it.value() == expected->second);
  }
  CHECK(expected == model.rend());
  // A transaction reads through its snapshot, and its writes go in at commit.
  auto txn = d.begin_transaction();
  const auto first = model.begin();
  CHECK(txn.get(first->first) == first->second);
  const std::string v = pattern_value(99, 300);
  txn.put(first->first, v);
  txn.commit();
  d.flush();
  CHECK(d.get(first->first) == v);
}

TEST_CASE("blob store: a snapshot reads the versions it saw from blob files", "[blob_store]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), blob_options());
  const std::string old_value = pattern_value(1, 500);
  const std::string new_value = pattern_value(2, 500);
  d.put("k", old_value);
  const lsmt::snapshot snap = d.get_snapshot();
  d.put("k", new_value);
  d.flush();  // both versions into one blob file
  const lsmt::read_options at{&snap};
  CHECK(d.get("k", at) == old_value);
  CHECK(d.get("k") == new_value);
  d.compact();
  CHECK(d.get("k", at) == old_value);
  CHECK(d.get("k") == new_value);
}

TEST_CASE("blob store: a blob file no table refers to any more is deleted", "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  str_db d(dir, blob_options());
  for (int i = 0; i < 300; ++i) d.put(key_of(i), pattern_value(static_cast<uint32_t>(i), 400));
  d.flush();
  const size_t first = files_with(dir, ".blob");
  REQUIRE(first > 0);
  for (int i = 0; i < 300; ++i) d.erase(key_of(i));
  d.flush();
  d.compact();  // the deletions meet the values: nothing refers to the blob files
  CHECK(files_with(dir, ".blob") == 0);
  CHECK(dump(d).empty());
}

TEST_CASE("blob store: overwritten values leave the disk", "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  str_db d(dir, blob_options());
  const auto blob_bytes = [&] {
    uint64_t n = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".blob") n += fs::file_size(e.path());
    }
    return n;
  };
  std::map<std::string, std::string> model;
  constexpr int keys = 300;
  constexpr size_t size = 400;
  uint64_t most = 0;
  std::mt19937 rng(5);
  // Each round overwrites a random third of the keys, so every blob file keeps some live values
  // for long: only garbage collection empties it.
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < keys; ++i) {
      if (rng() % 3 != 0) continue;
      model[key_of(i)] = pattern_value(static_cast<uint32_t>(rng()), size);
      d.put(key_of(i), model[key_of(i)]);
    }
    d.flush();
    d.wait_for_compactions();
    most = std::max(most, blob_bytes());
    const lsmt::stats st = d.stats();
    REQUIRE(st.blob_file_bytes == blob_bytes());  // every file on disk, and only those, counts
    REQUIRE(st.blob_files == files_with(dir, ".blob"));
  }
  const uint64_t live = uint64_t{keys} * size;
  const lsmt::stats before = d.stats();
  // The garbage is what is not live: each live value's record adds its key and framing.
  CHECK(before.blob_garbage_bytes > 0);
  CHECK(before.blob_garbage_bytes < before.blob_file_bytes - live);
  CHECK(before.blob_bytes_written >= most);
  CHECK(before.flush_bytes_written + before.compaction_bytes_written >=
        before.blob_bytes_written + before.table_bytes);
  CHECK(d.property("lsmt.stats").value_or("").find("blob files: ") != std::string::npos);
  INFO("largest blob bytes " << most << ", live " << live);
  CHECK(most < 5 * live);  // without collection: over 6x (762,320 bytes in one run)
  d.compact();
  CHECK(blob_bytes() < live * 12 / 10);  // compact() leaves no garbage
  const lsmt::stats after = d.stats();
  CHECK(after.blob_garbage_bytes == 0);
  CHECK(after.blob_file_bytes == blob_bytes());
  CHECK(after.blob_bytes_written > before.blob_bytes_written);  // compact() rewrote the values
  check_model(d, model);
}

TEST_CASE("blob store: a damaged blob file is an error, never a wrong value", "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  const std::string value = pattern_value(7, 1000);
  {
    str_db d(dir, blob_options());
    d.put("k", value);
    d.flush();
  }
  std::string blob;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".blob") blob = e.path().string();
  }
  REQUIRE(!blob.empty());
  { lsmt_test::damage_byte(blob, fs::file_size(blob) / 2); }
  str_db d(dir, blob_options());
  CHECK_THROWS_AS(d.get("k"), lsmt::corruption_error);
  CHECK_THROWS_AS(dump(d), lsmt::corruption_error);
  const lsmt::verify_report report = d.verify();
  REQUIRE(report.problems.size() == 1);
  CHECK(report.problems[0].find(".blob") != std::string::npos);
  CHECK(report.problems[0].find("checksum mismatch") != std::string::npos);
}

TEST_CASE("blob store: a scan reads the blob value of the versions it shows only", "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  lsmt::options o = blob_options();
  o.compaction_interval = 100;  // two flushes, two tables, no merge
  const std::string old_value = pattern_value(1, 1000);
  const std::string new_value = pattern_value(2, 1000);
  {
    str_db d(dir, o);
    d.put("a", old_value);
    d.put("k", old_value);
    d.flush();
    d.put("k", new_value);
    d.flush();
  }
  std::vector<std::string> blobs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".blob") blobs.push_back(e.path().string());
  }
  REQUIRE(blobs.size() == 2);
  std::sort(blobs.begin(), blobs.end());  // by number: the first holds the older version of k
  const auto damage = [](const std::string& path) {
    lsmt_test::damage_byte(path, fs::file_size(path) - 100);  // k's record, last
  };
  damage(blobs[0]);
  {
    str_db d(dir, o);
    CHECK(d.get("k") == new_value);
    // Both ways, the hidden version's damaged record is never read.
    auto it = d.new_iterator();
    it.seek("k");
    REQUIRE(it.valid());
    CHECK(it.value() == new_value);
    it.seek_to_last();
    REQUIRE(it.valid());
    CHECK(it.key() == "k");
    CHECK(it.value() == new_value);
    it.prev();
    REQUIRE(it.valid());
    CHECK(it.key() == "a");
    CHECK(it.value() == old_value);  // a's record, before k's in the file, is intact
    it.seek("k");
    REQUIRE(it.valid());
    CHECK(it.value() == new_value);
  }
  damage(blobs[1]);
  str_db d(dir, o);
  // A key-only scan reads no value, and a damaged value is an error when it is asked for.
  auto it = d.new_iterator();
  it.seek_to_last();
  REQUIRE(it.valid());
  CHECK(it.key() == "k");
  CHECK_THROWS_AS(it.value(), lsmt::corruption_error);
  CHECK_THROWS_AS(it.value(), lsmt::corruption_error);  // and stays one
}

TEST_CASE("blob store: verify reads the blob files whole", "[blob_store]") {
  temp_dir tmp;
  str_db d(tmp.sub("db"), blob_options());
  for (int i = 0; i < 100; ++i) d.put(key_of(i), pattern_value(static_cast<uint32_t>(i), 300));
  d.flush();
  const lsmt::verify_report report = d.verify();
  CHECK(report.ok());
  CHECK(report.bytes > 100 * 300);  // the blob files' bytes count too
}

TEST_CASE("blob store: with blob_min_size set to 0 again, compact() moves the values back",
          "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  std::map<std::string, std::string> model;
  {
    str_db d(dir, blob_options());
    for (int i = 0; i < 200; ++i) {
      model[key_of(i)] = pattern_value(static_cast<uint32_t>(i), i % 2 == 0 ? 20 : 400);
      d.put(key_of(i), model[key_of(i)]);
    }
    d.flush();
    REQUIRE(files_with(dir, ".blob") > 0);
  }
  lsmt::options plain = blob_options();
  plain.blob_min_size = 0;
  str_db d(dir, plain);
  check_model(d, model);  // the blob files are read whatever the option says
  d.compact();
  CHECK(files_with(dir, ".blob") == 0);
  CHECK(d.stats().blob_files == 0);
  check_model(d, model);
}

TEST_CASE("blob store: with blob_min_size raised, compact() moves the smaller values back",
          "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  std::map<std::string, std::string> model;
  uint64_t large_bytes = 0;  // of the values that stay in blob files
  {
    str_db d(dir, blob_options());  // 100 bytes
    for (int i = 0; i < 200; ++i) {
      const bool large = i % 2 == 0;
      model[key_of(i)] = pattern_value(static_cast<uint32_t>(i), large ? 400 : 200);
      large_bytes += large ? 400 : 0;
      d.put(key_of(i), model[key_of(i)]);
    }
    d.flush();
    CHECK(d.stats().blob_file_bytes > large_bytes * 3 / 2);  // and the 200-byte values too
  }
  lsmt::options larger = blob_options();
  larger.blob_min_size = 300;
  str_db d(dir, larger);
  d.compact();  // the 400-byte values go into a new blob file, the 200-byte ones into tables
  const lsmt::stats st = d.stats();
  CHECK(st.blob_files == 1);
  CHECK(st.blob_file_bytes > large_bytes);
  CHECK(st.blob_file_bytes < large_bytes * 12 / 10);  // only the large values, and their keys
  check_model(d, model);
}

TEST_CASE("blob store: the registry deletes only blob files a MANIFEST dropped", "[blob_store]") {
  namespace d = lsmt::detail;
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  fs::create_directories(dir);
  const auto fsys = lsmt::posix_file_system();
  const auto open_handle = [&](uint64_t number) {
    const std::string path = d::file_path(dir, number, d::file_kind::blob);
    {
      d::blob_writer w(fsys->new_writable_file(path), number, 1);
      w.add("k", 1, "v");
      w.finish();
    }
    auto reader = d::blob_reader::open(fsys->new_readable_file(path, true), path, number, 1);
    const d::blob_meta meta{number, reader->file_size(), reader->record_count()};
    return std::make_shared<const d::blob_handle>(meta, std::move(reader));
  };
  d::blob_registry registry(fsys, dir);
  auto kept = open_handle(7);
  registry.add(kept);
  kept.reset();  // as when opening the store fails: nobody holds it, no MANIFEST dropped it
  registry.delete_unused();
  CHECK(fs::exists(d::file_path(dir, 7, d::file_kind::blob)));
  auto dropped = open_handle(8);
  registry.add(dropped);
  registry.retire({8});
  registry.delete_unused();
  CHECK(fs::exists(d::file_path(dir, 8, d::file_kind::blob)));  // still held
  dropped.reset();
  registry.delete_unused();
  CHECK_FALSE(fs::exists(d::file_path(dir, 8, d::file_kind::blob)));
  auto after_close = open_handle(9);
  registry.add(after_close);
  registry.retire({9});
  registry.close();
  after_close.reset();
  registry.delete_unused();
  CHECK(fs::exists(d::file_path(dir, 9, d::file_kind::blob)));  // closed: the next open decides
}

TEST_CASE("blob store: a checkpoint holds the blob files", "[blob_store]") {
  temp_dir tmp;
  const std::string dir = tmp.sub("db");
  std::map<std::string, std::string> model;
  {
    str_db d(dir, blob_options());
    for (int i = 0; i < 200; ++i) {
      model[key_of(i)] = pattern_value(static_cast<uint32_t>(i), 300);
      d.put(key_of(i), model[key_of(i)]);
    }
    d.flush();
    d.checkpoint(tmp.sub("copy"));
  }
  CHECK(files_with(tmp.sub("copy"), ".blob") > 0);
  str_db copy(tmp.sub("copy"), blob_options());
  check_model(copy, model);
}

}  // namespace blob_store_test_cpp
