// lsmt/posix_file_system.hpp - the default file_system, on POSIX system calls.
//
// Files are opened with O_CLOEXEC (a child that execs must not inherit our
// descriptors, least of all the directory lock) and created with mode 0644.
//
// Log files are memory-mapped so that an append is a memcpy into the page
// cache: the bytes survive the death of the process without a system call per
// record. The file grows in chunks that are posix_fallocate()d before they are
// mapped, because a store into a mapped page the file system cannot back (disk
// full) raises SIGBUS, which no caller can handle; fallocate reports ENOSPC as
// an ordinary io_error instead. close() truncates the file to the bytes
// appended; after a crash the file keeps the zero-filled rest of its last chunk,
// which the log reader (wal.hpp) treats as the end of the log.
//
// Thread safety: posix_file_system() and the file_system it returns may be used
// from any thread. Each writable file is used by one thread at a time; readable
// files may be read from several threads at once (pread / a read-only mapping).
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

namespace lsmt {
namespace detail {

[[noreturn]] inline void throw_io(const char* op, const std::string& path, int err) {
  throw io_error(std::string("lsmt: ") + op + " '" + path + "'", err);
}

/// Owns a file descriptor. Not thread-safe; owned by one object.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

  /// Closes the descriptor. Returns close()'s errno (0 on success) for callers
  /// that must report it; a failed close can mean lost writes (NFS, EIO).
  int reset() noexcept {
    if (fd_ < 0) return 0;
    // Never retry close() on EINTR: on Linux the descriptor is already gone.
    return ::close(std::exchange(fd_, -1)) == 0 ? 0 : errno;
  }

 private:
  int fd_ = -1;
};

/// Owns a memory mapping. Not thread-safe; owned by one object.
class unique_mapping {
 public:
  unique_mapping() = default;
  unique_mapping(void* addr, size_t size) noexcept : addr_(addr), size_(size) {}
  unique_mapping(unique_mapping&& other) noexcept
      : addr_(std::exchange(other.addr_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  unique_mapping& operator=(unique_mapping&& other) noexcept {
    if (this != &other) {
      reset();
      addr_ = std::exchange(other.addr_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  unique_mapping(const unique_mapping&) = delete;
  unique_mapping& operator=(const unique_mapping&) = delete;
  ~unique_mapping() { reset(); }

  char* data() const noexcept { return static_cast<char*>(addr_); }
  size_t size() const noexcept { return size_; }
  explicit operator bool() const noexcept { return addr_ != nullptr; }
  void reset() noexcept {
    if (addr_ != nullptr) ::munmap(addr_, size_);
    addr_ = nullptr;
    size_ = 0;
  }

 private:
  void* addr_ = nullptr;
  size_t size_ = 0;
};

inline unique_fd open_fd(const std::string& path, int flags, mode_t mode = 0644) {
  for (;;) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd >= 0) return unique_fd(fd);
    if (errno != EINTR) throw_io("open", path, errno);
  }
}

/// write() until everything is written: write may be interrupted or short.
inline void write_all(int fd, const char* data, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t r = ::write(fd, data, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_io("write", path, errno);
    }
    data += r;
    n -= static_cast<size_t>(r);
  }
}

inline void fdatasync_or_throw(int fd, const std::string& path) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) throw_io("fdatasync", path, errno);
  }
}

inline size_t page_size() {
  static const auto size = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return size;
}

/// A writable_file with a 64 KiB user-space buffer, so small appends cost no
/// system call. One thread at a time.
class posix_writable_file final : public writable_file {
 public:
  static constexpr size_t buffer_capacity = 64 << 10;

  posix_writable_file(std::string path, unique_fd fd) : path_(std::move(path)), fd_(std::move(fd)) {
    buffer_.reserve(buffer_capacity);
  }
  ~posix_writable_file() override {
    try {
      close();
    } catch (...) {  // a destructor cannot report; close() explicitly to learn of failures
    }
  }

  void append(std::string_view data) override {
    check_open("append");
    if (data.size() > buffer_capacity - buffer_.size()) {
      flush_buffer(fd_.get());
      // A big append goes straight to the kernel rather than through the buffer.
      if (data.size() >= buffer_capacity) {
        write_all(fd_.get(), data.data(), data.size(), path_);
        size_ += data.size();
        return;
      }
    }
    buffer_.append(data.data(), data.size());
    size_ += data.size();
  }

  void flush() override {
    check_open("flush");
    flush_buffer(fd_.get());
  }

  void sync() override {
    flush();
    fdatasync_or_throw(fd_.get(), path_);
  }

