// tests/concurrency_test.cpp - invariants that must hold while threads race.
//
// Writers own key prefixes and write increasing counters (single puts and
// batches that write one counter to several keys); readers check that what
// they see never goes backwards and that every snapshot, iterator and range
// view shows each batch entirely or not at all, while flushes and compactions
// run all the time (tiny memtables). Also: close() racing with every kind of
// call, and snapshots/iterators/views outliving the db object.
//
// Worker threads never call Catch2 macros (Catch2 is not thread-safe): they
// record the first failure in a `failures` object that the main thread checks.
//
// Meant to pass under ThreadSanitizer (-fsanitize=thread). Environment:
//   LSMT_TEST_DURATION_MS  how long each timed phase runs (default 1500)
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lsmt.hpp"
#include "lsmt/internal_iterator.hpp"
#include "lsmt/memtable.hpp"
#include "lsmt/merging_iterator.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace concurrency_test_cpp {

namespace {

using store_t = lsmt::db<>;
using namespace std::chrono_literals;

// Stores go under $LSMT_TEST_TMPDIR, else /dev/shm (tmpfs: fsync is cheap), else the system
// temporary directory.
struct temp_dir : lsmt_test::temp_dir {
  explicit temp_dir(const std::string& tag)
      : lsmt_test::temp_dir(lsmt_test::store_base_dir(), "lsmt-test-" + tag) {}
};

std::chrono::milliseconds phase_duration() {
  return std::chrono::milliseconds(lsmt_test::env_u64("LSMT_TEST_DURATION_MS", 1500));
}

// Thread-safe record of the first few failures.
class failures {
 public:
  void add(const std::string& what) {
    std::lock_guard<std::mutex> g(mu_);
    if (messages_.size() < 10) messages_.push_back(what);
    ++count_;
  }
  size_t count() const {
    std::lock_guard<std::mutex> g(mu_);
    return count_;
  }
  std::string report() const {
    std::lock_guard<std::mutex> g(mu_);
    std::string out;
    for (const auto& m : messages_) out += m + "\n";
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> messages_;
  size_t count_ = 0;
};

#define REQUIRE_NO_FAILURES(f)  \
  do {                          \
    INFO((f).report());         \
    REQUIRE((f).count() == 0u); \
  } while (0)

// Counter values: 16 decimal digits, then padding so tables grow.
std::string encode_counter(uint64_t c, size_t pad = 0) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llu", static_cast<unsigned long long>(c));
  return std::string(buf) + std::string(pad, 'x');
}
uint64_t decode_counter(const std::string& v) {
  return std::strtoull(v.substr(0, 16).c_str(), nullptr, 10);
}

lsmt::options small_options() {
  lsmt::options o;
  o.memtable_max_entries = 24;
  o.compaction_interval = 3;
  o.minimum_sstables = 1;
  o.max_immutable_memtables = 2;
  o.block_size = 1024;
  return o;
}

constexpr int batch_keys = 4;
std::string single_key(int w) { return "w" + std::to_string(w) + "/s"; }
std::string batch_key(int w, int j) { return "w" + std::to_string(w) + "/b" + std::to_string(j); }

}  // namespace

