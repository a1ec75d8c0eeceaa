// examples/compression/zstd_store.cpp - options.compressor with zstd, end to end: writes a store
// of compressible values with zstd_compressor, reopens it with zstd and reads every key back,
// then opens it without a compressor, which must fail with invalid_argument_error naming the
// compressor id. Prints the bytes on disk next to those of the same store written without a
// compressor. Usage: zstd_store [DIR] (default ./zstd_store_example; its stores are replaced).
// Exits 0 if everything behaved as described, 1 otherwise.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "lsmt.hpp"
#include "zstd_compressor.hpp"

namespace {

namespace fs = std::filesystem;

std::string key_of(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user%08d", i);
  return buf;
}

// Text-like values: words from a small vocabulary, so they compress as real records do.
std::string value_of(int i) {
  static const char* const words[] = {"alpha", "beta", "gamma",  "delta", "status=ok",
                                      "id",    "name", "amount", "euro",  "2024-01-01"};
  std::string v;
  uint32_t x = static_cast<uint32_t>(i) * 2654435761u + 1;
  while (v.size() < 200) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v += words[x % 10];
    v += ' ';
  }
  return v;
}

uint64_t table_bytes(const fs::path& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".sst") n += e.file_size();
  }
  return n;
}

// Writes the store in dir with compressor c (null: none); returns its table bytes.
uint64_t write_store(const fs::path& dir, std::shared_ptr<const lsmt::compressor> c, int n) {
  fs::remove_all(dir);
  lsmt::options o;
  o.compressor = std::move(c);
  lsmt::db<> db(dir, o);
  for (int i = 0; i < n; ++i) db.put(key_of(i), value_of(i));
  db.flush();
  db.compact();
  db.close();
  return table_bytes(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const fs::path base = argc > 1 ? fs::path(argv[1]) : fs::path("zstd_store_example");
  fs::create_directories(base);
  const int n = 50000;
  const auto zstd = std::make_shared<lsmt_examples::zstd_compressor>();
  try {
    const uint64_t plain = write_store(base / "plain", nullptr, n);
    const uint64_t packed = write_store(base / "zstd", zstd, n);
    std::cout << "tables without a compressor: " << plain << " bytes; with zstd: " << packed
              << " bytes (" << 100 * packed / plain << "%)\n";

    lsmt::options with;
    with.compressor = zstd;
    {
      lsmt::db<> db(base / "zstd", with);
      for (int i = 0; i < n; ++i) {
        if (db.get(key_of(i)) != value_of(i)) {
          std::cerr << "wrong value for " << key_of(i) << '\n';
          return 1;
        }
      }
      int scanned = 0;
      for (const auto& [k, v] : db.scan()) scanned += v == value_of(scanned) ? 1 : 0;
      if (scanned != n || !db.verify().ok()) {
        std::cerr << "scan or verify failed\n";
        return 1;
      }
    }
    std::cout << "reopened with zstd: all " << n << " keys read back\n";

    try {
      lsmt::db<> db(base / "zstd", lsmt::options{});
      std::cerr << "opened a zstd store without a compressor\n";
      return 1;
    } catch (const lsmt::invalid_argument_error& e) {
      std::cout << "reopened without a compressor: " << e.what() << '\n';
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
