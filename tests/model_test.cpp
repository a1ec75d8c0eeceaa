// tests/model_test.cpp - randomized model test: lsmt::db<> against std::map.
//
// Tiny memtables and compaction settings make flushes and compactions happen
// all the time while random puts, erases, range deletes, batches, range
// queries, iterator walks, snapshots, transactions and reopens are compared
// with the model.
//
// Environment:
//   LSMT_TEST_SEED=<n>        run only this seed (printed on every failure)
//   LSMT_TEST_ITERATIONS=<n>  number of seeds to run (default 6), each seed
//                             running the same number of operations
//   LSMT_TEST_OPS=<n>         operations per seed (default 5000)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lsmt.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace model_test_cpp {

namespace {

using model_t = std::map<std::string, std::string>;
using store_t = lsmt::db<>;
using lsmt_test::env_u64;

// Stores go under lsmt_test::store_base_dir(): /dev/shm by default, which keeps this test fast.

// Printable form of arbitrary bytes, for failure messages.
std::string show(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out + "\"";
}
std::string show(const std::optional<std::string>& s) { return s ? show(*s) : "<none>"; }

// Aborts the test case with a message (the seed is CAPTUREd by the caller).
#define MODEL_CHECK(cond, msg) LSMT_FAIL_UNLESS(cond, "model mismatch", msg)

using kv_vector = std::vector<std::pair<std::string, std::string>>;

std::string show_short(const std::string& v) {
  if (v.size() <= 12) return show(v);
  return show(v.substr(0, 12)) + "...(" + std::to_string(v.size()) + " bytes)";
}

// The first difference of got and want, then got (abridged).
std::string show(const kv_vector& v, const kv_vector* want = nullptr) {
  std::string out;
  if (want != nullptr) {
    size_t i = 0;
    while (i < v.size() && i < want->size() && v[i] == (*want)[i]) ++i;
    out += "first difference at #" + std::to_string(i) + ": got ";
    out += i < v.size() ? show(v[i].first) + "=" + show_short(v[i].second) : "<end>";
    out += ", want ";
    out +=
        i < want->size() ? show((*want)[i].first) + "=" + show_short((*want)[i].second) : "<end>";
    out += "\n  ";
  }
  out += "[";
  for (size_t i = 0; i < v.size() && i < 30; ++i) {
    if (i != 0) out += ", ";
    out += show(v[i].first) + "=" + show_short(v[i].second);
  }
  if (v.size() > 30) out += ", ...";
  return out + "] (" + std::to_string(v.size()) + " entries)";
}

// Entries of m with lo <= key < hi (absent bound: unbounded).
kv_vector model_slice(const model_t& m, const std::optional<std::string>& lo,
                      const std::optional<std::string>& hi) {
  kv_vector out;
  auto it = lo ? m.lower_bound(*lo) : m.begin();
  for (; it != m.end(); ++it) {
    if (hi && it->first >= *hi) break;
    out.emplace_back(*it);
  }
  return out;
}

class model_runner {
 public:
  model_runner(uint64_t seed, size_t ops)
      : seed_(seed), ops_(ops), rng_(seed), dir_(lsmt_test::store_base_dir(), "lsmt-test-model") {
    make_key_pool();
  }

  void run() {
    open();
    for (op_index_ = 0; op_index_ < ops_; ++op_index_) step();
    check_all("final");
    release_snapshots();
    db_->close();
    open();  // everything acknowledged survives a clean close
    check_all("after final reopen");
    db_->close();
  }

 private:
  // ---- randomness ----------------------------------------------------------

