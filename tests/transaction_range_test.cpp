// tests/transaction_range_test.cpp - a transaction's iterators and range views
// (lsmt/transaction_iterator.hpp): its own writes merged over its snapshot, what counts as read
// for conflicts, and use after commit or rollback.
//
// The model test interleaves, at random, store writes (puts, erases, range deletions, flushes
// and compactions) before and while a transaction runs, the transaction's puts and erases, and
// its reads: get, every range query, and iterators (random bounds, seeks, both directions,
// direction changes, writes made after the iterator). Each read is compared with a model: the
// store as of the transaction's begin, overlaid with the transaction's writes as of the read (an
// iterator's or view's creation). Whether commit conflicts is predicted from the keys the
// transaction read or wrote and the keys other writers changed. Time budget:
// $LSMT_TX_RANGE_SECONDS (default 2 s); the test fails below a floor of reads compared.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lsmt.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace transaction_range_test_cpp {

// Stops the test with msg (streamed) unless cond holds.
#define TX_REQUIRE(cond, msg) LSMT_FAIL_UNLESS(cond, "mismatch", msg)

namespace {

using lsmt_test::str_db;
using model_t = std::map<std::string, std::string>;
using writes_t = std::map<std::string, std::optional<std::string>>;
using kv_vector = std::vector<std::pair<std::string, std::string>>;

// The model's view of a transaction: the store at its begin, with its writes laid over it.
model_t overlay(const model_t& base, const writes_t& writes) {
  model_t out = base;
  for (const auto& [k, v] : writes) {
    if (v) {
      out[k] = *v;
    } else {
      out.erase(k);
    }
  }
  return out;
}

std::string show(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
    }
  }
  return out + "\"";
}
std::string show(const kv_vector& kvs) {
  std::string out = "[";
  for (const auto& kv : kvs) out += show(kv.first) + "=" + show(kv.second) + " ";
  return out + "]";
}

class tx_range_model {
 public:
  explicit tx_range_model(uint64_t seed) : rng_(seed) {
    lsmt::options o;
    o.memtable_max_entries = 12;  // data reaches tables often
    o.compaction_interval = 3;
    o.minimum_sstables = 1;
    db_.emplace(dir_.path(), o);
    for (int i = 0; i < 24; ++i) pool_.push_back("k" + std::to_string(10 + i));
    pool_.push_back("");                       // the smallest key
    pool_.push_back(std::string("k15\0", 4));  // just after k15: successor() edge cases
    pool_.push_back("k15\x01");
    pool_.push_back("k\xff");
    std::sort(pool_.begin(), pool_.end());
  }

