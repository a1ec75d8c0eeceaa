// tests/fuzz/make_corpus.cpp - writes the seed corpora of the fuzz targets (run once; its
// output is committed in tests/fuzz/corpus/<target>/):
//   build/tests/fuzz/lsmt_fuzz_make_corpus tests/fuzz/corpus
// Seeds: the files of build_small_store (each with flags 0..3; its tables renumbered 7 and its
// log's header rewritten to name log 7, what the targets read them as), logs written here with
// log_writer (synced part way, then torn or damaged), a small table on its own, and edit lists
// for fuzz_open_store (none, one per file and kind, in both recovery modes, of the store with
// and the one without blob files), blob files written here by blob_writer, and the MANIFEST
// (version 5) of the store with blob files. For the targets
// that take one part of a table (fuzz_block, fuzz_index, fuzz_filter, fuzz_footer): the parts of
// two tables written here by table_builder, found through decode_footer and the index. For
// fuzz_log_records: the batches of the store's WAL (read with log_reader) and batches made here.
// Everything goes through the library's encoders and decoders, so a format change only needs
// this program to be run again. The store's seeds differ from run to run: its store_id (in the
// MANIFEST and the table footers) is random, and its file numbers and table boundaries depend on
// when background flushes and compactions ran. The other seeds are the same every run.
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
#include "lsmt/blob_file.hpp"

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
using lsmt_fuzz::fuzz_log_number;
using lsmt_fuzz::fuzz_table_number;

constexpr uint64_t seed_store_id = 0x5eed;  // of the tables written here

/// A table written by table_builder: `n` keys key000, key001, ... (every third one deleted),
/// data blocks cut at block_size bytes.
static std::string build_table(int n, size_t block_size) {
  std::string bytes;
  table_options o;
  o.block_size = block_size;
  table_builder b(o, std::make_unique<lsmt_test::memory_writable_file>(&bytes), fuzz_table_number,
                  seed_store_id);
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
  // Bit 0: the footer's fields (4 x fixed64 handles, fixed64 number, fixed64 store_id, fixed32
  // key_range_crc), then the table without its footer.
  auto fields = [](const table_footer& f) {
    std::string h;
    for (uint64_t v : {f.filter.offset, f.filter.size, f.index.offset, f.index.size, f.id.number,
                       f.id.store_id}) {
      put_fixed64(h, v);
    }
    put_fixed32(h, f.id.key_range_crc);
    return h;
  };
  put(footer, "tiny-handles-flags9",
      flag(9) + fields(t.handles) + tiny.substr(0, tiny.size() - footer_size));
  put(footer, "multi-handles-flags11",
      flag(11) + fields(m.handles) + multi.substr(0, multi.size() - footer_size));
  put(footer, "tiny-number-flags25",  // bit 4: the number as given (7 here)
      flag(25) + fields(t.handles) + tiny.substr(0, tiny.size() - footer_size));
}

/// The log's header rewritten to name log `number`, keeping its synced_through.
static std::string renumbered_log(const std::string& log, uint64_t was, uint64_t number) {
  const lsmt_fuzz::mem_file file(log);
  const log_reader reader(file, was);
  return encode_log_header(number, reader.synced_through()) + log.substr(log_header_size);
}

/// The table's footer rewritten to name table `number`.
static std::string renumbered_table(std::string t, uint64_t number) {
  table_footer f;
  char* at = t.data() + t.size() - footer_size;
  if (decode_footer(at, &f) != nullptr) throw std::runtime_error("footer");
  f.id.number = number;
  encode_footer(f, at);
  return t;
}

/// Seeds for fuzz_wal_reader written here: log 7 with a link and batches, synced through the
/// first half of them.
static void wal_seeds(const fs::path& out) {
  std::string log;
  uint64_t synced = 0;
  {
    log_writer w(std::make_unique<lsmt_test::memory_writable_file>(&log), fuzz_log_number);
    w.add_link(log_link{fuzz_log_number - 1, 4096});
    for (int i = 0; i < 8; ++i) {
      raw_batch b;
      b.put("key" + std::to_string(i), std::string(static_cast<size_t>(i * 5), 'v'));
      if (i % 3 == 0) b.erase("key" + std::to_string(i + 20));
      b.set_sequence(100 + 2 * static_cast<uint64_t>(i));
      w.add_record(b.rep());
      if (i == 3) {
        w.sync();
        synced = w.size();
      }
    }
    w.close();
  }
  const fs::path dir = out / "fuzz_wal_reader";
  const std::string f0 = flag(0), f1 = flag(1);
  put(dir, "written-flags0", f0 + log);
  put(dir, "written-mapped-flags2", flag(2) + log);
  put(dir, "written-other-number-flags4", flag(4) + log);
  // A crash while the last record was appended: a torn tail, then zeros.
  put(dir, "written-torn-flags0", f0 + log.substr(0, log.size() - 7) + std::string(64, '\0'));
  // Cut before the synced offset; then a flipped byte in a synced record (damaged).
  put(dir, "written-cut-synced-flags0", f0 + log.substr(0, static_cast<size_t>(synced) - 3));
  std::string flipped = log;
  flipped[log_header_size + 40] = static_cast<char>(flipped[log_header_size + 40] ^ 0x10);
  put(dir, "written-damaged-flags0", f0 + flipped);
  // A flipped byte after the synced offset, whole records after it (damaged too).
  flipped = log;
  flipped[static_cast<size_t>(synced) + 12] ^= 0x10;
  put(dir, "written-unsynced-damage-flags0", f0 + flipped);
  // Only a header, torn; and no log at all but zeros.
  put(dir, "torn-header-flags0", f0 + log.substr(0, 20));
  put(dir, "zeros-flags0", f0 + std::string(100, '\0'));
  put(dir, "header-only-flags1", f1 + encode_log_header(fuzz_log_number, 0));
}