  size_t uniform(size_t lo, size_t hi) {  // inclusive
    return std::uniform_int_distribution<size_t>(lo, hi)(rng_);
  }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  void make_key_pool() {
    static const char alphabet[] = {'\0', '\x01', 'a',    'b',    'c',
                                    'm',  '\x7f', '\x80', '\xfe', '\xff'};
    std::set<std::string> keys;
    keys.insert("");  // the empty key is a key like any other
    keys.insert(std::string(1, '\0'));
    keys.insert(std::string(3, '\xff'));
    const size_t target = uniform(20, 250);
    while (keys.size() < target) keys.insert(random_bytes(1, 6, alphabet, sizeof alphabet));
    pool_.assign(keys.begin(), keys.end());
  }
  std::string random_bytes(size_t min_len, size_t max_len, const char* alphabet, size_t n) {
    std::string s(uniform(min_len, max_len), '\0');
    for (char& c : s) c = alphabet[uniform(0, n - 1)];
    return s;
  }
  // Mostly a pool key (so overwrites and deletes hit); sometimes any bytes.
  std::string any_key() {
    if (chance(0.9)) return pool_[uniform(0, pool_.size() - 1)];
    std::string s(uniform(0, 7), '\0');
    for (char& c : s) c = static_cast<char>(uniform(0, 255));
    return s;
  }
  std::string any_value() {
    const size_t r = uniform(0, 99);
    size_t len = 0;
    if (r < 15) {
      len = 0;
    } else if (r < 95) {
      len = uniform(1, 24);
    } else {
      len = uniform(200, 3000);  // spans data blocks
    }
    std::string s(len, '\0');
    for (char& c : s) c = static_cast<char>(uniform(0, 255));
    if (!s.empty() && chance(0.5)) s += "#" + std::to_string(++value_counter_);
    return s;
  }

  // ---- the store -------------------------------------------------------------

  void open() {
    db_.reset();
    const size_t entries = uniform(16, 200);
    const size_t interval = uniform(2, 6);
    const size_t minimum = uniform(1, interval);
    if (chance(0.3)) {
      db_ = std::make_unique<store_t>(dir_.path(), std::filesystem::perms(0755), entries, interval,
                                      minimum);
    } else {
      lsmt::options o;
      o.memtable_max_entries = entries;
      o.compaction_interval = interval;
      o.minimum_sstables = minimum;
      o.block_size = chance(0.5) ? 1024 : 4096;
      o.block_restart_interval = chance(0.5) ? 16 : static_cast<int>(uniform(1, 8));
      o.bloom_bits_per_key = chance(0.2) ? 0 : 10;
      o.use_mmap_reads = chance(0.7);
      if (chance(0.5)) o.max_mapped_bytes = uniform(0, 64) << 10;  // some tables mapped, some not
      o.block_cache_bytes = chance(0.5) ? 4096 : (size_t{1} << 20);
      o.max_immutable_memtables = uniform(1, 3);
      db_ = std::make_unique<store_t>(dir_.path(), o);
    }
    config_ = "entries=" + std::to_string(entries) + " interval=" + std::to_string(interval) +
              " minimum=" + std::to_string(minimum);
  }

  void reopen() {
    release_snapshots();
    db_->close();
    open();
    check_all("after reopen");
  }

  // ---- one random step -------------------------------------------------------

  void step() {
    const size_t r = uniform(0, 999);
    if (r < 380) {
      do_put();
    } else if (r < 500) {
      do_erase();
    } else if (r < 640) {
      do_get();
    } else if (r < 720) {
      do_batch();
    } else if (r < 780) {
      do_range_query();
    } else if (r < 820) {
      do_iterator_walk();
    } else if (r < 850) {
      do_snapshot_op();
    } else if (r < 900) {
      do_transaction();
    } else if (r < 925) {
      last_op_ = "flush";
      db_->flush();
    } else if (r < 935) {
      last_op_ = "compact";
      db_->compact();
      if (chance(0.3)) check_all("after compact");
    } else if (r < 940) {
      last_op_ = "reopen";
      reopen();
    } else if (r < 950) {
      check_all("periodic");
    } else if (r < 975) {
      do_delete_range();
    } else {
      do_put();
    }
  }

  std::string where() const {
    return "seed=" + std::to_string(seed_) + " op#" + std::to_string(op_index_) + " (" + last_op_ +
           ") " + config_;
  }

