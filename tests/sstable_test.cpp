// Tests for block.hpp, sstable_builder.hpp and sstable_reader.hpp. A std::map of internal keys is
// the model; tables are built into memory and read back through a mapped-style file (views into
// its buffer) and a copying one (through the block cache), so the two read paths are covered.
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ikey.hpp"
#include "lsmt/block.hpp"
#include "lsmt/block_cache.hpp"
#include "lsmt/sstable_builder.hpp"
#include "lsmt/sstable_reader.hpp"
#include "memory_file.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"

namespace sstable_test_cpp {

namespace {

using lsmt::corruption_error;
using lsmt::detail::block_builder;
using lsmt::detail::block_cache;
using lsmt::detail::block_iter;
using lsmt::detail::compare_internal_keys;
using lsmt::detail::extract_user_key;
using lsmt::detail::internal_iterator;
using lsmt::detail::make_lookup_key;
using lsmt::detail::table_builder;
using lsmt::detail::table_options;
using lsmt::detail::table_reader;
using lsmt::detail::value_type;

using lsmt_test::ikey;
using model = std::map<std::string, std::string, lsmt_test::ikey_less>;

using lsmt_test::memory_readable_file;  // mapped == true: views into the buffer, like mmap
using lsmt_test::memory_writable_file;

std::string build_table(const model& m, const table_options& opts = {}) {
  std::string out;
  table_builder b(opts, std::make_unique<memory_writable_file>(&out), 7, 1);
  for (const auto& [k, v] : m) b.add(k, v);
  b.finish();
  REQUIRE(b.entry_count() == m.size());
  REQUIRE(b.file_size() == out.size());
  if (!m.empty()) {
    REQUIRE(b.smallest_key() == m.begin()->first);
    REQUIRE(b.largest_key() == m.rbegin()->first);
  }
  return out;
}

std::shared_ptr<table_reader> open_table(const std::string& bytes, bool mapped,
                                         std::shared_ptr<block_cache> cache = nullptr) {
  return table_reader::open(std::make_unique<memory_readable_file>(bytes, mapped), 7, {},
                            std::move(cache));
}

// What get(user_key, snapshot) must return according to the model.
struct expected_entry {
  bool found = false;
  value_type type = value_type::value;
  uint64_t seq = 0;
  std::string value;
};

expected_entry model_get(const model& m, std::string_view user_key, uint64_t snapshot) {
  expected_entry e;
  auto it = m.lower_bound(make_lookup_key(user_key, snapshot));
  if (it == m.end() || extract_user_key(it->first) != user_key) return e;
  e.found = true;
  e.type = lsmt::detail::extract_type(it->first);
  e.seq = lsmt::detail::extract_sequence(it->first);
  if (e.type == value_type::value) e.value = it->second;
  return e;
}

void check_get(const table_reader& t, const model& m, std::string_view user_key,
               uint64_t snapshot) {
  const expected_entry want = model_get(m, user_key, snapshot);
  value_type type{};
  uint64_t seq = 0;
  std::string value;
  // Called outside REQUIRE so that a corruption_error reaches the caller.
  const bool found = t.get(make_lookup_key(user_key, snapshot), &type, &value, &seq);
  REQUIRE(found == want.found);
  if (!found) return;
  REQUIRE(type == want.type);
  REQUIRE(seq == want.seq);
  if (type == value_type::value) REQUIRE(value == want.value);
}

// A walk from the first entry to the end must give the model's entries in order.
void check_forward(internal_iterator& it, const model& m) {
  auto mi = m.begin();
  for (it.seek_to_first(); it.valid(); it.next(), ++mi) {
    REQUIRE(mi != m.end());
    REQUIRE(it.key() == mi->first);
    REQUIRE(it.value() == mi->second);
  }
  REQUIRE(mi == m.end());
}

void check_iteration(const table_reader& t, const model& m) {
  auto it = t.new_iterator();
  check_forward(*it, m);
  auto ri = m.rbegin();
  for (it->seek_to_last(); it->valid(); it->prev(), ++ri) {
    REQUIRE(ri != m.rend());
    REQUIRE(it->key() == ri->first);
    REQUIRE(it->value() == ri->second);
  }
  REQUIRE(ri == m.rend());
}

// Seeks to target, then walks a few steps each way, comparing with the model.
void check_seek(internal_iterator& it, const model& m, const std::string& target) {
  it.seek(target);
  auto mi = m.lower_bound(target);
  for (int i = 0; i < 3 && mi != m.end(); ++i, ++mi) {
    REQUIRE(it.valid());
    REQUIRE(it.key() == mi->first);
    REQUIRE(it.value() == mi->second);
    it.next();
  }
  if (mi == m.end()) {
    REQUIRE(!it.valid());
    return;
  }
  it.seek(target);
  mi = m.lower_bound(target);
  for (int i = 0; i < 3 && it.valid() && mi != m.begin(); ++i) {
    it.prev();
    --mi;
    REQUIRE(it.valid());
    REQUIRE(it.key() == mi->first);
  }
}

std::string random_user_key(std::mt19937_64& rng, size_t max_len) {
  // Bytes from a small alphabet including NUL and 0xFF: shared prefixes and edge bytes abound.
  static const char alphabet[] = {'\0', '\x01', 'a', 'b', '\x7f', '\x80', '\xfe', '\xff'};
  std::string k(rng() % (max_len + 1), '\0');
  for (char& c : k) c = alphabet[rng() % 8];
  return k;
}

// n entries over n/3 user keys: several versions of most keys, some of them deletions.
model random_model(std::mt19937_64& rng, size_t n, size_t max_key_len) {
  model m;
  std::vector<std::string> users;
  for (size_t i = 0; i < n / 3 + 1; ++i) users.push_back(random_user_key(rng, max_key_len));
  for (uint64_t seq = 1; m.size() < n; ++seq) {
    const std::string& u = users[rng() % users.size()];
    const value_type t = rng() % 5 == 0 ? value_type::deletion : value_type::value;
    std::string v = t == value_type::value ? "v" + std::to_string(seq) : "";
    if (t == value_type::value && rng() % 10 == 0) v.append(rng() % 300, 'x');
    m.emplace(ikey(u, seq, t), std::move(v));
  }
  return m;
}

}  // namespace

TEST_CASE("sstable: block build, iterate, seek, prev", "[sstable]") {
  for (int interval : {1, 2, 16}) {
    block_builder b(interval);
    model m;
    for (int i = 0; i < 200; ++i) {
      m.emplace(ikey("key" + std::to_string(1000 + i), 5, value_type::value), std::to_string(i));
    }
    for (const auto& [k, v] : m) b.add(k, v);
    const std::string contents(b.finish());
    block_iter it;
    it.reset(contents, {});
    auto mi = m.begin();
    for (it.seek_to_first(); it.valid(); it.next(), ++mi) REQUIRE(it.key() == mi->first);
    REQUIRE(mi == m.end());
    auto ri = m.rbegin();
    for (it.seek_to_last(); it.valid(); it.prev(), ++ri) REQUIRE(it.value() == ri->second);
    REQUIRE(ri == m.rend());
    for (const auto& [k, v] : m) check_seek(it, m, k);
    check_seek(it, m, ikey("key", 1, value_type::value));
    check_seek(it, m, ikey("zzz", 1, value_type::value));
  }
  block_builder empty(16);
  const std::string contents(empty.finish());
  block_iter it;
  it.reset(contents, {});
  it.seek_to_first();
  REQUIRE(!it.valid());
  it.seek_to_last();
  REQUIRE(!it.valid());
  it.seek(ikey("a", 1, value_type::value));
  REQUIRE(!it.valid());
}

TEST_CASE("sstable: random walks over a block, both directions, match the model", "[sstable]") {
  // prev() serves steps back inside a restart group from the group it decoded last; walks that
  // turn often, seek, and move to another block must still see exactly the model's entries.
  std::mt19937_64 rng(812);
  for (int interval : {1, 2, 3, 16}) {
    model blocks[2];
    std::string contents[2];
    for (int b = 0; b < 2; ++b) {
      // Long shared prefixes and keys past key_buffer's 64 inline bytes.
      while (blocks[b].size() < 300) {
        std::string user = random_user_key(rng, 6);
        if (rng() % 3 == 0) user = std::string(rng() % 90, 'p') + user;
        blocks[b].emplace(ikey(user, rng() % 1000 + 1, value_type::value),
                          std::string(rng() % 20, 'v'));
      }
      block_builder builder(interval);
      for (const auto& [k, v] : blocks[b]) builder.add(k, v);
      contents[b] = std::string(builder.finish());
    }
    block_iter it;
    int current = 0;
    it.reset(contents[0], {});
    const model* m = &blocks[0];
    auto mi = m->end();  // end() == invalid
    for (int step = 0; step < 20000; ++step) {
      const auto op = rng() % 16;
      if (op == 0) {
        current ^= 1;
        it.reset(contents[current], {});
        m = &blocks[current];
        mi = m->end();
      } else if (op == 1) {
        it.seek_to_first();
        mi = m->begin();
      } else if (op == 2) {
        it.seek_to_last();
        mi = std::prev(m->end());
      } else if (op == 3) {
        auto target = std::next(m->begin(), static_cast<long>(rng() % m->size()));
        it.seek(target->first);
        mi = target;
      } else if (mi != m->end() && op < 9) {
        it.next();
        ++mi;
      } else if (mi != m->end()) {
        it.prev();
        mi = mi == m->begin() ? m->end() : std::prev(mi);
      }
      REQUIRE(it.valid() == (mi != m->end()));
      if (mi != m->end()) {
        REQUIRE(it.key() == mi->first);
        REQUIRE(it.value() == mi->second);
      }
    }
  }
}

TEST_CASE("sstable: malformed block restart arrays are rejected", "[sstable]") {
  block_iter it;
  REQUIRE_THROWS_AS(it.reset("", {}), corruption_error);
  REQUIRE_THROWS_AS(it.reset(std::string(4, '\0'), {}), corruption_error);          // 0 restarts
  REQUIRE_THROWS_AS(it.reset(std::string("\x05\0\0\0", 4), {}), corruption_error);  // too many
  const std::string far("\xff\0\0\0\x01\0\0\0", 8);                                 // offset 255
  it.reset(far, {});
  REQUIRE_THROWS_AS(it.seek_to_first(), corruption_error);
}

TEST_CASE("sstable: damaged block contents only ever throw corruption_error", "[sstable]") {
  // Blocks have no checksum of their own (the table's trailer has it), so the decoder alone must
  // survive arbitrary bytes.
  block_builder b(4);
  for (int i = 0; i < 30; ++i)
    b.add(ikey("key" + std::to_string(100 + i), 9, value_type::value), "v");
  const std::string good(b.finish());
  std::mt19937_64 rng(3);
  for (int round = 0; round < 20000; ++round) {
    std::string bad = good;
    for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips) {
      bad[rng() % bad.size()] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) bad.resize(rng() % bad.size());
    block_iter it;
    try {
      it.reset(bad, {});
      int steps = 0;
      for (it.seek_to_first(); it.valid() && steps < 1000; it.next()) ++steps;
      REQUIRE(steps < 1000);
      for (it.seek_to_last(); it.valid() && steps < 2000; it.prev()) ++steps;
      REQUIRE(steps < 2000);
      it.seek(ikey("key115", 9, value_type::value));
      if (it.valid()) it.prev();
    } catch (const corruption_error&) {
    }
  }
}