TEST_CASE("concurrency: monotonic reads and atomic batches under flushes and compactions",
          "[concurrency]") {
  temp_dir dir("conc");
  store_t db(dir.path(), small_options());
  constexpr int writers = 2;
  constexpr int readers = 2;
  for (int w = 0; w < writers; ++w) {
    db.put(single_key(w), encode_counter(0));
    store_t::batch b;
    for (int j = 0; j < batch_keys; ++j) b.put(batch_key(w, j), encode_counter(0));
    db.write(b);
  }
  db.put("tx/counter", encode_counter(0));

  failures fail;
  std::atomic<bool> stop{false};
  std::vector<uint64_t> last_single(writers, 0), last_batch(writers, 0);
  std::atomic<uint64_t> tx_commits{0}, tx_conflicts{0}, reads{0};
  std::vector<std::thread> threads;

  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(w));
      uint64_t c = 0;
      try {
        while (!stop.load()) {
          ++c;
          if (c % 2 == 0) {
            db.put(single_key(w), encode_counter(c, rng() % 40));
            last_single[w] = c;
          } else {
            store_t::batch b;
            for (int j = 0; j < batch_keys; ++j)
              b.put(batch_key(w, j), encode_counter(c, rng() % 40));
            // Churn in the same batch: filler keys come and go.
            const std::string filler = "w" + std::to_string(w) + "/f" + std::to_string(rng() % 64);
            if (rng() % 3 == 0) {
              b.erase(filler);
            } else {
              b.put(filler, encode_counter(c));
            }
            db.write(b, lsmt::write_options{rng() % 16 == 0});
            last_batch[w] = c;
          }
        }
      } catch (const std::exception& e) {
        fail.add(std::string("writer: ") + e.what());
      }
    });
  }

  for (int r = 0; r < readers; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(static_cast<unsigned>(100 + r));
      std::vector<uint64_t> seen_single(writers, 0), seen_batch(writers, 0);
      try {
        while (!stop.load()) {
          const int w = static_cast<int>(rng() % writers);
          reads.fetch_add(1);
          // 1. get never goes backwards and never loses a key that always exists.
          const auto s = db.get(single_key(w));
          if (!s) {
            fail.add("get(" + single_key(w) + ") returned nothing for a key that always exists");
          } else {
            const uint64_t v = decode_counter(*s);
            if (v < seen_single[w]) {
              fail.add("get(" + single_key(w) + ") went backwards: " + std::to_string(v) + " < " +
                       std::to_string(seen_single[w]));
            }
            seen_single[w] = std::max(seen_single[w], v);
          }
          // 2. gets of batch keys go forward too (not necessarily equal: separate reads).
          const auto b0 = db.get(batch_key(w, 0));
          if (!b0 || decode_counter(*b0) < seen_batch[w]) {
            fail.add("get(" + batch_key(w, 0) + ") lost or went backwards");
          } else {
            seen_batch[w] = decode_counter(*b0);
          }
          const size_t kind = rng() % 4;
          if (kind == 0) {
            // 3. A snapshot sees each batch whole, by get and by iteration.
            const lsmt::snapshot snap = db.get_snapshot();
            const lsmt::read_options ro{&snap};
            std::optional<uint64_t> first;
            for (int j = 0; j < batch_keys; ++j) {
              const auto v = db.get(batch_key(w, j), ro);
              if (!v) {
                fail.add("snapshot get lost " + batch_key(w, j));
                continue;
              }
              if (!first) first = decode_counter(*v);
              if (decode_counter(*v) != *first) {
                fail.add("snapshot get saw a half-applied batch: " + batch_key(w, j) + "=" +
                         std::to_string(decode_counter(*v)) + " vs " + std::to_string(*first));
              }
            }
            if (first && *first < seen_batch[w]) fail.add("snapshot older than an earlier get");
            auto it = db.new_iterator(std::string("w") + std::to_string(w) + "/b",
                                      std::string("w") + std::to_string(w) + "/c", ro);
            int n = 0;
            for (it.seek_to_first(); it.valid(); it.next(), ++n) {
              if (!first || decode_counter(it.value()) != *first) {
                fail.add("snapshot iterator disagrees with snapshot get at " + it.key());
              }
            }
            if (n != batch_keys) fail.add("snapshot iterator saw " + std::to_string(n) + " keys");
          } else if (kind == 1) {
            // 4. A plain iterator is one point in time: walk it both ways.
            auto it = db.new_iterator(std::string("w") + std::to_string(w) + "/",
                                      std::string("w") + std::to_string(w) + "0");
            std::vector<uint64_t> fwd, bwd;
            std::string walked;
            for (it.seek(batch_key(w, 0)); it.valid() && it.key() <= batch_key(w, batch_keys - 1);
                 it.next()) {
              fwd.push_back(decode_counter(it.value()));
              walked += " " + it.key() + "=" + std::to_string(fwd.back());
            }
            walked += " | backward:";
            for (it.seek_for_prev(batch_key(w, batch_keys - 1));
                 it.valid() && it.key() >= batch_key(w, 0); it.prev()) {
              bwd.push_back(decode_counter(it.value()));
              walked += " " + it.key() + "=" + std::to_string(bwd.back());
            }
            if (fwd.size() != static_cast<size_t>(batch_keys) || bwd.size() != fwd.size()) {
              fail.add("iterator saw " + std::to_string(fwd.size()) + "/" +
                       std::to_string(bwd.size()) + " batch keys:" + walked);
            } else {
              for (size_t j = 0; j < fwd.size(); ++j) {
                if (fwd[j] != fwd[0] || bwd[j] != fwd[0]) {
                  fail.add("iterator saw a half-applied batch");
                  break;
                }
              }
              if (fwd[0] < seen_batch[w]) fail.add("iterator older than an earlier get");
            }
          } else if (kind == 2) {
            // 5. Range views, one segment and two segments.
            const auto v = db.range(batch_key(w, 0), batch_key(w, batch_keys - 1)).to_vector();
            if (v.size() != static_cast<size_t>(batch_keys)) {
              fail.add("range view saw " + std::to_string(v.size()) + " batch keys");
            } else {
              for (const auto& kv : v) {
                if (kv.second.substr(0, 16) != v[0].second.substr(0, 16)) {
                  fail.add("range view saw a half-applied batch");
                  break;
                }
              }
            }
            std::vector<uint64_t> others;
            for (const auto& kv : db.all_except(batch_key(w, 0))) {
              if (kv.first > batch_key(w, 0) && kv.first <= batch_key(w, batch_keys - 1)) {
                others.push_back(decode_counter(kv.second));
              }
            }
            if (others.size() != static_cast<size_t>(batch_keys - 1)) {
              fail.add("all_except view saw " + std::to_string(others.size()) + " batch keys");
            } else {
              for (uint64_t o : others) {
                if (o != others[0]) fail.add("all_except view saw a half-applied batch");
              }
            }
          } else {
            if (db.contains(single_key(w)) == false) fail.add("contains lost a key");
          }
        }
      } catch (const std::exception& e) {
        fail.add(std::string("reader: ") + e.what());
      }
    });
  }

  // Read-modify-write transactions on one counter: conflicts must be detected.
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      try {
        while (!stop.load()) {
          auto tx = db.begin_transaction();
          const auto v = tx.get("tx/counter");
          if (!v) {
            fail.add("tx.get lost tx/counter");
            continue;
          }
          tx.put("tx/counter", encode_counter(decode_counter(*v) + 1));
          if (tx.get("tx/counter") != encode_counter(decode_counter(*v) + 1)) {
            fail.add("tx.get does not see its own write");
          }
          try {
            tx.commit();
            tx_commits.fetch_add(1);
          } catch (const lsmt::conflict_error&) {
            tx_conflicts.fetch_add(1);
          }
        }
      } catch (const std::exception& e) {
        fail.add(std::string("transaction thread: ") + e.what());
      }
    });
  }

  threads.emplace_back([&] {
    try {
      for (int i = 0; !stop.load(); ++i) {
        if (i % 4 == 3) {
          db.compact();
        } else {
          db.flush();
        }
        (void)db.stats();
        std::this_thread::sleep_for(2ms);
      }
    } catch (const std::exception& e) {
      fail.add(std::string("maintenance: ") + e.what());
    }
  });

  std::this_thread::sleep_for(phase_duration());
  stop.store(true);
  for (auto& t : threads) t.join();
  REQUIRE_NO_FAILURES(fail);
  CHECK(reads.load() > 0);
  INFO("tx commits " << tx_commits.load() << ", conflicts " << tx_conflicts.load());
  CHECK(tx_commits.load() > 0);

  // The final state is the last write of every writer, and every committed increment.
  for (int w = 0; w < writers; ++w) {
    REQUIRE(decode_counter(db.get(single_key(w)).value()) == last_single[w]);
    for (int j = 0; j < batch_keys; ++j) {
      REQUIRE(decode_counter(db.get(batch_key(w, j)).value()) == last_batch[w]);
    }
  }
  REQUIRE(decode_counter(db.get("tx/counter").value()) == tx_commits.load());
  db.close();
  store_t again(dir.path(), small_options());
  REQUIRE(decode_counter(again.get("tx/counter").value()) == tx_commits.load());
  for (int w = 0; w < writers; ++w) {
    REQUIRE(decode_counter(again.get(single_key(w)).value()) == last_single[w]);
  }
}

