// tests/fuzz/make_corpus.cpp - writes the seed corpora of the fuzz targets (run once; its
// output is committed in tests/fuzz/corpus/<target>/):
//   build/tests/fuzz/lsmt_fuzz_make_corpus tests/fuzz/corpus
// Seeds: the files of build_small_store (each with flags 0..3), a truncated WAL, a small table
// on its own, and edit lists for fuzz_open_store (none, one per file and kind). For the targets
// that take one part of a table (fuzz_block, fuzz_index, fuzz_filter, fuzz_footer): the parts of
// two tables written here by table_builder, found through decode_footer and the index. For
// fuzz_log_records: the batches of the store's WAL (read with log_reader) and batches made here.
// Everything goes through the library's encoders and decoders, so a format change only needs
// this program to be run again.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
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

using namespace lsmt::detail;

/// A table written by table_builder: `n` keys key000, key001, ... (every third one deleted),
/// data blocks cut at block_size bytes.
static std::string build_table(int n, size_t block_size) {
  std::string bytes;
  table_options o;
  o.block_size = block_size;
  table_builder b(o, std::make_unique<lsmt_test::memory_writable_file>(&bytes));
  for (int i = 0; i < n; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "key%03d", i);
    const bool erased = i % 3 == 2;
    b.add(lsmt_test::ikey(key, 100 + static_cast<uint64_t>(i),
                          erased ? value_type::deletion : value_type::value),
          erased ? "" : std::string(static_cast<size_t>(i % 23), static_cast<char>('a' + i % 26)));
  }
  b.finish();
  return bytes;
}

/// Where a table's parts are, as table_reader finds them.
struct table_parts {
  std::string footer;  // its footer_size bytes
  table_footer handles;
  std::vector<block_handle> data;
};

static table_parts split_table(const std::string& t) {
  table_parts p;
  p.footer = t.substr(t.size() - footer_size);
  if (decode_footer(p.footer.data(), &p.handles) != nullptr) throw std::runtime_error("footer");
  block_iter it;
  it.reset(std::string_view(t).substr(p.handles.index.offset, p.handles.index.size), {0, 0});
  for (it.seek_to_first(); it.valid(); it.next()) {
    std::string_view v = it.value();
    block_handle h;
    if (!get_varint64(v, &h.offset) || !get_varint64(v, &h.size)) throw std::runtime_error("index");
    p.data.push_back(h);
  }
  return p;
}

static std::string contents(const std::string& t, const block_handle& h) {
  return t.substr(h.offset, h.size);
}
static std::string stored_block(const std::string& t, const block_handle& h) {
  return t.substr(h.offset, h.size + block_trailer_size);
}
static std::string flag(unsigned flags) { return std::string(1, static_cast<char>(flags)); }

/// Seeds for fuzz_block, fuzz_index, fuzz_filter and fuzz_footer.
static void table_part_seeds(const fs::path& out, const std::string& tiny) {
  const std::string multi = build_table(60, 256);
  const table_parts m = split_table(multi);
  const table_parts t = split_table(tiny);

  const fs::path block = out / "fuzz_block";
  put(block, "data-flags0", flag(0) + stored_block(multi, m.data.front()));
  put(block, "data-flags1", flag(1) + stored_block(multi, m.data[m.data.size() / 2]));
  put(block, "data-pinned-flags3", flag(3) + stored_block(multi, m.data.back()));
  put(block, "empty-flags1", flag(1) + lsmt_fuzz::with_block_trailer(block_builder(16).finish()));
  {
    block_builder b(1);  // every entry a restart, as in an index
    for (const char* k : {"a", "ab", "abc", "b", "key5"}) b.add(lsmt_test::ikey(k, 9), k);
    put(block, "interval1-flags1", flag(1) + lsmt_fuzz::with_block_trailer(b.finish()));
  }

  const fs::path index = out / "fuzz_index";
  put(index, "multi-flags0", flag(0) + contents(multi, m.handles.index));
  put(index, "multi-mapped-flags1", flag(1) + contents(multi, m.handles.index));
  put(index, "multi-extra-flags16", flag(16) + contents(multi, m.handles.index));
  put(index, "tiny-flags0", flag(0) + contents(tiny, t.handles.index));
  put(index, "empty-flags0", flag(0) + std::string(block_builder(1).finish()));

  const fs::path filter = out / "fuzz_filter";  // flags: bits per key << 1 | mapped
  put(filter, "multi-bits10", flag(10 << 1) + contents(multi, m.handles.filter));
  put(filter, "tiny-bits10-mapped", flag(10 << 1 | 1) + contents(tiny, t.handles.filter));
  put(filter, "tiny-bits1", flag(1 << 1) + contents(tiny, t.handles.filter));
  put(filter, "empty-bits0", flag(0));

  const fs::path footer = out / "fuzz_footer";
  put(footer, "tiny-flags0", flag(0) + tiny);
  put(footer, "tiny-mapped-flags2", flag(2) + tiny);
  put(footer, "footer-only-flags0", flag(0) + t.footer);
  // Bit 0: the handles as 4 x fixed64, then the table without its footer.
  auto handles = [](const table_footer& f) {
    std::string h;
    for (uint64_t v : {f.filter.offset, f.filter.size, f.index.offset, f.index.size}) {
      put_fixed64(h, v);
    }
    return h;
  };
  put(footer, "tiny-handles-flags9",
      flag(9) + handles(t.handles) + tiny.substr(0, tiny.size() - footer_size));
  put(footer, "multi-handles-flags11",
      flag(11) + handles(m.handles) + multi.substr(0, multi.size() - footer_size));
}