  void run(double seconds) {
    const auto stop = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < stop) {
      const size_t pre = rng_.uniform(0, 12);
      for (size_t i = 0; i < pre; ++i) store_write(nullptr);
      one_transaction();
      if (rng_.chance(0.1)) check_store();
    }
  }

  uint64_t reads = 0;  // reads compared with the model
  uint64_t iterator_steps = 0;
  uint64_t transactions = 0;
  uint64_t commits = 0;
  uint64_t conflicts = 0;
  uint64_t rollbacks = 0;

 private:
  const std::string& any_key() { return pool_[rng_.uniform(0, pool_.size() - 1)]; }
  std::string any_value() { return "v" + std::to_string(++values_); }
  void note(const std::string& what) {
    trace_.push_back(what);
    if (trace_.size() > 40) trace_.pop_front();
  }
  std::string where() const {
    std::ostringstream out;
    out << "LSMT_TEST_SEED=" << rng_.seed() << ", transaction " << transactions
        << ", last operations:";
    for (const auto& t : trace_) out << "\n  " << t;
    return out.str();
  }

  // A write by another writer; `changed` (during a transaction) collects the keys it changes
  // and `ranges` the range deletions.
  void store_write(std::set<std::string>* changed,
                   std::vector<std::pair<std::string, std::string>>* ranges = nullptr) {
    const uint64_t r = rng_.uniform(0, 99);
    if (r < 55) {
      const std::string k = any_key();
      const std::string v = any_value();
      db_->put(k, v);
      model_[k] = v;
      if (changed != nullptr) changed->insert(k);
      note("store put " + show(k));
    } else if (r < 75) {
      const std::string k = any_key();
      db_->erase(k);
      model_.erase(k);
      if (changed != nullptr) changed->insert(k);
      note("store erase " + show(k));
    } else if (r < 85) {
      std::string a = any_key();
      std::string b = any_key();
      if (rng_.chance(0.8) && b < a) std::swap(a, b);
      db_->delete_range(a, b);
      if (a < b) {
        model_.erase(model_.lower_bound(a), model_.lower_bound(b));
        if (ranges != nullptr) ranges->emplace_back(a, b);
      }
      note("store delete_range " + show(a) + " " + show(b));
    } else if (r < 95) {
      db_->flush();
      note("store flush");
    } else {
      db_->compact();
      note("store compact");
    }
  }

  void check_store() {
    const model_t got = lsmt_test::dump(*db_);
    TX_REQUIRE(got == model_, where() << "\nstore differs from the model");
  }

  void one_transaction() {
    ++transactions;
    note("begin transaction");
    str_db::transaction tx = db_->begin_transaction();
    const model_t at_begin = model_;
    writes_t own;
    std::set<std::string> used;  // keys the transaction read (got or was shown) or wrote
    std::set<std::string> changed;
    std::vector<std::pair<std::string, std::string>> ranges;
    const double interfere = rng_.chance(0.5) ? 0.0 : 0.15;
    const size_t steps = rng_.uniform(1, 25);
    for (size_t i = 0; i < steps; ++i) {
      const uint64_t r = rng_.uniform(0, 99);
      if (r < 25) {
        tx_write(tx, own, used);
      } else if (r < 35) {
        const std::string k = any_key();
        const model_t want_all = overlay(at_begin, own);
        const auto w = want_all.find(k);
        const std::optional<std::string> want =
            w == want_all.end() ? std::nullopt : std::optional<std::string>(w->second);
        note("tx get " + show(k));
        TX_REQUIRE(tx.get(k) == want, where());
        used.insert(k);
        ++reads;
      } else if (r < 65) {
        check_view(tx, overlay(at_begin, own), used);
      } else {
        check_iterator(tx, at_begin, own, used, changed, ranges, interfere);
      }
      if (rng_.chance(interfere)) store_write(&changed, &ranges);
    }

    bool conflict = false;
    for (const auto& k : used) {
      conflict = conflict || changed.count(k) != 0;
      for (const auto& [a, b] : ranges) conflict = conflict || (a <= k && k < b);
    }
    if (rng_.chance(0.15)) {
      note("tx rollback");
      tx.rollback();
      ++rollbacks;
    } else {
      note(conflict ? "tx commit (conflict expected)" : "tx commit");
      bool threw = false;
      try {
        tx.commit();
      } catch (const lsmt::conflict_error&) {
        threw = true;
      }
      TX_REQUIRE(threw == conflict, where() << "\ncommit threw conflict_error: " << threw);
      if (!conflict) {
        model_ = overlay(model_, own);
        ++commits;
      } else {
        ++conflicts;
      }
    }
    REQUIRE(!tx.active());
  }

  void tx_write(str_db::transaction& tx, writes_t& own, std::set<std::string>& used) {
    const std::string k = any_key();
    if (rng_.chance(0.65)) {
      const std::string v = any_value();
      tx.put(k, v);
      own[k] = v;
      note("tx put " + show(k) + "=" + v);
    } else {
      tx.erase(k);
      own[k] = std::nullopt;
      note("tx erase " + show(k));
    }
    used.insert(k);
  }

  // One range query of the transaction, against the model.
  void check_view(str_db::transaction& tx, const model_t& want_all, std::set<std::string>& used) {
    const std::string a = any_key();
    const std::string b = any_key();
    const int kind = static_cast<int>(rng_.uniform(0, 7));
    static const char* const names[] = {
        "range",     "not_in_range",  "greater_than", "greater_or_equal",
        "less_than", "less_or_equal", "all_except",   "scan"};
    auto keep = [&](const std::string& k) {
      switch (kind) {
        case 0:
          return a <= k && k <= b;
        case 1:
          return !(a <= k && k <= b);
        case 2:
          return k > a;
        case 3:
          return k >= a;
        case 4:
          return k < a;
        case 5:
          return k <= a;
        case 6:
          return k != a;
        default:
          return true;
      }
    };
    auto make = [&]() -> str_db::transaction::view_type {
      switch (kind) {
        case 0:
          return tx.range(a, b);
        case 1:
          return tx.not_in_range(a, b);
        case 2:
          return tx.greater_than(a);
        case 3:
          return tx.greater_or_equal(a);
        case 4:
          return tx.less_than(a);
        case 5:
          return tx.less_or_equal(a);
        case 6:
          return tx.all_except(a);
        default:
          return tx.scan();
      }
    };
    note(std::string("tx ") + names[kind] + " " + show(a) + " " + show(b));
    kv_vector want;
    for (const auto& kv : want_all) {
      if (keep(kv.first)) want.push_back(kv);
    }
    const kv_vector got = make().to_vector();
    TX_REQUIRE(got == want, where() << "\n  got  " << show(got) << "\n  want " << show(want));
    for (const auto& kv : got) used.insert(kv.first);
    ++reads;
  }

  // An iterator of the transaction with random bounds, moved at random; writes of the
  // transaction and of other writers after its creation must not show.
  void check_iterator(str_db::transaction& tx, const model_t& at_begin, writes_t& own,
                      std::set<std::string>& used, std::set<std::string>& changed,
                      std::vector<std::pair<std::string, std::string>>& ranges, double interfere) {
    std::optional<std::string> lo;
    std::optional<std::string> hi;
    if (rng_.chance(0.5)) lo = any_key();
    if (rng_.chance(0.5)) hi = any_key();
    const bool bounded = lo || hi || rng_.chance(0.3);
    note("tx new_iterator " + (lo ? show(*lo) : "-") + " " + (hi ? show(*hi) : "-"));
    str_db::iterator it = bounded ? tx.new_iterator(lo, hi) : tx.new_iterator();
    kv_vector frozen;  // what it must show
    for (const auto& kv : overlay(at_begin, own)) {
      if ((!lo || kv.first >= *lo) && (!hi || kv.first < *hi)) frozen.push_back(kv);
    }
    auto first_at_or_after = [&](const std::string& k) {
      return static_cast<ptrdiff_t>(
          std::lower_bound(frozen.begin(), frozen.end(), std::make_pair(k, std::string())) -
          frozen.begin());
    };
    ptrdiff_t pos = -1;  // expected position in frozen; -1: not valid
    const ptrdiff_t size = static_cast<ptrdiff_t>(frozen.size());
    const size_t moves = rng_.uniform(1, 30);
    for (size_t m = 0; m < moves; ++m) {
      const uint64_t r = rng_.uniform(0, 99);
      if (pos >= 0 && r < 35) {
        note("  next");
        it.next();
        pos = pos + 1 < size ? pos + 1 : -1;
      } else if (pos >= 0 && r < 65) {
        note("  prev");
        it.prev();
        pos = pos - 1;
      } else if (r < 72) {
        note("  seek_to_first");
        it.seek_to_first();
        pos = size > 0 ? 0 : -1;
      } else if (r < 79) {
        note("  seek_to_last");
        it.seek_to_last();
        pos = size - 1;
      } else if (r < 87) {
        const std::string k = any_key();
        note("  seek " + show(k));
        it.seek(k);
        pos = first_at_or_after(k);
        if (pos == size) pos = -1;
      } else if (r < 95) {
        const std::string k = any_key();
        note("  seek_for_prev " + show(k));
        it.seek_for_prev(k);
        const ptrdiff_t after = static_cast<ptrdiff_t>(
            std::upper_bound(frozen.begin(), frozen.end(), k,
                             [](const std::string& x, const auto& kv) { return x < kv.first; }) -
            frozen.begin());
        pos = after - 1;
      } else {
        // Writes after the iterator was made: not shown by it.
        tx_write(tx, own, used);
        if (rng_.chance(interfere * 3)) store_write(&changed, &ranges);
        continue;
      }
      ++iterator_steps;
      ++reads;
      TX_REQUIRE(it.valid() == (pos >= 0), where() << "\n  valid " << it.valid());
      if (pos >= 0) {
        const auto& want = frozen[static_cast<size_t>(pos)];
        TX_REQUIRE(it.key() == want.first,
                   where() << "\n  key " << show(it.key()) << " want " << show(want.first));
        TX_REQUIRE(it.value() == want.second, where() << "\n  value of " << show(want.first));
        used.insert(want.first);
      }
    }
  }

  lsmt_test::seeded_rng rng_;
  lsmt_test::temp_dir dir_{lsmt_test::store_base_dir(), "lsmt-tx-range"};
  std::optional<str_db> db_;
  std::vector<std::string> pool_;
  model_t model_;
  uint64_t values_ = 0;
  std::deque<std::string> trace_;
};

}  // namespace

