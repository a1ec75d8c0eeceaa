// tests/wal_test.cpp - the write-ahead log (lsmt/wal.hpp): the documented record format, link
// records, round trips through plain and mapped log files, and which damage is a dropped torn tail
// and which is corruption (damage to data a later sync marker vouches for).
#include "lsmt/wal.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "lsmt/posix_file_system.hpp"
#include "memory_file.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace {

using lsmt::detail::log_reader;
using lsmt::detail::log_writer;

// In-memory files (copying reads), for byte-level damage tests.
using memory_file = lsmt_test::memory_readable_file;
using memory_writable = lsmt_test::memory_writable_file;

std::string payload_for(int i, size_t n) {
  std::string s(n, '\0');
  for (size_t j = 0; j < n; ++j)
    s[j] = static_cast<char>('a' + (static_cast<size_t>(i) * 31 + j) % 26);
  return s;
}

// Builds a record from the format description, independently of log_writer.
std::string make_record(uint8_t type, std::string_view payload) {
  std::string r(9, '\0');
  lsmt::detail::encode_fixed32(&r[4], static_cast<uint32_t>(payload.size()));
  r[8] = static_cast<char>(type);
  r.append(payload.data(), payload.size());
  const uint32_t crc = lsmt::detail::crc32c::value(r.data() + 4, r.size() - 4);
  lsmt::detail::encode_fixed32(r.data(), lsmt::detail::crc32c::mask(crc));
  return r;
}

struct read_result {
  std::vector<std::string> records;
  uint64_t dropped = 0;
};

read_result read_log(const lsmt::readable_file& file) {
  read_result r;
  log_reader reader(file);
  std::string payload;
  while (reader.read_record(payload)) r.records.push_back(payload);
  CHECK_FALSE(reader.read_record(payload));  // stays at the end
  r.dropped = reader.dropped_bytes();
  return r;
}

read_result read_bytes(std::string bytes) { return read_log(memory_file(std::move(bytes))); }

// Records 0..4, sync, then 5 and 6 (the first of which brings a sync marker).
// Returns the log bytes; *synced is the offset the marker vouches for.
std::string log_with_marker(std::vector<std::string>* records, uint64_t* synced) {
  std::string bytes;
  log_writer w(std::make_unique<memory_writable>(&bytes));
  for (int i = 0; i < 7; ++i) {
    if (i == 5) {
      w.sync();
      *synced = w.size();
    }
    records->push_back(payload_for(i, 20 + static_cast<size_t>(i)));
    w.add_record(records->back());
  }
  return bytes;
}

}  // namespace

TEST_CASE("wal: round trip through plain and mapped log files", "[wal]") {
  lsmt_test::temp_dir dir;
  lsmt::detail::posix_file_system_impl fs(64 << 10);  // small chunks: many boundaries
  const bool mapped_log = GENERATE(false, true);
  const bool mmap_reader = GENERATE(false, true);
  const std::string path = dir.sub("000001.log").string();
  std::vector<std::string> records;
  {
    log_writer w(mapped_log ? fs.new_log_file(path) : fs.new_writable_file(path));
    std::mt19937 rng(11);
    for (int i = 0; i < 2000; ++i) {
      size_t n = rng() % 300;
      if (i % 500 == 7) n = 0;
      if (i % 700 == 3) n = 1 << 20;
      records.push_back(payload_for(i, n));
      w.add_record(records.back());
      if (rng() % 50 == 0) w.sync();
      if (rng() % 10 == 0) w.flush();
    }
    w.close();
  }
  const auto file = fs.new_readable_file(path, mmap_reader);
  const read_result r = read_log(*file);
  CHECK(r.dropped == 0);
  CHECK(r.records == records);
}

TEST_CASE("wal: log_writer writes the documented format", "[wal]") {
  std::string bytes;
  log_writer w(std::make_unique<memory_writable>(&bytes));
  w.add_record("hello");
  w.add_record("");
  w.sync();
  w.add_record("again");
  char synced_through[8];
  lsmt::detail::encode_fixed64(synced_through, 9 + 5 + 9);
  CHECK(bytes == make_record(1, "hello") + make_record(1, "") +
                     make_record(2, std::string_view(synced_through, 8)) + make_record(1, "again"));
  CHECK(w.size() == bytes.size());
}