TEST_CASE("sstable: empty table", "[sstable]") {
  const std::string bytes = build_table({});
  for (bool mapped : {true, false}) {
    auto t = open_table(bytes, mapped);
    check_get(*t, {}, "a", 10);
    auto it = t->new_iterator();
    it->seek_to_first();
    REQUIRE(!it->valid());
    it->seek_to_last();
    REQUIRE(!it->valid());
    it->seek(make_lookup_key("a", 1));
    REQUIRE(!it->valid());
  }
}

TEST_CASE("sstable: single entry", "[sstable]") {
  model m{{ikey("k", 3, value_type::value), "v"}};
  const std::string bytes = build_table(m);
  for (bool mapped : {true, false}) {
    auto t = open_table(bytes, mapped);
    REQUIRE(t->file_size() == bytes.size());
    REQUIRE(t->file_number() == 7);
    REQUIRE(t->may_contain("k"));
    for (uint64_t snap : {1, 2, 3, 4, 100}) check_get(*t, m, "k", snap);
    check_get(*t, m, "j", 100);
    check_get(*t, m, "l", 100);
    check_get(*t, m, "", 100);
    check_iteration(*t, m);
  }
}

TEST_CASE("sstable: keys with NUL and 0xFF bytes, empty user key", "[sstable]") {
  model m;
  uint64_t seq = 1;
  for (std::string u :
       {std::string(), std::string(1, '\0'), std::string(2, '\0'), std::string("a\0b", 3),
        std::string("\xff"), std::string("\xff\xff"), std::string("\xff\xff\xff\0", 4)}) {
    m.emplace(ikey(u, seq++, value_type::value), "v" + u);
    m.emplace(ikey(u, seq++, value_type::deletion), "");
  }
  table_options opts;
  opts.block_size = 64;  // several blocks, so separators between these keys get used
  const std::string bytes = build_table(m, opts);
  for (bool mapped : {true, false}) {
    auto t = open_table(bytes, mapped);
    for (const auto& [k, v] : m) {
      for (uint64_t snap = 0; snap <= seq; ++snap) check_get(*t, m, extract_user_key(k), snap);
    }
    check_get(*t, m, std::string(3, '\0'), seq);
    check_get(*t, m, std::string(4, '\xff'), seq);
    check_iteration(*t, m);
    auto it = t->new_iterator();
    for (const auto& [k, v] : m) check_seek(*it, m, k);
  }
}

