// tests/ikey.hpp - internal keys (user key, sequence, type) for tests that build memtables,
// tables and MANIFESTs directly: ikey() encodes one as the engine does, ikey_less orders encoded
// keys as the engine does (for std::map models).
//
// No Catch2 here: tests/fuzz/ includes this file too.
#ifndef LSMT_TEST_IKEY_HPP
#define LSMT_TEST_IKEY_HPP

#include <cstdint>
#include <string>
#include <string_view>

#include "lsmt/internal_key.hpp"

namespace lsmt_test {

/// An internal key as the engine encodes it; by default a value at sequence 1.
inline std::string ikey(std::string_view user_key, uint64_t seq = 1,
                        lsmt::detail::value_type t = lsmt::detail::value_type::value) {
  std::string k;
  lsmt::detail::append_internal_key(k, user_key, seq, t);
  return k;
}

/// Orders encoded internal keys like the engine does, for std::map models.
struct ikey_less {
  bool operator()(const std::string& a, const std::string& b) const {
    return lsmt::detail::compare_internal_keys(a, b) < 0;
  }
};

}  // namespace lsmt_test

#endif  // LSMT_TEST_IKEY_HPP
