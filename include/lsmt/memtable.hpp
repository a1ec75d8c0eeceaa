// lsmt/memtable.hpp - the in-memory sorted buffer every write goes to first.
//
// An AVL tree over internal keys (avl_tree.hpp, which says why AVL) whose nodes live in an
// arena: nodes are never removed, only dropped with the whole memtable, so a bump allocator
// makes an insert allocation-free in the common case and keeps nodes dense in memory.
//
// An optional bloom filter over the user keys (the blocked layout of
// bloom.hpp, in memory only, 6 probes per key) lets get() skip the descent for
// keys the memtable certainly lacks -- most point reads of a store bigger than
// its memtable. Its size is fixed at construction (the engine gives it 1/64 of
// the memtable's byte limit: ~17 bits per key for 16-byte keys and 100-byte
// values). Bits are only ever set, by add(), before the entry is inserted: a reader that can
// see an entry's sequence (published with release after the insert) also sees its bits.
//
// Keys the filter lets through are looked up in a hash index (memtable_index.hpp) that points
// at each user key's newest entry, instead of descending the tree: a memtable hit then costs a
// load or two, not a dozen or more cache misses on lines the writer is changing. The index is
// sized for the keys the memtable will hold, as predicted from those so far (about 1/8 of the
// byte limit for 16-byte keys and 100-byte values). A read at an older snapshot than a key's
// newest entry descends the tree.
//
// Range deletions (value_type::range_deletion, from delete_range) are not in the tree: add()
// puts them in a fragmented set (range_tombstones.hpp) beside it, which covering() asks.
//
// Thread safety: one add() at a time (the write leader, or recovery); it takes the internal
// shared_mutex exclusively only to link a new node in, rebalance and set its index slot (or
// swap in a grown index), having built the node and found its places unlocked (nothing else
// changes the tree or the index); get(), iterator steps and check_invariants() take it shared;
// entry_count(), entry_bytes(), memory_usage() and the filter's bits are atomics. Nodes are
// never removed or moved, so node pointers and the key/value views stay valid for the
// memtable's lifetime.
#ifndef LSMT_MEMTABLE_HPP
#define LSMT_MEMTABLE_HPP

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include "arena.hpp"
#include "avl_tree.hpp"
#include "bloom.hpp"
#include "error.hpp"
#include "hash.hpp"
#include "internal_iterator.hpp"
#include "internal_key.hpp"
#include "memtable_index.hpp"
#include "range_tombstones.hpp"
#include "thread_annotations.hpp"

namespace lsmt::detail {

/// Sorted in-memory table of internal keys. Thread safety: see the file comment.
class memtable {
 public:
  /// filter_bytes > 0 adds a bloom filter of about that many bytes to get(). byte_limit and
  /// entry_limit (0: none) are where the owner will stop adding: when the hash index grows, it
  /// grows to hold what the entries so far predict for the limit, not just twice as many.
  explicit memtable(size_t filter_bytes = 0, size_t byte_limit = 0, size_t entry_limit = 0)
      : filter_blocks_(static_cast<uint32_t>(
            std::min<size_t>((filter_bytes + block_words * 8 - 1) / (block_words * 8), 1u << 24))),
        filter_(filter_blocks_ == 0
                    ? nullptr
                    : new std::atomic<uint64_t>[size_t{filter_blocks_} * block_words]()),
        byte_limit_(byte_limit),
        entry_limit_(entry_limit),
        index_bytes_(index_.memory_usage()) {}
  memtable(const memtable&) = delete;
  memtable& operator=(const memtable&) = delete;

  /// Inserts (user_key, seq, type) -> value. Sequences are unique, so the
  /// internal key is never already present. Throws invalid_argument_error if
  /// a key or value does not fit the 32-bit length fields. A range deletion's user_key and
  /// value are its begin and end.
  void add(uint64_t seq, value_type type, std::string_view user_key, std::string_view value);

