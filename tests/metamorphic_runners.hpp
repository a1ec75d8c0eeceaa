// tests/metamorphic_runners.hpp - the two executors of the metamorphic test
// (metamorphic_test.cpp). Each applies one operation of a history (metamorphic_history.hpp) and
// returns one line of text saying what it observed; writes say "ok". The model executor keeps a
// std::map (a copy per snapshot, transaction and iterator: what it sees); the store executor runs
// the calls on an lsmt::db<>. Identical lines from both mean identical behaviour, so a
// configuration passes when its lines equal the model's.
//
// Some calls need a valid iterator (next, prev): both executors check valid() first and print
// "not valid" instead, so a history never has to know in advance where an iterator stands.
#ifndef LSMT_TEST_METAMORPHIC_RUNNERS_HPP
#define LSMT_TEST_METAMORPHIC_RUNNERS_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lsmt.hpp"
#include "metamorphic_history.hpp"

namespace lsmt_meta {

using model_t = std::map<std::string, std::string>;

/// Whether key k is in view v with arguments a, b (the contract of each lsmt::db range call).
inline bool in_view(view_kind v, const std::string& k, const std::string& a, const std::string& b) {
  switch (v) {
    case view_kind::range:
      return a <= k && k <= b;
    case view_kind::not_in_range:
      return !(a <= k && k <= b);
    case view_kind::greater_than:
      return k > a;
    case view_kind::greater_or_equal:
      return k >= a;
    case view_kind::less_than:
      return k < a;
    case view_kind::less_or_equal:
      return k <= a;
    case view_kind::all_except:
      return k != a;
    case view_kind::scan:
      break;
  }
  return true;
}

/// Entries of m with lower <= key < upper.
inline kv_vector slice(const model_t& m, const std::optional<std::string>& lower,
                       const std::optional<std::string>& upper) {
  kv_vector out;
  for (auto it = lower ? m.lower_bound(*lower) : m.begin(); it != m.end(); ++it) {
    if (upper && it->first >= *upper) break;
    out.emplace_back(*it);
  }
  return out;
}

inline std::string show_position(const kv_vector& kvs, std::optional<size_t> pos) {
  if (!pos) return "invalid";
  return show_key(kvs[*pos].first) + "=" + show_value(kvs[*pos].second);
}

// ---- the model ----------------------------------------------------------------------------------

class model_runner {
 public:
  std::string apply(const op& o) {
    switch (o.kind) {
      case op_kind::put:
      case op_kind::erase:
      case op_kind::batch:
        write(o.muts);
        return "ok";
      case op_kind::get:
        return show_found(find(state(o.snap), o.a));
      case op_kind::view: {
        kv_vector out;
        for (const auto& kv : state(o.snap)) {
          if (in_view(o.view, kv.first, o.a, o.b)) out.emplace_back(kv);
        }
        return show_entries(out);
      }
      case op_kind::walk:
        return walk(o);
      case op_kind::snapshot_new:
        snaps_[o.id] = db_;
        return "ok";
      case op_kind::snapshot_release:
        snaps_.erase(o.id);
        return "ok";
      case op_kind::iter_new:
        iters_[o.id] = iter{slice(state(o.snap), o.lower, o.upper), std::nullopt};
        return move(iters_.at(o.id), o.move, o.a);
      case op_kind::iter_move:
        return move(iters_.at(o.id), o.move, o.a);
      case op_kind::iter_close:
        iters_.erase(o.id);
        return "ok";
      case op_kind::tx_begin:
        txs_[o.id] = tx{counter_, db_, {}, {}};
        return "ok";
      case op_kind::tx_put:
      case op_kind::tx_erase: {
        const mutation& m = o.muts.front();
        txs_.at(o.id).writes[m.key] = m.put ? std::optional<std::string>(m.value) : std::nullopt;
        return "ok";
      }
      case op_kind::tx_get:
        return tx_get(txs_.at(o.id), o.a);
      case op_kind::tx_commit:
        return commit(o.id);
      case op_kind::tx_rollback:
        txs_.erase(o.id);
        return "ok";
      case op_kind::reopen:
        snaps_.clear();
        txs_.clear();
        return "ok";
      case op_kind::flush:
      case op_kind::compact:
      case op_kind::wait:
        return "ok";
      case op_kind::check:
        break;
    }
    return show_entries(kv_vector(db_.begin(), db_.end()));
  }

