// lsmt/posix_file_system.hpp - the default file_system, on POSIX system calls: plain files and
// readers (posix_io.hpp), mapped log files (posix_log_file.hpp), and the directory lock.
//
// lsmt::posix_file_system() (file_system.hpp, defined in file_system_impl.hpp) returns the one
// instance.
//
// Thread safety: the file_system may be used from any thread.
#ifndef LSMT_POSIX_FILE_SYSTEM_HPP
#define LSMT_POSIX_FILE_SYSTEM_HPP

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "error.hpp"
#include "file_system.hpp"
#include "posix_io.hpp"
#include "posix_log_file.hpp"

namespace lsmt::detail {

/// Holds an flock() on an open file. flock rather than fcntl locks because an
/// flock belongs to the open file description: a second open in the same
/// process conflicts, and closing some other descriptor of the file does not
/// drop it.
///
/// fork: a child forked without exec shares the description, so the lock stays
/// held until the child exits (or closes its copy of the descriptor) even after
/// the parent closes the store. lsmt does not release it in the child (say with
/// pthread_atfork): LOCK_UN on a shared description would release the parent's
/// lock too. A child that execs does not keep it: the descriptor is O_CLOEXEC.
class posix_file_lock final : public file_lock {
 public:
  explicit posix_file_lock(unique_fd fd) : fd_(std::move(fd)) {}

 private:
  unique_fd fd_;  // closing it releases the lock
};

/// The POSIX file_system. Stateless apart from the log chunk size; thread-safe.
class posix_file_system_impl final : public file_system {
 public:
  /// log_chunk_bytes: how much a log file grows at a time (rounded up to pages).
  explicit posix_file_system_impl(size_t log_chunk_bytes = 4 << 20)
      : log_chunk_bytes_(std::max(
            page_size(), (log_chunk_bytes + page_size() - 1) / page_size() * page_size())) {}

  std::unique_ptr<writable_file> new_writable_file(const std::string& path) override {
    return std::make_unique<posix_writable_file>(
        path, open_regular_file(path, O_WRONLY | O_CREAT | O_TRUNC, file_origin::created));
  }

  std::unique_ptr<writable_file> new_log_file(const std::string& path) override {
    // O_RDWR: a shared writable mapping needs a descriptor open for reading too.
    return std::make_unique<posix_log_file>(
        path, open_regular_file(path, O_RDWR | O_CREAT | O_TRUNC, file_origin::created),
        log_chunk_bytes_);
  }

  std::unique_ptr<readable_file> new_readable_file(const std::string& path,
                                                   bool prefer_mmap) override {
    // Only store files (tables, logs, the MANIFEST) are opened for reading: anything but a
    // regular file there is damage to the store.
    uint64_t size = 0;
    unique_fd fd = open_regular_file(path, O_RDONLY, file_origin::existing, &size);
    if (prefer_mmap && size > 0 && static_cast<size_t>(size) == size) {
      unique_mapping map = map_read_only(fd.get(), static_cast<size_t>(size));
      // The mapping keeps the file open; fd closes on return. If mapping fails
      // (address space, a file system without mmap), pread works just as well.
      if (map) return std::make_unique<posix_mmap_file>(std::move(map));
    }
    return std::make_unique<posix_pread_file>(path, std::move(fd), size);
  }

  bool file_exists(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    throw_io("stat", path, errno);
  }

  std::vector<std::string> list_directory(const std::string& dir) override {
    struct dir_closer {
      void operator()(DIR* d) const noexcept { ::closedir(d); }
    };
    // open + fdopendir rather than opendir, to choose the flags (O_CLOEXEC) on every libc.
    unique_fd fd = open_fd(dir, O_RDONLY | O_DIRECTORY);
    const std::unique_ptr<DIR, dir_closer> d(::fdopendir(fd.get()));
    if (!d) throw_io("open directory", dir, errno);
    fd.release();  // d owns it now
    std::vector<std::string> names;
    for (;;) {
      errno = 0;  // readdir signals errors only through errno
      const dirent* entry = ::readdir(d.get());
      if (entry == nullptr) break;
      const std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    if (errno != 0) throw_io("read directory", dir, errno);
    return names;
  }

  void remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) throw_io("remove", path, errno);
  }

  void remove_directory(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0) throw_io("remove directory", dir, errno);
  }

  bool link_file(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) == 0) return true;
    // Another file system, or one without hard links: the caller copies.
    if (errno == EXDEV || errno == EPERM || errno == ENOTSUP || errno == EMLINK) return false;
    throw_io("link", from + "' to '" + to, errno);
  }

  void rename_file(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) throw_io("rename", from + "' to '" + to, errno);
  }

  /// Permissions are applied only to a directory this call creates: an existing
  /// directory keeps the permissions its owner gave it. (Missing parents get the
  /// default 0777 & ~umask, as with mkdir -p.)
  void create_directory(const std::string& dir, std::filesystem::perms perms) override {
    std::error_code ec;
    const bool created = std::filesystem::create_directories(dir, ec);
    if (!ec && created) {
      std::filesystem::permissions(dir, perms, std::filesystem::perm_options::replace, ec);
    }
    if (ec) throw_io("create directory", dir, ec.value());
  }

  void sync_directory(const std::string& dir) override {
    // O_DIRECTORY: anything but a directory fails with ENOTDIR before it is opened (no FIFO
    // blocks).
    unique_fd fd = open_fd(dir, O_RDONLY | O_DIRECTORY);
    while (::fsync(fd.get()) != 0) {
      if (errno != EINTR) throw_io("fsync directory", dir, errno);
    }
  }

  std::unique_ptr<file_lock> lock_file(const std::string& path) override {
    unique_fd fd = open_regular_file(path, O_RDWR | O_CREAT, file_origin::created);
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) {
        throw locked_error("lsmt: '" + path + "' is locked by another handle or process");
      }
      if (errno != EINTR) throw_io("lock", path, errno);
    }
    return std::make_unique<posix_file_lock>(std::move(fd));
  }

 private:
  size_t log_chunk_bytes_;
};

}  // namespace lsmt::detail

#ifndef LSMT_SEPARATE_COMPILATION
#include "file_system_impl.hpp"  // posix_file_system(), which makes the one instance
#endif

#endif  // LSMT_POSIX_FILE_SYSTEM_HPP
