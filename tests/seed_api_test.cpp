// The seed package's usage, one test per promise: the five-parameter constructor, the basic
// operations, parameter validation, the directory lock, close() and permissions.
#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "lsmt.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace seed_api_test_cpp {

namespace fs = std::filesystem;
using lsmt_test::temp_dir;

namespace {

const fs::perms rwx_r_x = fs::perms(0755);

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Restores the process umask when the scope ends.
struct umask_guard {
  explicit umask_guard(mode_t m) : old(::umask(m)) {}
  ~umask_guard() { ::umask(old); }
  umask_guard(const umask_guard&) = delete;
  umask_guard& operator=(const umask_guard&) = delete;
  mode_t old;
};

// Runs f, which must throw invalid_argument_error, and checks the error's code.
template <class F>
void expect_invalid(F&& f) {
  try {
    f();
    FAIL("expected lsmt::invalid_argument_error");
  } catch (const lsmt::invalid_argument_error& e) {
    CHECK(e.code() == lsmt::errc::invalid_argument);
    CHECK(e.kind() == lsmt::errc::invalid_argument);
    CHECK(e.code().category() == lsmt::error_category());
    CHECK(std::string(e.what()).find("lsmt") != std::string::npos);
  }
}

}  // namespace

TEST_CASE("seed: create with the five parameters, put/get/erase/compact/close, reopen", "[seed]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    lsmt::db<> store(dir, rwx_r_x, 1000, 8, 2);
    CHECK(store.is_open());
    CHECK(fs::is_directory(dir));

    store.put("hello", "world");
    store.put("apple", "red");
    store.put("banana", "yellow");
    CHECK(store.get("hello") == std::optional<std::string>("world"));
    CHECK(store.contains("apple"));
    CHECK_FALSE(store.get("missing").has_value());  // a missing key is not an error
    CHECK_FALSE(store.contains("missing"));

    store.put("hello", "there");  // overwrite
    CHECK(store.get("hello") == std::optional<std::string>("there"));

    store.erase("apple");
    CHECK_FALSE(store.get("apple").has_value());
    CHECK_FALSE(store.contains("apple"));
    store.erase("never-existed");  // deleting an absent key is a no-op
    CHECK_FALSE(store.contains("never-existed"));

    store.compact();
    CHECK(store.get("hello") == std::optional<std::string>("there"));
    CHECK(store.get("banana") == std::optional<std::string>("yellow"));
    CHECK_FALSE(store.get("apple").has_value());

    store.close();
    CHECK_FALSE(store.is_open());
  }
  {
    lsmt::db<> store(dir, rwx_r_x, 1000, 8, 2);
    CHECK(store.get("hello") == std::optional<std::string>("there"));
    CHECK(store.get("banana") == std::optional<std::string>("yellow"));
    CHECK_FALSE(store.get("apple").has_value());
    const auto all = store.scan().to_vector();
    REQUIRE(all.size() == 2);
    CHECK(all[0] == std::make_pair(std::string("banana"), std::string("yellow")));
    CHECK(all[1] == std::make_pair(std::string("hello"), std::string("there")));
  }
}

TEST_CASE("seed: the destructor closes the store and releases the directory", "[seed]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    lsmt::db<> store(dir, rwx_r_x, 10, 4, 2);
    store.put("k", "v");
  }
  lsmt::db<> again(dir, rwx_r_x, 10, 4, 2);  // would throw locked_error if still held
  CHECK(again.get("k") == std::optional<std::string>("v"));
}

