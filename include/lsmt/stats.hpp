// lsmt/stats.hpp - what a store reports about itself (db::stats()).
//
// Thread safety: a plain value, copied out of the store under its lock.
#ifndef LSMT_STATS_HPP
#define LSMT_STATS_HPP

#include <array>
#include <cstddef>
#include <cstdint>

namespace lsmt {

/// A store's counters at one moment.
struct stats {
  size_t tables = 0;                      ///< live SSTables
  std::array<size_t, 7> level_tables{};   ///< live SSTables per level (0: unsorted, 1-6 sorted)
  std::array<uint64_t, 7> level_bytes{};  ///< their bytes
  size_t immutable_memtables = 0;         ///< full memtables waiting for their flush
  uint64_t flushes = 0;                   ///< memtables written to SSTables since open
  uint64_t compactions = 0;               ///< merges of SSTables since open
  uint64_t table_bytes = 0;               ///< bytes of the live SSTables
  uint64_t last_sequence = 0;             ///< sequence number of the newest write
  // Memory. A mapped table's filter and index blocks live in its mapping, else in memory; the
  // fences an index search starts from are always in memory. Pages of mapped tables count in
  // the process's RSS as file-backed memory: mapped_bytes bounds them.
  uint64_t memtable_bytes = 0;     ///< arenas and bloom filters of the memtable and immutables
  uint64_t filter_bytes = 0;       ///< bloom filters of the live SSTables
  uint64_t index_bytes = 0;        ///< index blocks and fences of the live SSTables
  uint64_t block_cache_bytes = 0;  ///< blocks held by the block cache (pread reads)
  uint64_t mapped_bytes = 0;       ///< bytes of the tables read through maps (max_mapped_bytes)
};

}  // namespace lsmt

#endif  // LSMT_STATS_HPP
