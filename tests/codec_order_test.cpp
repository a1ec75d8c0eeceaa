// tests/codec_order_test.cpp - the order-preserving built-in codecs (float and double, enums,
// byte arrays, std::pair and std::tuple) against models of their order: for many random values
// with edge cases, a < b in the model exactly when encode(a) < encode(b) bytewise, equal values
// encode equally, and decode(encode(a)) is a again (bit for bit for floats). Then the decoders'
// rejections of malformed bytes, and whole stores keyed by each family, whose scans, ranges and
// iterators must follow a std::map with the model's order, before and after flush and compact.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using lsmt_test::rwx_r_x;
using lsmt_test::seeded_rng;
using lsmt_test::temp_dir;

namespace codec_order_test {

enum class small_enum : int16_t {
  lowest = INT16_MIN,
  neg = -300,
  minus_one = -1,
  zero = 0,
  one = 1,
  big = 300,
  highest = INT16_MAX
};
enum unscoped_enum : int8_t { u_neg = -7, u_zero = 0, u_pos = 7 };
enum class wide_enum : uint64_t { a = 0, b = 1, c = UINT64_MAX };
enum plain_enum { p_a, p_b };  // no fixed underlying type: no codec

// A user type whose codec does not declare fixed_size: composites must escape it.
struct word {
  int32_t n = 0;
  friend bool operator==(const word& a, const word& b) { return a.n == b.n; }
  friend bool operator<(const word& a, const word& b) { return a.n < b.n; }
};
// A user codec that declares a fixed_size it does not keep.
struct liar {
  int n = 0;
};

}  // namespace codec_order_test

template <>
struct lsmt::codec<codec_order_test::word> {
  static void encode(const codec_order_test::word& w, std::string& out) {
    lsmt::codec<int32_t>::encode(w.n, out);
  }
  static codec_order_test::word decode(std::string_view bytes) {
    return {lsmt::codec<int32_t>::decode(bytes)};  // throws unless 4 bytes
  }
};

template <>
struct lsmt::codec<codec_order_test::liar> {
  static constexpr size_t fixed_size = 4;
  static void encode(const codec_order_test::liar& /*unused*/, std::string& out) {
    out.append("abc");
  }
  static codec_order_test::liar decode(std::string_view /*unused*/) { return {}; }
};

namespace codec_order_test {

using lsmt::detail::codec_fixed_size;

// ---------------------------------------------------------------------------------------------
// Models of each type's order, written without the codecs: model<T>::less and model<T>::equal.

template <class T, class = void>
struct model {
  static bool less(const T& a, const T& b) { return a < b; }
  static bool equal(const T& a, const T& b) { return a == b; }
};

template <class F>
using float_bits_t = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;

template <class F>
float_bits_t<F> bits_of(F v) {
  float_bits_t<F> b = 0;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
template <class F>
F float_from_bits(float_bits_t<F> b) {
  F v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

// The documented order: -NaN < -inf < ... < -0.0 < +0.0 < ... < +inf < +NaN, NaNs ordered by
// payload away from zero; equal means the same bits.
template <class F>
struct model<F, std::enable_if_t<std::is_floating_point_v<F>>> {
  static int rank(F v) {
    if (!std::isnan(v)) return 1;
    return std::signbit(v) ? 0 : 2;
  }
  static bool less(F a, F b) {
    const int ra = rank(a);
    const int rb = rank(b);
    if (ra != rb) return ra < rb;
    const auto mag = [](F v) { return bits_of(std::fabs(v)); };  // payload (exponent all ones)
    if (ra == 0) return mag(a) > mag(b);
    if (ra == 2) return mag(a) < mag(b);
    if (a < b) return true;
    if (b < a) return false;
    return std::signbit(a) && !std::signbit(b);  // -0.0 < +0.0
  }
  static bool equal(F a, F b) { return bits_of(a) == bits_of(b); }
};

// std::array<char, N>: as unsigned bytes (its operator< compares signed chars on x86).
template <size_t N>
struct model<std::array<char, N>> {
  static bool less(const std::array<char, N>& a, const std::array<char, N>& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return static_cast<unsigned char>(x) < static_cast<unsigned char>(y);
    });
  }
  static bool equal(const std::array<char, N>& a, const std::array<char, N>& b) { return a == b; }
};

template <class A, class B>
struct model<std::pair<A, B>> {
  static bool less(const std::pair<A, B>& a, const std::pair<A, B>& b) {
    if (model<A>::less(a.first, b.first)) return true;
    if (!model<A>::equal(a.first, b.first)) return false;
    return model<B>::less(a.second, b.second);
  }
  static bool equal(const std::pair<A, B>& a, const std::pair<A, B>& b) {
    return model<A>::equal(a.first, b.first) && model<B>::equal(a.second, b.second);
  }
};

template <class... Ts>
struct model<std::tuple<Ts...>> {
  using tuple = std::tuple<Ts...>;
  template <size_t I>
  static bool less_from(const tuple& a, const tuple& b) {
    if constexpr (I == sizeof...(Ts)) {
      return false;
    } else {
      using E = std::tuple_element_t<I, tuple>;
      if (model<E>::less(std::get<I>(a), std::get<I>(b))) return true;
      if (!model<E>::equal(std::get<I>(a), std::get<I>(b))) return false;
      return less_from<I + 1>(a, b);
    }
  }
  static bool less(const tuple& a, const tuple& b) { return less_from<0>(a, b); }
  static bool equal(const tuple& a, const tuple& b) { return !less(a, b) && !less(b, a); }
};

template <class T>
struct model_cmp {
  bool operator()(const T& a, const T& b) const { return model<T>::less(a, b); }
};

// ---------------------------------------------------------------------------------------------
// Helpers.

template <class T, class Codec = lsmt::codec<T>>
std::string enc(const T& v) {
  std::string s;
  Codec::encode(v, s);
  return s;
}

std::string hex(std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string h;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    h.push_back(digits[u >> 4]);
    h.push_back(digits[u & 0xf]);
    h.push_back(' ');
  }
  return h.empty() ? "(empty)" : h;
}

