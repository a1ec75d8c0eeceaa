// tests/codec_test.cpp - typed stores through lsmt::codec: integer keys in numeric order
// (negatives first), byte-vector values, a user-defined codec for a struct, a codec that reads
// the store while a put encodes, and values of the wrong size failing with corruption_error.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using lsmt_test::opt_str;
using lsmt_test::rwx_r_x;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

TEST_CASE("codec: db<int64_t, std::string> orders keys numerically, negatives first", "[codec]") {
  LSMT_TEST_RNG(rng);
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  using int_db = lsmt::db<int64_t, std::string>;
  constexpr int64_t lo = std::numeric_limits<int64_t>::min();
  constexpr int64_t hi = std::numeric_limits<int64_t>::max();
  std::map<int64_t, std::string> model;
  {
    int_db d(dir, rwx_r_x, 50, 4, 2);
    for (int64_t k : {lo, lo + 1, int64_t{-256}, int64_t{-255}, int64_t{-1}, int64_t{0}, int64_t{1},
                      int64_t{255}, int64_t{256}, hi - 1, hi}) {
      model[k] = std::to_string(k);
    }
    for (int i = 0; i < 300; ++i) {
      const auto k = static_cast<int64_t>(rng());
      model[k] = std::to_string(k);
    }
    for (const auto& [k, v] : model) d.put(k, v);
    d.erase(int64_t{255});
    model.erase(255);

    std::vector<int64_t> got;
    for (const auto& [k, v] : d.scan()) {
      got.push_back(k);
      CHECK(v == std::to_string(k));
    }
    std::vector<int64_t> want;
    for (const auto& kv : model) want.push_back(kv.first);
    CHECK(got == want);

    // range queries use numeric bounds
    const auto mid = d.range(-256, 256).to_vector();
    REQUIRE(mid.size() == 6);  // -256 -255 -1 0 1 256 (255 deleted); a random key here: ~2^-46
    CHECK(mid.front().first == -256);
    CHECK(mid.back().first == 256);
    CHECK(d.greater_than(hi - 1).to_vector() ==
          std::vector<std::pair<int64_t, std::string>>{{hi, std::to_string(hi)}});
    CHECK(d.less_than(lo + 1).to_vector().size() == 1);
    CHECK(d.less_than(0).to_vector().size() ==
          static_cast<size_t>(std::distance(model.begin(), model.lower_bound(0))));
    CHECK(d.greater_or_equal(0).to_vector().size() ==
          static_cast<size_t>(std::distance(model.lower_bound(0), model.end())));
    CHECK(d.get(lo) == opt_str(std::to_string(lo)));
    CHECK(d.get(-1) == opt_str("-1"));
    CHECK_FALSE(d.get(255).has_value());

    // iterator: seek to a negative key and walk backwards across zero
    auto it = d.new_iterator();
    it.seek(1);
    REQUIRE(it.valid());
    CHECK(it.key() == 1);
    it.prev();
    REQUIRE(it.valid());
    CHECK(it.key() == 0);
    it.prev();
    REQUIRE(it.valid());
    CHECK(it.key() == -1);
  }
  int_db d(dir, rwx_r_x, 50, 4, 2);
  d.compact();
  std::vector<int64_t> got;
  for (const auto& kv : d.scan()) got.push_back(kv.first);
  CHECK(got.size() == model.size());
  CHECK(std::is_sorted(got.begin(), got.end()));
  CHECK(got.front() == lo);
  CHECK(got.back() == hi);
}

TEST_CASE("codec: db<uint32_t, std::vector<uint8_t>>", "[codec]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  using bytes = std::vector<uint8_t>;
  using u32_db = lsmt::db<uint32_t, bytes>;
  const std::vector<uint32_t> keys = {0u,     1u,          255u,        256u,        65535u,
                                      65536u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu};
  auto value_for = [](uint32_t k) {
    return bytes{0x00, 0xff, static_cast<uint8_t>(k & 0xff), static_cast<uint8_t>(k >> 24), 0x00};
  };
  {
    u32_db d(dir, rwx_r_x, 3, 4, 2);
    for (auto it = keys.rbegin(); it != keys.rend(); ++it) d.put(*it, value_for(*it));
    d.put(42u, bytes{});  // empty byte vector
    d.flush();
  }
  u32_db d(dir, rwx_r_x, 3, 4, 2);
  std::vector<uint32_t> got;
  for (const auto& [k, v] : d.scan()) {
    got.push_back(k);
    if (k != 42u) CHECK(v == value_for(k));
  }
  std::vector<uint32_t> want = keys;
  want.insert(want.begin() + 2, 42u);
  CHECK(got == want);
  CHECK(d.get(42u) == std::optional<bytes>(bytes{}));
  CHECK(d.get(0xffffffffu) == std::optional<bytes>(value_for(0xffffffffu)));
  CHECK_FALSE(d.get(2u).has_value());
  CHECK(d.range(256u, 0x80000000u).to_vector().size() == 5);
}

