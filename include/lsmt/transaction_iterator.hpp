// lsmt/transaction_iterator.hpp - a transaction's reads of ranges: its own writes merged over
// the store as of its snapshot; and user_iterator, which basic_iterator and range_view hold.
//
// transaction_iterator walks the union of two sorted sources within [lower, upper): a
// db_iterator over the store at the transaction's snapshot, and a copy of the transaction's
// writes in those bounds, taken when the iterator is made (later writes of the transaction do
// not show). For a key in both, the transaction's write wins: a put shows its value, an erase
// hides the key. Both directions, seeks and direction changes are supported, as db_iterator.
//
// Conflicts: every key it positions on that comes from the store is added to the
// transaction's read set, so commit() fails if another writer changed it after the
// transaction began. Keys it skips or never reaches are not; nor is a key another writer adds
// to a range it walked (a phantom): that goes undetected, as in RocksDB's optimistic
// transactions. Once the transaction commits or rolls back, every member throws
// invalid_argument_error.
//
// user_iterator is a db_iterator or a transaction_iterator. It chooses with a branch, not a
// virtual call, so a store iterator's calls stay direct.
//
// Thread safety: one thread at a time, for a transaction and all its iterators together (they
// share the read set). The store's sources are pinned by the db_iterator inside.
#ifndef LSMT_TRANSACTION_ITERATOR_HPP
#define LSMT_TRANSACTION_ITERATOR_HPP

#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "db_iterator.hpp"
#include "error.hpp"

namespace lsmt::detail {

/// What a transaction shares with its iterators.
struct transaction_state {
  std::set<std::string> reads;  // store keys read: checked for conflicts at commit
  bool finished = false;        // committed or rolled back
};

/// What using a finished (committed, rolled back or moved-from) transaction throws.
[[noreturn]] inline void throw_transaction_finished() {
  throw invalid_argument_error("lsmt: transaction already committed or rolled back");
}

/// A transaction's writes by encoded key; nullopt is an erase. Looked up by string_view too.
using transaction_writes = std::map<std::string, std::optional<std::string>, std::less<>>;

class transaction_iterator {
 public:
  /// base: the store at the snapshot, bounded by [lower, upper); writes: the transaction's.
  transaction_iterator(std::unique_ptr<db_iterator> base, const transaction_writes& writes,
                       const std::optional<std::string>& lower,
                       const std::optional<std::string>& upper,
                       std::shared_ptr<transaction_state> state)
      : base_(std::move(base)), state_(std::move(state)) {
    if (!(lower && upper && *upper <= *lower)) {  // else the bounds hold nothing
      writes_.insert(lower ? writes.lower_bound(*lower) : writes.begin(),
                     upper ? writes.lower_bound(*upper) : writes.end());
    }
    w_ = writes_.end();
  }
  transaction_iterator(const transaction_iterator&) = delete;  // w_ points into writes_
  transaction_iterator& operator=(const transaction_iterator&) = delete;

  bool valid() const {
    check();
    return valid_;
  }
  /// REQUIRES: valid(). Valid until the iterator moves.
  std::string_view key() const {
    check();
    return from_writes_ ? std::string_view(w_->first) : base_->key();
  }
  std::string_view value() const {
    check();
    return from_writes_ ? std::string_view(*w_->second) : base_->value();
  }

  void seek_to_first() {
    check();
    base_->seek_to_first();
    w_ = writes_.begin();
    settle_forward();
  }
  void seek_to_last() {
    check();
    base_->seek_to_last();
    w_ = last_at_or_before(writes_.end());
    settle_backward();
  }
  /// First key >= target.
  void seek(std::string_view target) {
    check();
    base_->seek(target);  // the copy of the writes holds nothing outside the bounds
    w_ = writes_.lower_bound(target);
    settle_forward();
  }
  /// Last key <= target (inclusive) or < target (exclusive).
  void seek_before(std::string_view target, bool inclusive) {
    check();
    base_->seek_before(target, inclusive);
    w_ = last_at_or_before(inclusive ? writes_.upper_bound(target) : writes_.lower_bound(target));
    settle_backward();
  }
  /// REQUIRES: valid().
  void next() {
    check();
    if (direction_ == reverse) {
      // Reposition both sources just past the current key.
      std::string k(key());
      w_ = writes_.upper_bound(k);
      k.push_back('\0');  // the smallest key after it
      base_->seek(k);
    } else {
      if (from_writes_) {
        if (base_->valid() && base_->key() == w_->first) base_->next();
        ++w_;
      } else {
        base_->next();
      }
    }
    settle_forward();
  }
  /// REQUIRES: valid().
  void prev() {
    check();
    if (direction_ == forward) {
      // Reposition both sources just before the current key.
      const std::string k(key());
      w_ = last_at_or_before(writes_.lower_bound(k));
      base_->seek_before(k, /*inclusive=*/false);
    } else {
      if (from_writes_) {
        if (base_->valid() && base_->key() == w_->first) base_->prev();
        w_ = last_at_or_before(w_);
      } else {
        base_->prev();
      }
    }
    settle_backward();
  }