  /// The newest sequence <= snapshot of a range deletion here that covers user_key, or 0.
  uint64_t covering(std::string_view user_key, uint64_t snapshot) const {
    if (!has_range_dels_.load(std::memory_order_acquire)) return 0;
    shared_lock lock(mu_);
    return range_dels_.covering(user_key, snapshot);
  }
  /// Whether a range deletion was added (at any sequence).
  bool has_range_deletions() const noexcept {
    return has_range_dels_.load(std::memory_order_acquire);
  }
  /// Range deletions added.
  size_t range_deletion_count() const {
    if (!has_range_deletions()) return 0;
    shared_lock lock(mu_);
    return range_dels_.count();
  }
  /// A copy of the range deletions (for a flush, once the memtable is immutable).
  range_tombstones range_deletions() const {
    shared_lock lock(mu_);
    return range_dels_;
  }

  /// Newest entry for user_key with sequence <= snapshot. Returns false if
  /// there is none; otherwise sets *type, *seq and (if a value) *value.
  bool get(std::string_view user_key, uint64_t snapshot, value_type* type, std::string* value,
           uint64_t* seq) const {
    return get(user_key, hash64(user_key), snapshot, type, value, seq);
  }
  /// The same, with key_hash = hash64(user_key) computed by the caller.
  bool get(std::string_view user_key, uint64_t key_hash, uint64_t snapshot, value_type* type,
           std::string* value, uint64_t* seq) const;

  /// False only if no entry for the key whose hash64 is key_hash was added
  /// (always true without a filter).
  bool may_contain(uint64_t key_hash) const noexcept {
    if (filter_blocks_ == 0) return true;
    const std::atomic<uint64_t>* block = filter_block(key_hash);
    const auto g = static_cast<uint32_t>(key_hash);
    for (int i = 0; i < filter_probes; ++i) {
      const uint32_t bit = (g * bloom_format::probe_multipliers.m[i]) >> 23;
      if ((block[bit >> 6].load(std::memory_order_relaxed) & (uint64_t{1} << (bit & 63))) == 0) {
        return false;
      }
    }
    return true;
  }

  /// Asks the CPU for the filter lines may_contain(key_hash) will read.
  void prefetch_filter(uint64_t key_hash) const noexcept {
    if (filter_blocks_ == 0) return;
    prefetch_block64(filter_block(key_hash));  // new[] aligns to 8 bytes only
  }

  size_t entry_count() const noexcept { return count_.load(std::memory_order_relaxed); }
  /// Bytes of the internal keys and values added (range deletions' bounds too): about what a
  /// flush writes, before prefix compression. Any thread may call it.
  size_t entry_bytes() const noexcept { return entry_bytes_.load(std::memory_order_relaxed); }
  /// Arena bytes, range deletions, the hash index and the filter, for stats.
  size_t memory_usage() const noexcept {
    return arena_.memory_usage() + range_bytes_.load(std::memory_order_relaxed) +
           index_bytes_.load(std::memory_order_relaxed) + size_t{filter_blocks_} * block_words * 8;
  }
  /// Arena bytes entries took: what the write path compares against memtable_max_bytes (a
  /// fresh arena block would make a small limit look full after one entry). Only the writing
  /// thread may call it.
  size_t bytes_in_use() const noexcept {
    return arena_.bytes_in_use() + range_bytes_.load(std::memory_order_relaxed);
  }

  /// The iterator must not outlive the memtable. It sees entries added after
  /// its creation if it reaches their position.
  std::unique_ptr<internal_iterator> new_iterator() const;

  /// Test hook: verifies the tree's invariants (avl_tree.hpp). O(n).
  bool check_invariants() const;

 private:
  using node = avl_tree::node;
  class iterator;

  // The tree without the lock, which is safe only in add(): nothing else ever changes it.
  avl_tree& unlocked_tree() LSMT_NO_THREAD_SAFETY_ANALYSIS { return tree_; }
  memtable_index& unlocked_index() LSMT_NO_THREAD_SAFETY_ANALYSIS { return index_; }
  // Links x in (tree and index) at the places add() found for it.
  void link(node** link, node* parent, node* x, uint64_t key_hash, bool may_exist);

  // The 512-bit block of the filter that holds the key's bits. REQUIRES: a filter.
  std::atomic<uint64_t>* filter_block(uint64_t key_hash) const noexcept {
    return filter_.get() + bloom_format::block_index(key_hash, filter_blocks_) * block_words;
  }

