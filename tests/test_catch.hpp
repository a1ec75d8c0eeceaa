// tests/test_catch.hpp - include this instead of a Catch2 header, so the tests build with
// Catch2 v3 (tests/CMakeLists.txt defines LSMT_CATCH2_V3) and v2 (Debian 12's catch2 2.13).
#ifndef LSMT_TEST_CATCH_HPP
#define LSMT_TEST_CATCH_HPP

#ifdef LSMT_CATCH2_V3
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#endif  // LSMT_TEST_CATCH_HPP
