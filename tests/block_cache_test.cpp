// tests/block_cache_test.cpp - the block cache (lsmt/block_cache.hpp): lookups and replacement,
// a disabled cache, LRU eviction within the capacity, dropping a file's blocks, and concurrent use.
#include "lsmt/block_cache.hpp"

#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_catch.hpp"

namespace block_cache_test_cpp {

using lsmt::detail::block_cache;

namespace {
std::shared_ptr<const std::string> make_block(size_t size, char fill) {
  return std::make_shared<const std::string>(size, fill);
}
}  // namespace

TEST_CASE("block-cache: insert, lookup, replace", "[block-cache]") {
  block_cache cache(1 << 20);
  CHECK(cache.capacity() == (1 << 20));
  CHECK(cache.usage() == 0);
  CHECK(cache.lookup(1, 0) == nullptr);

  cache.insert(1, 0, make_block(100, 'a'));
  cache.insert(1, 4096, make_block(200, 'b'));
  cache.insert(2, 0, make_block(300, 'c'));
  CHECK(cache.usage() == 600);
  REQUIRE(cache.lookup(1, 0) != nullptr);
  CHECK(*cache.lookup(1, 0) == std::string(100, 'a'));
  CHECK(*cache.lookup(1, 4096) == std::string(200, 'b'));
  CHECK(*cache.lookup(2, 0) == std::string(300, 'c'));
  CHECK(cache.lookup(2, 4096) == nullptr);

  cache.insert(1, 0, make_block(50, 'z'));  // same key: replaced, recharged
  CHECK(*cache.lookup(1, 0) == std::string(50, 'z'));
  CHECK(cache.usage() == 550);

  cache.insert(3, 0, nullptr);  // ignored
  CHECK(cache.lookup(3, 0) == nullptr);
}

TEST_CASE("block-cache: capacity 0 disables the cache", "[block-cache]") {
  block_cache cache(0);
  cache.insert(1, 0, make_block(10, 'a'));
  CHECK(cache.lookup(1, 0) == nullptr);
  CHECK(cache.usage() == 0);
}

TEST_CASE("block-cache: evicts least recently used within capacity", "[block-cache]") {
  const size_t capacity = 16 * 1000;  // 1000 bytes per shard
  block_cache cache(capacity);
  // Oversized blocks are not cached at all.
  cache.insert(9, 0, make_block(1001, 'x'));
  CHECK(cache.lookup(9, 0) == nullptr);
  CHECK(cache.usage() == 0);

  // Many 100-byte blocks: usage never exceeds capacity, and the most recently inserted survive.
  std::vector<std::shared_ptr<const std::string>> held;
  for (uint64_t i = 0; i < 2000; ++i) {
    cache.insert(1, i * 4096, make_block(100, static_cast<char>(i)));
    REQUIRE(cache.usage() <= capacity);
    if (i == 0) held.push_back(cache.lookup(1, 0));
  }
  CHECK(cache.usage() > capacity / 2);
  CHECK(cache.lookup(1, 0) == nullptr);  // evicted long ago...
  CHECK(held[0]->size() == 100);         // ...but a reader's copy stays valid
  CHECK(cache.lookup(1, 1999 * 4096) != nullptr);

  // A lookup protects a block from eviction: keep touching key 1999 while inserting more.
  for (uint64_t i = 2000; i < 4000; ++i) {
    cache.insert(1, i * 4096, make_block(100, 'y'));
    REQUIRE(cache.lookup(1, 1999 * 4096) != nullptr);
  }
}

TEST_CASE("block-cache: erase_file", "[block-cache]") {
  block_cache cache(1 << 20);
  for (uint64_t i = 0; i < 100; ++i) {
    cache.insert(1, i, make_block(10, 'a'));
    cache.insert(2, i, make_block(20, 'b'));
  }
  CHECK(cache.usage() == 3000);
  cache.erase_file(1);
  CHECK(cache.usage() == 2000);
  for (uint64_t i = 0; i < 100; ++i) {
    REQUIRE(cache.lookup(1, i) == nullptr);
    REQUIRE(cache.lookup(2, i) != nullptr);
  }
  cache.erase_file(42);  // unknown file: no-op
  CHECK(cache.usage() == 2000);
}

TEST_CASE("block-cache: concurrent lookups, inserts and erases", "[block-cache]") {
  const size_t capacity = 64 * 1024;
  auto cache = std::make_shared<block_cache>(capacity);
  constexpr int threads = 8, ops = 20000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&cache, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t));
      for (int i = 0; i < ops; ++i) {
        const uint64_t file = rng() % 4, offset = rng() % 256;
        // A block's contents are a function of its key, so any hit can be verified.
        const char fill = static_cast<char>('a' + (file * 7 + offset) % 26);
        const uint64_t op = rng() % 100;
        if (op < 60) {
          if (auto b = cache->lookup(file, offset)) {
            if (b->size() != 64 + offset || (*b)[0] != fill || b->back() != fill) std::abort();
          }
        } else if (op < 99) {
          cache->insert(file, offset, make_block(64 + offset, fill));
        } else {
          cache->erase_file(file);
        }
        if (cache->usage() > capacity) std::abort();
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK(cache->usage() <= capacity);
  // Usage accounting stayed exact: erasing everything brings it back to zero.
  for (uint64_t f = 0; f < 4; ++f) cache->erase_file(f);
  CHECK(cache->usage() == 0);
}

}  // namespace block_cache_test_cpp
