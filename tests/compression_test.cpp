// Tests for the block compression hook (compressor.hpp, table_format.hpp "Compression"): tables
// built with a toy run-length compressor read back equal through both read paths (mapped, and
// pread through the block cache); only blocks that save 1/8 are stored compressed, with the
// compressor's id in their trailer; a reader without the right compressor refuses the table
// with invalid_argument_error; a broken decompressor or a damaged table is corruption_error,
// never a crash or a wrong answer; and a store without a compressor writes the same bytes as
// before compression existed. Needs no compression library.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ikey.hpp"
#include "lsmt.hpp"
#include "lsmt/block_cache.hpp"
#include "lsmt/sstable_builder.hpp"
#include "lsmt/sstable_reader.hpp"
#include "lsmt/table_blocks.hpp"
#include "memory_file.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace compression_test_cpp {

namespace {

namespace d = lsmt::detail;
using lsmt_test::ikey;
using lsmt_test::memory_readable_file;
using lsmt_test::memory_writable_file;
using model = std::map<std::string, std::string, lsmt_test::ikey_less>;

// Run-length encoding: (count 1..255, byte) pairs. Incompressible bytes double in size, so
// blocks of them are stored raw. Counts its calls; `fail` makes decompress() misbehave after
// `good_calls` correct calls (the index block at open is the first).
class rle_compressor : public lsmt::compressor {
 public:
  enum class failure { none, throws, short_output, long_output };
  explicit rle_compressor(uint8_t id = 9, failure fail = failure::none, int good_calls = 0)
      : id_(id), fail_(fail), good_calls_(good_calls) {}

  uint8_t id() const override { return id_; }
  std::string_view name() const override { return "rle"; }

  void compress(std::string_view in, std::string& out) const override {
    compressions.fetch_add(1);
    out.clear();
    for (size_t i = 0; i < in.size();) {
      size_t run = 1;
      while (i + run < in.size() && run < 255 && in[i + run] == in[i]) ++run;
      out.push_back(static_cast<char>(run));
      out.push_back(in[i]);
      i += run;
    }
  }

  void decompress(std::string_view in, size_t raw_size, std::string& out) const override {
    const int call = decompressions.fetch_add(1);
    if (fail_ != failure::none && call >= good_calls_) {
      if (fail_ == failure::throws) throw std::runtime_error("rle: broken on purpose");
      out.assign(fail_ == failure::short_output ? raw_size - 1 : raw_size + 1, 'x');
      return;
    }
    // Checks the whole input before allocating: the output is exactly raw_size bytes.
    if (in.size() % 2 != 0) throw lsmt::corruption_error("rle: odd input");
    size_t total = 0;
    for (size_t i = 0; i < in.size(); i += 2) {
      if (in[i] == 0) throw lsmt::corruption_error("rle: empty run");
      total += static_cast<unsigned char>(in[i]);
    }
    if (total != raw_size) throw lsmt::corruption_error("rle: wrong size");
    out.clear();
    out.reserve(raw_size);
    for (size_t i = 0; i < in.size(); i += 2) {
      out.append(static_cast<unsigned char>(in[i]), in[i + 1]);
    }
  }

  mutable std::atomic<int> compressions{0};
  mutable std::atomic<int> decompressions{0};

