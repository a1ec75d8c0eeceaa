// tests/posix_file_system_test.cpp - the POSIX file system (lsmt/posix_file_system.hpp): pread
// and mmap readers, buffered and mapped log files (their populate windows, and a writer that dies
// without close), a buffered write the kernel takes only part of, locks within and across
// processes, permissions, directory operations and errors.
#include "lsmt/posix_file_system.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "lsmt/posix_log_file.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace posix_file_system_test_cpp {

namespace {

using lsmt::detail::posix_file_system_impl;

std::string file_in(const lsmt_test::temp_dir& dir, const std::string& name) {
  return dir.sub(name).string();
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

/// Whether this kernel takes madvise(advice) on a fresh anonymous mapping of `bytes`.
[[maybe_unused]] bool kernel_takes_advice(int advice, size_t bytes) {
  void* probe = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(probe != MAP_FAILED);
  const bool known = ::madvise(probe, bytes, advice) == 0;
  ::munmap(probe, bytes);
  return known;
}

std::string read_all(lsmt::file_system& fs, const std::string& path, bool mmap) {
  auto file = fs.new_readable_file(path, mmap);
  std::string scratch(file->size(), '\0');
  return std::string(file->read(0, scratch.size(), scratch.data()));
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("posix-fs: a writable file round trips through pread and mmap readers", "[posix-fs]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  const std::string path = file_in(dir, "data");
  const std::string big = random_bytes(5 << 19, 1);  // bigger than the 2 MiB buffer
  std::string expected;
  {
    auto file = fs->new_writable_file(path);
    for (int i = 0; i < 1000; ++i) {
      const std::string piece = "record-" + std::to_string(i) + ";";
      file->append(piece);
      expected += piece;
    }
    file->append(big);
    expected += big;
    file->append("");
    file->append("tail");
    expected += "tail";
    CHECK(file->size() == expected.size());
    file->sync();
    file->close();
    file->close();  // idempotent
    CHECK_THROWS_AS(file->append("x"), lsmt::io_error);
  }
  for (bool mmap : {false, true}) {
    auto file = fs->new_readable_file(path, mmap);
    CHECK(file->is_mapped() == mmap);
    REQUIRE(file->size() == expected.size());
    std::string scratch(expected.size() + 100, '\0');
    CHECK(file->read(0, expected.size(), scratch.data()) == expected);
    // Reads are clamped to the end of the file.
    CHECK(file->read(expected.size() - 4, 100, scratch.data()) == "tail");
    CHECK(file->read(expected.size(), 10, scratch.data()).empty());
    CHECK(file->read(expected.size() + 1000, 10, scratch.data()).empty());
    CHECK(file->read(7, 3, scratch.data()) == "0;r");
  }
}

TEST_CASE("posix-fs: an empty file is readable, mapped or not", "[posix-fs]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  fs->new_writable_file(file_in(dir, "empty"))->close();
  auto file = fs->new_readable_file(file_in(dir, "empty"), true);
  CHECK(file->size() == 0);
  char scratch[4];
  CHECK(file->read(0, 4, scratch).empty());
}

TEST_CASE("posix-fs: a writable file hands its appends to the kernel a full buffer at a time",
          "[posix-fs]") {
  // Small appends cost no system call, and the writes are whole 2 MiB at 2 MiB-aligned offsets,
  // which sizes the page-cache folios a mapped read faults in (posix_io.hpp). The kernel's size
  // of the file shows each write.
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  const std::string path = file_in(dir, "table");
  auto file = fs->new_writable_file(path);
  const size_t capacity = lsmt::detail::posix_writable_file::buffer_capacity;
  REQUIRE(capacity == size_t{2} << 20);
  const std::string piece = random_bytes(100003, 7);  // does not divide the buffer
  std::string expected;
  for (size_t i = 1; i <= 3 * capacity / piece.size(); ++i) {
    file->append(piece);
    expected += piece;
    CAPTURE(i);
    // The buffer goes to the kernel as soon as it is full, and only then.
    REQUIRE(std::filesystem::file_size(path) == expected.size() / capacity * capacity);
    REQUIRE(file->size() == expected.size());
  }
  // An append bigger than the buffer is cut into whole buffers too; the rest waits.
  const std::string big = random_bytes(2 * capacity + 5, 8);
  file->append(big);
  expected += big;
  CHECK(std::filesystem::file_size(path) == expected.size() / capacity * capacity);
  CHECK(file->size() == expected.size());
  file->close();
  CHECK(std::filesystem::file_size(path) == expected.size());
  CHECK(read_all(*fs, path, false) == expected);
  CHECK(read_all(*fs, path, true) == expected);
}

TEST_CASE("posix-fs: a write that fails part-way is not repeated by the next flush", "[posix-fs]") {
  // A file size limit makes the kernel take part of the second 2 MiB write and refuse the rest
  // (EFBIG), as a disk that fills up mid-write does. Once the limit is lifted, close() must
  // write only what the kernel did not take: the file is then exactly what was appended. The
  // limit and the ignored SIGXFSZ stay in a child process.
  lsmt_test::temp_dir dir;
  const std::string path = file_in(dir, "table");
  const size_t capacity = lsmt::detail::posix_writable_file::buffer_capacity;
  const std::string expected = random_bytes(2 * capacity, 9);  // fills the buffer twice
  const size_t limit = capacity + 100000;  // the second write stops part-way, at this size
  const int status = lsmt_test::run_in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    if (::getrlimit(RLIMIT_FSIZE, &old) != 0 || old.rlim_max < expected.size()) {
      lsmt_test::simulated_crash(77);  // cannot lift the limit again afterwards
    }
    rlimit small = old;
    small.rlim_cur = limit;
    if (::setrlimit(RLIMIT_FSIZE, &small) != 0) lsmt_test::simulated_crash(78);
    auto file = lsmt::posix_file_system()->new_writable_file(path);
    bool failed = false;
    try {
      file->append(expected);
    } catch (const lsmt::io_error& e) {
      failed = e.sys_errno() == EFBIG;
    }
    if (!failed || std::filesystem::file_size(path) != limit) lsmt_test::simulated_crash(1);
    old.rlim_cur = old.rlim_max;  // as high as it may go, even if it started lower
    if (::setrlimit(RLIMIT_FSIZE, &old) != 0) lsmt_test::simulated_crash(79);
    file->close();  // writes the rest of the buffer
  });
  if (status == 77) {
    WARN("RLIMIT_FSIZE cannot be lifted again here; nothing checked");
    return;
  }
  // 1: the append did not fail with EFBIG after `limit` bytes; 78, 79: setrlimit failed.
  REQUIRE(status == 0);
  CHECK(std::filesystem::file_size(path) == expected.size());
  CHECK(lsmt_test::read_file(path) == expected);
}

TEST_CASE("posix-fs: a mapping of 2 MiB or more is advised for huge pages", "[posix-fs]") {
  // MADV_HUGEPAGE lets the kernel map a table's 2 MiB folios whole (posix_io.hpp,
  // map_read_only); smaps shows it as the "hg" VmFlag. A kernel without transparent huge pages
  // refuses the advice, and lsmt reads through 4 KiB pages as before.
#if !defined(__linux__) || !defined(MADV_HUGEPAGE)
  WARN("not checked: no MADV_HUGEPAGE on this system");
#else
  // The kernel must take the advice (transparent huge pages built in).
  if (!kernel_takes_advice(MADV_HUGEPAGE, size_t{2} << 20)) {
    WARN("not checked: this kernel refuses MADV_HUGEPAGE");
    return;
  }
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  for (const size_t size : {size_t{2} << 20, (size_t{5} << 20) + 17, (size_t{2} << 20) - 1}) {
    CAPTURE(size);
    const std::string path = file_in(dir, "f" + std::to_string(size));
    const std::string data = random_bytes(size, 3);
    {
      auto file = fs->new_writable_file(path);
      file->append(data);
      file->close();
    }
    auto file = fs->new_readable_file(path, true);
    REQUIRE(file->is_mapped());
    const std::string_view all = file->read(0, size, nullptr);
    CHECK(all == data);
    // The smaps entry that starts at the mapping: its VmFlags line.
    char start[32];
    const auto address = static_cast<unsigned long>(reinterpret_cast<uintptr_t>(all.data()));
    std::snprintf(start, sizeof start, "%lx-", address);
    std::ifstream smaps("/proc/self/smaps");
    bool found = false;
    std::string flags;
    for (std::string line; std::getline(smaps, line);) {
      if (line.rfind(start, 0) == 0) found = true;
      if (found && line.rfind("VmFlags:", 0) == 0) {
        flags = line;
        break;
      }
    }
    REQUIRE(found);
    if (flags.empty()) {
      WARN("not checked: /proc/self/smaps shows no VmFlags");
      return;
    }
    CAPTURE(flags);
    CHECK((flags.find(" hg") != std::string::npos) == (size >= (size_t{2} << 20)));
  }
#endif
}

TEST_CASE("posix-fs: destroying a writable file without close keeps its data", "[posix-fs]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  fs->new_writable_file(file_in(dir, "a"))->append("buffered");
  fs->new_log_file(file_in(dir, "b"))->append("mapped");
  CHECK(read_all(*fs, file_in(dir, "a"), false) == "buffered");
  CHECK(read_all(*fs, file_in(dir, "b"), false) == "mapped");
}

TEST_CASE("posix-fs: a mapped log file crosses chunk boundaries and is truncated on close",
          "[posix-fs]") {
  // A chunk smaller than the populate window, and one of several windows (posix_log_file.hpp).
  const size_t chunk = GENERATE(size_t{64} << 10, size_t{1} << 20);
  CAPTURE(chunk);
  lsmt_test::temp_dir dir;
  posix_file_system_impl fs(chunk);
  const std::string path = file_in(dir, "000001.log");
  std::mt19937 rng(7);
  std::string expected;
  {
    auto file = fs.new_log_file(path);
    while (expected.size() < 5 * chunk) {
      // Mostly small pieces, copied into the mapping; now and then one of a page or more,
      // written with pwritev, some larger than a whole chunk (and than a window). Some go in
      // two parts, as the log appends a record's header and payload.
      const uint32_t kind = rng() % 50;
      const size_t n = kind == 0  ? chunk + chunk / 2 + 17
                       : kind < 6 ? lsmt::detail::posix_log_file::direct_write_bytes + rng() % 20000
                                  : rng() % 3000;
      const std::string piece = random_bytes(n, static_cast<uint32_t>(expected.size()));
      if (rng() % 2 == 0) {
        file->append(piece);
      } else {
        const size_t cut = n == 0 ? 0 : rng() % n;
        file->append_pair(std::string_view(piece).substr(0, cut),
                          std::string_view(piece).substr(cut));
      }
      expected += piece;
      if (rng() % 20 == 0) file->sync();
      if (rng() % 10 == 0) file->flush();
    }
    CHECK(file->size() == expected.size());
    // Before close the file extends to the end of its preallocated chunk.
    CHECK(std::filesystem::file_size(path) % chunk == 0);
    CHECK(std::filesystem::file_size(path) >= expected.size());
    file->sync();
    file->close();
    file->close();
    CHECK_THROWS_AS(file->sync(), lsmt::io_error);
  }
  CHECK(std::filesystem::file_size(path) == expected.size());
  CHECK(read_all(fs, path, false) == expected);
  CHECK(read_all(fs, path, true) == expected);
}

TEST_CASE("posix-fs: a log file makes its next pages writable a window at a time", "[posix-fs]") {
#ifndef MADV_POPULATE_WRITE
  WARN("not checked: no MADV_POPULATE_WRITE in this system's headers");
#else
  const size_t page = lsmt::detail::page_size();
  // The kernel must know the advice (Linux 5.14+); without it the log faults page by page.
  if (!kernel_takes_advice(MADV_POPULATE_WRITE, page)) {
    WARN("not checked: this kernel does not know MADV_POPULATE_WRITE");
    return;
  }
  constexpr size_t window = lsmt::detail::posix_log_file::populate_bytes;
  const size_t chunk = 4 * window;
  lsmt_test::temp_dir dir;
  posix_file_system_impl fs(chunk);
  const std::string path = file_in(dir, "000003.log");
  auto file = fs.new_log_file(path);
  // How much of the log's mapping this process has mapped in its page tables (smaps' Rss of the
  // mapping of `path`): populated pages are, the rest of the chunk is not (the page cache may
  // hold more of the file, read ahead, so mincore() could not tell).
  const auto mapped = [&] {
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool in_log = false;
    size_t kib = 0;
    int mappings = 0;
    while (std::getline(smaps, line)) {
      const size_t space = line.find(' ');
      const bool header =
          space != std::string::npos && line.find('-') < space &&
          std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(space), [](char c) {
            return c == '-' || std::isxdigit(static_cast<unsigned char>(c));
          });
      if (header) {
        in_log = line.size() >= path.size() &&
                 line.compare(line.size() - path.size(), path.size(), path) == 0;
        mappings += in_log ? 1 : 0;
      } else if (in_log && line.rfind("Rss:", 0) == 0) {
        kib += std::stoul(line.substr(4));
      }
    }
    REQUIRE(mappings == 1);
    return kib << 10;
  };
  // Copies of pieces smaller than a page populate the mapping.
  const auto append_small = [&](size_t n) {
    for (size_t i = 0; i < n; i += 1000)
      file->append(std::string(std::min<size_t>(1000, n - i), 'y'));
  };
  file->append("x");
  CHECK(mapped() == window);
  append_small(window);  // ends one byte into the second window
  CHECK(mapped() == 2 * window);
  // A page or more is written with pwritev and maps nothing, even in two parts.
  file->append(std::string(window + 5, 'z'));  // ends 6 bytes into the third window
  file->append_pair(std::string(9, 'h'), std::string(window, 'p'));  // 15 into the fourth
  CHECK(mapped() == 2 * window);
  // The next copy populates from the page it lands on, not the pages written before it.
  file->append("s");
  CHECK(mapped() == 3 * window);
  file->close();
  CHECK(read_all(fs, path, false) == "x" + std::string(window, 'y') + std::string(window + 5, 'z') +
                                         std::string(9, 'h') + std::string(window, 'p') + "s");
#endif
}