  void close() override {
    if (!fd_) return;
    unique_fd fd = std::move(fd_);  // closed on every path, even if the flush throws
    flush_buffer(fd.get());
    if (const int err = fd.reset()) throw_io("close", path_, err);
  }

  uint64_t size() const override { return size_; }

 private:
  void check_open(const char* op) const {
    if (!fd_) throw io_error(std::string("lsmt: ") + op + " on closed file '" + path_ + "'", EBADF);
  }
  void flush_buffer(int fd) {
    if (buffer_.empty()) return;
    write_all(fd, buffer_.data(), buffer_.size(), path_);
    buffer_.clear();
  }

  std::string path_;
  unique_fd fd_;
  std::string buffer_;
  uint64_t size_ = 0;
};

/// A log file written through a shared mapping of preallocated chunks (see the
/// top of this file). Only the chunk being written is mapped: unmapping a chunk
/// leaves its dirty pages in the page cache, where the next sync's fdatasync()
/// finds them. One thread at a time.
class posix_log_file final : public writable_file {
 public:
  posix_log_file(std::string path, unique_fd fd, size_t chunk_bytes)
      : path_(std::move(path)), fd_(std::move(fd)), chunk_bytes_(chunk_bytes) {}
  ~posix_log_file() override {
    try {
      close();
    } catch (...) {  // a destructor cannot report; close() explicitly to learn of failures
    }
  }

  void append(std::string_view data) override {
    check_open("append");
    while (!data.empty()) {
      if (size_ == chunk_end_) map_next_chunk();
      const size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), chunk_end_ - size_));
      std::memcpy(chunk_.data() + (size_ - chunk_offset_), data.data(), n);
      size_ += n;
      data.remove_prefix(n);
    }
  }

  /// Nothing to do: appended bytes are already in the page cache.
  void flush() override { check_open("flush"); }

  void sync() override {
    check_open("sync");
    if (size_ == synced_) return;
    if (chunk_) {
      // msync is how POSIX makes stores through a mapping durable; it needs a page-aligned start.
      const uint64_t dirty = std::max(synced_, chunk_offset_);
      const uint64_t start = dirty - (dirty - chunk_offset_) % page_size();
      if (::msync(chunk_.data() + (start - chunk_offset_), size_ - start, MS_SYNC) != 0) {
        throw_io("msync", path_, errno);
      }
    }
    // fdatasync is needed only after a new chunk: for the file's new size, and for
    // bytes in chunks no longer mapped. Each call is a device cache flush, so
    // skipping it otherwise halves sync latency.
    if (grown_since_sync_) {
      fdatasync_or_throw(fd_.get(), path_);
      grown_since_sync_ = false;
    }
    synced_ = size_;
  }

  void close() override {
    if (!fd_) return;
    unique_fd fd = std::move(fd_);
    chunk_.reset();
    // Cut off the preallocated zeros so the file ends at the last appended byte.
    if (::ftruncate(fd.get(), static_cast<off_t>(size_)) != 0) throw_io("ftruncate", path_, errno);
    if (const int err = fd.reset()) throw_io("close", path_, err);
  }

  uint64_t size() const override { return size_; }

 private:
  void check_open(const char* op) const {
    if (!fd_) throw io_error(std::string("lsmt: ") + op + " on closed file '" + path_ + "'", EBADF);
  }

  void map_next_chunk() {
    grown_since_sync_ = true;
    chunk_.reset();
    const uint64_t offset = chunk_end_;
    allocate(offset);
    void* addr = ::mmap(nullptr, chunk_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(),
                        static_cast<off_t>(offset));
    if (addr == MAP_FAILED) throw_io("mmap", path_, errno);
    chunk_ = unique_mapping(addr, chunk_bytes_);
    chunk_offset_ = offset;
    chunk_end_ = offset + chunk_bytes_;
  }

  /// Gives [offset, offset + chunk) real blocks before it is mapped (never SIGBUS).
  void allocate(uint64_t offset) {
    int err;
    do {
      err = ::posix_fallocate(fd_.get(), static_cast<off_t>(offset),
                              static_cast<off_t>(chunk_bytes_));  // returns the error
    } while (err == EINTR);
    if (err == 0) return;
    if (err != EOPNOTSUPP && err != EINVAL) throw_io("posix_fallocate", path_, err);
    // No fallocate on this file system. Growing with ftruncate would leave a hole
    // (SIGBUS again when the disk is full); writing zeros allocates the blocks.
    static const std::string zeros(64 << 10, '\0');
    for (uint64_t done = 0; done < chunk_bytes_;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), chunk_bytes_ - done));
      const ssize_t r = ::pwrite(fd_.get(), zeros.data(), n, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_io("write", path_, errno);
      }
      done += static_cast<uint64_t>(r);
    }
  }

  std::string path_;
  unique_fd fd_;
  size_t chunk_bytes_;
  unique_mapping chunk_;           // the mapped chunk being written
  uint64_t chunk_offset_ = 0;      // file offset of chunk_
  uint64_t chunk_end_ = 0;         // end of the allocated part of the file
  uint64_t size_ = 0;              // bytes appended
  uint64_t synced_ = 0;            // bytes made durable by sync()
  bool grown_since_sync_ = false;  // a chunk was added (and one unmapped) since the last sync
};

