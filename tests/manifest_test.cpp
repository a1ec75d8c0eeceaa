// tests/manifest_test.cpp - the MANIFEST format (lsmt/manifest.hpp): encode/decode round trips,
// versions, every bit flip and truncation rejected, contents checked beyond the checksum, and the
// atomic replacement of the file on disk.
#include "lsmt/manifest.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ikey.hpp"
#include "lsmt/posix_file_system.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace manifest_test_cpp {

namespace {

using lsmt::detail::manifest_state;
using lsmt::detail::table_meta;
using lsmt::detail::value_type;

using lsmt_test::ikey;

manifest_state sample_state() {
  manifest_state s;
  s.next_file_number = 300;
  s.last_sequence = 123456789;
  s.log_number = 299;
  s.store_id = 0xfeedface12345678;
  s.tables.push_back({17, 4 << 20, 1000, ikey("apple", 5), ikey("zebra", 9)});
  s.tables.push_back({3, 12345, 1, ikey(std::string("\0\xff", 2), 1, value_type::deletion),
                      ikey(std::string("\0\xff", 2), 1, value_type::deletion)});
  s.tables.push_back({250, 1, 2, ikey("", 0), ikey(std::string(300, 'k'), 7)});
  return s;
}

bool same(const manifest_state& a, const manifest_state& b) {
  if (a.next_file_number != b.next_file_number || a.last_sequence != b.last_sequence ||
      a.log_number != b.log_number || a.store_id != b.store_id ||
      a.tables.size() != b.tables.size()) {
    return false;
  }
  for (size_t i = 0; i < a.tables.size(); ++i) {
    const table_meta& x = a.tables[i];
    const table_meta& y = b.tables[i];
    if (x.number != y.number || x.size != y.size || x.entries != y.entries ||
        x.smallest != y.smallest || x.largest != y.largest || x.level != y.level) {
      return false;
    }
  }
  return true;
}

// A manifest around an arbitrary payload, with a correct header and checksum:
// tests what the decoder checks beyond the checksum.
std::string wrap(const std::string& payload, uint32_t version = 3) {
  std::string out;
  lsmt::detail::put_fixed64(out, lsmt::detail::manifest_magic);
  lsmt::detail::put_fixed32(out, version);
  lsmt::detail::put_fixed32(out, static_cast<uint32_t>(payload.size()));
  out += payload;
  lsmt::detail::put_fixed32(
      out, lsmt::detail::crc32c::mask(lsmt::detail::crc32c::value(payload.data(), payload.size())));
  return out;
}

std::string payload_header(uint64_t next_file, uint64_t last_seq, uint64_t log, uint32_t count) {
  std::string p;
  lsmt::detail::put_varint64(p, next_file);
  lsmt::detail::put_varint64(p, last_seq);
  lsmt::detail::put_varint64(p, log);
  lsmt::detail::put_fixed64(p, 0x5eed);  // store_id
  lsmt::detail::put_varint32(p, count);
  return p;
}

// A table entry; with a level, a version 4 entry, else a version 3 one.
void put_table(std::string& p, uint64_t number, const std::string& smallest,
               const std::string& largest, int level = -1) {
  if (level >= 0) lsmt::detail::put_varint32(p, static_cast<uint32_t>(level));
  lsmt::detail::put_varint64(p, number);
  lsmt::detail::put_varint64(p, 100);
  lsmt::detail::put_varint64(p, 10);
  lsmt::detail::put_length_prefixed(p, smallest);
  lsmt::detail::put_length_prefixed(p, largest);
}

}  // namespace

TEST_CASE("manifest: encode/decode round trip", "[manifest]") {
  const manifest_state s = sample_state();
  CHECK(same(lsmt::detail::decode_manifest(lsmt::detail::encode_manifest(s)), s));
  const manifest_state empty;
  CHECK(same(lsmt::detail::decode_manifest(lsmt::detail::encode_manifest(empty)), empty));
}

TEST_CASE("manifest: levels round-trip", "[manifest]") {
  manifest_state s = sample_state();
  s.tables[1].level = 2;  // "\0\xff" .. "\0\xff"
  s.tables[2].level = 6;
  CHECK(same(lsmt::detail::decode_manifest(lsmt::detail::encode_manifest(s)), s));
}