TEST_CASE("wal: a link record is written as documented and read back, not as a batch", "[wal]") {
  std::string bytes;
  log_writer w(std::make_unique<memory_writable>(&bytes));
  w.add_link({7, 123456789012});
  w.add_record("after");
  char link[16];
  lsmt::detail::encode_fixed64(link, 7);
  lsmt::detail::encode_fixed64(link + 8, 123456789012);
  REQUIRE(bytes == make_record(3, std::string_view(link, 16)) + make_record(1, "after"));

  const memory_file file(bytes);
  log_reader reader(file);
  CHECK_FALSE(reader.link());
  std::string payload;
  REQUIRE(reader.read_record(payload));
  CHECK(payload == "after");
  REQUIRE(reader.link());
  CHECK(reader.link()->previous_log == 7);
  CHECK(reader.link()->previous_size == 123456789012);
  CHECK_FALSE(reader.read_record(payload));
  CHECK(reader.valid_end() == bytes.size());

  // A link record of the wrong length is not a record: the log ends before it.
  const read_result bad = read_bytes(make_record(3, "short") + make_record(1, "x"));
  CHECK(bad.records.empty());
}

TEST_CASE("wal: an empty log has no records", "[wal]") {
  const read_result r = read_bytes("");
  CHECK(r.records.empty());
  CHECK(r.dropped == 0);
}

TEST_CASE("wal: a log whose writer died is read up to its zero tail", "[wal]") {
  lsmt_test::temp_dir dir;
  lsmt::detail::posix_file_system_impl fs(64 << 10);
  const std::string path = dir.sub("000002.log").string();
  std::vector<std::string> records;
  records.reserve(500);
  for (int i = 0; i < 500; ++i) records.push_back(payload_for(i, 130));
  const int status = lsmt_test::run_in_child([&] {
    auto w = std::make_unique<log_writer>(fs.new_log_file(path));
    for (size_t i = 0; i < records.size(); ++i) {
      w->add_record(records[i]);
      if (i % 100 == 0) w->sync();
    }
    static_cast<void>(w.release());  // never closed: the child's _exit is the crash
  });
  REQUIRE(status == 0);
  REQUIRE(std::filesystem::file_size(path) % (64 << 10) == 0);
  for (const bool mmap : {false, true}) {
    const read_result r = read_log(*fs.new_readable_file(path, mmap));
    CHECK(r.dropped == 0);
    CHECK(r.records == records);
  }
}

TEST_CASE("wal: truncating the last record anywhere drops just that record", "[wal]") {
  std::string bytes;
  std::vector<std::string> records;
  uint64_t last_start = 0;
  {
    log_writer w(std::make_unique<memory_writable>(&bytes));
    for (int i = 0; i < 10; ++i) {
      if (i == 4) w.sync();  // a marker in the middle must not matter
      last_start = w.size();
      records.push_back(payload_for(i, 40));
      w.add_record(records.back());
    }
  }
  records.pop_back();
  for (size_t cut = last_start; cut < bytes.size(); ++cut) {
    INFO("cut at " << cut);
    const std::string truncated = bytes.substr(0, cut);
    const read_result r = read_bytes(truncated);
    CHECK(r.records == records);
    // Dropped bytes run to the last non-zero byte of the torn record.
    const size_t nonzero = truncated.find_last_not_of('\0');
    const uint64_t expected =
        nonzero == std::string::npos || nonzero < last_start ? 0 : nonzero + 1 - last_start;
    CHECK(r.dropped == expected);
  }
}