/// Seeds for fuzz_log_records: byte 0 flags, bytes 1-2 a number, payloads joined by "|rec|".
static void log_record_seeds(const fs::path& out, const std::string& wal, uint64_t wal_number) {
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
    log_reader reader(file, wal_number);
    for (std::string p; reader.read_record(p);) store.push_back(p);
  }
  const fs::path dir = out / "fuzz_log_records";
  put(dir, "store-flags0", seed(0, 0, store));
  put(dir, "store-sync-link-flags6", seed(6, 4096, store));
  put(dir, "store-torn-mapped-flags9", seed(9, 300, store));
  put(dir, "store-zeros-flags16", seed(16, 40, store));
  // Synced through half the records, cut after and before that point.
  put(dir, "store-half-synced-cut-flags42", seed(42, 3000, store));
  put(dir, "store-half-synced-cut-flags42-early", seed(42, 120, store));
  put(dir, "store-synced-cut-flags10", seed(10, 200, store));

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

/// Seeds for fuzz_open_store: byte 0 = flags (bit 0: absolute_consistency, bit 1: the store
/// with blob files, `blobs`), then 4-byte edits.
static void open_store_seeds(const fs::path& out, const fs::path& store,
                             const std::vector<std::string>& names, bool blobs) {
  const fs::path dir = out / "fuzz_open_store";
  const unsigned store_bit = blobs ? 2 : 0;
  const std::string prefix = blobs ? "blobs-" : "";
  const auto flags_of = [&](unsigned mode) { return flag(mode | store_bit); };
  // A seed's name ends in its flags byte.
  const auto put_seed = [&](const std::string& name, unsigned mode, const std::string& bytes) {
    put(dir, prefix + name + "-flags" + std::to_string(mode | store_bit), bytes);
  };
  put_seed("no-edit", 0, flags_of(0));
  put_seed("no-edit", 1, flags_of(1));
  // Per file one flip, one zeroed word and one truncation, in alternating modes.
  for (size_t f = 0; f < names.size(); ++f) {
    const auto size = static_cast<unsigned>(fs::file_size(store / names[f]));
    const unsigned mid = size / 2;
    for (unsigned op = 1; op <= 3; ++op) {
      const unsigned mode = (op + f) % 2;
      std::string e = flags_of(mode);
      e.push_back(static_cast<char>((op << 6) | f));
      e.push_back(static_cast<char>(mid & 0xff));
      e.push_back(static_cast<char>(mid >> 8));
      e.push_back('\x10');
      put_seed(names[f] + "-op" + std::to_string(op), mode, e);
    }
  }
  // Several edits at once (libFuzzer grows inputs slowly from short seeds).
  for (unsigned mode = 0; mode < 2; ++mode) {
    std::string e = flags_of(mode);
    for (unsigned i = 0; i < 8; ++i) {
      const unsigned f = (i * 3) % static_cast<unsigned>(names.size());
      const auto size = static_cast<unsigned>(fs::file_size(store / names[f]));
      const unsigned at = size * (i + 1) / 10;
      e.push_back(static_cast<char>(((i % 2 == 0 ? 1u : 3u) << 6) | f));
      e.push_back(static_cast<char>(at & 0xff));
      e.push_back(static_cast<char>(at >> 8));
      e.push_back(static_cast<char>(1u << (i % 8)));
    }
    put_seed("eight-edits", mode, e);
  }
}