  void do_put() {
    const std::string k = any_key();
    const std::string v = any_value();
    last_op_ = "put " + show(k);
    db_->put(k, v);
    model_[k] = v;
    note_external_write(k);
  }

  void do_erase() {
    const std::string k = any_key();
    last_op_ = "erase " + show(k);
    db_->erase(k);
    model_.erase(k);
    note_external_write(k);
  }

  // Erases [a, b) from the model (nothing if a >= b) and notes it for open transactions.
  void model_delete_range(const std::string& a, const std::string& b) {
    if (a >= b) return;
    model_.erase(model_.lower_bound(a), model_.lower_bound(b));
    if (tx_external_ranges_ != nullptr) tx_external_ranges_->emplace_back(a, b);
  }

  void do_delete_range() {
    std::string a = any_key();
    std::string b = any_key();
    if (chance(0.85) && b < a) std::swap(a, b);  // sometimes an empty (reversed) range
    last_op_ = "delete_range " + show(a) + " .. " + show(b);
    db_->delete_range(a, b);
    model_delete_range(a, b);
  }

  void do_get() {
    const std::string k = any_key();
    last_op_ = "get " + show(k);
    check_get(model_, k, nullptr);
  }

  void check_get(const model_t& m, const std::string& k, const lsmt::snapshot* snap) {
    lsmt::read_options ro;
    ro.snap = snap;
    const std::optional<std::string> got = db_->get(k, ro);
    auto it = m.find(k);
    const std::optional<std::string> want =
        it == m.end() ? std::nullopt : std::optional<std::string>(it->second);
    MODEL_CHECK(got == want, where() << " get(" << show(k) << ") snapshot=" << (snap != nullptr)
                                     << " got " << show(got) << " want " << show(want));
    MODEL_CHECK(db_->contains(k, ro) == want.has_value(), where()
                                                              << " contains(" << show(k) << ")");
  }

  void do_batch() {
    store_t::batch b;
    const size_t n = uniform(1, 12);
    size_t ops = n;  // an empty range deletion adds no op
    for (size_t i = 0; i < n; ++i) {
      const std::string k = any_key();
      if (chance(0.05)) {
        std::string lo = k;
        std::string hi = any_key();
        if (hi < lo) std::swap(lo, hi);
        b.delete_range(lo, hi);
        model_delete_range(lo, hi);
        if (lo == hi) --ops;
        continue;
      }
      if (chance(0.7)) {
        const std::string v = any_value();
        b.put(k, v);
        model_[k] = v;
      } else {
        b.erase(k);
        model_.erase(k);
      }
      note_external_write(k);
    }
    last_op_ = "batch of " + std::to_string(n);
    MODEL_CHECK(b.size() == ops, where() << " batch size");
    db_->write(b);
  }

  // ---- range queries ---------------------------------------------------------

  template <class View>
  void check_view(const View& view, const kv_vector& want, const std::string& what) {
    kv_vector walked;
    for (const auto& kv : view) walked.emplace_back(kv.first, kv.second);
    MODEL_CHECK(walked == want, where()
                                    << " " << what << " by iteration\n  " << show(walked, &want));
    const kv_vector collected = view.to_vector();  // restarts the walk
    MODEL_CHECK(collected == want,
                where() << " " << what << " to_vector\n  " << show(collected, &want));
    MODEL_CHECK(view.empty() == want.empty(), where() << " " << what << " empty()");
  }

