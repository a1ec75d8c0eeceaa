// engine_rocksdb.hpp - db_bench's adapter for RocksDB.
//
// Settings: create_if_missing; compression = kNoCompression; BlockBasedTableOptions with
// filter_policy = NewBloomFilterPolicy(--bloom_bits) and block_cache = NewLRUCache(--cache_size).
// Everything else is RocksDB's default: 64 MiB write buffer, 64 MiB table files, 4 KiB blocks,
// leveled compaction, 2 background jobs, reads through pread (no mmap).
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/version.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

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
};

}  // namespace bench
