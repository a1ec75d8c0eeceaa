// tests/test_util.hpp - helpers shared by the lsmt test files.
//
//   lsmt_test::temp_dir      a fresh directory under /tmp (mkdtemp), removed recursively when
//                            the object is destroyed.
//   lsmt_test::run_in_child  forks; the child runs a function and then _exit(0)s without running
//                            destructors or atexit handlers (a simulated process crash: whatever
//                            the function leaked or left open is abandoned, not closed). Returns
//                            the child's exit status (128 + signal number if it was killed).
//   LSMT_TEST_RNG(name)      declares `lsmt_test::seeded_rng name` and INFOs its seed, so every
//                            failing assertion after it prints the seed. The seed is random unless
//                            the environment variable LSMT_TEST_SEED is set (to reproduce a run).
#ifndef LSMT_TEST_UTIL_HPP
#define LSMT_TEST_UTIL_HPP

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "test_catch.hpp"

namespace lsmt_test {

/// A unique directory under /tmp, removed (with everything in it) by the destructor.
class temp_dir {
 public:
  explicit temp_dir(const std::string& prefix = "lsmt-test") {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
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

}  // namespace lsmt_test

/// Declares `lsmt_test::seeded_rng var` and attaches its seed to every later assertion's report
/// in the enclosing scope (rerun with LSMT_TEST_SEED=<seed> to reproduce).
#define LSMT_TEST_RNG(var)     \
  ::lsmt_test::seeded_rng var; \
  INFO("LSMT_TEST_SEED=" << var.seed())

#endif  // LSMT_TEST_UTIL_HPP
