// tests/bloom_test.cpp - the bloom filter (lsmt/bloom.hpp) and the hash it uses (lsmt/hash.hpp):
// no false negatives, a low false-positive rate, the documented format, and malformed filters
// that match everything without reading out of bounds.
#include "lsmt/bloom.hpp"

#include <random>
#include <string>
#include <vector>

#include "lsmt/coding.hpp"
#include "lsmt/hash.hpp"
#include "test_catch.hpp"

namespace bloom_test_cpp {

using lsmt::detail::bloom_builder;
using lsmt::detail::bloom_may_match;
using lsmt::detail::bloom_may_match_hash;
using lsmt::detail::hash64;

namespace {
std::string key_of(uint64_t i) {
  std::string k;
  lsmt::detail::put_fixed64(k, i);
  return "key" + k;
}

std::string build(int bits_per_key, uint64_t first, uint64_t count) {
  bloom_builder b(bits_per_key);
  for (uint64_t i = first; i < first + count; ++i) b.add_key(key_of(i));
  return b.finish();
}

double fp_rate(const std::string& filter, uint64_t first, uint64_t count) {
  uint64_t hits = 0;
  for (uint64_t i = first; i < first + count; ++i) hits += bloom_may_match(filter, key_of(i));
  return static_cast<double>(hits) / static_cast<double>(count);
}
}  // namespace

TEST_CASE("bloom: hash64 is stable and sensitive to every byte", "[bloom]") {
  CHECK(hash64("") == hash64(std::string_view()));
  CHECK(hash64("a") != hash64(std::string_view("a\0", 2)));
  // Flipping any bit of keys of every length up to 40 changes the hash.
  std::mt19937_64 rng(1);
  for (size_t n = 1; n <= 40; ++n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    const uint64_t h = hash64(s);
    for (size_t bit = 0; bit < 8 * n; ++bit) {
      std::string t = s;
      t[bit / 8] = static_cast<char>(t[bit / 8] ^ (1 << (bit % 8)));
      REQUIRE(hash64(t) != h);
    }
  }
}

TEST_CASE("bloom: empty and disabled filters", "[bloom]") {
  CHECK(build(0, 0, 100).empty());
  CHECK(build(-3, 0, 100).empty());
  CHECK(bloom_may_match("", "anything"));
  // A table without keys gets a real filter that rejects everything.
  const std::string none = build(10, 0, 0);
  CHECK(none.size() == 64 + 6);
  CHECK_FALSE(bloom_may_match(none, "x"));
  CHECK_FALSE(bloom_may_match(none, ""));
}

TEST_CASE("bloom: no false negatives, low false-positive rate", "[bloom]") {
  for (uint64_t n : {1u, 10u, 100u, 1000u, 10000u, 100000u}) {
    const std::string filter = build(10, 0, n);
    INFO("n = " << n);
    for (uint64_t i = 0; i < n; ++i) REQUIRE(bloom_may_match(filter, key_of(i)));
    if (n >= 1000) {
      const double rate = fp_rate(filter, 1'000'000'000, 100000);
      INFO("false-positive rate " << rate);
      CHECK(rate < 0.02);
    }
  }
}

TEST_CASE("bloom: format trailer and probe count", "[bloom]") {
  const std::string filter = build(10, 0, 1000);
  const size_t blocks = (1000 * 10 + 511) / 512;
  REQUIRE(filter.size() == blocks * 64 + 6);
  const char* trailer = filter.data() + filter.size() - 6;
  CHECK(lsmt::detail::decode_fixed32(trailer) == blocks);
  CHECK(trailer[4] == 7);  // round(10 * 0.69)
  CHECK(trailer[5] == 1);
  CHECK(build(1, 0, 10)[build(1, 0, 10).size() - 2] == 1);
  CHECK(build(100, 0, 10)[build(100, 0, 10).size() - 2] == 30);
  // The builder resets after finish().
  bloom_builder b(10);
  b.add_key("a");
  CHECK(bloom_may_match(b.finish(), "a"));
  CHECK_FALSE(bloom_may_match(b.finish(), "a"));
}

TEST_CASE("bloom: malformed filters match everything and stay in bounds", "[bloom]") {
  const std::string good = build(10, 0, 1000);
  auto with_trailer = [&](uint32_t blocks, int probes, int version) {
    std::string f = good;
    char* t = f.data() + f.size() - 6;
    lsmt::detail::encode_fixed32(t, blocks);
    t[4] = static_cast<char>(probes);
    t[5] = static_cast<char>(version);
    return f;
  };
  const uint32_t real_blocks = static_cast<uint32_t>((good.size() - 6) / 64);
  const std::vector<std::string> bad = {
      std::string(),
      std::string(5, '\0'),
      std::string(6, '\0'),                 // zero blocks
      good.substr(0, good.size() - 1),      // short
      good.substr(1),                       // size not matching num_blocks
      good + "x",                           // trailing garbage
      with_trailer(0, 7, 1),                // zero blocks
      with_trailer(real_blocks + 1, 7, 1),  // more blocks than bytes
      with_trailer(0xffffffffu, 7, 1),      // absurd block count
      with_trailer(real_blocks, 0, 1),      // no probes
      with_trailer(real_blocks, 31, 1),     // too many probes
      with_trailer(real_blocks, 255, 1),
      with_trailer(real_blocks, 7, 2),  // unknown version
  };
  for (const auto& f : bad) {
    // Copy into an exactly sized heap buffer so ASan catches any read past the end.
    const std::vector<char> exact(f.begin(), f.end());
    const std::string_view view(exact.data(), exact.size());
    for (uint64_t i = 0; i < 1000; ++i) REQUIRE(bloom_may_match(view, key_of(i + 5000)));
  }

  // Random bytes: whatever they claim, queries must not read out of bounds (ASan) and a
  // structurally valid random filter is allowed to answer either way.
  std::mt19937_64 rng(3);
  for (int round = 0; round < 2000; ++round) {
    const size_t n = rng() % 300;
    std::vector<char> bytes(n);
    for (auto& c : bytes) c = static_cast<char>(rng());
    if (n >= 6 && round % 2 == 0) {  // make the size field consistent half of the time
      const size_t blocks = (n - 6) / 64;
      bytes.resize(blocks * 64 + 6);
      lsmt::detail::encode_fixed32(bytes.data() + bytes.size() - 6, static_cast<uint32_t>(blocks));
      bytes.back() = 1;
    }
    const std::string_view view(bytes.data(), bytes.size());
    for (int i = 0; i < 50; ++i) (void)bloom_may_match_hash(view, rng());
  }
}

}  // namespace bloom_test_cpp
