// tests/wal_test.cpp - the write-ahead log (lsmt/wal.hpp): the documented header and record
// format, link records, round trips through plain and mapped log files, and how each kind of
// damage is classified: a clean end, a torn tail (what a crash leaves), or damaged.
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

namespace wal_test_cpp {

namespace {

using lsmt::detail::log_end;
using lsmt::detail::log_header_size;
using lsmt::detail::log_reader;
using lsmt::detail::log_writer;

// In-memory files (copying reads), for byte-level damage tests.
using memory_file = lsmt_test::memory_readable_file;
using memory_writable = lsmt_test::memory_writable_file;

constexpr uint64_t log_number = 42;

std::string payload_for(int i, size_t n) {
  std::string s(n, '\0');
  for (size_t j = 0; j < n; ++j)
    s[j] = static_cast<char>('a' + (static_cast<size_t>(i) * 31 + j) % 26);
  return s;
}

// Builds a header and a record from the format description, independently of log_writer.
std::string make_header(uint64_t number, uint64_t synced_through) {
  std::string h(32, '\0');
  lsmt::detail::encode_fixed64(&h[0], 0x6c736d745f6c6f67);
  lsmt::detail::encode_fixed64(&h[8], number);
  lsmt::detail::encode_fixed64(&h[16], synced_through);
  lsmt::detail::encode_fixed32(&h[24], 1);
  lsmt::detail::encode_fixed32(
      &h[28], lsmt::detail::crc32c::mask(lsmt::detail::crc32c::value(h.data(), 28)));
  return h;
}
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
  log_end end = log_end::clean;
  uint64_t dropped = 0;
};

read_result read_log(const lsmt::readable_file& file, uint64_t number = log_number) {
  read_result r;
  log_reader reader(file, number);
  std::string payload;
  while (reader.read_record(payload)) r.records.push_back(payload);
  CHECK_FALSE(reader.read_record(payload));  // stays at the end
  r.end = reader.end();
  r.dropped = reader.dropped_bytes();
  if (r.end == log_end::damaged) CHECK_FALSE(reader.damage().empty());
  return r;
}

read_result read_bytes(std::string bytes) { return read_log(memory_file(std::move(bytes))); }

// A log of `n` records of 40 bytes, synced after record `sync_after` (none if negative).
// Returns the bytes; *synced is the offset the header vouches for, *starts each record's offset.
std::string make_log(int n, int sync_after, std::vector<std::string>* records, uint64_t* synced,
                     std::vector<uint64_t>* starts) {
  std::string bytes;
  log_writer w(std::make_unique<memory_writable>(&bytes), log_number);
  *synced = 0;
  for (int i = 0; i < n; ++i) {
    starts->push_back(w.size());
    records->push_back(payload_for(i, 40));
    w.add_record(records->back());
    if (i == sync_after) {
      w.sync();
      *synced = w.size();
    }
  }
  return bytes;
}

std::vector<std::string> first(const std::vector<std::string>& v, size_t n) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n)};
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
    log_writer w(mapped_log ? fs.new_log_file(path) : fs.new_writable_file(path), 1);
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
    w.sync();
    w.close();
  }
  const auto file = fs.new_readable_file(path, mmap_reader);
  log_reader reader(*file, 1);
  std::vector<std::string> got;
  std::string payload;
  while (reader.read_record(payload)) got.push_back(payload);
  CHECK(reader.end() == log_end::clean);
  CHECK(reader.synced_through() == file->size());
  CHECK(got == records);
}

TEST_CASE("wal: log_writer writes the documented header and records", "[wal]") {
  std::string bytes;
  log_writer w(std::make_unique<memory_writable>(&bytes), 7);
  CHECK(bytes == make_header(7, 0));
  w.add_record("hello");
  w.add_record("");
  w.sync();  // rewrites the header in place
  w.add_record("again");
  CHECK(bytes == make_header(7, 32 + 9 + 5 + 9) + make_record(1, "hello") + make_record(1, "") +
                     make_record(1, "again"));
  CHECK(w.size() == bytes.size());
}

