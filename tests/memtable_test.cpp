// Tests for arena.hpp and memtable.hpp: a std::map model of internal keys is
// the reference for get() at snapshots, iteration and seek.
#include "lsmt/memtable.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ikey.hpp"
#include "test_catch.hpp"

namespace memtable_test_cpp {

namespace {

using lsmt::detail::arena;
using lsmt::detail::compare_internal_keys;
using lsmt::detail::internal_iterator;
using lsmt::detail::memtable;
using lsmt::detail::value_type;

using lsmt_test::ikey;
using model = std::map<std::string, std::string, lsmt_test::ikey_less>;

// Keys from a tiny alphabet that includes NUL and 0xFF, so many user keys get
// several versions and prefixes of each other occur.
std::string random_key(std::mt19937_64& rng) {
  static const char alphabet[] = {'\0', 'a', 'b', '\xff'};
  std::string k(rng() % 4, '\0');
  for (char& c : k) c = alphabet[rng() % 4];
  return k;
}

// Fills mt and m with n random entries, sequences 1..n.
void fill_random(memtable& mt, model& m, int n, std::mt19937_64& rng) {
  for (int seq = 1; seq <= n; ++seq) {
    const std::string k = random_key(rng);
    const value_type t = rng() % 4 == 0 ? value_type::deletion : value_type::value;
    const std::string v = t == value_type::value ? "v" + std::to_string(seq) : "";
    mt.add(static_cast<uint64_t>(seq), t, k, v);
    m.emplace(ikey(k, static_cast<uint64_t>(seq), t), v);
  }
}

// Checks mt.get(k, snap) against the model: the newest version of k at or below snap, or none.
void check_get(const memtable& mt, const model& m, const std::string& k, uint64_t snap) {
  auto mi = m.lower_bound(lsmt::detail::make_lookup_key(k, snap));
  const bool expect = mi != m.end() && lsmt::detail::extract_user_key(mi->first) == k;
  value_type t{};
  uint64_t seq = 0;
  std::string v = "unchanged";
  REQUIRE(mt.get(k, snap, &t, &v, &seq) == expect);
  if (!expect) return;
  REQUIRE(seq == lsmt::detail::extract_sequence(mi->first));
  REQUIRE(seq <= snap);
  REQUIRE(t == lsmt::detail::extract_type(mi->first));
  REQUIRE(v == (t == value_type::value ? mi->second : "unchanged"));
}

void check_same_position(const internal_iterator& it, model::const_iterator mi, const model& m) {
  REQUIRE(it.valid() == (mi != m.end()));
  if (it.valid()) {
    REQUIRE(it.key() == mi->first);
    REQUIRE(it.value() == mi->second);
  }
}

}  // namespace

TEST_CASE("memtable: arena alignment, large blocks, usage", "[memtable]") {
  arena a;
  REQUIRE(a.memory_usage() == 0);
  for (size_t n : {1, 3, 7, 8, 13, 100, 5000}) {
    char* p = a.allocate(n);
    std::memset(p, 1, n);
    char* q = a.allocate_aligned(n);
    REQUIRE(reinterpret_cast<uintptr_t>(q) % arena::alignment == 0);
    std::memset(q, 2, n);
  }
  const size_t before = a.memory_usage();
  REQUIRE(before >= arena::first_block_size);
  char* big = a.allocate(1 << 20);  // gets its own block
  std::memset(big, 3, 1 << 20);
  REQUIRE(a.memory_usage() >= before + (1 << 20));
  REQUIRE(a.memory_usage() < before + (1 << 20) + 1024);
}

TEST_CASE("memtable: arena blocks after the first are whole, aligned pool blocks", "[memtable]") {
  // The first block is small; the next starts a 2 MiB block, aligned to 2 MiB so that it can
  // be one huge page; allocations then fill it before another is taken.
  arena a;
  char* first = a.allocate(100);
  REQUIRE(a.memory_usage() < arena::first_block_size + 1024);
  char* p = nullptr;
  size_t taken = 100;
  while (taken + 1000 <= arena::first_block_size) {
    p = a.allocate(1000);
    taken += 1000;
  }
  REQUIRE(p - first < static_cast<std::ptrdiff_t>(arena::first_block_size));
  const size_t usage = a.memory_usage();
  const size_t block = lsmt::detail::arena_block_pool::block_bytes;
  char* q = a.allocate(arena::first_block_size);  // no longer fits: opens the first 2 MiB block
  REQUIRE(a.memory_usage() == usage + block);
  REQUIRE(reinterpret_cast<uintptr_t>(q) % block == alignof(std::max_align_t));
  std::memset(q, 4, arena::first_block_size);
  for (size_t used = arena::first_block_size; used + 4096 <= arena::block_size; used += 4096) {
    REQUIRE(reinterpret_cast<uintptr_t>(a.allocate(4096)) / block ==
            reinterpret_cast<uintptr_t>(q) / block);
  }
  REQUIRE(a.memory_usage() == usage + block);
}

TEST_CASE("memtable: random entries match a std::map model", "[memtable]") {
  std::mt19937_64 rng(42);
  // No filter, a saturated one-block filter, and a roomy one: none may hide an entry.
  const size_t filter_bytes = GENERATE(size_t{0}, size_t{64}, size_t{4096});
  CAPTURE(filter_bytes);
  memtable mt(filter_bytes);
  model m;
  const int n = 5000;
  fill_random(mt, m, n, rng);
  REQUIRE(mt.entry_count() == static_cast<size_t>(n));
  REQUIRE(mt.memory_usage() > 0);
  REQUIRE(mt.check_invariants());

  SECTION("get at snapshots") {
    for (int i = 0; i < 20000; ++i) {
      const std::string k = random_key(rng);
      check_get(mt, m, k, rng() % (n + 10));
    }
    value_type t{};
    uint64_t seq = 0;
    std::string v;
    REQUIRE_FALSE(mt.get("not-in-alphabet", lsmt::detail::max_sequence, &t, &v, &seq));
    REQUIRE_FALSE(mt.get("a", 0, &t, &v, &seq));  // sequences start at 1
  }

  SECTION("forward and backward iteration") {
    auto it = mt.new_iterator();
    auto mi = m.begin();
    for (it->seek_to_first(); it->valid(); it->next(), ++mi) check_same_position(*it, mi, m);
    REQUIRE(mi == m.end());
    auto rmi = m.rbegin();
    for (it->seek_to_last(); it->valid(); it->prev(), ++rmi) {
      REQUIRE(rmi != m.rend());
      REQUIRE(it->key() == rmi->first);
      REQUIRE(it->value() == rmi->second);
    }
    REQUIRE(rmi == m.rend());
  }

  SECTION("seek then step both ways") {
    auto it = mt.new_iterator();
    for (int i = 0; i < 2000; ++i) {
      const std::string target = ikey(random_key(rng), rng() % (n + 10), value_type::value);
      it->seek(target);
      auto mi = m.lower_bound(target);
      check_same_position(*it, mi, m);
      const int steps = static_cast<int>(rng() % 5);
      for (int s = 0; s < steps && it->valid(); ++s) {
        if (rng() % 2 == 0) {
          it->next();
          ++mi;
        } else if (mi == m.begin()) {
          it->prev();
          REQUIRE_FALSE(it->valid());
          break;
        } else {
          it->prev();
          --mi;
        }
        check_same_position(*it, mi, m);
      }
    }
    it->seek("");  // shorter than a tag: treated as the empty user key
    check_same_position(*it, m.begin(), m);
    it->seek(std::string(5, '\xff'));
    check_same_position(
        *it, m.lower_bound(ikey(std::string(5, '\xff'), UINT64_MAX >> 8, value_type::value)), m);
  }
}

TEST_CASE("memtable: the hash index finds the newest version as it grows", "[memtable]") {
  // 30,000 distinct binary keys, most with several versions. Without a byte limit the index
  // (1,024 slots to begin with) doubles five times while the entries arrive; with one, it grows
  // once to what the first keys predict for the limit.
  const size_t byte_limit = GENERATE(size_t{0}, size_t{4} << 20);
  CAPTURE(byte_limit);
  std::mt19937_64 rng(7);
  memtable mt(4096, byte_limit);
  const size_t start_usage = mt.memory_usage();
  model m;
  std::vector<std::string> keys;
  for (int i = 0; i < 30000; ++i) {
    std::string k(1 + rng() % 24, '\0');
    for (char& c : k) c = static_cast<char>(rng());
    keys.push_back(k + std::to_string(i));  // distinct, some with a NUL or 0xFF inside
  }
  uint64_t seq = 0;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (round > 0 && rng() % 3 == 0) continue;
      const value_type t = rng() % 5 == 0 ? value_type::deletion : value_type::value;
      ++seq;
      const std::string v = t == value_type::value ? "v" + std::to_string(seq) : "";
      mt.add(seq, t, keys[i], v);
      m.emplace(ikey(keys[i], seq, t), v);
    }
  }
  REQUIRE(mt.check_invariants());
  CHECK(mt.memory_usage() >= start_usage + 32768 * 8);  // at least 32,768 slots now
  for (const std::string& k : keys) {
    // At the newest snapshot (the index) and at a random older one (the tree).
    check_get(mt, m, k, lsmt::detail::max_sequence);
    check_get(mt, m, k, rng() % (seq + 1));
    value_type t{};
    uint64_t found = 0;
    std::string v;
    REQUIRE_FALSE(mt.get(k + "-absent", lsmt::detail::max_sequence, &t, &v, &found));
  }
}

