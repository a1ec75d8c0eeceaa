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
// Either way, a value kept in a blob file is read only when value() is called.
//
// It counts the entries it steps over without showing them (older versions
// and deletions visible at its snapshot) that a merge of the tables would drop:
// SSTable entries hidden by a newer SSTable entry. (Memtable entries, and
// entries hidden by a memtable entry, wait for a flush first.) It reports them
// to a read_sampler, which asks the store to merge its tables once scans have
// stepped over enough of them (compaction_picker.hpp, read-triggered merges).
// It also reports how many tables above the bottom level its seeks positioned
// (seek-triggered merges), once told how many each seek positions (set_upper_tables).
//
// Its members are defined in db_iterator_impl.hpp (lsmt/config.hpp).
//
// Thread safety: one thread at a time. The sources it reads are kept alive by
// the `pin` it is given. read_sampler is thread-safe.
#ifndef LSMT_DB_ITERATOR_HPP
#define LSMT_DB_ITERATOR_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "block.hpp"
#include "config.hpp"
#include "internal_iterator.hpp"
#include "internal_key.hpp"

namespace lsmt::detail {

class internal_iterator;
class read_sampler;

/// A copy of one user key in a key_buffer (block.hpp): inline up to 64 bytes, so assigning a
/// short key is a memcpy, with no allocation and no call into the library (db_iterator copies
/// the key it shows at every step). Longer keys go to a heap buffer that grows and is reused.
class key_copy {
 public:
  /// REQUIRES: k does not point into this copy.
  void assign(std::string_view k) { key_ = buffer_.splice({}, 0, k); }
  void clear() { key_ = {}; }
  // NOLINTNEXTLINE(google-explicit-constructor): read wherever a std::string_view is wanted
  operator std::string_view() const { return key_; }

 private:
  key_buffer buffer_;
  std::string_view key_;
};

/// A [lower, upper) segment of user keys; nullopt is unbounded.
using key_bounds = std::pair<std::optional<std::string>, std::optional<std::string>>;

class db_iterator {
 public:
  db_iterator(std::unique_ptr<internal_iterator> inner, uint64_t snapshot,
              std::shared_ptr<const void> pin, std::optional<std::string> lower,
              std::optional<std::string> upper, std::shared_ptr<read_sampler> sampler = nullptr,
              std::function<range_cover(std::string_view)> covered_by = nullptr);
  db_iterator(const db_iterator&) = delete;
  db_iterator& operator=(const db_iterator&) = delete;
  ~db_iterator();

  bool valid() const { return valid_; }
  /// The key shown, while valid(); valid until the iterator moves.
  std::string_view key() const;
  /// Its value; valid until the iterator moves.
  std::string_view value() const;

  /// Each seek positions `tables` tables that seek-triggered merges would take away (its level-0
  /// tables, or 1 for the first sorted level above the bottom): each seek reports them to the
  /// sampler.
  void set_upper_tables(uint64_t tables) { upper_tables_ = tables; }

  void seek_to_first();

  void seek_to_last();

  /// First key >= target (clamped to the bounds).
  void seek(std::string_view target);

  /// Last key <= target (inclusive) or < target (exclusive), clamped to the bounds.
  void seek_before(std::string_view target, bool inclusive);

  void next();

  void prev();

 private:
  enum direction_t { forward, reverse };

  // Forward: stop at the first visible, live entry whose user key is past
  // saved_key_ (when skipping).
  void find_next_user_entry(bool skipping);

  // Backward: collect the newest visible version of the key before the inner
  // position; skip keys whose newest visible version is a deletion. Entries of
  // one key arrive oldest first, so what a key hides is known only once its
  // newest entry is seen; the count then follows the forward rule: when that
  // entry is in a table, the key's other table entries are hidden, and so is
  // the entry itself if it is a deletion.
  void find_prev_user_entry();

  // What hides this version (tag) of user_key: nothing (a value shown), a deletion (the entry
  // itself, or a range deletion in a table), or a range deletion in a memtable.
  enum class hider { none, deletion, range_in_memory };
  hider hider_of(std::string_view user_key, uint64_t tag) const;

  // Adds n to *pending, and hands it to the sampler through `report` once it reaches 1,024:
  // the iterator batches its samples so that the sampler's atomics are rarely touched.
  void tally(uint64_t* pending, uint64_t n, void (read_sampler::*report)(uint64_t));
  void count_hidden(uint64_t n);
  void count_seek();

  // pin_ is declared first so it is released last, after the iterators over what it pins.
  std::shared_ptr<const void> pin_;  // keeps memtables and tables alive
  std::unique_ptr<internal_iterator> inner_;
  uint64_t snapshot_;
  std::optional<std::string> lower_;
  std::optional<std::string> upper_;
  direction_t direction_ = forward;
  bool valid_ = false;
  key_copy saved_key_;
  // Backward: the shown value, or the blob reference value() reads once (then saved_blobs_,
  // the blob files of its table, is null again).
  mutable std::string saved_value_;
  mutable const blob_list* saved_blobs_ = nullptr;
  uint64_t saved_sequence_ = 0;            // of the shown entry, for its blob reference
  std::shared_ptr<read_sampler> sampler_;  // null: nothing is counted
  std::function<range_cover(std::string_view)> covered_by_;  // null: no range deletion applies
  bool hider_in_table_ = false;  // forward: saved_key_'s newest entry is in a table
  key_copy prev_key_;            // backward: the key whose entries are being read
  uint64_t skipped_ = 0;         // hidden entries not yet reported
  uint64_t upper_tables_ = 0;    // tables above the bottom each seek positions (set_upper_tables)
  uint64_t upper_seeks_ = 0;     // of those, positioned and not yet reported
};

}  // namespace lsmt::detail

#ifndef LSMT_SEPARATE_COMPILATION
#include "db_iterator_impl.hpp"
#endif

#endif  // LSMT_DB_ITERATOR_HPP
