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

namespace bench {

class rocksdb_engine final : public engine {
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

  void put(const std::string& key, const std::string& value, bool sync) override {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    check(db_->Put(wo, key, value));
  }
  bool get(const std::string& key, std::string* value) override {
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, value);
    if (s.IsNotFound()) return false;
    check(s);
    return true;
  }
  void erase(const std::string& key, bool sync) override {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    check(db_->Delete(wo, key));
  }
  std::unique_ptr<cursor> new_cursor() override {
    return std::make_unique<rocksdb_cursor>(db_->NewIterator(rocksdb::ReadOptions()));
  }

 private:
  static void check(const rocksdb::Status& s) {
    if (!s.ok()) throw std::runtime_error("rocksdb: " + s.ToString());
  }
  class rocksdb_cursor final : public cursor {
   public:
    explicit rocksdb_cursor(rocksdb::Iterator* it) : it_(it) {}
    void seek_to_first() override { it_->SeekToFirst(); }
    void seek_to_last() override { it_->SeekToLast(); }
    void seek(const std::string& key) override { it_->Seek(key); }
    bool valid() const override { return it_->Valid(); }
    void next() override { it_->Next(); }
    void prev() override { it_->Prev(); }
    std::string_view key() override { return {it_->key().data(), it_->key().size()}; }
    std::string_view value() override { return {it_->value().data(), it_->value().size()}; }

   private:
    std::unique_ptr<rocksdb::Iterator> it_;
  };

  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace bench