TEST_CASE("transaction ranges: model of reads over a snapshot plus own writes",
          "[transaction][model]") {
  LSMT_TEST_RNG(rng);
#ifdef LSMT_TEST_SANITIZED
  const double fallback = 1.0;
#else
  const double fallback = 2.0;
#endif
  const double seconds = lsmt_test::env_seconds("LSMT_TX_RANGE_SECONDS", fallback);
  tx_range_model m(rng.seed());
  m.run(seconds);
  INFO("reads " << m.reads << ", iterator steps " << m.iterator_steps << ", transactions "
                << m.transactions << ", commits " << m.commits << ", conflicts " << m.conflicts
                << ", rollbacks " << m.rollbacks);
  WARN("transaction range model: " << m.reads << " reads compared (" << m.iterator_steps
                                   << " iterator steps), " << m.transactions << " transactions, "
                                   << m.commits << " commits, " << m.conflicts << " conflicts");
  // Floors: the test must have checked something of each kind.
  CHECK(m.reads >= 300);
  CHECK(m.iterator_steps >= 100);
  CHECK(m.transactions >= 20);
  CHECK(m.commits >= 1);
  CHECK(m.conflicts >= 1);
}

namespace {

const char* const finished_message = "lsmt: transaction already committed or rolled back";

// Throws invalid_argument_error with the documented message.
template <class F>
void require_finished_error(const char* what, F f) {
  INFO(what);
  bool threw = false;
  try {
    f();
  } catch (const lsmt::invalid_argument_error& e) {
    threw = true;
    CHECK(std::string(e.what()) == finished_message);
  }
  CHECK(threw);
}

struct tx_fixture {
  lsmt_test::temp_dir dir{lsmt_test::store_base_dir(), "lsmt-tx-range"};
  str_db db{dir.path()};
  tx_fixture() {
    for (const char* k : {"a", "b", "c", "d"}) db.put(k, std::string("v") + k);
    db.flush();  // half in a table, half in the memtable
    db.put("e", "ve");
  }
};

kv_vector walk(str_db::iterator& it) {
  kv_vector out;
  for (it.seek_to_first(); it.valid(); it.next()) out.emplace_back(it.key(), it.value());
  return out;
}

}  // namespace

