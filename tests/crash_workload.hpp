// tests/crash_workload.hpp - the scripted workloads of the fault-injection suites
// (crash_points_test.cpp, io_error_test.cpp), the model of a store's contents after every prefix
// of their writes, and the check that a store recovered after a fault holds a permitted state.
//
//   workload            steps (writes, batches, transactions, flushes, compactions, reopens, and
//                       hold/release brackets for the background threads), options, and
//                       states[i]: the model's contents after the first i writes.
//   make_workloads      the workloads both suites run (WAL, rotation, flushes, compactions,
//                       reopens, range deletes); make_pending_flush_workload: a synced write right
//                       after a log switch whose memtable still waits for its flush.
//   workload_seed       the workloads' seed: $LSMT_TEST_SEED, else a fixed one, so op counts (and
//                       the README's figures) are stable.
//   run_log             what a run did (workload_driver.hpp fills it in).
//   read_all, check_state
//                       a recovered store's contents, and whether they equal the model after
//                       some permitted prefix of the attempted writes.
#ifndef LSMT_TEST_CRASH_WORKLOAD_HPP
#define LSMT_TEST_CRASH_WORKLOAD_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "lsmt.hpp"
#include "test_env.hpp"

namespace lsmt_test::crash_work {

using kv_map = std::map<std::string, std::string>;
using store_t = lsmt::db<>;

inline const std::string db_dir = "/db";

struct kv_op {
  kv_op(bool erase_, std::string key_, std::string value_,
        std::optional<std::string> end_ = std::nullopt)
      : erase(erase_), key(std::move(key_)), value(std::move(value_)), end(std::move(end_)) {}
  bool erase = false;
  std::string key, value;
  std::optional<std::string> end;  // with erase: delete_range(key, *end)
};

/// One scripted call. write: a batch of ops (one op: put or erase). txn: reads ops[0].key and
/// writes it back with "|" + ops[0].value appended, plus the other ops. hold/release bracket
/// writes during which the background threads may not touch files (so a write can land while a
/// rotated memtable still waits for its flush).
struct step {
  enum kind_t { write, txn, flush, compact, reopen, hold, release } kind = write;
  std::vector<kv_op> ops;
  bool sync = false;
};

struct workload {
  std::string name;
  lsmt::options opts;
  std::vector<step> steps;
  std::vector<kv_map> states;  // states[i]: the contents after the first i writes
  std::set<std::string> keys;  // every key the workload touches
};

inline bool is_write(const step& s) { return s.kind == step::write || s.kind == step::txn; }

/// The model: applies one write step.
inline void apply(const step& s, kv_map& m) {
  for (size_t i = 0; i < s.ops.size(); ++i) {
    const kv_op& op = s.ops[i];
    if (op.end) {
      if (op.key < *op.end) m.erase(m.lower_bound(op.key), m.lower_bound(*op.end));
    } else if (op.erase) {
      m.erase(op.key);
    } else if (s.kind == step::txn && i == 0) {
      auto it = m.find(op.key);
      m[op.key] = (it == m.end() ? std::string() : it->second) + "|" + op.value;
    } else {
      m[op.key] = op.value;
    }
  }
}

inline void finish(workload& w) {
  w.states.assign(1, kv_map{});
  for (const step& s : w.steps) {
    for (const kv_op& op : s.ops) w.keys.insert(op.key);
    if (!is_write(s)) continue;
    kv_map next = w.states.back();
    apply(s, next);
    w.states.push_back(std::move(next));
  }
}

/// Builds random steps over a small key space (so overwrites and deletes hit live keys).
class generator {
 public:
  generator(workload& w, uint64_t seed, size_t key_space) : w_(w), rng_(seed), keys_(key_space) {}

