// lsmt/idle_settle.hpp - when a store whose writes stopped settles: its memtable flushed and
// level 0 merged down into the sorted levels.
//
// Leveled compaction leaves a store in a shape made for writes when they stop: the memtable
// holds the last writes, and level 0 up to one table fewer than its trigger, each of whose key
// ranges overlaps every other's. Every seek then positions the memtable and each level-0 table
// on top of one table per sorted level, and every scan merges them all in. At 1M keys (db_bench,
// lsmt alone, `fillseq,fillrandom,overwrite`, then reads) the overwrite left a 4.3 MiB memtable
// and four level-0 tables of 11 MB over 93 MB in the bottom level. Settling that store by hand
// (compact(), four runs against four without) took the reads from 0.84-0.91M to 0.96-1.12M
// gets/s, readseq from 9.6-10.9M to 15.1-17.2M entries/s and the first seekrandom from
// 0.53-0.56M to 0.68-0.73M seeks/s; merging level 0 alone and keeping the memtable (two runs)
// gave part of it (readseq 12.5-13.4M).
//
// So once no write has come for options::idle_settle_ms (the newest sequence number has not
// moved since the compaction thread first saw it: as a merge started, while a flush ran, or as
// it came to wait; if a flush is running then, once it ends), the compaction thread settles
// the store: it rotates the memtable (write_path::try_rotate_when_idle: only if the write queue
// is free that moment, so the thread never waits for a writer), the flush thread writes it to
// level 0, and level 0 is merged into the sorted levels as it would be at its trigger, or
// straight into the level below an empty base level, if that one holds data, when
// level 0 holds more than the base level's target (compaction_picker::settle_job). A settle that
// does not pay, or fails, is not retried until a write starts a new quiet period; one that
// found the write queue busy waits for another. Meanwhile the thread sleeps until that write
// wakes it (idle_settler.hpp): a quiet store costs no periodic wake-ups (a 60 s safety net
// aside), settled or not.
//
// The bound on its cost: a merge of level 0 rewrites the tables below that it overlaps. At the
// trigger it does so for compaction_interval memtables or more (level0_trigger in
// level_targets.hpp); settling does it for whatever the
// memtable and level 0 hold, so it waits until they hold at least 1 / compaction_interval of
// the bytes it would rewrite (worth_settling): before the rotation, counting the tables the
// memtable's key range overlaps too (compaction_picker::settle_pays), and again once the
// memtable is in level 0. A store written in bursts with pauses therefore rewrites at most about
// compaction_interval bytes below for each byte it settles (the memtable's bytes count each
// version and uncompressed, so somewhat more when they are overwritten or compressed), and one
// that only trickles writes does not settle for a few bytes. Time is only the trigger: what a
// settle does is an ordinary rotation, flush and level-0 merge, with their crash safety.
//
// Thread safety: an idle_watch is used by the compaction thread alone; the rest is pure.
#ifndef LSMT_IDLE_SETTLE_HPP
#define LSMT_IDLE_SETTLE_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace lsmt::detail {

/// Whether settling `unsettled` bytes (the memtable's and level 0's) pays for rewriting
/// `rewritten` bytes below them: at least 1 / interval of them (top of the file).
inline bool worth_settling(uint64_t unsettled, uint64_t rewritten, size_t interval) {
  if (unsettled == 0) return false;
  const uint64_t share = rewritten / interval + (rewritten % interval != 0 ? 1 : 0);  // rounded up
  return unsettled >= share;
}

/// The user keys [lo, hi] of a memtable about to be flushed (when it holds any); unbounded if
/// it holds a range deletion, which may reach any key.
struct key_span {
  std::string lo, hi;
  bool unbounded = false;
};

/// Notices that writes stopped: the newest sequence number has stayed the same for the delay.
class idle_watch {
 public:
  using clock = std::chrono::steady_clock;

  /// delay_ms 0 turns the watch off.
  explicit idle_watch(uint64_t delay_ms) : delay_(std::chrono::milliseconds(delay_ms)) {}

  bool enabled() const { return delay_.count() > 0; }

  /// Called whenever the compaction thread would wait, with the newest sequence number: true
  /// once it has stayed the same for the delay, and only once for that sequence number (a
  /// settle that did not pay, or failed, is not retried until a write starts a new period).
  /// *wait is how long to wait before asking again.
  bool quiet(uint64_t sequence, clock::time_point now, clock::duration* wait) {
    observe(sequence, now);
    *wait = delay_;
    if (fired_) return false;
    const clock::time_point due = since_ + delay_;
    if (now < due) {
      *wait = due - now;
      return false;
    }
    fired_ = true;
    return true;
  }

  /// Notes the newest sequence number without asking: a new period starts if it moved. The
  /// compaction thread calls it as each merge starts and while a flush runs, so that the time
  /// they take counts towards the quiet period when no write comes meanwhile.
  void observe(uint64_t sequence, clock::time_point now) {
    if (!watching_ || sequence != sequence_) {
      watching_ = true;
      fired_ = false;
      sequence_ = sequence;
      since_ = now;
    }
  }

  /// Whether quiet() returned true for `sequence`: nothing is left to do until a write changes
  /// the newest sequence number.
  bool fired_for(uint64_t sequence) const { return watching_ && fired_ && sequence_ == sequence; }

  /// Forgets the period (nothing to settle now): the next quiet() starts a new one.
  void stop() { watching_ = false; }

 private:
  const clock::duration delay_;
  bool watching_ = false;
  bool fired_ = false;  // quiet() returned true for sequence_
  uint64_t sequence_ = 0;
  clock::time_point since_{};
};

}  // namespace lsmt::detail

#endif  // LSMT_IDLE_SETTLE_HPP
