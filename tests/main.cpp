// The Catch2 v2 main for lsmt_tests (with Catch2 v3, Catch2::Catch2WithMain provides it).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
