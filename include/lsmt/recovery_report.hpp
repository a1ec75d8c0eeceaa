// lsmt/recovery_report.hpp - what opening a store replayed from its write-ahead logs, and what
// it had to drop (db::recovery()).
//
// Thread safety: a plain value, fixed once the store is open.
#ifndef LSMT_RECOVERY_REPORT_HPP
#define LSMT_RECOVERY_REPORT_HPP

#include <cstdint>
#include <string>
#include <vector>

namespace lsmt {

struct recovery_report {
  /// Logs read and replayed into the store.
  uint64_t logs_replayed = 0;
  /// Write batches (log records) replayed from them.
  uint64_t batches_replayed = 0;
  /// Bytes of a last record a crash cut short, dropped. Normal after a crash: such a write was
  /// never acknowledged, or (without sync) was acknowledged only as safe from a process crash.
  uint64_t torn_tail_bytes = 0;
  /// Damage no crash explains, one sentence each: which log, where, and what was dropped. Only
  /// recovery_mode::point_in_time opens a store with damage; absolute_consistency throws.
  std::vector<std::string> damage;
  /// Logs not replayed at all because an earlier one was damaged or cut short.
  uint64_t dropped_logs = 0;
  /// Bytes of logs not replayed because of damage: after the damage in the damaged log, and
  /// every later log.
  uint64_t dropped_bytes = 0;

  /// True when nothing but a torn last record was dropped.
  bool clean() const noexcept { return damage.empty(); }
};

}  // namespace lsmt

#endif  // LSMT_RECOVERY_REPORT_HPP
