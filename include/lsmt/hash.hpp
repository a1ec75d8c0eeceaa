// lsmt/hash.hpp - hash64, the 64-bit key hash behind bloom filters and in-memory tables.
//
// A multiply-fold hash: 16 input bytes at a time are combined with the running state by one
// 64x64->128-bit multiply whose two halves are xor-ed together, which mixes every input bit
// into every output bit at about a byte per cycle. Not cryptographic and not seeded: keys are
// not adversarial and the result is persisted.
//
// hash64 is PART OF THE ON-DISK FORMAT (bloom filters store bits chosen by it): its result must
// never change, and it reads bytes explicitly little-endian so it is the same on every platform.
//
// Thread safety: stateless; safe from any thread.
#ifndef LSMT_HASH_HPP
#define LSMT_HASH_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "coding.hpp"

namespace lsmt::detail {

namespace hash_constants {
// Arbitrary odd 64-bit constants with about half their bits set.
inline constexpr uint64_t k0 = 0x9e3779b97f4a7c15ull;
inline constexpr uint64_t k1 = 0xbf58476d1ce4e5b9ull;
inline constexpr uint64_t k2 = 0x94d049bb133111ebull;
}  // namespace hash_constants

/// Low and high halves of the 128-bit product, xor-ed: a cheap, strong 64-bit mixer.
inline uint64_t multiply_fold(uint64_t a, uint64_t b) noexcept {
#ifdef __SIZEOF_INT128__
  __extension__ using u128 = unsigned __int128;
  const u128 p = static_cast<u128>(a) * b;
  return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
#else
  const uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32, b_lo = b & 0xffffffffu, b_hi = b >> 32;
  const uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi, hl = a_hi * b_lo, hh = a_hi * b_hi;
  const uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
  const uint64_t lo = (ll & 0xffffffffu) | (mid << 32);
  const uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
  return lo ^ hi;
#endif
}

inline uint64_t hash64(std::string_view key) noexcept {
  using namespace hash_constants;
  const char* p = key.data();
  const size_t n = key.size();
  uint64_t state = k0 ^ (n * k1);  // the length is mixed in so "a" and "a\0" differ
  uint64_t a = 0;
  uint64_t b = 0;
  if (n <= 16) {
    // Two possibly overlapping windows cover every byte without a byte-by-byte tail loop.
    if (n >= 8) {
      a = decode_fixed64(p);
      b = decode_fixed64(p + n - 8);
    } else if (n >= 4) {
      a = decode_fixed32(p);
      b = decode_fixed32(p + n - 4);
    } else if (n > 0) {
      a = (static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
          (static_cast<uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8) |
          static_cast<unsigned char>(p[n - 1]);
    }
  } else {
    size_t left = n;
    for (; left > 16; p += 16, left -= 16) {
      state = multiply_fold(decode_fixed64(p) ^ k1, decode_fixed64(p + 8) ^ state);
    }
    a = decode_fixed64(p + left - 16);  // the last 16 bytes, overlapping earlier ones if needed
    b = decode_fixed64(p + left - 8);
  }
  return multiply_fold(multiply_fold(a ^ k1, b ^ state), k2 ^ n);
}

}  // namespace lsmt::detail

#endif  // LSMT_HASH_HPP
