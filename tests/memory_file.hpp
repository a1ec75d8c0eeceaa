// tests/memory_file.hpp - lsmt files held in memory, for tests and fuzz targets that feed
// engine parts (log reader, table reader, MANIFEST) bytes without a file system.
//
//   memory_readable_file  a readable_file over bytes it owns. mapped == true: read() returns
//                         views into the buffer, like an mmap'ed file, and is_mapped() is true;
//                         otherwise read() copies into the caller's scratch, and throws
//                         std::logic_error if there is none (the file_system contract says
//                         scratch must hold n bytes: an engine bug, which a fuzzer reports).
//   memory_writable_file  a writable_file that appends to a string the caller owns.
//
// No Catch2 here: tests/fuzz/ includes this file too.
#ifndef LSMT_TEST_MEMORY_FILE_HPP
#define LSMT_TEST_MEMORY_FILE_HPP

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "lsmt/file_system.hpp"

namespace lsmt_test {

/// A readable_file over bytes in memory. mapped == true: read() returns views into the buffer,
/// like an mmap'ed file; otherwise it copies into scratch.
class memory_readable_file final : public lsmt::readable_file {
 public:
  explicit memory_readable_file(std::string data, bool mapped = false)
      : data_(std::move(data)), mapped_(mapped) {}
  uint64_t size() const override { return data_.size(); }
  std::string_view read(uint64_t offset, size_t n, char* scratch) const override {
    if (offset >= data_.size()) return {};
    n = static_cast<size_t>(std::min<uint64_t>(n, data_.size() - offset));
    if (mapped_) return std::string_view(data_).substr(static_cast<size_t>(offset), n);
    if (n == 0) return {};
    if (scratch == nullptr) {  // only a mapped file may be read without scratch
      throw std::logic_error("memory_readable_file: read() of an unmapped file without scratch");
    }
    std::memcpy(scratch, data_.data() + offset, n);
    return {scratch, n};
  }
  bool is_mapped() const override { return mapped_; }

 private:
  std::string data_;
  bool mapped_;
};

/// A writable_file that appends to a string the caller owns.
class memory_writable_file final : public lsmt::writable_file {
 public:
  explicit memory_writable_file(std::string* out) : out_(out) {}
  void append(std::string_view data) override { out_->append(data.data(), data.size()); }
  void flush() override {}
  void sync() override {}
  void close() override {}
  uint64_t size() const override { return out_->size(); }
  bool write_at(uint64_t offset, std::string_view data) override {
    out_->replace(static_cast<size_t>(offset), data.size(), data.data(), data.size());
    return true;
  }

 private:
  std::string* out_;
};

}  // namespace lsmt_test

#endif  // LSMT_TEST_MEMORY_FILE_HPP
