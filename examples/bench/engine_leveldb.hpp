// engine_leveldb.hpp - db_bench's adapter for LevelDB.
//
// Settings: create_if_missing; compression = kNoCompression; filter_policy =
// NewBloomFilterPolicy(--bloom_bits); block_cache = NewLRUCache(--cache_size). Everything else
// is LevelDB's default: 4 MiB write buffer, 2 MiB table files, 4 KiB blocks, 1000 open files.
// A write survives a process crash (it is in the OS's page cache) but not a power loss unless
// it is synced, as for every engine here.
#pragma once

#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "engine.hpp"
#include "engine_slice_api.hpp"

namespace bench {

struct leveldb_api {
  using DB = leveldb::DB;
  using ReadOptions = leveldb::ReadOptions;
  using WriteOptions = leveldb::WriteOptions;
  using Status = leveldb::Status;
  using Iterator = leveldb::Iterator;
  static constexpr const char* name = "leveldb";
};

class leveldb_engine final : public slice_engine<leveldb_api> {
 public:
  static leveldb::Options make_options(const config& /*cfg*/) {
    leveldb::Options opts;
    opts.create_if_missing = true;
    opts.compression = leveldb::kNoCompression;
    return opts;
  }
  static std::string describe(const config& cfg) {
    leveldb::Options o = make_options(cfg);
    return "v" + std::to_string(leveldb::kMajorVersion) + "." +
           std::to_string(leveldb::kMinorVersion) + ", write buffer " + mib(o.write_buffer_size) +
           ", table file " + mib(o.max_file_size) + ", block " + std::to_string(o.block_size) +
           " B, max_open_files " + std::to_string(o.max_open_files);
  }

  leveldb_engine(const std::string& dir, const config& cfg)
      : cache_(leveldb::NewLRUCache(static_cast<size_t>(cfg.cache_size))),
        filter_(leveldb::NewBloomFilterPolicy(cfg.bloom_bits)) {
    leveldb::Options opts = make_options(cfg);
    opts.block_cache = cache_.get();
    opts.filter_policy = cfg.bloom_bits > 0 ? filter_.get() : nullptr;
    leveldb::DB* db = nullptr;
    check(leveldb::DB::Open(opts, dir, &db));
    db_.reset(db);
  }

  ~leveldb_engine() override { db_.reset(); }  // before the cache and filter policy go
  leveldb_engine(const leveldb_engine&) = delete;
  leveldb_engine& operator=(const leveldb_engine&) = delete;

 private:
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
};

}  // namespace bench
