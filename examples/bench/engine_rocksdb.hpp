// engine_rocksdb.hpp - db_bench's adapter for RocksDB.
//
// Settings: create_if_missing; compression = kNoCompression; BlockBasedTableOptions with
// filter_policy = NewBloomFilterPolicy(--bloom_bits) and block_cache = NewLRUCache(--cache_size).
// Everything else is RocksDB's default: 64 MiB write buffer, 64 MiB table files, 4 KiB blocks,
// leveled compaction, 2 background jobs, reads through pread (no mmap). settle() polls the
// pending and running flush and compaction properties.
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/version.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "engine.hpp"
#include "engine_slice_api.hpp"

namespace bench {

struct rocksdb_api {
  using DB = rocksdb::DB;
  using ReadOptions = rocksdb::ReadOptions;
  using WriteOptions = rocksdb::WriteOptions;
  using Status = rocksdb::Status;
  using Iterator = rocksdb::Iterator;
  static constexpr const char* name = "rocksdb";
};

class rocksdb_engine final : public slice_engine<rocksdb_api> {
 public:
  static rocksdb::Options make_options(const config& cfg) {
    rocksdb::BlockBasedTableOptions table;
    if (cfg.bloom_bits > 0)
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(cfg.bloom_bits));
    table.block_cache = rocksdb::NewLRUCache(static_cast<size_t>(cfg.cache_size));
    rocksdb::Options opts;
    opts.create_if_missing = true;
    opts.compression = rocksdb::kNoCompression;
    opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return opts;
  }
  static std::string describe(const config& cfg) {
    rocksdb::Options o = make_options(cfg);
    return "v" + std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) + "." +
           std::to_string(ROCKSDB_PATCH) + ", write buffer " + mib(o.write_buffer_size) +
           ", table file " + mib(o.target_file_size_base) + ", block 4096 B, " +
           std::to_string(o.max_background_jobs) + " background jobs";
  }

  rocksdb_engine(const std::string& dir, const config& cfg) {
    rocksdb::DB* db = nullptr;
    check(rocksdb::DB::Open(make_options(cfg), dir, &db));
    db_.reset(db);
  }

  // Polls until no flush or compaction is running or pending (RocksDB 7.8 has no call that
  // waits for them).
  void settle() override {
    for (;;) {
      uint64_t pending = 0;
      uint64_t running = 0;
      uint64_t flushes = 0;
      uint64_t memtable_flush = 0;
      db_->GetIntProperty("rocksdb.compaction-pending", &pending);
      db_->GetIntProperty("rocksdb.num-running-compactions", &running);
      db_->GetIntProperty("rocksdb.num-running-flushes", &flushes);
      db_->GetIntProperty("rocksdb.mem-table-flush-pending", &memtable_flush);
      if (pending == 0 && running == 0 && flushes == 0 && memtable_flush == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
};

}  // namespace bench
