// tests/workload_driver.hpp - runs a workload of crash_workload.hpp against a store on a
// fault_fs (fault_fs.hpp), the way crash_points_test.cpp and io_error_test.cpp need it: every
// write runs with the store's background threads held off and is followed by quiesce(), so the
// sequence of file operations is the same in every run until the first fault, and op k of one
// run is op k of the next. It records in a run_log which writes were attempted, acknowledged
// and made durable, and which calls failed or misbehaved.
#ifndef LSMT_TEST_WORKLOAD_DRIVER_HPP
#define LSMT_TEST_WORKLOAD_DRIVER_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "crash_workload.hpp"
#include "fault_fs.hpp"
#include "lsmt.hpp"
#include "watchdog.hpp"

namespace lsmt_test::crash_work {

/// Counts files of the store's directory with extension ext.
inline size_t count_files(fault_fs& fs, const std::string& ext) {
  size_t n = 0;
  for (const std::string& name : fs.list_directory(db_dir)) {
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      ++n;
    }
  }
  return n;
}

/// Waits until the store's background work is over: db.wait_for_compactions() (no memtable
/// awaits its flush, no merge is due or running), then until no leftover (a retired WAL, a
/// compacted table) awaits removal. Returns early once a fault fired: the engine may then never
/// settle, and wait_for_compactions() throws the background error. A hang in
/// wait_for_compactions() is the watchdog's to catch; the removal poll throws after 60 s.
inline void quiesce(store_t& db, fault_fs& fs) {
  if (fs.fault_fired()) return;
  try {
    db.wait_for_compactions();
  } catch (const lsmt::io_error&) {
    if (fs.fault_fired()) return;
    throw;
  }
  // A poll remains, because wait_for_compactions() does not cover removals: the flush thread
  // removes the retired WAL after it installed the table, and a compacted table's file goes
  // when the last reference to it does. Both are file ops that must not interleave with the
  // next step's (the op sequence must be the same in every run). Each removal is an op, so the
  // poll waits for fault_fs's next op rather than sleeping; the short timeout is a fallback.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    const uint64_t seen = fs.ops();
    if (fs.fault_fired()) return;
    if (count_files(fs, ".log") == 1 && count_files(fs, ".sst") == db.stats().tables) return;
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("hang: obsolete files were not removed in 60 s (" +
                               std::to_string(count_files(fs, ".log")) + " logs, " +
                               std::to_string(count_files(fs, ".sst")) + " table files, " +
                               std::to_string(db.stats().tables) + " live tables)");
    }
    fs.wait_for_op(seen, std::chrono::milliseconds(2));
  }
}

inline void run_step(store_t& db, const step& s) {
  const lsmt::write_options wo{s.sync};
  if (s.kind == step::write) {
    if (s.ops.size() == 1) {
      if (s.ops[0].end) {
        db.delete_range(s.ops[0].key, *s.ops[0].end, wo);
      } else if (s.ops[0].erase) {
        db.erase(s.ops[0].key, wo);
      } else {
        db.put(s.ops[0].key, s.ops[0].value, wo);
      }
      return;
    }
    store_t::batch b;
    for (const kv_op& op : s.ops) {
      if (op.end) {
        b.delete_range(op.key, *op.end);
      } else if (op.erase) {
        b.erase(op.key);
      } else {
        b.put(op.key, op.value);
      }
    }
    db.write(b, wo);
  } else if (s.kind == step::txn) {
    auto tx = db.begin_transaction();
    const std::optional<std::string> old = tx.get(s.ops[0].key);
    tx.put(s.ops[0].key, old.value_or("") + "|" + s.ops[0].value);
    for (size_t i = 1; i < s.ops.size(); ++i) {
      if (s.ops[i].erase) {
        tx.erase(s.ops[i].key);
      } else {
        tx.put(s.ops[i].key, s.ops[i].value);
      }
    }
    tx.commit(wo);
  } else if (s.kind == step::flush) {
    db.flush();
  } else if (s.kind == step::compact) {
    db.compact();
  }
}

