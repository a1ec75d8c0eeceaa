// lsmt/posix_io.hpp - POSIX building blocks of the default file_system: owners of file
// descriptors and mappings, full writes, and the plain writable and readable files.
//
// Every open() adds O_CLOEXEC (a child that execs must not inherit our descriptors, least of
// all the directory lock) and O_NONBLOCK (a FIFO where a store file should be must not block the
// open), and creates files with mode 0644. A store file is then fstat()ed and refused unless it
// is a regular file (open_regular_file). Symbolic links are followed (no O_NOFOLLOW): users may
// link a store's files or directory elsewhere.
//
// Thread safety: unique_fd and unique_mapping are owned by one object. Each writable file is
// used by one thread at a time; readable files may be read from several threads at once (pread
// / a read-only mapping).
#ifndef LSMT_POSIX_IO_HPP
#define LSMT_POSIX_IO_HPP

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

namespace lsmt::detail {

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
  /// Gives up ownership: returns the descriptor, which the caller must close.
  int release() noexcept { return std::exchange(fd_, -1); }

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

/// Maps `size` bytes of fd read-only and shared: the mapping, or an empty one if mmap fails.
/// On Linux a mapping of 2 MiB or more is advised for huge pages (MADV_HUGEPAGE), so the
/// kernel may map each 2 MiB page-cache folio of the file (posix_writable_file) whole, with one
/// fault. That needs file system support for large folios and a 2 MiB-aligned address, which
/// the benchmark machine's kernel (6.18, ext4) gives such mappings by itself. The advice also
/// makes a fault on a page that is not in the page cache read the 2 MiB around it; only tables
/// under max_mapped_bytes are mapped (mapping_budget.hpp).
inline unique_mapping map_read_only(int fd, size_t size) {
  void* addr = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) return {};
#ifdef MADV_HUGEPAGE
  // Only advice: without transparent huge pages the kernel maps 4 KiB pages as before.
  if (size >= size_t{2} << 20) ::madvise(addr, size, MADV_HUGEPAGE);
#endif
  return {addr, size};
}

/// open() with O_CLOEXEC and O_NONBLOCK added, retried on EINTR: the descriptor, or -1 with
/// errno set.
inline int open_nonblocking(const std::string& path, int flags, mode_t mode) {
  for (;;) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC | O_NONBLOCK, mode);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

/// open_nonblocking(), throwing io_error on failure. For directories (O_DIRECTORY): files are
/// opened with open_regular_file().
inline unique_fd open_fd(const std::string& path, int flags, mode_t mode = 0644) {
  const int fd = open_nonblocking(path, flags, mode);
  if (fd < 0) throw_io("open", path, errno);
  return unique_fd(fd);
}

/// For error messages: what kind of file st_mode describes.
inline const char* file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "a special file";
}

/// Where a file that open_regular_file() refuses was expected, which decides the error.
enum class file_origin {
  existing,  ///< a store file that must already exist (table, log, MANIFEST): corruption_error
  created,   ///< a file the call creates or truncates, or the LOCK file: io_error
};

[[noreturn]] inline void throw_not_regular(const std::string& path, mode_t mode,
                                           file_origin origin) {
  const std::string what =
      "lsmt: '" + path + "' is " + file_type_name(mode) + ", not a regular file";
  if (origin == file_origin::existing) throw corruption_error(what);
  throw io_error(what);  // sys_errno() 0: the refusal is lsmt's, whatever open() said
}

/// Opens a file lsmt reads, writes or locks, and refuses anything but a regular file (see
/// file_origin for the error). Never blocks: with O_NONBLOCK, open() returns at once for a FIFO
/// opened for reading or read-write (fstat then refuses it) and fails with ENXIO for a FIFO
/// without a reader opened write-only, or for a socket; a directory opened for writing fails
/// with EISDIR. Sets *size to the file's size if size is not null.
inline unique_fd open_regular_file(const std::string& path, int flags, file_origin origin,
                                   uint64_t* size = nullptr) {
  struct stat st {};
  const int raw = open_nonblocking(path, flags, 0644);
  if (raw < 0) {
    const int err = errno;
    if ((err == ENXIO || err == EISDIR) && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      throw_not_regular(path, st.st_mode, origin);
    }
    throw_io("open", path, err);
  }
  unique_fd fd(raw);
  if (::fstat(fd.get(), &st) != 0) throw_io("stat", path, errno);
  if (!S_ISREG(st.st_mode)) throw_not_regular(path, st.st_mode, origin);
  // O_NONBLOCK was only for the open. On Linux it has no effect on a regular file (its reads and
  // writes never return EAGAIN; mandatory locking, which could, was removed in 5.15), but POSIX
  // leaves it unspecified there, so clear it: later calls behave as on a blocking descriptor.
  const int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0) throw_io("fcntl", path, errno);
  if (size != nullptr) *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