 private:
  struct iter {
    kv_vector frozen;           // what the iterator sees
    std::optional<size_t> pos;  // index into frozen; nullopt: not valid
  };
  struct tx {
    uint64_t begin = 0;  // counter_ when it began
    model_t view;        // the store when it began
    std::map<std::string, std::optional<std::string>> writes;
    std::set<std::string> reads;  // keys read from the store (not from its own writes)
  };

  const model_t& state(int snap) const { return snap < 0 ? db_ : snaps_.at(snap); }

  static std::optional<std::string> find(const model_t& m, const std::string& k) {
    const auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  }

  // Every write (put, erase, batch, committed transaction) counts once; a transaction conflicts
  // if a key it used was written after it began.
  void write(const std::vector<mutation>& muts) {
    ++counter_;
    for (const mutation& m : muts) {
      if (m.put) {
        db_[m.key] = m.value;
      } else {
        db_.erase(m.key);
      }
      last_write_[m.key] = counter_;
    }
  }

  /// First index with key >= k, or nullopt.
  static std::optional<size_t> first_ge(const kv_vector& kvs, const std::string& k) {
    const auto it =
        std::lower_bound(kvs.begin(), kvs.end(), k,
                         [](const auto& kv, const std::string& x) { return kv.first < x; });
    if (it == kvs.end()) return std::nullopt;
    return static_cast<size_t>(it - kvs.begin());
  }
  /// Last index with key <= k, or nullopt.
  static std::optional<size_t> last_le(const kv_vector& kvs, const std::string& k) {
    const auto it =
        std::upper_bound(kvs.begin(), kvs.end(), k,
                         [](const std::string& x, const auto& kv) { return x < kv.first; });
    if (it == kvs.begin()) return std::nullopt;
    return static_cast<size_t>(it - kvs.begin() - 1);
  }

  static std::string move(iter& it, move_kind m, const std::string& target) {
    const kv_vector& kvs = it.frozen;
    switch (m) {
      case move_kind::first:
        it.pos = kvs.empty() ? std::nullopt : std::optional<size_t>(0);
        break;
      case move_kind::last:
        it.pos = kvs.empty() ? std::nullopt : std::optional<size_t>(kvs.size() - 1);
        break;
      case move_kind::seek:
        it.pos = first_ge(kvs, target);
        break;
      case move_kind::seek_for_prev:
        it.pos = last_le(kvs, target);
        break;
      case move_kind::next:
        if (!it.pos) return "not valid";
        it.pos = *it.pos + 1 < kvs.size() ? std::optional<size_t>(*it.pos + 1) : std::nullopt;
        break;
      case move_kind::prev:
        if (!it.pos) return "not valid";
        it.pos = *it.pos > 0 ? std::optional<size_t>(*it.pos - 1) : std::nullopt;
        break;
    }
    return show_position(kvs, it.pos);
  }

  std::string walk(const op& o) const {
    iter it{slice(state(o.snap), o.lower, o.upper), std::nullopt};
    move(it, o.move, o.a);
    kv_vector out;
    while (it.pos && (o.limit == 0 || out.size() < o.limit)) {
      out.emplace_back(it.frozen[*it.pos]);
      move(it, o.reverse ? move_kind::prev : move_kind::next, std::string());
    }
    return show_entries(out);
  }

  static std::string tx_get(tx& t, const std::string& k) {
    if (const auto w = t.writes.find(k); w != t.writes.end()) return show_found(w->second);
    t.reads.insert(k);
    return show_found(find(t.view, k));
  }

  std::string commit(int id) {
    const tx t = std::move(txs_.at(id));
    txs_.erase(id);
    auto changed = [&](const std::string& k) {
      const auto it = last_write_.find(k);
      return it != last_write_.end() && it->second > t.begin;
    };
    for (const std::string& k : t.reads) {
      if (changed(k)) return "conflict";
    }
    for (const auto& kv : t.writes) {
      if (changed(kv.first)) return "conflict";
    }
    std::vector<mutation> muts;
    for (const auto& [k, v] : t.writes) muts.push_back(mutation{v.has_value(), k, v.value_or("")});
    write(muts);
    return "committed";
  }

