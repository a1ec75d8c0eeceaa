// lsmt/log_replay.hpp - replaying a store's write-ahead logs at open, and what to do with
// damage (recovery_mode).
//
// The logs to replay are the MANIFEST's log_number and every later log, oldest first. They
// form a chain: the first is the log the MANIFEST names, and each later one starts with a link
// naming the log before it and that log's final size (wal.hpp). A later log with no record at
// all, not even its link, is one whose creation failed or crashed: it is skipped. Replay stops at
// the first damage that no crash explains (see recovery_report.hpp and the README's "Recovery"):
//   - a log the MANIFEST needs is missing, or a later log's link names a log that is missing;
//   - a log ends before the size the next log's link records (cut short, by damage or by a
//     power loss before it was synced), or longer than that size;
//   - damage inside a log (wal.hpp's log_end::damaged): a bad record before the point the
//     header says was synced, a log cut short before it, a bad record followed by valid ones,
//     a damaged header, or a header naming another log;
//   - a record whose checksum is valid but whose batch is malformed, has sequence numbers out
//     of range, or does not follow the previous record's.
// In point_in_time mode everything before the damage is replayed (a prefix of the writes, in
// order) and the rest, with every later log, is dropped and reported. In absolute_consistency
// mode it throws corruption_error. A torn last record of the newest log is what a crash leaves:
// both modes drop it and count it in torn_tail_bytes.
//
// Thread safety: runs once, in the engine's constructor, before any other thread exists.
#ifndef LSMT_LOG_REPLAY_HPP
#define LSMT_LOG_REPLAY_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "file_names.hpp"
#include "file_system.hpp"
#include "memtable.hpp"
#include "options.hpp"
#include "recovery_report.hpp"
#include "wal.hpp"
#include "write_batch.hpp"

namespace lsmt::detail {

class log_replay {
 public:
  log_replay(file_system& fs, const options& opts, std::string dir, memtable& mem)
      : fs_(fs), opts_(opts), dir_(std::move(dir)), mem_(mem) {}

  /// Replays `logs` (sorted, each >= first_needed) into the memtable. first_needed is the
  /// MANIFEST's log_number, 0 if there is no MANIFEST (then any logs are what a crash during
  /// the very first open left). Returns the newest sequence number replayed (0 if none).
  uint64_t run(const std::vector<uint64_t>& logs, uint64_t first_needed) {
    if (first_needed != 0 && (logs.empty() || logs.front() != first_needed)) {
      damage("log " + name(first_needed) + ", which the MANIFEST needs, is missing");
    }
    uint64_t previous = 0;
    uint64_t previous_end = 0;
    const auto drop = [&](const readable_file& file) {
      ++report_.dropped_logs;
      report_.dropped_bytes += file.size();
    };
    for (uint64_t n : logs) {
      const std::unique_ptr<readable_file> file = fs_.new_readable_file(path(n), false);
      if (stopped_) {
        drop(*file);
        continue;
      }
      log_reader reader(*file, n);
      std::string payload;
      bool more = reader.read_record(payload);
      if (!more && !reader.link() && reader.end() != log_end::damaged && previous != 0) {
        continue;  // a log whose creation failed or crashed: the chain goes around it
      }
      check_link(n, reader.link(), first_needed, previous, previous_end);
      if (stopped_) {
        drop(*file);
        continue;
      }
      ++report_.logs_replayed;
      for (; more && !stopped_; more = reader.read_record(payload)) {
        apply(n, reader.record_offset(), std::move(payload));
      }
      if (stopped_) {
        report_.dropped_bytes += file->size() - reader.record_offset();
        continue;
      }
      if (reader.end() == log_end::torn_tail) report_.torn_tail_bytes += reader.dropped_bytes();
      if (reader.end() == log_end::damaged) {
        damage("log " + name(n) + ": " + reader.damage() + "; " +
               std::to_string(reader.dropped_bytes()) + " bytes after offset " +
               std::to_string(reader.valid_end()) + " dropped");
        report_.dropped_bytes += reader.dropped_bytes();
      }
      previous = n;
      previous_end = reader.valid_end();
    }
    if (stopped_ && report_.dropped_logs > 0) {
      say(log_level::warning, std::to_string(report_.dropped_logs) +
                                  " later logs dropped to keep the replayed writes a prefix");
    }
    say(log_level::info,
        "replayed " + std::to_string(report_.batches_replayed) + " batches from " +
            std::to_string(report_.logs_replayed) + " logs" +
            (report_.torn_tail_bytes != 0 ? "; dropped a torn last record of " +
                                                std::to_string(report_.torn_tail_bytes) + " bytes"
                                          : ""));
    return last_sequence_;
  }

  const recovery_report& report() const { return report_; }

 private:
  /// Log n must link to `previous`, the log replayed before it, and have its size (the first
  /// log replayed has no predecessor, unless its link names a log the MANIFEST still needs).
  void check_link(uint64_t n, const std::optional<log_link>& link, uint64_t first_needed,
                  uint64_t previous, uint64_t previous_end) {
    if (previous == 0) {
      if (link && link->previous_log >= first_needed) {
        damage("log " + name(n) + " follows log " + name(link->previous_log) +
               ", which is missing");
      }
      return;
    }
    if (!link) {
      return damage("log " + name(n) + " does not start with a link to log " + name(previous));
    }
    if (link->previous_log != previous) {
      return damage("log " + name(n) + " follows log " + name(link->previous_log) +
                    ", which is missing");
    }
    if (link->previous_size != previous_end) {
      damage("log " + name(previous) + " ends at offset " + std::to_string(previous_end) +
             ", but log " + name(n) + " says it was " + std::to_string(link->previous_size) +
             " bytes long (cut short or damaged); log " + name(n) + " and later logs dropped");
    }
  }

  void apply(uint64_t n, uint64_t offset, std::string payload) {
    const auto where = [&] {
      return "log " + name(n) + ", record at offset " + std::to_string(offset);
    };
    raw_batch batch;
    try {
      batch.set_rep(std::move(payload));
    } catch (const corruption_error& e) {
      return damage(where() + ": " + e.what() + " (its checksum is valid)");
    }
    if (batch.count() == 0) return;
    if (batch.sequence() <= last_sequence_) {
      return damage(where() + ": sequence " + std::to_string(batch.sequence()) +
                    " does not follow the previous record's " + std::to_string(last_sequence_));
    }
    batch.for_each([&](value_type t, std::string_view k, std::string_view v, uint64_t seq) {
      mem_.add(seq, t, k, v);
    });
    last_sequence_ = batch.sequence() + batch.count() - 1;
    ++report_.batches_replayed;
  }

  /// Damage no crash explains: throw, or stop replaying and report it.
  void damage(const std::string& what) {
    if (opts_.recovery_mode == recovery_mode::absolute_consistency) {
      throw corruption_error("lsmt: " + what + " (in " + dir_ +
                             "; recovery_mode::absolute_consistency refuses to open)");
    }
    stopped_ = true;
    report_.damage.push_back(what);
    say(log_level::error, "recovery: " + what);
  }

  void say(log_level level, const std::string& message) const { log_to(opts_, level, message); }

  std::string path(uint64_t n) const { return file_path(dir_, n, file_kind::log); }
  static std::string name(uint64_t n) { return file_name(n, file_kind::log); }

  file_system& fs_;
  const options& opts_;
  const std::string dir_;
  memtable& mem_;
  recovery_report report_;
  uint64_t last_sequence_ = 0;
  bool stopped_ = false;
};

}  // namespace lsmt::detail

#endif  // LSMT_LOG_REPLAY_HPP
