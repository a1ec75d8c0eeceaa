// tests/fuzz/fuzz_open_store.cpp - a damaged store directory: open it, read it, close it.
//
// Two small reference stores (build_small_store) are created once per process in a temp dir:
// one without blob files, and one whose larger values are in blob files. Each input is a flags
// byte (bit 0: open with recovery_mode::absolute_consistency, else point_in_time; bit 1: the
// store with blob files) and a list of 4-byte edits applied to a copy of the store's files
// (LOCK excluded):
//   byte 0: op (top 2 bits: 0 set byte, 1 xor byte, 2 truncate, 3 zero 4 bytes) | file (low 6
//           bits, modulo the number of files, in name order)
//   bytes 1-2: offset (little-endian, modulo the file size; for a truncation, modulo size + 1)
//   byte 3: the value (set / xor)
// Then the store is opened, every key is read, it is scanned both ways, and closed.
//   * Opening succeeds or throws lsmt::error, never anything else; so do reads and close.
//   * In absolute_consistency mode a store that opens has db.recovery().clean() (that mode
//     throws corruption_error for any damage but a torn last record).
//   * With no edit, the store opens in either mode with a clean recovery, and no read throws.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_common.hpp"

namespace {

namespace fs = std::filesystem;

fs::path temp_root() {
  if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  return fs::temp_directory_path();
}

using file_list = std::vector<std::pair<std::string, std::string>>;

struct reference {
  fs::path root;
  file_list files[2];  // [1]: the store with blob files
  reference() {
    root = temp_root() / ("lsmt-fuzz-open-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    for (const int blobs : {0, 1}) {
      const fs::path dir = root / (blobs != 0 ? "ref-blobs" : "ref");
      lsmt_fuzz::build_small_store(dir, 42, blobs != 0 ? lsmt_fuzz::small_store_blob_min : 0);
      for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename();
        if (name == "LOCK") continue;
        std::ifstream in(e.path(), std::ios::binary);
        files[blobs].emplace_back(name, std::string(std::istreambuf_iterator<char>(in), {}));
      }
      std::sort(files[blobs].begin(), files[blobs].end());
    }
    if (std::none_of(files[1].begin(), files[1].end(),
                     [](const auto& f) { return fs::path(f.first).extension() == ".blob"; })) {
      __builtin_trap();  // the blob store must have blob files to damage
    }
  }
  ~reference() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

reference& ref() {
  static reference r;
  return r;
}

void cleanup() {
  std::error_code ec;
  fs::remove_all(ref().root, ec);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ref();
  std::atexit(cleanup);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  reference& r = ref();
  const bool blobs = (data[0] & 2) != 0;
  const file_list& files = r.files[blobs ? 1 : 0];
  lsmt::options opts = lsmt_fuzz::small_store_options(blobs ? lsmt_fuzz::small_store_blob_min : 0);
  opts.recovery_mode = (data[0] & 1) != 0 ? lsmt::recovery_mode::absolute_consistency
                                          : lsmt::recovery_mode::point_in_time;
  ++data;
  --size;
  const bool intact = size < 4;
  std::vector<std::string> bytes;
  for (const auto& f : files) bytes.push_back(f.second);
  for (size_t i = 0; i + 4 <= size && i < 4 * 32; i += 4) {
    const unsigned op = data[i] >> 6;
    std::string& b = bytes[(data[i] & 63u) % bytes.size()];
    const size_t raw = data[i + 1] | (size_t{data[i + 2]} << 8);
    if (op == 2) {
      b.resize(raw % (b.size() + 1));
      continue;
    }
    if (b.empty()) continue;
    const size_t off = raw % b.size();
    if (op == 0) {
      b[off] = static_cast<char>(data[i + 3]);
    } else if (op == 1) {
      b[off] = static_cast<char>(b[off] ^ (data[i + 3] == 0 ? 1 : data[i + 3]));
    } else {
      for (size_t j = off; j < b.size() && j < off + 4; ++j) b[j] = 0;
    }
  }
  const fs::path dir = r.root / "work";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (size_t f = 0; f < bytes.size(); ++f) {
    std::ofstream out(dir / files[f].first, std::ios::binary);
    out.write(bytes[f].data(), static_cast<std::streamsize>(bytes[f].size()));
  }
  std::unique_ptr<lsmt::db<>> db;
  try {
    db = std::make_unique<lsmt::db<>>(dir, opts);
  } catch (const lsmt::error&) {
    if (intact) __builtin_trap();  // the reference store must open
    return 0;
  }
  if ((intact || opts.recovery_mode == lsmt::recovery_mode::absolute_consistency) &&
      !db->recovery().clean()) {
    __builtin_trap();
  }
  bool read_failed = false;
  for (int k = 0; k < 120; ++k) {
    try {
      (void)db->get("key" + std::to_string(k));
    } catch (const lsmt::error&) {
      read_failed = true;
    }
  }
  try {
    auto it = db->new_iterator();
    for (it.seek_to_first(); it.valid(); it.next()) (void)it.value();
    for (it.seek_to_last(); it.valid(); it.prev()) (void)it.value();  // a blob's, read now
  } catch (const lsmt::error&) {
    read_failed = true;
  }
  if (intact && read_failed) __builtin_trap();
  try {
    db->close();
  } catch (const lsmt::error&) {
  }
  return 0;
}