TEST_CASE("seed: invalid parameters throw invalid_argument_error", "[seed]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");

  SECTION("0 memtable entries") {
    expect_invalid([&] { lsmt::db<> s(dir, rwx_r_x, 0, 8, 2); });
  }
  SECTION("minimum sstables > compaction interval") {
    expect_invalid([&] { lsmt::db<> s(dir, rwx_r_x, 100, 4, 5); });
  }
  SECTION("compaction interval < 2") {
    expect_invalid([&] { lsmt::db<> s(dir, rwx_r_x, 100, 1, 1); });
    expect_invalid([&] { lsmt::db<> s(dir, rwx_r_x, 100, 0, 0); });
  }
  SECTION("compaction interval growth out of range") {
    lsmt::options o;
    o.compaction_interval_growth = 0;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
    o.compaction_interval_growth = 17;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
  }
  SECTION("minimum sstables 0") {
    expect_invalid([&] { lsmt::db<> s(dir, rwx_r_x, 100, 8, 0); });
  }
  SECTION("empty path") {
    expect_invalid([&] { lsmt::db<> s(fs::path(), rwx_r_x, 100, 8, 2); });
    expect_invalid([&] { lsmt::db<> s(""); });
  }
  SECTION("block_size out of range") {
    lsmt::options o;
    o.block_size = 1023;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
    o.block_size = (size_t{1} << 20) + 1;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
    o.block_size = 0;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
  }
  SECTION("bloom bits per key out of range") {
    lsmt::options o;
    o.bloom_bits_per_key = -1;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
    o.bloom_bits_per_key = 41;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
  }
  SECTION("block restart interval out of range") {
    lsmt::options o;
    o.block_restart_interval = 0;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
    o.block_restart_interval = 1025;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
  }
  SECTION("compaction nice out of range") {
    lsmt::options o;
    o.compaction_nice = -1;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
    o.compaction_nice = 20;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
  }
  SECTION("space slowdown out of range") {
    lsmt::options o;
    for (double x : {-1.0, 0.5, 1.0, 1.04, 100.5, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
      CAPTURE(x);
      o.slowdown_space_amplification = x;
      expect_invalid([&] { lsmt::db<> s(dir, o); });
    }
  }
  SECTION("other options") {
    lsmt::options o;
    o.memtable_max_bytes = 0;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
    o = lsmt::options{};
    o.max_immutable_memtables = 0;
    expect_invalid([&] { lsmt::db<> s(dir, o); });
  }
  // Validation happens before anything touches the file system.
  CHECK_FALSE(fs::exists(dir));

  // It is catchable as every base class too.
  CHECK_THROWS_AS((lsmt::db<>(dir, rwx_r_x, 0, 8, 2)), lsmt::error);
  CHECK_THROWS_AS((lsmt::db<>(dir, rwx_r_x, 0, 8, 2)), std::system_error);
}

TEST_CASE("seed: seed_options are the seed constructor's options", "[seed]") {
  const lsmt::options o = lsmt::seed_options(rwx_r_x, 123, 5, 3);
  const lsmt::options defaults;
  CHECK(o.directory_permissions == rwx_r_x);
  CHECK(o.memtable_max_entries == 123);
  CHECK(o.compaction_interval == 5);
  CHECK(o.minimum_sstables == 3);
  CHECK(o.memtable_max_bytes == defaults.memtable_max_bytes);  // the rest are the defaults
  CHECK(o.idle_settle_ms == defaults.idle_settle_ms);
  expect_invalid([] { (void)lsmt::seed_options(rwx_r_x, 0, 8, 2); });

  // A store opened with them (settling off, so that nothing else flushes) rotates its memtable
  // after `entries` writes, as the seed constructor's does.
  temp_dir tmp;
  lsmt::options quiet = lsmt::seed_options(rwx_r_x, 4, 8, 2);
  quiet.idle_settle_ms = 0;
  lsmt::db<> s(tmp.sub("db"), quiet);
  for (int i = 0; i < 10; ++i) s.put(std::to_string(i), "v");
  s.flush();
  CHECK(s.stats().flushes == 3);  // after 4 and 8 writes, then flush() for the last 2
}

TEST_CASE("seed: boundary parameters are accepted", "[seed]") {
  temp_dir tmp;
  {
    lsmt::db<> s(tmp.sub("a"), rwx_r_x, 1, 2, 2);  // interval == minimum == 2, 1 entry
    s.put("a", "1");
    s.put("b", "2");
    s.put("c", "3");
    CHECK(s.get("b") == std::optional<std::string>("2"));
    s.flush();
    // A 1-entry memtable is rotated out before every write after the first: 2 rotations, then
    // flush() rotates the last one. flush() waits for all of them.
    CHECK(s.stats().flushes == 3);
  }
  {
    lsmt::db<> s(tmp.sub("b"), rwx_r_x, 5, 3, 1);  // minimum 1
    for (int i = 0; i < 20; ++i) s.put(std::to_string(i), "v");
    s.compact();
    CHECK(s.stats().tables == 1);
  }
  lsmt::options o;
  o.block_size = 1024;
  o.bloom_bits_per_key = 0;
  {
    lsmt::db<> s(tmp.sub("c"), o);
    s.put("k", "v");
    s.flush();
    CHECK(s.contains("k"));
  }
  o.block_size = size_t{1} << 20;
  o.bloom_bits_per_key = 40;
  {
    lsmt::db<> s(tmp.sub("d"), o);
    s.put("k", "v");
    s.flush();
    CHECK(s.contains("k"));
  }
}