 private:
  const uint8_t id_;
  const failure fail_;
  const int good_calls_;
};

// A value that RLE compresses well (long runs), or not at all (no two equal bytes in a row).
template <class Rng>
std::string compressible_value(Rng& rng, size_t len) {
  std::string v;
  while (v.size() < len) v.append(8 + rng() % 40, static_cast<char>('a' + rng() % 4));
  v.resize(len);
  return v;
}
template <class Rng>
std::string incompressible_value(Rng& rng, size_t len) {
  std::string v(len, '\0');
  for (size_t i = 0; i < len; ++i) {
    do {
      v[i] = static_cast<char>(rng());
    } while (i > 0 && v[i] == v[i - 1]);
  }
  return v;
}

d::table_options options_with(std::shared_ptr<const lsmt::compressor> c, size_t block_size = 512) {
  d::table_options o;
  o.block_size = block_size;
  o.compressor = std::move(c);
  return o;
}

std::string build(const model& m, const d::table_options& o,
                  const std::vector<std::pair<std::string, std::string>>& ranges = {}) {
  std::string out;
  d::table_builder b(o, std::make_unique<memory_writable_file>(&out), 7, 1);
  for (const auto& [k, v] : m) b.add(k, v);
  for (const auto& [begin, end] : ranges) b.add_range_deletion(begin, end, 1u << 20);
  b.finish();
  return out;
}

std::shared_ptr<d::table_reader> open_bytes(const std::string& bytes, bool mapped,
                                            std::shared_ptr<const lsmt::compressor> c,
                                            std::shared_ptr<d::block_cache> cache = nullptr) {
  d::table_options o;
  o.compressor = std::move(c);
  return d::table_reader::open(std::make_unique<memory_readable_file>(bytes, mapped), 7, o,
                               std::move(cache));
}

// The layout of a table as written: its footer, and every block with its compression byte.
struct layout {
  d::table_footer footer;
  std::vector<d::block_handle> data;
  std::vector<char> data_ids;
  char filter_id = 0;
  char index_id = 0;
  char range_del_id = 0;
  size_t footer_at = 0;
};

// Reads the layout from the file's bytes alone (the index is decompressed with c if need be).
layout layout_of(const std::string& bytes, const lsmt::compressor* c) {
  layout l;
  const size_t tail = std::min(bytes.size(), d::max_footer_size);
  REQUIRE(d::decode_footer(bytes.data() + bytes.size() - tail, tail, &l.footer) == nullptr);
  l.footer_at = bytes.size() - d::footer_size_of(l.footer);
  const auto id_of = [&](const d::block_handle& h) { return bytes[h.offset + h.size]; };
  l.filter_id = id_of(l.footer.filter);
  l.index_id = id_of(l.footer.index);
  if (l.footer.has_range_dels) l.range_del_id = id_of(l.footer.range_del);
  std::string_view index(bytes.data() + l.footer.index.offset, l.footer.index.size);
  std::string raw;
  if (l.index_id != d::no_compression) {
    REQUIRE(c != nullptr);
    uint32_t raw_size = 0;
    REQUIRE(d::get_varint32(index, &raw_size));
    c->decompress(index, raw_size, raw);
    index = raw;
  }
  d::block_iter it;
  it.reset(index, {7, l.footer.index.offset});
  for (it.seek_to_first(); it.valid(); it.next()) {
    std::string_view v = it.value();
    d::block_handle h;
    REQUIRE(d::get_varint64(v, &h.offset));
    REQUIRE(d::get_varint64(v, &h.size));
    l.data.push_back(h);
    l.data_ids.push_back(id_of(h));
  }
  return l;
}

void check_table(const d::table_reader& t, const model& m) {
  auto it = t.new_iterator();
  auto mi = m.begin();
  for (it->seek_to_first(); it->valid(); it->next(), ++mi) {
    REQUIRE(mi != m.end());
    REQUIRE(it->key() == mi->first);
    REQUIRE(it->value() == mi->second);
  }
  REQUIRE(mi == m.end());
  auto ri = m.rbegin();
  for (it->seek_to_last(); it->valid(); it->prev(), ++ri) {
    REQUIRE(ri != m.rend());
    REQUIRE(it->key() == ri->first);
  }
  REQUIRE(ri == m.rend());
  for (const auto& [k, v] : m) {
    d::value_type type{};
    std::string value;
    uint64_t seq = 0;
    REQUIRE(
        t.get(d::make_lookup_key(d::extract_user_key(k), d::max_sequence), &type, &value, &seq));
    REQUIRE(value == v);
  }
}

// A table of compressible and incompressible values, in runs, so some blocks compress.
model mixed_model(std::mt19937_64& rng, int n) {
  model m;
  for (int i = 0; i < n; ++i) {
    const bool compressible = (i / 20) % 2 == 0;
    m.emplace(ikey(lsmt_test::key_of(i), 1 + static_cast<uint64_t>(i)),
              compressible ? compressible_value(rng, 10 + rng() % 200)
                           : incompressible_value(rng, 10 + rng() % 200));
  }
  return m;
}

}  // namespace