TEST_CASE("manifest: a version 3 MANIFEST reads as every table in level 0", "[manifest]") {
  std::string p = payload_header(10, 5, 9, 2);
  put_table(p, 4, ikey("a", 2), ikey("m", 2));
  put_table(p, 3, ikey("c", 1), ikey("z", 1));  // overlaps: level 0 allows it
  const manifest_state s = lsmt::detail::decode_manifest(wrap(p, 3));
  REQUIRE(s.tables.size() == 2);
  CHECK(s.tables[0].number == 4);
  CHECK(s.tables[0].level == 0);
  CHECK(s.tables[1].level == 0);
}

TEST_CASE("manifest: version 4 is written and read, older and later ones refused", "[manifest]") {
  manifest_state s = sample_state();
  s.store_id = 0x0123456789abcdef;
  const std::string v4 = lsmt::detail::encode_manifest(s);
  REQUIRE(lsmt::detail::decode_fixed32(v4.data() + 8) == 4);
  CHECK(lsmt::detail::decode_manifest(v4).store_id == s.store_id);
  for (const uint32_t bad : {0u, 1u, 2u, 5u, 0xffffffffu}) {
    std::string v = v4;  // the version is outside the checksummed payload
    lsmt::detail::encode_fixed32(&v[8], bad);
    try {
      (void)lsmt::detail::decode_manifest(v);
      FAIL("version " << bad << " was read");
    } catch (const lsmt::corruption_error& e) {
      // Versions 1 and 2 are named as an older lsmt's, so the user knows what to do.
      const bool older = std::string(e.what()).find("older lsmt") != std::string::npos;
      CHECK(older == (bad == 1 || bad == 2));
    }
  }
}

TEST_CASE("manifest: every bit flip and every truncation is rejected", "[manifest]") {
  const std::string good = lsmt::detail::encode_manifest(sample_state());
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      INFO("byte " << i << " bit " << bit);
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      CHECK_THROWS_AS(lsmt::detail::decode_manifest(bad), lsmt::corruption_error);
    }
  }
  for (size_t n = 0; n < good.size(); ++n) {
    INFO("truncated to " << n);
    CHECK_THROWS_AS(lsmt::detail::decode_manifest(good.substr(0, n)), lsmt::corruption_error);
  }
  CHECK_THROWS_AS(lsmt::detail::decode_manifest(good + '\0'), lsmt::corruption_error);
}

TEST_CASE("manifest: contents are validated beyond the checksum", "[manifest]") {
  const std::string a = ikey("a", 1);
  const std::string b = ikey("b", 1);
  const auto rejects = [](const std::string& payload) {
    CHECK_THROWS_AS(lsmt::detail::decode_manifest(wrap(payload)), lsmt::corruption_error);
  };
  {
    std::string ok = payload_header(10, 5, 9, 1);
    put_table(ok, 9, a, b);
    CHECK(lsmt::detail::decode_manifest(wrap(ok)).tables.size() == 1);
    rejects(ok + "x");  // trailing bytes
  }
  SECTION("huge counts and lengths are refused before anything is allocated") {
    rejects(payload_header(10, 5, 9, 0xffffffffu));
    std::string p = payload_header(10, 5, 9, 1);
    lsmt::detail::put_varint64(p, 1);
    lsmt::detail::put_varint64(p, 1);
    lsmt::detail::put_varint64(p, 1);
    lsmt::detail::put_varint32(p, 0xffffffffu);  // smallest key length
    p += std::string(100, 'k');
    rejects(p);
    rejects(std::string(11, '\xff'));  // a varint longer than 10 bytes
  }
  SECTION("table entries") {
    std::string p = payload_header(10, 5, 9, 1);
    put_table(p, 10, a, b);  // number >= next_file_number
    rejects(p);
    p = payload_header(10, 5, 9, 1);
    put_table(p, 1, b, a);  // smallest > largest
    rejects(p);
    p = payload_header(10, 5, 9, 1);
    put_table(p, 1, "short", b);  // not an internal key
    rejects(p);
    std::string bad_type = a;
    bad_type[bad_type.size() - 8] = 7;
    p = payload_header(10, 5, 9, 1);
    put_table(p, 1, bad_type, b);  // unknown value type
    rejects(p);
    p = payload_header(10, 5, 9, 2);
    put_table(p, 4, a, b);
    put_table(p, 4, a, b);  // duplicate number
    rejects(p);
    p = payload_header(10, 5, 9, 2);
    put_table(p, 4, a, b);  // count says 2, one present
    rejects(p);
  }
  SECTION("counters") {
    rejects(payload_header(10, 5, 11, 0));                              // log_number beyond next
    rejects(payload_header(10, lsmt::detail::max_sequence + 1, 9, 0));  // sequence overflow
  }
}