TEST_CASE("seed: block_restart_interval decides how many keys a block stores whole", "[seed]") {
  temp_dir tmp;
  // The same 3,000 keys sharing a long prefix, flushed with restart intervals 1, 16 and 1024:
  // each key stored whole costs its prefix again plus a 4-byte restart, so the tables must
  // shrink as the interval grows, and every key must read back and scan in order either way.
  uint64_t previous = UINT64_MAX;
  for (const int interval : {1, 16, 1024}) {
    lsmt::options o;
    o.block_restart_interval = interval;
    lsmt::db<> s(tmp.sub("r" + std::to_string(interval)), o);
    for (int i = 0; i < 3000; ++i) {
      s.put("a-long-shared-key-prefix/" + std::to_string(100000 + i), std::to_string(i));
    }
    s.flush();
    const uint64_t bytes = s.stats().table_bytes;
    INFO("interval " << interval << ": " << bytes << " bytes");
    CHECK(bytes < previous);
    previous = bytes;
    for (int i = 0; i < 3000; i += 7) {
      CHECK(s.get("a-long-shared-key-prefix/" + std::to_string(100000 + i)) ==
            std::optional<std::string>(std::to_string(i)));
    }
    CHECK_FALSE(s.contains("a-long-shared-key-prefix/1000005"));  // between two keys
    const auto all = s.scan().to_vector();
    REQUIRE(all.size() == 3000);
    for (size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].first < all[i].first);
  }
}

TEST_CASE("seed: a second open of the same directory throws locked_error", "[seed]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  lsmt::db<> first(dir, rwx_r_x, 100, 8, 2);
  first.put("k", "v1");

  try {
    lsmt::db<> second(dir, rwx_r_x, 100, 8, 2);
    FAIL("a second open of a locked directory succeeded");
  } catch (const lsmt::locked_error& e) {
    CHECK(e.code() == lsmt::errc::locked);
    CHECK(e.kind() == lsmt::errc::locked);
  }
  // The same directory spelled differently is still the same lock.
  CHECK_THROWS_AS((lsmt::db<>(dir / "." / "", rwx_r_x, 100, 8, 2)), lsmt::locked_error);

  // The failed opens did not disturb the first handle.
  CHECK(first.is_open());
  first.put("k", "v2");
  CHECK(first.get("k") == std::optional<std::string>("v2"));

  first.close();
  lsmt::db<> third(dir, rwx_r_x, 100, 8, 2);
  CHECK(third.get("k") == std::optional<std::string>("v2"));
}

// The child of the next test, run by it in a new process (hidden: "[.]"). Exit 0: it got
// locked_error; 1: it opened the store; 101: another exception; 102: no directory was given.
TEST_CASE("seed child: open the directory in LSMT_TEST_HELD_DIR", "[.][seed-child]") {
  const char* dir = std::getenv("LSMT_TEST_HELD_DIR");
  if (dir == nullptr) lsmt_test::simulated_crash(102);
  try {
    lsmt::db<> other(dir, rwx_r_x, 100, 8, 2);
    lsmt_test::simulated_crash(1);
  } catch (const lsmt::locked_error&) {
    lsmt_test::simulated_crash(0);
  } catch (...) {
    lsmt_test::simulated_crash(101);
  }
}

TEST_CASE("seed: another process cannot open a directory this process holds", "[seed]") {
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  lsmt::db<> held(dir, rwx_r_x, 100, 8, 2);
  held.put("k", "v");
  // A new process, not a bare fork: the store's threads may hold an allocator lock at the fork.
  const int status = lsmt_test::run_test_in_new_process(
      "seed child: open the directory in LSMT_TEST_HELD_DIR", "LSMT_TEST_HELD_DIR=" + dir.string());
  CHECK(status == 0);
  CHECK(held.get("k") == std::optional<std::string>("v"));
}

TEST_CASE("seed: close() is idempotent and later calls throw closed_error", "[seed]") {
  temp_dir tmp;
  lsmt::db<> store(tmp.sub("db"), rwx_r_x, 100, 8, 2);
  store.put("k", "v");
  store.close();
  CHECK_FALSE(store.is_open());
  CHECK_NOTHROW(store.close());
  CHECK_NOTHROW(store.close());
  CHECK_FALSE(store.is_open());

  try {
    store.put("k", "v2");
    FAIL("put after close succeeded");
  } catch (const lsmt::closed_error& e) {
    CHECK(e.code() == lsmt::errc::closed);
  }
  CHECK_THROWS_AS(store.get("k"), lsmt::closed_error);
  CHECK_THROWS_AS(store.contains("k"), lsmt::closed_error);
  CHECK_THROWS_AS(store.erase("k"), lsmt::closed_error);
  CHECK_THROWS_AS(store.flush(), lsmt::closed_error);
  CHECK_THROWS_AS(store.compact(), lsmt::closed_error);
  lsmt::db<>::batch b;
  b.put("x", "y");
  CHECK_THROWS_AS(store.write(b), lsmt::closed_error);
  CHECK_THROWS_AS(store.scan(), lsmt::closed_error);
  CHECK_THROWS_AS(store.range("a", "z"), lsmt::closed_error);
  CHECK_THROWS_AS(store.greater_than("a"), lsmt::closed_error);
  CHECK_THROWS_AS(store.new_iterator(), lsmt::closed_error);
  CHECK_THROWS_AS(store.get_snapshot(), lsmt::closed_error);
  CHECK_THROWS_AS(store.begin_transaction(), lsmt::closed_error);
}

