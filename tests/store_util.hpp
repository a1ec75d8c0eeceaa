// tests/store_util.hpp - helpers for tests that drive a whole lsmt::db<> through its public API
// (the engine, compaction, crash recovery and codec tests).
//
//   str_db, opt_str, rwx_r_x  the string store, its get() result, and the usual directory mode.
//   key_of(i)                 "key-00000042": zero-padded, so key order is numeric order.
//   pattern_value(seed, len)  a value whose every byte depends on (seed, position), so a value
//                             returned for the wrong key or cut short is caught.
//   dump(db)                  the whole store in scan order, CHECKing that the scan's keys are
//                             strictly increasing.
#ifndef LSMT_TEST_STORE_UTIL_HPP
#define LSMT_TEST_STORE_UTIL_HPP

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "lsmt.hpp"
#include "test_catch.hpp"

namespace lsmt_test {

using str_db = lsmt::db<>;
using opt_str = std::optional<std::string>;
inline constexpr std::filesystem::perms rwx_r_x = std::filesystem::perms(0755);

/// The options of the seed constructor db(dir, rwx_r_x, entries, interval, minimum) with idle
/// settling off (options::idle_settle_ms = 0), for tests that count flushes and merges exactly:
/// a settle after a slow step (in a sanitizer build, say) would add to them.
inline lsmt::options seed_without_settle(size_t entries, size_t interval, size_t minimum) {
  lsmt::options o = lsmt::seed_options(rwx_r_x, entries, interval, minimum);
  o.idle_settle_ms = 0;
  return o;
}

inline std::string key_of(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key-%08d", i);
  return buf;
}

/// A value whose every byte depends on (seed, position), so a mixed-up value is caught.
inline std::string pattern_value(uint32_t seed, size_t len) {
  std::string v(len, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < len; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v[i] = static_cast<char>(x & 0xff);
  }
  return v;
}

/// The whole store, in scan order.
inline std::map<std::string, std::string> dump(const str_db& d) {
  std::map<std::string, std::string> out;
  std::string prev;
  bool first = true;
  for (const auto& [k, v] : d.scan()) {
    if (!first) CHECK(prev < k);  // strictly increasing, no duplicates
    prev = k;
    first = false;
    out.emplace(k, v);
  }
  return out;
}

}  // namespace lsmt_test

#endif  // LSMT_TEST_STORE_UTIL_HPP
