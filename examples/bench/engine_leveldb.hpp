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
#include <leveldb/write_batch.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "engine.hpp"

namespace bench {

class leveldb_engine final : public engine {
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

  void put(const std::string& key, const std::string& value, bool sync) override {
    leveldb::WriteOptions wo;
    wo.sync = sync;
    check(db_->Put(wo, key, value));
  }
  bool get(const std::string& key, std::string* value) override {
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), key, value);
    if (s.IsNotFound()) return false;
    check(s);
    return true;
  }
  void erase(const std::string& key, bool sync) override {
    leveldb::WriteOptions wo;
    wo.sync = sync;
    check(db_->Delete(wo, key));
  }
  std::unique_ptr<cursor> new_cursor() override {
    return std::make_unique<leveldb_cursor>(db_->NewIterator(leveldb::ReadOptions()));
  }

 private:
  static void check(const leveldb::Status& s) {
    if (!s.ok()) throw std::runtime_error("leveldb: " + s.ToString());
  }
  class leveldb_cursor final : public cursor {
   public:
    explicit leveldb_cursor(leveldb::Iterator* it) : it_(it) {}
    void seek_to_first() override { it_->SeekToFirst(); }
    void seek_to_last() override { it_->SeekToLast(); }
    void seek(const std::string& key) override { it_->Seek(key); }
    bool valid() const override { return it_->Valid(); }
    void next() override { it_->Next(); }
    void prev() override { it_->Prev(); }
    std::string_view key() override { return {it_->key().data(), it_->key().size()}; }
    std::string_view value() override { return {it_->value().data(), it_->value().size()}; }

   private:
    std::unique_ptr<leveldb::Iterator> it_;
  };

  // Declaration order matters: the DB must close before its cache and filter policy die.
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
};

}  // namespace bench
