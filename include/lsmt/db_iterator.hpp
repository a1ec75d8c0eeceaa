// lsmt/db_iterator.hpp - the user's view of a merged stream of internal entries.
//
// Underneath is a merging_iterator over every memtable and SSTable, yielding
// every version of every key. db_iterator shows one entry per user key: the
// newest version with sequence <= the snapshot, and no key whose newest such
// version is a deletion, or is covered by a range deletion (covered_by gives
// the newest range deletion over a key that the snapshot sees). It honours an
// optional [lower, upper) bound on user keys.
//
// Positioning invariant:
//   moving forward: the inner iterator sits on the entry shown; key() and
//                   value() are views into it.
//   moving backward: the inner iterator sits just before every entry of the
//                   shown key; key() and value() are copies (saved_*).
//
// It counts the entries it steps over without showing them (older versions
// and deletions visible at its snapshot) that a merge of the tables would drop:
// SSTable entries hidden by a newer SSTable entry. (Memtable entries, and
// entries hidden by a memtable entry, wait for a flush first.) It reports them
// to a read_sampler, which asks the store to merge its tables once scans have
// stepped over enough of them (compaction_picker.hpp, read-triggered merges).
//
// Thread safety: one thread at a time. The sources it reads are kept alive by
// the `pin` it is given. read_sampler is thread-safe.
#ifndef LSMT_DB_ITERATOR_HPP
#define LSMT_DB_ITERATOR_HPP

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "compaction_picker.hpp"
#include "internal_iterator.hpp"
#include "internal_key.hpp"
#include "range_tombstones.hpp"

namespace lsmt::detail {

class db_iterator {
 public:
  db_iterator(std::unique_ptr<internal_iterator> inner, uint64_t snapshot,
              std::shared_ptr<const void> pin, std::optional<std::string> lower,
              std::optional<std::string> upper, std::shared_ptr<read_sampler> sampler = nullptr,
              std::function<range_cover(std::string_view)> covered_by = nullptr)
      : pin_(std::move(pin)),
        inner_(std::move(inner)),
        snapshot_(snapshot),
        lower_(std::move(lower)),
        upper_(std::move(upper)),
        sampler_(std::move(sampler)),
        covered_by_(std::move(covered_by)) {}
  db_iterator(const db_iterator&) = delete;
  db_iterator& operator=(const db_iterator&) = delete;
  ~db_iterator() {
    try {
      if (sampler_ && skipped_ > 0) sampler_->add(skipped_);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a lost sample only delays a merge
    }
  }

  bool valid() const { return valid_; }
  std::string_view key() const {
    return direction_ == forward ? extract_user_key(inner_->key()) : std::string_view(saved_key_);
  }
  std::string_view value() const {
    return direction_ == forward ? inner_->value() : std::string_view(saved_value_);
  }

  void seek_to_first() {
    direction_ = forward;
    if (lower_) {
      inner_->seek(make_lookup_key(*lower_, snapshot_));
    } else {
      inner_->seek_to_first();
    }
    find_next_user_entry(false);
  }

  void seek_to_last() {
    if (upper_) {
      seek_before(*upper_, /*inclusive=*/false);
    } else {
      inner_->seek_to_last();
      direction_ = reverse;
      find_prev_user_entry();
    }
  }

  /// First key >= target (clamped to the bounds).
  void seek(std::string_view target) {
    if (lower_ && compare_user_keys(target, *lower_) < 0) target = *lower_;
    direction_ = forward;
    inner_->seek(make_lookup_key(target, snapshot_));
    find_next_user_entry(false);
  }

  /// Last key <= target (inclusive) or < target (exclusive), clamped to the bounds.
  void seek_before(std::string_view target, bool inclusive) {
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

  void next() {
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

  void prev() {
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

 private:
  enum direction_t { forward, reverse };

  // Forward: stop at the first visible, live entry whose user key is past
  // saved_key_ (when skipping).
  void find_next_user_entry(bool skipping) {
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

  // Backward: collect the newest visible version of the key before the inner
  // position; skip keys whose newest visible version is a deletion. Entries of
  // one key arrive oldest first, so what a key hides is known only once its
  // newest entry is seen; the count then follows the forward rule: when that
  // entry is in a table, the key's other table entries are hidden, and so is
  // the entry itself if it is a deletion.
  void find_prev_user_entry() {
    bool have_value = false;
    uint64_t hidden = 0;
    bool have_key = false;         // prev_key_ holds the key being read
    uint64_t table_entries = 0;    // its visible entries that are in tables
    bool newest_in_table = false;  // where its newest entry so far is
    bool newest_is_value = false;
    auto finish_key = [&] {
      if (have_key && newest_in_table) hidden += table_entries - (newest_is_value ? 1 : 0);
    };
    while (inner_->valid()) {
      const std::string_view ikey = inner_->key();
      const uint64_t tag = extract_tag(ikey);
      if ((tag >> 8) <= snapshot_) {
        const std::string_view user_key = extract_user_key(ikey);
        if (lower_ && compare_user_keys(user_key, *lower_) < 0) break;
        // Entries of one key arrive oldest first: the last seen wins.
        if (have_value && compare_user_keys(user_key, saved_key_) < 0) break;
        if (!have_key || compare_user_keys(user_key, prev_key_) != 0) {
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
        if (!newest_is_value) {
          have_value = false;
          saved_key_.clear();
          saved_value_.clear();
        } else {
          have_value = true;
          saved_key_.assign(user_key);
          saved_value_.assign(inner_->value());
        }
      }
      inner_->prev();
    }
    finish_key();
    valid_ = have_value;
    if (!valid_) {
      saved_key_.clear();
      saved_value_.clear();
    }
    count_hidden(hidden);
  }

  // What hides this version (tag) of user_key: nothing (a value shown), a deletion (the entry
  // itself, or a range deletion in a table), or a range deletion in a memtable.
  enum class hider { none, deletion, range_in_memory };
  hider hider_of(std::string_view user_key, uint64_t tag) const {
    if (static_cast<value_type>(tag & 0xff) == value_type::deletion) return hider::deletion;
    if (!covered_by_) return hider::none;
    const range_cover c = covered_by_(user_key);
    if (c.seq <= (tag >> 8)) return hider::none;
    return c.in_memory ? hider::range_in_memory : hider::deletion;
  }

  void count_hidden(uint64_t n) {
    skipped_ += n;
    if (skipped_ >= 1024 && sampler_) {
      sampler_->add(skipped_);
      skipped_ = 0;
    }
  }

  // pin_ is declared first so it is released last, after the iterators over what it pins.
  std::shared_ptr<const void> pin_;  // keeps memtables and tables alive
  std::unique_ptr<internal_iterator> inner_;
  uint64_t snapshot_;
  std::optional<std::string> lower_;
  std::optional<std::string> upper_;
  direction_t direction_ = forward;
  bool valid_ = false;
  std::string saved_key_;
  std::string saved_value_;
  std::shared_ptr<read_sampler> sampler_;                    // null: nothing is counted
  std::function<range_cover(std::string_view)> covered_by_;  // null: no range deletion applies
  bool hider_in_table_ = false;  // forward: saved_key_'s newest entry is in a table
  std::string prev_key_;         // backward: the key whose entries are being read
  uint64_t skipped_ = 0;         // hidden entries not yet reported
};

}  // namespace lsmt::detail

#endif  // LSMT_DB_ITERATOR_HPP
