// tests/metamorphic_test.cpp - one random operation history, replayed under many option
// configurations, must give the same results under every one of them and in a std::map model.
//
// After Pebble's metamorphic test: a history is generated from a seed (metamorphic_history.hpp):
// puts, erases and batches (some synced, values from empty to 16 KiB, hot keys overwritten
// often), gets, every range call (range, not_in_range, greater_than, ..., scan), iterator walks
// forward and reverse with and without bounds, long-lived iterators moved now and then while
// writes go on, snapshots and reads as of them, optimistic transactions (commits and conflicts),
// flush, compact, wait_for_compactions, and reopens at random. It ends with a full check, a
// reopen and another full check. Each result is printed as one line (metamorphic_runners.hpp);
// the model's lines are the reference, and every configuration, each in a fresh directory under
// lsmt_test::store_base_dir(), must print exactly the same lines. Options change how data is laid
// out (memtables flushed after every write or only when asked, 1-64 KiB blocks, filters of 0-40
// bits per key, mapped or pread reads with no, a tiny or a big cache, synced or not, compaction
// at 2-16 tables); none may change what a read returns.
//
// On a mismatch the test reports the history's seed and, for each first differing operation,
// the operation, the configurations that printed the same wrong line there, both lines around
// the first difference, the last writes of the key(s) that differ, and the operations just before.
//
// Time budget: LSMT_METAMORPHIC_SECONDS (default 40 s; 15 s in a sanitizer build, which is 2-4x
// slower). A new history starts only while one of the average length so far still fits in it, and
// a history once started runs under every configuration.
//
// Floors: at least 3 histories (1 in a sanitizer build) always run, each under every configuration
// (24, and the test requires at least 20), even if that overruns the budget; and the run fails
// unless it applied at least 100,000 operations in all (40,000 in a sanitizer build), compared at
// least 1,000 reads that found a value, and made the stores flush at least 1,000 memtables and run
// at least 100 compactions, so a generator or a configuration table that stopped exercising the
// store cannot pass. A normal run on the 2-core development machine: 4 histories x 24
// configurations, 192,288 operations (2,003 per history and configuration), 76,128 reads compared
// (51,168 found a value), 14,059 flushes, 13,554 compactions, 33 s. With ASan+UBSan: 1 history
// (48,072 operations) in 15 s; with TSan, 1 history in 25-31 s.
//
// Environment: LSMT_TEST_SEED (the first history's seed; history i uses seed + i; printed on
//              failure, so LSMT_TEST_SEED=<printed seed> replays the failing history first),
//              LSMT_METAMORPHIC_SECONDS (the time budget),
//              LSMT_METAMORPHIC_OPS (operations per history, default 2,000),
//              LSMT_METAMORPHIC_VERBOSE=1 (print each configuration's time, flushes and merges).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "lsmt.hpp"
#include "metamorphic_history.hpp"
#include "metamorphic_runners.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace metamorphic_test_cpp {

