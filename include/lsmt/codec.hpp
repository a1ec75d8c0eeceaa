// lsmt/codec.hpp - how typed keys and values become bytes.
//
// The engine stores and orders raw bytes (bytewise, like memcmp). A db<Key,
// Value> turns its keys and values into bytes with codec<T>:
//
//   template <> struct lsmt::codec<T> {
//     static void encode(const T& v, std::string& out);  // append v's bytes to out
//     static T decode(std::string_view bytes);  // throw lsmt::corruption_error if malformed
//     static constexpr size_t fixed_size = N;   // optional: encode always appends N bytes
//   };
//
// For keys, the encoding must preserve order: a < b exactly when the encoded
// bytes of a compare below those of b. Range queries and iterators follow that
// byte order. Built-in codecs (all key-safe, that is order-preserving):
//   - std::string (encode takes any std::string_view), std::vector<char>,
//     std::vector<unsigned char>, std::vector<std::byte>: the bytes as they are,
//     ordered as unsigned bytes. Variable length.
//   - integral types (bool excluded): fixed width, big-endian, with the sign bit
//     flipped for signed types, so -1 < 0 < 1 in byte order too.
//   - float and double (IEEE 754): fixed width (4 or 8 bytes), big-endian bits,
//     with every bit flipped if the sign bit is set and only the sign bit flipped
//     otherwise. Every bit pattern round-trips exactly. The order is IEEE 754's
//     totalOrder: -NaN < -inf < negatives < -0.0 < +0.0 < positives < +inf < +NaN.
//     So -0.0 and +0.0 are different keys (-0.0 first), and NaNs are kept as they
//     are: those with the sign bit set sort below -inf, the others above +inf, and
//     a larger payload (the bits below the exponent) sorts further from zero.
//     (x86's 0.0/0.0 yields a NaN with the sign bit set, std::numeric_limits<T>::
//     quiet_NaN() one without.) Unlike operator<, this is a total order, so a
//     std::map model of such keys needs a comparator, not std::less.
//   - enums with a fixed underlying type (every enum class; `enum E : T`): the
//     underlying integer's codec, so keys follow the underlying values, negatives
//     first. Enums without a fixed underlying type are rejected at compile time:
//     casting an arbitrary decoded integer to one could be undefined behaviour.
//     (std::byte is such an enum: one byte.)
//   - std::array<std::byte, N>, std::array<unsigned char, N>, std::array<char, N>:
//     the N bytes as they are; decode requires exactly N. Ordered as unsigned bytes,
//     which for std::array<char, N> is not its operator< where char is signed.
//   - std::pair<A, B> and std::tuple<Ts...> of types with codecs: lexicographic
//     order, component by component. The components' encodings in order; those of
//     fixed-width codecs as they are, every other one (strings, vectors, variable-
//     width composites, user codecs without fixed_size) escaped: each 0x00 byte as
//     0x00 0xFF, then the terminator 0x00 0x01, the last component included
//     (lsmt/codec_composite.hpp has the details).
//
// fixed_size: the integer, floating-point, enum and byte-array codecs declare it,
// and so do pairs and tuples whose components all do. Composite keys write such
// components as they are and escape every other one (lsmt/codec_composite.hpp); a
// codec that declares fixed_size must append exactly that many bytes every time.
//
// Adding a codec for your own type: specialize lsmt::codec<YourType> with the
// two static functions above before instantiating db<YourType, ...>.
//
// Thread safety: codecs are stateless.
#ifndef LSMT_CODEC_HPP
#define LSMT_CODEC_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "error.hpp"