TEST_CASE("transaction ranges: own writes merged over the snapshot, as of creation",
          "[transaction]") {
  tx_fixture f;
  auto tx = f.db.begin_transaction();
  f.db.put("b", "later");  // after the snapshot: not seen
  f.db.put("bb", "later");
  tx.put("c", "mine");
  tx.erase("d");
  tx.put("f", "vf");
  const kv_vector want{{"a", "va"}, {"b", "vb"}, {"c", "mine"}, {"e", "ve"}, {"f", "vf"}};
  CHECK(tx.scan().to_vector() == want);
  CHECK(tx.range("b", "d").to_vector() == kv_vector{{"b", "vb"}, {"c", "mine"}});
  CHECK(tx.not_in_range("b", "e").to_vector() == kv_vector{{"a", "va"}, {"f", "vf"}});
  CHECK(tx.greater_than("c").to_vector() == kv_vector{{"e", "ve"}, {"f", "vf"}});
  CHECK(tx.less_or_equal("c").to_vector() == kv_vector{{"a", "va"}, {"b", "vb"}, {"c", "mine"}});
  CHECK(tx.all_except("e").to_vector() ==
        kv_vector{{"a", "va"}, {"b", "vb"}, {"c", "mine"}, {"f", "vf"}});
  CHECK(tx.less_than("a").empty());

  // Both directions, with a direction change on a key of each source.
  str_db::iterator it = tx.new_iterator();
  CHECK(walk(it) == want);
  kv_vector back;
  for (it.seek_to_last(); it.valid(); it.prev()) back.emplace_back(it.key(), it.value());
  std::reverse(back.begin(), back.end());
  CHECK(back == want);
  it.seek("c");  // the transaction's write
  it.prev();
  REQUIRE(it.valid());
  CHECK(it.key() == "b");
  it.next();
  CHECK(it.key() == "c");
  it.next();
  CHECK(it.key() == "e");  // d is erased by the transaction
  it.prev();
  CHECK(it.key() == "c");
  it.seek_for_prev("d");
  CHECK(it.key() == "c");

  // Bounds: [b, f) holds b, c, e.
  str_db::iterator bounded = tx.new_iterator(std::string("b"), std::string("f"));
  CHECK(walk(bounded) == kv_vector{{"b", "vb"}, {"c", "mine"}, {"e", "ve"}});
  bounded.seek_to_last();
  CHECK(bounded.key() == "e");
  bounded.seek("a");
  CHECK(bounded.key() == "b");
  bounded.seek_for_prev("z");
  CHECK(bounded.key() == "e");

  // Writes made after an iterator or view was created do not show in it; a new one shows them.
  auto view = tx.scan();
  tx.put("a", "changed");
  tx.erase("e");
  tx.put("g", "vg");
  CHECK(walk(it) == want);
  CHECK(view.to_vector() == want);
  CHECK(tx.scan().to_vector() ==
        kv_vector{{"a", "changed"}, {"b", "vb"}, {"c", "mine"}, {"f", "vf"}, {"g", "vg"}});
  str_db::iterator fresh = tx.new_iterator();
  fresh.seek_to_last();
  CHECK(fresh.key() == "g");
}

