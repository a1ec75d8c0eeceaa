// tests/crc32c_test.cpp - CRC32C (lsmt/crc32c.hpp): standard vectors, the hardware and software
// paths agreeing, extend() composing, and the stored-checksum mask.
#include "lsmt/crc32c.hpp"

#include <random>
#include <string>

#include "test_catch.hpp"

namespace crc32c_test_cpp {

namespace crc32c = lsmt::detail::crc32c;

namespace {
std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Bit-at-a-time CRC-32C straight from the definition: the oracle for the table code.
uint32_t reference_crc(const std::string& s) {
  uint32_t r = ~0u;
  for (const char c : s) {
    r ^= static_cast<unsigned char>(c);
    for (int i = 0; i < 8; ++i) r = (r >> 1) ^ ((r & 1) ? 0x82f63b78u : 0);
  }
  return ~r;
}
}  // namespace

TEST_CASE("crc32c: standard test vectors", "[crc32c]") {
  const std::string digits = "123456789";
  const std::string zeros(32, '\0'), ones(32, '\xff');
  std::string ascending(32, '\0'), descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  CHECK(crc32c::value(digits.data(), digits.size()) == 0xE3069283u);
  CHECK(crc32c::value(zeros.data(), zeros.size()) == 0x8A9136AAu);
  CHECK(crc32c::value(ones.data(), ones.size()) == 0x62A8AB43u);
  CHECK(crc32c::value(ascending.data(), ascending.size()) == 0x46DD794Eu);  // RFC 3720 B.4
  CHECK(crc32c::value(descending.data(), descending.size()) == 0x113FDB5Cu);
  CHECK(crc32c::value(nullptr, 0) == 0);
  for (const std::string& s : {digits, zeros, ones, ascending}) {
    CHECK(crc32c::software_extend(0, s.data(), s.size()) == reference_crc(s));
  }
}

TEST_CASE("crc32c: hardware and software agree on random data", "[crc32c]") {
  std::mt19937_64 rng(42);
  // Lengths around every path boundary: bytes, words, one and several 768-byte chunks.
  for (size_t n = 0; n < 5000; n += (n < 1600 ? 1 : 97)) {
    const std::string s = random_bytes(rng, n + 8);
    for (size_t misalign : {size_t{0}, size_t{3}}) {
      const char* p = s.data() + misalign;
      const uint32_t sw = crc32c::software_extend(0, p, n);
      if (n < 300) REQUIRE(sw == reference_crc(std::string(p, n)));
      REQUIRE(crc32c::value(p, n) == sw);
#if LSMT_CRC32C_X86
      if (crc32c::hardware_supported()) REQUIRE(crc32c::hardware_extend(0, p, n) == sw);
#endif
    }
  }
  INFO("hardware path available: " << crc32c::hardware_supported());
  SUCCEED();
}

TEST_CASE("crc32c: extend composes", "[crc32c]") {
  std::mt19937_64 rng(7);
  const std::string s = random_bytes(rng, 10000);
  const uint32_t whole = crc32c::value(s.data(), s.size());
  for (size_t split : {size_t{0}, size_t{1}, size_t{767}, size_t{768}, size_t{4096}, s.size()}) {
    const uint32_t head = crc32c::value(s.data(), split);
    CHECK(crc32c::extend(head, s.data() + split, s.size() - split) == whole);
    CHECK(crc32c::software_extend(head, s.data() + split, s.size() - split) == whole);
  }
  CHECK(crc32c::value(s.data(), 1000) != crc32c::value(s.data() + 1, 1000));
}

TEST_CASE("crc32c: mask", "[crc32c]") {
  const std::string foo = "foo";
  const uint32_t crc = crc32c::value(foo.data(), foo.size());
  CHECK(crc32c::mask(crc) != crc);
  CHECK(crc32c::mask(crc32c::mask(crc)) != crc);
  CHECK(crc32c::unmask(crc32c::mask(crc)) == crc);
  CHECK(crc32c::unmask(crc32c::unmask(crc32c::mask(crc32c::mask(crc)))) == crc);
  for (uint32_t v : {0u, 1u, 0xffffffffu, 0x80000000u, 0xa282ead8u}) {
    CHECK(crc32c::unmask(crc32c::mask(v)) == v);
  }
}

}  // namespace crc32c_test_cpp
