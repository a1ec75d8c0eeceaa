// tests/blob_util.hpp - what the blob-file tests share: the files of a store by extension, and
// damage to one byte of a file.
#ifndef LSMT_TESTS_BLOB_UTIL_HPP
#define LSMT_TESTS_BLOB_UTIL_HPP

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lsmt_test {

/// The paths of the files in dir whose extension is ext (".blob"), sorted: by number for a
/// store's files.
inline std::vector<std::string> files_with(const std::string& dir, const std::string& ext) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ext) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Overwrites the byte at `offset` of the file at path with 0x5a.
inline void damage_byte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put('\x5a');
}

}  // namespace lsmt_test

#endif  // LSMT_TESTS_BLOB_UTIL_HPP