// memcmp order, spelled out so the test does not lean on std::string's comparison.
bool bytes_less(std::string_view a, std::string_view b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c != 0 ? c < 0 : a.size() < b.size();
}

struct order_report {
  size_t pairs = 0;       // pairs compared
  size_t mismatches = 0;  // pairs (or round trips) on which the codec and the model disagree
  std::string first;      // the first one, described
  void fail(const std::string& what) {
    if (mismatches++ == 0) first = what;
  }
};

// Every pair of values: the model's order and equality against the encodings', and each value's
// round trip (decode gives an equal value, and re-encoding it the same bytes).
template <class T, class Codec = lsmt::codec<T>>
order_report check_order(const std::vector<T>& values) {
  order_report r;
  std::vector<std::string> e;
  e.reserve(values.size());
  for (const T& v : values) e.push_back(enc<T, Codec>(v));
  for (size_t i = 0; i < values.size(); ++i) {
    const T back = Codec::decode(e[i]);
    if (!model<T>::equal(back, values[i]) || enc<T, Codec>(back) != e[i]) {
      r.fail("value #" + std::to_string(i) + " does not round-trip: " + hex(e[i]));
    }
    if constexpr (codec_fixed_size<Codec>::fixed) {
      if (e[i].size() != Codec::fixed_size) {
        r.fail("value #" + std::to_string(i) + " has " + std::to_string(e[i].size()) +
               " bytes, fixed_size is " + std::to_string(Codec::fixed_size));
      }
    }
    for (size_t j = 0; j < values.size(); ++j) {
      ++r.pairs;
      const bool model_less = model<T>::less(values[i], values[j]);
      const bool model_equal = model<T>::equal(values[i], values[j]);
      if (model_less != bytes_less(e[i], e[j]) || model_equal != (e[i] == e[j])) {
        r.fail("values #" + std::to_string(i) + " and #" + std::to_string(j) + ": model less=" +
               std::to_string(model_less) + " equal=" + std::to_string(model_equal) +
               ", encodings " + hex(e[i]) + "vs " + hex(e[j]));
      }
    }
  }
  return r;
}

#define CHECK_ORDER(values)                                                \
  do {                                                                     \
    const auto report_ = check_order(values);                              \
    INFO((values).size() << " values, first mismatch: " << report_.first); \
    CHECK(report_.pairs == (values).size() * (values).size());             \
    CHECK(report_.mismatches == 0);                                        \
  } while (false)

// Every proper prefix of a valid composite encoding is malformed (the format is prefix-free),
// and so is the encoding with a byte appended.
template <class T>
void check_prefixes_rejected(const std::vector<T>& values) {
  size_t not_rejected = 0;
  std::string example;
  for (const T& v : values) {
    const std::string e = enc(v);
    for (size_t len = 0; len <= e.size() + 1; ++len) {
      if (len == e.size()) continue;
      const std::string bad = len < e.size() ? e.substr(0, len) : e + '\x01';
      try {
        (void)lsmt::codec<T>::decode(bad);
        if (not_rejected++ == 0) example = hex(bad);
      } catch (const lsmt::corruption_error&) {  // expected
      }
    }
  }
  INFO("first accepted malformed input: " << example);
  CHECK(not_rejected == 0);
}

// Random byte strings: each either fails with corruption_error or is the canonical encoding of
// what it decodes to (re-encoding gives the same bytes). Returns how many decoded.
template <class T>
size_t fuzz_decode(seeded_rng& rng, const std::vector<T>& seeds, int rounds) {
  size_t decoded = 0;
  size_t non_canonical = 0;
  std::string example;
  static constexpr char alphabet[] = {'\0', '\x01', '\xff', 'a', '\x80', '\x7f'};
  for (int i = 0; i < rounds; ++i) {
    std::string in;
    if (rng.chance(0.5) && !seeds.empty()) {  // mutate a valid encoding
      in = enc(seeds[rng.uniform(0, seeds.size() - 1)]);
      const int edits = static_cast<int>(rng.uniform(1, 3));
      for (int k = 0; k < edits; ++k) {
        const size_t at = rng.uniform(0, in.size());
        const char c = alphabet[rng.uniform(0, sizeof alphabet - 1)];
        switch (rng.uniform(0, 2)) {
          case 0:
            in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), c);
            break;
          case 1:
            if (at < in.size()) in.erase(at, 1);
            break;
          default:
            if (at < in.size()) in[at] = c;
        }
      }
    } else {
      in.resize(rng.uniform(0, 24));
      for (char& c : in) c = alphabet[rng.uniform(0, sizeof alphabet - 1)];
    }
    try {
      const T v = lsmt::codec<T>::decode(in);
      ++decoded;
      if (enc(v) != in && non_canonical++ == 0) example = hex(in);
    } catch (const lsmt::corruption_error&) {  // malformed: fine
    }
  }
  INFO("first non-canonical input that decoded: " << example);
  CHECK(non_canonical == 0);
  return decoded;
}

