// tests/error_model_test.cpp - errors say each thing once, an oversized write is refused without
// stopping the store, move-assigning over a db closes the store it held, a missing parent
// directory needs options.create_parents, and a directory of other files is refused.
#include <cerrno>
#include <string>
#include <utility>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace error_model_test_cpp {

using lsmt_test::str_db;
using lsmt_test::temp_dir;

TEST_CASE("errors: what() is the message once, and the kind is still the code", "[errors]") {
  const lsmt::closed_error closed;
  CHECK(std::string(closed.what()) == "lsmt: store is closed");
  CHECK(closed.code() == lsmt::errc::closed);
  CHECK(closed.kind() == lsmt::errc::closed);

  const lsmt::io_error io("lsmt: open 'x'", ENOENT);
  CHECK(std::string(io.what()) == "lsmt: open 'x': No such file or directory");
  CHECK(io.sys_errno() == ENOENT);

  const lsmt::corruption_error copy = lsmt::corruption_error("lsmt: table 7: bad footer");
  const lsmt::error& base = copy;
  CHECK(std::string(base.what()) == "lsmt: table 7: bad footer");
  CHECK(base.code().message() == "corruption");  // the kind's name stays in the code

  temp_dir tmp;
  str_db d(tmp.sub("db"));
  d.close();
  try {
    d.put("k", "v");
    FAIL("a put on a closed store must throw");
  } catch (const lsmt::closed_error& e) {
    CHECK(std::string(e.what()) == "lsmt: store is closed");
  }
}

TEST_CASE("errors: a write past the largest log record is refused and the store stays writable",
          "[errors]") {
  temp_dir tmp;
  {
    str_db d(tmp.sub("db"));
    d.put("before", "1");
    const std::string huge((size_t{256} << 20) + 1, 'x');
    try {
      d.put("big", huge);
      FAIL("an oversized write must throw");
    } catch (const lsmt::invalid_argument_error& e) {
      CHECK(std::string(e.what()).find("exceeds the largest log record (256 MiB)") !=
            std::string::npos);
    }
    CHECK_FALSE(d.get("big").has_value());
    d.put("after", "2");  // the store still takes writes
    CHECK(d.get("after") == "2");
  }
  str_db d(tmp.sub("db"));
  CHECK(d.get("before") == "1");
  CHECK(d.get("after") == "2");
  CHECK_FALSE(d.get("big").has_value());
}

TEST_CASE("errors: move-assigning over a db closes the store it held", "[errors]") {
  temp_dir tmp;
  str_db a(tmp.sub("a"));
  a.put("k", "v");
  const lsmt::snapshot snap = a.get_snapshot();  // would keep a's store open if only released
  str_db b(tmp.sub("b"));
  b.put("b", "1");
  a = std::move(b);
  CHECK(a.get("b") == "1");    // a is now b's store
  str_db again(tmp.sub("a"));  // the old store let go of its directory lock
  CHECK(again.get("k") == "v");
  str_db& same = a;
  a = std::move(same);  // self-move-assignment keeps the store
  CHECK(a.is_open());
}

TEST_CASE("errors: a store whose parent directory is missing needs options.create_parents",
          "[errors]") {
  temp_dir tmp;
  const std::filesystem::path nested = tmp.sub("typo") / "db";
  try {
    str_db d(nested);
    FAIL("opening under a missing parent must throw");
  } catch (const lsmt::io_error& e) {
    CHECK(e.sys_errno() == ENOENT);
    CHECK(std::string(e.what()) == "lsmt: create '" + nested.string() +
                                       "' (options.create_parents is off): parent '" +
                                       tmp.sub("typo").string() + "': No such file or directory");
  }
  CHECK_FALSE(std::filesystem::exists(tmp.sub("typo")));  // nothing was created
  // The same for the seed's five-parameter constructor, and for a path with a trailing slash.
  CHECK_THROWS_AS(str_db(nested, lsmt_test::rwx_r_x, 100, 4, 2), lsmt::io_error);
  CHECK_THROWS_AS(str_db(nested.string() + "/"), lsmt::io_error);
  CHECK_FALSE(std::filesystem::exists(tmp.sub("typo")));

  lsmt::options o;
  o.create_parents = true;
  {
    str_db d(nested, o);
    d.put("k", "v");
  }
  str_db d(nested);  // an existing store opens without the option
  CHECK(d.get("k") == "v");
  // A relative path's parent is the working directory, which exists.
  CHECK(std::filesystem::path("db").parent_path().empty());
}