TEST_CASE("concurrency: a hot key that always exists is never lost by get or an iterator",
          "[concurrency]") {
  // One key overwritten as fast as possible with a 16-entry memtable: every flush
  // drops all but the newest version, so a reader that reads "the latest
  // sequence" and the store's state at two different moments can miss it.
  // Each rotation and flush also publishes a new read view, which readers pin through
  // per-thread pins (store_core.hpp): 20 readers share the 16 pins, and a read that starts
  // after a put returned must see it, which a pin still showing an older view would not.
  temp_dir dir("hot");
  lsmt::options o = small_options();
  o.memtable_max_entries = 16;
  store_t db(dir.path(), o);
  db.put("hot", encode_counter(0));
  failures fail;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> misses{0}, checks{0}, acked{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    try {
      for (uint64_t c = 1; !stop.load(); ++c) {
        db.put("hot", encode_counter(c));
        acked.store(c);
      }
    } catch (const std::exception& e) {
      fail.add(std::string("writer: ") + e.what());
    }
  });
  for (int r = 0; r < 20; ++r) {
    threads.emplace_back([&, r] {
      uint64_t seen = 0;
      try {
        for (uint64_t i = 0; !stop.load(); ++i) {
          checks.fetch_add(1);
          const uint64_t returned = acked.load();
          std::optional<std::string> v;
          if ((i + static_cast<uint64_t>(r)) % 3 == 0) {
            auto it = db.new_iterator();
            it.seek("hot");
            if (it.valid() && it.key() == "hot") v = it.value();
          } else {
            v = db.get("hot");
          }
          if (!v) {
            misses.fetch_add(1);
            continue;
          }
          if (decode_counter(*v) < seen) fail.add("hot key went backwards");
          if (decode_counter(*v) < returned) {
            fail.add("read " + std::to_string(decode_counter(*v)) + " after put " +
                     std::to_string(returned) + " returned");
          }
          seen = decode_counter(*v);
        }
      } catch (const std::exception& e) {
        fail.add(std::string("reader: ") + e.what());
      }
    });
  }
  // Twenty busy readers can starve the writer (and the flushes it waits for): run on until it
  // has made 100 puts, about six memtable rotations, so the views changed under the readers.
  std::this_thread::sleep_for(phase_duration());
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (acked.load() <= 100 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(10ms);
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  REQUIRE_NO_FAILURES(fail);
  INFO(misses.load() << " of " << checks.load() << " reads lost the key");
  REQUIRE(misses.load() == 0u);
  REQUIRE(acked.load() > 100u);
}

