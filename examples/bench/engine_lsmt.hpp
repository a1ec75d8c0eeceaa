// engine_lsmt.hpp - db_bench's adapter for lsmt.
//
// Settings: options.bloom_bits_per_key = --bloom_bits, options.block_cache_bytes =
// --cache_size, options.use_mmap_reads = --lsmt_mmap, options.compressor = --compression, and
// --lsmt_mapped_mb, --lsmt_memtable_mb and the layout flags --lsmt_file_mb, --lsmt_base_mb,
// --lsmt_ratio, --lsmt_l0, --lsmt_l0_growth, --lsmt_space_amp and --lsmt_idle_ms when given;
// everything else is lsmt's default (header line "defaults"). get() reads the value into
// db_bench's reused string, as LevelDB's and RocksDB's Get do (lsmt's get(key, out) overload);
// cursors read the stored bytes with raw_key()/raw_value(), like LevelDB's Slice, so a scan
// copies nothing.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <lsmt.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "engine.hpp"
#include "process_stats.hpp"
#ifdef LSMT_BENCH_HAVE_ZSTD
#include "zstd_compressor.hpp"
#endif

namespace bench {

class lsmt_engine final : public engine {
 public:
  using db_type = lsmt::db<std::string, std::string>;

  static lsmt::options make_options(const config& cfg) {
    lsmt::options opts;
    opts.bloom_bits_per_key = cfg.bloom_bits;
    opts.block_cache_bytes = static_cast<size_t>(cfg.cache_size);
    opts.use_mmap_reads = cfg.lsmt_mmap;
#ifdef LSMT_BENCH_HAVE_ZSTD
    if (cfg.compression == "zstd")
      opts.compressor = std::make_shared<lsmt_examples::zstd_compressor>();
#endif
    if (cfg.lsmt_mapped_mb != UINT64_MAX) opts.max_mapped_bytes = cfg.lsmt_mapped_mb << 20;
    opts.bottom_level_filters = cfg.lsmt_bottom_filters;
    if (cfg.lsmt_idle_ms != UINT64_MAX) opts.idle_settle_ms = cfg.lsmt_idle_ms;
    if (cfg.lsmt_memtable_mb != 0) opts.memtable_max_bytes = cfg.lsmt_memtable_mb << 20;
    opts.blob_min_size = static_cast<size_t>(cfg.lsmt_blob_min);
    if (cfg.lsmt_file_mb != 0) opts.target_file_size = cfg.lsmt_file_mb << 20;
    if (cfg.lsmt_base_mb != 0) opts.base_level_bytes = cfg.lsmt_base_mb << 20;
    if (cfg.lsmt_ratio != 0) opts.level_size_ratio = static_cast<size_t>(cfg.lsmt_ratio);
    if (cfg.lsmt_space_amp >= 0) opts.slowdown_space_amplification = cfg.lsmt_space_amp;
    if (cfg.lsmt_restart != 0) opts.block_restart_interval = static_cast<int>(cfg.lsmt_restart);
    if (cfg.lsmt_block != 0) opts.block_size = static_cast<size_t>(cfg.lsmt_block);
    if (cfg.lsmt_log != 0) {
      const auto least = cfg.lsmt_log >= 2 ? lsmt::log_level::info : lsmt::log_level::warning;
      const auto start = std::chrono::steady_clock::now();
      opts.logger = [least, start](lsmt::log_level level, std::string_view message) {
        if (level < least) return;
        const std::chrono::duration<double> since = std::chrono::steady_clock::now() - start;
        std::fprintf(stderr, "%9.3f %.*s\n", since.count(), static_cast<int>(message.size()),
                     message.data());
      };
    }
    if (cfg.lsmt_l0 != 0) {
      opts.compaction_interval = static_cast<size_t>(cfg.lsmt_l0);
      opts.minimum_sstables = std::min(opts.minimum_sstables, opts.compaction_interval);
    }
    if (cfg.lsmt_l0_growth != 0) {
      opts.compaction_interval_growth = static_cast<size_t>(cfg.lsmt_l0_growth);
    }
    return opts;
  }
  static std::string describe(const config& cfg) {
    lsmt::options o = make_options(cfg);
    return "memtable " + mib(o.memtable_max_bytes) + ", block " + std::to_string(o.block_size) +
           " B (restart every " + std::to_string(o.block_restart_interval) +
           " keys), compaction at " + std::to_string(o.compaction_interval) +
           " level-0 tables (up to " +
           std::to_string(o.compaction_interval * o.compaction_interval_growth) +
           " in a large store), files " + mib(o.target_file_size) + ", base level " +
           mib(o.base_level_bytes) + ", level ratio " + std::to_string(o.level_size_ratio) +
           ", writes slowed past " + fixed2(o.slowdown_space_amplification) + "x space" +
           ", mmap reads " + (o.use_mmap_reads ? "up to " + mib(o.max_mapped_bytes) : "off") +
           (o.bottom_level_filters ? "" : ", no last-level filters") +
           (o.idle_settle_ms == 0
                ? std::string(", no idle settle")
                : ", settle after " + std::to_string(o.idle_settle_ms) + " ms idle") +
           ", compression " + (o.compressor ? std::string(o.compressor->name()) : "none") +
           (o.blob_min_size == 0
                ? std::string()
                : ", values of " + std::to_string(o.blob_min_size) + " B or more in blob files");
  }