TEST_CASE("errors: a non-empty directory holding no store is refused unless allowed", "[errors]") {
  temp_dir tmp;
  const std::filesystem::path dir = tmp.sub("photos");
  std::filesystem::create_directory(dir);
  lsmt_test::write_file(dir / "holiday.jpg", "not a store");
  try {
    str_db d(dir);
    FAIL("a directory of other files must be refused");
  } catch (const lsmt::invalid_argument_error& e) {
    CHECK(std::string(e.what()) == "lsmt: '" + dir.string() +
                                       "' holds files but no store (such as 'holiday.jpg'); set "
                                       "options.allow_non_empty_directory to create one there");
  }
  // Nothing was written into it: not even the lock file.
  CHECK(std::distance(std::filesystem::directory_iterator(dir),
                      std::filesystem::directory_iterator()) == 1);

  lsmt::options o;
  o.allow_non_empty_directory = true;
  {
    str_db d(dir, o);
    d.put("k", "v");
  }
  str_db d(dir);  // once it holds a store, it opens without the option
  CHECK(d.get("k") == "v");
  CHECK(std::filesystem::exists(dir / "holiday.jpg"));

  // An empty directory, and one holding what a crash during a first open leaves (LOCK and a
  // log), are fine.
  const std::filesystem::path empty = tmp.sub("empty");
  std::filesystem::create_directory(empty);
  CHECK_NOTHROW(str_db(empty));
  const std::filesystem::path crashed = tmp.sub("crashed");
  std::filesystem::create_directory(crashed);
  lsmt_test::write_file(crashed / "LOCK", "");
  lsmt_test::write_file(crashed / "000001.log", "");
  CHECK_NOTHROW(str_db(crashed));
}

TEST_CASE("errors: a new store's path may not go back after a name, and lost+found is ignored",
          "[errors]") {
  temp_dir tmp;
  const std::filesystem::path base = tmp.sub("base");
  std::filesystem::create_directory(base);
  lsmt_test::write_file(base / "notes.txt", "x");
  std::filesystem::permissions(base, std::filesystem::perms(0751),
                               std::filesystem::perm_options::replace);
  lsmt::options o;
  o.create_parents = true;  // even so: "missing/.." would create missing, then name base
  for (const std::string& p : {base.string() + "/missing/..", base.string() + "/a/b/../.."}) {
    CAPTURE(p);
    CHECK_THROWS_AS(str_db(p), lsmt::invalid_argument_error);
    CHECK_THROWS_AS(str_db(p, o), lsmt::invalid_argument_error);
  }
  CHECK_FALSE(std::filesystem::exists(base / "missing"));
  CHECK_FALSE(std::filesystem::exists(base / "a"));
  CHECK((std::filesystem::status(base).permissions() & std::filesystem::perms::all) ==
        std::filesystem::perms(0751));
  // The rule is by name, not by what exists: "sub/../new_db" is refused too, while a store
  // that exists opens through any path.
  const std::filesystem::path sub = base / "sub";
  std::filesystem::create_directory(sub);
  CHECK_THROWS_AS(str_db(sub.string() + "/../new_db"), lsmt::invalid_argument_error);
  lsmt::options allow;
  allow.allow_non_empty_directory = true;
  str_db(base / "new_db", allow).close();
  CHECK_NOTHROW(str_db(sub.string() + "/../new_db"));

  // A mount point's lost+found is not a reason to refuse a directory.
  const std::filesystem::path mount = tmp.sub("mount");
  std::filesystem::create_directories(mount / "lost+found");
  CHECK_NOTHROW(str_db(mount));
}

}  // namespace error_model_test_cpp
