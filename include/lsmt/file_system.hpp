// lsmt/file_system.hpp - the seam through which lsmt does all of its file I/O.
//
// The engine never calls the operating system directly: it asks a
// file_system for files, so tests can substitute one that injects crashes,
// I/O errors and torn writes. posix_file_system(), declared below, is the
// default (posix_file_system.hpp) and what users get unless they pass their own in options.
//
// Error contract: every call reports failure by throwing lsmt::io_error
// (carrying errno) or, for lock_file, lsmt::locked_error. A destructor never
// throws; call close() to learn whether closing succeeded.
//
// Regular files only: new_readable_file opens only files a store has written,
// so if path is anything but a regular file (a FIFO, socket, device or
// directory) it throws corruption_error; the calls that create a file
// (new_writable_file, new_log_file, lock_file) throw io_error if such a thing
// is in the way. No call may block on a FIFO or device.
//
// Thread safety: a file_system may be called from several threads at once.
// A writable_file is used by one thread at a time. A readable_file's read()
// may be called from several threads at once.
#ifndef LSMT_FILE_SYSTEM_HPP
#define LSMT_FILE_SYSTEM_HPP

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "error.hpp"

namespace lsmt {

/// A file being written from the start, append-only.
class writable_file {
 public:
  writable_file() = default;
  writable_file(const writable_file&) = delete;
  writable_file& operator=(const writable_file&) = delete;
  virtual ~writable_file() = default;

  /// Appends data. It may stay in a user-space buffer until flush().
  virtual void append(std::string_view data) = 0;
  /// Appends first, then second, as two append() calls do (the default); a file may write
  /// both with one system call. The log appends a record's header and payload this way.
  virtual void append_pair(std::string_view first, std::string_view second) {
    append(first);
    append(second);
  }
  /// Hands everything appended so far to the operating system, so it survives
  /// the death of this process (not a power loss).
  virtual void flush() = 0;
  /// flush(), then makes the data durable (fdatasync): it survives a power loss.
  virtual void sync() = 0;
  /// flush() and close. Idempotent. Bytes appended are kept; a file that was
  /// not sync()ed may still lose them in a power loss.
  virtual void close() = 0;
  /// Bytes appended so far.
  virtual uint64_t size() const = 0;
  /// Overwrites data.size() bytes at offset, all of them appended earlier, and returns true.
  /// The bytes reach the operating system before it returns, in one call (a process crash keeps
  /// all of them or none), and become durable with the next sync(). Log files use it: wal.hpp
  /// rewrites a log's header in place after each sync. The default does nothing and returns
  /// false; a log on such a file keeps synced_through = 0 in its header, so recovery cannot
  /// tell damage to its synced records from a torn tail.
  virtual bool write_at(uint64_t offset, std::string_view data) {
    static_cast<void>(offset);
    static_cast<void>(data);
    return false;
  }
};

/// A file read at arbitrary offsets.
class readable_file {
 public:
  readable_file() = default;
  readable_file(const readable_file&) = delete;
  readable_file& operator=(const readable_file&) = delete;
  virtual ~readable_file() = default;

  /// Size of the file when it was opened.
  virtual uint64_t size() const = 0;
  /// Reads up to n bytes at offset. The result points either into scratch
  /// (which must hold n bytes) or into memory owned by the file that stays
  /// valid for the file's lifetime. It is shorter than n only at end of file.
  /// When is_mapped() is true the result never uses scratch, which may then be
  /// null.
  virtual std::string_view read(uint64_t offset, size_t n, char* scratch) const = 0;
  /// True when read() returns views into a mapping rather than into scratch;
  /// such reads are cheap and need no block cache.
  virtual bool is_mapped() const { return false; }
};

/// A held lock on a file; released when destroyed.
class file_lock {
 public:
  file_lock() = default;
  file_lock(const file_lock&) = delete;
  file_lock& operator=(const file_lock&) = delete;
  virtual ~file_lock() = default;
};

class file_system {
 public:
  virtual ~file_system() = default;

  /// Creates (or truncates) a file for writing, with mode 0644 (never world-writable).
  virtual std::unique_ptr<writable_file> new_writable_file(const std::string& path) = 0;
  /// Like new_writable_file, for a write-ahead log: appended bytes must reach
  /// the operating system by flush() at low cost (the POSIX version maps the
  /// file). A crash may leave zero bytes after the last appended byte.
  virtual std::unique_ptr<writable_file> new_log_file(const std::string& path) {
    return new_writable_file(path);
  }
  /// Opens an existing file for reading; `prefer_mmap` asks for a mapping.
  /// corruption_error if path is not a regular file (see the top of this file).
  virtual std::unique_ptr<readable_file> new_readable_file(const std::string& path,
                                                           bool prefer_mmap) = 0;
  virtual bool file_exists(const std::string& path) = 0;
  /// Names (not paths) of the entries in dir, excluding "." and "..".
  virtual std::vector<std::string> list_directory(const std::string& dir) = 0;
  virtual void remove_file(const std::string& path) = 0;
  /// Atomically replaces `to` with `from`.
  virtual void rename_file(const std::string& from, const std::string& to) = 0;
  /// Creates dir (and missing parents) with the given permissions; no error if it exists.
  virtual void create_directory(const std::string& dir, std::filesystem::perms perms) = 0;
  /// Removes an empty directory.
  virtual void remove_directory(const std::string& dir) {
    throw io_error("lsmt: remove directory '" + dir + "': not supported by this file system");
  }
  /// Gives the file `from` a second name, `to` (a hard link). Returns false if this file system
  /// cannot link the two (the caller copies instead); throws io_error for other failures.
  virtual bool link_file(const std::string& from, const std::string& to) {
    (void)from;
    (void)to;
    return false;
  }
  /// Makes the directory's entries (creations, renames, removals) durable.
  virtual void sync_directory(const std::string& dir) = 0;
  /// Takes an exclusive lock on path, creating it if needed. Throws
  /// locked_error at once if another holder (in any process) has it.
  virtual std::unique_ptr<file_lock> lock_file(const std::string& path) = 0;
};

/// The process-wide POSIX file_system (posix_file_system.hpp): what a store uses unless
/// options.fs is set. Defined in file_system_impl.hpp, which lsmt.hpp and posix_file_system.hpp
/// include in header-only mode (config.hpp). This header must not include it: the definition
/// needs posix_file_system.hpp's class, and that header includes this one.
LSMT_INLINE std::shared_ptr<file_system> posix_file_system();

}  // namespace lsmt

#endif  // LSMT_FILE_SYSTEM_HPP
