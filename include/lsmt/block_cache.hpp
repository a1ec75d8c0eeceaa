// lsmt/block_cache.hpp - sharded LRU cache of decoded-from-disk SSTable blocks.
//
// It holds the data blocks of tables read with pread, and the decompressed data blocks of
// compressed tables (table_format.hpp, "Compression"), mapped or not; each is charged its
// decompressed size.
//
// Keyed by (file_number, block_offset): file numbers are never reused, so a key always names
// the same bytes and an entry can never be stale. Each block is charged its size(); every
// shard evicts its least-recently-used blocks until its usage is <= capacity / 16.
//
// Blocks are handed out as shared_ptr<const std::string>: a reader keeps its block alive and
// unchanged even if the cache evicts it meanwhile, so no pinning protocol is needed.
//
// Thread safety: all member functions are safe to call concurrently. The cache is split into
// 16 shards, each guarded by its own mutex (a lookup reorders the LRU list, so it needs
// exclusive access); threads touching different blocks rarely contend. usage() reads
// per-shard atomics without locking, so it is a momentary, possibly slightly stale sum.
#ifndef LSMT_BLOCK_CACHE_HPP
#define LSMT_BLOCK_CACHE_HPP

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "thread_annotations.hpp"

namespace lsmt::detail {

/// A sharded LRU block cache. Thread safety: fully thread-safe (see the file comment).
class block_cache {
 public:
  /// capacity_bytes == 0 disables the cache: lookups miss and inserts are dropped.
  explicit block_cache(size_t capacity_bytes)
      : capacity_(capacity_bytes), shard_capacity_(capacity_bytes / num_shards) {}

  block_cache(const block_cache&) = delete;
  block_cache& operator=(const block_cache&) = delete;

  /// The cached block, or nullptr on a miss. A hit makes the block most recently used.
  std::shared_ptr<const std::string> lookup(uint64_t file_number, uint64_t offset) {
    const cache_key key{file_number, offset};
    shard& s = shard_of(key);
    if (shard_capacity_ == 0) {
      s.misses.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    return s.lookup(key);
  }

  /// Caches `block` (replacing any block under the same key) as most recently used. A block
  /// larger than a shard's capacity is not cached: it would only evict everything else.
  void insert(uint64_t file_number, uint64_t offset, std::shared_ptr<const std::string> block) {
    if (!block || block->size() > shard_capacity_) return;
    const cache_key key{file_number, offset};
    shard_of(key).insert(key, std::move(block), shard_capacity_);
  }

  /// Drops every block of a deleted file now rather than waiting for LRU to age them out.
  /// Linear in the number of cached blocks; meant for the rare table deletion.
  void erase_file(uint64_t file_number) {
    for (auto& s : shards_) s.erase_file(file_number);
  }

  /// Total bytes charged to cached blocks.
  size_t usage() const {
    size_t total = 0;
    for (const auto& s : shards_) total += s.usage.load(std::memory_order_relaxed);
    return total;
  }

  size_t capacity() const { return capacity_; }

  /// Lookups that found their block, and lookups that did not, since the cache was made.
  uint64_t hits() const { return sum(&shard::hits); }
  uint64_t misses() const { return sum(&shard::misses); }

 private:
  static constexpr int shard_bits = 4;
  static constexpr size_t num_shards = size_t{1} << shard_bits;

  struct cache_key {
    uint64_t file_number;
    uint64_t offset;
    bool operator==(const cache_key& o) const {
      return file_number == o.file_number && offset == o.offset;
    }
  };

  // A full 64-bit mix (splitmix64 finalizer), because both inputs are highly regular (small
  // file numbers, offsets that are multiples of ~4 KiB): the shard takes the top bits and the
  // hash table the low bits, and both must be uniform.
  struct key_hash {
    size_t operator()(const cache_key& k) const noexcept {
      uint64_t h = k.file_number * 0x9e3779b97f4a7c15ull ^ k.offset;
      h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
      h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
      return static_cast<size_t>(h ^ (h >> 31));
    }
  };

  struct entry {
    cache_key key;
    std::shared_ptr<const std::string> block;
  };
  using lru_list = std::list<entry>;  // front = most recently used

  // alignas: keeps each shard's hot mutex off its neighbours' cache lines.
  struct alignas(64) shard {
    mutex mu;
    lru_list lru LSMT_GUARDED_BY(mu);
    std::unordered_map<cache_key, lru_list::iterator, key_hash> index LSMT_GUARDED_BY(mu);
    std::atomic<size_t> usage{0};   // written under mu, read lock-free by usage()
    std::atomic<uint64_t> hits{0};  // counted on this shard's cache line: no sharing
    std::atomic<uint64_t> misses{0};

    std::shared_ptr<const std::string> lookup(const cache_key& key) {
      lock_guard lock(mu);
      const auto it = index.find(key);
      if (it == index.end()) {
        misses.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
      }
      hits.fetch_add(1, std::memory_order_relaxed);
      lru.splice(lru.begin(), lru, it->second);  // O(1); iterators stay valid
      return it->second->block;
    }

    void insert(const cache_key& key, std::shared_ptr<const std::string> block, size_t capacity) {
      lru_list evicted;  // destroyed after the lock is released: freeing blocks needs no lock
      lock_guard lock(mu);
      size_t used = usage.load(std::memory_order_relaxed) + block->size();
      lru.push_front(entry{key, std::move(block)});
      // One walk of the bucket: a block another thread cached meanwhile is replaced in place.
      if (const auto [it, added] = index.try_emplace(key, lru.begin()); !added) {
        used -= it->second->block->size();
        evicted.splice(evicted.end(), lru, it->second);
        it->second = lru.begin();
      }
      while (used > capacity) {  // never evicts the new block: its size is <= capacity
        const auto victim = std::prev(lru.end());
        used -= victim->block->size();
        index.erase(victim->key);
        evicted.splice(evicted.end(), lru, victim);
      }
      usage.store(used, std::memory_order_relaxed);
    }

    void erase_file(uint64_t file_number) {
      lru_list evicted;
      lock_guard lock(mu);
      size_t used = usage.load(std::memory_order_relaxed);
      for (auto it = lru.begin(); it != lru.end();) {
        const auto next = std::next(it);
        if (it->key.file_number == file_number) {
          used -= it->block->size();
          index.erase(it->key);
          evicted.splice(evicted.end(), lru, it);
        }
        it = next;
      }
      usage.store(used, std::memory_order_relaxed);
    }
  };

  uint64_t sum(std::atomic<uint64_t> shard::*counter) const {
    uint64_t total = 0;
    for (const auto& s : shards_) total += (s.*counter).load(std::memory_order_relaxed);
    return total;
  }

  shard& shard_of(const cache_key& key) {
    // The top bits: the hash table's buckets use the low ones.
    return shards_[key_hash{}(key) >> (8 * sizeof(size_t) - shard_bits)];
  }

  const size_t capacity_;
  const size_t shard_capacity_;
  std::array<shard, num_shards> shards_;
};

}  // namespace lsmt::detail

#endif  // LSMT_BLOCK_CACHE_HPP
