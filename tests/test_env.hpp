// tests/test_env.hpp - what lsmt's tests read from the environment, and how they pick seeds.
//
//   env_u64(name, fallback)   $name as a DECIMAL unsigned integer, or fallback if unset/empty;
//                             anything else (a sign, a base prefix, trailing text, overflow)
//                             throws std::invalid_argument naming the variable. Decimal because
//                             every seed and count the tests print is decimal, and neither .ci/run
//                             nor the README passes any other form: with base 0 (C's automatic
//                             base), a pasted "010" would silently become 8 and "09" 0.
//   env_seconds(name, fallback)  $name as a (possibly fractional) number of seconds.
//   env_flag(name)            $name is set, non-empty and not "0".
//   quick_mode()              env_flag("LSMT_TEST_QUICK"): smaller workloads, for sanitizer builds.
//
// Seed policies (LSMT_TEST_SEED always wins, so any printed seed reruns a test exactly):
//   env_seed()                $LSMT_TEST_SEED if set, else nullopt (for tests with their own
//                             policy, such as a fixed list of seeds plus random ones).
//   test_seed()               $LSMT_TEST_SEED, else a fresh random seed: tests that explore.
//   fixed_test_seed(seed)     $LSMT_TEST_SEED, else `seed`: tests whose counts must be stable.
//   seeded_rng, LSMT_TEST_RNG(name)
//                             a 64-bit Mersenne Twister that remembers its seed; the macro
//                             declares one seeded by test_seed() and INFOs the seed, so every
//                             failing assertion after it prints "LSMT_TEST_SEED=<seed>".
#ifndef LSMT_TEST_ENV_HPP
#define LSMT_TEST_ENV_HPP

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include "test_catch.hpp"

// LSMT_TEST_SANITIZED is defined in builds with a sanitizer (GCC or clang), whose tests are
// several times slower: time-budgeted tests scale their budgets and floors down.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LSMT_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define LSMT_TEST_SANITIZED 1
#endif
#endif

namespace lsmt_test {

/// $name as a decimal unsigned integer, or fallback if it is unset or empty. Throws
/// std::invalid_argument if it is set to anything but decimal digits that fit in 64 bits.
inline uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  uint64_t n = 0;
  for (const char* p = v; *p != '\0'; ++p) {
    const unsigned digit = static_cast<unsigned>(*p - '0');
    if (digit > 9 || n > (UINT64_MAX - digit) / 10) {
      throw std::invalid_argument(std::string(name) + "='" + v +
                                  "': expected a decimal integer below 2^64");
    }
    n = n * 10 + digit;
  }
  return n;
}

/// $name as a number of seconds (fractions allowed), or fallback if it is unset or empty.
/// Throws std::invalid_argument if it is not a non-negative number.
inline double env_seconds(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const double s = std::strtod(v, &end);
  if (*end != '\0' || !(s >= 0)) {
    throw std::invalid_argument(std::string(name) + "='" + v + "': expected a number of seconds");
  }
  return s;
}

/// True if $name is set, non-empty and not "0".
inline bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

/// $LSMT_TEST_QUICK: smaller workloads and fewer states, for sanitizer builds.
inline bool quick_mode() { return env_flag("LSMT_TEST_QUICK"); }

/// $LSMT_TEST_SEED, if set.
inline std::optional<uint64_t> env_seed() {
  const char* v = std::getenv("LSMT_TEST_SEED");
  if (v == nullptr || *v == '\0') return std::nullopt;
  return env_u64("LSMT_TEST_SEED", 0);
}

/// The seed for randomized tests: $LSMT_TEST_SEED if set, else a fresh random one.
inline uint64_t test_seed() {
  if (const std::optional<uint64_t> s = env_seed()) return *s;
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

/// $LSMT_TEST_SEED if set, else `seed`: for tests whose op counts must not vary between runs.
inline uint64_t fixed_test_seed(uint64_t seed) { return env_seed().value_or(seed); }

/// A 64-bit Mersenne Twister that remembers its seed, with a few conveniences.
class seeded_rng {
 public:
  explicit seeded_rng(uint64_t seed = test_seed()) : seed_(seed), gen_(seed) {}

  uint64_t seed() const { return seed_; }
  std::mt19937_64& engine() { return gen_; }

  uint64_t operator()() { return gen_(); }
  /// Uniform in [lo, hi].
  uint64_t uniform(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(gen_);
  }
  /// True with probability p.
  bool chance(double p) { return std::bernoulli_distribution(p)(gen_); }
  /// `len` arbitrary bytes (NUL and 0xFF included).
  std::string bytes(size_t len) {
    std::string s(len, '\0');
    for (auto& c : s) c = static_cast<char>(gen_() & 0xff);
    return s;
  }

  // UniformRandomBitGenerator, so it works with <random> distributions and std::shuffle.
  using result_type = std::mt19937_64::result_type;
  static constexpr result_type min() { return std::mt19937_64::min(); }
  static constexpr result_type max() { return std::mt19937_64::max(); }

 private:
  uint64_t seed_;
  std::mt19937_64 gen_;
};

}  // namespace lsmt_test

/// Declares `lsmt_test::seeded_rng var` and attaches its seed to every later assertion's report
/// in the enclosing scope (rerun with LSMT_TEST_SEED=<seed> to reproduce).
#define LSMT_TEST_RNG(var)     \
  ::lsmt_test::seeded_rng var; \
  INFO("LSMT_TEST_SEED=" << var.seed())

#endif  // LSMT_TEST_ENV_HPP