TEST_CASE("compression: blocks that save 1/8 are compressed, the rest stored raw",
          "[compression]") {
  std::mt19937_64 rng(1);
  const model m = mixed_model(rng, 600);
  const auto rle = std::make_shared<rle_compressor>();
  const std::string bytes =
      build(m, options_with(rle), {{"key-00000005", "key-00000009"}, {"zz", "zzzzzz"}});
  const layout l = layout_of(bytes, rle.get());
  // The trailer byte holds the id: the index always, the filter never, data blocks when they
  // compress (the compressible runs), else 0.
  CHECK(l.index_id == 9);
  CHECK(l.filter_id == d::no_compression);
  REQUIRE(l.footer.has_range_dels);
  CHECK(l.range_del_id == d::no_compression);  // two short deletions: RLE does not save 1/8
  size_t compressed = 0;
  for (const char id : l.data_ids) {
    REQUIRE((id == 9 || id == d::no_compression));
    compressed += id == 9;
  }
  CHECK(compressed > l.data.size() / 4);
  CHECK(compressed < l.data.size() * 3 / 4);
  CHECK(bytes.size() < build(m, options_with(nullptr)).size());

  for (const bool mapped : {true, false}) {
    for (const bool cached : {true, false}) {
      auto t = open_bytes(bytes, mapped, rle,
                          cached ? std::make_shared<d::block_cache>(1 << 20) : nullptr);
      check_table(*t, m);
      REQUIRE(t->range_deletions() != nullptr);
      CHECK(t->range_deletions()->covering("key-00000006", d::max_sequence) == 1u << 20);
    }
  }
}

TEST_CASE("compression: a compressed block is decompressed once per cache miss", "[compression]") {
  std::mt19937_64 rng(2);
  model m;
  for (int i = 0; i < 200; ++i) m.emplace(ikey(lsmt_test::key_of(i)), compressible_value(rng, 100));
  const auto rle = std::make_shared<rle_compressor>();
  const std::string bytes = build(m, options_with(rle));
  for (const bool mapped : {true, false}) {
    auto t = open_bytes(bytes, mapped, rle, std::make_shared<d::block_cache>(1 << 20));
    const int before = rle->decompressions.load();
    check_table(*t, m);
    const int first = rle->decompressions.load() - before;
    CHECK(first == static_cast<int>(layout_of(bytes, rle.get()).data.size()));
    check_table(*t, m);  // all from the cache now, mapped file or not
    CHECK(rle->decompressions.load() - before == first + 1);  // + layout_of's index
  }
}

TEST_CASE("compression: a reader without the table's compressor refuses it by id",
          "[compression]") {
  std::mt19937_64 rng(3);
  const model m = mixed_model(rng, 100);
  const std::string bytes = build(m, options_with(std::make_shared<rle_compressor>()));
  for (const bool mapped : {true, false}) {
    // The index block is compressed, so opening fails already.
    REQUIRE_THROWS_MATCHES(
        open_bytes(bytes, mapped, nullptr), lsmt::invalid_argument_error,
        Catch::Matchers::Message("lsmt: table 000007.sst: block compressed with compressor id 9, "
                                 "but options.compressor is none"));
    REQUIRE_THROWS_MATCHES(
        open_bytes(bytes, mapped, std::make_shared<rle_compressor>(3)),
        lsmt::invalid_argument_error,
        Catch::Matchers::Message("lsmt: table 000007.sst: block compressed with compressor id 9, "
                                 "but options.compressor is id 3 \"rle\""));
  }
  // A table written without a compressor reads with or without one.
  const std::string plain = build(m, options_with(nullptr));
  check_table(*open_bytes(plain, true, std::make_shared<rle_compressor>()), m);
  check_table(*open_bytes(plain, false, nullptr), m);
}

TEST_CASE("compression: a decompressor that throws or returns the wrong size is corruption",
          "[compression]") {
  using failure = rle_compressor::failure;
  std::mt19937_64 rng(4);
  model m;
  for (int i = 0; i < 300; ++i) m.emplace(ikey(lsmt_test::key_of(i)), compressible_value(rng, 90));
  const std::string bytes = build(m, options_with(std::make_shared<rle_compressor>()));
  for (const failure f : {failure::throws, failure::short_output, failure::long_output}) {
    for (const bool mapped : {true, false}) {
      CAPTURE(static_cast<int>(f), mapped);
      // At open (the index block), and at the first read of a data block.
      REQUIRE_THROWS_AS(open_bytes(bytes, mapped, std::make_shared<rle_compressor>(9, f, 0)),
                        lsmt::corruption_error);
      auto t = open_bytes(bytes, mapped, std::make_shared<rle_compressor>(9, f, 1),
                          std::make_shared<d::block_cache>(1 << 20));
      d::value_type type{};
      std::string value;
      uint64_t seq = 0;
      REQUIRE_THROWS_AS(
          t->get(d::make_lookup_key(lsmt_test::key_of(5), d::max_sequence), &type, &value, &seq),
          lsmt::corruption_error);
      auto it = t->new_iterator();
      REQUIRE_THROWS_AS(it->seek_to_first(), lsmt::corruption_error);
    }
  }
}