/// A readable_file on pread(). Thread-safe: pread has no shared file position.
class posix_pread_file final : public readable_file {
 public:
  posix_pread_file(std::string path, unique_fd fd, uint64_t size)
      : path_(std::move(path)), fd_(std::move(fd)), size_(size) {}

  uint64_t size() const override { return size_; }

  std::string_view read(uint64_t offset, size_t n, char* scratch) const override {
    if (offset >= size_) return {};
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    size_t got = 0;
    while (got < n) {
      const ssize_t r =
          ::pread(fd_.get(), scratch + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        throw_io("read", path_, errno);
      }
      if (r == 0) break;  // the file shrank after it was opened
      got += static_cast<size_t>(r);
    }
    return {scratch, got};
  }

 private:
  std::string path_;
  unique_fd fd_;
  uint64_t size_;
};

/// A readable_file on a read-only mapping of the whole file. Thread-safe.
class posix_mmap_file final : public readable_file {
 public:
  explicit posix_mmap_file(unique_mapping map) : map_(std::move(map)) {}

  uint64_t size() const override { return map_.size(); }
  bool is_mapped() const override { return true; }

  std::string_view read(uint64_t offset, size_t n, char* /*scratch*/) const override {
    if (offset >= map_.size()) return {};
    return {map_.data() + offset, static_cast<size_t>(std::min<uint64_t>(n, map_.size() - offset))};
  }

 private:
  unique_mapping map_;
};

/// Holds an flock() on an open file. flock rather than fcntl locks because an
/// flock belongs to the open file description: a second open in the same
/// process conflicts, and closing some other descriptor of the file does not
/// drop it. (A forked child shares the description and so keeps it held.)
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
    return std::make_unique<posix_writable_file>(path, open_fd(path, O_WRONLY | O_CREAT | O_TRUNC));
  }

  std::unique_ptr<writable_file> new_log_file(const std::string& path) override {
    // O_RDWR: a shared writable mapping needs a descriptor open for reading too.
    return std::make_unique<posix_log_file>(path, open_fd(path, O_RDWR | O_CREAT | O_TRUNC),
                                            log_chunk_bytes_);
  }

  std::unique_ptr<readable_file> new_readable_file(const std::string& path,
                                                   bool prefer_mmap) override {
    unique_fd fd = open_fd(path, O_RDONLY);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_io("stat", path, errno);
    const auto size = static_cast<uint64_t>(st.st_size);
    if (prefer_mmap && size > 0 && static_cast<size_t>(size) == size) {
      void* addr = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, fd.get(), 0);
      // The mapping keeps the file open; fd closes on return. If mapping fails
      // (address space, a file system without mmap), pread works just as well.
      if (addr != MAP_FAILED) {
        return std::make_unique<posix_mmap_file>(unique_mapping(addr, static_cast<size_t>(size)));
      }
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
    const std::unique_ptr<DIR, dir_closer> d(::opendir(dir.c_str()));
    if (!d) throw_io("open directory", dir, errno);
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
    unique_fd fd = open_fd(dir, O_RDONLY | O_DIRECTORY);
    while (::fsync(fd.get()) != 0) {
      if (errno != EINTR) throw_io("fsync directory", dir, errno);
    }
  }

  std::unique_ptr<file_lock> lock_file(const std::string& path) override {
    unique_fd fd = open_fd(path, O_RDWR | O_CREAT);
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

}  // namespace detail

/// The process-wide POSIX file_system: what a store uses unless options.fs is set.
inline std::shared_ptr<file_system> posix_file_system() {
  static const std::shared_ptr<file_system> instance =
      std::make_shared<detail::posix_file_system_impl>();
  return instance;
}

}  // namespace lsmt

#endif  // LSMT_POSIX_FILE_SYSTEM_HPP