// ---------------------------------------------------------------------------------------------
// Value generators.

template <class F>
std::vector<F> float_values(seeded_rng& rng, size_t random_count) {
  using lim = std::numeric_limits<F>;
  using bits = float_bits_t<F>;
  constexpr bits sign = bits{1} << (sizeof(F) * 8 - 1);
  constexpr auto exp_all =
      static_cast<bits>(sizeof(F) == 4 ? 0x7f800000ull : 0x7ff0000000000000ull);
  std::vector<F> v = {F(0),
                      -F(0),
                      lim::denorm_min(),
                      -lim::denorm_min(),
                      lim::min(),
                      -lim::min(),
                      float_from_bits<F>(exp_all >> 1),  // some normal value
                      lim::max(),
                      lim::lowest(),
                      lim::infinity(),
                      -lim::infinity(),
                      lim::epsilon(),
                      F(1),
                      F(-1),
                      std::nextafter(F(1), F(2)),
                      std::nextafter(F(-1), F(-2)),
                      std::nextafter(F(0), F(1)),
                      F(0.1),
                      F(-0.1),
                      lim::quiet_NaN(),
                      -lim::quiet_NaN(),
                      lim::signaling_NaN(),
                      float_from_bits<F>(exp_all | 1),                  // smallest payload
                      float_from_bits<F>(exp_all | 2),                  // next payload
                      float_from_bits<F>(static_cast<bits>(~sign)),     // largest payload
                      float_from_bits<F>(sign | exp_all | 1),           // negative NaNs
                      float_from_bits<F>(static_cast<bits>(~bits{0})),  // all ones
                      float_from_bits<F>(sign | (exp_all - 1)),         // -max
                      float_from_bits<F>(exp_all - 1)};
  std::vector<F> denormals;
  for (int i = 0; i < 4; ++i) {  // denormals: exponent bits zero
    const auto b = static_cast<bits>(rng() & ((exp_all >> 1) - 1));
    denormals.push_back(float_from_bits<F>(b));
    denormals.push_back(float_from_bits<F>(b | sign));
  }
  v.insert(v.end(), denormals.begin(), denormals.end());
  for (size_t i = 0; i < random_count; ++i) {
    switch (rng.uniform(0, 3)) {
      case 0:  // any bit pattern: NaNs, denormals, infinities included
        v.push_back(float_from_bits<F>(static_cast<bits>(rng())));
        break;
      case 1:  // small integers: many ties
        v.push_back(static_cast<F>(static_cast<int>(rng.uniform(0, 10)) - 5));
        break;
      case 2:  // a neighbour of an earlier value
        v.push_back(std::nextafter(v[rng.uniform(0, v.size() - 1)],
                                   rng.chance(0.5) ? lim::infinity() : -lim::infinity()));
        break;
      default:
        v.push_back(static_cast<F>(std::ldexp(static_cast<double>(rng() % 1000) - 500.0,
                                              static_cast<int>(rng.uniform(0, 40)) - 20)));
    }
  }
  return v;
}

// Short strings over {0x00, 0x01, 0xff, 'a'}: many prefixes of one another, and many ties.
std::string small_string(seeded_rng& rng, size_t max_len = 4) {
  static constexpr char alphabet[] = {'\0', '\x01', '\xff', 'a'};
  std::string s(rng.uniform(0, max_len), '\0');
  for (char& c : s) c = alphabet[rng.uniform(0, sizeof alphabet - 1)];
  return s;
}