TEST_CASE("concurrency: close() racing with readers and writers", "[concurrency]") {
  temp_dir dir("close");
  const auto duration = phase_duration();
  for (int round = 0; round < 4; ++round) {
    CAPTURE(round);
    auto db = std::make_unique<store_t>(dir.path(), small_options());
    failures fail;
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> closed_errors{0}, ok_ops{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937 rng(static_cast<unsigned>(round * 10 + t));
        const std::string p = "c" + std::to_string(t) + "/";
        // Iterators and views made before close() must stay usable after it.
        std::optional<store_t::iterator> kept;
        uint64_t c = 0;
        while (!stop.load()) {
          try {
            switch (rng() % 10) {
              case 0:
              case 1: {
                store_t::batch b;
                ++c;
                for (int j = 0; j < batch_keys; ++j)
                  b.put(p + std::to_string(j), encode_counter(c));
                db->write(b);
                break;
              }
              case 2:
                db->put(p + "x" + std::to_string(rng() % 100), "v");
                break;
              case 3:
                (void)db->get(p + "0");
                break;
              case 4: {
                auto it = db->new_iterator();
                for (it.seek_to_first(); it.valid(); it.next()) {
                }
                kept.emplace(db->new_iterator(p, std::nullopt));
                break;
              }
              case 5:
                (void)db->scan().to_vector();
                break;
              case 6: {
                auto snap = db->get_snapshot();
                (void)db->get(p + "1", lsmt::read_options{&snap});
                break;
              }
              case 7:
                if (rng() % 4 == 0) {
                  db->compact();
                } else {
                  db->flush();
                }
                break;
              case 8: {
                auto tx = db->begin_transaction();
                (void)tx.get(p + "0");
                tx.put(p + "t", "v");
                tx.commit();
                break;
              }
              default:
                if (kept) {
                  for (kept->seek_to_last(); kept->valid(); kept->prev()) {
                  }
                }
                break;
            }
            ok_ops.fetch_add(1);
          } catch (const lsmt::closed_error&) {
            closed_errors.fetch_add(1);
            std::this_thread::yield();
          } catch (const lsmt::conflict_error&) {
            // another thread of this test touched the key: fine
          } catch (const std::exception& e) {
            fail.add(std::string("thread ") + std::to_string(t) + ": " + e.what());
            return;
          }
        }
      });
    }
    std::mt19937 rng(static_cast<unsigned>(round));
    std::this_thread::sleep_for(std::chrono::milliseconds(
        5 + rng() % static_cast<unsigned>(std::max<long long>(10, duration.count() / 8))));
    db->close();  // must not throw while others run
    REQUIRE_FALSE(db->is_open());
    std::this_thread::sleep_for(20ms);
    stop.store(true);
    for (auto& t : threads) t.join();
    REQUIRE_NO_FAILURES(fail);
    db.reset();
    // Every batch is whole after reopening.
    store_t again(dir.path(), small_options());
    for (int t = 0; t < 4; ++t) {
      const std::string p = "c" + std::to_string(t) + "/";
      const auto first = again.get(p + "0");
      for (int j = 1; j < batch_keys; ++j) REQUIRE(again.get(p + std::to_string(j)) == first);
    }
  }
}