/// Seeds for fuzz_log_records: byte 0 flags, bytes 1-2 a number, payloads joined by "|rec|".
static void log_record_seeds(const fs::path& out, const std::string& wal) {
  auto seed = [](unsigned flags, unsigned c, const std::vector<std::string>& payloads) {
    std::string s = flag(flags);
    s.push_back(static_cast<char>(c & 0xff));
    s.push_back(static_cast<char>(c >> 8));
    for (size_t i = 0; i < payloads.size(); ++i) s += (i == 0 ? "" : "|rec|") + payloads[i];
    return s;
  };
  std::vector<std::string> store;
  {
    const lsmt_fuzz::mem_file file(wal);
    log_reader reader(file);
    for (std::string p; reader.read_record(p);) store.push_back(p);
  }
  const fs::path dir = out / "fuzz_log_records";
  put(dir, "store-flags0", seed(0, 0, store));
  put(dir, "store-sync-link-flags6", seed(6, 4096, store));
  put(dir, "store-torn-mapped-flags9", seed(9, 300, store));
  put(dir, "store-zeros-flags16", seed(16, 40, store));

  raw_batch mixed;
  mixed.put("apple", "red");
  mixed.erase("banana");
  mixed.put("", "empty key");
  mixed.put("cherry", std::string(200, 'c'));  // a two-byte varint length
  mixed.set_sequence(1000);
  raw_batch none;
  none.set_sequence(7);
  put(dir, "batches-flags0", seed(0, 0, {mixed.rep(), none.rep()}));
  // Sequences at the top of the range: the last op of the first batch is max_sequence, the
  // second batch goes one past it (the library is to refuse that one).
  raw_batch top;
  top.put("x", "1");
  top.erase("y");
  top.put("z", "3");
  top.set_sequence(max_sequence - 2);
  raw_batch past = top;
  past.set_sequence(max_sequence - 1);
  put(dir, "sequence-edges-flags0", seed(0, 0, {top.rep(), past.rep()}));
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
  std::string wal;
  for (const std::string& n : names) {
    const std::string bytes = slurp(tmp / "store" / n);
    std::string target;
    if (n.size() > 4 && n.substr(n.size() - 4) == ".log") {
      target = "fuzz_wal_reader";
      wal = bytes;
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
  // A table with two entries.
  std::string tiny;
  {
    table_builder b({}, std::make_unique<lsmt_test::memory_writable_file>(&tiny));
    b.add(lsmt_test::ikey("key1", 2), "v1");
    b.add(lsmt_test::ikey("key50", 1, value_type::deletion), "");
    b.finish();
    put(out / "fuzz_sstable", "tiny-flags3", flag(3) + tiny);
  }
  table_part_seeds(out, tiny);
  log_record_seeds(out, wal);
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