TEST_CASE("posix-fs: a log file whose writer dies without close ends in zeros", "[posix-fs]") {
  lsmt_test::temp_dir dir;
  const size_t chunk = 64 << 10;
  posix_file_system_impl fs(chunk);
  const std::string path = file_in(dir, "000002.log");
  const std::string data = random_bytes(150 << 10, 3);  // ends inside the third chunk
  const int status = lsmt_test::run_in_child([&] {
    auto file = fs.new_log_file(path);
    for (size_t i = 0; i < data.size(); i += 1000) file->append(data.substr(i, 1000));
    static_cast<void>(file.release());  // never closed: the child's _exit is the crash
  });
  REQUIRE(status == 0);
  const std::string contents = read_all(fs, path, false);
  REQUIRE(contents.size() == 3 * chunk);
  CHECK(contents.compare(0, data.size(), data) == 0);
  CHECK(contents.find_first_not_of('\0', data.size()) == std::string::npos);
}

TEST_CASE("posix-fs: lock_file excludes a second holder in the same process", "[posix-fs]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  const std::string path = file_in(dir, "LOCK");
  auto lock = fs->lock_file(path);
  CHECK_THROWS_AS(fs->lock_file(path), lsmt::locked_error);
  CHECK_THROWS_AS(fs->lock_file(path), lsmt::locked_error);  // a failed attempt holds nothing
  lock.reset();
  auto again = fs->lock_file(path);
  CHECK(again != nullptr);
}