/// Runs w against fs. With keep_going false (a crash) it stops at the first failed call; with
/// keep_going (injected I/O errors) it goes on until max_failures calls failed. Writes run with
/// the background held off and are followed by quiesce(), so the op sequence is deterministic
/// until the first fault. Closes the store at the end (errors ignored). With probe, a store that
/// saw a fault no call reported gets a compact(), which must fail.
inline run_log run_workload(const workload& w, const std::shared_ptr<fault_fs>& fs, bool keep_going,
                            size_t max_failures = 3, bool probe = false) {
  run_log log;
  lsmt::options o = w.opts;
  o.fs = fs;
  std::unique_ptr<store_t> db;
  auto unexpected = [&](const std::string& where, const char* what) {
    log.unexpected.push_back(where + ": " + what);
  };
  try {
    db = std::make_unique<store_t>(db_dir, o);
    quiesce(*db, *fs);
  } catch (const lsmt::io_error&) {
    log.open_failed = true;
    ++log.failed_calls;
    return log;
  } catch (const std::exception& e) {
    unexpected("open", e.what());
    return log;
  }
  bool held = false;
  size_t write_index = 0;
  size_t step_index = 0;
  for (const step& s : w.steps) {
    ++heartbeat();
    const std::string where = "step " + std::to_string(step_index++);
    if (s.kind == step::hold || s.kind == step::release) {
      // Once a fault fired the background may be behind (no quiesce), and a write may have to
      // wait for its flush: holding it off could deadlock. Determinism ends at the fault.
      held = s.kind == step::hold && !fs->fault_fired();
      fs->hold_other_threads(held);
      if (!held) {
        try {
          quiesce(*db, *fs);
        } catch (const std::exception& e) {
          unexpected(where, e.what());
          break;
        }
      }
      continue;
    }
    const bool writes = is_write(s);
    bool ok = true;
    const bool hold_this = !held && writes && !fs->fault_fired();
    if (hold_this) fs->hold_other_threads(true);
    try {
      if (s.kind == step::reopen) {
        if (fs->fault_fired()) log.reopened_after_fault = true;
        db->close();
        db.reset();
        db = std::make_unique<store_t>(db_dir, o);
      } else {
        run_step(*db, s);
      }
    } catch (const lsmt::io_error&) {
      ok = false;
    } catch (const std::exception& e) {
      ok = false;
      unexpected(where, e.what());
    }
    if (hold_this) fs->hold_other_threads(false);
    if (writes) {
      log.attempted.push_back(write_index);
      if (ok) {
        ++log.acked;
        if (s.sync) log.durable = log.attempted.size();
      } else {
        log.uncertain.insert(write_index);
      }
      ++write_index;
    } else if (ok) {
      log.durable = log.attempted.size();  // a flush, compaction or recovery syncs everything
    }
    if (!ok) {
      ++log.failed_calls;
      if (!keep_going || log.failed_calls >= max_failures || !db) break;
    }
    if (fs->crashed()) break;
    if (!held) {
      try {
        quiesce(*db, *fs);
      } catch (const std::exception& e) {
        unexpected(where, e.what());
        break;
      }
    }
    if (fs->crashed()) break;  // it crashed in background work: the process is gone
  }
  if (held) fs->hold_other_threads(false);
  if (db && probe && log.failed_calls == 0 && fs->fault_fired() && fs->fault_kind() != "remove" &&
      !log.reopened_after_fault) {
    // The fault hit background work: the engine must stop. compact() waits for the background
    // to finish or fail (a write could race the failing thread and legitimately succeed).
    try {
      db->compact();
      log.probe_ok = true;
    } catch (const lsmt::io_error&) {
      ++log.failed_calls;
    } catch (const std::exception& e) {
      unexpected("probe", e.what());
    }
  }
  if (db) {
    try {
      db->close();
    } catch (const lsmt::io_error&) {
    } catch (const std::exception& e) {
      unexpected("close", e.what());
    }
  }
  return log;
}

}  // namespace lsmt_test::crash_work

#endif  // LSMT_TEST_WORKLOAD_DRIVER_HPP
