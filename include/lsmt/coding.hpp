// lsmt/coding.hpp - little-endian fixed-width and varint encodings.
//
// Every integer lsmt writes to disk goes through these functions:
//   fixed32 / fixed64  4 or 8 bytes, least significant byte first
//   varint32 / varint64  7 bits per byte, low groups first, high bit = "more"
//   length-prefixed    varint32 length, then that many bytes
//
// Decoders take the remaining input as a std::string_view, advance it past
// what they consumed, and return false (leaving the output unspecified) when
// the input is truncated or malformed. They never read past the view.
//
// Thread safety: stateless functions; safe from any thread.
#ifndef LSMT_CODING_HPP
#define LSMT_CODING_HPP

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace lsmt::detail {

// On a little-endian machine the encoding is the in-memory layout, so these are plain
// (unaligned) loads and stores; the portable loops are for the other byte orders.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LSMT_LITTLE_ENDIAN 1
#else
#define LSMT_LITTLE_ENDIAN 0
#endif

inline void encode_fixed32(char* dst, uint32_t v) noexcept {
#if LSMT_LITTLE_ENDIAN
  std::memcpy(dst, &v, 4);
#else
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>((v >> (8 * i)) & 0xff);
#endif
}

inline void encode_fixed64(char* dst, uint64_t v) noexcept {
#if LSMT_LITTLE_ENDIAN
  std::memcpy(dst, &v, 8);
#else
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>((v >> (8 * i)) & 0xff);
#endif
}

inline uint32_t decode_fixed32(const char* p) noexcept {
#if LSMT_LITTLE_ENDIAN
  uint32_t v = 0;
  std::memcpy(&v, p, 4);
  return v;
#else
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
         (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
#endif
}

inline uint64_t decode_fixed64(const char* p) noexcept {
#if LSMT_LITTLE_ENDIAN
  uint64_t v = 0;
  std::memcpy(&v, p, 8);
  return v;
#else
  return static_cast<uint64_t>(decode_fixed32(p)) |
         (static_cast<uint64_t>(decode_fixed32(p + 4)) << 32);
#endif
}

inline void put_fixed32(std::string& dst, uint32_t v) {
  char buf[4];
  encode_fixed32(buf, v);
  dst.append(buf, 4);
}

inline void put_fixed64(std::string& dst, uint64_t v) {
  char buf[8];
  encode_fixed64(buf, v);
  dst.append(buf, 8);
}

/// Writes v as a varint at dst (at most 10 bytes); returns the end.
inline char* encode_varint64(char* dst, uint64_t v) noexcept {
  auto* p = reinterpret_cast<unsigned char*>(dst);
  while (v >= 0x80) {
    *p++ = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<unsigned char>(v);
  return reinterpret_cast<char*>(p);
}

inline void put_varint32(std::string& dst, uint32_t v) {
  char buf[5];
  dst.append(buf, static_cast<size_t>(encode_varint64(buf, v) - buf));
}

inline void put_varint64(std::string& dst, uint64_t v) {
  char buf[10];
  dst.append(buf, static_cast<size_t>(encode_varint64(buf, v) - buf));
}

inline int varint_length(uint64_t v) noexcept {
  int len = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++len;
  }
  return len;
}

/// Decodes a varint from [p, limit); returns the byte after it, or nullptr if
/// the varint is truncated or longer than `max_bytes` (5 for 32-bit, 10 for 64-bit).
inline const char* decode_varint(const char* p, const char* limit, uint64_t* v,
                                 int max_bytes = 10) noexcept {
  uint64_t result = 0;
  for (int shift = 0, i = 0; i < max_bytes && p < limit; shift += 7, ++i) {
    const auto byte = static_cast<unsigned char>(*p++);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return p;
    }
  }
  return nullptr;
}

inline bool get_varint64(std::string_view& in, uint64_t* v) noexcept {
  const char* end = decode_varint(in.data(), in.data() + in.size(), v, 10);
  if (end == nullptr) return false;
  in.remove_prefix(static_cast<size_t>(end - in.data()));
  return true;
}

inline bool get_varint32(std::string_view& in, uint32_t* v) noexcept {
  uint64_t wide = 0;
  const char* end = decode_varint(in.data(), in.data() + in.size(), &wide, 5);
  if (end == nullptr || wide > UINT32_MAX) return false;
  *v = static_cast<uint32_t>(wide);
  in.remove_prefix(static_cast<size_t>(end - in.data()));
  return true;
}

inline bool get_fixed32(std::string_view& in, uint32_t* v) noexcept {
  if (in.size() < 4) return false;
  *v = decode_fixed32(in.data());
  in.remove_prefix(4);
  return true;
}

inline bool get_fixed64(std::string_view& in, uint64_t* v) noexcept {
  if (in.size() < 8) return false;
  *v = decode_fixed64(in.data());
  in.remove_prefix(8);
  return true;
}

inline void put_length_prefixed(std::string& dst, std::string_view s) {
  put_varint32(dst, static_cast<uint32_t>(s.size()));
  dst.append(s.data(), s.size());
}

/// Reads a length-prefixed slice; the length is checked against the input
/// before anything is used, so a corrupt length can never read out of bounds.
inline bool get_length_prefixed(std::string_view& in, std::string_view* out) noexcept {
  uint32_t len = 0;
  std::string_view probe = in;
  if (!get_varint32(probe, &len) || probe.size() < len) return false;
  *out = probe.substr(0, len);
  probe.remove_prefix(len);
  in = probe;
  return true;
}

/// Asks the CPU to start loading the cache line holding p, so that a later read of it does not
/// wait for memory: a hint, with no effect on a compiler without the builtin.
inline void prefetch_line(const void* p) noexcept {
#if defined(__GNUC__)
  __builtin_prefetch(p);
#else
  static_cast<void>(p);
#endif
}

/// prefetch_line for both lines a 64-byte block may span when it is not line-aligned.
inline void prefetch_block64(const void* p) noexcept {
  prefetch_line(p);
  prefetch_line(static_cast<const char*>(p) + 63);
}

}  // namespace lsmt::detail

#endif  // LSMT_CODING_HPP
