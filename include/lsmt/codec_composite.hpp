// lsmt/codec_composite.hpp - codecs for composite keys: std::pair<A, B> and std::tuple<Ts...>,
// ordered lexicographically, component by component, like their operator<: (a1, b1) < (a2, b2)
// exactly when a1 < a2, or a1 == a2 and b1 < b2 (each component in its own codec's order).
//
// Format: the components' encodings one after another, each written in one of two ways:
//   - fixed width: a component whose codec declares fixed_size (integers, floats, enums, byte
//     arrays, and pairs and tuples made only of those) is written as its codec writes it.
//     Equal widths keep its order, and the decoder knows where it ends.
//   - escaped: every other component (std::string, byte vectors, a pair or tuple with a
//     variable-width part, a user codec without fixed_size) has each 0x00 byte of its encoding
//     written as 0x00 0xFF, and is ended by 0x00 0x01. The last component is escaped too, so
//     every encoding here is prefix-free: a composite nested in another is just an escaped
//     (or fixed-width) component, decoded the same way.
// Example: std::tuple<std::string, int16_t>{"a\0b", -2} is 61 00 FF 62 00 01 7F FE.
//
// Why escaping keeps the order: where two escaped components first differ, either both bytes
// are ordinary (the original bytes decide), or one side has 0x00 followed by 0xFF (an original
// 0x00, below any other original byte) or by 0x01 (the end, below anything that continues: a
// prefix sorts first). Since one is never a prefix of the other, the components after it
// cannot change the outcome; when the components are equal, the next one decides.
//
// decode rejects, with corruption_error: a fixed-width component cut short, 0x00 followed by
// anything but 0xFF or 0x01 (or by nothing), an escaped component without its terminator,
// and bytes left over after the last component; plus whatever the components' own decoders
// reject. It reads only within the given bytes.
//
// Included by lsmt/codec.hpp; it can also be included on its own.
//
// Thread safety: codecs are stateless.
#ifndef LSMT_CODEC_COMPOSITE_HPP
#define LSMT_CODEC_COMPOSITE_HPP

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "codec.hpp"
#include "error.hpp"

namespace lsmt {
namespace detail {

// Escapes out[start, end) in place (each 0x00 becomes 0x00 0xFF) and appends 0x00 0x01.
inline void escape_tail(std::string& out, size_t start) {
  const size_t end = out.size();
  const auto zeros = static_cast<size_t>(
      std::count(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(), '\0'));
  out.resize(end + zeros + 2);
  out[end + zeros] = '\0';
  out[end + zeros + 1] = '\x01';
  // Move bytes right, from the back; w - r is the number of 0x00 bytes still left of r, so
  // once w == r everything before stays where it is.
  size_t r = end;
  size_t w = end + zeros;
  while (w > r) {
    const char c = out[--r];
    if (c == '\0') out[--w] = '\xff';
    out[--w] = c;
  }
}

// Reads the escaped component that starts at bytes[pos] and moves pos past its terminator.
// Returns its original bytes: a view into `bytes` if it held no 0x00, else into `scratch`.
inline std::string_view unescape(std::string_view bytes, size_t& pos, std::string& scratch) {
  bool copied = false;  // whether scratch holds the bytes so far
  size_t from = pos;    // start of the bytes not yet copied
  for (;;) {
    const size_t zero = bytes.find('\0', from);
    if (zero == std::string_view::npos) {
      throw corruption_error("lsmt: composite key component has no terminator");
    }
    if (zero + 1 == bytes.size()) {
      throw corruption_error("lsmt: composite key ends inside an escape");
    }
    const auto next = static_cast<unsigned char>(bytes[zero + 1]);
    if (next == 0x01) {  // the terminator
      const size_t begin = pos;
      pos = zero + 2;
      if (!copied) return bytes.substr(begin, zero - begin);
      scratch.append(bytes.data() + from, zero - from);
      return scratch;
    }
    if (next != 0xff) {
      throw corruption_error("lsmt: composite key has a bad escape: 0x00 then byte " +
                             std::to_string(next));
    }
    if (!copied) {
      scratch.clear();
      copied = true;
    }
    scratch.append(bytes.data() + from, zero - from);
    scratch.push_back('\0');
    from = zero + 2;
  }
}

// One component of a pair or tuple: fixed width or escaped, as the file comment says.
template <class T>
struct component {
  using width = codec_fixed_size<codec<T>>;

  static void encode(const T& v, std::string& out) {
    const size_t start = out.size();
    codec<T>::encode(v, out);
    if constexpr (width::fixed) {
      if (out.size() - start != width::value) {
        throw invalid_argument_error("lsmt: a codec with fixed_size " +
                                     std::to_string(width::value) + " wrote " +
                                     std::to_string(out.size() - start) + " bytes");
      }
    } else {
      escape_tail(out, start);
    }
  }

  static T decode(std::string_view bytes, size_t& pos, std::string& scratch) {
    if constexpr (width::fixed) {
      if (bytes.size() - pos < width::value) {
        throw corruption_error("lsmt: composite key too short: a fixed-width component needs " +
                               std::to_string(width::value) + " bytes, " +
                               std::to_string(bytes.size() - pos) + " left");
      }
      const std::string_view field = bytes.substr(pos, width::value);
      pos += width::value;
      return codec<T>::decode(field);
    } else {
      return codec<T>::decode(unescape(bytes, pos, scratch));
    }
  }
};

// The components Ts... written one after another.
template <class... Ts>
struct composite {
  static constexpr bool fixed = (component<Ts>::width::fixed && ...);
  static constexpr size_t size = (size_t{0} + ... + component<Ts>::width::value);

  static void encode(const Ts&... vs, std::string& out) { (component<Ts>::encode(vs, out), ...); }

  // Decodes into Result (a pair or tuple of Ts...), which is list-initialized from the
  // components: list-initialization evaluates them left to right, as the bytes go.
  template <class Result>
  static Result decode(std::string_view bytes) {
    size_t pos = 0;
    std::string scratch;
    Result r{component<Ts>::decode(bytes, pos, scratch)...};
    if (pos != bytes.size()) {
      throw corruption_error("lsmt: composite key has " + std::to_string(bytes.size() - pos) +
                             " bytes after its last component");
    }
    return r;
  }
};

// Declares fixed_size = N for composites whose components all have a fixed width.
template <bool Fixed, size_t N>
struct composite_fixed_size {};
template <size_t N>
struct composite_fixed_size<true, N> {
  static constexpr size_t fixed_size = N;
};

}  // namespace detail

template <class A, class B>
struct codec<std::pair<A, B>>
    : detail::composite_fixed_size<detail::composite<A, B>::fixed, detail::composite<A, B>::size> {
  static void encode(const std::pair<A, B>& v, std::string& out) {
    detail::composite<A, B>::encode(v.first, v.second, out);
  }
  static std::pair<A, B> decode(std::string_view bytes) {
    return detail::composite<A, B>::template decode<std::pair<A, B>>(bytes);
  }
};

template <class... Ts>
struct codec<std::tuple<Ts...>> : detail::composite_fixed_size<detail::composite<Ts...>::fixed,
                                                               detail::composite<Ts...>::size> {
  static void encode(const std::tuple<Ts...>& v, std::string& out) {
    std::apply([&out](const Ts&... vs) { detail::composite<Ts...>::encode(vs..., out); }, v);
  }
  static std::tuple<Ts...> decode(std::string_view bytes) {
    return detail::composite<Ts...>::template decode<std::tuple<Ts...>>(bytes);
  }
};

}  // namespace lsmt

#endif  // LSMT_CODEC_COMPOSITE_HPP