/// Seeds for fuzz_blob_file: a blob file of four records (two versions of one key), and one of
/// none.
static void blob_seeds(const fs::path& out) {
  const fs::path dir = out / "fuzz_blob_file";
  const auto write = [](const std::vector<std::pair<std::string, std::string>>& records) {
    std::string bytes;
    blob_writer w(std::make_unique<lsmt_test::memory_writable_file>(&bytes), fuzz_table_number,
                  seed_store_id);
    uint64_t sequence = 10;
    for (const auto& [k, v] : records) w.add(k, sequence++, v);
    w.finish();
    return bytes;
  };
  const std::string four = write({{"key1", std::string(100, 'a')},
                                  {"key2", ""},
                                  {"key2", "older"},
                                  {"key50", std::string(300, 'z')}});
  put(dir, "four-flags0", flag(0) + four);
  put(dir, "four-mapped-flags1", flag(1) + four);
  put(dir, "four-fixed-flags2", flag(2) + four);
  put(dir, "four-own-id-flags6", flag(6) + four);
  put(dir, "empty-flags0", flag(0) + write({}));
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
  fs::create_directories(tmp);  // the store's parent: lsmt creates no parents by default
  lsmt_fuzz::build_small_store(tmp / "store");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(tmp / "store")) {
    if (e.path().filename() != "LOCK") names.push_back(e.path().filename());
  }
  std::sort(names.begin(), names.end());
  size_t table = 0;
  std::string wal;
  uint64_t wal_number = 0;
  for (const std::string& n : names) {
    std::string bytes = slurp(tmp / "store" / n);
    std::string target;
    if (const uint64_t number = parse_file_number(n, file_kind::log); number != 0) {
      if (!wal.empty()) throw std::runtime_error("the store has more than one log");
      target = "fuzz_wal_reader";
      wal = bytes;
      wal_number = number;
      bytes = renumbered_log(bytes, number, fuzz_log_number);
      put(out / target, "truncated", flag(1) + bytes.substr(0, bytes.size() * 2 / 3));
    } else if (const uint64_t t = parse_file_number(n, file_kind::table); t != 0) {
      if (table++ >= 2) continue;  // two tables are enough
      target = "fuzz_sstable";
      bytes = renumbered_table(bytes, fuzz_table_number);
    } else if (n == "MANIFEST") {
      target = "fuzz_manifest";
    } else {
      continue;
    }
    for (unsigned flags = 0; flags < 4; ++flags) {
      if (target == "fuzz_manifest" && flags > 1) break;
      put(out / target, n + "-flags" + std::to_string(flags), flag(flags) + bytes);
    }
  }
  if (wal.empty()) throw std::runtime_error("the store has no log");
  // A table with two entries.
  std::string tiny;
  {
    table_builder b({}, std::make_unique<lsmt_test::memory_writable_file>(&tiny), fuzz_table_number,
                    seed_store_id);
    b.add(lsmt_test::ikey("key1", 2), "v1");
    b.add(lsmt_test::ikey("key50", 1, value_type::deletion), "");
    b.finish();
    put(out / "fuzz_sstable", "tiny-flags3", flag(3) + tiny);
  }
  {  // A version 3 table: two entries and range deletions.
    std::string ranged;
    table_builder b({}, std::make_unique<lsmt_test::memory_writable_file>(&ranged),
                    fuzz_table_number, seed_store_id);
    b.add(lsmt_test::ikey("key1", 2), "v1");
    b.add(lsmt_test::ikey("key50", 1, value_type::deletion), "");
    b.add_range_deletion("a", "key2", 9);
    b.add_range_deletion("a", "key2", 3);
    b.add_range_deletion("key5", "zzz", 4);
    b.finish();
    put(out / "fuzz_sstable", "ranged-flags1", flag(1) + ranged);
    put(out / "fuzz_sstable", "ranged-mapped-flags3", flag(3) + ranged);
    put(out / "fuzz_footer", "ranged-flags0", flag(0) + ranged);
  }
  {  // A table compressed with fuzz_compressor: compressible values in several blocks.
    std::string packed;
    table_options o;
    o.block_size = 256;
    o.compressor = lsmt_fuzz::shared_fuzz_compressor();
    table_builder b(o, std::make_unique<lsmt_test::memory_writable_file>(&packed),
                    fuzz_table_number, seed_store_id);
    for (int i = 10; i < 40; ++i) {
      b.add(lsmt_test::ikey("key" + std::to_string(i), 2),
            std::string(static_cast<size_t>(20 + i), static_cast<char>('a' + i % 3)));
    }
    b.add_range_deletion("key5", "zzz", 4);
    b.finish();
    put(out / "fuzz_sstable", "compressed-flags1", flag(1) + packed);
    put(out / "fuzz_sstable", "compressed-mapped-flags3", flag(3) + packed);
  }
  table_part_seeds(out, tiny);
  blob_seeds(out);
  wal_seeds(out);
  log_record_seeds(out, wal, wal_number);
  open_store_seeds(out, tmp / "store", names, false);
  // The same writes with blob files: their own edit seeds, and a version 5 MANIFEST.
  lsmt_fuzz::build_small_store(tmp / "blob-store", 42, lsmt_fuzz::small_store_blob_min);
  std::vector<std::string> blob_names;
  for (const auto& e : fs::directory_iterator(tmp / "blob-store")) {
    if (e.path().filename() != "LOCK") blob_names.push_back(e.path().filename());
  }
  std::sort(blob_names.begin(), blob_names.end());
  if (std::none_of(blob_names.begin(), blob_names.end(),
                   [](const std::string& n) { return fs::path(n).extension() == ".blob"; })) {
    throw std::runtime_error("the store with blob files has none");
  }
  open_store_seeds(out, tmp / "blob-store", blob_names, true);
  for (unsigned flags = 0; flags < 2; ++flags) {
    put(out / "fuzz_manifest", "MANIFEST-blobs-flags" + std::to_string(flags),
        flag(flags) + slurp(tmp / "blob-store" / "MANIFEST"));
  }
  fs::remove_all(tmp);
  return 0;
}