TEST_CASE("sstable: 100k random entries with versions, snapshots, seeks", "[sstable]") {
  std::mt19937_64 rng(42);
  const model m = random_model(rng, 100000, 12);
  const std::string bytes = build_table(m);
  const uint64_t max_seq = 400000;
  for (bool mapped : {true, false}) {
    auto cache = std::make_shared<block_cache>(mapped ? 0 : 1 << 20);
    auto t = open_table(bytes, mapped, cache);
    for (int i = 0; i < 20000; ++i) {
      const std::string u =
          i % 2 == 0 ? std::string(extract_user_key(std::next(m.begin(), rng() % 1000)->first))
                     : random_user_key(rng, 12);
      check_get(*t, m, u, rng() % max_seq);
    }
    // Every present key at its exact versions.
    size_t n = 0;
    for (const auto& [k, v] : m) {
      if (n++ % 7 != 0) continue;
      const uint64_t s = lsmt::detail::extract_sequence(k);
      check_get(*t, m, extract_user_key(k), s);
      check_get(*t, m, extract_user_key(k), s - 1);
    }
    check_iteration(*t, m);
    auto it = t->new_iterator();
    for (int i = 0; i < 2000; ++i) {
      check_seek(*it, m, make_lookup_key(random_user_key(rng, 12), rng() % max_seq));
    }
    if (!mapped) REQUIRE(cache->usage() > 0);
  }
}

