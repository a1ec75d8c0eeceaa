// tests/crash_points_test.cpp - a crash at every file operation of small workloads loses
// nothing it promised to keep, and the store always recovers.
//
// For each workload (crash_workload.hpp: WAL appends and syncs, rotation, flushes, compactions,
// MANIFEST updates, reopens; run by workload_driver.hpp on the simulated file system of
// fault_fs.hpp) a first run counts its mutating file operations N (and a second run checks that
// the sequence is deterministic). Then for EVERY k in [0, N) the workload runs
// on a fault_fs that crashes at op k, and for each crash outcome -- process_crash,
// synced_only, torn_last_write and a few random_unsynced -- a store opened on the surviving
// files must hold exactly the model's contents after some prefix of the acknowledged writes
// (plus possibly the write in flight), never shorter than:
//   process_crash: every acknowledged write (a returned write survives a process crash);
//   otherwise:     every synced write (a write that returned with sync, or one acknowledged
//                  before it, or before a flush()/compact()/reopen that returned).
// That covers lost synced writes, resurrected deletes, half-applied batches and transactions
// and holes at once. After a process crash (torn or not) the store is opened in
// recovery_mode::absolute_consistency: a process crash leaves at most a torn last record, so
// refusing to open would be a false alarm; power losses are opened in point_in_time mode. Then
// the recovery of such a state is itself crashed at each of its ops, and recovering the result
// must give the same contents as the uninterrupted recovery.
//
// Floors: each test fails if it checked fewer crash states, crash points or recovery crash
// points than a stated floor (and each workload must have a minimum of file ops), far below what
// a normal run checks but far above what an empty or broken workload would: passing must mean
// that the states were checked.
//
// Environment: LSMT_TEST_SEED (workloads and crash states; fixed by default, printed),
//              LSMT_TEST_QUICK=1 (smaller workloads, fewer states: for sanitizer builds).
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "crash_outcome.hpp"
#include "crash_workload.hpp"
#include "fault_fs.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "watchdog.hpp"
#include "workload_driver.hpp"

