// typed_keys.cpp - integer keys and the range queries.
//
// db<int64_t, std::string> encodes keys so that byte order is numeric order (negatives first),
// so range queries take numbers.
//
//   typed_keys [directory]      (default: ./typed-keys-db)
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>

#include "lsmt.hpp"

template <class View>
void print(const char* what, const View& view) {
  std::cout << what << ":";
  for (const auto& [key, value] : view) std::cout << " " << key << "=" << value;
  std::cout << "\n";
}

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : "./typed-keys-db";
  try {
    lsmt::db<int64_t, std::string> temps(dir, std::filesystem::perms(0755), 1000, 8, 2);
    for (int64_t t = -3; t <= 3; ++t) temps.put(t * 10, "t" + std::to_string(t * 10));

    print("scan", temps.scan());
    print("range [-10, 10]", temps.range(-10, 10));
    print("not_in_range [-10, 10]", temps.not_in_range(-10, 10));
    print("greater_than 0", temps.greater_than(0));
    print("greater_or_equal 0", temps.greater_or_equal(0));
    print("less_than -10", temps.less_than(-10));
    print("less_or_equal -10", temps.less_or_equal(-10));
    print("all_except 0", temps.all_except(0));

    // An iterator seeks to the first key >= its argument and steps with next() (or prev()).
    auto it = temps.new_iterator();
    for (it.seek(5); it.valid(); it.next()) std::cout << "seek 5 -> " << it.key() << "\n";
    temps.close();
    return 0;
  } catch (const lsmt::error& e) {
    std::cerr << "lsmt error: " << e.what() << "\n";
    return 1;
  }
}