  void check_range_queries(const model_t& m, const std::string& a0, const std::string& b0,
                           const lsmt::snapshot* snap) {
    lsmt::read_options ro;
    ro.snap = snap;
    const std::string a = std::min(a0, b0);
    const std::string b = std::max(a0, b0);
    const std::string tag = " [a=" + show(a) + " b=" + show(b) + "]";
    kv_vector in_range, outside, gt, ge, lt, le, except, all;
    for (const auto& kv : m) {
      const std::string& k = kv.first;
      all.emplace_back(kv);
      if (k >= a && k <= b) {
        in_range.emplace_back(kv);
      } else {
        outside.emplace_back(kv);
      }
      if (k > a) gt.emplace_back(kv);
      if (k >= a) ge.emplace_back(kv);
      if (k < a) lt.emplace_back(kv);
      if (k <= a) le.emplace_back(kv);
      if (k != a) except.emplace_back(kv);
    }
    check_view(db_->range(a, b, ro), in_range, "range" + tag);
    check_view(db_->not_in_range(a, b, ro), outside, "not_in_range" + tag);
    check_view(db_->greater_than(a, ro), gt, "greater_than" + tag);
    check_view(db_->greater_or_equal(a, ro), ge, "greater_or_equal" + tag);
    check_view(db_->less_than(a, ro), lt, "less_than" + tag);
    check_view(db_->less_or_equal(a, ro), le, "less_or_equal" + tag);
    check_view(db_->all_except(a, ro), except, "all_except" + tag);
    check_view(db_->scan(ro), all, "scan");
    // range(a, b) with a > b is empty.
    if (a != b) {
      check_view(db_->range(b, a, ro), kv_vector{}, "reversed range" + tag);
      check_view(db_->not_in_range(b, a, ro), all, "reversed not_in_range" + tag);
    }
  }

  void do_range_query() {
    const std::string a = any_key();
    const std::string b = chance(0.1) ? a : any_key();
    last_op_ = "range queries";
    check_range_queries(model_, a, b, nullptr);
  }

  // ---- iterators ---------------------------------------------------------------

  // Walks `it` with random moves, comparing with `frozen` (the slice of the model
  // the iterator must see). Writes, flushes and compactions run in between.
  void walk(store_t::iterator& it, const kv_vector& frozen, const std::optional<std::string>& lo,
            const std::optional<std::string>& hi, const std::string& what) {
    std::optional<size_t> pos;  // index into frozen, nullopt = not valid
    auto first_ge = [&](const std::string& k) -> std::optional<size_t> {
      auto i =
          std::lower_bound(frozen.begin(), frozen.end(), k,
                           [](const auto& kv, const std::string& key) { return kv.first < key; });
      if (i == frozen.end()) return std::nullopt;
      return static_cast<size_t>(i - frozen.begin());
    };
    auto last_le = [&](const std::string& k) -> std::optional<size_t> {
      auto i =
          std::upper_bound(frozen.begin(), frozen.end(), k,
                           [](const std::string& key, const auto& kv) { return key < kv.first; });
      if (i == frozen.begin()) return std::nullopt;
      return static_cast<size_t>(i - frozen.begin() - 1);
    };
    std::string moves;
    const size_t steps = uniform(5, 60);
    bool forward = chance(0.5);
    for (size_t s = 0; s < steps; ++s) {
      const size_t r = uniform(0, 99);
      std::string move;
      if (r < 8) {
        move = "seek_to_first";
        it.seek_to_first();
        pos = frozen.empty() ? std::nullopt : std::optional<size_t>(0);
      } else if (r < 16) {
        move = "seek_to_last";
        it.seek_to_last();
        pos = frozen.empty() ? std::nullopt : std::optional<size_t>(frozen.size() - 1);
      } else if (r < 26) {
        const std::string k = any_key();
        move = "seek(" + show(k) + ")";
        it.seek(k);
        pos = first_ge(k);
      } else if (r < 36) {
        const std::string k = any_key();
        move = "seek_for_prev(" + show(k) + ")";
        it.seek_for_prev(k);
        pos = last_le(k);
      } else if (r < 42) {
        // Disturb the store: the iterator must keep its point in time.
        move = "disturb";
        const size_t d = uniform(0, 9);
        if (d < 6) {
          do_put();
        } else if (d < 8) {
          do_erase();
        } else if (d < 9) {
          db_->flush();
        } else {
          db_->compact();
        }
        last_op_ = "iterator walk";
      } else {
        if (!pos) {
          // Not valid: reposition instead.
          move = "seek_to_first";
          it.seek_to_first();
          pos = frozen.empty() ? std::nullopt : std::optional<size_t>(0);
        } else {
          if (chance(0.2)) forward = !forward;  // direction change
          if (forward) {
            move = "next";
            it.next();
            pos = *pos + 1 < frozen.size() ? std::optional<size_t>(*pos + 1) : std::nullopt;
          } else {
            move = "prev";
            it.prev();
            pos = *pos > 0 ? std::optional<size_t>(*pos - 1) : std::nullopt;
          }
        }
      }
      moves += move + " ";
      MODEL_CHECK(it.valid() == pos.has_value(),
                  where() << " " << what << " lo=" << show(lo) << " hi=" << show(hi)
                          << " valid()=" << it.valid() << " after moves: " << moves << "\n  want "
                          << (pos ? show(frozen[*pos].first) : "<invalid>")
                          << (it.valid() ? "\n  got " + show(it.key()) : std::string())
                          << "\n  frozen " << show(frozen));
      if (pos) {
        MODEL_CHECK(it.key() == frozen[*pos].first && it.value() == frozen[*pos].second,
                    where() << " " << what << " lo=" << show(lo) << " hi=" << show(hi)
                            << " after moves: " << moves << "\n  got " << show(it.key()) << "="
                            << show(it.value()) << "\n  want " << show(frozen[*pos].first) << "="
                            << show(frozen[*pos].second));
        MODEL_CHECK(it.raw_key() == frozen[*pos].first, where() << " raw_key");
      }
    }
  }