  // One add() at a time, so a relaxed load and store (not a locked
  // read-modify-write) cannot lose a bit.
  // Returns whether every bit was set already (always true without a filter): what
  // may_contain() said before, except that a bit two probes share counts as set, which only
  // makes add() look for an older version it will not find.
  bool add_to_filter(uint64_t key_hash) noexcept {
    if (filter_blocks_ == 0) return true;
    std::atomic<uint64_t>* block = filter_block(key_hash);
    const auto g = static_cast<uint32_t>(key_hash);
    bool all_set = true;
    for (int i = 0; i < filter_probes; ++i) {
      const uint32_t bit = (g * bloom_format::probe_multipliers.m[i]) >> 23;
      std::atomic<uint64_t>& word = block[bit >> 6];
      const uint64_t old = word.load(std::memory_order_relaxed);
      const uint64_t mask = uint64_t{1} << (bit & 63);
      all_set = all_set && (old & mask) != 0;
      word.store(old | mask, std::memory_order_relaxed);
    }
    return all_set;
  }

  static constexpr size_t block_words = bloom_format::block_bytes / 8;  // 512-bit blocks
  static constexpr int filter_probes = 6;
  const uint32_t filter_blocks_;                           // 0: no filter
  const std::unique_ptr<std::atomic<uint64_t>[]> filter_;  // filter_blocks_ * block_words
  mutable shared_mutex mu_;
  avl_tree tree_ LSMT_GUARDED_BY(mu_);
  memtable_index index_ LSMT_GUARDED_BY(mu_);
  const size_t byte_limit_;             // 0: none
  const size_t entry_limit_;            // 0: none
  std::atomic<size_t> index_bytes_;     // index_.memory_usage(), for memory_usage()
  arena arena_;                         // only add() allocates; memory_usage() is atomic
  std::atomic<size_t> count_{0};        // entries and range deletions
  std::atomic<size_t> entry_bytes_{0};  // their internal keys and values: entry_bytes()
  range_tombstones range_dels_ LSMT_GUARDED_BY(mu_);
  std::atomic<bool> has_range_dels_{false};
  std::atomic<size_t> range_bytes_{0};  // range_dels_.memory_usage()
};

// In-order walk over the tree. Every step takes the shared lock: a concurrent
// add() may rotate the tree between steps, but nodes never leave it and the
// order is global, so a parent-pointer successor walk under the lock is still
// correct. key()/value() need no lock: node bytes are immutable.
class memtable::iterator final : public internal_iterator {
 public:
  explicit iterator(const memtable& mt) : mt_(mt) {}

  bool valid() const override { return n_ != nullptr; }

  void seek_to_first() override {
    shared_lock lock(mt_.mu_);
    n_ = mt_.tree_.root() == nullptr ? nullptr : avl_tree::leftmost(mt_.tree_.root());
  }

  void seek_to_last() override {
    shared_lock lock(mt_.mu_);
    n_ = mt_.tree_.root() == nullptr ? nullptr : avl_tree::rightmost(mt_.tree_.root());
  }

  void seek(std::string_view target) override {
    // A target too short to carry a tag is taken as a bare user key, which
    // sorts before all of its versions (the largest tag sorts first).
    std::string_view user_key = target;
    uint64_t tag = UINT64_MAX;
    if (target.size() >= tag_size) {
      user_key = extract_user_key(target);
      tag = extract_tag(target);
    }
    shared_lock lock(mt_.mu_);
    n_ = mt_.tree_.lower_bound(user_key, tag);
  }

  void next() override {
    shared_lock lock(mt_.mu_);
    n_ = avl_tree::next(n_);
  }

  void prev() override {
    shared_lock lock(mt_.mu_);
    n_ = avl_tree::prev(n_);
  }

  std::string_view key() const override { return n_->key(); }
  std::string_view value() const override { return n_->value(); }
  bool in_memory() const override { return true; }

