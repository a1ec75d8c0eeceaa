// A minimal lsmt consumer: store one key in a fresh directory and read it back. Built in both
// modes (header-only, and compiled against lsmt::lsmt_compiled).
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <lsmt.hpp>
#include <string>

// Built with EXPECT_COMPILED_MODE (linking lsmt::lsmt_compiled): lsmt.hpp must declare only.
#ifdef EXPECT_COMPILED_MODE
#ifndef LSMT_SEPARATE_COMPILATION
#error "lsmt::lsmt_compiled did not define LSMT_SEPARATE_COMPILATION"
#endif
#if defined(LSMT_ENGINE_IMPL_HPP) || defined(LSMT_DB_ITERATOR_IMPL_HPP) ||       \
    defined(LSMT_REPAIR_IMPL_HPP) || defined(LSMT_DESTROY_IMPL_HPP) ||           \
    defined(LSMT_FILE_SYSTEM_IMPL_HPP) || defined(LSMT_POSIX_FILE_SYSTEM_HPP) || \
    defined(LSMT_STORE_CORE_HPP) || defined(LSMT_MEMTABLE_HPP) || defined(LSMT_SSTABLE_READER_HPP)
#error "in compiled mode lsmt.hpp included the engine's definitions"
#endif
#endif

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