template <class Byte, size_t N>
std::array<Byte, N> small_array(seeded_rng& rng) {
  static constexpr unsigned char alphabet[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
  std::array<Byte, N> a{};
  for (auto& b : a) b = static_cast<Byte>(alphabet[rng.uniform(0, sizeof alphabet - 1)]);
  return a;
}

int64_t edgy_int64(seeded_rng& rng) {
  static constexpr int64_t edges[] = {INT64_MIN, INT64_MIN + 1, -256, -1,       0,
                                      1,         255,           256,  INT64_MAX};
  if (rng.chance(0.5)) return edges[rng.uniform(0, std::size(edges) - 1)];
  return static_cast<int64_t>(rng.uniform(0, 6)) - 3;
}

small_enum random_small_enum(seeded_rng& rng) {
  static constexpr small_enum named[] = {small_enum::lowest, small_enum::neg, small_enum::minus_one,
                                         small_enum::zero,   small_enum::one, small_enum::big,
                                         small_enum::highest};
  if (rng.chance(0.5)) return named[rng.uniform(0, std::size(named) - 1)];
  return static_cast<small_enum>(static_cast<int16_t>(rng()));
}

template <class T, class Gen>
std::vector<T> generate(size_t n, Gen gen) {
  std::vector<T> v;
  v.reserve(n);
  for (size_t i = 0; i < n; ++i) v.push_back(gen());
  return v;
}

// ---------------------------------------------------------------------------------------------
// A store keyed by K, against a std::map with the model's order.

template <class K>
using key_model = std::map<K, std::string, model_cmp<K>>;

template <class K>
std::vector<std::string> encoded_keys(const key_model<K>& m) {
  std::vector<std::string> out;
  for (const auto& kv : m) out.push_back(enc(kv.first));
  return out;
}

template <class K>
void check_store(const lsmt::db<K, std::string>& d, const key_model<K>& m, seeded_rng& rng,
                 const std::vector<K>& probes) {
  // scan: every key, in order, with its value (keys compared by their bytes: NaN != NaN)
  std::vector<std::string> got;
  size_t wrong_values = 0;
  for (const auto& [k, v] : d.scan()) {
    got.push_back(enc(k));
    const auto it = m.find(k);
    if (it == m.end() || it->second != v) ++wrong_values;
  }
  const std::vector<std::string> want = encoded_keys(m);
  CHECK(got == want);
  CHECK(wrong_values == 0);

  // range(lo, hi) for random probe pairs: [lower_bound(lo), upper_bound(hi))
  for (int i = 0; i < 20; ++i) {
    K lo = probes[rng.uniform(0, probes.size() - 1)];
    K hi = probes[rng.uniform(0, probes.size() - 1)];
    if (model<K>::less(hi, lo)) std::swap(lo, hi);
    std::vector<std::string> in_range;
    for (const auto& kv : d.range(lo, hi)) in_range.push_back(enc(kv.first));
    std::vector<std::string> model_range;
    for (auto it = m.lower_bound(lo); it != m.upper_bound(hi); ++it) {
      model_range.push_back(enc(it->first));
    }
    INFO("range " << hex(enc(lo)) << "to " << hex(enc(hi)));
    CHECK(in_range == model_range);
  }

  // an iterator backwards from the end, and seeks to random probes
  auto it = d.new_iterator();
  std::vector<std::string> backwards;
  for (it.seek_to_last(); it.valid(); it.prev()) backwards.push_back(enc(it.key()));
  std::reverse(backwards.begin(), backwards.end());
  CHECK(backwards == want);
  size_t bad_seeks = 0;
  for (int i = 0; i < 30; ++i) {
    const K& p = probes[rng.uniform(0, probes.size() - 1)];
    it.seek(p);
    const auto want_it = m.lower_bound(p);
    const bool ok = want_it == m.end() ? !it.valid()
                                       : it.valid() && enc(it.key()) == enc(want_it->first) &&
                                             it.value() == want_it->second;
    if (!ok) ++bad_seeks;
  }
  CHECK(bad_seeks == 0);
}

// Puts (and overwrites and erases) random keys from `keys` into a fresh store with a small
// memtable, checking it against the model, then again after flush, compact and a reopen.
template <class K>
void store_model_test(seeded_rng& rng, const std::vector<K>& keys) {
  temp_dir tmp(lsmt_test::store_base_dir(), "lsmt-codec-order");
  const fs::path dir = tmp.sub("db");
  key_model<K> m;
  {
    lsmt::db<K, std::string> d(dir, rwx_r_x, 32, 4, 2);
    for (size_t i = 0; i < keys.size() * 2; ++i) {
      const K& k = keys[rng.uniform(0, keys.size() - 1)];
      if (rng.chance(0.1)) {
        d.erase(k);
        m.erase(k);
      } else {
        const std::string v = hex(enc(k)) + "#" + std::to_string(i);
        d.put(k, v);
        m[k] = v;
      }
    }
    REQUIRE(m.size() > 10);
    check_store(d, m, rng, keys);
    d.flush();
    check_store(d, m, rng, keys);
    d.compact();
    check_store(d, m, rng, keys);
  }
  lsmt::db<K, std::string> d(dir, rwx_r_x, 32, 4, 2);
  check_store(d, m, rng, keys);
}

}  // namespace codec_order_test

using namespace codec_order_test;  // NOLINT(google-build-using-namespace): test file

// ---------------------------------------------------------------------------------------------
// Floating point.