namespace crash_points_test_cpp {

namespace {

using namespace lsmt_test;
using namespace lsmt_test::crash_work;

struct tally {
  size_t states = 0;             // crash states opened and checked
  size_t crash_points = 0;       // workload runs crashed at an op
  size_t recovery_points = 0;    // recoveries crashed at an op
  size_t nondeterministic = 0;   // workloads whose op sequence varied between runs
  size_t unreached = 0;          // crash points beyond the end of their run (op order varied)
  std::set<uint64_t> recovered;  // fingerprints of states whose recovery was crashed already
  std::vector<std::string> failures;
};

// Opens a store on fs and reads everything; "" or what went wrong. After a process crash (torn
// or not) the logs can hold at most a torn last record, so the store must open in
// absolute_consistency mode; after a power loss, damage may be reported (point_in_time).
std::string open_and_read(const workload& w, const std::shared_ptr<fault_fs>& fs, crash_outcome c,
                          kv_map* out) {
  lsmt::options o = w.opts;
  o.fs = fs;
  const bool process = c == crash_outcome::process_crash || c == crash_outcome::torn_last_write;
  o.recovery_mode =
      process ? lsmt::recovery_mode::absolute_consistency : lsmt::recovery_mode::point_in_time;
  try {
    store_t db(db_dir, o);
    std::string problem;
    *out = read_all(db, w.keys, &problem);
    db.close();
    return problem;
  } catch (const std::exception& e) {
    return std::string("the store did not open: ") + e.what();
  }
}

// Crashes the recovery of `state` at each of its ops; every crash outcome of that must recover
// to `expected` (what the uninterrupted recovery found).
// `first` is the outcome of the crash that made `state`: after a power loss, damage it left may
// still be there, so the strict mode is used only when both crashes were process crashes.
void crash_recovery(const workload& w, const std::shared_ptr<fault_fs>& state, crash_outcome first,
                    const kv_map& expected, uint64_t seed, const std::string& where, tally& t) {
  const bool first_was_process =
      first == crash_outcome::process_crash || first == crash_outcome::torn_last_write;
  // The ops of the recovery proper (the constructor); a compaction the opened store may start
  // runs concurrently with the reads and is not counted (it would make the count vary).
  uint64_t ops = 0;
  {
    auto fs = state->clone();
    lsmt::options o = w.opts;
    o.fs = fs;
    try {
      fs->hold_other_threads(true);  // a compaction started by the open waits for the count
      store_t db(db_dir, o);
      ops = fs->ops();
      fs->hold_other_threads(false);
      db.close();
    } catch (const std::exception& e) {
      t.failures.push_back(where + ": reopening a copy failed: " + e.what());
      return;
    }
  }
  std::mt19937_64 rng(seed);
  for (uint64_t j = 0; j < ops; ++j) {
    ++heartbeat();
    ++t.recovery_points;
    auto fs = state->clone();
    fs->crash_at(j);
    {
      lsmt::options o = w.opts;
      o.fs = fs;
      try {
        store_t db(db_dir, o);
        db.close();
      } catch (const lsmt::io_error&) {
      } catch (const std::exception& e) {
        t.failures.push_back(where + ", recovery crashed at op " + std::to_string(j) +
                             ": unexpected exception " + e.what());
      }
    }
    for (crash_outcome o : {crash_outcome::synced_only, crash_outcome::process_crash,
                            crash_outcome::random_unsynced}) {
      ++t.states;
      kv_map got;
      std::string err = open_and_read(w, fs->crash_state(o, rng),
                                      first_was_process ? o : crash_outcome::synced_only, &got);
      if (err.empty() && got != expected) {
        err = "differs from the uninterrupted recovery:" + diff(got, expected);
      }
      if (!err.empty()) {
        t.failures.push_back(where + ", recovery crashed at op " + std::to_string(j) + " -> " +
                             outcome_name(o) + ": " + err);
      }
    }
  }
}

// Which crash outcomes a run checks (all, for now; a subset helps when bisecting a failure).
enum class outcomes_t { process_crash, power_loss, all };

// The least a test must check (see the top of the file); the counts of a normal run are in the
// comments where the floors are chosen.
struct floors {
  size_t ops_per_workload;  // mutating file ops of each workload's run
  size_t states;            // crash states checked, in all
  size_t crash_points;      // workload runs crashed at an op, in all
  size_t recovery_points;   // recoveries crashed at an op, in all
};

void run_crash_points(const workload& w, uint64_t seed, bool quick, outcomes_t which,
                      const floors& least, tally& t) {
  const auto start = std::chrono::steady_clock::now();
  // Count the ops, twice: the sequence must not depend on thread timing.
  std::vector<std::string> trace;
  for (int pass = 0; pass < 2; ++pass) {
    auto fs = std::make_shared<fault_fs>();
    fs->set_tracing(true);
    const run_log log = run_workload(w, fs, false);
    const std::vector<std::string> ops = fs->trace();  // before open_and_read adds more
    INFO("workload " << w.name);
    REQUIRE(log.unexpected.empty());
    REQUIRE(log.failed_calls == 0);
    REQUIRE(log.acked == w.states.size() - 1);
    kv_map got;
    REQUIRE(open_and_read(w, fs, crash_outcome::process_crash, &got).empty());
    REQUIRE(got == w.states.back());
    if (pass == 0) {
      trace = ops;
    } else {
      // The driver holds background work off during writes and waits for it after them, so
      // the sequence is normally fixed. One race remains: a compaction thread woken by a
      // rotation may start as soon as a flush installs its table, before that flush removed
      // its old WAL (seen under sanitizers and load). It changes only the order of a few ops;
      // every crash point is still checked against its own run.
      size_t first = 0;
      while (first < trace.size() && first < ops.size() && ops[first] == trace[first]) ++first;
      if (first != trace.size() || ops.size() != trace.size()) {
        ++t.nondeterministic;
        std::printf("crash points: note: %s: the op sequence differed between two runs at op %zu\n",
                    w.name.c_str(), first);
      }
    }
  }
  const size_t n = trace.size();
  {
    INFO("workload " << w.name << " ran only " << n << " file ops (floor " << least.ops_per_workload
                     << "): it does not do what it should");
    CHECK(n >= least.ops_per_workload);
  }
  const size_t random_seeds = quick ? 1 : 3;
  const size_t torn_seeds = quick ? 1 : 2;
  const uint64_t nested_stride = quick ? 4 : 1;
  const size_t states_before = t.states;

  for (uint64_t k = 0; k < n; ++k) {
    ++heartbeat();
    ++t.crash_points;
    const std::string where = w.name + ": crash at op " + std::to_string(k) + " (" + trace[k] + ")";
    auto fs = std::make_shared<fault_fs>();
    fs->crash_at(k);
    const run_log log = run_workload(w, fs, false);
    for (const std::string& u : log.unexpected) t.failures.push_back(where + ": " + u);
    if (!fs->crashed()) ++t.unreached;  // this run had fewer ops; its end state is checked

    std::vector<crash_outcome> outcomes;
    if (which != outcomes_t::power_loss) outcomes.push_back(crash_outcome::process_crash);
    if (which != outcomes_t::process_crash) {
      outcomes.push_back(crash_outcome::synced_only);
      for (size_t i = 0; i < torn_seeds; ++i) outcomes.push_back(crash_outcome::torn_last_write);
      for (size_t i = 0; i < random_seeds; ++i) outcomes.push_back(crash_outcome::random_unsynced);
    }
    std::mt19937_64 rng(seed ^ (k * 0x9e3779b97f4a7c15ULL) ^ std::hash<std::string>{}(w.name));
    size_t index = 0;
    for (crash_outcome o : outcomes) {
      ++t.states;
      const std::string here = where + " -> " + outcome_name(o) + " #" + std::to_string(index++);
      auto state = fs->crash_state(o, rng);
      // Recovery crashes: every k for a process crash, every few k for the power losses.
      // (A sync leaves the OS state unchanged, so many states repeat: each is done once.)
      const bool nested = ((o == crash_outcome::process_crash && k % nested_stride == 0) ||
                           ((o == crash_outcome::synced_only || index == outcomes.size()) &&
                            k % (4 * nested_stride) == 0)) &&
                          t.recovered.insert(state->fingerprint()).second;
      auto pristine = nested ? state->clone() : nullptr;
      kv_map got;
      std::string err = open_and_read(w, state, o, &got);
      const size_t min_prefix = o == crash_outcome::process_crash ? log.acked : log.durable;
      if (err.empty()) err = check_state(w, log, min_prefix, got);
      if (!err.empty()) {
        t.failures.push_back(here + ": " + err);
        continue;
      }
      if (nested) crash_recovery(w, pristine, o, got, rng(), here, t);
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("crash points: %-20s %4zu ops, %6zu crash states, %.1f s\n", w.name.c_str(), n,
              t.states - states_before, secs);
  std::fflush(stdout);
}

void report(const tally& t, const char* what, const floors& least) {
  for (size_t i = 0; i < t.failures.size() && i < 25; ++i) FAIL_CHECK(t.failures[i]);
  std::printf(
      "%s: crash states checked: %zu (%zu crash points, %zu recovery crash points), "
      "failures: %zu\n",
      what, t.states, t.crash_points, t.recovery_points, t.failures.size());
  if (t.nondeterministic != 0 || t.unreached != 0) {
    std::printf("%s: note: %zu workloads varied in op order, %zu crash points not reached\n", what,
                t.nondeterministic, t.unreached);
  }
  std::fflush(stdout);
  WARN(what << ": crash states checked: " << t.states << " (" << t.crash_points << " crash points, "
            << t.recovery_points << " recovery crash points)");
  CHECK(t.failures.empty());
  // An empty or broken workload or check must not pass: it checks less than a floor.
  INFO(what << ": floors: " << least.states << " crash states, " << least.crash_points
            << " crash points, " << least.recovery_points << " recovery crash points");
  CHECK(t.states >= least.states);
  CHECK(t.crash_points >= least.crash_points);
  CHECK(t.recovery_points >= least.recovery_points);
}

}  // namespace

TEST_CASE("crash: a crash at every file op keeps every promised write", "[crash]") {
  const uint64_t seed = workload_seed();
  const bool quick = quick_mode();
  std::printf("crash points: LSMT_TEST_SEED=%llu%s\n", static_cast<unsigned long long>(seed),
              quick ? " (LSMT_TEST_QUICK)" : "");
  INFO("LSMT_TEST_SEED=" << seed);
  std::string current;
  watchdog dog([&] { return current; });
  // A normal run (fixed seed) checks 47,159 crash states at 1,217 crash points plus 12,880
  // recovery crash points, the smallest workload having 85 ops (LSMT_TEST_QUICK: 9,047 states,
  // 611 and 2,201 points, 46 ops). A workload with no writes has 7 ops (open and close).
  const floors least = quick ? floors{30, 4000, 250, 1000} : floors{30, 20000, 500, 5000};
  tally t;
  for (const workload& w : make_workloads(seed, quick)) {
    current = w.name;
    run_crash_points(w, seed, quick, outcomes_t::all, least, t);
  }
  report(t, "crash points", least);
}

// Regression: rotate_memtable() used to close the old WAL without syncing it, so a power loss
// could keep a synced write of the new WAL and lose the writes acknowledged before it that were
// still only in the old one (their memtable not yet flushed): a hole. The workload holds the
// flush off across a rotation and a synced write to land exactly there.
TEST_CASE("crash: a synced write covers writes still in the previous WAL", "[crash]") {
  const uint64_t seed = workload_seed();
  const bool quick = quick_mode();
  INFO("LSMT_TEST_SEED=" << seed);
  watchdog dog([] { return std::string("sync_after_rotation"); });
  // A normal run checks 2,701 crash states at 76 crash points plus 723 recovery crash points
  // (LSMT_TEST_QUICK: 1,045 states, 76 and 247 points).
  const floors least = quick ? floors{30, 400, 30, 100} : floors{30, 1000, 30, 250};
  tally t;
  run_crash_points(make_pending_flush_workload(seed), seed, quick, outcomes_t::all, least, t);
  report(t, "crash points (sync after rotation)", least);
}

}  // namespace crash_points_test_cpp
