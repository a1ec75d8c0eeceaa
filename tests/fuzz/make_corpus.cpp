// tests/fuzz/make_corpus.cpp - writes the seed corpora of the fuzz targets (run once; its
// output is committed in tests/fuzz/corpus/<target>/):
//   build/tests/fuzz/lsmt_fuzz_make_corpus tests/fuzz/corpus
// Seeds: the files of build_small_store (each with flags 0..3), a truncated WAL, a small table
// on its own, and edit lists for fuzz_open_store (none, one per file and kind).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../ikey.hpp"
#include "fuzz_common.hpp"

namespace fs = std::filesystem;

static std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

static void put(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path tmp =
      fs::temp_directory_path() / ("lsmt-make-corpus-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  lsmt_fuzz::build_small_store(tmp / "store");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(tmp / "store")) {
    if (e.path().filename() != "LOCK") names.push_back(e.path().filename());
  }
  std::sort(names.begin(), names.end());
  size_t table = 0;
  for (const std::string& n : names) {
    const std::string bytes = slurp(tmp / "store" / n);
    std::string target;
    if (n.size() > 4 && n.substr(n.size() - 4) == ".log") {
      target = "fuzz_wal_reader";
      put(out / target, "truncated", std::string(1, '\1') + bytes.substr(0, bytes.size() * 2 / 3));
    } else if (n.size() > 4 && n.substr(n.size() - 4) == ".sst") {
      if (table++ >= 2) continue;  // two tables are enough
      target = "fuzz_sstable";
    } else if (n == "MANIFEST") {
      target = "fuzz_manifest";
    } else {
      continue;
    }
    for (char flags = 0; flags < 4; ++flags) {
      if (target == "fuzz_manifest" && flags > 1) break;
      put(out / target, n + "-flags" + std::to_string(flags), std::string(1, flags) + bytes);
    }
  }
  // A table with two entries, and an empty block on its own.
  {
    const fs::path p = tmp / "tiny.sst";
    lsmt::detail::table_builder b({}, lsmt::posix_file_system()->new_writable_file(p.string()));
    b.add(lsmt_test::ikey("key1", 2), "v1");
    b.add(lsmt_test::ikey("key50", 1, lsmt::detail::value_type::deletion), "");
    b.finish();
    put(out / "fuzz_sstable", "tiny-flags3", std::string(1, '\3') + slurp(p));
    lsmt::detail::block_builder empty(16);
    put(out / "fuzz_sstable", "empty-block", std::string(1, '\0') + std::string(empty.finish()));
  }
  // fuzz_open_store: no edit; then per file one flip, one zeroed word and one truncation.
  put(out / "fuzz_open_store", "no-edit", "");
  for (size_t f = 0; f < names.size(); ++f) {
    const auto size = static_cast<unsigned>(fs::file_size(tmp / "store" / names[f]));
    const unsigned mid = size / 2;
    for (unsigned op = 1; op <= 3; ++op) {
      std::string e;
      e.push_back(static_cast<char>((op << 6) | f));
      e.push_back(static_cast<char>(mid & 0xff));
      e.push_back(static_cast<char>(mid >> 8));
      e.push_back('\x10');
      put(out / "fuzz_open_store", names[f] + "-op" + std::to_string(op), e);
    }
  }
  // Several edits at once (libFuzzer grows inputs slowly from 4-byte seeds).
  {
    std::string e;
    for (unsigned i = 0; i < 8; ++i) {
      const unsigned f = (i * 3) % static_cast<unsigned>(names.size());
      const auto size = static_cast<unsigned>(fs::file_size(tmp / "store" / names[f]));
      const unsigned at = size * (i + 1) / 10;
      e.push_back(static_cast<char>(((i % 2 == 0 ? 1u : 3u) << 6) | f));
      e.push_back(static_cast<char>(at & 0xff));
      e.push_back(static_cast<char>(at >> 8));
      e.push_back(static_cast<char>(1u << (i % 8)));
    }
    put(out / "fuzz_open_store", "eight-edits", e);
  }
  fs::remove_all(tmp);
  return 0;
}
