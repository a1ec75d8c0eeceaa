// lsmt/error.hpp - the one error model of lsmt.
//
// Every failure is reported by throwing lsmt::error (a std::system_error) or
// one of its subclasses, one per kind, so callers can catch either the kind
// they care about or lsmt::error for all of them. The kind is also available
// as an error code: `e.code() == lsmt::errc::corruption`.
//
// A missing key is not an error: lookups return std::optional.
//
// Thread safety: everything here is immutable or stateless and may be used
// from any thread.
#ifndef LSMT_ERROR_HPP
#define LSMT_ERROR_HPP

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

namespace lsmt {

/// The kinds of failure. DO NOT renumber: the values are part of the API.
enum class errc {
  io_error = 1,          ///< the operating system reported a failure (EIO, ENOSPC, ...)
  corruption = 2,        ///< a file's contents failed a checksum or format check
  invalid_argument = 3,  ///< a parameter or option is out of range
  closed = 4,            ///< the store (or the object's store) is closed
  locked = 5,            ///< another handle, in this or another process, holds the directory
  conflict = 6,          ///< a transaction lost an optimistic-concurrency check
};

namespace detail {
class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lsmt"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::io_error:
        return "I/O error";
      case errc::corruption:
        return "corruption";
      case errc::invalid_argument:
        return "invalid argument";
      case errc::closed:
        return "store is closed";
      case errc::locked:
        return "directory is locked by another handle";
      case errc::conflict:
        return "transaction conflict";
    }
    return "unknown lsmt error";
  }
};
}  // namespace detail

/// The category of every lsmt error code.
inline const std::error_category& error_category() noexcept {
  static const detail::error_category_impl category;
  return category;
}

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Base class of everything lsmt throws. what() is the message alone, e.g. "lsmt: store is
/// closed" (std::system_error's own what() would append the code's message to it again).
class error : public std::system_error {
 public:
  error(errc kind, const std::string& what)
      : std::system_error(make_error_code(kind), what), message_(what) {}
  const char* what() const noexcept override { return message_.what(); }
  /// The kind of failure.
  errc kind() const noexcept { return static_cast<errc>(code().value()); }

 private:
  std::runtime_error message_;  // copies share the string without throwing
};

/// An I/O call failed. sys_errno() is the errno the system call reported (0 if none).
class io_error : public error {
 public:
  explicit io_error(const std::string& what, int sys_errno = 0)
      : error(errc::io_error,
              // system_category().message() is thread-safe, unlike std::strerror.
              sys_errno != 0 ? what + ": " + std::system_category().message(sys_errno) : what),
        errno_(sys_errno) {}
  int sys_errno() const noexcept { return errno_; }

 private:
  int errno_;
};

/// Stored data failed a checksum, a bounds check or a format check.
class corruption_error : public error {
 public:
  explicit corruption_error(const std::string& what) : error(errc::corruption, what) {}
};

/// A parameter or option was out of range.
class invalid_argument_error : public error {
 public:
  explicit invalid_argument_error(const std::string& what) : error(errc::invalid_argument, what) {}
};

/// The store was closed before (or while) the call was made.
class closed_error : public error {
 public:
  explicit closed_error(const std::string& what = "lsmt: store is closed")
      : error(errc::closed, what) {}
};

/// The directory is held by another open store.
class locked_error : public error {
 public:
  explicit locked_error(const std::string& what) : error(errc::locked, what) {}
};

/// A transaction's commit found that another writer changed a key it read or wrote.
class conflict_error : public error {
 public:
  explicit conflict_error(const std::string& what) : error(errc::conflict, what) {}
};

}  // namespace lsmt

namespace std {
template <>
struct is_error_code_enum<lsmt::errc> : true_type {};
}  // namespace std

#endif  // LSMT_ERROR_HPP
