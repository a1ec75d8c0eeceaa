// tests/test_util.hpp - helpers shared by the lsmt test files.
//
//   lsmt_test::temp_dir      a fresh directory under /tmp (mkdtemp), removed recursively when
//                            the object is destroyed; or under another base directory, such as
//                            store_base_dir() ($LSMT_TEST_TMPDIR, else /dev/shm, else the system
//                            temporary directory) for tests that open many stores.
//   lsmt_test::run_in_child  forks; the child runs a function and then _exit(0)s without running
//                            destructors or atexit handlers (a simulated process crash: whatever
//                            the function leaked or left open is abandoned, not closed). Returns
//                            the child's exit status (128 + signal number if it was killed).
//   LSMT_TEST_RNG(name)      declares `lsmt_test::seeded_rng name` and INFOs its seed, so every
//                            failing assertion after it prints the seed. The seed is random unless
//                            the environment variable LSMT_TEST_SEED is set (to reproduce a run).
//   lsmt_test::env_u64       an unsigned integer from the environment, or a default.
//   lsmt_test::read_file, write_file
//                            a whole file's bytes, and replacing them.
//   lsmt_test::write_u64_or_exit, wait_child
//                            pipe reports from a forked child, and waiting for it.
//   lsmt_test::ikey, ikey_less, memory_readable_file, memory_writable_file
//                            internal keys ordered like the engine's, and files held in memory.
#ifndef LSMT_TEST_UTIL_HPP
#define LSMT_TEST_UTIL_HPP

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "lsmt/file_system.hpp"
#include "lsmt/internal_key.hpp"
#include "test_catch.hpp"

namespace lsmt_test {

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

/// Where tests that open many stores keep them: $LSMT_TEST_TMPDIR, else /dev/shm (tmpfs: fsync
/// is cheap), else the system temporary directory.
inline std::filesystem::path store_base_dir() {
  if (const char* d = std::getenv("LSMT_TEST_TMPDIR"); d != nullptr && *d != '\0') return d;
  if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  return std::filesystem::temp_directory_path();
}

/// A unique directory (under /tmp unless another base is given), removed (with everything in
/// it) by the destructor.
class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix = "lsmt-test") : temp_dir("/tmp", prefix) {}
  temp_dir(const std::filesystem::path& base, const std::string& prefix) {
    std::string tmpl = (base / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
    }
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  const std::filesystem::path& path() const { return path_; }
  /// path() / name: a location inside the directory (not created).
  std::filesystem::path sub(const std::string& name) const { return path_ / name; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

/// Ends the current process at once, like a crash: no destructors, no atexit handlers, no
/// stdio flush. For use inside run_in_child.
[[noreturn]] inline void simulated_crash(int status = 0) { ::_exit(status); }

/// Forks; the child runs fn and then _exit(0)s WITHOUT running destructors of objects fn leaked
/// (allocate the store with `new` and never delete it to simulate a crash with it open), nor
/// static destructors or atexit handlers. If fn throws, the child prints what and exits with 101.
/// Returns the child's exit status, or 128 + the signal that killed it.
/// Do not fork while this process has a store open if the child touches that store's state.
inline int run_in_child(const std::function<void()>& fn) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    try {
      fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "run_in_child: child threw: %s\n", e.what());
      std::fflush(stderr);
      ::_exit(101);
    } catch (...) {
      std::fprintf(stderr, "run_in_child: child threw a non-std exception\n");
      std::fflush(stderr);
      ::_exit(101);
    }
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

/// Waits for child pid: its exit status, 128 + the signal that killed it, or -1 on error.
inline int wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Writes v (8 bytes, <= PIPE_BUF: atomic on a pipe) to fd; _exit(3)s if it cannot. For
/// children reporting progress to their parent.
inline void write_u64_or_exit(int fd, uint64_t v) {
  const char* p = reinterpret_cast<const char*>(&v);
  size_t left = sizeof v;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(3);
    p += n;
    left -= static_cast<size_t>(n);
  }
}

/// $name as a decimal unsigned integer, or fallback if it is unset or empty.
inline uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

/// The seed for randomized tests: $LSMT_TEST_SEED if set, else a fresh random one.
inline uint64_t test_seed() {
  if (const char* env = std::getenv("LSMT_TEST_SEED"); env != nullptr && *env != '\0') {
    return std::stoull(env, nullptr, 0);
  }
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

/// A 64-bit Mersenne Twister that remembers its seed, with a few conveniences.
class seeded_rng {
 public:
  explicit seeded_rng(uint64_t seed = test_seed()) : seed_(seed), gen_(seed) {}

  uint64_t seed() const { return seed_; }
  std::mt19937_64& engine() { return gen_; }

  uint64_t operator()() { return gen_(); }
  /// Uniform in [lo, hi].
  uint64_t uniform(uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(gen_);
  }
  /// True with probability p.
  bool chance(double p) { return std::bernoulli_distribution(p)(gen_); }
  /// `len` arbitrary bytes (NUL and 0xFF included).
  std::string bytes(size_t len) {
    std::string s(len, '\0');
    for (auto& c : s) c = static_cast<char>(gen_() & 0xff);
    return s;
  }

  // UniformRandomBitGenerator, so it works with <random> distributions and std::shuffle.
  using result_type = std::mt19937_64::result_type;
  static constexpr result_type min() { return std::mt19937_64::min(); }
  static constexpr result_type max() { return std::mt19937_64::max(); }

 private:
  uint64_t seed_;
  std::mt19937_64 gen_;
};

/// An internal key (user key, sequence, type) as the engine encodes it.
inline std::string ikey(std::string_view user_key, uint64_t seq, lsmt::detail::value_type t) {
  std::string k;
  lsmt::detail::append_internal_key(k, user_key, seq, t);
  return k;
}

/// Orders encoded internal keys like the engine does, for std::map models.
struct ikey_less {
  bool operator()(const std::string& a, const std::string& b) const {
    return lsmt::detail::compare_internal_keys(a, b) < 0;
  }
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

 private:
  std::string* out_;
};

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
    if (scratch == nullptr) return {};  // only a mapped file may be read without scratch
    std::memcpy(scratch, data_.data() + offset, n);
    return {scratch, n};
  }
  bool is_mapped() const override { return mapped_; }

 private:
  std::string data_;
  bool mapped_;
};

}  // namespace lsmt_test

/// Declares `lsmt_test::seeded_rng var` and attaches its seed to every later assertion's report
/// in the enclosing scope (rerun with LSMT_TEST_SEED=<seed> to reproduce).
#define LSMT_TEST_RNG(var)     \
  ::lsmt_test::seeded_rng var; \
  INFO("LSMT_TEST_SEED=" << var.seed())

#endif  // LSMT_TEST_UTIL_HPP
