// lsmt/crc32c.hpp - CRC-32C (Castagnoli), the checksum of every block, log record and manifest.
//
// CRC-32C rather than zlib's CRC-32 because x86-64 (SSE4.2) computes it with one instruction.
// Two implementations that must give identical results:
//   * hardware: the SSE4.2 `crc32` instruction, chosen at run time so one binary runs
//     everywhere. The instruction has a 3-cycle latency but a 1-cycle throughput, so long
//     inputs are split into three interleaved streams whose CRCs are merged afterwards.
//   * software: slicing-by-8 tables, for CPUs without SSE4.2 (and as the test oracle).
//
// All tables are computed at compile time (constexpr), so there is no initialization order
// to get wrong and nothing to lock.
//
// Thread safety: stateless functions over constant tables; safe from any thread.
#ifndef LSMT_CRC32C_HPP
#define LSMT_CRC32C_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "coding.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LSMT_CRC32C_X86 1
#include <nmmintrin.h>
#else
#define LSMT_CRC32C_X86 0
#endif

namespace lsmt::detail::crc32c {

/// The Castagnoli polynomial, bit-reflected (CRC-32C processes the least significant bit first).
inline constexpr uint32_t reflected_poly = 0x82f63b78u;

/// Multiplies a reflected CRC register by x (one zero bit through the shift register).
constexpr uint32_t times_x(uint32_t r) { return (r >> 1) ^ ((r & 1) ? reflected_poly : 0); }

/// a(x) * b(x) mod P(x), both reflected (bit 31 is the x^0 coefficient).
constexpr uint32_t multiply_mod_p(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1, b = times_x(b)) {
    if (a & m) product ^= b;
  }
  return product;
}

/// Slicing-by-8: t[k][b] is the CRC register contribution of byte b followed by k zero bytes,
/// so eight input bytes are folded with eight independent lookups instead of eight serial ones.
struct slicing_tables {
  uint32_t t[8][256];
};

constexpr slicing_tables make_slicing_tables() {
  slicing_tables s{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int bit = 0; bit < 8; ++bit) r = times_x(r);
    s.t[0][b] = r;
  }
  for (int k = 1; k < 8; ++k) {
    for (int b = 0; b < 256; ++b) s.t[k][b] = (s.t[k - 1][b] >> 8) ^ s.t[0][s.t[k - 1][b] & 0xff];
  }
  return s;
}

inline constexpr slicing_tables slicing = make_slicing_tables();

inline uint32_t software_extend(uint32_t crc, const char* data, size_t n) noexcept {
  const auto& t = slicing.t;
  uint32_t r = ~crc;
  for (; n >= 8; data += 8, n -= 8) {
    const uint32_t lo = decode_fixed32(data) ^ r;
    const uint32_t hi = decode_fixed32(data + 4);
    r = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
        t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
  }
  for (; n > 0; ++data, --n) r = t[0][(r ^ static_cast<unsigned char>(*data)) & 0xff] ^ (r >> 8);
  return ~r;
}

/// Bytes per stream in the hardware path: 3 * 256 = 768-byte chunks, so a 4 KiB block runs
/// five chunks interleaved and only a 256-byte tail at single-stream speed.
inline constexpr size_t stripe_bytes = 256;

/// Multiplying a register by x^(8 * stripe_bytes) ("appending stripe_bytes zero bytes") is
/// linear, so it is four byte-indexed table lookups. This merges the interleaved streams.
struct shift_tables {
  uint32_t t[4][256];
};

constexpr shift_tables make_shift_tables(size_t bytes) {
  uint32_t x_pow = 1u << 31;  // x^0
  for (size_t i = 0; i < 8 * bytes; ++i) x_pow = times_x(x_pow);
  shift_tables s{};
  for (int k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) s.t[k][b] = multiply_mod_p(x_pow, b << (8 * k));
  }
  return s;
}

inline constexpr shift_tables stripe_shift = make_shift_tables(stripe_bytes);

inline uint32_t shift_by_stripe(uint32_t r) noexcept {
  const auto& t = stripe_shift.t;
  return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
}

#if LSMT_CRC32C_X86
inline uint64_t load64(const char* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);  // x86 is little-endian, as the crc32 instruction expects
  return v;
}

__attribute__((target("sse4.2"))) inline uint32_t hardware_extend(uint32_t crc, const char* data,
                                                                  size_t n) noexcept {
  uint64_t r0 = ~crc;
  for (; n >= 3 * stripe_bytes; data += 3 * stripe_bytes, n -= 3 * stripe_bytes) {
    // Streams 1 and 2 start from a zero register; because the CRC register is linear,
    // crc(A|B|C) = shift(shift(crc(A)) ^ crc0(B)) ^ crc0(C).
    uint64_t r1 = 0;
    uint64_t r2 = 0;
    for (size_t i = 0; i < stripe_bytes; i += 8) {
      r0 = _mm_crc32_u64(r0, load64(data + i));
      r1 = _mm_crc32_u64(r1, load64(data + stripe_bytes + i));
      r2 = _mm_crc32_u64(r2, load64(data + 2 * stripe_bytes + i));
    }
    r0 = shift_by_stripe(shift_by_stripe(static_cast<uint32_t>(r0)) ^ static_cast<uint32_t>(r1)) ^
         r2;
  }
  for (; n >= 8; data += 8, n -= 8) r0 = _mm_crc32_u64(r0, load64(data));
  auto r = static_cast<uint32_t>(r0);
  for (; n > 0; ++data, --n) r = _mm_crc32_u8(r, static_cast<unsigned char>(*data));
  return ~r;
}
#endif

/// True when extend() uses the SSE4.2 instruction.
inline bool hardware_supported() noexcept {
#if LSMT_CRC32C_X86
  static const bool supported = [] {
    __builtin_cpu_init();  // required if we run before the runtime's own constructors
    return __builtin_cpu_supports("sse4.2") != 0;
  }();
  return supported;
#else
  return false;
#endif
}

/// CRC-32C of (the data whose CRC is `crc`) followed by data[0, n).
inline uint32_t extend(uint32_t crc, const char* data, size_t n) noexcept {
#if LSMT_CRC32C_X86
  if (hardware_supported()) return hardware_extend(crc, data, n);
#endif
  return software_extend(crc, data, n);
}

/// CRC-32C of data[0, n).
inline uint32_t value(const char* data, size_t n) noexcept { return extend(0, data, n); }

inline constexpr uint32_t mask_delta = 0xa282ead8u;

/// The CRC of a string that itself embeds CRCs is weak (e.g. crc(x | crc(x)) is a constant), so
/// stored CRCs are rotated and offset first.
inline uint32_t mask(uint32_t crc) noexcept { return ((crc >> 15) | (crc << 17)) + mask_delta; }

inline uint32_t unmask(uint32_t masked) noexcept {
  const uint32_t rot = masked - mask_delta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace lsmt::detail::crc32c

#endif  // LSMT_CRC32C_HPP