TEST_CASE("transaction ranges: a key a scan returned conflicts when another writer changes it",
          "[transaction]") {
  tx_fixture f;
  SECTION("view, key in a table") {
    auto tx = f.db.begin_transaction();
    CHECK(tx.range("a", "b").to_vector() == kv_vector{{"a", "va"}, {"b", "vb"}});
    f.db.put("b", "other");
    CHECK_THROWS_AS(tx.commit(), lsmt::conflict_error);
  }
  SECTION("iterator, key in the memtable, erased by the other writer") {
    auto tx = f.db.begin_transaction();
    auto it = tx.new_iterator();
    it.seek_to_last();
    REQUIRE(it.key() == "e");
    f.db.erase("e");
    tx.put("z", "1");
    CHECK_THROWS_AS(tx.commit(), lsmt::conflict_error);
    CHECK(!f.db.get("z"));
  }
  SECTION("iterator walking backward, key covered by a later range deletion") {
    auto tx = f.db.begin_transaction();
    auto it = tx.new_iterator();
    it.seek_for_prev("c");
    it.prev();
    REQUIRE(it.key() == "b");
    f.db.delete_range("b", "bz");
    CHECK_THROWS_AS(tx.commit(), lsmt::conflict_error);
  }
}

TEST_CASE("transaction ranges: keys not returned do not conflict (nor do phantoms)",
          "[transaction]") {
  tx_fixture f;
  auto tx = f.db.begin_transaction();
  CHECK(tx.range("a", "b").to_vector() == kv_vector{{"a", "va"}, {"b", "vb"}});
  auto it = tx.new_iterator(std::string("c"), std::nullopt);
  it.seek_to_first();
  REQUIRE(it.key() == "c");  // c is read; d and e are not reached
  tx.put("x", "1");
  f.db.put("d", "other");         // never returned
  f.db.erase("e");                // never returned
  f.db.put("ab", "phantom");      // a new key inside the scanned range [a, b]: not detected
  f.db.delete_range("aa", "az");  // covers no key the transaction read
  tx.commit();
  CHECK(f.db.get("x") == "1");
}