// Block search uses 8-byte "fences" taken after the prefix the index keys share. Keys here share
// a 10-byte prefix, then come in groups whose next 8 bytes are equal (many blocks with equal
// fences, so the search must compare index keys), plus keys that sort before and after the
// shared prefix, and short keys that end inside it.
TEST_CASE("sstable: block search with equal fences and keys outside the shared prefix",
          "[sstable]") {
  std::mt19937_64 rng(11);
  const std::string prefix = "tenant0001";
  std::vector<std::string> users;
  for (int group = 0; group < 40; ++group) {
    char window[9];
    std::snprintf(window, sizeof(window), "g%07d", group * 3);
    for (int j = 0; j < 60; ++j) users.push_back(prefix + window + "/item" + std::to_string(j));
  }
  users.push_back("tenant");      // ends inside the prefix
  users.push_back("tenant0001");  // the prefix itself
  users.push_back("a-before");
  users.push_back("z-after");
  model m;
  uint64_t seq = 1;
  for (const std::string& u : users) {
    m.emplace(ikey(u, seq, value_type::value), std::string(200, static_cast<char>('a' + seq % 26)));
    ++seq;
  }
  table_options opts;
  opts.block_size = 1024;  // many blocks: 2,404 entries of ~240 bytes
  const std::string bytes = build_table(m, opts);
  for (bool mapped : {true, false}) {
    auto t = open_table(bytes, mapped, std::make_shared<block_cache>(1 << 20));
    for (const std::string& u : users) check_get(*t, m, u, seq);
    // Absent keys in every gap, including inside a group and between groups.
    for (int i = 0; i < 3000; ++i) {
      std::string u = users[rng() % users.size()];
      if (rng() % 2 == 0) {
        u.push_back(static_cast<char>(rng() % 256));
      } else if (!u.empty()) {
        u.pop_back();
      }
      check_get(*t, m, u, seq);
      auto it = t->new_iterator();
      check_seek(*it, m, make_lookup_key(u, seq));
    }
    for (const std::string& u : {std::string(), std::string("t"), std::string("tenant0001g"),
                                 std::string("tenant0002"), std::string("\xff\xff")}) {
      check_get(*t, m, u, seq);
      auto it = t->new_iterator();
      check_seek(*it, m, make_lookup_key(u, seq));
    }
    check_iteration(*t, m);
  }
}