TEST_CASE("memtable: empty table", "[memtable]") {
  memtable mt;
  REQUIRE(mt.entry_count() == 0);
  REQUIRE(mt.check_invariants());
  value_type t{};
  uint64_t seq = 0;
  std::string v;
  REQUIRE_FALSE(mt.get("", lsmt::detail::max_sequence, &t, &v, &seq));
  auto it = mt.new_iterator();
  REQUIRE_FALSE(it->valid());
  it->seek_to_first();
  REQUIRE_FALSE(it->valid());
  it->seek_to_last();
  REQUIRE_FALSE(it->valid());
  it->seek(ikey("x", 1, value_type::value));
  REQUIRE_FALSE(it->valid());
}

TEST_CASE("memtable: AVL balance after 100k inserts in several orders", "[memtable]") {
  const int n = 100000;
  for (int order = 0; order < 3; ++order) {
    memtable mt;
    std::mt19937_64 rng(7);
    for (int i = 0; i < n; ++i) {
      const uint64_t k = order == 0 ? rng() : order == 1 ? uint64_t(i) : uint64_t(n - i);
      char buf[8];
      lsmt::detail::encode_fixed64(buf, __builtin_bswap64(k));  // big-endian: bytes sort as ints
      mt.add(static_cast<uint64_t>(i + 1), value_type::value, std::string_view(buf, 8), "v");
    }
    REQUIRE(mt.entry_count() == static_cast<size_t>(n));
    REQUIRE(mt.check_invariants());
  }
}