TEST_CASE("posix-fs: lock_file excludes another process", "[posix-fs]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  const std::string path = file_in(dir, "LOCK");
  auto lock = fs->lock_file(path);
  const int status = lsmt_test::run_in_child([&] {
    try {
      fs->lock_file(path);
    } catch (const lsmt::locked_error&) {
      lsmt_test::simulated_crash(42);
    }
  });
  CHECK(status == 42);                                       // 0: the child took the lock
  CHECK_THROWS_AS(fs->lock_file(path), lsmt::locked_error);  // still ours
}

TEST_CASE("posix-fs: a lock is released when its holder process is killed", "[posix-fs]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  const std::string path = file_in(dir, "LOCK");
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(ready[0]);
    try {
      auto lock = fs->lock_file(path);
      const char byte = 'L';
      if (::write(ready[1], &byte, 1) != 1) ::_exit(3);
      for (;;) ::pause();  // hold the lock until killed
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(ready[1]);
  char byte = 0;
  REQUIRE(::read(ready[0], &byte, 1) == 1);
  ::close(ready[0]);
  CHECK_THROWS_AS(fs->lock_file(path), lsmt::locked_error);
  REQUIRE(::kill(pid, SIGKILL) == 0);
  CHECK(lsmt_test::wait_child(pid) == 128 + SIGKILL);
  auto lock = fs->lock_file(path);
  CHECK(lock != nullptr);
}

TEST_CASE("posix-fs: created files and directories have the requested permissions", "[posix-fs]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  const mode_t old_umask = ::umask(0);  // so the modes asked for are the modes we get
  const std::string sub = dir.str() + "/a/b";
  fs->create_directory(sub, std::filesystem::perms(0750));
  fs->create_directory(sub, std::filesystem::perms(0700));  // exists: no error, unchanged
  fs->new_writable_file(sub + "/table")->close();
  fs->new_log_file(sub + "/log")->close();
  auto lock = fs->lock_file(sub + "/LOCK");
  ::umask(old_umask);
  CHECK(mode_of(sub) == 0750);
  for (const char* name : {"/table", "/log", "/LOCK"}) {
    INFO(name);
    CHECK(mode_of(sub + name) == 0644);  // in particular, never world-writable
  }
}

TEST_CASE("posix-fs: directory operations", "[posix-fs]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  fs->new_writable_file(file_in(dir, "x"))->close();
  fs->new_writable_file(file_in(dir, "y"))->close();
  auto names = fs->list_directory(dir.str());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"x", "y"});
  CHECK(fs->file_exists(file_in(dir, "x")));
  fs->rename_file(file_in(dir, "x"), file_in(dir, "y"));
  CHECK_FALSE(fs->file_exists(file_in(dir, "x")));
  fs->remove_file(file_in(dir, "y"));
  CHECK(fs->list_directory(dir.str()).empty());
  fs->sync_directory(dir.str());
}