namespace {

using lsmt_meta::describe;
using lsmt_meta::generator;
using lsmt_meta::model_runner;
using lsmt_meta::mutation;
using lsmt_meta::op;
using lsmt_meta::op_kind;
using lsmt_meta::show_key;
using lsmt_meta::store_runner;
using clock_type = std::chrono::steady_clock;

constexpr size_t kib = 1024;
constexpr size_t mib = size_t{1} << 20;
constexpr uint64_t all = UINT64_MAX;  // max_mapped: map every table

// One configuration: one row of the table below, whose columns are these fields in order (bytes
// and entries: the memtable limits; imm: max_immutable_memtables; mapped: max_mapped_bytes, where
// a cap below the store's size maps some tables and preads the others; int: compaction_interval;
// min: minimum_sstables; abs: recovery_mode absolute_consistency; idle: idle_settle_ms). To vary
// another option, add a field here, a column to every row, and a line to make_options().
struct config {
  const char* name;
  size_t block_size;
  int bloom_bits_per_key;
  size_t memtable_max_bytes;
  size_t memtable_max_entries;  // 0: no entry limit
  size_t max_immutable_memtables;
  uint64_t max_mapped;  // max_mapped_bytes; 0: use_mmap_reads false, all: every table mapped
  bool sync;
  size_t block_cache_bytes;  // used by the tables read with pread
  size_t compaction_interval;
  size_t minimum_sstables;
  bool absolute;            // recovery_mode absolute_consistency, else point_in_time
  uint64_t idle_settle_ms;  // 1 settles at almost every pause in the history
};

// clang-format off
const config configs[] = {
  // name                   block     bloom bytes      entries imm mapped     sync   cache      int min abs   idle
  {"defaults",              4 * kib,  10,   8 * mib,   0,      2,  all,       false, 8 * mib,   4,  2, false,   1},
  {"defaults-pread",        4 * kib,  10,   8 * mib,   0,      2,  0,         false, 8 * mib,   4,  2, true,  250},
  {"flush-always",          4 * kib,  10,   1,         0,      1,  all,       false, 8 * mib,   4,  2, false,   0},
  {"flush-always-pread",    1 * kib,  0,    1,         0,      4,  0,         false, 0,         2,  1, true,    1},
  {"4-entries",             1 * kib,  10,   8 * mib,   4,      1,  all,       false, 8 * mib,   2,  1, false, 250},
  {"4-entries-sync",        1 * kib,  40,   8 * mib,   4,      2,  0,         true,  16 * kib,  3,  2, true,    0},
  {"16-entries-nocache",    2 * kib,  10,   8 * mib,   16,     2,  0,         false, 0,         3,  1, false,   1},
  {"16-entries-bloom1",     4 * kib,  1,    8 * mib,   16,     1,  8 * kib,   false, 8 * mib,   2,  2, true,  250},
  {"64-entries-bloom40",    8 * kib,  40,   8 * mib,   64,     3,  all,       false, 8 * mib,   4,  4, false,   0},
  {"64-entries-tinycache",  1 * kib,  10,   8 * mib,   64,     2,  0,         false, 1 * kib,   6,  3, true,    1},
  {"256-entries-nobloom",   16 * kib, 0,    8 * mib,   256,    2,  all,       false, 8 * mib,   8,  2, false, 250},
  {"256-entries-bigcache",  32 * kib, 10,   8 * mib,   256,    8,  0,         false, 64 * mib,  5,  5, true,    0},
  {"1k-entries-block64k",   64 * kib, 10,   8 * mib,   1000,   2,  all,       false, 8 * mib,   4,  2, false,   1},
  {"80k-bytes",             4 * kib,  10,   80 * kib,  0,      2,  200 * kib, false, 8 * mib,   4,  2, true,  250},
  {"100k-bytes-pread",      1 * kib,  1,    100 * kib, 0,      1,  0,         false, 4 * kib,   2,  2, false,   0},
  {"130k-bytes-sync",       2 * kib,  10,   130 * kib, 0,      2,  300 * kib, true,  8 * mib,   3,  1, true,    1},
  {"200k-bytes-block64k",   64 * kib, 40,   200 * kib, 0,      4,  0,         false, 1 * mib,   12, 6, false, 250},
  {"1m-bytes-nobloom",      8 * kib,  0,    1 * mib,   0,      2,  2 * mib,   false, 8 * mib,   4,  1, true,    0},
  {"8-entries-interval16",  4 * kib,  10,   8 * mib,   8,      2,  all,       false, 8 * mib,   16, 8, false,   1},
  {"8-entries-min1-pread",  4 * kib,  10,   8 * mib,   8,      1,  0,         false, 32 * kib,  2,  1, true,  250},
  {"32-entries-sync-pread", 16 * kib, 1,    8 * mib,   32,     2,  0,         true,  0,         4,  3, false,   0},
  {"sync-defaults",         4 * kib,  10,   8 * mib,   0,      2,  all,       true,  8 * mib,   4,  2, true,    1},
  {"2k-entries-interval2",  2 * kib,  40,   8 * mib,   2000,   1,  all,       false, 8 * mib,   2,  2, false, 250},
  {"100-entries-mixed",     4 * kib,  1,    70 * kib,  100,    3,  0,         false, 256 * kib, 3,  2, true,    0},
};
// clang-format on

lsmt::options make_options(const config& c) {
  lsmt::options o;
  o.block_size = c.block_size;
  o.bloom_bits_per_key = c.bloom_bits_per_key;
  o.memtable_max_bytes = c.memtable_max_bytes;
  o.memtable_max_entries = c.memtable_max_entries;
  o.max_immutable_memtables = c.max_immutable_memtables;
  o.use_mmap_reads = c.max_mapped > 0;
  o.max_mapped_bytes = c.max_mapped;
  o.sync = c.sync;
  o.block_cache_bytes = c.block_cache_bytes;
  o.compaction_interval = c.compaction_interval;
  o.minimum_sstables = c.minimum_sstables;
  o.idle_settle_ms = c.idle_settle_ms;
  o.recovery_mode =
      c.absolute ? lsmt::recovery_mode::absolute_consistency : lsmt::recovery_mode::point_in_time;
  return o;
}

bool is_read(op_kind k) {
  return k == op_kind::get || k == op_kind::view || k == op_kind::walk || k == op_kind::iter_new ||
         k == op_kind::iter_move || k == op_kind::tx_get || k == op_kind::check;
}

/// A configuration whose output left the model's.
struct divergence {
  const char* config;
  size_t index;     // of the operation
  std::string got;  // its line
};

/// Both lines around their first difference (at most ~200 characters of each).
std::string short_diff(const std::string& want, const std::string& got) {
  size_t i = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
  const size_t from = i > 60 ? i - 60 : 0;
  auto cut = [&](const std::string& s) {
    std::string out = from > 0 ? "..." : "";
    out += s.substr(from, 200);
    if (s.size() > from + 200) out += "...";
    return out;
  };
  return "    want: " + cut(want) + "\n    got:  " + cut(got) +
         "\n    (first difference at column " + std::to_string(i) + ")";
}

/// The keys whose results differ: a get's key; else the key of the listed entry the first
/// difference falls in, in each line (the written key printed last at or before that column).
std::set<std::string> differing_keys(const std::vector<op>& ops, size_t index,
                                     const std::string& want, const std::string& got) {
  const op& o = ops[index];
  if (o.kind == op_kind::get || o.kind == op_kind::tx_get) return {o.a};
  size_t col = 0;
  while (col < want.size() && col < got.size() && want[col] == got[col]) ++col;
  std::set<std::string> written;
  for (size_t i = 0; i < index; ++i) {
    for (const mutation& m : ops[i].muts) written.insert(m.key);
  }
  std::set<std::string> out;
  for (const std::string* line : {&want, &got}) {
    const std::string* best = nullptr;
    size_t best_at = 0;
    for (const std::string& k : written) {
      const size_t at = line->rfind(show_key(k) + "=", col);
      if (at != std::string::npos && (best == nullptr || at > best_at)) {
        best = &k;
        best_at = at;
      }
    }
    if (best != nullptr) out.insert(*best);
  }
  return out;
}

struct totals {
  size_t histories = 0;
  size_t config_runs = 0;
  uint64_t ops = 0;          // operations applied, summed over configurations
  uint64_t reads = 0;        // of them, reads (their results were compared with the model's)
  uint64_t found_reads = 0;  // ... that found a value or a nonempty range
  uint64_t flushes = 0;
  uint64_t compactions = 0;
};

/// Runs one history under every configuration; returns a failure report, or "" if all agreed.
std::string run_history(uint64_t seed, size_t n_ops, totals& t) {
  const bool verbose = lsmt_test::env_flag("LSMT_METAMORPHIC_VERBOSE");
  generator gen(seed);
  const std::vector<op> ops = gen.generate(n_ops);
  std::vector<std::string> want;
  want.reserve(ops.size());
  std::vector<bool> found;  // per operation: a read whose result holds a value or an entry
  found.reserve(ops.size());
  model_runner model;
  for (const op& o : ops) {
    want.push_back(model.apply(o));
    const std::string& w = want.back();
    found.push_back(is_read(o.kind) && w != "<none>" && w != "invalid" && w != "not valid" &&
                    w != "[] 0");
  }
  std::vector<divergence> diverged;
  for (const config& c : configs) {
    const lsmt_test::temp_dir dir(lsmt_test::store_base_dir(), "lsmt-metamorphic");
    const auto t0 = clock_type::now();
    std::unique_ptr<store_runner> store;
    size_t i = 0;
    try {
      store = std::make_unique<store_runner>(dir.path() / "db", make_options(c));
      for (; i < ops.size(); ++i) {
        std::string got = store->apply(ops[i]);
        if (got != want[i]) {
          diverged.push_back(divergence{c.name, i, std::move(got)});
          break;
        }
        t.reads += is_read(ops[i].kind) ? 1 : 0;
        t.found_reads += found[i] ? 1 : 0;
      }
      store->end();
    } catch (const std::exception& e) {  // in the open, or in the close at the end
      diverged.push_back(divergence{c.name, std::min(i, ops.size() - 1),
                                    std::string(store ? "close" : "open") + " threw: " + e.what()});
    }
    if (!store) continue;
    if (verbose) {
      std::printf("  seed %llu %-24s %5.2f s, %llu flushes, %llu compactions\n",
                  static_cast<unsigned long long>(seed), c.name,
                  std::chrono::duration<double>(clock_type::now() - t0).count(),
                  static_cast<unsigned long long>(store->flushes()),
                  static_cast<unsigned long long>(store->compactions()));
    }
    t.ops += i;
    t.flushes += store->flushes();
    t.compactions += store->compactions();
    ++t.config_runs;
  }
  ++t.histories;
  if (diverged.empty()) return "";

  std::string report =
      "history seed " + std::to_string(seed) + " (" + std::to_string(ops.size()) + " operations, " +
      std::to_string(gen.pool_size()) + " pool keys): " + std::to_string(diverged.size()) + " of " +
      std::to_string(std::size(configs)) + " configurations differ from the model\n";
  // Configurations with the same wrong line at the same operation are reported together.
  std::vector<bool> reported(diverged.size(), false);
  for (size_t g = 0; g < diverged.size(); ++g) {
    if (reported[g]) continue;
    const divergence& d = diverged[g];
    std::string names;
    size_t count = 0;
    for (size_t h = g; h < diverged.size(); ++h) {
      if (!reported[h] && diverged[h].index == d.index && diverged[h].got == d.got) {
        reported[h] = true;
        names += std::string(" ") + diverged[h].config;
        ++count;
      }
    }
    report += "  op #" + std::to_string(d.index) + " " + describe(ops[d.index]) + "\n    in " +
              std::to_string(count) + " configuration(s):" + names + "\n" +
              short_diff(want[d.index], d.got) + "\n";
  }
  const divergence& d = diverged.front();
  for (const std::string& k : differing_keys(ops, d.index, want[d.index], d.got)) {
    report +=
        "  the last writes of " + show_key(k) + " before op #" + std::to_string(d.index) + ":\n";
    std::vector<size_t> writes;
    for (size_t i = 0; i < d.index; ++i) {
      for (const mutation& m : ops[i].muts) {
        if (m.key == k && (writes.empty() || writes.back() != i)) writes.push_back(i);
      }
    }
    for (size_t j = writes.size() > 4 ? writes.size() - 4 : 0; j < writes.size(); ++j) {
      report += "    #" + std::to_string(writes[j]) + " " + describe(ops[writes[j]], &k) + "\n";
    }
  }
  const size_t first = d.index;
  report += "  operations before op #" + std::to_string(first) + ":\n";
  for (size_t i = first > 8 ? first - 8 : 0; i < first; ++i) {
    report += "    #" + std::to_string(i) + " " + describe(ops[i]) + "\n";
  }
  return report;
}

}  // namespace