TEST_CASE("memtable: empty, binary and 1 MiB keys and values", "[memtable]") {
  memtable mt;
  const std::string nul_key("\0\0k\0", 4);
  const std::string ff_key("\xff\xff\xff", 3);
  const std::string big(1 << 20, 'x');
  const std::string big_key(1 << 20, '\xff');
  mt.add(1, value_type::value, "", "");
  mt.add(2, value_type::value, nul_key, std::string("\0v\xff", 3));
  mt.add(3, value_type::value, ff_key, big);
  mt.add(4, value_type::deletion, ff_key, "");
  mt.add(5, value_type::value, big_key, big);
  REQUIRE(mt.check_invariants());
  REQUIRE(mt.memory_usage() > 3 * big.size());

  value_type t{};
  uint64_t seq = 0;
  std::string v = "x";
  REQUIRE(mt.get("", 10, &t, &v, &seq));
  REQUIRE((t == value_type::value && seq == 1 && v.empty()));
  REQUIRE(mt.get(nul_key, 10, &t, &v, &seq));
  REQUIRE(v == std::string("\0v\xff", 3));
  REQUIRE_FALSE(mt.get(std::string("\0\0k", 3), 10, &t, &v, &seq));
  REQUIRE(mt.get(ff_key, 3, &t, &v, &seq));
  REQUIRE((t == value_type::value && seq == 3 && v == big));
  REQUIRE(mt.get(ff_key, 10, &t, &v, &seq));
  REQUIRE((t == value_type::deletion && seq == 4));
  REQUIRE(mt.get(big_key, 10, &t, &v, &seq));
  REQUIRE(v == big);

  // Order: "" < "\0\0k\0" < "\xff\xff\xff"@4 < @3 < big_key.
  auto it = mt.new_iterator();
  it->seek_to_first();
  REQUIRE(it->key() == ikey("", 1, value_type::value));
  it->next();
  REQUIRE(it->key() == ikey(nul_key, 2, value_type::value));
  it->next();
  REQUIRE(it->key() == ikey(ff_key, 4, value_type::deletion));
  it->next();
  REQUIRE(it->value() == big);
  it->next();
  REQUIRE(it->key() == ikey(big_key, 5, value_type::value));
  it->next();
  REQUIRE_FALSE(it->valid());
}

