// tests/metamorphic_history.hpp - the operation histories of the metamorphic test
// (metamorphic_test.cpp): what an operation is, how one prints, and the generator that makes a
// history from a seed.
//
// A history is a plain list of operations, generated up front from the seed alone (never from
// what a store returned), so every configuration replays exactly the same calls. Snapshots,
// iterators and transactions are named by small integer ids; the generator tracks which are live
// so that every operation names a live object. A reopen ends every snapshot and transaction (they
// belong to the closed store) but not the iterators, which stay valid after their store closes.
//
// Keys come from a per-history pool (20 to 1,200 keys: printable, binary with NUL and 0xFF
// bytes, shared prefixes, a few 50-400 byte keys, the empty key), chosen with a skew so hot keys
// are overwritten and deleted often, plus a few fresh keys. Values are empty, short, up to 1 KiB,
// or 1-16 KiB. Each history also weighs the operation kinds differently (x0.5 to x2), so some
// histories are write-heavy and others read-heavy.
#ifndef LSMT_TEST_METAMORPHIC_HISTORY_HPP
#define LSMT_TEST_METAMORPHIC_HISTORY_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store_util.hpp"

namespace lsmt_meta {

enum class op_kind {
  put,
  erase,
  batch,
  get,
  view,  // one of the range family (range, not_in_range, ..., scan), collected
  walk,  // a one-shot iterator walk, forward or reverse, bounded or not
  snapshot_new,
  snapshot_release,
  iter_new,  // a long-lived iterator, moved by later iter_move operations
  iter_move,
  iter_close,
  tx_begin,
  tx_put,
  tx_erase,
  tx_get,
  tx_commit,
  tx_rollback,
  flush,
  compact,
  wait,    // wait_for_compactions()
  reopen,  // close, then open the same directory with the same options
  check,   // the whole store, by a forward scan and a reverse iterator walk
};

enum class view_kind {
  range,
  not_in_range,
  greater_than,
  greater_or_equal,
  less_than,
  less_or_equal,
  all_except,
  scan
};
enum class move_kind { first, last, seek, seek_for_prev, next, prev };

struct mutation {
  bool put = true;
  std::string key;
  std::string value;
};

struct op {
  op_kind kind = op_kind::check;
  std::vector<mutation> muts;  // put, erase, tx_put, tx_erase: one; batch: any number, even 0
  bool sync = false;           // writes and tx_commit: write_options::sync
  std::string a;  // get, tx_get: the key; view: the first key; walk, iter_*: the seek target
  std::string b;  // view: the second key (range, not_in_range)
  std::optional<std::string> lower;  // iterator bounds (walk, iter_new): keys in [lower, upper)
  std::optional<std::string> upper;
  int snap = -1;  // read as of this snapshot id; -1: the latest state
  int id = -1;    // the snapshot, iterator or transaction acted on
  view_kind view = view_kind::scan;
  move_kind move = move_kind::first;  // iter_move; iter_new, walk: where it starts
  bool reverse = false;               // walk: prev() instead of next()
  size_t limit = 0;                   // walk: at most this many entries (0: no limit)
};

// ---- printing ---------------------------------------------------------------------------------

/// FNV-1a, 64 bits: values are printed as their length and hash.
inline uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

inline std::string hex64(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = digits[v & 15];
  return out;
}

/// Printable bytes in quotes; a key longer than 40 bytes is abridged with its length and hash.
inline std::string show_key(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out = "\"";
  for (const unsigned char c : s.substr(0, 40)) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  out += '"';
  if (s.size() > 40) out += "...<" + std::to_string(s.size()) + ":" + hex64(fnv1a(s)) + ">";
  return out;
}

/// Values up to 16 bytes in full, longer ones as <length:hash>.
inline std::string show_value(std::string_view v) {
  if (v.size() <= 16) return show_key(v);
  return "<" + std::to_string(v.size()) + ":" + hex64(fnv1a(v)) + ">";
}
inline std::string show_found(const std::optional<std::string>& v) {
  return v ? show_value(*v) : "<none>";
}

using kv_vector = std::vector<std::pair<std::string, std::string>>;

inline std::string show_entries(const kv_vector& kvs) {
  std::string out = "[";
  for (size_t i = 0; i < kvs.size(); ++i) {
    if (i != 0) out += ' ';
    out += show_key(kvs[i].first) + "=" + show_value(kvs[i].second);
  }
  return out + "] " + std::to_string(kvs.size());  // the count last: diffs point at an entry
}

inline const char* name_of(view_kind v) {
  switch (v) {
    case view_kind::range:
      return "range";
    case view_kind::not_in_range:
      return "not_in_range";
    case view_kind::greater_than:
      return "greater_than";
    case view_kind::greater_or_equal:
      return "greater_or_equal";
    case view_kind::less_than:
      return "less_than";
    case view_kind::less_or_equal:
      return "less_or_equal";
    case view_kind::all_except:
      return "all_except";
    case view_kind::scan:
      break;
  }
  return "scan";
}

inline std::string show_move(move_kind m, const std::string& target) {
  switch (m) {
    case move_kind::first:
      return "seek_to_first";
    case move_kind::last:
      return "seek_to_last";
    case move_kind::seek:
      return "seek(" + show_key(target) + ")";
    case move_kind::seek_for_prev:
      return "seek_for_prev(" + show_key(target) + ")";
    case move_kind::next:
      return "next";
    case move_kind::prev:
      break;
  }
  return "prev";
}

inline std::string show_bounds(const op& o) {
  return "[" + (o.lower ? show_key(*o.lower) : std::string("-inf")) + ", " +
         (o.upper ? show_key(*o.upper) : std::string("+inf")) + ")";
}

inline std::string at_snapshot(const op& o) {
  return o.snap < 0 ? std::string() : " @s" + std::to_string(o.snap);
}

/// One line describing an operation, for failure reports. A batch shows its first 12 writes, or
/// with `only`, just its writes of that key.
inline std::string describe(const op& o, const std::string* only = nullptr) {
  const std::string sync = o.sync ? " sync" : "";
  const std::string id = std::to_string(o.id);
  auto show_mut = [](const mutation& m) {
    return m.put ? "put " + show_key(m.key) + "=" + show_value(m.value)
                 : "erase " + show_key(m.key);
  };
  switch (o.kind) {
    case op_kind::put:
    case op_kind::erase:
      return show_mut(o.muts.front()) + sync;
    case op_kind::batch: {
      std::string s = "batch of " + std::to_string(o.muts.size()) + sync + ":";
      size_t shown = 0;
      for (const mutation& m : o.muts) {
        if ((only == nullptr && shown < 12) || (only != nullptr && m.key == *only)) {
          s += " " + show_mut(m) + ";";
          ++shown;
        }
      }
      if (shown < o.muts.size()) {
        s += " (" + std::to_string(o.muts.size() - shown) +
             (only == nullptr ? " more)" : " of other keys)");
      }
      return s;
    }
    case op_kind::get:
      return "get " + show_key(o.a) + at_snapshot(o);
    case op_kind::view:
      return std::string(name_of(o.view)) + "(" + show_key(o.a) + ", " + show_key(o.b) + ")" +
             at_snapshot(o);
    case op_kind::walk:
      return std::string("walk ") + (o.reverse ? "reverse" : "forward") + " " + show_bounds(o) +
             " from " + show_move(o.move, o.a) + " limit " + std::to_string(o.limit) +
             at_snapshot(o);
    case op_kind::snapshot_new:
      return "snapshot s" + id;
    case op_kind::snapshot_release:
      return "release s" + id;
    case op_kind::iter_new:
      return "new iterator i" + id + " " + show_bounds(o) + at_snapshot(o) + ", " +
             show_move(o.move, o.a);
    case op_kind::iter_move:
      return "i" + id + "." + show_move(o.move, o.a);
    case op_kind::iter_close:
      return "close i" + id;
    case op_kind::tx_begin:
      return "begin t" + id;
    case op_kind::tx_put:
    case op_kind::tx_erase:
      return "t" + id + "." + show_mut(o.muts.front());
    case op_kind::tx_get:
      return "t" + id + ".get " + show_key(o.a);
    case op_kind::tx_commit:
      return "commit t" + id + sync;
    case op_kind::tx_rollback:
      return "rollback t" + id;
    case op_kind::flush:
      return "flush";
    case op_kind::compact:
      return "compact";
    case op_kind::wait:
      return "wait_for_compactions";
    case op_kind::reopen:
      return "reopen";
    case op_kind::check:
      break;
  }
  return "check";
}

// ---- the generator ------------------------------------------------------------------------------

class generator {
 public:
  explicit generator(uint64_t seed) : rng_(seed) {
    make_pool();
    for (auto& w : weights_) {
      w.second *= std::uniform_real_distribution<double>(0.5, 2.0)(rng_);
    }
  }

