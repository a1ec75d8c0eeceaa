// lsmt/posix_log_file.hpp - the POSIX log file: appends are memcpys into a shared mapping.
//
// Log files are memory-mapped so that an append is a memcpy into the page cache: the bytes
// survive the death of the process without a system call per record. The file grows in chunks
// that are posix_fallocate()d before they are mapped, because a store into a mapped page the
// file system cannot back (disk full) raises SIGBUS, which no caller can handle; fallocate
// reports ENOSPC as an ordinary io_error instead. close() truncates the file to the bytes
// appended; after a crash the file keeps the zero-filled rest of its last chunk, which the log
// reader (wal.hpp) treats as the end of the log.
//
// Pages are made writable ahead of the appends, populate_bytes at a time (MADV_POPULATE_WRITE,
// Linux 5.14+): one system call maps a run of pages instead of a page fault on each first store.
// On a virtual machine a fault can cost more than copying the page (fillbig8k, 8 KiB values:
// about 1.5x the puts/s). A kernel without it, or a failed call, leaves the faults to happen one
// by one, as before. At most populate_bytes of zeros past the last record are dirtied, so a
// sync() may write that much more.
//
// Thread safety: one thread at a time.
#ifndef LSMT_POSIX_LOG_FILE_HPP
#define LSMT_POSIX_LOG_FILE_HPP

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
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

namespace lsmt::detail {

/// A log file written through a shared mapping of preallocated chunks (see the
/// top of this file). Only the chunk being written is mapped: unmapping a chunk
/// leaves its dirty pages in the page cache, where the next sync's fdatasync()
/// finds them. One thread at a time.
class posix_log_file final : public writable_file {
 public:
  static constexpr uint64_t populate_bytes = 256 << 10;
  /// Appends of at least this many bytes are written with pwritev, not copied (see the top).
  static constexpr size_t direct_write_bytes = 4 << 10;

  posix_log_file(std::string path, unique_fd fd, size_t chunk_bytes)
      : path_(std::move(path)), fd_(std::move(fd)), chunk_bytes_(chunk_bytes) {}
  ~posix_log_file() override {
    try {
      close();
    } catch (...) {  // a destructor cannot report; close() explicitly to learn of failures
    }
  }

  void append(std::string_view data) override { append_pair(data, {}); }

  /// Copies first and second into the mapping, or, if together they fill at least
  /// direct_write_bytes, writes them with pwritev (see the top).
  void append_pair(std::string_view first, std::string_view second) override {
    check_open("append");
    if (first.size() + second.size() < direct_write_bytes) {
      copy_in(first);
      copy_in(second);
      return;
    }
    while (!first.empty() || !second.empty()) {
      if (size_ == chunk_end_) map_next_chunk();
      const uint64_t room = chunk_end_ - size_;  // written only to allocated blocks
      std::string_view a =
          first.substr(0, static_cast<size_t>(std::min<uint64_t>(first.size(), room)));
      std::string_view b =
          second.substr(0, static_cast<size_t>(std::min<uint64_t>(second.size(), room - a.size())));
      const size_t n = write_vector(a, b);
      const size_t from_first = std::min(n, first.size());
      first.remove_prefix(from_first);
      second.remove_prefix(n - from_first);
      size_ += n;
    }
    // A later copy_in() populates from the page holding the end on, not the written pages.
    populated_end_ = std::max(populated_end_, size_ - size_ % page_size());
  }

  /// Nothing to do: appended bytes are already in the page cache.
  void flush() override { check_open("flush"); }

  /// One fdatasync: on Linux it writes back the pages dirtied through the mapping as well as
  /// those written with write_at() (the header) and the file's size, then flushes the device
  /// once. (POSIX alone would need msync for the mapped pages.)
  void sync() override {
    check_open("sync");
    if (size_ == synced_ && !rewritten_since_sync_) return;
    fdatasync_or_throw(fd_.get(), path_);
    synced_ = size_;
    rewritten_since_sync_ = false;
  }

  /// A pwrite, which the kernel applies to the same page cache the mapping shows.
  bool write_at(uint64_t offset, std::string_view data) override {
    check_open("write_at");
    if (offset > size_ || data.size() > size_ - offset) {
      throw io_error("lsmt: write_at beyond the end of '" + path_ + "'", EINVAL);
    }
    pwrite_all(fd_.get(), data, offset, path_);
    rewritten_since_sync_ = true;
    return true;
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

  /// Copies data into the mapping, chunk by chunk.
  void copy_in(std::string_view data) {
    while (!data.empty()) {
      if (size_ == chunk_end_) map_next_chunk();
      const size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), chunk_end_ - size_));
      if (size_ + n > populated_end_) populate(size_ + n);
      std::memcpy(chunk_.data() + (size_ - chunk_offset_), data.data(), n);
      size_ += n;
      data.remove_prefix(n);
    }
  }

  /// One pwritev of a then b at size_; returns the bytes written (> 0).
  size_t write_vector(std::string_view a, std::string_view b) {
    iovec parts[2] = {{const_cast<char*>(a.data()), a.size()},
                      {const_cast<char*>(b.data()), b.size()}};
    for (;;) {
      const ssize_t r = ::pwritev(fd_.get(), parts, 2, static_cast<off_t>(size_));
      if (r > 0) return static_cast<size_t>(r);
      if (r < 0 && errno == EINTR) continue;
      throw_io("write", path_, r < 0 ? errno : EIO);
    }
  }

  void map_next_chunk() {
    chunk_.reset();
    const uint64_t offset = chunk_end_;
    allocate(offset);
    void* addr = ::mmap(nullptr, chunk_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(),
                        static_cast<off_t>(offset));
    if (addr == MAP_FAILED) throw_io("mmap", path_, errno);
    chunk_ = unique_mapping(addr, chunk_bytes_);
    chunk_offset_ = offset;
    chunk_end_ = offset + chunk_bytes_;
    populated_end_ = offset;
  }

  /// Makes the pages of the mapped chunk from populated_end_ up to `end`, rounded up to a
  /// multiple of populate_bytes into the chunk, writable in one call. Best effort: see the top.
  void populate(uint64_t end) {
    const uint64_t windows = (end - chunk_offset_ + populate_bytes - 1) / populate_bytes;
    const uint64_t to = std::min(chunk_end_, chunk_offset_ + windows * populate_bytes);
#ifdef MADV_POPULATE_WRITE
    // Both ends are page-aligned: chunks are whole pages, and populate_bytes is a multiple of
    // any page size.
    (void)::madvise(chunk_.data() + (populated_end_ - chunk_offset_),
                    static_cast<size_t>(to - populated_end_), MADV_POPULATE_WRITE);
#endif
    populated_end_ = to;
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
  unique_mapping chunk_;               // the mapped chunk being written
  uint64_t chunk_offset_ = 0;          // file offset of chunk_
  uint64_t chunk_end_ = 0;             // end of the allocated part of the file
  uint64_t populated_end_ = 0;         // pages of chunk_ before this offset were populated
  uint64_t size_ = 0;                  // bytes appended
  uint64_t synced_ = 0;                // bytes made durable by sync()
  bool rewritten_since_sync_ = false;  // write_at() was called since the last sync
};

}  // namespace lsmt::detail

#endif  // LSMT_POSIX_LOG_FILE_HPP