// Regression: stats() once returned counters after close().
TEST_CASE("seed: stats() after close throws closed_error", "[seed]") {
  temp_dir tmp;
  lsmt::db<> store(tmp.sub("db"), rwx_r_x, 100, 8, 2);
  store.close();
  CHECK_THROWS_AS(store.stats(), lsmt::closed_error);
}

TEST_CASE("seed: a moved-from store throws closed_error", "[seed]") {
  temp_dir tmp;
  lsmt::db<> a(tmp.sub("db"), rwx_r_x, 100, 8, 2);
  a.put("k", "v");
  lsmt::db<> b(std::move(a));
  CHECK(b.get("k") == std::optional<std::string>("v"));
  CHECK_FALSE(a.is_open());  // NOLINT(bugprone-use-after-move): testing the moved-from state
  CHECK_THROWS_AS(a.get("k"), lsmt::closed_error);
  CHECK_THROWS_AS(a.put("k", "x"), lsmt::closed_error);
  CHECK_NOTHROW(a.close());
  CHECK(b.is_open());
}

TEST_CASE("seed: the directory is created with the given permissions", "[seed]") {
  umask_guard um(022);
  temp_dir tmp;

  SECTION("0700") {
    const fs::path dir = tmp.sub("db700");
    lsmt::db<> s(dir, fs::perms(0700), 100, 8, 2);
    CHECK(mode_of(dir) == 0700);
  }
  SECTION("0750") {
    const fs::path dir = tmp.sub("db750");
    lsmt::db<> s(dir, fs::perms(0750), 100, 8, 2);
    CHECK(mode_of(dir) == 0750);
  }
  SECTION("0775 is not cut down by the umask") {
    // perms are applied after creation, so group write survives umask 022
    const fs::path dir = tmp.sub("db775");
    lsmt::db<> s(dir, fs::perms(0775), 100, 8, 2);
    CHECK((mode_of(dir) & 0777 & ~0022) == (0775 & ~0022));
    CHECK(mode_of(dir) == 0775);
  }
  SECTION("missing parents are created with options.create_parents") {
    const fs::path dir = tmp.sub("a") / "b" / "db";
    CHECK_THROWS_AS(lsmt::db<>(dir, fs::perms(0700), 100, 8, 2), lsmt::io_error);
    lsmt::options o;
    o.directory_permissions = fs::perms(0700);
    o.create_parents = true;
    lsmt::db<> s(dir, o);
    s.put("k", "v");
    CHECK(mode_of(dir) == 0700);
    CHECK(fs::is_directory(tmp.sub("a") / "b"));
  }
  SECTION("an existing directory keeps its permissions") {
    const fs::path dir = tmp.sub("existing");
    fs::create_directory(dir);
    fs::permissions(dir, fs::perms(0711), fs::perm_options::replace);
    lsmt::db<> s(dir, fs::perms(0700), 100, 8, 2);
    s.put("k", "v");
    CHECK(mode_of(dir) == 0711);
  }
}

TEST_CASE("seed: no file the store creates is world-writable", "[seed]") {
  // With umask 0 nothing masks a careless 0666/0777 create mode.
  umask_guard um(0);
  temp_dir tmp;
  const fs::path dir = tmp.sub("db");
  {
    lsmt::db<> s(dir, fs::perms(0755), 10, 4, 2);
    for (int i = 0; i < 100; ++i) s.put("key" + std::to_string(i), std::string(100, 'v'));
    s.flush();
    s.put("tail", "in the wal");
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      INFO(e.path());
      struct stat st {};
      if (::stat(e.path().c_str(), &st) != 0) {
        // Renamed or removed since it was listed, by the background thread (a MANIFEST.tmp, say).
        CHECK(errno == ENOENT);
        continue;
      }
      files.push_back(e.path().filename().string());
      CHECK((st.st_mode & S_IWOTH) == 0);
    }
    // There really were files to check: LOCK, MANIFEST, a WAL and tables.
    CHECK(files.size() >= 4);
    s.compact();
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    INFO(e.path());
    CHECK((mode_of(e.path()) & S_IWOTH) == 0);
  }
  CHECK((mode_of(dir) & S_IWOTH) == 0);
}

}  // namespace seed_api_test_cpp