namespace {

// Reads everything in a damaged table. Unless `refreshed`, every read must give the model's
// answer or throw corruption_error. If the damage was given valid checksums (`refreshed`), other
// answers are legitimate, and so is invalid_argument_error (a compression byte turned into
// another id), but nothing else: no other exception, crash or sanitizer report.
void read_damaged(const std::string& bytes, const model& m, bool mapped, bool refreshed,
                  const std::shared_ptr<const lsmt::compressor>& c) {
  const auto attempt = [&](auto&& f) {
    try {
      f();
    } catch (const lsmt::corruption_error&) {
    } catch (const lsmt::invalid_argument_error&) {
      if (!refreshed) throw;
    }
  };
  std::shared_ptr<d::table_reader> t;
  attempt([&] { t = open_bytes(bytes, mapped, c, std::make_shared<d::block_cache>(1 << 16)); });
  if (!t) return;
  for (const auto& [k, v] : m) {
    attempt([&, &k = k, &v = v] {
      d::value_type type{};
      std::string value;
      uint64_t seq = 0;
      const bool found =
          t->get(d::make_lookup_key(d::extract_user_key(k), d::max_sequence), &type, &value, &seq);
      if (!refreshed) REQUIRE((found && value == v));
    });
  }
  attempt([&] {
    auto it = t->new_iterator();
    auto mi = m.begin();
    for (it->seek_to_first(); it->valid(); it->next()) {
      if (refreshed) continue;
      REQUIRE(mi != m.end());
      REQUIRE(it->key() == mi->first);
      REQUIRE(it->value() == mi->second);
      ++mi;
    }
    if (!refreshed) REQUIRE(mi == m.end());
  });
}

// Recomputes the checksums of the blocks and the footer where the good table had them, so the
// damage reaches the decompressor and the decoders behind it.
void refresh_checksums(std::string& bytes, const layout& l) {
  std::vector<d::block_handle> blocks = l.data;
  blocks.push_back(l.footer.filter);
  blocks.push_back(l.footer.index);
  if (l.footer.has_range_dels) blocks.push_back(l.footer.range_del);
  for (const d::block_handle& h : blocks) {
    const std::string_view stored(bytes.data() + h.offset, h.size);
    d::encode_fixed32(bytes.data() + h.offset + h.size + 1,
                      d::block_checksum(stored, bytes[h.offset + h.size]));
  }
  const size_t crc_at = bytes.size() - 12;  // the footer's CRC covers all of it before
  d::encode_fixed32(bytes.data() + crc_at, d::crc32c::mask(d::crc32c::value(
                                               bytes.data() + l.footer_at, crc_at - l.footer_at)));
}

}  // namespace

TEST_CASE("compression: every flipped byte of a compressed table is an error, never a wrong answer",
          "[compression]") {
  std::mt19937_64 rng(5);
  model m;
  for (int i = 0; i < 60; ++i) {
    m.emplace(ikey(lsmt_test::key_of(i), 1 + static_cast<uint64_t>(i)),
              i % 3 == 0 ? incompressible_value(rng, 20) : compressible_value(rng, 60));
  }
  const auto rle = std::make_shared<rle_compressor>();
  const std::string good = build(m, options_with(rle, 256), {{"key-00000070", "key-00000080"}});
  REQUIRE(good.size() < 8192);
  const layout l = layout_of(good, rle.get());
  REQUIRE(std::count(l.data_ids.begin(), l.data_ids.end(), 9) >= 2);
  for (const bool mapped : {true, false}) {
    read_damaged(good, m, mapped, false, rle);
    for (size_t i = 0; i < good.size(); ++i) {
      CAPTURE(mapped, i);
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
      read_damaged(bad, m, mapped, false, rle);
      // The same damage behind valid checksums: hostile bytes for the decompressor.
      refresh_checksums(bad, l);
      read_damaged(bad, m, mapped, true, rle);
    }
    for (size_t len = 0; len < good.size(); len += 7) {
      read_damaged(good.substr(0, len), m, mapped, false, rle);
    }
  }
}

namespace {

// The table the lsmt before compression wrote for these entries (2,000 keys, 1 KiB blocks),
// with or without a range deletion: its size and crc32c, recorded from that version.
std::string golden_table(const d::table_options& o, bool range_dels) {
  std::string out;
  d::table_builder b(o, std::make_unique<memory_writable_file>(&out), 7, 1);
  for (int i = 0; i < 2000; ++i) {
    char k[32];
    std::snprintf(k, sizeof k, "key-%06d", i * 7);
    b.add(ikey(k, static_cast<uint64_t>(i + 1)),
          std::string(static_cast<size_t>(i % 50), static_cast<char>('a' + i % 26)));
  }
  if (range_dels) b.add_range_deletion("key-000100", "key-000200", 5000);
  b.finish();
  return out;
}

}  // namespace