TEST_CASE("concurrency: snapshots, iterators and views outlive the db object", "[concurrency]") {
  temp_dir dir("outlive");
  auto db = std::make_unique<store_t>(dir.path(), small_options());
  std::vector<std::pair<std::string, std::string>> expected;
  for (int i = 0; i < 300; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%04d", i);
    db->put(key, encode_counter(static_cast<uint64_t>(i), 20));
    expected.emplace_back(key, encode_counter(static_cast<uint64_t>(i), 20));
  }
  db->flush();
  lsmt::snapshot snap = db->get_snapshot();
  // Later writes are invisible to the snapshot and to everything made from it.
  for (int i = 0; i < 300; i += 3) {
    char key[16];
    std::snprintf(key, sizeof key, "k%04d", i);
    db->erase(key);
  }
  db->compact();

  constexpr int walkers = 3;
  std::vector<store_t::iterator> iters;
  for (int i = 0; i < walkers; ++i) iters.push_back(db->new_iterator(lsmt::read_options{&snap}));
  auto view = db->scan(lsmt::read_options{&snap});
  auto latest_view = db->range("k0000", "k0299");
  const size_t latest_count = 200;

  failures fail;
  std::atomic<bool> db_gone{false};
  std::atomic<int> walks_after{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < walkers; ++i) {
    threads.emplace_back([&, i] {
      store_t::iterator& it = iters[static_cast<size_t>(i)];
      int after = 0;
      try {
        while (after < 5) {
          const bool gone = db_gone.load();
          std::vector<std::pair<std::string, std::string>> got;
          if (i % 2 == 0) {
            for (it.seek_to_first(); it.valid(); it.next()) got.emplace_back(it.key(), it.value());
          } else {
            for (it.seek_to_last(); it.valid(); it.prev()) got.emplace_back(it.key(), it.value());
            std::reverse(got.begin(), got.end());
          }
          if (got != expected)
            fail.add("an iterator's walk changed (db gone: " + std::to_string(gone) + ")");
          if (gone) {
            ++after;
            walks_after.fetch_add(1);
          }
        }
      } catch (const std::exception& e) {
        fail.add(std::string("walker: ") + e.what());
      }
    });
  }
  std::this_thread::sleep_for(20ms);
  db.reset();  // closes the store and destroys the db object
  db_gone.store(true);
  for (auto& t : threads) t.join();
  REQUIRE_NO_FAILURES(fail);
  REQUIRE(walks_after.load() == walkers * 5);

  // A view made before the close still walks; so does the view of the latest state.
  REQUIRE(view.to_vector() == expected);
  REQUIRE(latest_view.to_vector().size() == latest_count);

  // Reopen while the old iterators, views and snapshot are alive: the new store may
  // delete the old store's files; readers of them keep working.
  {
    store_t again(dir.path(), small_options());
    again.compact();
    REQUIRE(again.scan().to_vector().size() == latest_count);
    REQUIRE_THROWS_AS(again.get("k0001", lsmt::read_options{&snap}), lsmt::invalid_argument_error);
    auto& it = iters[0];
    size_t n = 0;
    for (it.seek_to_first(); it.valid(); it.next()) ++n;
    REQUIRE(n == expected.size());
  }
  snap.release();  // after the store is gone
  REQUIRE_FALSE(snap.valid());
  iters.clear();
}

