// tests/io_error_test.cpp - an I/O error (EIO, ENOSPC) at any file operation is reported as
// lsmt::io_error and loses nothing that was acknowledged.
//
// For each workload of crash_workload.hpp (run by workload_driver.hpp on the simulated file
// system of fault_fs.hpp), a first run counts its mutating file operations N. Then for EVERY k in
// [0, N), and for EIO and ENOSPC, each injected once (transient) and from op k on (persistent),
// the workload runs on a fault_fs that fails op k so, going on past failed calls (up to three).
// Checked:
//   - every call either returns or throws lsmt::io_error: no other exception, crash or hang
//     (a watchdog aborts a hang);
//   - the fault is reported: some call throws io_error, or, if it hit background work (a
//     flush or compaction) after the last call, a compact() then throws io_error -- the engine
//     refuses writes after a background failure until reopened. Only a failed removal of an
//     obsolete file (the next open removes leftovers), or a background failure followed by a
//     reopen before any other call (close() does not report it; the WAL still has the data),
//     may go unreported;
//   - with the fault still in place (persistent), opening the store throws io_error;
//   - after closing the failed store and clearing the fault, the store reopens on the same
//     files, holds every acknowledged write (a write whose call failed may or may not be
//     there, as a whole), and works: a write, a flush and a read succeed.
//
// Floors: the test fails if it checked fewer I/O error points (or saw fewer reported faults) than
// a stated floor, or if a workload ran fewer file ops than a minimum: far below what a normal
// run checks, far above what an empty or broken workload would.
//
// Environment: LSMT_TEST_SEED (the workloads; fixed by default, printed),
//              LSMT_TEST_QUICK=1 (smaller workloads: for sanitizer builds).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "crash_workload.hpp"
#include "fault_fs.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "watchdog.hpp"
#include "workload_driver.hpp"

