// ODR check, translation unit 1 of 2: see tests/CMakeLists.txt.
#include <lsmt.hpp>
#include <optional>
#include <string>

std::optional<std::string> odr_a_put_get(lsmt::db<>& db) {
  db.put("a", "from a.cpp");
  return db.get("b");
}
