// quickstart.cpp - create a store, put, get, delete, compact, close.
//
//   quickstart [directory]      (default: ./quickstart-db)
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "lsmt.hpp"

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : "./quickstart-db";
  try {
    // Directory permissions, memtable flush size (entries), compaction interval (tables),
    // minimum tables left after a compaction.
    lsmt::db<> store(dir, std::filesystem::perms(0755), 1000, 8, 2);
    std::cout << "opened " << dir << "\n";

    store.put("hello", "world");
    store.put("lsm", "tree");
    std::cout << "put hello=world, lsm=tree\n";

    std::optional<std::string> v = store.get("hello");
    std::cout << "get hello -> " << (v ? *v : "(absent)") << "\n";

    store.erase("hello");
    v = store.get("hello");
    std::cout << "erase hello; get hello -> " << (v ? *v : "(absent)") << "\n";

    store.compact();
    std::cout << "compacted: " << store.stats().tables << " table(s)\n";

    for (const auto& [key, value] : store.scan())
      std::cout << "  " << key << " = " << value << "\n";

    store.close();
    std::cout << "closed\n";
    return 0;
  } catch (const lsmt::error& e) {
    std::cerr << "lsmt error (" << e.code().message() << "): " << e.what() << "\n";
    return 1;
  }
}