namespace io_error_test_cpp {

namespace {

using namespace lsmt_test;
using namespace lsmt_test::crash_work;

struct io_tally {
  size_t points = 0;             // (op, errno, transient/persistent) combinations run
  size_t reported = 0;           // ... where a call (or the probe compact()) threw io_error
  size_t absorbed = 0;           // ... where a failed removal went unreported (allowed)
  size_t cleared_by_reopen = 0;  // ... where background work failed and a reopen came first
  std::vector<std::string> failures;
};

// Reopens the store on fs, checks its contents against the run, then writes, flushes and reads.
std::string reopen_and_check(const workload& w, const std::shared_ptr<fault_fs>& fs,
                             const run_log& log) {
  lsmt::options o = w.opts;
  o.fs = fs;
  try {
    store_t db(db_dir, o);
    std::string problem;
    kv_map got = read_all(db, w.keys, &problem);
    if (!problem.empty()) return problem;
    std::string err = check_state(w, log, log.attempted.size(), got);
    if (!err.empty()) return err;
    db.put("after-reopen", "ok");
    db.flush();
    if (db.get("after-reopen") != std::optional<std::string>("ok")) {
      return "a write after the reopen was not read back";
    }
    db.close();
    return "";
  } catch (const std::exception& e) {
    return std::string("reopening with the fault cleared failed: ") + e.what();
  }
}

// The least the test must check (see the top of the file); the counts of a normal run are in the
// comment where the floors are chosen.
struct floors {
  size_t ops_per_workload;  // mutating file ops of each workload's run
  size_t points;            // (op, errno, transient/persistent) combinations run, in all
  size_t reported;          // ... of which a call reported the fault, in all
};

void run_io_errors(const workload& w, size_t min_ops, io_tally& t) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> trace;
  {
    auto fs = std::make_shared<fault_fs>();
    fs->set_tracing(true);
    const run_log log = run_workload(w, fs, true);
    INFO("workload " << w.name);
    REQUIRE(log.unexpected.empty());
    REQUIRE(log.failed_calls == 0);
    trace = fs->trace();
    INFO("workload " << w.name << " ran only " << trace.size() << " file ops (floor " << min_ops
                     << "): it does not do what it should");
    CHECK(trace.size() >= min_ops);
  }
  const size_t points_before = t.points;
  struct mode {
    int err;
    bool persistent;
  };
  for (uint64_t k = 0; k < trace.size(); ++k) {
    for (const mode m :
         {mode{EIO, false}, mode{ENOSPC, false}, mode{EIO, true}, mode{ENOSPC, true}}) {
      ++heartbeat();
      ++t.points;
      const std::string where = w.name + ": " + (m.err == EIO ? "EIO" : "ENOSPC") +
                                (m.persistent ? " from" : " once at") + " op " + std::to_string(k) +
                                " (" + trace[k] + ")";
      auto fs = std::make_shared<fault_fs>();
      fs->fail_at(k, m.err, m.persistent);
      const run_log log = run_workload(w, fs, true, 3, true);
      for (const std::string& u : log.unexpected) t.failures.push_back(where + ": " + u);
      if (fs->failures() == 0) {
        t.failures.push_back(where + ": the fault was never reached");
        continue;
      }
      if (log.probe_ok) {
        t.failures.push_back(where + ": the fault hit " + fs->fault_kind() +
                             " but no call reported it, and a later compact() succeeded");
      }
      if (log.failed_calls > 0) {
        ++t.reported;
      } else if (fs->fault_kind() == "remove") {
        ++t.absorbed;
      } else if (log.reopened_after_fault) {
        ++t.cleared_by_reopen;
      }
      if (m.persistent) {
        // Still failing: opening must fail cleanly.
        lsmt::options o = w.opts;
        o.fs = fs;
        try {
          store_t db(db_dir, o);
          t.failures.push_back(where + ": the store opened although every file op fails");
        } catch (const lsmt::io_error&) {
        } catch (const std::exception& e) {
          t.failures.push_back(where + ": opening under the fault threw " + e.what());
        }
      }
      fs->clear_faults();
      const std::string err = reopen_and_check(w, fs, log);
      if (!err.empty()) t.failures.push_back(where + ": " + err);
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("io errors: %-20s %4zu ops, %6zu I/O error points, %.1f s\n", w.name.c_str(),
              trace.size(), t.points - points_before, secs);
  std::fflush(stdout);
}

}  // namespace

TEST_CASE("io-error: EIO and ENOSPC at every file op are reported and lose nothing acknowledged",
          "[io-error]") {
  const uint64_t seed = workload_seed();
  const bool quick = quick_mode();
  std::printf("io errors: LSMT_TEST_SEED=%llu%s\n", static_cast<unsigned long long>(seed),
              quick ? " (LSMT_TEST_QUICK)" : "");
  INFO("LSMT_TEST_SEED=" << seed);
  std::string current;
  watchdog dog([&] { return current; });
  // A normal run (fixed seed) checks 4,868 I/O error points, 4,654 of them reported by a call,
  // the smallest workload having 85 ops (LSMT_TEST_QUICK: 2,444 points, 2,334 reported, 46 ops).
  // A workload with no writes has 7 ops (open and close): 28 points.
  const floors least = quick ? floors{30, 1000, 900} : floors{30, 2000, 1800};
  io_tally t;
  for (const workload& w : make_workloads(seed, quick)) {
    current = w.name;
    run_io_errors(w, least.ops_per_workload, t);
  }
  for (size_t i = 0; i < t.failures.size() && i < 25; ++i) FAIL_CHECK(t.failures[i]);
  std::printf(
      "io errors: I/O error points checked: %zu (reported by a call: %zu; failed "
      "removals absorbed: %zu; background failures cleared by a reopen: %zu), "
      "failures: %zu\n",
      t.points, t.reported, t.absorbed, t.cleared_by_reopen, t.failures.size());
  std::fflush(stdout);
  WARN("io errors: I/O error points checked: " << t.points);
  CHECK(t.failures.empty());
  // An empty or broken workload or check must not pass: it checks less than a floor.
  INFO("io errors: floors: " << least.points << " I/O error points, " << least.reported
                             << " of them reported by a call");
  CHECK(t.points >= least.points);
  CHECK(t.reported >= least.reported);
}

}  // namespace io_error_test_cpp