  std::string key() { return "k" + std::to_string(rng_() % keys_); }
  void set_key_space(size_t n) { keys_ = n; }
  std::string value() {
    // Mostly small; sometimes big enough that a WAL record spans pages.
    const size_t len = rng_() % 8 == 0 ? 1500 + rng_() % 3000 : 1 + rng_() % 40;
    std::string v = "v" + std::to_string(counter_++) + ":";
    while (v.size() < len) v.push_back(static_cast<char>('a' + rng_() % 26));
    return v;
  }
  /// n random writes; each is synced with probability sync_p.
  void writes(size_t n, double sync_p) {
    for (size_t i = 0; i < n; ++i) {
      step s;
      const unsigned r = static_cast<unsigned>(rng_() % 100);
      s.sync = std::bernoulli_distribution(sync_p)(rng_);
      if (r < 45) {
        s.ops.push_back({false, key(), value()});
      } else if (r < 65) {
        s.ops.push_back({true, key(), {}});
      } else if (r < 85) {
        const size_t n_ops = 2 + rng_() % 4;
        for (size_t j = 0; j < n_ops; ++j) {
          if (rng_() % 4 == 0) {
            s.ops.push_back({true, key(), {}});
          } else {
            s.ops.push_back({false, key(), value()});
          }
        }
      } else {
        s.kind = step::txn;
        s.ops.push_back({false, key(), "t" + std::to_string(counter_++)});
        const size_t n_ops = rng_() % 3;
        for (size_t j = 0; j < n_ops; ++j) s.ops.push_back({rng_() % 3 == 0, key(), value()});
        // A later op on the read key would overwrite the read-modify-write; keep it simple.
        for (size_t j = 1; j < s.ops.size(); ++j) {
          if (s.ops[j].key == s.ops[0].key) s.ops[j].key += "x";
        }
      }
      w_.steps.push_back(std::move(s));
    }
  }
  /// n random writes of which about a third are range deletes (alone, or in a batch).
  void range_writes(size_t n, double sync_p) {
    for (size_t i = 0; i < n; ++i) {
      if (rng_() % 3 != 0) {
        writes(1, sync_p);
        continue;
      }
      step s;
      s.sync = std::bernoulli_distribution(sync_p)(rng_);
      if (rng_() % 2 == 0) s.ops.push_back({false, key(), value()});
      std::string a = key();
      std::string b = rng_() % 2 == 0 ? key() : a + std::to_string(rng_() % 10);
      if (b < a) std::swap(a, b);
      s.ops.push_back({true, a, {}, b});
      if (rng_() % 2 == 0) s.ops.push_back({false, key(), value()});
      w_.steps.push_back(std::move(s));
    }
  }
  void add(step::kind_t k) {
    step s;
    s.kind = k;
    w_.steps.push_back(std::move(s));
  }
  void put(const std::string& k, bool sync) {
    step s;
    s.sync = sync;
    s.ops.push_back({false, k, value()});
    w_.steps.push_back(std::move(s));
  }

