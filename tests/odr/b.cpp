// ODR check, translation unit 2 of 2: both TUs include <lsmt.hpp> and use the same functions, so
// a non-inline function defined in a header fails to link.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <lsmt.hpp>
#include <optional>
#include <string>

std::optional<std::string> odr_a_put_get(lsmt::db<>& db);

int main() {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("lsmt-odr-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  bool ok = false;
  {
    lsmt::db<> db(dir);
    db.put("b", "from b.cpp");
    const std::optional<std::string> b = odr_a_put_get(db);
    const std::optional<std::string> a = db.get("a");
    ok = b == "from b.cpp" && a == "from a.cpp";
  }
  fs::remove_all(dir);
  if (!ok) std::fprintf(stderr, "two_translation_units: unexpected values\n");
  return ok ? 0 : 1;
}
