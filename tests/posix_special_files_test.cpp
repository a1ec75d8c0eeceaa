// tests/posix_special_files_test.cpp - the POSIX file system opens regular files only, never
// blocks on a FIFO, and keeps its descriptors out of exec'd children; and what fork() does to the
// directory lock.
//
//   posix-fs: a FIFO, socket, device or directory where a file is read is corruption_error;
//             where a file is created (or LOCK) it is io_error; each refused at once (a watchdog
//             aborts a hang). Every descriptor lsmt holds is close-on-exec and blocking.
//   engine:   the same through a whole store: a FIFO or directory in place of a table named by
//             the MANIFEST, of a log, of the MANIFEST, of LOCK. A child that execs does not keep
//             the directory lock; a child forked without exec does, until it exits.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lsmt.hpp"
#include "lsmt/posix_file_system.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"
#include "watchdog.hpp"

namespace posix_special_files_test_cpp {

namespace {

namespace fs = std::filesystem;
using lsmt_test::heartbeat;
using lsmt_test::temp_dir;
using lsmt_test::watchdog;

// A FIFO opened without O_NONBLOCK blocks until the other end is opened: far longer than this.
constexpr std::chrono::seconds hang_limit(10);

void make_fifo(const std::string& path) { REQUIRE(::mkfifo(path.c_str(), 0644) == 0); }

/// A bound AF_UNIX socket at path; returns its descriptor (the caller closes it).
int make_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

/// Runs call, which must throw E whose message names path and says what it is instead.
template <class E>
void expect_refused(const std::function<void()>& call, const std::string& path,
                    const std::string& kind) {
  INFO(path << " (" << kind << ")");
  try {
    call();
    FAIL("no exception");
  } catch (const E& e) {
    const std::string what = e.what();
    CHECK(what.find(path) != std::string::npos);
    CHECK(what.find("is " + kind + ", not a regular file") != std::string::npos);
  }
  ++heartbeat();
}

/// Non-regular files of every kind, in dir: name -> what the error calls it.
struct specials {
  explicit specials(const temp_dir& dir) : root(dir.str()) {
    make_fifo(root + "/fifo");
    sock = make_socket(root + "/socket");
    REQUIRE(::mkdir((root + "/dir").c_str(), 0755) == 0);
    REQUIRE(::symlink("/dev/null", (root + "/null").c_str()) == 0);
  }
  ~specials() { ::close(sock); }
  specials(const specials&) = delete;
  specials& operator=(const specials&) = delete;

  std::vector<std::pair<std::string, std::string>> all() const {
    return {{root + "/fifo", "a FIFO"},
            {root + "/socket", "a socket"},
            {root + "/dir", "a directory"},
            {root + "/null", "a character device"}};
  }
  std::string root;
  int sock = -1;
};

/// A closed store in dir with a table named by its MANIFEST and a log.
void make_store(const fs::path& dir) {
  lsmt::db<> db(dir);
  db.put("a", "1");
  db.put("b", "2");
  db.flush();
  db.put("c", "3");  // in the log only
  db.close();
}

/// The paths in dir with the given extension.
std::vector<fs::path> files_with(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ext) out.push_back(e.path());
  }
  return out;
}

bool open_is_locked(const fs::path& dir) {
  try {
    lsmt::db<> db(dir);
    return false;
  } catch (const lsmt::locked_error&) {
    return true;
  }
}

}  // namespace

TEST_CASE("posix-fs: reading a FIFO, socket, device or directory is corruption, at once",
          "[posix-fs]") {
  temp_dir dir;
  std::string current;
  watchdog dog([&] { return current; }, hang_limit);
  const specials s(dir);
  auto fsys = lsmt::posix_file_system();
  for (const auto& [p, kind] : s.all()) {
    const std::string path = p;  // a lambda cannot capture a structured binding in C++17
    for (bool mmap : {false, true}) {
      current = "new_readable_file " + path;
      expect_refused<lsmt::corruption_error>([&] { fsys->new_readable_file(path, mmap); }, path,
                                             kind);
    }
  }
}

