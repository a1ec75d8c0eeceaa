// lsmt/stats.hpp - what a store reports about itself (db::stats()).
//
// Thread safety: a plain value, copied out of the store under its lock.
#ifndef LSMT_STATS_HPP
#define LSMT_STATS_HPP

#include <array>
#include <cstddef>
#include <cstdint>

namespace lsmt {

/// What the merges into one level did since open (stats::level_merges), as RocksDB's compaction
/// stats show per level. bytes_written / bytes_in is the level's write amplification: the bytes
/// merges wrote into it per byte that came down into it.
struct level_merge_stats {
  uint64_t merges = 0;         ///< merges whose output went into this level, moves included
  uint64_t moves = 0;          ///< of them, tables moved down into it without being rewritten
  uint64_t bytes_in = 0;       ///< bytes of the tables that came down (every table, compact())
  uint64_t bytes_read = 0;     ///< bytes merges read: those and this level's they overlapped
  uint64_t bytes_written = 0;  ///< bytes merges wrote into this level, blob files too (0: move)
};

/// A store's counters at one moment. "Since open" counters start at 0 each time the store opens.
struct stats {
  // ---- the tables ----
  size_t tables = 0;                      ///< live SSTables
  std::array<size_t, 7> level_tables{};   ///< live SSTables per level (0: unsorted, 1-6 sorted)
  std::array<uint64_t, 7> level_bytes{};  ///< their bytes
  uint64_t table_bytes = 0;               ///< bytes of the live SSTables
  /// Bytes that merges must still move down to bring every level within its target size:
  /// level 0's bytes once it holds level0_trigger tables, plus each sorted level's bytes
  /// above its target. Growing without bound means writes outpace merging.
  uint64_t pending_compaction_bytes = 0;
  /// Of the levels above the bottom level (level 0 too), the bytes estimated to hold keys whose
  /// older versions wait deeper down, taking space twice until merges drop them: each table's
  /// bytes times the share of its sampled keys a deeper level may hold (1 in 64 keys, asked
  /// when a flush or merge writes it; a table opened from disk counts whole). The space
  /// slowdown holds it to options::slowdown_space_amplification.
  uint64_t shadowing_bytes = 0;
  /// Level-0 tables at which level 0 is merged into the sorted levels now: compaction_interval,
  /// or more in a large store (options::compaction_interval_growth), counted once level 0 holds
  /// compaction_interval tables.
  size_t level0_trigger = 0;
  /// Range deletions the live SSTables hold (each table's own, after compactions cut them at
  /// table boundaries or dropped them), and those in the memtables.
  uint64_t table_range_deletions = 0;
  uint64_t memtable_range_deletions = 0;
  uint64_t last_sequence = 0;  ///< sequence number of the newest write
  // Blob files hold the values of options::blob_min_size or more bytes.
  size_t blob_files = 0;         ///< live blob files (those the live SSTables refer to)
  uint64_t blob_file_bytes = 0;  ///< their bytes
  /// Of their records' bytes, those no live SSTable refers to: values overwritten or deleted,
  /// which stay until a merge into the bottom level collects their file (merge_run.hpp).
  uint64_t blob_garbage_bytes = 0;
  size_t live_snapshots = 0;  ///< snapshots (and open transactions) not yet released

  // ---- work since open ----
  uint64_t user_bytes_written = 0;     ///< bytes of keys and values the store accepted
  uint64_t wal_bytes_written = 0;      ///< bytes of log records written for them
  uint64_t flushes = 0;                ///< memtables written to SSTables
  uint64_t flush_bytes_written = 0;    ///< bytes of the SSTables and blob files flushes wrote
  uint64_t compactions = 0;            ///< merges of SSTables, including moves
  uint64_t compaction_moves = 0;       ///< merges that moved tables down a level without rewriting
  uint64_t compaction_bytes_read = 0;  ///< bytes of the tables merges read
  uint64_t compaction_bytes_written = 0;  ///< bytes of the tables (and blob files) merges wrote
  /// The same, by the level merges wrote into (level 0's row stays 0: flushes are counted above).
  std::array<level_merge_stats, 7> level_merges{};
  /// Of flush_bytes_written and compaction_bytes_written, the bytes of blob files.
  uint64_t blob_bytes_written = 0;
  /// Bytes written to disk (logs, flushes, merges) per byte of keys and values accepted since
  /// open; 0 before the first write.
  double write_amplification = 0;
  uint64_t stalls = 0;        ///< times a write waited for flushes or merges to catch up
  uint64_t stall_micros = 0;  ///< total time writes waited, in microseconds
  /// Times the write leader slept a little because level 0 neared the stall, or because the
  /// levels above the bottom held too much (options::slowdown_space_amplification;
  /// write_path.hpp; one sleep pays for the groups written since the one before).
  uint64_t slowdowns = 0;
  uint64_t slowdown_micros = 0;     ///< total time those sleeps took, in microseconds
  uint64_t block_cache_hits = 0;    ///< block cache lookups that found the block
  uint64_t block_cache_misses = 0;  ///< block cache lookups that read the block with pread
  uint64_t bloom_checks = 0;        ///< point lookups that checked an SSTable's bloom filter
  uint64_t bloom_useful = 0;        ///< of them, checks that ruled the table out (a read saved)
  /// Times the writes had stopped for options::idle_settle_ms and a settle began: the memtable
  /// rotated for its flush, then level 0 merged down if that still paid (idle_settle.hpp).
  uint64_t idle_settles = 0;

  // ---- memory ----
  // A table mapped at open keeps its filter in its mapping; one opened for pread keeps it in
  // memory, even once a read maps it. Every table keeps its index in memory: 12 bytes per data
  // block, and the index keys only where their fences tie (table_index.hpp). Pages of mapped
  // tables count in the process's RSS as file-backed memory: mapped_bytes bounds them.
  size_t immutable_memtables = 0;  ///< full memtables waiting for their flush
  size_t memtable_entries = 0;     ///< entries (and range deletions) in the active memtable
  uint64_t memtable_bytes = 0;     ///< arenas, bloom filters and hash indexes of the memtables
  uint64_t immutable_memtable_bytes = 0;  ///< of memtable_bytes, the immutables' part
  /// Not in memtable_bytes, and shared by every store of the process: the freed 2 MiB memtable
  /// blocks kept for the next memtables (at most 16 MiB; arena.hpp).
  uint64_t memtable_pool_bytes = 0;
  uint64_t filter_bytes = 0;       ///< bloom filters of the live SSTables
  uint64_t index_bytes = 0;        ///< in-memory indexes of the live SSTables
  uint64_t block_cache_bytes = 0;  ///< blocks held by the block cache (pread reads)
  /// Bytes of the tables read through maps (max_mapped_bytes). Not a subset of table_bytes: it
  /// also counts the outputs of a flush or merge under way, and the tables a merge replaced until
  /// their last reader lets go of them (mapping_budget.hpp), so it may exceed table_bytes.
  uint64_t mapped_bytes = 0;
};

}  // namespace lsmt

#endif  // LSMT_STATS_HPP