TEST_CASE("manifest: levels are validated: range, order, sorted runs without shared keys",
          "[manifest]") {
  const auto decode = [](const std::string& payload) {
    return lsmt::detail::decode_manifest(wrap(payload, 4));
  };
  const auto two = [](int l1, const std::string& a1, const std::string& b1, int l2,
                      const std::string& a2, const std::string& b2) {
    std::string p = payload_header(10, 5, 9, 2);
    put_table(p, 1, ikey(a1, 1), ikey(b1, 1), l1);
    put_table(p, 2, ikey(a2, 1), ikey(b2, 1), l2);
    return p;
  };
  CHECK(decode(two(0, "a", "z", 0, "b", "c")).tables.size() == 2);  // level 0 may overlap
  CHECK(decode(two(1, "a", "b", 1, "c", "d")).tables[1].level == 1);
  CHECK(decode(two(0, "a", "z", 6, "a", "z")).tables[1].level == 6);
  CHECK_THROWS_AS(decode(two(1, "a", "c", 1, "c", "d")), lsmt::corruption_error);  // shares "c"
  CHECK_THROWS_AS(decode(two(1, "c", "d", 1, "a", "b")), lsmt::corruption_error);  // key order
  CHECK_THROWS_AS(decode(two(2, "a", "b", 1, "c", "d")), lsmt::corruption_error);  // level order
  CHECK_THROWS_AS(decode(two(0, "a", "b", 7, "c", "d")), lsmt::corruption_error);  // range
  // One user key at two sequences is one key: it may not span two tables of a sorted level.
  std::string p = payload_header(10, 5, 9, 2);
  put_table(p, 1, ikey("a", 1), ikey("k", 9), 3);
  put_table(p, 2, ikey("k", 5), ikey("z", 1), 3);
  CHECK_THROWS_AS(decode(p), lsmt::corruption_error);
}

TEST_CASE("manifest: write_manifest replaces MANIFEST atomically", "[manifest]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  CHECK_FALSE(lsmt::detail::read_manifest(*fs, dir.str()).has_value());

  manifest_state s = sample_state();
  lsmt::detail::write_manifest(*fs, dir.str(), s);
  auto read = lsmt::detail::read_manifest(*fs, dir.str());
  REQUIRE(read.has_value());
  CHECK(same(*read, s));

  s.tables.pop_back();
  s.next_file_number = 400;
  lsmt::detail::write_manifest(*fs, dir.str(), s);
  read = lsmt::detail::read_manifest(*fs, dir.str());
  REQUIRE(read.has_value());
  CHECK(same(*read, s));
  CHECK(fs->list_directory(dir.str()) == std::vector<std::string>{"MANIFEST"});

  // A stale MANIFEST.tmp from a crash mid-write is simply overwritten.
  std::ofstream(dir.str() + "/MANIFEST.tmp") << "half-written";
  lsmt::detail::write_manifest(*fs, dir.str(), sample_state());
  CHECK(same(*lsmt::detail::read_manifest(*fs, dir.str()), sample_state()));
  CHECK(fs->list_directory(dir.str()) == std::vector<std::string>{"MANIFEST"});
}

TEST_CASE("manifest: a damaged MANIFEST on disk is a corruption_error naming it", "[manifest]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  lsmt::detail::write_manifest(*fs, dir.str(), sample_state());
  const std::string path = dir.str() + "/MANIFEST";
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 1);
  try {
    lsmt::detail::read_manifest(*fs, dir.str());
    FAIL("no exception");
  } catch (const lsmt::corruption_error& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);
  }
}

}  // namespace manifest_test_cpp
