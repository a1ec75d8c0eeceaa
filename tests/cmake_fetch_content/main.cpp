// A minimal lsmt consumer: store one key in a fresh directory and read it back. Built in both
// modes (header-only, and compiled against lsmt::lsmt_compiled).
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
