// lsmt/transaction.hpp - db::transaction: optimistic transactions with snapshot isolation.
//
// A transaction reads through a snapshot taken when it began, and buffers its writes in a batch
// and a map (so its own reads see them). commit() hands the batch to the write queue with a
// check that runs while no other write can interleave: a key the transaction read or wrote
// whose newest version (a range deletion over it counts) is newer than the snapshot is a
// conflict, and nothing is written.
//
// Iterators and range views of a transaction (lsmt/transaction_iterator.hpp) merge its writes,
// as of their creation, over its snapshot; every store key they position on counts as read.
// A key another writer adds to a range the transaction walked (a phantom) is not a conflict.
//
// Thread safety: a transaction, with its iterators and views, is used by one thread at a time.
#ifndef LSMT_TRANSACTION_HPP
#define LSMT_TRANSACTION_HPP

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "codec.hpp"
#include "engine.hpp"
#include "error.hpp"
#include "iterator.hpp"
#include "key_ranges.hpp"
#include "options.hpp"
#include "single_op.hpp"
#include "snapshot.hpp"
#include "transaction_iterator.hpp"
#include "write_batch.hpp"

namespace lsmt {

template <class Key, class Value, class KeyCodec, class ValueCodec>
class db;

/// An optimistic transaction with snapshot isolation. Reads see the store as
/// of begin_transaction() plus the transaction's own writes. commit() applies
/// every write atomically, or throws conflict_error (and applies nothing) if
/// another writer changed a key this transaction read or wrote since it began.
/// rollback() (or destruction without commit) discards everything.
///
/// Reads of ranges (new_iterator, range, scan, ...) return the same types as
/// db's, with the transaction's writes made before the iterator or view
/// merged in: a put shows its value, an erase hides the key. Each key read
/// from the store (by get, or positioned on by an iterator or view) is checked
/// at commit; keys another writer inserts into a range read are not
/// (phantoms go undetected, as in RocksDB's optimistic transactions).
///
/// After commit() (whether it succeeded or threw) or rollback(), every member
/// but active() and rollback() (a no-op then), and every member of the
/// transaction's iterators and views, throws invalid_argument_error
/// "lsmt: transaction already committed or rolled back".
/// Thread safety: one thread at a time, for the transaction and its iterators
/// and views together.
template <class Key, class Value, class KeyCodec, class ValueCodec>
class basic_transaction {
 public:
  using iterator = basic_iterator<Key, Value, KeyCodec, ValueCodec>;
  using view_type = range_view<Key, Value, KeyCodec, ValueCodec>;

  basic_transaction(basic_transaction&&) noexcept = default;
  /// Rolls this transaction back (its iterators and views then throw), then takes other's.
  basic_transaction& operator=(basic_transaction&& other) noexcept {
    if (this != &other) {
      rollback();
      engine_ = std::move(other.engine_);
      snap_ = std::move(other.snap_);
      batch_ = std::move(other.batch_);
      writes_ = std::move(other.writes_);
      state_ = std::move(other.state_);
    }
    return *this;
  }
  /// Destroying an uncommitted transaction rolls it back: its iterators and views then throw.
  ~basic_transaction() { rollback(); }

  void put(const Key& k, const Value& v) {
    ensure_active();
    std::string ek = ranges::encode(k);
    std::string ev;
    ValueCodec::encode(v, ev);
    batch_.put(ek, ev);
    writes_[std::move(ek)] = std::move(ev);
  }
  void erase(const Key& k) {
    ensure_active();
    std::string ek = ranges::encode(k);
    batch_.erase(ek);
    writes_[std::move(ek)] = std::nullopt;
  }
  /// The transaction's own write of k if any, else k as of begin_transaction().
  std::optional<Value> get(const Key& k) {
    std::string scratch;
    const std::string* v = lookup(k, scratch);
    if (v == nullptr) return std::nullopt;
    return ValueCodec::decode(*v);
  }
  /// The same into out: true with out filled if k has a value; false, with out left as it was,
  /// if not. Like db::get(k, out), a std::string out keeps its memory.
  bool get(const Key& k, Value& out) {
    detail::single_op op;
    const std::string* v = lookup(k, op.b->value);
    if (v == nullptr) return false;
    detail::decode_into<Value, ValueCodec>(*v, out);
    return true;
  }