  model_t db_;
  std::map<int, model_t> snaps_;
  std::map<int, iter> iters_;
  std::map<int, tx> txs_;
  uint64_t counter_ = 0;
  std::map<std::string, uint64_t> last_write_;
};

// ---- the store ----------------------------------------------------------------------------------

class store_runner {
 public:
  using store_t = lsmt::db<>;

  store_runner(std::filesystem::path dir, lsmt::options opts)
      : dir_(std::move(dir)), opts_(std::move(opts)) {
    db_ = std::make_unique<store_t>(dir_, opts_);
  }
  store_runner(const store_runner&) = delete;
  store_runner& operator=(const store_runner&) = delete;
  ~store_runner() {
    try {
      end();
    } catch (...) {  // NOLINT(bugprone-empty-catch): call end() to see the error
    }
  }

  /// The operation's result line; an exception becomes "error: <what>".
  std::string apply(const op& o) {
    try {
      return run(o);
    } catch (const std::exception& e) {
      return std::string("error: ") + e.what();
    }
  }

  /// Drops every object and closes the store (adding its counters to the totals).
  void end() {
    txs_.clear();
    snaps_.clear();
    iters_.clear();
    if (db_ && db_->is_open()) {
      add_stats();
      db_->close();
    }
  }

  uint64_t flushes() const { return flushes_; }
  uint64_t compactions() const { return compactions_; }

 private:
  lsmt::read_options read_at(int snap) const {
    lsmt::read_options ro;
    if (snap >= 0) ro.snap = &snaps_.at(snap);
    return ro;
  }

  static lsmt::write_options sync_if(bool sync) {
    lsmt::write_options wo;
    wo.sync = sync;
    return wo;
  }

  void add_stats() {
    const lsmt::stats s = db_->stats();
    flushes_ += s.flushes;
    compactions_ += s.compactions;
  }

  std::string run(const op& o) {
    switch (o.kind) {
      case op_kind::put:
        db_->put(o.muts.front().key, o.muts.front().value, sync_if(o.sync));
        return "ok";
      case op_kind::erase:
        db_->erase(o.muts.front().key, sync_if(o.sync));
        return "ok";
      case op_kind::batch: {
        store_t::batch b;
        for (const mutation& m : o.muts) {
          if (m.put) {
            b.put(m.key, m.value);
          } else {
            b.erase(m.key);
          }
        }
        db_->write(b, sync_if(o.sync));
        return "ok";
      }
      case op_kind::get: {
        const lsmt::read_options ro = read_at(o.snap);
        const std::optional<std::string> v = db_->get(o.a, ro);
        const bool contains = db_->contains(o.a, ro);
        return show_found(v) + (contains == v.has_value() ? "" : " (contains() disagrees)");
      }
      case op_kind::view:
        return show_entries(view(o));
      case op_kind::walk:
        return walk(o);
      case op_kind::snapshot_new:
        snaps_.emplace(o.id, db_->get_snapshot());
        return "ok";
      case op_kind::snapshot_release:
        snaps_.erase(o.id);
        return "ok";
      case op_kind::iter_new: {
        auto it = iters_.emplace(o.id, db_->new_iterator(o.lower, o.upper, read_at(o.snap)));
        return move(it.first->second, o.move, o.a);
      }
      case op_kind::iter_move:
        return move(iters_.at(o.id), o.move, o.a);
      case op_kind::iter_close:
        iters_.erase(o.id);
        return "ok";
      case op_kind::tx_begin:
        txs_.emplace(o.id, db_->begin_transaction());
        return "ok";
      case op_kind::tx_put:
        txs_.at(o.id).put(o.muts.front().key, o.muts.front().value);
        return "ok";
      case op_kind::tx_erase:
        txs_.at(o.id).erase(o.muts.front().key);
        return "ok";
      case op_kind::tx_get:
        return show_found(txs_.at(o.id).get(o.a));
      case op_kind::tx_commit:
        return commit(o);
      case op_kind::tx_rollback:
        txs_.at(o.id).rollback();
        txs_.erase(o.id);
        return "ok";
      case op_kind::flush:
        db_->flush();
        return "ok";
      case op_kind::compact:
        db_->compact();
        return "ok";
      case op_kind::wait:
        db_->wait_for_compactions();
        return "ok";
      case op_kind::reopen:
        txs_.clear();
        snaps_.clear();
        add_stats();
        db_->close();  // the iterators stay: they outlive their store
        db_ = std::make_unique<store_t>(dir_, opts_);
        // A clean close leaves nothing for recovery to drop: any report is a mismatch.
        return db_->recovery().clean() && db_->recovery().torn_tail_bytes == 0
                   ? "ok"
                   : "recovery dropped data: " + (db_->recovery().clean()
                                                      ? std::string("a torn tail")
                                                      : db_->recovery().damage.front());
      case op_kind::check:
        break;
    }
    return check();
  }