TEST_CASE("concurrency: calls on a closed store throw closed_error", "[concurrency]") {
  temp_dir dir("closed");
  store_t db(dir.path(), small_options());
  db.put("a", "1");
  auto it = db.new_iterator();
  auto snap = db.get_snapshot();
  auto tx = db.begin_transaction();
  db.close();
  db.close();  // idempotent
  REQUIRE_FALSE(db.is_open());
  REQUIRE_THROWS_AS(db.put("a", "2"), lsmt::closed_error);
  REQUIRE_THROWS_AS(db.erase("a"), lsmt::closed_error);
  REQUIRE_THROWS_AS(db.get("a"), lsmt::closed_error);
  REQUIRE_THROWS_AS(db.get("a", lsmt::read_options{&snap}), lsmt::closed_error);
  REQUIRE_THROWS_AS(db.new_iterator(), lsmt::closed_error);
  REQUIRE_THROWS_AS(db.scan(), lsmt::closed_error);
  REQUIRE_THROWS_AS(db.get_snapshot(), lsmt::closed_error);
  REQUIRE_THROWS_AS(db.begin_transaction(), lsmt::closed_error);
  REQUIRE_THROWS_AS(db.flush(), lsmt::closed_error);
  REQUIRE_THROWS_AS(db.compact(), lsmt::closed_error);
  REQUIRE_THROWS_AS(tx.put("b", "1"), lsmt::closed_error);
  REQUIRE_THROWS_AS(tx.get("a"), lsmt::closed_error);
  REQUIRE_THROWS_AS(tx.commit(), lsmt::closed_error);
  it.seek_to_first();
  REQUIRE(it.valid());
  REQUIRE(it.key() == "a");
  REQUIRE(it.value() == "1");
}

namespace {

// A memtable iterator that, once armed, inserts an entry into its memtable right
// after its next seek(): a concurrent write landing between the seek and the
// following prev() of merging_iterator's change of direction, made deterministic.
class inserting_iterator final : public lsmt::detail::internal_iterator {
 public:
  inserting_iterator(lsmt::detail::memtable& mem, std::string user_key, uint64_t seq)
      : mem_(mem), inner_(mem.new_iterator()), user_key_(std::move(user_key)), seq_(seq) {}
  bool armed = false;
  bool valid() const override { return inner_->valid(); }
  void seek_to_first() override { inner_->seek_to_first(); }
  void seek_to_last() override { inner_->seek_to_last(); }
  void seek(std::string_view target) override {
    inner_->seek(target);
    if (armed) {
      armed = false;
      mem_.add(seq_, lsmt::detail::value_type::value, user_key_, "new");
    }
  }
  void next() override { inner_->next(); }
  void prev() override { inner_->prev(); }
  std::string_view key() const override { return inner_->key(); }
  std::string_view value() const override { return inner_->value(); }

 private:
  lsmt::detail::memtable& mem_;
  std::unique_ptr<lsmt::detail::internal_iterator> inner_;
  std::string user_key_;
  uint64_t seq_;
};

}  // namespace

TEST_CASE("concurrency: merging_iterator turns backward correctly while a memtable grows",
          "[concurrency]") {
  using namespace lsmt::detail;
  memtable grows;  // a, e; "d" arrives during the change of direction
  grows.add(1, value_type::value, "a", "1");
  grows.add(5, value_type::value, "e", "5");
  memtable other;
  other.add(3, value_type::value, "c", "3");
  auto growing = std::make_unique<inserting_iterator>(grows, "d", 9);
  inserting_iterator* hook = growing.get();
  std::vector<std::unique_ptr<internal_iterator>> children;
  children.push_back(std::move(growing));
  children.push_back(other.new_iterator());
  merging_iterator it(std::move(children));
  it.seek(make_lookup_key("c", max_sequence));
  REQUIRE(it.valid());
  REQUIRE(extract_user_key(it.key()) == "c");
  hook->armed = true;
  it.prev();  // must land on the largest entry before (c, 3): (a, 1)
  REQUIRE(it.valid());
  CHECK(extract_user_key(it.key()) == "a");
  CHECK(extract_sequence(it.key()) == 1u);
}

}  // namespace concurrency_test_cpp
