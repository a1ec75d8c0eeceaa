// tests/forwarding_fs.hpp - lsmt::file_system that passes every call to the POSIX file system.
// A test derives from it and overrides only the calls it changes (counting syncs, holding or
// failing table creations), calling forwarding_fs's version for the rest of the work.
//
// Thread safety: as the POSIX file system's (every member may be called from any thread).
#ifndef LSMT_TEST_FORWARDING_FS_HPP
#define LSMT_TEST_FORWARDING_FS_HPP

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "lsmt.hpp"

namespace lsmt_test {

class forwarding_fs : public lsmt::file_system {
 public:
  std::unique_ptr<lsmt::writable_file> new_writable_file(const std::string& path) override {
    return base_->new_writable_file(path);
  }
  std::unique_ptr<lsmt::writable_file> new_log_file(const std::string& path) override {
    return base_->new_log_file(path);
  }
  std::unique_ptr<lsmt::readable_file> new_readable_file(const std::string& path,
                                                         bool prefer_mmap) override {
    return base_->new_readable_file(path, prefer_mmap);
  }
  bool file_exists(const std::string& path) override { return base_->file_exists(path); }
  std::vector<std::string> list_directory(const std::string& dir) override {
    return base_->list_directory(dir);
  }
  void remove_file(const std::string& path) override { base_->remove_file(path); }
  void remove_directory(const std::string& dir) override { base_->remove_directory(dir); }
  bool link_file(const std::string& from, const std::string& to) override {
    return base_->link_file(from, to);
  }
  void rename_file(const std::string& from, const std::string& to) override {
    base_->rename_file(from, to);
  }
  void create_directory(const std::string& dir, std::filesystem::perms perms) override {
    base_->create_directory(dir, perms);
  }
  void sync_directory(const std::string& dir) override { base_->sync_directory(dir); }
  std::unique_ptr<lsmt::file_lock> lock_file(const std::string& path) override {
    return base_->lock_file(path);
  }

 private:
  std::shared_ptr<lsmt::file_system> base_ = lsmt::posix_file_system();
};

}  // namespace lsmt_test

#endif  // LSMT_TEST_FORWARDING_FS_HPP
