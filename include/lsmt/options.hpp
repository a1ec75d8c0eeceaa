// lsmt/options.hpp - the settings of a store, with their defaults.
//
// Thread safety: plain values; a store copies them when it opens.
#ifndef LSMT_OPTIONS_HPP
#define LSMT_OPTIONS_HPP

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "compressor.hpp"
#include "error.hpp"
#include "file_system.hpp"

namespace lsmt {

/// What opening a store does with damage to its write-ahead logs that no crash explains
/// (README, "Recovery"). A torn last record, which a crash leaves, is dropped in both modes.
enum class recovery_mode {
  /// Replay the writes before the first damage (a consistent prefix), drop the rest, and report
  /// what was dropped in db::recovery() and to the logger. The default.
  point_in_time,
  /// Refuse to open: corruption_error names the damage. Nothing is dropped or removed.
  absolute_consistency,
};

/// The severity of a message to options::logger.
enum class log_level { info, warning, error };

struct options {
  /// Permissions of the directory when the store creates it.
  std::filesystem::perms directory_permissions = std::filesystem::perms(0755);
  /// Flush the memtable once it holds this many entries; 0 means no entry limit.
  size_t memtable_max_entries = 0;
  /// Flush the memtable once its arena holds this many bytes. Must be > 0.
  size_t memtable_max_bytes = size_t{16} << 20;
  /// Immutable memtables waiting for their flush before writers are made to wait.
  size_t max_immutable_memtables = 2;
  /// Level 0 (the unsorted tables flushes write) is compacted into the sorted levels once it
  /// holds this many tables. Must be >= 2. Fewer make reads and seeks cheaper; more make
  /// writes cheaper: each merge of level 0 rewrites the level below it, so a larger batch
  /// rewrites it less often. In a large store the trigger rises (compaction_interval_growth).
  /// Writes are slowed (they sleep a little) while level 0 holds 2x this many (at least 8), more
  /// so for each further table, and wait while it holds 3x this many (at least 12); both
  /// thresholds rise with the trigger, by as many tables as it rose.
  size_t compaction_interval = 8;
  /// How far level 0's merge trigger may rise in a large store: up to this many times
  /// compaction_interval, until level 0 holds half the bottom level's bytes. With the defaults
  /// it rises once the bottom level holds more than about 16 flushed memtables (a store of 10M
  /// keys of 100 bytes, not of 1M): larger batches rewrite the levels below less often, which
  /// cut the write amplification of a 10M-key fill by a quarter, counted once its merges settle
  /// (README, "Where lsmt is behind"), while reads and seeks search more level-0 tables.
  /// db::stats() reports the trigger. 1 keeps it at compaction_interval; 1 .. 16.
  size_t compaction_interval_growth = 4;
  /// Once no write has come for this many milliseconds, the store settles: it flushes the
  /// memtable and merges level 0 down into the sorted levels, below compaction_interval too, so
  /// that reads, seeks and scans after a burst of writes search one sorted run per level instead
  /// of the memtable and every level-0 table as well (idle_settle.hpp). Only when the memtable
  /// and level 0 hold at least 1 / compaction_interval of the bytes of the tables below that
  /// the merge rewrites, so a trickle of writes never rewrites them for a few bytes. 0 turns it
  /// off; at most 86,400,000 (a day).
  uint64_t idle_settle_ms = 250;
  /// Writes are also slowed while the levels above the bottom level hold more than (this - 1)
  /// x the bottom level's bytes over older versions (each table's bytes times the share of its
  /// keys estimated to have an older version below), or, if larger, what they hold when no
  /// merge is behind (their target sizes, 1.25 / (level_size_ratio - 1) x the bottom level
  /// counted, plus 2 x base_level_bytes and level 0's slowdown threshold in memtables); more
  /// so for each further 1% of the bottom level (or target_file_size, if larger). Those levels
  /// hold the old versions and deletions that merges have not yet pushed into the bottom
  /// level, so in a large store this bounds the disk an overwriting writer takes, to about
  /// this multiple of the live data plus the merges running, at the cost of write speed while
  /// merges are behind. The share is estimated per table when it is written (1 key in 64 asked
  /// of the deeper levels' bloom filters; stats::shadowing_bytes); all the bytes above the
  /// bottom, a fill's new keys too, count against a looser bound: the larger of (this - 1) x
  /// the bottom level and the targets, plus base_level_bytes' and level 0's part. 0 turns it
  /// off (a bulk load that may take the space); else 1.05 .. 100.
  double slowdown_space_amplification = 1.2;
  /// How far compact() collapses the store: it leaves at least this many tables (as far as
  /// the keys allow), splitting its output into files of target_file_size, or into this many
  /// files of equal size when the store is smaller. Must be >= 1 and <= compaction_interval.
  size_t minimum_sstables = 2;
  /// Tables a compaction writes are cut at about this size (>= 1 KiB): it bounds the key
  /// range, and so the bytes, a compaction rewrites. Above the bottom level a table may end
  /// from half this size, where a table of the level below ends.
  uint64_t target_file_size = uint64_t{32} << 20;
  /// The sorted levels grow by this factor each, from the bottom level up (2 .. 100).
  size_t level_size_ratio = 10;
  /// The most data the base level (the one level 0 compacts into) is sized for (>= 1 KiB).
  uint64_t base_level_bytes = uint64_t{64} << 20;
  /// Values of at least this many bytes are kept apart from the tables, in blob files the flush
  /// writes (blob_file.hpp), and the tables hold a reference to each: merges then copy the
  /// reference, not the value. Merges into the bottom level collect blob files that hold 25% or
  /// more garbage (merge_run.hpp); compact() rewrites every value. 0 (the default) keeps every
  /// value in the tables. A store that has blob files is opened by this lsmt with any setting,
  /// and by no lsmt older than the one that wrote them (its MANIFEST is version 5).
  size_t blob_min_size = 0;
  /// Target size of an SSTable data block, in bytes (1 KiB .. 1 MiB).
  size_t block_size = 4096;
  /// Every this many keys, a data block stores a key whole and lists it in its restart array
  /// (1 .. 1024); the keys between share their prefix with the key before. A point read
  /// binary-searches the restart keys, then decodes up to this many entries: smaller values make
  /// point reads and seeks cheaper and tables larger. Applies to the tables written from then on.
  int block_restart_interval = 8;
  /// Bloom filter bits per key; 0 disables filters (0 .. 40).
  int bloom_bits_per_key = 10;
  /// Whether the tables compactions write into the last level get a bloom filter. The last
  /// level holds most of the keys and so most of the filters' memory (about 90% with the
  /// default level_size_ratio), and a get that reaches it for a key the store holds reads the
  /// key's block anyway. false (RocksDB's optimize_filters_for_hits) saves that memory and one
  /// filter check per such get, and makes every get of a key the store does not hold read a
  /// block of the last level. Flushes, repair and tables moved down unchanged keep theirs.
  /// Without them, the space slowdown counts nearly every key above the bottom level as
  /// shadowing an older version, a fill's new keys too (slowdown_space_amplification).
  bool bottom_level_filters = true;
  /// Compresses the SSTable blocks this store writes, and decompresses them when it reads them
  /// (compressor.hpp; examples/compression/ adapts zstd). Null, the default, compresses
  /// nothing. Its id() (1 .. 255) is recorded in every block it compresses, so a store whose
  /// tables were written with a compressor must be opened with one of the same id: else opening
  /// fails with invalid_argument_error. Blocks decompressed from mapped tables are read
  /// through the block cache too, so block_cache_bytes matters then.
  std::shared_ptr<const lsmt::compressor> compressor;
  /// Bytes of the LRU cache of SSTable blocks read with pread (tables that are not mapped).
  size_t block_cache_bytes = size_t{8} << 20;
  /// Map SSTables into memory for reading (faster; the default), up to max_mapped_bytes of
  /// them, instead of reading them with pread.
  bool use_mmap_reads = true;
  /// The most SSTable bytes mapped at once (with use_mmap_reads): a table is mapped when it is
  /// opened if its whole size still fits, else read with pread through the block cache until a
  /// read finds room for it. The pages of mapped tables count in the process's RSS, so this
  /// bounds them.
  uint64_t max_mapped_bytes = uint64_t{256} << 20;
  /// How much lower the compaction thread's CPU priority is than the store's other threads: it
  /// adds this to its nice value (Linux only; 0 .. 19, 0 leaves it alone). On a busy machine
  /// reads and writes then run before merges, which catch up when the CPU is free; a writer
  /// that outruns them for long is slowed, then stopped, by level 0's size (compaction_interval,
  /// compaction_interval_growth).
  int compaction_nice = 10;
  /// Make every write durable against power loss (fsync before acknowledging).
  /// Otherwise a write survives a crash of the process but not of the machine.
  bool sync = false;
  /// Create the directory and an empty store if there is none.
  bool create_if_missing = true;
  /// Also create the directory's missing parents (as mkdir -p does). Off by default, so a typo
  /// in a path fails with io_error instead of creating a store somewhere unexpected.
  bool create_parents = false;
  /// Create a store in a directory that already holds files but no store. Off by default: such
  /// a directory is most likely the wrong one, and it fails with invalid_argument_error.
  bool allow_non_empty_directory = false;
  /// Fail with invalid_argument if a store already exists in the directory.
  bool error_if_exists = false;
  /// What to do with damaged logs at open (see recovery_mode).
  lsmt::recovery_mode recovery_mode = lsmt::recovery_mode::point_in_time;
  /// Receives what the store reports: the open and what recovery replayed and dropped,
  /// flushes, merges, stalls, checkpoints, and a background failure when it happens. Called
  /// from the opening thread, the background threads and writers, possibly at once and with a
  /// store lock held: it must be thread-safe and must not call into the store. A message whose
  /// call throws is lost. Empty (the default) means nothing is reported.
  std::function<void(log_level, std::string_view)> logger;
  /// Where all file I/O goes; null means posix_file_system().
  std::shared_ptr<file_system> fs;
};

/// Per-write settings.
struct write_options {
  /// fsync before acknowledging this write (it is also synced if options::sync).
  bool sync = false;
};

/// The options the seed constructor db(dir, perms, entries, interval, minimum) opens with: the
/// defaults, with those four set. Start from them to change one more option. Throws
/// invalid_argument_error for 0 entries (the rest is checked when the store opens).
inline options seed_options(std::filesystem::perms perms, size_t entries, size_t interval,
                            size_t minimum) {
  if (entries == 0) throw invalid_argument_error("lsmt: memtable flush size must be > 0");
  options o;
  o.directory_permissions = perms;
  o.memtable_max_entries = entries;
  o.compaction_interval = interval;
  o.minimum_sstables = minimum;
  return o;
}

namespace detail {
/// Sends "lsmt: " + message to o.logger, if set. A logger that throws loses that message only.
inline void log_to(const options& o, log_level level, const std::string& message) {
  if (!o.logger) return;
  try {
    o.logger(level, "lsmt: " + message);
  } catch (...) {  // NOLINT(bugprone-empty-catch): reporting must not break the store
  }
}

inline void validate(const options& o, const std::filesystem::path& dir) {
  auto fail = [](const std::string& what) { throw invalid_argument_error("lsmt: " + what); };
  if (dir.empty()) fail("directory path is empty");
  if (o.memtable_max_bytes == 0) fail("memtable_max_bytes must be > 0");
  if (o.max_immutable_memtables == 0) fail("max_immutable_memtables must be > 0");
  if (o.compaction_interval < 2) fail("compaction_interval must be >= 2");
  if (o.compaction_interval_growth < 1 || o.compaction_interval_growth > 16) {
    fail("compaction_interval_growth must be between 1 and 16");
  }
  if (o.idle_settle_ms > 86'400'000) fail("idle_settle_ms must be at most 86,400,000 (a day)");
  if (o.slowdown_space_amplification != 0 &&
      !(o.slowdown_space_amplification >= 1.05 && o.slowdown_space_amplification <= 100)) {
    fail("slowdown_space_amplification must be 0 or between 1.05 and 100");
  }
  if (o.minimum_sstables < 1) fail("minimum_sstables must be >= 1");
  if (o.minimum_sstables > o.compaction_interval) {
    fail("minimum_sstables must not exceed compaction_interval");
  }
  if (o.target_file_size < 1024) fail("target_file_size must be >= 1 KiB");
  if (o.level_size_ratio < 2 || o.level_size_ratio > 100) {
    fail("level_size_ratio must be between 2 and 100");
  }
  if (o.base_level_bytes < 1024) fail("base_level_bytes must be >= 1 KiB");
  if (o.block_size < 1024 || o.block_size > (size_t{1} << 20)) {
    fail("block_size must be between 1 KiB and 1 MiB");
  }
  if (o.block_restart_interval < 1 || o.block_restart_interval > 1024) {
    fail("block_restart_interval must be between 1 and 1024");
  }
  if (o.bloom_bits_per_key < 0 || o.bloom_bits_per_key > 40) {
    fail("bloom_bits_per_key must be between 0 and 40");
  }
  if (o.compaction_nice < 0 || o.compaction_nice > 19) {
    fail("compaction_nice must be between 0 and 19");
  }
  if (o.compressor && o.compressor->id() == 0) {
    fail("compressor id must be between 1 and 255 (0 means \"not compressed\")");
  }
}
}  // namespace detail

}  // namespace lsmt

#endif  // LSMT_OPTIONS_HPP
