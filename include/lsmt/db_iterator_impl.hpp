// lsmt/db_iterator_impl.hpp - the members of db_iterator (db_iterator.hpp), which describes
// what it shows and how it moves.
#ifndef LSMT_DB_ITERATOR_IMPL_HPP
#define LSMT_DB_ITERATOR_IMPL_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "blob_set.hpp"
#include "block.hpp"
#include "db_iterator.hpp"
#include "internal_iterator.hpp"
#include "internal_key.hpp"
#include "range_tombstones.hpp"
#include "read_sampler.hpp"

namespace lsmt::detail {

LSMT_INLINE db_iterator::db_iterator(std::unique_ptr<internal_iterator> inner, uint64_t snapshot,
                                     std::shared_ptr<const void> pin,
                                     std::optional<std::string> lower,
                                     std::optional<std::string> upper,
                                     std::shared_ptr<read_sampler> sampler,
                                     std::function<range_cover(std::string_view)> covered_by)
    : pin_(std::move(pin)),
      inner_(std::move(inner)),
      snapshot_(snapshot),
      lower_(std::move(lower)),
      upper_(std::move(upper)),
      sampler_(std::move(sampler)),
      covered_by_(std::move(covered_by)) {}

LSMT_INLINE db_iterator::~db_iterator() {
  try {
    if (sampler_ && skipped_ > 0) sampler_->add(skipped_);
    if (sampler_ && upper_seeks_ > 0) sampler_->add_upper_seeks(upper_seeks_);
  } catch (...) {  // NOLINT(bugprone-empty-catch): a lost sample only delays a merge
  }
}

LSMT_INLINE std::string_view db_iterator::key() const {
  return direction_ == forward ? extract_user_key(inner_->key()) : std::string_view(saved_key_);
}

LSMT_INLINE std::string_view db_iterator::value() const {
  if (direction_ == forward) return inner_->value();
  if (saved_blobs_ != nullptr) {  // saved_value_ holds a blob reference: read what it names
    read_blob_value(*saved_blobs_, saved_key_, saved_sequence_, saved_value_, saved_value_);
    saved_blobs_ = nullptr;
  }
  return saved_value_;
}

LSMT_INLINE void db_iterator::seek_to_first() {
  count_seek();
  direction_ = forward;
  if (lower_) {
    key_buffer buffer;
    inner_->seek(lookup_key_in(buffer, *lower_, snapshot_));
  } else {
    inner_->seek_to_first();
  }
  find_next_user_entry(false);
}

LSMT_INLINE void db_iterator::seek_to_last() {
  if (upper_) {
    seek_before(*upper_, /*inclusive=*/false);
  } else {
    count_seek();
    inner_->seek_to_last();
    direction_ = reverse;
    find_prev_user_entry();
  }
}

LSMT_INLINE void db_iterator::seek(std::string_view target) {
  if (lower_ && compare_user_keys(target, *lower_) < 0) target = *lower_;
  count_seek();
  direction_ = forward;
  key_buffer buffer;  // a user key of up to 56 bytes seeks without an allocation
  inner_->seek(lookup_key_in(buffer, target, snapshot_));
  find_next_user_entry(false);
}

LSMT_INLINE void db_iterator::seek_before(std::string_view target, bool inclusive) {
  if (upper_ && compare_user_keys(target, *upper_) >= 0) {
    target = *upper_;
    inclusive = false;
  }
  // The smallest internal key of `target` is (target, 0, deletion); the largest
  // is (target, max, value). Seeking just past the side we keep and stepping
  // back leaves the inner iterator on the last entry to consider.
  std::string ikey;
  if (inclusive) {
    append_internal_key(ikey, target, 0, value_type::deletion);
  } else {
    append_internal_key(ikey, target, max_sequence, value_type_for_seek);
  }
  count_seek();
  inner_->seek(ikey);
  if (inner_->valid()) {
    // With `inclusive`, (target, 0, deletion) never exists (sequences start at 1),
    // so the entry found lies past target; exclusive lands on target's newest entry.
    inner_->prev();
  } else {
    inner_->seek_to_last();
  }
  direction_ = reverse;
  find_prev_user_entry();
}

LSMT_INLINE void db_iterator::next() {
  if (direction_ == reverse) {
    // inner_ sits before the entries of key(); step into them so the skipping
    // below passes all of them.
    direction_ = forward;
    hider_in_table_ = false;  // the entries of key() were counted on the way back
    if (inner_->valid()) {
      inner_->next();
    } else {
      inner_->seek_to_first();
    }
  } else {
    saved_key_.assign(extract_user_key(inner_->key()));
    hider_in_table_ = !inner_->in_memory();
    inner_->next();
  }
  // saved_key_ holds the key just shown: skip its older versions.
  find_next_user_entry(true);
}

LSMT_INLINE void db_iterator::prev() {
  if (direction_ == forward) {
    // Walk back to before every entry of the current key.
    saved_key_.assign(extract_user_key(inner_->key()));
    for (;;) {
      inner_->prev();
      if (!inner_->valid()) break;
      if (compare_user_keys(extract_user_key(inner_->key()), saved_key_) < 0) break;
    }
    direction_ = reverse;
  }
  find_prev_user_entry();
}

LSMT_INLINE void db_iterator::find_next_user_entry(bool skipping) {
  uint64_t hidden = 0;
  valid_ = false;
  while (inner_->valid()) {
    const std::string_view ikey = inner_->key();
    const uint64_t tag = extract_tag(ikey);
    if ((tag >> 8) <= snapshot_) {
      const std::string_view user_key = extract_user_key(ikey);
      if (upper_ && compare_user_keys(user_key, *upper_) >= 0) break;
      if (skipping && compare_user_keys(user_key, saved_key_) <= 0) {
        // an older version of a key shown or deleted
        hidden += hider_in_table_ && !inner_->in_memory() ? 1 : 0;
      } else if (const hider h = hider_of(user_key, tag); h != hider::none) {
        saved_key_.assign(user_key);  // hide every older version of it
        skipping = true;
        // A merge of the tables drops what hides behind a table entry: not while a range
        // deletion in a memtable is what hides it.
        hider_in_table_ = !inner_->in_memory() && h != hider::range_in_memory;
        hidden += hider_in_table_ ? 1 : 0;
      } else {
        valid_ = true;
        break;
      }
    }
    inner_->next();
  }
  count_hidden(hidden);
}

LSMT_INLINE void db_iterator::find_prev_user_entry() {
  uint64_t hidden = 0;
  bool have_key = false;         // prev_key_ holds the key being read
  uint64_t table_entries = 0;    // its visible entries that are in tables
  bool newest_in_table = false;  // where its newest entry so far is
  bool newest_is_value = false;  // and whether it is a visible value
  auto finish_key = [&] {
    if (have_key && newest_in_table) hidden += table_entries - (newest_is_value ? 1 : 0);
  };
  while (inner_->valid()) {
    const std::string_view ikey = inner_->key();
    const uint64_t tag = extract_tag(ikey);
    if ((tag >> 8) <= snapshot_) {
      const std::string_view user_key = extract_user_key(ikey);
      if (lower_ && compare_user_keys(user_key, *lower_) < 0) break;
      // Entries of one key arrive oldest first: the last seen wins. Keys arrive in descending
      // order, so a different key is an older one: once a value is found, it ends the search.
      if (!have_key || compare_user_keys(user_key, prev_key_) != 0) {
        if (newest_is_value) break;
        finish_key();
        prev_key_.assign(user_key);
        have_key = true;
        table_entries = 0;
      }
      const bool in_table = !inner_->in_memory();
      table_entries += in_table ? 1 : 0;
      const hider h = hider_of(user_key, tag);
      newest_in_table = in_table && h != hider::range_in_memory;  // as forward
      newest_is_value = h == hider::none;
      if (newest_is_value) {
        // Keep the stored value: an older version's blob is never read, as it is not shown.
        saved_value_.assign(inner_->stored_value());
        saved_blobs_ = inner_->value_blobs();
        saved_sequence_ = tag >> 8;
      }
    }
    inner_->prev();
  }
  finish_key();
  valid_ = newest_is_value;
  if (valid_) {
    saved_key_.assign(prev_key_);  // the key found; prev_key_ is rebuilt by the next call
  } else {
    saved_key_.clear();
    saved_value_.clear();
    saved_blobs_ = nullptr;
  }
  count_hidden(hidden);
}

LSMT_INLINE db_iterator::hider db_iterator::hider_of(std::string_view user_key,
                                                     uint64_t tag) const {
  if (static_cast<value_type>(tag & 0xff) == value_type::deletion) return hider::deletion;
  if (!covered_by_) return hider::none;
  const range_cover c = covered_by_(user_key);
  if (c.seq <= (tag >> 8)) return hider::none;
  return c.in_memory ? hider::range_in_memory : hider::deletion;
}

LSMT_INLINE void db_iterator::tally(uint64_t* pending, uint64_t n,
                                    void (read_sampler::*report)(uint64_t)) {
  *pending += n;
  if (*pending >= 1024 && sampler_) {
    ((*sampler_).*report)(*pending);
    *pending = 0;
  }
}

LSMT_INLINE void db_iterator::count_hidden(uint64_t n) { tally(&skipped_, n, &read_sampler::add); }

LSMT_INLINE void db_iterator::count_seek() {
  tally(&upper_seeks_, upper_tables_, &read_sampler::add_upper_seeks);
}

}  // namespace lsmt::detail

#endif  // LSMT_DB_ITERATOR_IMPL_HPP