 private:
  const memtable& mt_;
  const node* n_ = nullptr;
};

inline void memtable::add(uint64_t seq, value_type type, std::string_view user_key,
                          std::string_view value) {
  constexpr size_t max_len = UINT32_MAX - tag_size;
  if (user_key.size() > max_len || value.size() > max_len) {
    throw invalid_argument_error("lsmt: key or value longer than 4 GiB");
  }
  if (type == value_type::range_deletion) {
    exclusive_lock lock(mu_);
    range_dels_.add(user_key, value, seq);
    range_bytes_.store(range_dels_.memory_usage(), std::memory_order_relaxed);
    has_range_dels_.store(true, std::memory_order_release);
    count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    entry_bytes_.store(
        entry_bytes_.load(std::memory_order_relaxed) + user_key.size() + tag_size + value.size(),
        std::memory_order_relaxed);
    return;
  }
  const uint64_t tag = pack_tag(seq, type);
  const size_t ikey_len = user_key.size() + tag_size;
  const uint64_t key_hash = hash64(user_key);

  // Only this thread changes the tree (one add() at a time), so it builds the node and finds
  // its place without the lock, reading links nobody else writes; readers wait only while it
  // links the node in and rebalances, along a path it has just read (in cache).
  unlocked_index().prefetch(key_hash);  // wanted after the descent below
  // Before the entry is visible (file comment). A key the filter did not already hold has no
  // older version to find in the index.
  const bool may_exist = add_to_filter(key_hash);
  char* mem = arena_.allocate_aligned(sizeof(node) + ikey_len + value.size());
  node* x = new (mem) node{};  // null links
  x->ikey_len = static_cast<uint32_t>(ikey_len);
  x->value_len = static_cast<uint32_t>(value.size());
  x->height = 1;
  char* p = mem + sizeof(node);
  if (!user_key.empty()) std::memcpy(p, user_key.data(), user_key.size());
  encode_fixed64(p + user_key.size(), tag);
  if (!value.empty()) std::memcpy(p + ikey_len, value.data(), value.size());

  node* parent = nullptr;
  node** place = unlocked_tree().find_link(user_key, tag, &parent);
  link(place, parent, x, key_hash, may_exist);
  count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  entry_bytes_.store(entry_bytes_.load(std::memory_order_relaxed) + ikey_len + value.size(),
                     std::memory_order_relaxed);
}

inline void memtable::link(node** link, node* parent, node* x, uint64_t key_hash, bool may_exist) {
  memtable_index& index = unlocked_index();
  std::optional<memtable_index> old;  // a grown index's old slots, freed after the lock
  if (index.needs_growth()) {
    // Enough for the keys this memtable will hold if the entries to come are like those so far
    // (arena bytes per key), so that most memtables grow their index once, while small.
    size_t keys = 0;
    if (byte_limit_ != 0) {
      keys = index.size() * (byte_limit_ / std::max<size_t>(bytes_in_use(), 1) + 1);
    }
    if (entry_limit_ != 0) keys = std::min(keys, entry_limit_);
    old.emplace(index.grown(keys));  // unlocked: the slots are only read
    exclusive_lock lock(mu_);
    std::swap(index_, *old);
    index_bytes_.store(index_.memory_usage(), std::memory_order_relaxed);
  }
  const size_t slot = index.slot_for(extract_user_key(x->key()), key_hash, may_exist);
  exclusive_lock lock(mu_);
  tree_.link(link, parent, x);
  index_.set(slot, x, key_hash);
}

inline bool memtable::get(std::string_view user_key, uint64_t key_hash, uint64_t snapshot,
                          value_type* type, std::string* value, uint64_t* seq) const {
  if (!may_contain(key_hash)) return false;
  // The first entry >= (user_key, snapshot) is the newest version visible at
  // the snapshot, if it still belongs to user_key.
  if (snapshot > max_sequence) snapshot = max_sequence;
  shared_lock lock(mu_);
  const node* n = nullptr;
  if (index_.usable()) {
    n = index_.find(user_key, key_hash);  // the newest version
    if (n == nullptr) return false;
    if (extract_sequence(n->key()) > snapshot) n = nullptr;  // an older one: the tree has it
  }
  if (n == nullptr) n = tree_.lower_bound(user_key, pack_tag(snapshot, value_type_for_seek));
  if (n == nullptr || compare_user_keys(extract_user_key(n->key()), user_key) != 0) return false;
  const uint64_t tag = extract_tag(n->key());
  *type = static_cast<value_type>(tag & 0xff);
  *seq = tag >> 8;
  if (*type == value_type::value) value->assign(n->value().data(), n->value_len);
  return true;
}

inline std::unique_ptr<internal_iterator> memtable::new_iterator() const {
  return std::make_unique<iterator>(*this);
}

inline bool memtable::check_invariants() const {
  shared_lock lock(mu_);
  return tree_.check();
}

}  // namespace lsmt::detail

#endif  // LSMT_MEMTABLE_HPP