  /// An iterator over every key, unpositioned: call seek_to_first() etc.
  iterator new_iterator() { return iterator(std::move(segments(ranges::scan()).front())); }
  /// An iterator over keys in [lower, upper) (either bound may be absent).
  iterator new_iterator(const std::optional<Key>& lower, const std::optional<Key>& upper) {
    return iterator(std::move(
        segments(ranges::one(ranges::encode_opt(lower), ranges::encode_opt(upper))).front()));
  }

  // The range queries of db, as this transaction sees the store.

  /// Keys in [start, end].
  view_type range(const Key& start, const Key& end) { return view(ranges::range(start, end)); }
  /// Keys outside [start, end] (every key, each once, if start > end).
  view_type not_in_range(const Key& start, const Key& end) {
    return view(ranges::not_in_range(start, end));
  }
  view_type greater_than(const Key& k) { return view(ranges::greater_than(k)); }
  view_type greater_or_equal(const Key& k) { return view(ranges::greater_or_equal(k)); }
  view_type less_than(const Key& k) { return view(ranges::less_than(k)); }
  view_type less_or_equal(const Key& k) { return view(ranges::less_or_equal(k)); }
  /// Every key except k.
  view_type all_except(const Key& k) { return view(ranges::all_except(k)); }
  /// Every key.
  view_type scan() { return view(ranges::scan()); }

  /// Applies every write atomically, or throws conflict_error and applies none.
  /// The transaction is finished either way.
  void commit(const write_options& wo = {}) {
    ensure_active();
    state_->finished = true;
    const uint64_t start = snap_.sequence();
    detail::engine* e = engine_.get();
    const std::set<std::string>& reads = state_->reads;
    const std::function<void()> check = [&] {
      auto changed = [&](const std::string& key) { return e->newest_sequence(key) > start; };
      bool conflict = false;
      for (const auto& key : reads) conflict = conflict || changed(key);
      for (const auto& kv : writes_) conflict = conflict || changed(kv.first);
      if (conflict) {
        throw conflict_error("lsmt: transaction conflict: a key it used changed after it began");
      }
    };
    try {
      e->write(batch_, wo.sync, &check);
    } catch (...) {
      snap_.release();
      throw;
    }
    snap_.release();
  }
  /// Discards every write. The transaction is finished. A no-op if it already is.
  void rollback() noexcept {
    if (state_) state_->finished = true;
    snap_.release();
  }
  bool active() const noexcept { return state_ && !state_->finished; }

 private:
  friend class db<Key, Value, KeyCodec, ValueCodec>;
  using ranges = detail::key_ranges<Key, KeyCodec>;

  basic_transaction(std::shared_ptr<detail::engine> engine, snapshot snap)
      : engine_(std::move(engine)),
        snap_(std::move(snap)),
        state_(std::make_shared<detail::transaction_state>()) {}
  void ensure_active() const {
    if (!active()) detail::throw_transaction_finished();  // finished, or moved from
    engine_->ensure_open();
  }

  // The bytes of k's value: the transaction's own write of it, or else its value at the
  // snapshot, read into scratch; null if it has none. A read from the store is recorded for
  // commit()'s conflict check.
  const std::string* lookup(const Key& k, std::string& scratch) {
    ensure_active();
    std::string ek = ranges::encode(k);
    if (auto it = writes_.find(ek); it != writes_.end()) return it->second ? &*it->second : nullptr;
    const bool found = engine_->get(ek, snap_.sequence(), scratch);
    state_->reads.insert(std::move(ek));
    return found ? &scratch : nullptr;
  }

  // One iterator per segment: the store at the snapshot, with the writes merged over it.
  std::vector<detail::user_iterator> segments(std::vector<detail::key_bounds> bounds) {
    ensure_active();
    auto bases = engine_->new_iterators(snap_.sequence(), bounds);
    std::vector<detail::user_iterator> out;
    out.reserve(bases.size());
    for (size_t i = 0; i < bases.size(); ++i) {
      out.emplace_back(std::make_unique<detail::transaction_iterator>(
          std::move(bases[i]), writes_, bounds[i].first, bounds[i].second, state_));
    }
    return out;
  }
  view_type view(std::vector<detail::key_bounds> bounds) {
    return view_type(segments(std::move(bounds)));
  }

  std::shared_ptr<detail::engine> engine_;
  snapshot snap_;
  detail::raw_batch batch_;
  detail::transaction_writes writes_;
  std::shared_ptr<detail::transaction_state> state_;  // shared with its iterators
};

}  // namespace lsmt

#endif  // LSMT_TRANSACTION_HPP