TEST_CASE("compression: without a compressor, tables are byte for byte as before",
          "[compression]") {
  d::table_options o;
  o.block_size = 1024;
  o.restart_interval = 16;  // the interval these golden bytes were written with
  const std::string plain = golden_table(o, false);
  CHECK(plain.size() == 81972);
  CHECK(d::crc32c::value(plain.data(), plain.size()) == 0x974deea9u);
  const std::string ranged = golden_table(o, true);
  CHECK(ranged.size() == 82032);
  CHECK(d::crc32c::value(ranged.data(), ranged.size()) == 0x3f059b10u);
  const layout l = layout_of(ranged, nullptr);
  CHECK(l.index_id == d::no_compression);
  CHECK(l.filter_id == d::no_compression);
  CHECK(l.range_del_id == d::no_compression);
  for (const char id : l.data_ids) CHECK(id == d::no_compression);
  // The same entries with a compressor: smaller, and other bytes.
  o.compressor = std::make_shared<rle_compressor>();
  CHECK(golden_table(o, true).size() < ranged.size());
}

TEST_CASE("compression: compressor id 0 is refused", "[compression]") {
  const auto zero = std::make_shared<rle_compressor>(0);
  std::string out;
  REQUIRE_THROWS_AS(
      d::table_builder(options_with(zero), std::make_unique<memory_writable_file>(&out), 7, 1),
      lsmt::invalid_argument_error);
  lsmt_test::temp_dir dir;
  lsmt::options o;
  o.compressor = zero;
  REQUIRE_THROWS_AS(lsmt_test::str_db(dir.path() / "db", o), lsmt::invalid_argument_error);
}

TEST_CASE("compression: a store round-trips through flushes and compactions", "[compression]") {
  LSMT_TEST_RNG(rng);
  lsmt_test::temp_dir dir;
  const auto path = dir.path() / "db";
  const auto rle = std::make_shared<rle_compressor>();
  std::map<std::string, std::string> want;
  const auto check = [&](const lsmt_test::str_db& db) {
    CHECK(lsmt_test::dump(db) == want);
    for (int i = 0; i < 3000; i += 37) {
      const std::string k = lsmt_test::key_of(i);
      const auto it = want.find(k);
      CHECK(db.get(k) == (it == want.end() ? std::nullopt : lsmt_test::opt_str(it->second)));
    }
  };
  for (const bool mmap : {true, false}) {
    lsmt::options o;
    o.compressor = rle;
    o.block_size = 1024;
    o.memtable_max_bytes = 64 << 10;  // many flushes
    o.use_mmap_reads = mmap;
    o.block_cache_bytes = mmap ? 0 : 1 << 20;  // mapped: compressed blocks without a cache too
    {
      lsmt_test::str_db db(path, o);
      for (int round = 0; round < 3; ++round) {
        for (int n = 0; n < 1500; ++n) {
          const std::string k = lsmt_test::key_of(static_cast<int>(rng() % 3000));
          std::string v = rng() % 2 == 0 ? compressible_value(rng, rng() % 300)
                                         : incompressible_value(rng, rng() % 300);
          db.put(k, v);
          want[k] = std::move(v);
          if (rng() % 50 == 0) {
            db.erase(k);
            want.erase(k);
          }
        }
        const std::string b = lsmt_test::key_of(static_cast<int>(rng() % 3000));
        const std::string e = lsmt_test::key_of(static_cast<int>(rng() % 3000));
        db.delete_range(b, e);
        want.erase(want.lower_bound(b), b < e ? want.lower_bound(e) : want.lower_bound(b));
        db.flush();
        check(db);
      }
      db.compact();
      check(db);
      CHECK(db.verify().ok());
    }
    lsmt_test::str_db db(path, o);
    check(db);
  }
  CHECK(rle->compressions.load() > 0);
  CHECK(rle->decompressions.load() > 0);

  // Its tables name compressor 9: opening without it, or with another id, fails at open.
  lsmt::options none;
  REQUIRE_THROWS_AS(lsmt_test::str_db(path, none), lsmt::invalid_argument_error);
  try {
    lsmt_test::str_db db(path, none);
  } catch (const lsmt::invalid_argument_error& e) {
    CHECK_THAT(e.what(), Catch::Matchers::Contains("block compressed with compressor id 9, but "
                                                   "options.compressor is none"));
    CHECK_THAT(e.what(), Catch::Matchers::Contains(".sst"));
  }
  lsmt::options other;
  other.compressor = std::make_shared<rle_compressor>(3);
  REQUIRE_THROWS_WITH(lsmt_test::str_db(path, other),
                      Catch::Matchers::Contains("options.compressor is id 3 \"rle\""));
  // Repair without the compressor refuses too, and moves no table to lost/; with it, repair
  // rebuilds the store.
  REQUIRE_THROWS_AS(lsmt::repair(path, none), lsmt::invalid_argument_error);
  CHECK(!std::filesystem::exists(path / "lost"));
  lsmt::options right;
  right.compressor = rle;
  CHECK(lsmt::repair(path, right).lost.empty());
  // Nothing was lost: the right compressor still reads it all.
  lsmt_test::str_db db(path, right);
  check(db);
  CHECK(db.verify().ok());
}

