// lsmt/merging_iterator.hpp - a k-way merge of sorted internal iterators.
//
// The children (memtables, SSTables) are merged with a binary heap whose top is
// the current entry: a min-heap while moving forward, a max-heap while moving
// backward. Moving one step costs O(log k) key comparisons and never touches
// more than the one child that moved, so a scan does not re-read whole tables.
// Changing direction re-seeks the other children around the current key once.
//
// A seek first asks every child for the cache lines its seek will read (prefetch_seek), then
// positions them, so their misses overlap; one child gains too (its first block's lines arrive
// together instead of one after another).
//
// Internal keys are unique across children (each sequence number is written
// once), so ties never need breaking. The heap keeps each child's current key
// beside it (refreshed whenever that child moves), so a heap step compares
// keys without calling into the children.
//
// Thread safety: one thread at a time, like every internal_iterator.
#ifndef LSMT_MERGING_ITERATOR_HPP
#define LSMT_MERGING_ITERATOR_HPP

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "internal_iterator.hpp"
#include "internal_key.hpp"

namespace lsmt::detail {

class merging_iterator final : public internal_iterator {
 public:
  explicit merging_iterator(std::vector<std::unique_ptr<internal_iterator>> children)
      : children_(std::move(children)) {
    heap_.reserve(children_.size());
  }

  bool valid() const override { return !heap_.empty(); }
  std::string_view key() const override { return heap_.front().key; }
  std::string_view value() const override { return heap_.front().child->value(); }
  std::string_view stored_value() const override { return heap_.front().child->stored_value(); }
  const blob_list* value_blobs() const override { return heap_.front().child->value_blobs(); }
  bool in_memory() const override { return heap_.front().child->in_memory(); }

  void seek_to_first() override {
    for (auto& c : children_) c->seek_to_first();
    rebuild(forward);
  }
  void seek_to_last() override {
    for (auto& c : children_) c->seek_to_last();
    rebuild(reverse);
  }
  void seek(std::string_view target) override {
    for (const auto& c : children_) c->prefetch_seek(target);
    for (const auto& c : children_) c->seek_prefetched(target);
    rebuild(forward);
  }

  void next() override {
    if (direction_ != forward) {
      // Every other child must move to its first entry after the current key.
      internal_iterator* current = heap_.front().child;
      const std::string k(heap_.front().key);
      for (auto& c : children_) {
        if (c.get() == current) continue;
        c->seek(k);
        if (c->valid() && compare_internal_keys(c->key(), k) == 0) c->next();
      }
      rebuild(forward);  // current still sits on k, the smallest key
    }
    heap_.front().child->next();
    fix_top();
  }

  void prev() override {
    if (direction_ != reverse) {
      // Every other child must move to its last entry before the current key.
      internal_iterator* current = heap_.front().child;
      const std::string k(heap_.front().key);
      for (auto& c : children_) {
        if (c.get() == current) continue;
        c->seek(k);
        if (c->valid()) {
          c->prev();
        } else {
          c->seek_to_last();
        }
        // A memtable child can gain entries between those two calls (a
        // concurrent write), leaving it on an entry past k; without this the
        // heap's top would not be `current` and the wrong child would step.
        while (c->valid() && compare_internal_keys(c->key(), k) >= 0) c->prev();
      }
      rebuild(reverse);
    }
    heap_.front().child->prev();
    fix_top();
  }

 private:
  enum direction_t { forward, reverse };

  struct entry {
    std::string_view key;  // child's current key, valid until the child moves
    internal_iterator* child;
  };

  // True when a must sit below b in the heap.
  bool below(const entry& a, const entry& b) const {
    const int c = compare_internal_keys(a.key, b.key);
    return direction_ == forward ? c > 0 : c < 0;
  }

  void rebuild(direction_t d) {
    direction_ = d;
    heap_.clear();
    for (auto& c : children_) {
      if (c->valid()) heap_.push_back({c->key(), c.get()});
    }
    for (size_t i = heap_.size() / 2; i-- > 0;) sift_down(i);
  }

  // The top child moved: drop it if exhausted, then restore the heap order.
  void fix_top() {
    entry& top = heap_.front();
    if (top.child->valid()) {
      top.key = top.child->key();
    } else {
      top = heap_.back();
      heap_.pop_back();
      if (heap_.empty()) return;
    }
    sift_down(0);
  }

  void sift_down(size_t i) {
    const size_t n = heap_.size();
    for (;;) {
      size_t best = i;
      const size_t l = 2 * i + 1;
      const size_t r = l + 1;
      if (l < n && below(heap_[best], heap_[l])) best = l;
      if (r < n && below(heap_[best], heap_[r])) best = r;
      if (best == i) return;
      std::swap(heap_[i], heap_[best]);
      i = best;
    }
  }

  std::vector<std::unique_ptr<internal_iterator>> children_;
  std::vector<entry> heap_;
  direction_t direction_ = forward;
};

}  // namespace lsmt::detail

#endif  // LSMT_MERGING_ITERATOR_HPP
