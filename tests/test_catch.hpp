// tests/test_catch.hpp - include this instead of a Catch2 header, so the tests build with
// Catch2 v3 (tests/CMakeLists.txt defines LSMT_CATCH2_V3) and v2 (Debian 12's catch2 2.13).
// Also LSMT_FAIL_UNLESS, for model tests whose failure message is built from their state.
#ifndef LSMT_TEST_CATCH_HPP
#define LSMT_TEST_CATCH_HPP

#include <sstream>

#ifdef LSMT_CATCH2_V3
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

// Stops the test case with "<what>: <cond>" and msg (streamed) unless cond holds.
#define LSMT_FAIL_UNLESS(cond, what, msg)                  \
  do {                                                     \
    if (!(cond)) {                                         \
      std::ostringstream os_;                              \
      os_ << msg; /* NOLINT(bugprone-macro-parentheses) */ \
      FAIL(what << ": " << #cond << "\n  " << os_.str());  \
    }                                                      \
  } while (0)

#endif  // LSMT_TEST_CATCH_HPP