/// pwrite() until everything is written at offset.
inline void pwrite_all(int fd, std::string_view data, uint64_t offset, const std::string& path) {
  while (!data.empty()) {
    const ssize_t r = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw_io("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(r));
    offset += static_cast<uint64_t>(r);
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

/// A writable_file with a 2 MiB user-space buffer, so small appends cost no system call.
/// The buffer goes to the kernel only when full, so a file written without flush() or sync()
/// before its end, as a table is, reaches the kernel in 2 MiB writes at 2 MiB-aligned offsets
/// (but the last). That sizes the page-cache folios: with a file system that has large folios
/// (the benchmark machine: Linux 6.18, ext4) the file sits in 2 MiB folios, which a mapping
/// advised for huge pages (map_read_only above) maps with one fault per 2 MiB instead of one
/// per 4 KiB page or small folio. On the benchmark machine (a virtual machine where the first
/// touch of each 4 KiB page of a new mapping cost 1.6-2.0 us) the first touch of 64 MiB of a
/// cached file fell to 0.06-0.07 us per page. The price there is on the writing side: a 2 MiB
/// folio of memory the host has not backed lately took 4.6-9.1 us per 4 KiB to fill, against
/// 0.6-0.8 in 64 KiB folios. Writing only flushes 64 KiB at a time lost most of the read gains
/// (the reads right after a fill go to level-0 tables). README, Memory, has the benchmark
/// figures. Blob files, whose flush a fill of large values waits on, flush every 256 KiB
/// instead (blob_file.hpp, "Writes"); a flush of that many bytes starts their writeback as a
/// full buffer does. The buffer takes its 2 MiB only once a file outgrows 64 KiB, so a small
/// file (the MANIFEST) stays small. One thread at a time.
class posix_writable_file final : public writable_file {
 public:
  static constexpr size_t buffer_capacity = size_t{2} << 20;
  static constexpr size_t small_file = size_t{64} << 10;            // grows its buffer as needed
  static constexpr size_t writeback_min_bytes = size_t{256} << 10;  // see flush()

  posix_writable_file(std::string path, unique_fd fd)
      : path_(std::move(path)), fd_(std::move(fd)) {}
  ~posix_writable_file() override {
    try {
      close();
    } catch (...) {  // a destructor cannot report; close() explicitly to learn of failures
    }
  }

  void append(std::string_view data) override {
    check_open("append");
    // Even a big append passes through the buffer, to keep the writes whole and aligned.
    if (buffer_.size() + data.size() > small_file && buffer_.capacity() < buffer_capacity) {
      buffer_.reserve(buffer_capacity);  // once, rather than growing by doubling past 2 MiB
    }
    while (!data.empty()) {
      const size_t take = std::min(data.size(), buffer_capacity - buffer_.size());
      buffer_.append(data.data(), take);
      data.remove_prefix(take);
      size_ += take;
      if (buffer_.size() == buffer_capacity) {
        flush_buffer(fd_.get());
        start_writeback();
      }
    }
  }

  void flush() override {
    const size_t n = buffer_.size();
    hand_over();
    // A large flush (a blob file's, every blob_write_size) starts its writeback as a full
    // buffer's does.
    if (n >= writeback_min_bytes) start_writeback();
  }

  void sync() override {
    hand_over();  // no writeback hint: the fdatasync writes everything anyway
    fdatasync_or_throw(fd_.get(), path_);
  }

  void close() override {
    if (!fd_) return;
    unique_fd fd = std::move(fd_);  // closed on every path, even if the flush throws
    flush_buffer(fd.get());
    if (const int err = fd.reset()) throw_io("close", path_, err);
  }

  uint64_t size() const override { return size_; }

  bool write_at(uint64_t offset, std::string_view data) override {
    hand_over();
    pwrite_all(fd_.get(), data, offset, path_);
    return true;
  }

 private:
  /// flush() without the writeback hint: the buffer goes to the kernel.
  void hand_over() {
    check_open("flush");
    flush_buffer(fd_.get());
  }
  void check_open(const char* op) const {
    if (!fd_) throw io_error(std::string("lsmt: ") + op + " on closed file '" + path_ + "'", EBADF);
  }
  /// Hands the buffer to the kernel. If a write fails part-way (a full disk, a file size
  /// limit), the bytes the kernel took leave the buffer before the error is thrown, so a later
  /// flush() or close() writes only the rest instead of repeating them in the file.
  void flush_buffer(int fd) {
    size_t done = 0;
    while (done < buffer_.size()) {
      const ssize_t r = ::write(fd, buffer_.data() + done, buffer_.size() - done);
      if (r < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        buffer_.erase(0, done);
        throw_io("write", path_, err);
      }
      done += static_cast<size_t>(r);
    }
    buffer_.clear();
  }

  /// Asks the kernel to start writing what was just handed to it back to the disk, without
  /// waiting (Linux's sync_file_range; RocksDB's bytes_per_sync does the same): the whole pages
  /// not hinted yet. A page the next write fills further is left for a later hint, or it would
  /// be written twice. A table is synced once, at its end: this way the disk works while the
  /// rest of the table is built, and that fdatasync has less left to write (13-14 ms instead of
  /// 16-17 for a 16 MiB table on the benchmark machine). Only a hint: a failed writeback is
  /// reported by the sync.
  void start_writeback() noexcept {
    const uint64_t end = size_ - size_ % page_size();  // the buffer is empty: size_ is in the file
    if (end <= hinted_) return;
#ifdef SYNC_FILE_RANGE_WRITE
    static_cast<void>(::sync_file_range(fd_.get(), static_cast<off_t>(hinted_),
                                        static_cast<off_t>(end - hinted_), SYNC_FILE_RANGE_WRITE));
#endif
    hinted_ = end;
  }

  std::string path_;
  unique_fd fd_;
  std::string buffer_;
  uint64_t size_ = 0;
  uint64_t hinted_ = 0;  // the file's bytes before this have had their writeback started
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

}  // namespace lsmt::detail

#endif  // LSMT_POSIX_IO_HPP