 private:
  enum direction_t { forward, reverse };

  void check() const {
    if (state_->finished) throw_transaction_finished();
  }

  // The write before `it` (writes_.end() if none): backward, w_ == end() means exhausted.
  transaction_writes::iterator last_at_or_before(transaction_writes::iterator it) {
    return it == writes_.begin() ? writes_.end() : std::prev(it);
  }

  // Forward: w_ and base_ are at their first entries >= the position. Shows the smaller key;
  // a write wins a tie; an erase hides the key (and the store's entry for it).
  void settle_forward() {
    direction_ = forward;
    for (;;) {
      const bool have_w = w_ != writes_.end();
      if (!base_->valid() && !have_w) return finish(false, false);
      if (have_w && (!base_->valid() || w_->first <= base_->key())) {
        if (w_->second) return finish(true, true);
        if (base_->valid() && base_->key() == w_->first) base_->next();
        ++w_;
        continue;
      }
      return finish(true, false);
    }
  }
  // Backward: w_ and base_ are at their last entries <= the position (w_ == end(): none).
  void settle_backward() {
    direction_ = reverse;
    for (;;) {
      const bool have_w = w_ != writes_.end();
      if (!base_->valid() && !have_w) return finish(false, false);
      if (have_w && (!base_->valid() || w_->first >= base_->key())) {
        if (w_->second) return finish(true, true);
        if (base_->valid() && base_->key() == w_->first) base_->prev();
        w_ = last_at_or_before(w_);
        continue;
      }
      return finish(true, false);
    }
  }
  void finish(bool valid, bool from_writes) {
    valid_ = valid;
    from_writes_ = from_writes;
    if (valid && !from_writes) state_->reads.emplace(base_->key());  // returned: a read
  }

  std::unique_ptr<db_iterator> base_;
  transaction_writes writes_;  // the writes in bounds, as of creation
  transaction_writes::iterator w_;
  std::shared_ptr<transaction_state> state_;
  direction_t direction_ = forward;
  bool valid_ = false;
  bool from_writes_ = false;  // the current entry is w_ (else base_)
};

/// A db_iterator or a transaction_iterator, with db_iterator's interface.
class user_iterator {
 public:
  explicit user_iterator(std::unique_ptr<db_iterator> it) : db_(std::move(it)) {}
  explicit user_iterator(std::unique_ptr<transaction_iterator> it) : tx_(std::move(it)) {}

  bool valid() const { return tx_ ? tx_->valid() : db_->valid(); }
  std::string_view key() const { return tx_ ? tx_->key() : db_->key(); }
  std::string_view value() const { return tx_ ? tx_->value() : db_->value(); }
  void seek_to_first() { tx_ ? tx_->seek_to_first() : db_->seek_to_first(); }
  void seek_to_last() { tx_ ? tx_->seek_to_last() : db_->seek_to_last(); }
  void seek(std::string_view target) { tx_ ? tx_->seek(target) : db_->seek(target); }
  void seek_before(std::string_view target, bool inclusive) {
    tx_ ? tx_->seek_before(target, inclusive) : db_->seek_before(target, inclusive);
  }
  void next() { tx_ ? tx_->next() : db_->next(); }
  void prev() { tx_ ? tx_->prev() : db_->prev(); }

 private:
  std::unique_ptr<db_iterator> db_;
  std::unique_ptr<transaction_iterator> tx_;
};

}  // namespace lsmt::detail

#endif  // LSMT_TRANSACTION_ITERATOR_HPP