  kv_vector view(const op& o) const {
    const lsmt::read_options ro = read_at(o.snap);
    switch (o.view) {
      case view_kind::range:
        return db_->range(o.a, o.b, ro).to_vector();
      case view_kind::not_in_range:
        return db_->not_in_range(o.a, o.b, ro).to_vector();
      case view_kind::greater_than:
        return db_->greater_than(o.a, ro).to_vector();
      case view_kind::greater_or_equal:
        return db_->greater_or_equal(o.a, ro).to_vector();
      case view_kind::less_than:
        return db_->less_than(o.a, ro).to_vector();
      case view_kind::less_or_equal:
        return db_->less_or_equal(o.a, ro).to_vector();
      case view_kind::all_except:
        return db_->all_except(o.a, ro).to_vector();
      case view_kind::scan:
        break;
    }
    return db_->scan(ro).to_vector();
  }

  static std::string show_iterator(const store_t::iterator& it) {
    if (!it.valid()) return "invalid";
    return show_key(it.key()) + "=" + show_value(it.value());
  }

  static std::string move(store_t::iterator& it, move_kind m, const std::string& target) {
    switch (m) {
      case move_kind::first:
        it.seek_to_first();
        break;
      case move_kind::last:
        it.seek_to_last();
        break;
      case move_kind::seek:
        it.seek(target);
        break;
      case move_kind::seek_for_prev:
        it.seek_for_prev(target);
        break;
      case move_kind::next:
        if (!it.valid()) return "not valid";
        it.next();
        break;
      case move_kind::prev:
        if (!it.valid()) return "not valid";
        it.prev();
        break;
    }
    return show_iterator(it);
  }

  std::string walk(const op& o) const {
    store_t::iterator it = db_->new_iterator(o.lower, o.upper, read_at(o.snap));
    move(it, o.move, o.a);
    kv_vector out;
    while (it.valid() && (o.limit == 0 || out.size() < o.limit)) {
      out.emplace_back(it.key(), it.value());
      if (o.reverse) {
        it.prev();
      } else {
        it.next();
      }
    }
    return show_entries(out);
  }

  std::string commit(const op& o) {
    store_t::transaction t = std::move(txs_.at(o.id));
    txs_.erase(o.id);
    try {
      t.commit(sync_if(o.sync));
    } catch (const lsmt::conflict_error&) {
      return "conflict";
    }
    return "committed";
  }

  // The whole store by a forward scan; a reverse walk of a full iterator must see the same.
  std::string check() const {
    const kv_vector fwd = db_->scan().to_vector();
    kv_vector rev;
    store_t::iterator it = db_->new_iterator();
    for (it.seek_to_last(); it.valid(); it.prev()) rev.emplace_back(it.key(), it.value());
    std::reverse(rev.begin(), rev.end());
    std::string line = show_entries(fwd);
    if (rev != fwd) line += " (the reverse walk differs: " + show_entries(rev) + ")";
    return line;
  }

  std::filesystem::path dir_;
  lsmt::options opts_;
  std::unique_ptr<store_t> db_;
  // Declared after db_, so destroyed before it. Iterators outlive reopens; the others do not.
  std::map<int, store_t::iterator> iters_;
  std::map<int, lsmt::snapshot> snaps_;
  std::map<int, store_t::transaction> txs_;
  uint64_t flushes_ = 0;
  uint64_t compactions_ = 0;
};

}  // namespace lsmt_meta

#endif  // LSMT_TEST_METAMORPHIC_RUNNERS_HPP