TEST_CASE("metamorphic: every option configuration replays a random history like the model",
          "[metamorphic]") {
#ifdef LSMT_TEST_SANITIZED
  const double default_seconds = 15;
  const size_t min_histories = 1;
  const uint64_t min_ops = 40000;
#else
  const double default_seconds = 40;
  const size_t min_histories = 3;
  const uint64_t min_ops = 100000;
#endif
  const double budget = lsmt_test::env_seconds("LSMT_METAMORPHIC_SECONDS", default_seconds);
  const auto n_ops = static_cast<size_t>(lsmt_test::env_u64("LSMT_METAMORPHIC_OPS", 2000));
  const uint64_t base_seed = lsmt_test::test_seed();
  INFO("LSMT_TEST_SEED=" << base_seed);
  REQUIRE(std::size(configs) >= 20);

  const auto start = clock_type::now();
  const auto end = start + std::chrono::duration<double>(budget);
  totals t;
  std::string failure;
  // A history is started only if one of average length still fits in the budget.
  auto fits = [&] {
    const auto now = clock_type::now();
    return t.histories == 0 || now + (now - start) / t.histories <= end;
  };
  while (failure.empty() && (t.histories < min_histories || fits())) {
    const uint64_t seed = base_seed + t.histories;
    failure = run_history(seed, n_ops, t);
    if (!failure.empty()) failure += "rerun with LSMT_TEST_SEED=" + std::to_string(seed) + "\n";
  }
  const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  std::printf(
      "metamorphic: %zu histories x %zu configurations (%zu runs), %llu operations applied "
      "(%zu per history), %llu reads compared (%llu found a value), %llu flushes, %llu "
      "compactions, %.1f s (first seed %llu)\n",
      t.histories, std::size(configs), t.config_runs, static_cast<unsigned long long>(t.ops),
      n_ops + 3, static_cast<unsigned long long>(t.reads),
      static_cast<unsigned long long>(t.found_reads), static_cast<unsigned long long>(t.flushes),
      static_cast<unsigned long long>(t.compactions), seconds,
      static_cast<unsigned long long>(base_seed));
  std::fflush(stdout);
  if (!failure.empty()) FAIL(failure);
  // Floors (see the top of the file).
  CHECK(t.histories >= min_histories);
  CHECK(t.config_runs == t.histories * std::size(configs));
  CHECK(t.ops >= min_ops);
  CHECK(t.found_reads >= 1000);
  CHECK(t.flushes >= 1000);
  CHECK(t.compactions >= 100);
}

}  // namespace metamorphic_test_cpp
