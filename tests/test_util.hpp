// tests/test_util.hpp - files, directories and child processes for lsmt's tests.
//
//   lsmt_test::temp_dir      a fresh directory under /tmp (mkdtemp), removed recursively when
//                            the object is destroyed; or under another base directory, such as
//                            store_base_dir() ($LSMT_TEST_TMPDIR, else /dev/shm, else the system
//                            temporary directory) for tests that open many stores.
//   lsmt_test::run_in_child  forks; the child runs a function and then _exit(0)s without running
//                            destructors or atexit handlers (a simulated process crash: whatever
//                            the function leaked or left open is abandoned, not closed). Returns
//                            the child's exit status (128 + signal number if it was killed).
//                            Only while this process has no other threads (no store open).
//   lsmt_test::run_test_in_new_process
//                            forks and at once re-executes this test program for one (hidden)
//                            test case: the child for tests that hold a store open.
//   lsmt_test::read_file, write_file
//                            a whole file's bytes, and replacing them.
//   lsmt_test::write_u64_or_exit, wait_child
//                            pipe reports from a forked child, and waiting for it.
//
// Elsewhere: test_env.hpp (environment variables, seeds, seeded_rng), ikey.hpp (internal keys),
// memory_file.hpp (files in memory), store_util.hpp (helpers for whole-store tests).
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
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

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
/// Only while this process has no other threads: a store's background threads may hold a lock
/// of the allocator (the sanitizers' allocators have no fork handlers) at the fork, and the child
/// would wait for it forever. With a store open, use run_test_in_new_process.
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

/// Forks, and the child at once executes this test program again (/proc/self/exe) to run only
/// the Catch2 test case `test_case` (give hidden ones the tag "[.]"), with `env_entry`
/// ("NAME=value") added to its environment. Between fork and exec the child makes only
/// async-signal-safe calls, so this is safe while the process has other threads. Returns the
/// child's exit status, 128 + the signal that killed it, 127 if the exec failed, -1 on error.
inline int run_test_in_new_process(const std::string& test_case, const std::string& env_entry) {
  std::string self = "/proc/self/exe";
  std::string name = test_case;
  std::string entry = env_entry;
  std::vector<char*> argv{self.data(), name.data(), nullptr};
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    ::execve(self.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  return wait_child(pid);
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

}  // namespace lsmt_test

#endif  // LSMT_TEST_UTIL_HPP