TEST_CASE("transaction ranges: a finished transaction, its iterators and views throw",
          "[transaction]") {
  tx_fixture f;
  enum class end_by { commit, conflict, rollback };
  for (const end_by how : {end_by::commit, end_by::conflict, end_by::rollback}) {
    INFO("ended by " << static_cast<int>(how));
    auto tx = f.db.begin_transaction();
    tx.put("n", "1");
    auto it = tx.new_iterator();
    it.seek_to_first();
    REQUIRE(it.valid());
    auto view = tx.scan();
    if (how == end_by::commit) {
      tx.commit();
    } else if (how == end_by::conflict) {
      f.db.put("n", "other");
      CHECK_THROWS_AS(tx.commit(), lsmt::conflict_error);
    } else {
      tx.rollback();
    }
    CHECK(!tx.active());
    require_finished_error("get", [&] { (void)tx.get("a"); });
    require_finished_error("put", [&] { tx.put("a", "1"); });
    require_finished_error("erase", [&] { tx.erase("a"); });
    require_finished_error("commit", [&] { tx.commit(); });
    require_finished_error("new_iterator", [&] { (void)tx.new_iterator(); });
    require_finished_error("new_iterator(lo, hi)",
                           [&] { (void)tx.new_iterator(std::string("a"), std::nullopt); });
    require_finished_error("range", [&] { (void)tx.range("a", "b"); });
    require_finished_error("not_in_range", [&] { (void)tx.not_in_range("a", "b"); });
    require_finished_error("greater_than", [&] { (void)tx.greater_than("a"); });
    require_finished_error("greater_or_equal", [&] { (void)tx.greater_or_equal("a"); });
    require_finished_error("less_than", [&] { (void)tx.less_than("a"); });
    require_finished_error("less_or_equal", [&] { (void)tx.less_or_equal("a"); });
    require_finished_error("all_except", [&] { (void)tx.all_except("a"); });
    require_finished_error("scan", [&] { (void)tx.scan(); });
    require_finished_error("iterator valid", [&] { (void)it.valid(); });
    require_finished_error("iterator key", [&] { (void)it.key(); });
    require_finished_error("iterator next", [&] { it.next(); });
    require_finished_error("iterator prev", [&] { it.prev(); });
    require_finished_error("iterator seek", [&] { it.seek("a"); });
    require_finished_error("iterator seek_for_prev", [&] { it.seek_for_prev("a"); });
    require_finished_error("iterator seek_to_first", [&] { it.seek_to_first(); });
    require_finished_error("iterator seek_to_last", [&] { it.seek_to_last(); });
    require_finished_error("view begin", [&] { (void)view.begin(); });
    require_finished_error("view to_vector", [&] { (void)view.to_vector(); });
    tx.rollback();  // a no-op on a finished transaction
    CHECK(!tx.active());
  }
  // A moved-from transaction throws too (rather than crashing).
  auto tx = f.db.begin_transaction();
  auto other = std::move(tx);
  require_finished_error("moved-from get",
                         [&] { (void)tx.get("a"); });  // NOLINT(bugprone-use-after-move)
  CHECK(other.get("a") == "va");
  other.rollback();

  // Destroying an uncommitted transaction, or moving another over it, rolls it back: its
  // iterators and views throw rather than keep adding to a read set nobody checks.
  std::optional<lsmt::db<>::iterator> orphan;
  {
    auto doomed = f.db.begin_transaction();
    orphan.emplace(doomed.new_iterator());
  }
  require_finished_error("iterator of a destroyed transaction", [&] { orphan->seek_to_first(); });
  auto replaced = f.db.begin_transaction();
  auto replaced_view = replaced.scan();
  replaced = f.db.begin_transaction();
  require_finished_error("view of a replaced transaction",
                         [&] { (void)replaced_view.to_vector(); });
  CHECK(replaced.active());
  CHECK(replaced.get("a") == "va");
}

}  // namespace transaction_range_test_cpp
