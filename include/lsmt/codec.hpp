// lsmt/codec.hpp - how typed keys and values become bytes.
//
// The engine stores and orders raw bytes (bytewise, like memcmp). A db<Key,
// Value> turns its keys and values into bytes with codec<T>:
//
//   template <> struct lsmt::codec<T> {
//     static void encode(const T& v, std::string& out);   // append v's bytes to out
//     static T decode(std::string_view bytes);             // throw lsmt::corruption_error if
//     malformed
//   };
//
// For keys, the encoding must preserve order: a < b exactly when the encoded
// bytes of a compare below those of b. Range queries and iterators follow that
// byte order. Built-in codecs:
//   - std::string, std::vector<char>, std::vector<unsigned char>, std::vector<std::byte>:
//     the bytes as they are.
//   - integral types (bool excluded): fixed width, big-endian, with the sign bit
//     flipped for signed types, so -1 < 0 < 1 in byte order too.
//
// Adding a codec for your own type: specialize lsmt::codec<YourType> with the
// two static functions above before instantiating db<YourType, ...>.
//
// Thread safety: codecs are stateless.
#ifndef LSMT_CODEC_HPP
#define LSMT_CODEC_HPP

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "error.hpp"

namespace lsmt {

template <class T, class Enable = void>
struct codec;  // no default: a type without a codec does not compile

template <>
struct codec<std::string> {
  static void encode(const std::string& v, std::string& out) { out.append(v); }
  static std::string decode(std::string_view bytes) { return std::string(bytes); }
};

template <class Byte>
struct codec<std::vector<Byte>,
             std::enable_if_t<std::is_same_v<Byte, char> || std::is_same_v<Byte, unsigned char> ||
                              std::is_same_v<Byte, std::byte>>> {
  static void encode(const std::vector<Byte>& v, std::string& out) {
    out.append(reinterpret_cast<const char*>(v.data()), v.size());
  }
  static std::vector<Byte> decode(std::string_view bytes) {
    const auto* p = reinterpret_cast<const Byte*>(bytes.data());
    return std::vector<Byte>(p, p + bytes.size());
  }
};

template <class Int>
struct codec<Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>> {
  using unsigned_type = std::make_unsigned_t<Int>;
  // Flipping the sign bit maps the signed range monotonically onto the unsigned one.
  static constexpr unsigned_type sign_flip =
      std::is_signed_v<Int> ? static_cast<unsigned_type>(unsigned_type{1} << (sizeof(Int) * 8 - 1))
                            : unsigned_type{0};

  static void encode(Int v, std::string& out) {
    const auto u = static_cast<unsigned_type>(static_cast<unsigned_type>(v) ^ sign_flip);
    for (size_t i = sizeof(Int); i-- > 0;) {
      out.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
    }
  }
  static Int decode(std::string_view bytes) {
    if (bytes.size() != sizeof(Int)) {
      throw corruption_error("lsmt: integer field has " + std::to_string(bytes.size()) +
                             " bytes, expected " + std::to_string(sizeof(Int)));
    }
    unsigned_type u = 0;
    for (char c : bytes) {
      u = static_cast<unsigned_type>((u << 8) | static_cast<unsigned char>(c));
    }
    return static_cast<Int>(static_cast<unsigned_type>(u ^ sign_flip));
  }
};

}  // namespace lsmt

#endif  // LSMT_CODEC_HPP