namespace lsmt {

template <class T, class Enable = void>
struct codec;  // no default: a type without a codec does not compile

namespace detail {

// The one-byte types whose vectors and arrays are stored as raw bytes.
template <class B>
inline constexpr bool is_byte_v =
    std::is_same_v<B, char> || std::is_same_v<B, unsigned char> || std::is_same_v<B, std::byte>;

// Whether codec C declares `static constexpr size_t fixed_size`, and its value (0 if not).
template <class C, class = void>
struct codec_fixed_size {
  static constexpr bool fixed = false;
  static constexpr size_t value = 0;
};
template <class C>
struct codec_fixed_size<C, std::void_t<decltype(C::fixed_size)>> {
  static constexpr bool fixed = true;
  static constexpr size_t value = C::fixed_size;
};

// True if Enum has a fixed underlying type (only then may any value of that type be cast to
// it): list-initializing an enum from an integer compiles exactly in that case.
template <class Enum, class = void>
struct has_fixed_underlying_type : std::false_type {};
template <class Enum>
struct has_fixed_underlying_type<
    Enum, std::void_t<decltype(Enum{std::declval<std::underlying_type_t<Enum>>()})>>
    : std::true_type {};

}  // namespace detail

template <>
struct codec<std::string> {
  static void encode(std::string_view v, std::string& out) { out.append(v); }
  static std::string decode(std::string_view bytes) { return std::string(bytes); }
};

namespace detail {
/// True for std::string with its built-in codec: the stored bytes are the value itself.
template <class T, class Codec>
inline constexpr bool is_raw_string_v = (std::is_same_v<T, std::string> &&
                                         std::is_same_v<Codec, codec<std::string>>);

/// How the store's calls take a T coded by Codec: std::string_view for std::string with its
/// built-in codec (read in place, no copy), const T& otherwise.
template <class T, class Codec>
using arg_type = std::conditional_t<is_raw_string_v<T, Codec>, std::string_view, const T&>;

/// Decodes bytes into out. A std::string with its built-in codec is assigned into out's own
/// buffer, which keeps its capacity.
template <class T, class Codec>
void decode_into(std::string_view bytes, T& out) {
  if constexpr (is_raw_string_v<T, Codec>) {
    out.assign(bytes);
  } else {
    out = Codec::decode(bytes);
  }
}

}  // namespace detail

template <class Byte>
struct codec<std::vector<Byte>, std::enable_if_t<detail::is_byte_v<Byte>>> {
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
  // cppcheck-suppress duplInheritedMember ; no base: cppcheck mixes up codec's specializations
  static constexpr size_t fixed_size = sizeof(Int);
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

// float and double: the IEEE 754 bits, mapped so that unsigned big-endian order is totalOrder.
// Negative values (sign bit set) have all bits flipped, which reverses their order (a larger
// magnitude sorts lower) and puts them below every non-negative value; non-negative values have
// only the sign bit flipped, which lifts them above all negatives and keeps their order.
template <class Float>
struct codec<Float,
             std::enable_if_t<std::is_same_v<Float, float> || std::is_same_v<Float, double>>> {
  static_assert(std::numeric_limits<Float>::is_iec559, "lsmt: float codec needs IEEE 754");
  using bits_type = std::conditional_t<sizeof(Float) == 4, uint32_t, uint64_t>;
  static_assert(sizeof(bits_type) == sizeof(Float));
  // cppcheck-suppress duplInheritedMember ; no base: cppcheck mixes up codec's specializations
  static constexpr size_t fixed_size = sizeof(Float);
  static constexpr bits_type sign_bit = bits_type{1} << (sizeof(Float) * 8 - 1);

  static void encode(Float v, std::string& out) {
    bits_type bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    bits = (bits & sign_bit) != 0 ? static_cast<bits_type>(~bits) : (bits ^ sign_bit);
    codec<bits_type>::encode(bits, out);
  }
  static Float decode(std::string_view bytes) {
    if (bytes.size() != sizeof(Float)) {
      throw corruption_error("lsmt: floating-point field has " + std::to_string(bytes.size()) +
                             " bytes, expected " + std::to_string(sizeof(Float)));
    }
    bits_type bits = codec<bits_type>::decode(bytes);
    // A set top bit marks a non-negative value (its sign bit was flipped on).
    bits = (bits & sign_bit) != 0 ? (bits ^ sign_bit) : static_cast<bits_type>(~bits);
    Float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
};

// Enums: the underlying integer's codec, so keys follow the underlying values.
template <class Enum>
struct codec<Enum, std::enable_if_t<std::is_enum_v<Enum>>> {
  using underlying_type = std::underlying_type_t<Enum>;
  static_assert(detail::has_fixed_underlying_type<Enum>::value,
                "lsmt: an enum key or value needs a fixed underlying type (enum class, or "
                "`enum E : int`), so that any decoded integer is a valid value");
  static_assert(!std::is_same_v<underlying_type, bool>,
                "lsmt: no codec for enums whose underlying type is bool");
  // cppcheck-suppress duplInheritedMember ; no base: cppcheck mixes up codec's specializations
  static constexpr size_t fixed_size = sizeof(underlying_type);

  static void encode(Enum v, std::string& out) {
    codec<underlying_type>::encode(static_cast<underlying_type>(v), out);
  }
  static Enum decode(std::string_view bytes) {
    return static_cast<Enum>(codec<underlying_type>::decode(bytes));
  }
};

// Fixed-size byte arrays: the N bytes as they are.
template <class Byte, size_t N>
struct codec<std::array<Byte, N>, std::enable_if_t<detail::is_byte_v<Byte>>> {
  // cppcheck-suppress duplInheritedMember ; no base: cppcheck mixes up codec's specializations
  static constexpr size_t fixed_size = N;

  static void encode(const std::array<Byte, N>& v, std::string& out) {
    if constexpr (N > 0) out.append(reinterpret_cast<const char*>(v.data()), N);
  }
  static std::array<Byte, N> decode(std::string_view bytes) {
    if (bytes.size() != N) {
      throw corruption_error("lsmt: byte array field has " + std::to_string(bytes.size()) +
                             " bytes, expected " + std::to_string(N));
    }
    std::array<Byte, N> v{};
    if constexpr (N > 0) std::memcpy(v.data(), bytes.data(), N);
    return v;
  }
};

}  // namespace lsmt

#include "codec_composite.hpp"  // std::pair and std::tuple

#endif  // LSMT_CODEC_HPP