TEST_CASE("posix-fs: creating a file where a FIFO, socket, device or directory is fails at once",
          "[posix-fs]") {
  temp_dir dir;
  std::string current;
  watchdog dog([&] { return current; }, hang_limit);
  const specials s(dir);
  auto fsys = lsmt::posix_file_system();
  const auto check_all = [&] {
    for (const auto& [p, kind] : s.all()) {
      const std::string path = p;  // a lambda cannot capture a structured binding in C++17
      current = "create " + path;
      expect_refused<lsmt::io_error>([&] { fsys->new_writable_file(path); }, path, kind);
      expect_refused<lsmt::io_error>([&] { fsys->new_log_file(path); }, path, kind);
      expect_refused<lsmt::io_error>([&] { fsys->lock_file(path); }, path, kind);
    }
  };
  check_all();  // a write-only open of a FIFO without a reader fails with ENXIO
  {
    // With a reader the open succeeds, and fstat refuses it.
    const int reader = ::open((s.root + "/fifo").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(reader >= 0);
    check_all();
    ::close(reader);
  }
  // Nothing was replaced or created.
  struct stat st {};
  REQUIRE(::lstat((s.root + "/fifo").c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  CHECK(fsys->list_directory(s.root).size() == 4);
}

TEST_CASE("posix-fs: directory calls on a FIFO fail at once with ENOTDIR", "[posix-fs]") {
  temp_dir dir;
  std::string current = "sync_directory / list_directory on a FIFO";
  watchdog dog([&] { return current; }, hang_limit);
  const std::string fifo = dir.str() + "/fifo";
  make_fifo(fifo);
  auto fsys = lsmt::posix_file_system();
  for (int i = 0; i < 2; ++i) {
    try {
      if (i == 0) fsys->sync_directory(fifo);
      if (i == 1) fsys->list_directory(fifo);
      FAIL("no exception");
    } catch (const lsmt::io_error& e) {
      CHECK(e.sys_errno() == ENOTDIR);
    }
  }
}

TEST_CASE("posix-fs: symbolic links to regular files are followed", "[posix-fs]") {
  temp_dir dir;
  auto fsys = lsmt::posix_file_system();
  const std::string real = dir.str() + "/real";
  const std::string link = dir.str() + "/link";
  fsys->new_writable_file(real)->close();
  REQUIRE(::symlink(real.c_str(), link.c_str()) == 0);
  auto w = fsys->new_writable_file(link);
  w->append("through the link");
  w->close();
  for (bool mmap : {false, true}) {
    auto r = fsys->new_readable_file(link, mmap);
    std::string scratch(r->size(), '\0');
    CHECK(r->read(0, scratch.size(), scratch.data()) == "through the link");
  }
  CHECK(fsys->lock_file(link) != nullptr);
}

TEST_CASE("posix-fs: every descriptor lsmt holds is close-on-exec and blocking", "[posix-fs]") {
  if (::access("/proc/self/fd", R_OK) != 0) {
    WARN("no /proc/self/fd: not checked");
    return;
  }
  temp_dir dir;
  auto fsys = lsmt::posix_file_system();
  const std::string root = fs::canonical(dir.path()).string();
  auto table = fsys->new_writable_file(root + "/table");
  table->append("x");
  table->flush();
  auto log = fsys->new_log_file(root + "/log");
  log->append("y");
  auto reader = fsys->new_readable_file(root + "/table", false);  // pread: keeps its descriptor
  auto lock = fsys->lock_file(root + "/LOCK");
  int seen = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const fs::path target = fs::read_symlink(e.path(), ec);
    if (ec || target.string().rfind(root + "/", 0) != 0) continue;
    INFO(target);
    const int fd = std::stoi(e.path().filename().string());
    const int fd_flags = ::fcntl(fd, F_GETFD);
    const int fl_flags = ::fcntl(fd, F_GETFL);
    REQUIRE(fd_flags >= 0);
    REQUIRE(fl_flags >= 0);
    CHECK((fd_flags & FD_CLOEXEC) != 0);
    CHECK((fl_flags & O_NONBLOCK) == 0);
    ++seen;
  }
  CHECK(seen == 4);  // the table being written, the log, the reader, LOCK
}

TEST_CASE("engine: a FIFO or directory in place of a store file fails the open at once",
          "[engine]") {
  std::string current;
  watchdog dog([&] { return current; }, hang_limit);
  struct victim {
    const char* name;
    std::function<fs::path(const fs::path&)> path;  // in a closed store
    bool directory;
    bool corruption;  // else io_error
  };
  const auto first = [](const char* ext) {
    return [ext](const fs::path& db) {
      const std::vector<fs::path> files = files_with(db, ext);
      REQUIRE(files.size() == 1);
      return files.front();
    };
  };
  const auto named = [](const char* name) {
    return [name](const fs::path& db) { return db / name; };
  };
  const victim victims[] = {
      {"a table named by the MANIFEST as a FIFO", first(".sst"), false, true},
      {"a table named by the MANIFEST as a directory", first(".sst"), true, true},
      {"the log as a FIFO", first(".log"), false, true},
      {"the log as a directory", first(".log"), true, true},
      {"the MANIFEST as a FIFO", named("MANIFEST"), false, true},
      {"the MANIFEST as a directory", named("MANIFEST"), true, true},
      {"LOCK as a FIFO", named("LOCK"), false, false},
      {"LOCK as a directory", named("LOCK"), true, false},
  };
  for (const victim& v : victims) {
    current = v.name;
    INFO(v.name);
    temp_dir work;
    const fs::path db = work.path() / "db";
    make_store(db);
    const fs::path p = v.path(db);
    REQUIRE(fs::remove(p));
    if (v.directory) {
      fs::create_directory(p);
    } else {
      make_fifo(p.string());
    }
    const std::string kind = v.directory ? "a directory" : "a FIFO";
    if (v.corruption) {
      expect_refused<lsmt::corruption_error>([&] { lsmt::db<> d(db); }, p.string(), kind);
    } else {
      expect_refused<lsmt::io_error>([&] { lsmt::db<> d(db); }, p.string(), kind);
    }
    // Once the intruder is gone (the MANIFEST, a table and the log cannot come back), LOCK is
    // recreated and the store opens with all of its data.
    if (!v.corruption) {
      fs::remove_all(p);
      lsmt::db<> d(db);
      CHECK(d.get("a") == std::optional<std::string>("1"));
      CHECK(d.get("c") == std::optional<std::string>("3"));
    }
  }
}

TEST_CASE("engine: a child that execs does not keep the directory lock", "[engine]") {
  if (::access("/bin/sleep", X_OK) != 0) {
    WARN("no /bin/sleep: not checked");
    return;
  }
  temp_dir work;
  watchdog dog([] { return std::string("fork + exec with a store open"); }, hang_limit);
  const fs::path db_dir = work.path() / "db";
  auto db = std::make_unique<lsmt::db<>>(db_dir);
  db->put("k", "v");
  // The child reports a failed exec through a close-on-exec pipe; EOF means exec succeeded.
  int report[2];
  REQUIRE(::pipe2(report, O_CLOEXEC) == 0);
  char sleep_path[] = "/bin/sleep";
  char seconds[] = "30";
  char* const argv[] = {sleep_path, seconds, nullptr};
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // only async-signal-safe calls: the parent has other threads
    ::execv(sleep_path, argv);
    const int err = errno;
    (void)!::write(report[1], &err, sizeof err);
    ::_exit(127);
  }
  ::close(report[1]);
  int err = 0;
  ssize_t n;
  while ((n = ::read(report[0], &err, sizeof err)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  REQUIRE(n == 0);  // exec'd
  db->close();
  db.reset();
  {
    lsmt::db<> again(db_dir);  // at once, while the exec'd child still runs
    CHECK(again.get("k") == std::optional<std::string>("v"));
  }
  CHECK(::waitpid(pid, nullptr, WNOHANG) == 0);  // the child was alive throughout
  REQUIRE(::kill(pid, SIGKILL) == 0);
  CHECK(lsmt_test::wait_child(pid) == 128 + SIGKILL);
}

// Documents what lsmt does not change (posix_file_system.hpp, posix_file_lock): the flock
// belongs to the open file description, which fork() shares, so a child forked without exec
// holds the lock until it exits. Releasing it in the child (LOCK_UN) would release the parent's.
TEST_CASE("engine: a child forked without exec shares the directory lock until it exits",
          "[engine]") {
  temp_dir work;
  watchdog dog([] { return std::string("fork without exec with a store open"); }, hang_limit);
  const fs::path db_dir = work.path() / "db";
  auto db = std::make_unique<lsmt::db<>>(db_dir);
  db->put("k", "v");
  // The child lives until the parent closes `release` (or dies): no sleep to race against.
  int release[2];
  REQUIRE(::pipe2(release, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // only async-signal-safe calls: the parent has other threads
    ::close(release[1]);
    char c;
    while (::read(release[0], &c, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  ::close(release[0]);
  db->close();
  db.reset();
  CHECK(open_is_locked(db_dir));  // the child's copy still holds it
  CHECK(::waitpid(pid, nullptr, WNOHANG) == 0);
  ::close(release[1]);
  CHECK(lsmt_test::wait_child(pid) == 0);
  lsmt::db<> again(db_dir);  // the child is gone, and the lock with it
  CHECK(again.get("k") == std::optional<std::string>("v"));
}

}  // namespace posix_special_files_test_cpp