TEST_CASE("posix-fs: errors on missing files are io_errors carrying ENOENT and the path",
          "[posix-fs]") {
  lsmt_test::temp_dir dir;
  auto fs = lsmt::posix_file_system();
  const std::string missing = file_in(dir, "missing");
  const auto expect_enoent = [&](const auto& call) {
    try {
      call();
      FAIL("no exception");
    } catch (const lsmt::io_error& e) {
      CHECK(e.sys_errno() == ENOENT);
      CHECK(e.code() == lsmt::errc::io_error);
      CHECK(std::string(e.what()).find(missing) != std::string::npos);
    }
  };
  expect_enoent([&] { fs->new_readable_file(missing, false); });
  expect_enoent([&] { fs->new_readable_file(missing, true); });
  expect_enoent([&] { fs->new_writable_file(missing + "/file"); });
  expect_enoent([&] { fs->new_log_file(missing + "/file"); });
  expect_enoent([&] { fs->remove_file(missing); });
  expect_enoent([&] { fs->rename_file(missing, file_in(dir, "other")); });
  expect_enoent([&] { fs->list_directory(missing); });
  expect_enoent([&] { fs->sync_directory(missing); });
  expect_enoent([&] { fs->lock_file(missing + "/LOCK"); });
  CHECK_FALSE(fs->file_exists(missing));
  CHECK_FALSE(fs->file_exists(missing + "/below"));
}

}  // namespace posix_file_system_test_cpp