TEST_CASE("wal: zero and garbage tails end the log", "[wal]") {
  std::string bytes;
  std::vector<std::string> records;
  {
    log_writer w(std::make_unique<memory_writable>(&bytes));
    for (int i = 0; i < 5; ++i) {
      records.push_back(payload_for(i, 100));
      w.add_record(records.back());
    }
  }
  SECTION("zeros") {
    const read_result r = read_bytes(bytes + std::string(100 << 10, '\0'));
    CHECK(r.records == records);
    CHECK(r.dropped == 0);
  }
  SECTION("garbage") {
    std::string garbage(5000, '\0');
    std::mt19937 rng(5);
    for (char& c : garbage) c = static_cast<char>(rng() | 1);  // no zero bytes
    const read_result r = read_bytes(bytes + garbage);
    CHECK(r.records == records);
    CHECK(r.dropped == garbage.size());
  }
  SECTION("garbage then zeros") {
    const read_result r = read_bytes(bytes + "junk" + std::string(1000, '\0'));
    CHECK(r.records == records);
    CHECK(r.dropped == 4);
  }
  SECTION("zeros then a record: a hole in unsynced data") {
    std::string later;
    log_writer w(std::make_unique<memory_writable>(&later));
    w.add_record("after the hole");
    const read_result r = read_bytes(bytes + std::string(4096, '\0') + later);
    CHECK(r.records == records);
    CHECK(r.dropped == 4096 + later.size());
  }
}

TEST_CASE("wal: damage to synced data followed by a sync marker is corruption", "[wal]") {
  std::vector<std::string> records;
  uint64_t synced = 0;
  const std::string bytes = log_with_marker(&records, &synced);
  for (size_t pos = 0; pos < synced; ++pos) {
    for (int bit : {0, 7}) {
      INFO("flip at " << pos << " bit " << bit);
      std::string damaged = bytes;
      damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << bit));
      memory_file file(damaged);
      log_reader reader(file);
      std::string payload;
      size_t good = 0;
      CHECK_THROWS_AS(
          [&] {
            while (reader.read_record(payload)) ++good;
          }(),
          lsmt::corruption_error);
      CHECK(good < 5);
    }
  }
}

TEST_CASE("wal: damage after the last sync marker is a dropped tail", "[wal]") {
  std::vector<std::string> records;
  uint64_t synced = 0;
  const std::string bytes = log_with_marker(&records, &synced);
  // Where records 5 and 6 start: record 6 is the last 9 + 26 bytes.
  const size_t sixth = bytes.size() - (9 + 26);
  for (size_t pos = synced; pos < bytes.size(); ++pos) {
    INFO("flip at " << pos);
    std::string damaged = bytes;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x10);
    const read_result r = read_bytes(damaged);
    const size_t intact = pos < sixth ? 5 : 6;  // a flip in the marker drops record 5 too
    CHECK(r.records == std::vector<std::string>(records.begin(), records.begin() + intact));
    CHECK(r.dropped > 0);
  }
}

TEST_CASE("wal: a marker inside a valid record's payload is not mistaken for one", "[wal]") {
  // A batch whose payload happens to be a complete sync marker claiming
  // everything was synced, after a torn record: still only a torn tail.
  char synced_through[8];
  lsmt::detail::encode_fixed64(synced_through, 1 << 30);
  const std::string marker = make_record(2, std::string_view(synced_through, 8));

  std::string bytes;
  log_writer w(std::make_unique<memory_writable>(&bytes));
  w.add_record("first");
  bytes += "\x07torn!";
  w.add_record(marker);
  const read_result r = read_bytes(bytes);
  CHECK(r.records == std::vector<std::string>{"first"});
  CHECK(r.dropped > 0);

  // The same marker as a record of its own does prove damage.
  bytes.resize(bytes.size() - marker.size() - 9);
  bytes += marker;
  CHECK_THROWS_AS(read_bytes(bytes), lsmt::corruption_error);
}

TEST_CASE("wal: a huge length field neither allocates nor reads past the end", "[wal]") {
  std::string bytes;
  log_writer w(std::make_unique<memory_writable>(&bytes));
  w.add_record("ok");
  const size_t good_size = bytes.size();
  for (uint32_t length : {0xffffffffu, 0x10000000u, 0x0fffffffu, 1000u}) {
    std::string damaged = bytes.substr(0, good_size);
    char header[9] = {};
    lsmt::detail::encode_fixed32(header + 4, length);
    header[8] = 1;
    damaged.append(header, sizeof header);
    damaged += "short";
    const read_result r = read_bytes(damaged);
    CHECK(r.records == std::vector<std::string>{"ok"});
    CHECK(r.dropped == 14);
  }
}