  void random_bounds(std::optional<std::string>& lo, std::optional<std::string>& hi) {
    lo.reset();
    hi.reset();
    const size_t r = uniform(0, 3);
    if (r == 1 || r == 3) lo = any_key();
    if (r == 2 || r == 3) hi = any_key();
    if (lo && hi && *lo > *hi && chance(0.8)) std::swap(*lo, *hi);
  }

  void do_iterator_walk() {
    last_op_ = "iterator walk";
    std::optional<std::string> lo, hi;
    random_bounds(lo, hi);
    kv_vector frozen = model_slice(model_, lo, hi);
    if (lo && hi && *lo >= *hi) frozen.clear();
    if (!lo && !hi && chance(0.5)) {
      store_t::iterator it = db_->new_iterator();
      walk(it, frozen, lo, hi, "iterator");
    } else {
      store_t::iterator it = db_->new_iterator(lo, hi);
      walk(it, frozen, lo, hi, "bounded iterator");
    }
  }

  // ---- snapshots -----------------------------------------------------------------

  struct snap_entry {
    lsmt::snapshot snap;
    model_t model;
  };

  void release_snapshots() { snaps_.clear(); }

  void do_snapshot_op() {
    const size_t r = uniform(0, 9);
    if (snaps_.empty() || (r < 3 && snaps_.size() < 4)) {
      last_op_ = "take snapshot";
      snaps_.push_back(snap_entry{db_->get_snapshot(), model_});
      MODEL_CHECK(snaps_.back().snap.valid(), where() << " snapshot valid");
      return;
    }
    const size_t i = uniform(0, snaps_.size() - 1);
    snap_entry& e = snaps_[i];
    if (r < 5) {
      last_op_ = "release snapshot";
      if (chance(0.5)) e.snap.release();  // explicit release, then destruction
      snaps_.erase(snaps_.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
    last_op_ = "check snapshot";
    lsmt::read_options ro;
    ro.snap = &e.snap;
    for (int n = 0; n < 8; ++n) check_get(e.model, any_key(), &e.snap);
    if (r < 7) {
      std::optional<std::string> lo, hi;
      random_bounds(lo, hi);
      kv_vector frozen = model_slice(e.model, lo, hi);
      if (lo && hi && *lo >= *hi) frozen.clear();
      store_t::iterator it = db_->new_iterator(lo, hi, ro);
      walk(it, frozen, lo, hi, "snapshot iterator");
    } else {
      check_range_queries(e.model, any_key(), any_key(), &e.snap);
    }
  }

  // ---- transactions ----------------------------------------------------------------

  // Keys written, and ranges deleted, outside a live transaction since it began.
  std::set<std::string>* tx_external_ = nullptr;
  std::vector<std::pair<std::string, std::string>>* tx_external_ranges_ = nullptr;
  void note_external_write(const std::string& k) {
    if (tx_external_ != nullptr) tx_external_->insert(k);
  }

  void do_transaction() {
    last_op_ = "transaction";
    const model_t at_begin = model_;
    store_t::transaction tx = db_->begin_transaction();
    MODEL_CHECK(tx.active(), where() << " new transaction active");
    std::map<std::string, std::optional<std::string>> own;  // the transaction's writes
    std::set<std::string> touched;                          // read or written
    std::set<std::string> external;
    std::vector<std::pair<std::string, std::string>> external_ranges;
    tx_external_ = &external;
    tx_external_ranges_ = &external_ranges;
    const bool interfere = chance(0.4);
    const size_t n = uniform(1, 15);
    for (size_t i = 0; i < n; ++i) {
      const size_t r = uniform(0, 9);
      const std::string k =
          chance(0.7) && !touched.empty() && interfere
              ? *std::next(touched.begin(),
                           static_cast<std::ptrdiff_t>(uniform(0, touched.size() - 1)))
              : any_key();
      if (r < 4) {
        const std::string v = any_value();
        tx.put(k, v);
        own[k] = v;
        touched.insert(k);
      } else if (r < 6) {
        tx.erase(k);
        own[k] = std::nullopt;
        touched.insert(k);
      } else {
        std::optional<std::string> want;
        if (auto o = own.find(k); o != own.end()) {
          want = o->second;
        } else {
          auto m = at_begin.find(k);
          if (m != at_begin.end()) want = m->second;
          touched.insert(k);
        }
        const std::optional<std::string> got = tx.get(k);
        MODEL_CHECK(got == want, where() << " tx.get(" << show(k) << ") got " << show(got)
                                         << " want " << show(want));
      }
      // Other writers, flushes and compactions while the transaction is open.
      if (interfere && chance(0.3)) {
        if (chance(0.5) && !touched.empty()) {
          const std::string victim = *std::next(
              touched.begin(), static_cast<std::ptrdiff_t>(uniform(0, touched.size() - 1)));
          const std::string v = any_value();
          db_->put(victim, v);
          model_[victim] = v;
          external.insert(victim);
        } else if (chance(0.2)) {
          do_delete_range();  // conflicts with every touched key in its range
        } else {
          do_put();
        }
        last_op_ = "transaction";
      }
      if (chance(0.05)) db_->flush();
      if (chance(0.02)) db_->compact();
    }
    tx_external_ = nullptr;
    tx_external_ranges_ = nullptr;
    bool conflict = false;
    for (const auto& k : touched) {
      conflict = conflict || external.count(k) != 0;
      for (const auto& [a, b] : external_ranges) conflict = conflict || (a <= k && k < b);
    }

    if (chance(0.2)) {
      last_op_ = "transaction rollback";
      tx.rollback();
      MODEL_CHECK(!tx.active(), where() << " rolled back transaction inactive");
    } else if (conflict) {
      last_op_ = "conflicting transaction commit";
      bool threw = false;
      try {
        tx.commit();
      } catch (const lsmt::conflict_error& e) {
        threw = true;
        MODEL_CHECK(e.kind() == lsmt::errc::conflict, where() << " conflict kind");
      }
      MODEL_CHECK(threw, where() << " commit of a conflicting transaction did not throw");
    } else {
      last_op_ = "transaction commit";
      tx.commit();
      for (const auto& [k, v] : own) {
        if (v) {
          model_[k] = *v;
        } else {
          model_.erase(k);
        }
      }
    }
    MODEL_CHECK(!tx.active(), where() << " finished transaction inactive");
    bool threw_inactive = false;
    try {
      tx.put("x", "y");
    } catch (const lsmt::invalid_argument_error&) {
      threw_inactive = true;
    }
    MODEL_CHECK(threw_inactive, where() << " put on a finished transaction must throw");
    // Nothing of a failed or rolled back transaction is visible; a commit is.
    for (const auto& kv : own) check_get(model_, kv.first, nullptr);
  }

  // ---- whole-store check ---------------------------------------------------------------

  void check_all(const std::string& when) {
    last_op_ = when;
    const kv_vector want(model_.begin(), model_.end());
    check_view(db_->scan(), want, "scan " + when);
    // Forward and backward walks of a full iterator.
    store_t::iterator it = db_->new_iterator();
    kv_vector fwd;
    for (it.seek_to_first(); it.valid(); it.next()) fwd.emplace_back(it.key(), it.value());
    MODEL_CHECK(fwd == want, where() << " forward walk\n  " << show(fwd, &want));
    kv_vector bwd;
    for (it.seek_to_last(); it.valid(); it.prev()) bwd.emplace_back(it.key(), it.value());
    std::reverse(bwd.begin(), bwd.end());
    MODEL_CHECK(bwd == want, where() << " backward walk\n  " << show(bwd, &want));
    for (const auto& k : pool_) check_get(model_, k, nullptr);
  }

  const uint64_t seed_;
  const size_t ops_;
  std::mt19937_64 rng_;
  lsmt_test::temp_dir dir_;
  std::unique_ptr<store_t> db_;
  std::vector<std::string> pool_;
  model_t model_;
  std::vector<snap_entry> snaps_;
  uint64_t value_counter_ = 0;
  size_t op_index_ = 0;
  std::string last_op_;
  std::string config_;
};

}  // namespace

TEST_CASE("model: random operations match std::map", "[model]") {
  const uint64_t ops = env_u64("LSMT_TEST_OPS", 5000);
  std::vector<uint64_t> seeds;
  if (const std::optional<uint64_t> seed = lsmt_test::env_seed()) {
    seeds.push_back(*seed);
  } else {
    const uint64_t n = env_u64("LSMT_TEST_ITERATIONS", 6);
    const uint64_t base = std::random_device{}();
    for (uint64_t i = 0; i < n; ++i) {
      // The first seeds are fixed (reproducible CI); the rest vary per run.
      seeds.push_back(i < 4 ? 1000 + i : base + i);
    }
  }
  for (uint64_t seed : seeds) {
    CAPTURE(seed);
    INFO("rerun with LSMT_TEST_SEED=" << seed);
    model_runner(seed, ops).run();
  }
}

TEST_CASE("model: empty and NUL/0xFF keys and values round-trip through flush and reopen",
          "[model]") {
  lsmt_test::temp_dir dir(lsmt_test::store_base_dir(), "lsmt-test-edge");
  const std::vector<std::pair<std::string, std::string>> entries = {
      {"", "empty key"},
      {std::string(1, '\0'), ""},
      {std::string(2, '\0'), std::string(5, '\0')},
      {std::string("a\0b", 3), std::string("\xff\x00\xff", 3)},
      {std::string(1, '\xff'), "ff"},
      {std::string(4, '\xff'), std::string(3000, '\xff')},
  };
  {
    store_t db(dir.path(), std::filesystem::perms(0755), 2, 2, 1);
    for (const auto& [k, v] : entries) db.put(k, v);
    db.flush();
    db.compact();
  }
  store_t db(dir.path(), std::filesystem::perms(0755), 2, 2, 1);
  for (const auto& [k, v] : entries) {
    CAPTURE(show(k));
    REQUIRE(db.get(k) == std::optional<std::string>(v));
  }
  const auto all = db.scan().to_vector();
  REQUIRE(all.size() == entries.size());
  for (size_t i = 0; i < all.size(); ++i) REQUIRE(all[i] == entries[i]);
  REQUIRE(db.range("", "").to_vector().size() == 1);
  REQUIRE(db.greater_than(std::string(4, '\xff')).to_vector().empty());
  REQUIRE(db.less_than("").to_vector().empty());
  REQUIRE(db.all_except("").to_vector().size() == entries.size() - 1);
}

}  // namespace model_test_cpp