 private:
  workload& w_;
  std::mt19937_64 rng_;
  size_t keys_;
  uint64_t counter_ = 0;
};

inline lsmt::options base_options() {
  lsmt::options o;
  o.block_size = 1024;
  o.block_cache_bytes = 64 << 10;
  o.compaction_interval = 8;
  o.minimum_sstables = 2;
  return o;
}

/// A leveled layout with 1 KiB files and levels: merges write several tables into sorted levels
/// that hold others, and move tables down.
inline lsmt::options tiny_leveled_options() {
  lsmt::options o = base_options();
  o.memtable_max_entries = 4;
  o.compaction_interval = 2;
  o.minimum_sstables = 1;
  o.target_file_size = 1024;
  o.base_level_bytes = 1024;
  o.level_size_ratio = 2;
  return o;
}

/// The workloads both tests run. `quick` shrinks them (LSMT_TEST_QUICK).
inline std::vector<workload> make_workloads(uint64_t seed, bool quick) {
  std::vector<workload> out;
  const size_t scale = quick ? 2 : 1;
  auto make = [&](const std::string& name, lsmt::options o, auto&& body) {
    workload w;
    w.name = name;
    w.opts = o;
    generator g(w, seed ^ std::hash<std::string>{}(name), 12);
    body(g);
    finish(w);
    out.push_back(std::move(w));
  };
  {  // WAL append and sync (each rewrites the log header), no rotation.
    make("wal", base_options(), [&](generator& g) { g.writes(24 / scale, 0.35); });
  }
  {  // Plain writes only: a power loss promises nothing, a process crash everything.
    lsmt::options o = base_options();
    o.memtable_max_entries = 4;
    make("plain_rotation", o, [&](generator& g) {
      g.writes(18 / scale, 0.0);
      g.add(step::flush);
      g.writes(8 / scale, 0.0);
    });
  }
  {  // WAL rotation and memtable flushes, mixed sync.
    lsmt::options o = base_options();
    o.memtable_max_entries = 3;
    make("rotation_flush", o, [&](generator& g) {
      g.writes(14 / scale, 0.3);
      g.add(step::flush);
      g.writes(10 / scale, 0.3);
    });
  }
  {  // Compaction every 2 tables (tombstones dropped when the oldest table is merged).
    lsmt::options o = base_options();
    o.memtable_max_entries = 3;
    o.compaction_interval = 2;
    o.minimum_sstables = 1;
    make("compaction_2", o, [&](generator& g) {
      g.writes(20 / scale, 0.25);
      g.add(step::flush);  // else compact() races the automatic compaction its flush starts
      g.add(step::compact);
      g.writes(6 / scale, 0.25);
    });
  }
  {  // Compaction every 3 tables, leaving 2.
    lsmt::options o = base_options();
    o.memtable_max_entries = 3;
    o.compaction_interval = 3;
    o.minimum_sstables = 2;
    make("compaction_3", o, [&](generator& g) { g.writes(26 / scale, 0.3); });
  }
  {  // Leveled layout: tiny files and levels, so merges write several tables into sorted levels
     // that hold others, move tables down unchanged, and drop tombstones at the bottom.
    make("leveled", tiny_leveled_options(), [&](generator& g) {
      g.set_key_space(40);
      g.writes(34 / scale, 0.25);
      g.add(step::reopen);
      g.writes(8 / scale, 0.25);
    });
  }
  {  // Range deletes in the WAL, in level-0 tables, cut across the sorted levels' small files,
     // replayed at reopens and dropped by merges.
    make("range_deletes", tiny_leveled_options(), [&](generator& g) {
      g.set_key_space(40);
      g.range_writes(28 / scale, 0.25);
      g.add(step::reopen);
      g.range_writes(8 / scale, 0.25);
      g.add(step::flush);
      g.add(step::compact);
      g.range_writes(4, 0.25);
    });
  }
  {  // Blob files: every value of a byte or more goes into its flush's blob file; merges copy
     // the references, collect blob files with garbage at the bottom, and compact() rewrites
     // every value kept; blob files no table refers to any more are deleted.
    lsmt::options o = tiny_leveled_options();
    o.blob_min_size = 1;
    make("blobs", o, [&](generator& g) {
      g.set_key_space(40);
      g.writes(34 / scale, 0.25);
      g.add(step::reopen);
      g.writes(8 / scale, 0.25);
      g.add(step::flush);
      g.add(step::compact);
      g.writes(4, 0.25);
    });
  }
  {  // Reopens: recovery replays WALs into a table mid-workload.
    lsmt::options o = base_options();
    o.memtable_max_entries = 5;
    o.compaction_interval = 3;
    o.minimum_sstables = 1;
    make("reopen", o, [&](generator& g) {
      g.writes(12 / scale, 0.2);
      g.add(step::reopen);
      g.writes(8 / scale, 0.2);
      g.add(step::reopen);
      g.writes(4, 0.0);
    });
  }
  return out;
}

/// Writes that land in a new WAL while the previous memtable (and its unsynced WAL) still waits
/// for its flush (the background is held off), then a synced write in the new WAL: a synced
/// write's durability must cover every write acknowledged before it.
inline workload make_pending_flush_workload(uint64_t seed) {
  workload w;
  w.name = "sync_after_rotation";
  w.opts = base_options();
  w.opts.memtable_max_entries = 3;
  generator g(w, seed ^ 0x9e3779b97f4a7c15ULL, 8);
  for (int round = 0; round < 3; ++round) {
    // The memtable is empty before round 0 and holds the synced write after every round.
    g.add(step::hold);
    for (int i = round == 0 ? 0 : 1; i < 3; ++i) g.put("p" + std::to_string(round * 3 + i), false);
    g.put("s" + std::to_string(round), true);  // rotates (the memtable is full), then syncs
    g.add(step::release);
  }
  finish(w);
  return w;
}

/// The workloads' seed: $LSMT_TEST_SEED, else a fixed one (so op counts are stable).
inline uint64_t workload_seed() { return fixed_test_seed(20240611); }

/// What a run of a workload did.
struct run_log {
  std::vector<size_t> attempted;  // write indices, in order
  std::set<size_t> uncertain;     // writes whose call threw: applied or not
  size_t acked = 0;               // writes that returned
  size_t durable = 0;             // prefix of `attempted` that survives a power loss
  size_t failed_calls = 0;
  bool open_failed = false;
  bool probe_ok = false;                // the post-fault probe (compact()) succeeded
  bool reopened_after_fault = false;    // a reopen step came after the fault (and cleared it)
  std::vector<std::string> unexpected;  // wrong exception types, hangs
};

/// The whole contents of a store, read by a scan; point lookups of every key must agree.
inline kv_map read_all(const store_t& db, const std::set<std::string>& keys, std::string* problem) {
  kv_map m;
  for (auto& [k, v] : db.scan().to_vector()) m[k] = v;
  for (const std::string& k : keys) {
    const std::optional<std::string> v = db.get(k);
    auto it = m.find(k);
    const bool same = v ? (it != m.end() && it->second == *v) : it == m.end();
    if (!same && problem->empty()) *problem = "get(" + k + ") disagrees with the scan";
  }
  return m;
}

inline std::string show(const std::string& v) {
  return v.size() > 24 ? v.substr(0, 20) + "...(" + std::to_string(v.size()) + ")" : v;
}

/// The first few differences between a recovered state and a model state.
inline std::string diff(const kv_map& got, const kv_map& want) {
  std::ostringstream out;
  int shown = 0;
  std::set<std::string> keys;
  for (const auto& kv : got) keys.insert(kv.first);
  for (const auto& kv : want) keys.insert(kv.first);
  for (const std::string& k : keys) {
    auto g = got.find(k);
    auto w = want.find(k);
    if (g != got.end() && w != want.end() && g->second == w->second) continue;
    if (shown++ == 6) {
      out << " ...";
      break;
    }
    out << " " << k << ": got " << (g == got.end() ? "<absent>" : show(g->second)) << ", want "
        << (w == want.end() ? "<absent>" : show(w->second)) << ";";
  }
  return out.str();
}

/// Is `got` a state the run permits? It must equal the model after the first P attempted writes
/// for some P >= min_prefix, where each uncertain write among them may or may not be applied.
/// Returns "" if so, else a description.
inline std::string check_state(const workload& w, const run_log& log, size_t min_prefix,
                               const kv_map& got) {
  const size_t n = log.attempted.size();
  // Fast path: no uncertain write before the end, so the precomputed prefix states apply.
  const bool simple =
      log.uncertain.empty() || (log.uncertain.size() == 1 && *log.uncertain.begin() == n - 1);
  if (simple) {
    // An uncertain last write may be missing even when every write must be kept.
    const size_t lower = log.uncertain.empty() ? min_prefix : std::min(min_prefix, n - 1);
    for (size_t p = lower; p <= n; ++p) {
      if (w.states[p] == got) return "";
    }
  } else {
    std::vector<size_t> unc(log.uncertain.begin(), log.uncertain.end());
    for (size_t mask = 0; mask < (size_t{1} << unc.size()); ++mask) {
      kv_map m;
      size_t u = 0;
      for (size_t p = 0;; ++p) {
        if (p >= min_prefix && m == got) return "";
        if (p == n) break;
        const size_t wi = log.attempted[p];
        const bool is_unc = u < unc.size() && unc[u] == wi;
        const bool on = !is_unc || ((mask >> u) & 1) != 0;
        if (is_unc) ++u;
        if (on) {
          size_t seen = 0;
          for (const step& s : w.steps) {
            if (!is_write(s)) continue;
            if (seen++ == wi) {
              apply(s, m);
              break;
            }
          }
        }
      }
    }
  }
  std::ostringstream out;
  out << "recovered state matches no permitted prefix (attempted " << n << ", acked " << log.acked
      << ", must keep >= " << min_prefix << " writes). vs. all attempted:" << diff(got, w.states[n])
      << "  vs. the minimum prefix:" << diff(got, w.states[min_prefix]);
  return out.str();
}

}  // namespace lsmt_test::crash_work

#endif  // LSMT_TEST_CRASH_WORKLOAD_HPP