  lsmt_engine(const std::string& dir, const config& cfg) : db_(dir, make_options(cfg)) {}

  void put(const std::string& key, const std::string& value, bool sync) override {
    lsmt::write_options wo;
    wo.sync = sync;
    db_.put(key, value, wo);
  }
  bool get(const std::string& key, std::string* value) override { return db_.get(key, *value); }
  void erase(const std::string& key, bool sync) override {
    lsmt::write_options wo;
    wo.sync = sync;
    db_.erase(key, wo);
  }
  std::unique_ptr<cursor> new_cursor() override { return std::make_unique<lsmt_cursor>(db_); }
  void settle() override { db_.wait_for_compactions(); }
  // How much of the mapped files got 2 MiB pages (they cost fewer TLB misses per read).
  static std::string huge_pages() {
    const long long kb = file_huge_mapped_kb();
    return kb < 0 ? std::string()
                  : "; files mapped in 2 MiB pages " + mib(static_cast<uint64_t>(kb) << 10);
  }
  std::string memory_report() override {
    const lsmt::stats st = db_.stats();
    const uint64_t anon = st.memtable_bytes + st.memtable_pool_bytes + st.filter_bytes +
                          st.index_bytes + st.block_cache_bytes;
    return "stats: memtables " + mib(st.memtable_bytes) + " (and " + mib(st.memtable_pool_bytes) +
           " of freed blocks kept), filters " + mib(st.filter_bytes) + ", indexes " +
           mib(st.index_bytes) + ", block cache " + mib(st.block_cache_bytes) + " (sum " +
           mib(anon) + "); mapped tables " + mib(st.mapped_bytes) +
           " (tables of the current version " + mib(st.table_bytes) + "); writes stalled " +
           std::to_string(st.stalls) + " times, " + std::to_string(st.stall_micros / 1000) +
           " ms in total, slowed " + std::to_string(st.slowdowns) + " times, " +
           std::to_string(st.slowdown_micros / 1000) + " ms in total" + huge_pages() + levels(st);
  }
  // The shape the workload left: tables and bytes per level, blob files and their garbage, the
  // merge debt and the bytes above the bottom level that shadow older versions (what the space
  // slowdown counts).
  static std::string levels(const lsmt::stats& st) {
    std::string out = "; levels";
    for (size_t l = 0; l < st.level_tables.size(); ++l) {
      if (st.level_tables[l] == 0) continue;
      out += " L" + std::to_string(l) + " " + std::to_string(st.level_tables[l]) + "/" +
             mib(st.level_bytes[l]);
    }
    if (st.blob_files != 0) {
      out += "; blob files " + std::to_string(st.blob_files) + "/" + mib(st.blob_file_bytes) +
             " (garbage " + mib(st.blob_garbage_bytes) + ")";
    }
    return out + "; merges pending " + mib(st.pending_compaction_bytes) + ", shadowing " +
           mib(st.shadowing_bytes);
  }

 private:
  class lsmt_cursor final : public cursor {
   public:
    explicit lsmt_cursor(const db_type& db) : it_(db.new_iterator()) {}
    void seek_to_first() override { it_.seek_to_first(); }
    void seek_to_last() override { it_.seek_to_last(); }
    void seek(const std::string& key) override { it_.seek(key); }
    bool valid() const override { return it_.valid(); }
    void next() override { it_.next(); }
    void prev() override { it_.prev(); }
    // raw_key()/raw_value(): the stored bytes, no decoding copy (like LevelDB's Slice).
    std::string_view key() override { return it_.raw_key(); }
    std::string_view value() override { return it_.raw_value(); }

   private:
    db_type::iterator it_;
  };

  db_type db_;
};

}  // namespace bench
