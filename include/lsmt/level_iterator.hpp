// lsmt/level_iterator.hpp - one iterator over a sorted level: its tables, one after another.
//
// The tables of a sorted level are in key order and share no user key, so the level reads as one
// sorted run. Only one table is open at a time: a seek finds its table by a binary search over
// the tables' largest keys (version::search_level) and opens that table alone, and a step past a
// table's end opens the next one. A merge over the levels therefore holds one table iterator per
// level, not one per table, and it is a member, re-pointed at each table it reads, so opening a
// table allocates nothing.
//
// Entries whose value is in a blob file (blob indexes) show that value: value() reads it.
//
// Thread safety: one thread at a time, like every internal_iterator. The version must outlive
// it (the read view it was made from pins it).
#ifndef LSMT_LEVEL_ITERATOR_HPP
#define LSMT_LEVEL_ITERATOR_HPP

#include <cstddef>
#include <string_view>

#include "internal_iterator.hpp"
#include "internal_key.hpp"
#include "table_iter.hpp"
#include "version.hpp"

namespace lsmt::detail {

class level_iterator final : public internal_iterator {
 public:
  /// Iterates tables [first, last) of sorted level `level` (>= 1) of `v`.
  level_iterator(const version& v, size_t level, size_t first, size_t last)
      : version_(v), level_(level), tables_(v.levels[level]), first_(first), last_(last) {}

  bool valid() const override { return open_ && iter_.valid(); }
  void seek_to_first() override {
    open(first_);
    if (open_) iter_.seek_to_first();
    skip_forward();
  }
  void seek_to_last() override {
    open(last_ == first_ ? last_ : last_ - 1);
    if (open_) iter_.seek_to_last();
    skip_backward();
  }
  void seek(std::string_view target) override {
    seek_from(find_table(target), target, table_reader::no_hint);
  }
  void prefetch_seek(std::string_view target) override {
    hint_table_ = find_table(target);
    if (hint_table_ < last_) hint_block_ = tables_[hint_table_]->reader().prefetch_seek(target);
  }
  void seek_prefetched(std::string_view target) override {
    seek_from(hint_table_, target, hint_block_);
  }
  void next() override {
    iter_.next();
    skip_forward();
  }
  void prev() override {
    iter_.prev();
    skip_backward();
  }
  std::string_view key() const override { return iter_.key(); }
  /// For a blob index, the value its reference names (blob_set.hpp).
  std::string_view value() const override {
    return blob_values_.resolve(tables_[index_]->blobs(), iter_.key(), iter_.value());
  }
  std::string_view stored_value() const override { return iter_.value(); }
  const blob_list* value_blobs() const override {
    return extract_type(iter_.key()) == value_type::blob_index ? &tables_[index_]->blobs()
                                                               : nullptr;
  }

 private:
  // The first table in [first_, last_) whose largest key is >= target, or last_.
  size_t find_table(std::string_view target) const {
    return version_.search_level(level_, extract_user_key(target), first_, last_,
                                 [target](const table_handle& t) {
                                   return compare_internal_keys(t.meta().largest, target) < 0;
                                 });
  }
  // Seeks table i (find_table(target)) to target, `hint` its prefetch_seek result or no_hint,
  // and moves on to the next tables if it ends before target.
  void seek_from(size_t i, std::string_view target, uint32_t hint) {
    open(i);
    if (open_) iter_.seek_near(target, hint);
    skip_forward();
  }
  // Makes table i current (none if i is past the range).
  void open(size_t i) {
    if (i >= last_) {
      close();
      return;
    }
    if (!open_ || i != index_) {
      iter_.set_table(&tables_[i]->reader());
      open_ = true;
      index_ = i;
    }
  }
  // No table current; the block iter_ last read (a cached one) is let go.
  void close() {
    open_ = false;
    iter_.set_table(nullptr);
  }
  void skip_forward() {
    while (open_ && !iter_.valid()) {
      if (index_ + 1 >= last_) {
        close();
        return;
      }
      open(index_ + 1);
      iter_.seek_to_first();
    }
  }
  void skip_backward() {
    while (open_ && !iter_.valid()) {
      if (index_ == first_) {
        close();
        return;
      }
      open(index_ - 1);
      iter_.seek_to_last();
    }
  }

  const version& version_;
  const size_t level_;
  const table_list& tables_;  // version_.levels[level_]
  const size_t first_;
  const size_t last_;
  size_t index_ = 0;   // the table iter_ reads
  table_iter iter_;    // re-pointed at each table in turn
  bool open_ = false;  // iter_ reads table index_ (else: not positioned)
  // What the last prefetch_seek found: the table, and the block its fences allow.
  size_t hint_table_ = 0;
  uint32_t hint_block_ = table_reader::no_hint;
  mutable blob_value_reader blob_values_;  // value() is const, and reads a blob at most once
};

}  // namespace lsmt::detail

#endif  // LSMT_LEVEL_ITERATOR_HPP
