// lsmt/iterator.hpp - typed iterators and range views over a store.
//
// basic_iterator walks keys in codec byte order in both directions, with
// seek, and decodes keys and values on demand. range_view is a lazily
// evaluated sequence of (key, value) pairs for range-based for, made of one or
// more [lower, upper) segments (two for "not in range" and "all but one key").
// Both see one consistent point in time: the moment they were created, or the
// snapshot they were given (a transaction's: its snapshot, with its own writes
// as of their creation merged in; lsmt/transaction_iterator.hpp). They pin the
// memtables and table files they read, so they stay valid while the store
// keeps writing, compacting, and even after it is closed.
//
// Thread safety: one thread at a time per iterator or view.
#ifndef LSMT_ITERATOR_HPP
#define LSMT_ITERATOR_HPP

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec.hpp"
#include "db_iterator.hpp"
#include "key_ranges.hpp"
#include "transaction_iterator.hpp"

namespace lsmt {

template <class Key, class Value, class KeyCodec, class ValueCodec>
class basic_iterator {
 public:
  /// What seek() takes: std::string_view for std::string keys (no copy), else const Key&.
  using key_arg = detail::arg_type<Key, KeyCodec>;

  explicit basic_iterator(std::unique_ptr<detail::db_iterator> it) : it_(std::move(it)) {}
  explicit basic_iterator(detail::user_iterator it) : it_(std::move(it)) {}

  bool valid() const { return it_.valid(); }
  void seek_to_first() { it_.seek_to_first(); }
  void seek_to_last() { it_.seek_to_last(); }
  /// First key >= k.
  void seek(key_arg k) { it_.seek(encoded(k)); }
  /// Last key <= k.
  void seek_for_prev(key_arg k) { it_.seek_before(encoded(k), true); }
  /// REQUIRES: valid().
  void next() { it_.next(); }
  /// REQUIRES: valid().
  void prev() { it_.prev(); }
  /// REQUIRES: valid().
  Key key() const { return KeyCodec::decode(it_.key()); }
  /// REQUIRES: valid().
  Value value() const { return ValueCodec::decode(it_.value()); }
  /// The encoded key and value; valid until the iterator moves.
  std::string_view raw_key() const { return it_.key(); }
  std::string_view raw_value() const { return it_.value(); }

 private:
  using keys = detail::key_ranges<Key, KeyCodec>;
  // The bytes to seek to: a std::string key's own (no copy), else its encoding.
  static auto encoded(key_arg k) {
    if constexpr (detail::is_raw_string_v<Key, KeyCodec>) {
      return k;
    } else {
      return keys::encode(k);
    }
  }

  detail::user_iterator it_;
};

template <class Key, class Value, class KeyCodec, class ValueCodec>
class range_view {
 public:
  using value_type = std::pair<Key, Value>;

  explicit range_view(std::vector<std::unique_ptr<detail::db_iterator>> segments) {
    segments_.reserve(segments.size());
    for (auto& s : segments) segments_.emplace_back(std::move(s));
  }
  explicit range_view(std::vector<detail::user_iterator> segments)
      : segments_(std::move(segments)) {}

  class const_iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::pair<Key, Value>;
    using difference_type = std::ptrdiff_t;
    using pointer = const value_type*;
    using reference = const value_type&;

    const_iterator() = default;
    reference operator*() const { return current_; }
    pointer operator->() const { return &current_; }
    const_iterator& operator++() {
      view_->segments_[segment_].next();
      settle();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      return a.view_ == b.view_ && a.segment_ == b.segment_;
    }
    friend bool operator!=(const const_iterator& a, const const_iterator& b) { return !(a == b); }

   private:
    friend class range_view;
    const_iterator(const range_view* v, size_t segment) : view_(v), segment_(segment) {
      if (view_ != nullptr) settle();
    }
    // Moves to the next valid segment if this one is exhausted, then decodes.
    void settle() {
      auto& segs = view_->segments_;
      while (segment_ < segs.size() && !segs[segment_].valid()) {
        if (++segment_ < segs.size()) segs[segment_].seek_to_first();
      }
      if (segment_ == segs.size()) {
        view_ = nullptr;
        segment_ = 0;
        return;
      }
      current_.first = KeyCodec::decode(segs[segment_].key());
      current_.second = ValueCodec::decode(segs[segment_].value());
    }
    const range_view* view_ = nullptr;
    size_t segment_ = 0;
    value_type current_{};
  };

  /// Starts (or restarts) the walk. Only one walk of a view is live at a time.
  const_iterator begin() const {
    if (segments_.empty()) return end();
    segments_.front().seek_to_first();
    return const_iterator(this, 0);
  }
  const_iterator end() const { return const_iterator(); }

  /// Collects the whole range into memory.
  std::vector<value_type> to_vector() const {
    std::vector<value_type> out;
    for (const auto& kv : *this) out.push_back(kv);
    return out;
  }
  bool empty() const { return begin() == end(); }

 private:
  mutable std::vector<detail::user_iterator> segments_;  // a (const) walk moves them
};

}  // namespace lsmt

#endif  // LSMT_ITERATOR_HPP