// A user-defined codec, as lsmt/codec.hpp documents: (x, y) ordered by x, then y.
namespace codec_test {
struct point {
  int32_t x = 0;
  int32_t y = 0;
  friend bool operator==(const point& a, const point& b) { return a.x == b.x && a.y == b.y; }
  friend bool operator<(const point& a, const point& b) {
    return a.x != b.x ? a.x < b.x : a.y < b.y;
  }
};
}  // namespace codec_test

template <>
struct lsmt::codec<codec_test::point> {
  static void encode(const codec_test::point& p, std::string& out) {
    lsmt::codec<int32_t>::encode(p.x, out);
    lsmt::codec<int32_t>::encode(p.y, out);
  }
  static codec_test::point decode(std::string_view bytes) {
    if (bytes.size() != 8) throw lsmt::corruption_error("point: expected 8 bytes");
    return {lsmt::codec<int32_t>::decode(bytes.substr(0, 4)),
            lsmt::codec<int32_t>::decode(bytes.substr(4, 4))};
  }
};

namespace codec_test {
// A value codec that reads the store while encoding (say, to look up a dictionary entry):
// single-key calls reuse per-thread buffers, and the nested read must not disturb them.
struct looked_up_value {
  std::string text;
};
struct lookup_codec;
using lookup_db = lsmt::db<std::string, looked_up_value, lsmt::codec<std::string>, lookup_codec>;
inline lookup_db* lookup_store = nullptr;
struct lookup_codec {
  static void encode(const looked_up_value& v, std::string& out) {
    out.append(v.text);
    if (lookup_store != nullptr) {
      const auto suffix = lookup_store->get("suffix");
      if (suffix) out.append(suffix->text);
    }
  }
  static looked_up_value decode(std::string_view bytes) { return {std::string(bytes)}; }
};
}  // namespace codec_test

TEST_CASE("codec: a codec that reads the store while a put encodes", "[codec]") {
  using codec_test::lookup_db;
  temp_dir tmp;
  lookup_db d(tmp.sub("db"), rwx_r_x, 1000, 4, 2);
  d.put("suffix", {"-sfx"});
  codec_test::lookup_store = &d;
  d.put("alpha", {"a"});  // encode() calls d.get("suffix") in the middle of the put
  d.put(std::string(100000, 'k'), {std::string(100000, 'v')});  // beyond the kept 64 KiB
  d.put("beta", {"b"});
  codec_test::lookup_store = nullptr;
  const auto alpha = d.get("alpha");
  REQUIRE(alpha.has_value());
  CHECK(alpha->text == "a-sfx");
  CHECK(d.get("beta")->text == "b-sfx");
  CHECK(d.get(std::string(100000, 'k'))->text == std::string(100000, 'v') + "-sfx");
  CHECK(d.get("suffix")->text == "-sfx");
  std::vector<std::string> keys;
  for (const auto& [k, v] : d.scan()) keys.push_back(k.substr(0, 8));
  CHECK(keys == std::vector<std::string>{"alpha", "beta", "kkkkkkkk", "suffix"});
}

TEST_CASE("codec: a user-defined codec for a struct", "[codec]") {
  using codec_test::point;
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  using point_db = lsmt::db<point, point>;
  std::vector<point> pts;
  for (int32_t x : {-3, -1, 0, 2}) {
    for (int32_t y : {-2, 0, 5}) pts.push_back({x, y});
  }
  {
    point_db d(dir, rwx_r_x, 4, 4, 2);
    for (auto it = pts.rbegin(); it != pts.rend(); ++it) d.put(*it, point{it->y, it->x});
  }
  point_db d(dir, rwx_r_x, 4, 4, 2);
  std::vector<point> got;
  for (const auto& [k, v] : d.scan()) {
    got.push_back(k);
    CHECK(v == point{k.y, k.x});
  }
  CHECK(std::is_sorted(pts.begin(), pts.end()));
  CHECK(got == pts);
  CHECK(d.get(point{-1, 5}) == std::optional<point>(point{5, -1}));
  // all points with x == 0, via a range over the struct's order
  const auto row = d.range(point{0, std::numeric_limits<int32_t>::min()},
                           point{0, std::numeric_limits<int32_t>::max()})
                       .to_vector();
  REQUIRE(row.size() == 3);
  CHECK(row[0].first == point{0, -2});
  CHECK(row[2].first == point{0, 5});
}

