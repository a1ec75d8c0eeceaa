// lsmt/memtable_index.hpp - a hash index from each user key to a memtable's newest entry for it.
//
// A point read that the memtable's bloom filter lets through would otherwise descend the AVL
// tree: about log2(n) dependent loads, most of them cache misses once the memtable outgrows the
// cache, on lines the writer keeps changing as it links nodes in. The index finds the newest
// entry for a key with one or two: an open-addressing table (linear probing) of node pointers,
// each tagged in its top 16 bits (unused by user-space addresses on the 64-bit targets lsmt
// runs on) with 16 bits of the key's hash, so a probe follows only pointers whose tag matches.
// It starts small and grows, to the size its owner asks for, before it is three quarters full
// (hashing every key again: slots keep only 16 bits of the hash). A node whose address uses the
// top bits turns the index off for good (usable() is false), and reads descend the tree as
// before.
//
// Thread safety: none of its own. The memtable's mutex guards it: find() under the shared lock,
// set() and the swap with a grown() copy under the exclusive one. Only the memtable's single
// writer changes it, so that thread may call slot_for() and grown() without the lock.
#ifndef LSMT_MEMTABLE_INDEX_HPP
#define LSMT_MEMTABLE_INDEX_HPP

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "avl_tree.hpp"
#include "coding.hpp"
#include "hash.hpp"
#include "internal_key.hpp"

namespace lsmt::detail {

/// User key -> the memtable's newest node for it. Thread safety: see the file comment.
class memtable_index {
 public:
  using node = avl_tree::node;

  memtable_index() : memtable_index(min_slots) {}

  /// False once a node's address did not fit a slot: find() then knows nothing.
  bool usable() const noexcept { return usable_; }

  /// The newest node recorded for user_key (whose hash64 is key_hash), or null.
  const node* find(std::string_view user_key, uint64_t key_hash) const noexcept {
    const uint64_t tag = tag_of(key_hash);
    for (size_t i = key_hash & mask_;; i = (i + 1) & mask_) {
      const uint64_t s = slots_[i];
      if (s == 0) return nullptr;
      if ((s & tag_mask) == tag && user_key_of(node_of(s)) == user_key) return node_of(s);
    }
  }

  /// Starts loading the slot where slot_for() will begin, for a writer with other work to do
  /// first.
  void prefetch(uint64_t key_hash) const noexcept { prefetch_line(&slots_[key_hash & mask_]); }

  /// Where a node for user_key goes: the slot of its older version, else the first free slot.
  /// may_exist = false (the filter says the key is new) skips looking for an older version.
  size_t slot_for(std::string_view user_key, uint64_t key_hash, bool may_exist) const noexcept {
    const uint64_t tag = tag_of(key_hash);
    size_t i = key_hash & mask_;
    for (; slots_[i] != 0; i = (i + 1) & mask_) {
      if (may_exist && (slots_[i] & tag_mask) == tag &&
          user_key_of(node_of(slots_[i])) == user_key) {
        break;
      }
    }
    return i;
  }

  /// Records n at the slot slot_for() gave for it, unless that holds a newer version of its key.
  void set(size_t slot, const node* n, uint64_t key_hash) noexcept {
    const auto address = reinterpret_cast<uintptr_t>(n);
    if ((address & tag_mask) != 0) usable_ = false;
    if (!usable_) return;
    const uint64_t s = slots_[slot];
    if (s == 0) {
      ++count_;
    } else if (extract_tag(node_of(s)->key()) > extract_tag(n->key())) {
      return;  // n is an older version, added after a newer one (not done today, but harmless)
    }
    slots_[slot] = tag_of(key_hash) | address;
  }

  /// Whether the next new key would fill it past three quarters (then swap in a grown() one).
  bool needs_growth() const noexcept { return usable_ && (count_ + 1) * 4 > (mask_ + 1) * 3; }

  /// Keys recorded.
  size_t size() const noexcept { return count_; }

  /// A larger index holding the same nodes: twice the size, or room for `keys` under three
  /// quarters full if that is more. The caller swaps it in.
  memtable_index grown(size_t keys) const {
    size_t size = (mask_ + 1) * 2;
    while (size / 4 * 3 < keys) size *= 2;
    memtable_index bigger(size);
    for (size_t i = 0; i <= mask_; ++i) {
      const uint64_t s = slots_[i];
      if (s == 0) continue;
      // Slots keep 16 bits of their key's hash; the place in a larger table needs the rest.
      size_t j = hash64(user_key_of(node_of(s))) & bigger.mask_;
      while (bigger.slots_[j] != 0) j = (j + 1) & bigger.mask_;
      bigger.slots_[j] = s;
    }
    bigger.count_ = count_;
    bigger.usable_ = usable_;
    return bigger;
  }

  size_t memory_usage() const noexcept { return (mask_ + 1) * sizeof(uint64_t); }

 private:
  static constexpr size_t min_slots = 1024;

  explicit memtable_index(size_t slots)  // a power of two
      : slots_(std::make_unique<uint64_t[]>(slots)), mask_(slots - 1) {}

  static constexpr uint64_t tag_mask = uint64_t{0xffff} << 48;

  static uint64_t tag_of(uint64_t key_hash) noexcept { return (key_hash >> 32) << 48; }
  static const node* node_of(uint64_t slot) noexcept {
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the address set() stored, tag bits cleared
    return reinterpret_cast<const node*>(slot & ~tag_mask);
  }
  static std::string_view user_key_of(const node* n) noexcept {
    return {n->key_data(), n->ikey_len - tag_size};
  }

  std::unique_ptr<uint64_t[]> slots_;
  size_t mask_;
  size_t count_ = 0;
  bool usable_ = true;
};

}  // namespace lsmt::detail

#endif  // LSMT_MEMTABLE_INDEX_HPP