// A table keeps the index keys only of blocks whose fences tie (table_index.hpp). Here key i has
// 1 + i % 4 versions of 400 bytes and a block holds three entries, so blocks end inside a key's
// versions: their index key is that whole key, alone with its fence or tied with the next
// block's. A read at an older snapshot sorts after such an index key and must go on to the next
// block.
TEST_CASE("sstable: a key's versions across blocks, read at every snapshot", "[sstable]") {
  model m;
  std::vector<std::string> users;
  std::vector<uint64_t> firsts;  // user i's versions are at firsts[i] to firsts[i + 1] - 1
  uint64_t seq = 1;
  for (int i = 0; i < 300; ++i) {
    char u[16];
    std::snprintf(u, sizeof(u), "user%08d", i * 7);
    users.emplace_back(u);
    firsts.push_back(seq);
    for (int v = 0; v <= i % 4; ++v) {
      m.emplace(ikey(u, seq, value_type::value), std::string(400, static_cast<char>('a' + v)));
      ++seq;
    }
  }
  firsts.push_back(seq);
  table_options opts;
  opts.block_size = 1024;
  const std::string bytes = build_table(m, opts);
  for (bool mapped : {true, false}) {
    auto t = open_table(bytes, mapped, std::make_shared<block_cache>(1 << 20));
    auto it = t->new_iterator();
    for (size_t i = 0; i < users.size(); ++i) {
      for (uint64_t s = firsts[i] - 1; s < firsts[i + 1]; ++s) {
        check_get(*t, m, users[i], s);
        check_seek(*it, m, make_lookup_key(users[i], s));
      }
      check_get(*t, m, users[i], seq);
    }
    check_iteration(*t, m);
  }
}

TEST_CASE("sstable: values bigger than a block", "[sstable]") {
  std::mt19937_64 rng(7);
  model m;
  for (int i = 0; i < 6; ++i) {
    std::string big(1 << 20, '\0');
    for (char& c : big) c = static_cast<char>(rng());
    m.emplace(ikey("big" + std::to_string(i), 10, value_type::value), std::move(big));
    m.emplace(ikey("small" + std::to_string(i), 11, value_type::value), "s");
  }
  const std::string bytes = build_table(m);
  for (bool mapped : {true, false}) {
    auto t = open_table(bytes, mapped, std::make_shared<block_cache>(1 << 20));
    for (const auto& [k, v] : m) check_get(*t, m, extract_user_key(k), 100);
    check_iteration(*t, m);
  }
}