TEST_CASE("memtable: the bloom filter rules out most absent keys, never a present one",
          "[memtable]") {
  memtable mt(16 << 10);  // 16 KiB: ~13 bits per key for the 10,000 keys below
  for (int i = 0; i < 10000; ++i) {
    mt.add(static_cast<uint64_t>(i + 1), value_type::value, "present" + std::to_string(i), "v");
  }
  value_type t{};
  uint64_t seq = 0;
  std::string v;
  for (int i = 0; i < 10000; ++i) {
    const std::string k = "present" + std::to_string(i);
    REQUIRE(mt.may_contain(lsmt::detail::hash64(k)));
    REQUIRE(mt.get(k, lsmt::detail::max_sequence, &t, &v, &seq));
  }
  int passed = 0;
  for (int i = 0; i < 100000; ++i) {
    const std::string k = "absent" + std::to_string(i);
    passed += mt.may_contain(lsmt::detail::hash64(k)) ? 1 : 0;
    REQUIRE_FALSE(mt.get(k, lsmt::detail::max_sequence, &t, &v, &seq));
  }
  CAPTURE(passed);
  CHECK(passed < 2000);  // < 2% false positives (expected ~0.3% at 13 bits per key)

  memtable unfiltered;  // without a filter every key may be present
  CHECK(unfiltered.may_contain(lsmt::detail::hash64("anything")));
}

TEST_CASE("memtable: concurrent readers with one writer", "[memtable]") {
  memtable mt(8192);  // readers must see the filter bits of every entry published to them
  const int n = 20000;
  std::atomic<int> published{0};  // entries 1..published are in the table
  std::atomic<bool> failed{false};
  auto key_of = [](int i) { return "key" + std::to_string(i * 7919 % 100003); };

  std::thread writer([&] {
    for (int i = 1; i <= n; ++i) {
      mt.add(static_cast<uint64_t>(i), value_type::value, key_of(i), std::to_string(i));
      published.store(i, std::memory_order_release);
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {  // point readers
    readers.emplace_back([&, r] {
      std::mt19937_64 rng(static_cast<uint64_t>(r));
      while (published.load(std::memory_order_acquire) < n) {
        const int p = published.load(std::memory_order_acquire);
        if (p == 0) continue;
        const int i = 1 + static_cast<int>(rng() % static_cast<uint64_t>(p));
        value_type t{};
        uint64_t seq = 0;
        std::string v;
        if (!mt.get(key_of(i), lsmt::detail::max_sequence, &t, &v, &seq) ||
            v != std::to_string(i) || seq != static_cast<uint64_t>(i)) {
          failed = true;
        }
        // glibc's shared_mutex prefers readers: spinning readers would starve the writer.
        std::this_thread::yield();
      }
    });
  }
  for (int r = 0; r < 2; ++r) {  // scanners: forward and backward, plus seeks
    readers.emplace_back([&, r] {
      auto it = mt.new_iterator();
      while (published.load(std::memory_order_acquire) < n) {
        const size_t at_start = static_cast<size_t>(published.load(std::memory_order_acquire));
        size_t seen = 0;
        std::string prev;
        for (r == 0 ? it->seek_to_first() : it->seek_to_last(); it->valid();
             r == 0 ? it->next() : it->prev()) {
          const std::string k(it->key());
          if (!prev.empty() && (compare_internal_keys(prev, k) < 0) != (r == 0)) failed = true;
          prev = k;
          ++seen;
        }
        if (seen < at_start) failed = true;
        it->seek(ikey("key5", lsmt::detail::max_sequence, value_type::value));
        if (it->valid() &&
            compare_internal_keys(it->key(), ikey("key5", 0, value_type::value)) < 0) {
          failed = true;
        }
        std::this_thread::yield();
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  REQUIRE_FALSE(failed.load());
  REQUIRE(mt.entry_count() == static_cast<size_t>(n));
  REQUIRE(mt.check_invariants());
}

}  // namespace memtable_test_cpp