TEST_CASE("wal: a link record is written as documented and read back, not as a batch", "[wal]") {
  std::string bytes;
  log_writer w(std::make_unique<memory_writable>(&bytes), log_number);
  w.add_link({7, 123456789012});
  w.add_record("after");
  char link[16];
  lsmt::detail::encode_fixed64(link, 7);
  lsmt::detail::encode_fixed64(link + 8, 123456789012);
  REQUIRE(bytes == make_header(log_number, 0) + make_record(3, std::string_view(link, 16)) +
                       make_record(1, "after"));

  const memory_file file(bytes);
  log_reader reader(file, log_number);
  CHECK_FALSE(reader.link());
  std::string payload;
  REQUIRE(reader.read_record(payload));
  CHECK(payload == "after");
  REQUIRE(reader.link());
  CHECK(reader.link()->previous_log == 7);
  CHECK(reader.link()->previous_size == 123456789012);
  CHECK_FALSE(reader.read_record(payload));
  CHECK(reader.valid_end() == bytes.size());

  // A link record of the wrong length is not a record: it ends the log as a torn tail.
  const read_result bad = read_bytes(make_header(log_number, 0) + make_record(3, "short"));
  CHECK(bad.records.empty());
  CHECK(bad.end == log_end::torn_tail);
}

TEST_CASE("wal: an empty log, and a log whose header a crash tore, have no records", "[wal]") {
  CHECK(read_bytes("").end == log_end::clean);
  CHECK(read_bytes(std::string(4096, '\0')).end == log_end::clean);
  const std::string header = make_header(log_number, 0);
  for (size_t cut = 1; cut < header.size(); ++cut) {
    INFO("header cut at " << cut);
    const read_result r = read_bytes(header.substr(0, cut) + std::string(100, '\0'));
    CHECK(r.records.empty());
    CHECK(r.end == log_end::torn_tail);
  }
}

TEST_CASE("wal: a header that is damaged or names another log is damage", "[wal]") {
  std::vector<std::string> records;
  uint64_t synced = 0;
  std::vector<uint64_t> starts;
  const std::string bytes = make_log(3, -1, &records, &synced, &starts);
  for (size_t pos = 0; pos < log_header_size; ++pos) {
    INFO("flip at " << pos);
    std::string damaged = bytes;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x04);
    const read_result r = read_bytes(damaged);
    CHECK(r.records.empty());
    CHECK(r.end == log_end::damaged);
  }
  const read_result other = read_log(memory_file(bytes), log_number + 1);
  CHECK(other.records.empty());
  CHECK(other.end == log_end::damaged);
}

TEST_CASE("wal: a log whose writer died is read up to its zero tail", "[wal]") {
  lsmt_test::temp_dir dir;
  lsmt::detail::posix_file_system_impl fs(64 << 10);
  const std::string path = dir.sub("000002.log").string();
  std::vector<std::string> records;
  records.reserve(500);
  for (int i = 0; i < 500; ++i) records.push_back(payload_for(i, 130));
  const int status = lsmt_test::run_in_child([&] {
    auto w = std::make_unique<log_writer>(fs.new_log_file(path), 2);
    for (size_t i = 0; i < records.size(); ++i) {
      w->add_record(records[i]);
      if (i % 100 == 0) w->sync();
    }
    static_cast<void>(w.release());  // never closed: the child's _exit is the crash
  });
  REQUIRE(status == 0);
  REQUIRE(std::filesystem::file_size(path) % (64 << 10) == 0);
  for (const bool mmap : {false, true}) {
    const read_result r = read_log(*fs.new_readable_file(path, mmap), 2);
    CHECK(r.end == log_end::clean);
    CHECK(r.dropped == 0);
    CHECK(r.records == records);
  }
}

TEST_CASE("wal: truncating the unsynced last record anywhere is a torn tail", "[wal]") {
  std::vector<std::string> records;
  uint64_t synced = 0;
  std::vector<uint64_t> starts;
  const std::string bytes = make_log(10, 4, &records, &synced, &starts);
  const uint64_t last_start = starts.back();
  for (size_t cut = last_start; cut < bytes.size(); ++cut) {
    INFO("cut at " << cut);
    const std::string truncated = bytes.substr(0, cut);
    const read_result r = read_bytes(truncated + std::string(cut % 3 * 100, '\0'));
    CHECK(r.records == first(records, 9));
    // Dropped bytes run to the last non-zero byte of the torn record.
    const size_t nonzero = truncated.find_last_not_of('\0');
    const uint64_t dropped = nonzero < last_start ? 0 : nonzero + 1 - last_start;
    CHECK(r.end == (dropped == 0 ? log_end::clean : log_end::torn_tail));
    CHECK(r.dropped == dropped);
  }
}