namespace {

// A memory file that counts its reads, for the scan iterator's own descriptor.
class counting_file final : public lsmt::readable_file {
 public:
  counting_file(std::string bytes, int* reads) : file_(std::move(bytes), false), reads_(reads) {}
  uint64_t size() const override { return file_.size(); }
  std::string_view read(uint64_t offset, size_t n, char* scratch) const override {
    ++*reads_;
    return file_.read(offset, n, scratch);
  }

 private:
  memory_readable_file file_;
  int* reads_;
};

}  // namespace

TEST_CASE("sstable: a scan iterator reads the data blocks many at a time through its own file",
          "[sstable]") {
  std::mt19937_64 rng(11);
  const bool big_values = GENERATE(false, true);
  CAPTURE(big_values);
  model m;
  if (big_values) {  // values larger than a readahead window, between small ones
    for (int i = 0; i < 8; ++i) {
      const size_t n = lsmt::detail::block_readahead::readahead_bytes + 1000 * size_t(i);
      std::string big(n, '\0');
      for (char& c : big) c = static_cast<char>(rng());
      m.emplace(ikey("big" + std::to_string(i), 10, value_type::value), std::move(big));
      m.emplace(ikey("small" + std::to_string(i), 11, value_type::value), "s");
    }
  } else {
    m = random_model(rng, 50000, 24);
  }
  const std::string bytes = build_table(m);
  for (bool mapped : {true, false}) {
    CAPTURE(mapped);
    auto t = open_table(bytes, mapped, std::make_shared<block_cache>(1 << 20));
    int reads = 0;
    auto it = t->new_scan_iterator(std::make_unique<counting_file>(bytes, &reads));
    check_forward(*it, m);
    // One read per readahead window (a block bigger than the window is read whole), not one
    // per block.
    const size_t window = lsmt::detail::block_readahead::readahead_bytes;
    if (big_values) {
      CHECK(reads <= 16);
    } else {
      CHECK(bytes.size() > 4 * window);
      CHECK(reads <= static_cast<int>(bytes.size() / window) + 1);
    }
    // It can seek and step back too, reading again where it must.
    for (int i = 0; i < 200; ++i) {
      auto pick = m.begin();
      std::advance(pick, static_cast<std::ptrdiff_t>(rng() % m.size()));
      check_seek(*it, m, pick->first);
    }
  }
}

TEST_CASE("sstable: builder rejects out-of-order and invalid keys", "[sstable]") {
  std::string out;
  table_builder b({}, std::make_unique<memory_writable_file>(&out), 7, 1);
  b.add(ikey("b", 5, value_type::value), "");
  REQUIRE_THROWS_AS(b.add(ikey("a", 6, value_type::value), ""), lsmt::invalid_argument_error);
  REQUIRE_THROWS_AS(b.add(ikey("b", 5, value_type::value), ""), lsmt::invalid_argument_error);
  REQUIRE_THROWS_AS(b.add("short", ""), lsmt::invalid_argument_error);
  b.add(ikey("b", 4, value_type::deletion), "");
  b.abandon();
}

TEST_CASE("sstable: bloom filter skips absent keys", "[sstable]") {
  model m;
  for (int i = 0; i < 1000; ++i) m.emplace(ikey("k" + std::to_string(i), 1, value_type::value), "");
  auto t = open_table(build_table(m), true);
  int maybe = 0;
  for (int i = 0; i < 1000; ++i) maybe += t->may_contain("absent" + std::to_string(i));
  REQUIRE(maybe < 50);
  for (int i = 0; i < 1000; ++i) REQUIRE(t->may_contain("k" + std::to_string(i)));
}