  /// `n` random operations, then a full check, a reopen and another full check.
  std::vector<op> generate(size_t n) {
    std::vector<op> ops;
    ops.reserve(n + 3);
    std::vector<double> w;
    w.reserve(weights_.size());
    for (const auto& kw : weights_) w.push_back(kw.second);
    std::discrete_distribution<size_t> pick(w.begin(), w.end());
    while (ops.size() < n) ops.push_back(make(weights_[pick(rng_)].first));
    for (const op_kind k : {op_kind::check, op_kind::reopen, op_kind::check})
      ops.push_back(make(k));
    return ops;
  }

  size_t pool_size() const { return pool_.size(); }

 private:
  size_t uniform(size_t lo, size_t hi) {  // inclusive
    return std::uniform_int_distribution<size_t>(lo, hi)(rng_);
  }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  std::string random_key() {
    static const char alphabet[] = {'\0', '\x01', 'a', 'b', 'm', '\x7f', '\x80', '\xfe', '\xff'};
    const size_t r = uniform(0, 99);
    if (r < 55) return "k" + std::to_string(100000 + uniform(0, 899999));
    if (r < 80) {
      std::string s(uniform(1, 8), '\0');
      for (char& c : s) c = alphabet[uniform(0, sizeof alphabet - 1)];
      return s;
    }
    if (r < 96) {
      return "user/" + std::to_string(uniform(0, 99)) + "/" + std::to_string(uniform(0, 9999));
    }
    return "long/" + lsmt_test::pattern_value(static_cast<uint32_t>(rng_()), uniform(50, 400));
  }