TEST_CASE(
    "compression: a block claiming more than 64 MiB, or another id than its index, is "
    "corruption",
    "[compression]") {
  const auto stored_block = [](std::string_view stored, char id) {
    std::string bytes(stored);
    bytes.push_back(id);
    char crc[4];
    d::encode_fixed32(crc, d::block_checksum(stored, id));
    bytes.append(crc, 4);
    return bytes;
  };
  for (const bool mapped : {true, false}) {
    CAPTURE(mapped);
    const auto rle = std::make_shared<rle_compressor>();
    // A raw size just past the bound, then a valid run: refused before the decompressor runs,
    // so nothing allocates the claimed size.
    std::string stored;
    d::put_varint32(stored, d::max_compressed_block_size + 1);
    stored += std::string("\x02x", 2);
    const std::string bytes = stored_block(stored, 9);
    d::table_blocks blocks(std::make_unique<memory_readable_file>(bytes, mapped), 7, rle);
    const d::block_handle h{0, stored.size()};
    REQUIRE_THROWS_AS(blocks.read_shared(h, nullptr, false), lsmt::corruption_error);
    REQUIRE_THROWS_WITH(blocks.read_shared(h, nullptr, false),
                        Catch::Matchers::Contains("more than a compressed block holds"));
    std::string storage;
    REQUIRE_THROWS_AS(blocks.read_contents(h, &storage), lsmt::corruption_error);
    CHECK(rle->decompressions.load() == 0);

    // A small claim reads.
    std::string at_bound;
    d::put_varint32(at_bound, 2);
    at_bound += std::string("\x02x", 2);
    const std::string ok = stored_block(at_bound, 9);
    d::table_blocks ok_blocks(std::make_unique<memory_readable_file>(ok, mapped), 7, rle);
    CHECK(*ok_blocks.read_shared({0, at_bound.size()}, nullptr, false) == "xx");

    // Another id than the options': at open (index) the options are wrong; a data block of a
    // table whose index opened is damaged.
    const std::string other = stored_block(at_bound, 8);
    d::table_blocks other_blocks(std::make_unique<memory_readable_file>(other, mapped), 7, rle);
    REQUIRE_THROWS_AS(other_blocks.read_contents({0, at_bound.size()}, &storage),
                      lsmt::invalid_argument_error);
    REQUIRE_THROWS_AS(other_blocks.read_shared({0, at_bound.size()}, nullptr, false),
                      lsmt::corruption_error);
    REQUIRE_THROWS_WITH(other_blocks.read_shared({0, at_bound.size()}, nullptr, false),
                        Catch::Matchers::Contains("names compressor id 8"));
  }
}

TEST_CASE("compression: the builder stores a block over 64 MiB as it is", "[compression]") {
  const auto rle = std::make_shared<rle_compressor>();
  model m;
  m.emplace(ikey(lsmt_test::key_of(1)), std::string(d::max_compressed_block_size + 1, 'a'));
  m.emplace(ikey(lsmt_test::key_of(2)), std::string(1000, 'b'));
  const std::string bytes = build(m, options_with(rle));
  const layout l = layout_of(bytes, rle.get());
  REQUIRE(l.data.size() == 2);
  CHECK(l.data_ids[0] == d::no_compression);  // the huge block: raw, though it would shrink
  CHECK(l.data_ids[1] == 9);
  check_table(*open_bytes(bytes, false, rle), m);
}

}  // namespace compression_test_cpp