TEST_CASE("codec: decoding a wrong-size integer throws corruption_error", "[codec]") {
  CHECK_THROWS_AS(lsmt::codec<int64_t>::decode("abc"), lsmt::corruption_error);
  CHECK_THROWS_AS(lsmt::codec<int64_t>::decode(""), lsmt::corruption_error);
  CHECK_THROWS_AS(lsmt::codec<uint32_t>::decode("12345"), lsmt::corruption_error);
  CHECK_THROWS_AS(lsmt::codec<int16_t>::decode("x"), lsmt::corruption_error);
  CHECK(lsmt::codec<uint32_t>::decode(std::string("\x00\x00\x01\x02", 4)) == 0x0102u);
  CHECK(lsmt::codec<int8_t>::decode(std::string("\x7f", 1)) == -1);
  try {
    lsmt::codec<int32_t>::decode("toolong");
    FAIL("no exception");
  } catch (const lsmt::corruption_error& e) {
    CHECK(e.code() == lsmt::errc::corruption);
  }

  // Through a store: bytes written by a db<string, string> read back as integers.
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    str_db d(dir, rwx_r_x, 100, 8, 2);
    d.put("abc", "not-four");
  }
  {
    lsmt::db<std::string, uint32_t> d(dir, rwx_r_x, 100, 8, 2);
    CHECK_THROWS_AS(d.get("abc"), lsmt::corruption_error);
    CHECK(d.contains("abc"));  // contains does not decode
  }
  lsmt::db<int64_t, std::string> d(dir, rwx_r_x, 100, 8, 2);
  CHECK_THROWS_AS(d.scan().to_vector(), lsmt::corruption_error);
  auto it = d.new_iterator();
  it.seek_to_first();
  REQUIRE(it.valid());
  CHECK(it.raw_key() == "abc");
  CHECK_THROWS_AS(it.key(), lsmt::corruption_error);
}

TEST_CASE("codec: a string store takes std::string_view keys and values without copies",
          "[codec]") {
  static_assert(std::is_same_v<str_db::key_arg, std::string_view>);
  static_assert(std::is_same_v<str_db::value_arg, std::string_view>);
  static_assert(std::is_same_v<str_db::batch::key_arg, std::string_view>);
  static_assert(std::is_same_v<lsmt::db<int64_t, std::string>::key_arg, const int64_t&>);
  temp_dir tmp;
  str_db d(tmp.sub("db"));
  const std::string backing = "key-1|value-1|key-2|key-3";
  const std::string_view all(backing);
  const std::string_view k1 = all.substr(0, 5);
  const std::string_view v1 = all.substr(6, 7);
  const std::string_view k2 = all.substr(14, 5);
  const std::string_view k3 = all.substr(20, 5);
  d.put(k1, v1);
  d.put(std::string("key-2"), "literal");  // std::string and literals still work
  CHECK(d.get(k1) == "value-1");
  CHECK(d.get("key-1") == "value-1");
  CHECK(d.contains(k2));
  str_db::batch b;
  b.put(k3, v1);
  b.erase(k2);
  d.write(b);
  CHECK(d.get(k3) == "value-1");
  CHECK_FALSE(d.contains(k2));
  d.erase(k1);
  CHECK_FALSE(d.get(k1).has_value());
  d.delete_range(all.substr(0, 4), "key-4");  // ["key-", "key-4"): everything
  CHECK(d.scan().to_vector().empty());
  // A view that is not NUL-terminated, and one holding NUL bytes, are read by their length.
  const std::string nul("a\0b", 3);
  d.put(std::string_view(nul), std::string_view(nul).substr(1));
  CHECK(d.get(std::string_view(nul)) == std::string("\0b", 2));
  CHECK_FALSE(d.contains(std::string_view(nul).substr(0, 1)));
}
