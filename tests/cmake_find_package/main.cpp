// A minimal lsmt consumer: store one key in a fresh directory and read it back, and check that
// lsmt::version() and the LSMT_VERSION_* macros are the version the package says
// (EXPECTED_VERSION, from find_package or pkg-config). Built in both modes (header-only and
// compiled).
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <lsmt.hpp>
#include <string>

#include "../cmake/expect_mode.hpp"

int main() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("lsmt-consumer-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const lsmt::library_version v = lsmt::version();
  const std::string got =
      std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
  const std::string macros = std::to_string(LSMT_VERSION_MAJOR) + "." +
                             std::to_string(LSMT_VERSION_MINOR) + "." +
                             std::to_string(LSMT_VERSION_PATCH);
  if (got != EXPECTED_VERSION || macros != EXPECTED_VERSION) {
    std::fprintf(stderr, "consumer: lsmt::version() %s, macros %s, package %s\n", got.c_str(),
                 macros.c_str(), EXPECTED_VERSION);
    return 1;
  }
  int rc = 1;
  try {
    lsmt::db<> db(dir);
    db.put("hello", "world");
    const auto value = db.get("hello");
    if (value && *value == "world") {
      rc = 0;
    } else {
      std::fprintf(stderr, "consumer: get(\"hello\") did not return \"world\"\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
  }
  fs::remove_all(dir);
  return rc;
}