TEST_CASE("wal: a log cut short before its synced end is damaged", "[wal]") {
  std::vector<std::string> records;
  uint64_t synced = 0;
  std::vector<uint64_t> starts;
  const std::string bytes = make_log(10, 6, &records, &synced, &starts);
  for (size_t cut = log_header_size; cut < synced; ++cut) {
    INFO("cut at " << cut);
    const read_result r = read_bytes(bytes.substr(0, cut));
    CHECK(r.end == log_end::damaged);
    CHECK(r.records.size() <= 7);
  }
}

TEST_CASE("wal: any flip in synced records is damaged, even in the last synced one", "[wal]") {
  std::vector<std::string> records;
  uint64_t synced = 0;
  std::vector<uint64_t> starts;
  // Everything synced: the flip is in the log's last record too.
  const std::string bytes = make_log(6, 5, &records, &synced, &starts);
  REQUIRE(synced == bytes.size());
  for (size_t pos = log_header_size; pos < synced; ++pos) {
    for (int bit : {0, 7}) {
      INFO("flip at " << pos << " bit " << bit);
      std::string damaged = bytes;
      damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << bit));
      const read_result r = read_bytes(damaged);
      CHECK(r.end == log_end::damaged);
      const auto hit = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), pos) -
                                           starts.begin() - 1);
      CHECK(r.records == first(records, hit));
    }
  }
}

TEST_CASE("wal: damage to an unsynced record followed by whole records is damaged", "[wal]") {
  std::vector<std::string> records;
  uint64_t synced = 0;
  std::vector<uint64_t> starts;
  const std::string bytes = make_log(8, -1, &records, &synced, &starts);
  const uint64_t last_start = starts.back();
  for (size_t pos = log_header_size; pos < bytes.size(); ++pos) {
    INFO("flip at " << pos);
    std::string damaged = bytes;
    damaged[pos] = static_cast<char>(damaged[pos] ^ 0x10);
    const read_result r = read_bytes(damaged);
    const auto hit = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), pos) -
                                         starts.begin() - 1);
    CHECK(r.records == first(records, hit));
    // Damage to the last record cannot be told from a crash that tore it, nor a flip in a
    // length field that makes its record run to the end of the data.
    if (pos >= last_start) {
      CHECK(r.end == log_end::torn_tail);
    } else if (pos < starts[hit] + 4 || pos >= starts[hit] + 8) {
      CHECK(r.end == log_end::damaged);
    }
  }
}

TEST_CASE("wal: zero and garbage tails", "[wal]") {
  std::vector<std::string> records;
  uint64_t synced = 0;
  std::vector<uint64_t> starts;
  const std::string bytes = make_log(5, -1, &records, &synced, &starts);
  SECTION("zeros: a clean end") {
    const read_result r = read_bytes(bytes + std::string(100 << 10, '\0'));
    CHECK(r.records == records);
    CHECK(r.end == log_end::clean);
  }
  SECTION("garbage: a torn tail") {
    std::string garbage(5000, '\0');
    std::mt19937 rng(5);
    for (char& c : garbage) c = static_cast<char>(rng() | 1);  // no zero bytes
    const read_result r = read_bytes(bytes + garbage);
    CHECK(r.records == records);
    CHECK(r.end == log_end::torn_tail);
    CHECK(r.dropped == garbage.size());
  }
  SECTION("zeros then a record: a hole, damaged") {
    const read_result r =
        read_bytes(bytes + std::string(4096, '\0') + make_record(1, "after the hole"));
    CHECK(r.records == records);
    CHECK(r.end == log_end::damaged);
    CHECK(r.dropped == 4096 + 9 + 14);
  }
}

TEST_CASE("wal: a record inside a torn record's payload is not taken for a whole one", "[wal]") {
  // The last batch's payload is itself a complete record; the batch is cut short after it.
  const std::string inner = make_record(1, "looks whole");
  std::string bytes;
  log_writer w(std::make_unique<memory_writable>(&bytes), log_number);
  w.add_record("first");
  const size_t start = bytes.size();
  w.add_record("prefix" + inner + "suffix");
  const size_t cut = start + 9 + 6 + inner.size() + 2;
  const read_result r = read_bytes(bytes.substr(0, cut));
  CHECK(r.records == std::vector<std::string>{"first"});
  CHECK(r.end == log_end::torn_tail);
}

TEST_CASE("wal: a huge length field neither allocates nor reads past the end", "[wal]") {
  std::string bytes;
  log_writer w(std::make_unique<memory_writable>(&bytes), log_number);
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
    CHECK(r.end == log_end::torn_tail);
    CHECK(r.dropped == 14);
  }
}

}  // namespace wal_test_cpp
