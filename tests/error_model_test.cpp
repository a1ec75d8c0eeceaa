// tests/error_model_test.cpp - errors say each thing once, an oversized write is refused without
// stopping the store, and move-assigning over a db closes the store it held.
#include <cerrno>
#include <string>
#include <utility>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

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