  void make_pool() {
    std::set<std::string> keys = {"", std::string(1, '\0'), std::string(2, '\xff')};
    const size_t target = uniform(20, 1200);
    while (keys.size() < target) keys.insert(random_key());
    pool_.assign(keys.begin(), keys.end());
    std::shuffle(pool_.begin(), pool_.end(), rng_);  // which keys are hot: the first ones
  }

  /// A pool key, mostly a hot one; sometimes a fresh key.
  std::string any_key() {
    if (chance(0.04)) return random_key();
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    const double skewed = chance(0.7) ? u * u * u : u;
    const auto i = static_cast<size_t>(skewed * static_cast<double>(pool_.size()));
    return pool_[std::min(i, pool_.size() - 1)];
  }

  std::string any_value() {
    const size_t r = uniform(0, 99);
    size_t len = 0;
    if (r < 10) {
      len = 0;
    } else if (r < 75) {
      len = uniform(1, 64);
    } else if (r < 90) {
      len = uniform(65, 1024);
    } else {
      len = uniform(1024, 16384);
    }
    return lsmt_test::pattern_value(static_cast<uint32_t>(rng_()), len);
  }

  mutation any_mutation(double put_chance) {
    mutation m;
    m.put = chance(put_chance);
    m.key = any_key();
    if (m.put) m.value = any_value();
    return m;
  }

  std::optional<std::string> maybe_key(double p) {
    if (!chance(p)) return std::nullopt;
    return any_key();
  }

  /// A random live id of `ids`, or -1 if there is none.
  int pick_id(const std::vector<int>& ids) {
    return ids.empty() ? -1 : ids[uniform(0, ids.size() - 1)];
  }
  /// A live snapshot for a read, some of the time.
  int read_snapshot() { return chance(0.3) ? pick_id(snaps_) : -1; }
  static void remove_id(std::vector<int>& ids, int id) {
    ids.erase(std::find(ids.begin(), ids.end(), id));
  }