namespace {

// Opens and reads a damaged table: every operation must either give the model's answer or throw
// corruption_error. Anything else (a wrong answer, another exception, a crash) fails the test.
void check_damaged(const std::string& bytes, const model& m, bool mapped) {
  std::shared_ptr<table_reader> t;
  try {
    t = open_table(bytes, mapped, mapped ? nullptr : std::make_shared<block_cache>(1 << 16));
  } catch (const corruption_error&) {
    return;
  }
  for (const auto& [k, v] : m) {
    for (uint64_t snap : {uint64_t{1} << 40, lsmt::detail::extract_sequence(k)}) {
      try {
        check_get(*t, m, extract_user_key(k), snap);
      } catch (const corruption_error&) {
      }
    }
  }
  for (const char* absent : {"", "a", "key05x", "zzz"}) {
    try {
      check_get(*t, m, absent, 1000);
    } catch (const corruption_error&) {
    }
  }
  try {
    check_iteration(*t, m);
  } catch (const corruption_error&) {
  }
  // A scan through a file of its own reads the same bytes and must check them the same way.
  try {
    auto it = t->new_scan_iterator(std::make_unique<memory_readable_file>(bytes, false));
    check_forward(*it, m);
  } catch (const corruption_error&) {
  }
}

}  // namespace

TEST_CASE("sstable: every bit flip and truncation is detected or harmless", "[sstable]") {
  model m;
  for (int i = 0; i < 40; ++i) {
    const std::string u = "key" + std::to_string(10 + i);
    m.emplace(ikey(u, 100 + static_cast<uint64_t>(i), value_type::value), "value" + u);
    if (i % 3 == 0) m.emplace(ikey(u, 50, value_type::deletion), "");
  }
  table_options opts;
  opts.block_size = 128;
  opts.restart_interval = 4;
  const std::string good = build_table(m, opts);
  REQUIRE(good.size() < 4096);
  for (bool mapped : {true, false}) {
    check_damaged(good, m, mapped);
    for (size_t i = 0; i < good.size(); ++i) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
      check_damaged(bad, m, mapped);
    }
    for (size_t len = 0; len < good.size(); ++len) check_damaged(good.substr(0, len), m, mapped);
  }
}

namespace {

int sign(int v) { return (v > 0) - (v < 0); }

}  // namespace

// compare_user_keys compares 8-byte words inline before falling back to memcmp; it must order
// keys exactly as unsigned bytes do (std::string_view::compare), whatever the lengths, the
// position of the first difference, and bytes >= 0x80.
TEST_CASE("sstable: internal keys compare user keys bytewise and unsigned", "[sstable]") {
  using lsmt::detail::compare_user_keys;
  LSMT_TEST_RNG(rng);
  const char alphabet[] = {'\0', '\x01', 'a', 'b', '\x7f', '\x80', '\xfe', '\xff'};
  for (int round = 0; round < 20000; ++round) {
    std::string a(rng() % 45, '\0');
    for (char& c : a) c = alphabet[rng() % sizeof(alphabet)];
    std::string b = a.substr(0, rng() % (a.size() + 1));  // a prefix of a, then changed
    const size_t extra = rng() % 10;
    for (size_t i = 0; i < extra; ++i) b.push_back(alphabet[rng() % sizeof(alphabet)]);
    if (!b.empty() && rng() % 2 == 0) b[rng() % b.size()] = alphabet[rng() % sizeof(alphabet)];
    const int want = sign(std::string_view(a).compare(b));
    INFO("round " << round);
    REQUIRE(sign(compare_user_keys(a, b)) == want);
    REQUIRE(sign(compare_user_keys(b, a)) == -want);
  }
  REQUIRE(compare_user_keys("", "") == 0);
  REQUIRE(compare_user_keys(std::string(40, 'x'), std::string(40, 'x')) == 0);
  REQUIRE(compare_user_keys(std::string(8, '\x80'), std::string(8, '\x7f')) > 0);
}

}  // namespace sstable_test_cpp