TEST_CASE("codec order: double and float follow the documented total order", "[codec]") {
  LSMT_TEST_RNG(rng);
  const auto doubles = float_values<double>(rng, 400);
  const auto floats = float_values<float>(rng, 400);
  CHECK_ORDER(doubles);
  CHECK_ORDER(floats);
  STATIC_REQUIRE(lsmt::codec<double>::fixed_size == 8);
  STATIC_REQUIRE(lsmt::codec<float>::fixed_size == 4);

  // The documented order, spelled out.
  using lim = std::numeric_limits<double>;
  const std::vector<double> ordered = {
      -lim::quiet_NaN(), -lim::infinity(),   lim::lowest(), -1.0,
      -lim::min(),       -lim::denorm_min(), -0.0,          0.0,
      lim::denorm_min(), lim::min(),         1.0,           lim::max(),
      lim::infinity(),   lim::quiet_NaN()};
  for (size_t i = 0; i + 1 < ordered.size(); ++i) {
    INFO("position " << i);
    CHECK(bytes_less(enc(ordered[i]), enc(ordered[i + 1])));
  }
  CHECK(enc(-0.0) != enc(0.0));
  CHECK(enc(1.0) == std::string("\xbf\xf0\0\0\0\0\0\0", 8));
  CHECK(enc(-1.0) == std::string("\x40\x0f\xff\xff\xff\xff\xff\xff", 8));
  CHECK(enc(0.0f) == std::string("\x80\0\0\0", 4));
  CHECK(enc(-0.0f) == std::string("\x7f\xff\xff\xff", 4));
  // a NaN's payload survives, bit for bit (including a signaling NaN)
  const double snan = lim::signaling_NaN();
  CHECK(bits_of(lsmt::codec<double>::decode(enc(snan))) == bits_of(snan));
  const auto neg_payload = float_from_bits<double>(0xfff0000000000123ull);
  CHECK(bits_of(lsmt::codec<double>::decode(enc(neg_payload))) == 0xfff0000000000123ull);
}

TEST_CASE("codec order: the order model catches a codec that is not order-preserving", "[codec]") {
  // Raw IEEE bits, big-endian, without the flips: negatives sort after positives. The checker
  // must notice, or the other tests here would prove nothing.
  struct raw_double_codec {
    static void encode(double v, std::string& out) {
      lsmt::codec<uint64_t>::encode(bits_of(v), out);
    }
    static double decode(std::string_view b) {
      return float_from_bits<double>(lsmt::codec<uint64_t>::decode(b));
    }
  };
  const std::vector<double> values = {-2.0, -1.0, 0.0, 1.0, 2.0};
  const auto r = check_order<double, raw_double_codec>(values);
  CHECK(r.mismatches > 0);
  CHECK(r.pairs == 25);
  // And a composite codec that concatenates strings unescaped would tie ("a", "b") and ("ab", "").
  CHECK(enc(std::pair<std::string, std::string>{"a", "b"}) !=
        enc(std::pair<std::string, std::string>{"ab", ""}));
}