  op make(op_kind kind) {
    op o;
    o.kind = kind;
    switch (kind) {
      case op_kind::put:
      case op_kind::erase:
        o.muts.push_back(any_mutation(kind == op_kind::put ? 1.0 : 0.0));
        o.sync = chance(0.05);
        break;
      case op_kind::batch: {
        const size_t n = chance(0.05) ? 0 : uniform(1, chance(0.2) ? 64 : 8);
        for (size_t i = 0; i < n; ++i) o.muts.push_back(any_mutation(0.7));
        o.sync = chance(0.05);
        break;
      }
      case op_kind::get:
        o.a = any_key();
        o.snap = read_snapshot();
        break;
      case op_kind::view:
        o.view = static_cast<view_kind>(uniform(0, 7));
        o.a = any_key();
        o.b = chance(0.1) ? o.a : any_key();
        o.snap = read_snapshot();
        break;
      case op_kind::walk:
        o.lower = maybe_key(0.4);
        o.upper = maybe_key(0.4);
        o.reverse = chance(0.5);
        o.move = chance(0.5) ? (o.reverse ? move_kind::last : move_kind::first)
                             : (o.reverse ? move_kind::seek_for_prev : move_kind::seek);
        o.a = any_key();
        o.limit = chance(0.5) ? 0 : uniform(1, 20);
        o.snap = read_snapshot();
        break;
      case op_kind::snapshot_new:
        if (snaps_.size() >= 4) return make(op_kind::snapshot_release);
        o.id = next_id_++;
        snaps_.push_back(o.id);
        break;
      case op_kind::snapshot_release:
        if (snaps_.empty()) return make(op_kind::snapshot_new);
        o.id = pick_id(snaps_);
        remove_id(snaps_, o.id);
        break;
      case op_kind::iter_new:
        if (iters_.size() >= 3) return make(op_kind::iter_close);
        o.id = next_id_++;
        o.lower = maybe_key(0.3);
        o.upper = maybe_key(0.3);
        o.snap = read_snapshot();
        o.move = static_cast<move_kind>(uniform(0, 3));  // its first positioning
        o.a = any_key();
        iters_.push_back(o.id);
        break;
      case op_kind::iter_move:
        if (iters_.empty()) return make(op_kind::iter_new);
        o.id = pick_id(iters_);
        o.move = static_cast<move_kind>(uniform(0, 9) < 4 ? uniform(0, 3) : uniform(4, 5));
        o.a = any_key();
        break;
      case op_kind::iter_close:
        if (iters_.empty()) return make(op_kind::iter_new);
        o.id = pick_id(iters_);
        remove_id(iters_, o.id);
        break;
      case op_kind::tx_begin:
        if (txs_.size() >= 2) return make(op_kind::tx_commit);
        o.id = next_id_++;
        txs_.push_back(o.id);
        break;
      case op_kind::tx_put:
      case op_kind::tx_erase:
      case op_kind::tx_get:
        if (txs_.empty()) return make(op_kind::tx_begin);
        o.id = pick_id(txs_);
        if (kind == op_kind::tx_get) {
          o.a = any_key();
        } else {
          o.muts.push_back(any_mutation(kind == op_kind::tx_put ? 1.0 : 0.0));
        }
        break;
      case op_kind::tx_commit:
      case op_kind::tx_rollback:
        if (txs_.empty()) return make(op_kind::tx_begin);
        o.id = pick_id(txs_);
        o.sync = kind == op_kind::tx_commit && chance(0.1);
        remove_id(txs_, o.id);
        break;
      case op_kind::reopen:
        snaps_.clear();  // they belong to the closed store; iterators outlive it
        txs_.clear();
        break;
      case op_kind::flush:
      case op_kind::compact:
      case op_kind::wait:
      case op_kind::check:
        break;
    }
    return o;
  }

  std::mt19937_64 rng_;
  std::vector<std::string> pool_;
  std::vector<int> snaps_;  // live ids
  std::vector<int> iters_;
  std::vector<int> txs_;
  int next_id_ = 0;
  // Relative frequency of each kind (before this history's random factors).
  std::vector<std::pair<op_kind, double>> weights_ = {
      {op_kind::put, 25},          {op_kind::erase, 8},
      {op_kind::batch, 6},         {op_kind::get, 15},
      {op_kind::view, 5},          {op_kind::walk, 5},
      {op_kind::snapshot_new, 2},  {op_kind::snapshot_release, 1.5},
      {op_kind::iter_new, 2},      {op_kind::iter_move, 8},
      {op_kind::iter_close, 1},    {op_kind::tx_begin, 1.5},
      {op_kind::tx_put, 2},        {op_kind::tx_erase, 0.7},
      {op_kind::tx_get, 2},        {op_kind::tx_commit, 1.2},
      {op_kind::tx_rollback, 0.3}, {op_kind::flush, 1},
      {op_kind::compact, 0.3},     {op_kind::wait, 0.3},
      {op_kind::reopen, 0.5},      {op_kind::check, 0.3},
  };
};

}  // namespace lsmt_meta

#endif  // LSMT_TEST_METAMORPHIC_HISTORY_HPP