TEST_CASE("codec order: float decoders reject wrong sizes", "[codec]") {
  for (size_t n : {0, 1, 3, 7, 9, 16}) {
    INFO(n << " bytes");
    CHECK_THROWS_AS(lsmt::codec<double>::decode(std::string(n, 'x')), lsmt::corruption_error);
    if (n != 4) {
      CHECK_THROWS_AS(lsmt::codec<float>::decode(std::string(n, 'x')), lsmt::corruption_error);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Enums.

TEST_CASE("codec order: enums follow their underlying values", "[codec]") {
  LSMT_TEST_RNG(rng);
  const auto smalls = generate<small_enum>(300, [&] { return random_small_enum(rng); });
  CHECK_ORDER(smalls);
  const auto unscoped = generate<unscoped_enum>(
      100, [&] { return static_cast<unscoped_enum>(static_cast<int8_t>(rng())); });
  CHECK_ORDER(unscoped);
  const auto wides = generate<wide_enum>(200, [&] {
    return rng.chance(0.3) ? wide_enum::c : static_cast<wide_enum>(rng() >> rng.uniform(0, 63));
  });
  CHECK_ORDER(wides);
  const auto bytes = generate<std::byte>(100, [&] { return static_cast<std::byte>(rng()); });
  CHECK_ORDER(bytes);

  // exactly the underlying integer's encoding
  CHECK(enc(small_enum::neg) == enc(int16_t{-300}));
  CHECK(enc(unscoped_enum::u_neg) == enc(int8_t{-7}));
  CHECK(enc(wide_enum::c) == std::string(8, '\xff'));
  STATIC_REQUIRE(lsmt::codec<small_enum>::fixed_size == 2);
  STATIC_REQUIRE(lsmt::codec<wide_enum>::fixed_size == 8);
  // an enum without a fixed underlying type has no codec (its static_assert fires)
  STATIC_REQUIRE_FALSE(lsmt::detail::has_fixed_underlying_type<plain_enum>::value);
  STATIC_REQUIRE(lsmt::detail::has_fixed_underlying_type<unscoped_enum>::value);

  // any underlying value decodes, named or not; wrong sizes do not
  CHECK(lsmt::codec<small_enum>::decode(enc(int16_t{1234})) == static_cast<small_enum>(1234));
  CHECK_THROWS_AS(lsmt::codec<small_enum>::decode("x"), lsmt::corruption_error);
  CHECK_THROWS_AS(lsmt::codec<small_enum>::decode("xyz"), lsmt::corruption_error);
  CHECK_THROWS_AS(lsmt::codec<wide_enum>::decode(""), lsmt::corruption_error);
}

// ---------------------------------------------------------------------------------------------
// Byte arrays.

TEST_CASE("codec order: byte arrays are their bytes, in unsigned byte order", "[codec]") {
  LSMT_TEST_RNG(rng);
  const auto a16 =
      generate<std::array<std::byte, 16>>(200, [&] { return small_array<std::byte, 16>(rng); });
  CHECK_ORDER(a16);
  const auto a3 = generate<std::array<unsigned char, 3>>(
      300, [&] { return small_array<unsigned char, 3>(rng); });
  CHECK_ORDER(a3);
  const auto c2 = generate<std::array<char, 2>>(200, [&] { return small_array<char, 2>(rng); });
  CHECK_ORDER(c2);
  const std::vector<std::array<std::byte, 0>> empty(3);
  CHECK_ORDER(empty);
  CHECK(enc(std::array<std::byte, 0>{}).empty());
  CHECK(enc(std::array<char, 3>{'a', '\0', 'b'}) == std::string("a\0b", 3));
  STATIC_REQUIRE(lsmt::codec<std::array<std::byte, 16>>::fixed_size == 16);

  using bytes16 = lsmt::codec<std::array<std::byte, 16>>;
  using chars3 = lsmt::codec<std::array<char, 3>>;
  using bytes0 = lsmt::codec<std::array<std::byte, 0>>;
  for (size_t n : {0, 15, 17, 32}) {
    INFO(n << " bytes");
    CHECK_THROWS_AS(bytes16::decode(std::string(n, '\0')), lsmt::corruption_error);
  }
  CHECK_THROWS_AS(chars3::decode("ab"), lsmt::corruption_error);
  CHECK_THROWS_AS(bytes0::decode("a"), lsmt::corruption_error);
}

// ---------------------------------------------------------------------------------------------
// Pairs and tuples.

TEST_CASE("codec order: pairs and tuples order lexicographically by component", "[codec]") {
  LSMT_TEST_RNG(rng);
  const auto pairs = generate<std::pair<int32_t, std::string>>(300, [&] {
    return std::pair<int32_t, std::string>{static_cast<int32_t>(rng.uniform(0, 4)) - 2,
                                           small_string(rng)};
  });
  CHECK_ORDER(pairs);

  const auto str_int = generate<std::tuple<std::string, int64_t>>(400, [&] {
    return std::tuple<std::string, int64_t>{small_string(rng), edgy_int64(rng)};
  });
  CHECK_ORDER(str_int);

  using three = std::tuple<std::string, std::string, uint8_t>;
  const auto threes = generate<three>(400, [&] {
    return three{small_string(rng, 3), small_string(rng, 3), static_cast<uint8_t>(rng() % 3)};
  });
  CHECK_ORDER(threes);

  using mixed = std::tuple<std::vector<uint8_t>, small_enum, std::array<std::byte, 3>>;
  const auto mixeds = generate<mixed>(300, [&] {
    const std::string s = small_string(rng, 3);
    return mixed{std::vector<uint8_t>(s.begin(), s.end()),
                 rng.chance(0.8) ? small_enum::zero : random_small_enum(rng),
                 small_array<std::byte, 3>(rng)};
  });
  CHECK_ORDER(mixeds);

  using with_double = std::pair<std::string, double>;
  const auto dvals = float_values<double>(rng, 20);
  const auto with_doubles = generate<with_double>(300, [&] {
    return with_double{small_string(rng, 2), dvals[rng.uniform(0, dvals.size() - 1)]};
  });
  CHECK_ORDER(with_doubles);

  // a user codec without fixed_size is escaped (its int32 bytes hold 0x00s)
  using with_word = std::tuple<word, std::string>;
  const auto words = generate<with_word>(300, [&] {
    return with_word{word{static_cast<int32_t>(rng.uniform(0, 600)) - 300}, small_string(rng)};
  });
  CHECK_ORDER(words);
  CHECK(enc(with_word{word{0}, ""}) == std::string("\x80\0\xff\0\xff\0\xff\0\x01\0\x01", 11));

  const std::vector<std::tuple<>> nothing(2);
  CHECK_ORDER(nothing);
  CHECK(enc(std::tuple<>{}).empty());
}

TEST_CASE("codec order: nested pairs and tuples", "[codec]") {
  LSMT_TEST_RNG(rng);
  using inner = std::pair<std::string, int16_t>;
  using nested = std::tuple<inner, std::string>;
  const auto nesteds = generate<nested>(400, [&] {
    return nested{
        inner{small_string(rng, 3), static_cast<int16_t>(static_cast<int>(rng.uniform(0, 2)) - 1)},
        small_string(rng, 3)};
  });
  CHECK_ORDER(nesteds);

  // variable-width composites nested in every position, twice deep
  using deep = std::tuple<std::tuple<std::string, std::string>,
                          std::pair<std::tuple<std::string>, std::string>>;
  const auto deeps = generate<deep>(400, [&] {
    return deep{{small_string(rng, 2), small_string(rng, 2)},
                {std::tuple<std::string>{small_string(rng, 2)}, small_string(rng, 2)}};
  });
  CHECK_ORDER(deeps);

  // fixed-width composites nest unescaped and declare their width
  using fixed = std::tuple<int16_t, std::array<std::byte, 2>, std::pair<uint8_t, small_enum>>;
  STATIC_REQUIRE(lsmt::codec<fixed>::fixed_size == 7);
  STATIC_REQUIRE(lsmt::codec<std::pair<int32_t, double>>::fixed_size == 12);
  STATIC_REQUIRE_FALSE(codec_fixed_size<lsmt::codec<std::pair<int32_t, std::string>>>::fixed);
  STATIC_REQUIRE_FALSE(codec_fixed_size<lsmt::codec<std::tuple<int8_t, word>>>::fixed);
  const auto fixeds = generate<fixed>(300, [&] {
    return fixed{static_cast<int16_t>(static_cast<int>(rng.uniform(0, 2)) - 1),
                 small_array<std::byte, 2>(rng),
                 {static_cast<uint8_t>(rng() % 2), random_small_enum(rng)}};
  });
  CHECK_ORDER(fixeds);
  const fixed f{-1, {std::byte{0}, std::byte{0xff}}, {7, small_enum::neg}};
  CHECK(enc(f) ==
        enc(int16_t{-1}) + std::string("\0\xff", 2) + enc(uint8_t{7}) + enc(small_enum::neg));
  using pair_of_fixed = std::pair<std::string, fixed>;
  const auto pfs = generate<pair_of_fixed>(200, [&] {
    return pair_of_fixed{small_string(rng, 2), fixeds[rng.uniform(0, fixeds.size() - 1)]};
  });
  CHECK_ORDER(pfs);

  // the documented example
  CHECK(enc(std::tuple<std::string, int16_t>{std::string("a\0b", 3), -2}) ==
        std::string("a\0\xff"
                    "b\0\x01\x7f\xfe",
                    8));
  // a tuple nested in a tuple is escaped again: ("a", "") then "b"
  CHECK(enc(std::tuple<std::tuple<std::string, std::string>, std::string>{{"a", ""}, "b"}) ==
        std::string("a\0\xff\x01\0\xff\x01\0\x01"
                    "b\0\x01",
                    12));
}

TEST_CASE("codec order: composite decoders reject malformed bytes", "[codec]") {
  using str_int = std::tuple<std::string, int64_t>;
  using C = lsmt::codec<str_int>;
  const std::string eight(8, '\x80');
  const std::string bad[] = {
      std::string(),                                   // missing terminator
      std::string("ab"),                               // missing terminator
      std::string("a\0", 2),                           // ends inside an escape
      std::string("a\0\x02", 3) + eight,               // bad escape
      std::string("a\0\0", 3) + eight,                 // bad escape
      std::string("a\0\x02\0\x01", 5) + eight,         // bad escape, then a terminator
      std::string("a\0\xff", 3),                       // escaped 0x00, then no terminator
      std::string("a\0\x01", 3),                       // no integer
      std::string("a\0\x01", 3) + eight.substr(0, 7),  // integer cut short
      std::string("a\0\x01", 3) + eight + "x",         // trailing byte
      std::string("a\0\x01", 3) + eight + std::string("\0\x01", 2),  // a third component
  };
  for (const std::string& b : bad) {
    INFO("input " << hex(b));
    CHECK_THROWS_AS(C::decode(b), lsmt::corruption_error);
  }
  // the good one, for contrast
  CHECK(C::decode(std::string("a\0\xff\0\x01", 5) + eight) ==
        str_int{std::string("a\0", 2), static_cast<int64_t>(0x0080808080808080)});

  // fixed-width pairs: exact size only
  using fixed_pair = std::pair<int32_t, double>;
  CHECK_THROWS_AS(lsmt::codec<fixed_pair>::decode(std::string(11, 'x')), lsmt::corruption_error);
  CHECK_THROWS_AS(lsmt::codec<fixed_pair>::decode(std::string(13, 'x')), lsmt::corruption_error);
  CHECK_NOTHROW(lsmt::codec<fixed_pair>::decode(std::string(12, 'x')));
  // the empty tuple takes no bytes at all
  CHECK_THROWS_AS(lsmt::codec<std::tuple<>>::decode("x"), lsmt::corruption_error);
  CHECK_NOTHROW(lsmt::codec<std::tuple<>>::decode(""));

  // nested: well escaped outside, but the inner tuple's own bytes lack its terminator
  using nested = std::tuple<std::tuple<std::string>, int8_t>;
  CHECK_THROWS_AS(lsmt::codec<nested>::decode(std::string("ab\0\x01\x80", 5)),
                  lsmt::corruption_error);
  CHECK(lsmt::codec<nested>::decode(std::string("ab\0\xff\x01\0\x01\x80", 8)) == nested{{"ab"}, 0});
  // a component's own decoder rejects what it gets: word needs 4 bytes
  CHECK_THROWS_AS(lsmt::codec<std::tuple<word>>::decode(std::string("abc\0\x01", 5)),
                  lsmt::corruption_error);
  // a codec that breaks its fixed_size promise is caught when encoding
  std::string out;
  using liar_pair = lsmt::codec<std::pair<liar, int>>;
  CHECK_THROWS_AS(liar_pair::encode({liar{}, 1}, out), lsmt::invalid_argument_error);
}

TEST_CASE("codec order: every proper prefix of a composite encoding is rejected", "[codec]") {
  LSMT_TEST_RNG(rng);
  check_prefixes_rejected(generate<std::tuple<std::string, int64_t>>(200, [&] {
    return std::tuple<std::string, int64_t>{small_string(rng), edgy_int64(rng)};
  }));
  check_prefixes_rejected(generate<std::pair<int32_t, std::string>>(200, [&] {
    return std::pair<int32_t, std::string>{static_cast<int32_t>(rng()), small_string(rng)};
  }));
  using deep = std::tuple<std::tuple<std::string, std::string>, std::pair<double, std::string>>;
  check_prefixes_rejected(generate<deep>(200, [&] {
    return deep{{small_string(rng), small_string(rng)},
                {static_cast<double>(rng() % 5), small_string(rng)}};
  }));
  check_prefixes_rejected(generate<std::pair<int16_t, small_enum>>(50, [&] {
    return std::pair<int16_t, small_enum>{static_cast<int16_t>(rng()), random_small_enum(rng)};
  }));
}

TEST_CASE("codec order: random bytes decode only if canonical", "[codec]") {
  LSMT_TEST_RNG(rng);
  using str_int = std::tuple<std::string, int64_t>;
  const auto seeds1 = generate<str_int>(50, [&] { return str_int{small_string(rng), 0}; });
  const size_t d1 = fuzz_decode(rng, seeds1, 20000);
  using two_str = std::pair<std::string, std::string>;
  const auto seeds2 = generate<two_str>(50, [&] {
    return two_str{small_string(rng), small_string(rng)};
  });
  const size_t d2 = fuzz_decode(rng, seeds2, 20000);
  using deep = std::tuple<std::tuple<std::string, std::string>, std::string>;
  const auto seeds3 = generate<deep>(50, [&] {
    return deep{{small_string(rng), small_string(rng)}, small_string(rng)};
  });
  const size_t d3 = fuzz_decode(rng, seeds3, 20000);
  // the mutations do produce valid encodings now and then, so both paths were exercised
  CHECK(d1 > 0);
  CHECK(d2 > 0);
  CHECK(d3 > 0);
}

// ---------------------------------------------------------------------------------------------
// Whole stores keyed by each family.

TEST_CASE("codec order: db<std::tuple<std::string, int64_t>, std::string> follows the model",
          "[codec]") {
  LSMT_TEST_RNG(rng);
  store_model_test(rng, generate<std::tuple<std::string, int64_t>>(300, [&] {
                     return std::tuple<std::string, int64_t>{small_string(rng), edgy_int64(rng)};
                   }));

  // a prefix query: every key whose string is "a", via the integer's extremes
  temp_dir tmp(lsmt_test::store_base_dir(), "lsmt-codec-order");
  lsmt::db<std::tuple<std::string, int64_t>, std::string> d(tmp.sub("db"), rwx_r_x, 8, 4, 2);
  const std::string strings[] = {"", "a", std::string("a\0", 2), "a\x01", "ab", "b"};
  for (const std::string& s : strings) {
    for (int64_t n : {INT64_MIN, int64_t{-1}, int64_t{0}, INT64_MAX}) d.put({s, n}, "v");
  }
  const auto a_only = d.range({"a", INT64_MIN}, {"a", INT64_MAX}).to_vector();
  REQUIRE(a_only.size() == 4);
  CHECK(std::get<0>(a_only.front().first) == "a");
  CHECK(std::get<1>(a_only.front().first) == INT64_MIN);
  CHECK(std::get<0>(a_only.back().first) == "a");
  CHECK(std::get<1>(a_only.back().first) == INT64_MAX);
}

TEST_CASE("codec order: db<double, std::string> follows the model", "[codec]") {
  LSMT_TEST_RNG(rng);
  store_model_test(rng, float_values<double>(rng, 300));
}

TEST_CASE("codec order: db<float, std::string> follows the model", "[codec]") {
  LSMT_TEST_RNG(rng);
  store_model_test(rng, float_values<float>(rng, 200));
}

TEST_CASE("codec order: db<std::pair<int32_t, std::string>, std::string> follows the model",
          "[codec]") {
  LSMT_TEST_RNG(rng);
  store_model_test(rng, generate<std::pair<int32_t, std::string>>(300, [&] {
                     return std::pair<int32_t, std::string>{
                         static_cast<int32_t>(rng.uniform(0, 6)) - 3, small_string(rng)};
                   }));
}

TEST_CASE("codec order: db with nested composite keys follows the model", "[codec]") {
  LSMT_TEST_RNG(rng);
  using deep = std::tuple<std::pair<std::string, int16_t>, std::tuple<std::string, std::string>>;
  store_model_test(rng, generate<deep>(300, [&] {
                     return deep{{small_string(rng, 2), static_cast<int16_t>(rng() % 3)},
                                 {small_string(rng, 2), small_string(rng, 2)}};
                   }));
}

TEST_CASE("codec order: db<enum, std::string> follows the model", "[codec]") {
  LSMT_TEST_RNG(rng);
  store_model_test(rng, generate<small_enum>(300, [&] { return random_small_enum(rng); }));
}

TEST_CASE("codec order: db<std::array<std::byte, 16>, std::string> follows the model", "[codec]") {
  LSMT_TEST_RNG(rng);
  store_model_test(rng, generate<std::array<std::byte, 16>>(300, [&] {
                     auto a = small_array<std::byte, 16>(rng);
                     if (rng.chance(0.5)) std::fill(a.begin() + 2, a.end(), std::byte{0});
                     return a;
                   }));
}
