// db_bench.cpp - lsmt vs LevelDB vs RocksDB, side by side, in one run.
//
// A db_bench-style benchmark: the same workloads, the same keys and values, the same
// cache and bloom filter budget for every engine, one child process per engine.
//
// Build (CMake does this via examples/bench.cmake; standalone):
//   g++ -O2 -std=c++17 -Iinclude -DLSMT_BENCH_HAVE_LEVELDB -DLSMT_BENCH_HAVE_ROCKSDB
//       examples/db_bench.cpp -lleveldb -lrocksdb -pthread -o db_bench
//   (-DLSMT_BENCH_NO_LSMT builds the peers alone.)
//
// Usage:
//   db_bench --benchmarks=fillrandom,readrandom,ycsba --num=1000000 --csv=results.csv
//   gnuplot -e "csv='results.csv'; out='bench.png'" examples/plot_bench.gp
//
// Flags (defaults in brackets):
//   --benchmarks=a,b,c  run in this order in the same database [fillseq,fillrandom,overwrite,
//                       readrandom,readmissing,readseq,readreverse,seekrandom,deleterandom]
//   --num=N             operations (and keys) per benchmark [1000000]
//   --reads=N           operations of readrandom, readmissing, seekrandom and ycsba..ycsbf,
//                       still over the num keys (for large --num) [0: num]
//   --key_size=N        bytes per key: zero-padded decimal key index [16]
//   --value_size=N      bytes per value: random, incompressible [100]
//   --threads=N         the operations of a benchmark are split over N threads [1]
//   --cache_size=N      block cache bytes, every engine [8388608]
//   --bloom_bits=N      bloom filter bits per key, every engine [10]
//   --engines=a,b       any of lsmt,leveldb,rocksdb [all compiled in]
//   --db=DIR            each engine works in DIR/<engine>, wiped first [/tmp/lsmt_db_bench]
//   --csv=FILE          append one row per engine and benchmark to FILE
//   --seed=N            random seed; the same keys and values for every engine [301]
//
// Workloads (db_bench semantics; "key i" = key index i formatted as key_size digits):
//   fillseq       put keys 0..num-1 in order                                 (fresh database)
//   fillrandom    put every key 0..num-1 once, in shuffled order            (fresh database)
//   fillsync      like fillrandom, but every write is synced; run with --threads=1 and 4
//                 to see group commit                                         (fresh database)
//   overwrite     num puts of uniformly random existing keys
//   readrandom    num gets of uniformly random keys; prints how many were found
//   readmissing   num gets of absent keys (key i with its last digit replaced by '.', so they
//                 sort between existing keys and defeat key-range checks)
//   readseq       one forward scan over the database (each thread: its key range)
//   readreverse   one backward scan
//   seekrandom    new iterator, seek to a random key, read it and the next 10 entries
//   deleterandom  num deletes of uniformly random keys
//   ycsba..ycsbf  YCSB core workloads over the keys loaded so far, num operations each:
//                 A 50% read/50% update, B 95/5, C 100% read, D 95% read/5% insert with the
//                 "latest" distribution, E 95% scan (1..100 entries, uniform)/5% insert,
//                 F 50% read/50% read-modify-write. Zipfian constant 0.99, YCSB's
//                 ScrambledZipfianGenerator (FNV-scrambled) and SkewedLatestGenerator.
//   Like db_bench, the fill benchmarks start from an empty database; all others use the
//   data left by the preceding benchmarks.
//
// Fairness (the only settings changed from each engine's defaults):
//   all engines: no compression; bloom filter with --bloom_bits bits per key; an LRU block
//                cache of --cache_size bytes; fillsync syncs every write.
//   leveldb:     create_if_missing; filter_policy = NewBloomFilterPolicy(bits);
//                block_cache = NewLRUCache(cache_size); compression = kNoCompression.
//   rocksdb:     create_if_missing; BlockBasedTableOptions{filter_policy =
//                NewBloomFilterPolicy(bits), block_cache = NewLRUCache(cache_size)};
//                compression = kNoCompression.
//   lsmt:        options.bloom_bits_per_key = bits, options.block_cache_bytes = cache_size.
//   Everything else (memtable size, file sizes, background threads, ...) is each engine's
//   default; the printed header lists the main ones. Peers installed from distribution
//   packages may be built with assertions on (Debian 12's LevelDB and RocksDB are: no
//   -DNDEBUG), which slows them down; release builds of the peers make the fair comparison.
//
// Measurement: each engine runs the whole benchmark list in its own child process (this
// program re-executed with the hidden --child flag), so per-engine peak RSS (VmHWM, reset
// before each benchmark; the total is the largest of those and wait4's ru_maxrss, which only
// covers the time since the last reset) and bytes written (/proc/self/io
// write_bytes: bytes sent towards storage, and wchar: bytes passed to write()-like calls) are
// not mixed up. Write amplification = write_bytes / user bytes (key + value of every put,
// key of every delete). Disk usage = du of the engine's directory after each benchmark.
// Latency: one steady_clock read per operation into a log-linear histogram (< 1.6% bucket
// error). The child sends results to the parent through a pipe, one tab-separated line each.
// Background work (compaction) started by a benchmark may continue into the next one and is
// charged to whichever benchmark is running, as in db_bench. wchar does not see writes made
// through mmap (lsmt's log), write_bytes does: compare engines by write_bytes.
//
// CSV columns, one row per engine and benchmark: engine, benchmark, num (operations done),
// threads, ops_per_sec, us_median, us_p99, peak_rss_kb (VmHWM during the benchmark),
// write_bytes (during the benchmark), write_amp (write_bytes / user bytes of the benchmark;
// 0 for read-only ones), disk_bytes (du after the benchmark).

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#ifndef LSMT_BENCH_NO_LSMT
#include <lsmt.hpp>
#endif
#ifdef LSMT_BENCH_HAVE_LEVELDB
#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>
#endif
#ifdef LSMT_BENCH_HAVE_ROCKSDB
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/version.h>
#endif

namespace bench {

namespace fs = std::filesystem;

// ===================================== configuration =====================================

struct config {
  std::vector<std::string> benchmarks = {"fillseq",     "fillrandom",  "overwrite",
                                         "readrandom",  "readmissing", "readseq",
                                         "readreverse", "seekrandom",  "deleterandom"};
  uint64_t num = 1000000;
  uint64_t reads = 0;  // 0: num
  int key_size = 16;
  int value_size = 100;
  int threads = 1;
  uint64_t cache_size = 8 << 20;
  int bloom_bits = 10;
  std::vector<std::string> engines;  // empty: all compiled in
  std::string db = "/tmp/lsmt_db_bench";
  std::string csv;
  uint64_t seed = 301;
  // Hidden, set by the parent when it re-executes itself for one engine.
  std::string child_engine;
  int report_fd = -1;
};

inline std::vector<std::string> compiled_engines() {
  std::vector<std::string> names;
#ifndef LSMT_BENCH_NO_LSMT
  names.push_back("lsmt");
#endif
#ifdef LSMT_BENCH_HAVE_LEVELDB
  names.push_back("leveldb");
#endif
#ifdef LSMT_BENCH_HAVE_ROCKSDB
  names.push_back("rocksdb");
#endif
  return names;
}

inline std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  while (!s.empty()) {
    size_t pos = s.find(sep);
    std::string_view part = s.substr(0, pos);
    if (!part.empty()) parts.emplace_back(part);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return parts;
}

[[noreturn]] inline void usage_error(const std::string& message) {
  std::fprintf(stderr, "db_bench: %s\n(see the comment at the top of db_bench.cpp for flags)\n",
               message.c_str());
  std::exit(2);
}

inline uint64_t parse_uint(std::string_view flag, const std::string& value) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno != 0 || value[0] == '-') {
    usage_error("bad value for --" + std::string(flag) + ": '" + value + "'");
  }
  return v;
}

inline int decimal_digits(uint64_t v) {
  int digits = 1;
  while (v >= 10) v /= 10, ++digits;
  return digits;
}

inline config parse_flags(int argc, char** argv) {
  config cfg;
  using setter_fn = std::function<void(std::string_view name, const std::string& value)>;
  auto int_flag = [](int* field) -> setter_fn {
    return [field](std::string_view n, const std::string& v) {
      *field = static_cast<int>(std::min<uint64_t>(parse_uint(n, v), INT32_MAX));
    };
  };
  auto uint_flag = [](uint64_t* field) -> setter_fn {
    return [field](std::string_view n, const std::string& v) { *field = parse_uint(n, v); };
  };
  auto string_flag = [](std::string* field) -> setter_fn {
    return [field](std::string_view, const std::string& v) { *field = v; };
  };
  auto list_flag = [](std::vector<std::string>* field) -> setter_fn {
    return [field](std::string_view, const std::string& v) { *field = split(v, ','); };
  };
  const std::map<std::string_view, setter_fn> setters = {
      {"benchmarks", list_flag(&cfg.benchmarks)},
      {"num", uint_flag(&cfg.num)},
      {"reads", uint_flag(&cfg.reads)},
      {"key_size", int_flag(&cfg.key_size)},
      {"value_size", int_flag(&cfg.value_size)},
      {"threads", int_flag(&cfg.threads)},
      {"cache_size", uint_flag(&cfg.cache_size)},
      {"bloom_bits", int_flag(&cfg.bloom_bits)},
      {"engines", list_flag(&cfg.engines)},
      {"db", string_flag(&cfg.db)},
      {"csv", string_flag(&cfg.csv)},
      {"seed", uint_flag(&cfg.seed)},
      {"child", string_flag(&cfg.child_engine)},
      {"report_fd", int_flag(&cfg.report_fd)},
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    size_t eq = arg.find('=');
    if (arg.substr(0, 2) != "--" || eq == std::string_view::npos) {
      usage_error("expected --flag=value, got '" + std::string(arg) + "'");
    }
    std::string_view name = arg.substr(2, eq - 2);
    std::string value(arg.substr(eq + 1));
    auto setter = setters.find(name);
    if (setter == setters.end()) usage_error("unknown flag --" + std::string(name));
    setter->second(name, value);
  }
  if (cfg.threads < 1 || cfg.threads > 1024) usage_error("--threads must be in [1, 1024]");
  // YCSB D/E insert up to 5% of their operations as new keys; the key-size check allows 2*num.
  if (cfg.reads > 20 * cfg.num) usage_error("--reads is at most 20 * --num");
  if (cfg.value_size > (64 << 20)) usage_error("--value_size is at most 64 MiB");
  // Keys up to 2*num (YCSB D/E insert new keys) must fit, plus one spare digit that
  // readmissing replaces by '.'.
  if (cfg.key_size < decimal_digits(2 * cfg.num) + 1 || cfg.key_size > 1024) {
    usage_error("--key_size must be in [" + std::to_string(decimal_digits(2 * cfg.num) + 1) +
                ", 1024] for --num=" + std::to_string(cfg.num));
  }
  if (cfg.engines.empty()) cfg.engines = compiled_engines();
  for (const std::string& e : cfg.engines) {
    auto all = compiled_engines();
    if (std::find(all.begin(), all.end(), e) == all.end()) {
      usage_error("engine '" + e + "' is not compiled in");
    }
  }
  return cfg;
}

// ================================ keys, values, randomness ================================

inline uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

inline uint64_t mix64(uint64_t x) {  // splitmix64's finalizer: a good 64-bit bijection
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// splitmix64: tiny, fast, and plenty random for choosing keys.
class rng {
 public:
  explicit rng(uint64_t seed) : state_(seed) {}
  uint64_t next() { return mix64(state_ += 0x9e3779b97f4a7c15ULL); }
  // Modulo bias is below n / 2^64: irrelevant here.
  uint64_t uniform(uint64_t n) { return n == 0 ? 0 : next() % n; }
  // Uniform in [0, 1): the top 53 bits as a double's mantissa.
  double next_double() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// Key i: its decimal digits, zero-padded to key_size bytes, so keys sort like numbers.
inline void format_key(uint64_t i, int key_size, std::string* key) {
  key->assign(static_cast<size_t>(key_size), '0');
  for (size_t pos = key->size(); i > 0 && pos > 0; i /= 10) (*key)[--pos] = char('0' + i % 10);
}

// An absent key that sorts right after key (i * 10) .. (i * 10 + 9)'s common prefix: the
// first key_size-1 bytes of a key, then '.', which no existing key ends with.
inline void format_missing_key(uint64_t i, int key_size, std::string* key) {
  format_key(i, key_size - 1, key);
  key->push_back('.');
}

// Random incompressible bytes; a value is a slice at a random offset (as in db_bench).
class value_source {
 public:
  value_source(int value_size, uint64_t seed) : value_size_(static_cast<size_t>(value_size)) {
    rng random(seed ^ 0x76616c756573ULL);
    data_.resize(std::max<size_t>(1 << 20, 2 * value_size_));
    for (char& c : data_) c = static_cast<char>(random.next());
  }
  void make(rng& random, std::string* value) const {
    size_t offset = random.uniform(data_.size() - value_size_ + 1);
    value->assign(data_.data() + offset, value_size_);
  }

 private:
  size_t value_size_;
  std::string data_;
};

// A pseudo-random bijection on [0, n) that needs no memory (unlike a shuffled array of n
// numbers, which would inflate every engine's peak RSS): a 4-round Feistel network over the
// smallest even-width bit domain >= n, "cycle-walking" until the output lands below n.
class permutation {
 public:
  permutation(uint64_t n, uint64_t seed) : n_(n) {
    int bits = 2;
    while (bits < 64 && (uint64_t{1} << bits) < n) bits += 2;
    half_bits_ = bits / 2;
    mask_ = (uint64_t{1} << half_bits_) - 1;
    rng random(seed ^ 0x7065726dULL);
    for (uint64_t& k : round_keys_) k = random.next();
  }
  uint64_t operator()(uint64_t i) const {
    uint64_t x = i;
    do x = encrypt(x);
    while (x >= n_);
    return x;
  }

 private:
  uint64_t encrypt(uint64_t x) const {
    uint64_t left = x >> half_bits_, right = x & mask_;
    for (uint64_t k : round_keys_) {
      uint64_t next_right = left ^ (mix64(right ^ k) & mask_);
      left = right;
      right = next_right;
    }
    return (left << half_bits_) | right;
  }
  uint64_t n_;
  int half_bits_;
  uint64_t mask_;
  uint64_t round_keys_[4];
};

// YCSB's ZipfianGenerator (Gray et al., "Quickly generating billion-record synthetic
// databases"), returning 0..items-1 with item 0 the most popular. The item count may grow
// between calls (YCSB's incremental zeta), which the "latest" distribution needs.
class zipfian {
 public:
  static constexpr double kTheta = 0.99;  // YCSB's ZIPFIAN_CONSTANT

  explicit zipfian(uint64_t items, std::optional<double> precomputed_zetan = std::nullopt)
      : items_(std::max<uint64_t>(items, 1)),
        alpha_(1.0 / (1.0 - kTheta)),
        zeta2_(zeta(0, 2, 0.0)),
        zetan_(precomputed_zetan ? *precomputed_zetan : zeta(0, items_, 0.0)) {
    update_eta();
  }

  uint64_t next(rng& random, uint64_t items) {
    items = std::max<uint64_t>(items, 1);
    if (items > items_) {  // incremental: add the new terms only
      zetan_ = zeta(items_, items, zetan_);
      items_ = items;
      update_eta();
    }
    double u = random.next_double();
    double uz = u * zetan_;
    if (uz < 1.0) return 0;
    if (uz < 1.0 + std::pow(0.5, kTheta)) return std::min<uint64_t>(1, items - 1);
    auto ret =
        static_cast<uint64_t>(static_cast<double>(items) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
    return std::min(ret, items - 1);
  }

 private:
  static double zeta(uint64_t from, uint64_t to, double sum) {  // sum += 1/(i+1)^theta
    for (uint64_t i = from; i < to; ++i) sum += 1.0 / std::pow(static_cast<double>(i + 1), kTheta);
    return sum;
  }
  void update_eta() {
    eta_ =
        (1.0 - std::pow(2.0 / static_cast<double>(items_), 1.0 - kTheta)) / (1.0 - zeta2_ / zetan_);
  }
  uint64_t items_;
  double alpha_, zeta2_, zetan_, eta_ = 0;
};

// YCSB's ScrambledZipfianGenerator: zipfian over 10^10 items (zeta precomputed by YCSB),
// hashed with FNV-1a 64 into [0, items), so the popular keys are spread over the key space.
class scrambled_zipfian {
 public:
  scrambled_zipfian() : zipf_(10000000000ULL, 26.46902820178302) {}
  uint64_t next(rng& random, uint64_t items) {
    return fnv1a64(zipf_.next(random, 10000000000ULL)) % std::max<uint64_t>(items, 1);
  }

 private:
  static uint64_t fnv1a64(uint64_t v) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 8; ++i, v >>= 8) hash = (hash ^ (v & 0xff)) * 1099511628211ULL;
    return hash;
  }
  zipfian zipf_;
};

// ======================================= histogram =======================================

// Log-linear latency histogram (HdrHistogram-style): exact below 64 ns, then 32 buckets per
// power of two, so any value is off by < 1/32 of itself. add() is a few instructions.
class histogram {
 public:
  histogram() : counts_(kBuckets, 0) {}
  void add(uint64_t ns) {
    ++counts_[bucket_of(ns)];
    ++total_;
  }
  void merge(const histogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
  }
  double percentile_us(double p) const {  // bucket midpoint of the p-th percentile
    if (total_ == 0) return 0;
    auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total_)));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= std::max<uint64_t>(rank, 1)) {
        if (i < 2 * kSub) return static_cast<double>(i) / 1000.0;
        size_t shift = i / kSub - 1;
        double low = static_cast<double>((i % kSub + kSub) << shift);
        return (low + static_cast<double>(uint64_t{1} << shift) / 2) / 1000.0;
      }
    }
    return 0;
  }

 private:
  static constexpr size_t kSubBits = 5, kSub = size_t{1} << kSubBits, kBuckets = 60 * kSub;
  static size_t bucket_of(uint64_t v) {
    if (v < 2 * kSub) return static_cast<size_t>(v);
    size_t shift = static_cast<size_t>(63 - __builtin_clzll(v)) - kSubBits;
    return shift * kSub + static_cast<size_t>(v >> shift);  // (v >> shift) in [kSub, 2*kSub)
  }
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
};

// ================================= engine adapter interface ================================

// A positioned iterator. key()/value() views stay valid until the cursor moves.
class cursor {
 public:
  virtual ~cursor() = default;
  virtual void seek_to_first() = 0;
  virtual void seek_to_last() = 0;
  virtual void seek(const std::string& key) = 0;  // first entry >= key
  virtual bool valid() const = 0;
  virtual void next() = 0;
  virtual void prev() = 0;
  virtual std::string_view key() = 0;
  virtual std::string_view value() = 0;
};

// One key-value store under test. Must be safe to call from --threads threads at once.
// Keys and values arrive as std::string so no adapter needs to convert or allocate.
class engine {
 public:
  virtual ~engine() = default;
  virtual void put(const std::string& key, const std::string& value, bool sync) = 0;
  virtual bool get(const std::string& key, std::string* value) = 0;
  virtual void erase(const std::string& key, bool sync) = 0;
  virtual std::unique_ptr<cursor> new_cursor() = 0;
};

inline std::string mib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// ------------------------------------------ lsmt ------------------------------------------
#ifndef LSMT_BENCH_NO_LSMT
class lsmt_engine final : public engine {
 public:
  using db_type = lsmt::db<std::string, std::string>;

  static lsmt::options make_options(const config& cfg) {
    lsmt::options opts;
    opts.bloom_bits_per_key = cfg.bloom_bits;
    opts.block_cache_bytes = static_cast<size_t>(cfg.cache_size);
    return opts;
  }
  static std::string describe(const config& cfg) {
    lsmt::options o = make_options(cfg);
    return "memtable " + mib(o.memtable_max_bytes) + ", block " + std::to_string(o.block_size) +
           " B, compaction at " + std::to_string(o.compaction_interval) + " tables, mmap reads " +
           (o.use_mmap_reads ? "on" : "off");
  }

  lsmt_engine(const std::string& dir, const config& cfg) : db_(dir, make_options(cfg)) {}

  void put(const std::string& key, const std::string& value, bool sync) override {
    lsmt::write_options wo;
    wo.sync = sync;
    db_.put(key, value, wo);
  }
  bool get(const std::string& key, std::string* value) override {
    std::optional<std::string> v = db_.get(key);
    if (!v) return false;
    *value = std::move(*v);
    return true;
  }
  void erase(const std::string& key, bool sync) override {
    lsmt::write_options wo;
    wo.sync = sync;
    db_.erase(key, wo);
  }
  std::unique_ptr<cursor> new_cursor() override { return std::make_unique<lsmt_cursor>(db_); }

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
#endif

// ----------------------------------------- LevelDB -----------------------------------------
#ifdef LSMT_BENCH_HAVE_LEVELDB
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
#endif

// ----------------------------------------- RocksDB -----------------------------------------
#ifdef LSMT_BENCH_HAVE_ROCKSDB
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
#endif

// ----------------------------------------- factory -----------------------------------------

inline std::unique_ptr<engine> open_engine(const std::string& name, const std::string& dir,
                                           const config& cfg) {
#ifndef LSMT_BENCH_NO_LSMT
  if (name == "lsmt") return std::make_unique<lsmt_engine>(dir, cfg);
#endif
#ifdef LSMT_BENCH_HAVE_LEVELDB
  if (name == "leveldb") return std::make_unique<leveldb_engine>(dir, cfg);
#endif
#ifdef LSMT_BENCH_HAVE_ROCKSDB
  if (name == "rocksdb") return std::make_unique<rocksdb_engine>(dir, cfg);
#endif
  (void)dir, (void)cfg;
  throw std::runtime_error("engine '" + name + "' is not compiled in");
}

inline std::string describe_engine(const std::string& name, const config& cfg) {
#ifndef LSMT_BENCH_NO_LSMT
  if (name == "lsmt") return lsmt_engine::describe(cfg);
#endif
#ifdef LSMT_BENCH_HAVE_LEVELDB
  if (name == "leveldb") return leveldb_engine::describe(cfg);
#endif
#ifdef LSMT_BENCH_HAVE_ROCKSDB
  if (name == "rocksdb") return rocksdb_engine::describe(cfg);
#endif
  (void)name, (void)cfg;
  return "?";
}

// ========================================= workloads =========================================

// Progress on stderr, only when it is a terminal; workers add in batches to stay cheap.
class progress_meter {
 public:
  progress_meter(std::string label, uint64_t total)
      : label_(std::move(label)), total_(total), enabled_(isatty(STDERR_FILENO) != 0) {
    if (enabled_) printer_ = std::thread([this] { print_loop(); });
  }
  ~progress_meter() {
    if (!enabled_) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_flag_ = true;
    }
    cv_.notify_all();
    printer_.join();
    std::fprintf(stderr, "\r%*s\r", 78, "");
  }
  void add(uint64_t n) {
    if (enabled_) done_.fetch_add(n, std::memory_order_relaxed);
  }

 private:
  void print_loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return done_flag_; })) {
      double frac = total_ ? std::min(1.0, static_cast<double>(done_.load()) / total_) : 1.0;
      int filled = static_cast<int>(frac * 30);
      std::fprintf(stderr, "\r%-28s [%-30s] %3d%%", label_.c_str(),
                   std::string(static_cast<size_t>(filled), '#').c_str(),
                   static_cast<int>(frac * 100));
    }
  }
  std::string label_;
  uint64_t total_;
  bool enabled_;
  std::atomic<uint64_t> done_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_flag_ = false;
  std::thread printer_;
};

// What one worker thread owns: its slice of the operations, its random stream, its latency
// histogram and counters, and reusable key/value buffers (no allocation per operation).
struct thread_state {
  thread_state(int index, uint64_t begin, uint64_t end, uint64_t seed)
      : index(index), begin(begin), end(end), random(seed) {}
  int index;
  uint64_t begin, end;  // operations [begin, end) of [0, num)
  rng random;
  histogram hist;
  uint64_t ops = 0, found = 0, user_bytes = 0, bytes_read = 0;
  std::string key, value;
  std::optional<zipfian> latest;  // YCSB D's "latest" generator, grown as keys are inserted
};

// What all threads of one benchmark share.
struct benchmark_context {
  const config& cfg;
  engine& db;
  const value_source& values;
  permutation shuffle;
  uint64_t records;                   // keys [0, records) were loaded before this benchmark
  std::atomic<uint64_t> next_insert;  // YCSB D/E insert keys records, records+1, ...
  const zipfian* latest_base;         // zeta over `records`, computed once, copied per thread
  progress_meter& progress;

  void put(thread_state& ts, uint64_t index, bool sync = false) {
    format_key(index, cfg.key_size, &ts.key);
    values.make(ts.random, &ts.value);
    db.put(ts.key, ts.value, sync);
    ts.user_bytes += ts.key.size() + ts.value.size();
  }
  void get(thread_state& ts, uint64_t index) {
    format_key(index, cfg.key_size, &ts.key);
    if (db.get(ts.key, &ts.value)) ++ts.found, ts.bytes_read += ts.value.size();
  }
  void read_entry(thread_state& ts, cursor& c) {
    ts.bytes_read += c.key().size() + c.value().size();
  }
};

// Runs op(i) for each i in the thread's slice and times it. One clock read per operation:
// op i's latency is the time since op i-1 ended (the loop's own overhead is a few ns).
// op may return false to stop early (scans that run out of entries).
template <class Op>
void timed_loop(benchmark_context& ctx, thread_state& ts, Op&& op) {
  uint64_t previous = now_ns(), unreported = 0;
  for (uint64_t i = ts.begin; i < ts.end; ++i) {
    if constexpr (std::is_same_v<std::invoke_result_t<Op&, uint64_t>, bool>) {
      if (!op(i)) break;
    } else {
      op(i);
    }
    uint64_t t = now_ns();
    ts.hist.add(t - previous);
    previous = t;
    ++ts.ops;
    if (++unreported == 1024) ctx.progress.add(unreported), unreported = 0;
  }
  ctx.progress.add(unreported);
}

inline void fill_seq(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t i) { c.put(ts, i); });
}

inline void fill_random(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t i) { c.put(ts, c.shuffle(i)); });
}

inline void fill_sync(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t i) { c.put(ts, c.shuffle(i), /*sync=*/true); });
}

inline void overwrite(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t) { c.put(ts, ts.random.uniform(c.cfg.num)); });
}

inline void read_random(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t) { c.get(ts, ts.random.uniform(c.cfg.num)); });
}

inline void read_missing(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t) {
    format_missing_key(ts.random.uniform(c.cfg.num), c.cfg.key_size, &ts.key);
    if (c.db.get(ts.key, &ts.value)) ++ts.found;
  });
}

// Each thread scans its own key range [begin, end) forward.
inline void read_seq(benchmark_context& c, thread_state& ts) {
  std::unique_ptr<cursor> it = c.db.new_cursor();
  if (ts.begin == 0) {
    it->seek_to_first();
  } else {
    format_key(ts.begin, c.cfg.key_size, &ts.key);
    it->seek(ts.key);
  }
  timed_loop(c, ts, [&](uint64_t) {
    if (!it->valid()) return false;
    c.read_entry(ts, *it);
    ++ts.found;
    it->next();
    return true;
  });
}

// Each thread scans its own key range backward, from the last key < key(end).
inline void read_reverse(benchmark_context& c, thread_state& ts) {
  std::unique_ptr<cursor> it = c.db.new_cursor();
  bool last_slice = ts.end == c.cfg.num;
  if (!last_slice) {
    format_key(ts.end, c.cfg.key_size, &ts.key);
    it->seek(ts.key);
  }
  if (last_slice || !it->valid()) {
    it->seek_to_last();
  } else {
    it->prev();
  }
  timed_loop(c, ts, [&](uint64_t) {
    if (!it->valid()) return false;
    c.read_entry(ts, *it);
    ++ts.found;
    it->prev();
    return true;
  });
}

// A new iterator per operation (the data may change between operations), as LevelDB's
// db_bench does.
inline void seek_random(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t) {
    format_key(ts.random.uniform(c.cfg.num), c.cfg.key_size, &ts.key);
    std::unique_ptr<cursor> it = c.db.new_cursor();
    it->seek(ts.key);
    if (it->valid() && it->key() == ts.key) ++ts.found;
    for (int n = 0; n <= 10 && it->valid(); ++n, it->next()) c.read_entry(ts, *it);
  });
}

inline void delete_random(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t) {
    format_key(ts.random.uniform(c.cfg.num), c.cfg.key_size, &ts.key);
    c.db.erase(ts.key, /*sync=*/false);
    ts.user_bytes += ts.key.size();
  });
}

// ---- YCSB core workloads ----

struct ycsb_mix {
  double read, update, insert, scan, read_modify_write;  // fractions, sum 1
  bool latest;                                           // "latest" instead of zipfian keys
};

inline void ycsb(benchmark_context& c, thread_state& ts, const ycsb_mix& mix) {
  scrambled_zipfian zipf;
  if (mix.latest) ts.latest = *c.latest_base;
  auto choose_key = [&]() -> uint64_t {
    if (!mix.latest) return zipf.next(ts.random, c.records);
    // SkewedLatestGenerator: the newest key is the most popular.
    uint64_t count = std::max<uint64_t>(c.next_insert.load(std::memory_order_relaxed), 1);
    return (count - 1) - ts.latest->next(ts.random, count);
  };
  timed_loop(c, ts, [&](uint64_t) {
    double u = ts.random.next_double();
    if ((u -= mix.read) < 0) {
      c.get(ts, choose_key());
    } else if ((u -= mix.update) < 0) {
      c.put(ts, choose_key());
    } else if ((u -= mix.insert) < 0) {
      c.put(ts, c.next_insert.fetch_add(1, std::memory_order_relaxed));
    } else if ((u -= mix.scan) < 0) {
      format_key(choose_key(), c.cfg.key_size, &ts.key);
      uint64_t length = 1 + ts.random.uniform(100);
      std::unique_ptr<cursor> it = c.db.new_cursor();
      it->seek(ts.key);
      for (uint64_t n = 0; n < length && it->valid(); ++n, it->next()) c.read_entry(ts, *it);
    } else {  // read-modify-write
      uint64_t k = choose_key();
      c.get(ts, k);
      c.put(ts, k);
    }
  });
}

constexpr ycsb_mix kYcsbA{0.50, 0.50, 0, 0, 0, false};
constexpr ycsb_mix kYcsbB{0.95, 0.05, 0, 0, 0, false};
constexpr ycsb_mix kYcsbC{1.00, 0, 0, 0, 0, false};
constexpr ycsb_mix kYcsbD{0.95, 0, 0.05, 0, 0, true};
constexpr ycsb_mix kYcsbE{0, 0, 0.05, 0.95, 0, false};
constexpr ycsb_mix kYcsbF{0.50, 0, 0, 0, 0.50, false};

struct workload {
  std::string_view name;
  bool fresh_db;  // starts from an empty database (the fills, as in db_bench)
  void (*run)(benchmark_context&, thread_state&);
};

constexpr workload kWorkloads[] = {
    {"fillseq", true, fill_seq},
    {"fillrandom", true, fill_random},
    {"fillsync", true, fill_sync},
    {"overwrite", false, overwrite},
    {"readrandom", false, read_random},
    {"readmissing", false, read_missing},
    {"readseq", false, read_seq},
    {"readreverse", false, read_reverse},
    {"seekrandom", false, seek_random},
    {"deleterandom", false, delete_random},
    {"ycsba", false, [](benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbA); }},
    {"ycsbb", false, [](benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbB); }},
    {"ycsbc", false, [](benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbC); }},
    {"ycsbd", false, [](benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbD); }},
    {"ycsbe", false, [](benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbE); }},
    {"ycsbf", false, [](benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbF); }},
};

inline const workload* find_workload(std::string_view name) {
  for (const workload& w : kWorkloads) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

// ============================ child: one engine, all benchmarks ============================

struct process_io {
  uint64_t write_bytes = 0, wchar = 0;
};

inline process_io read_process_io() {
  process_io io;
  std::ifstream in("/proc/self/io");
  std::string name;
  uint64_t value;
  while (in >> name >> value) {
    if (name == "write_bytes:") io.write_bytes = value;
    if (name == "wchar:") io.wchar = value;
  }
  return io;
}

inline uint64_t peak_rss_kb() {  // VmHWM
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

inline void reset_peak_rss() {  // "5" resets VmHWM to the current RSS (Linux >= 4.0)
  std::ofstream("/proc/self/clear_refs") << "5";
}

inline uint64_t disk_usage(const fs::path& dir) {  // like du: allocated blocks
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

// One benchmark's numbers, as sent from child to parent (one tab-separated line).
struct result {
  std::string benchmark;
  uint64_t ops = 0;
  int threads = 1;
  double seconds = 0, ops_per_sec = 0, us_median = 0, us_p99 = 0;
  uint64_t found = 0, user_bytes = 0, bytes_read = 0;
  uint64_t peak_rss_kb = 0, write_bytes = 0, wchar = 0, disk_bytes = 0;

  double write_amp() const {
    return user_bytes ? static_cast<double>(write_bytes) / static_cast<double>(user_bytes) : 0;
  }
  std::string serialize() const {
    std::ostringstream out;
    out << benchmark << '\t' << ops << '\t' << threads << '\t' << seconds << '\t' << ops_per_sec
        << '\t' << us_median << '\t' << us_p99 << '\t' << found << '\t' << user_bytes << '\t'
        << bytes_read << '\t' << peak_rss_kb << '\t' << write_bytes << '\t' << wchar << '\t'
        << disk_bytes;
    return out.str();
  }
  static result parse(const std::string& line) {
    std::istringstream in(line);
    result r;
    std::getline(in, r.benchmark, '\t');
    in >> r.ops >> r.threads >> r.seconds >> r.ops_per_sec >> r.us_median >> r.us_p99 >> r.found >>
        r.user_bytes >> r.bytes_read >> r.peak_rss_kb >> r.write_bytes >> r.wchar >> r.disk_bytes;
    if (!in) throw std::runtime_error("bad result line from child: " + line);
    return r;
  }
};

// How many operations a benchmark runs: --reads for the point reads, seeks and YCSB mixes,
// --num for the rest (fills, overwrite, deletes, and the full scans).
inline uint64_t operations(const workload& w, const config& cfg) {
  const std::string_view n = w.name;
  const bool read_mix =
      n == "readrandom" || n == "readmissing" || n == "seekrandom" || n.substr(0, 4) == "ycsb";
  return read_mix && cfg.reads != 0 ? cfg.reads : cfg.num;
}

// Runs one benchmark on `threads` threads and measures it.
// `position` (the benchmark's index in --benchmarks) seeds the threads, so that e.g.
// readrandom after deleterandom does not look up exactly the keys just deleted.
inline result run_benchmark(const workload& w, size_t position, const config& cfg, engine& db,
                            const value_source& values, uint64_t* records,
                            const std::string& engine_name, const fs::path& dir) {
  zipfian latest_base(*records);  // zeta over the loaded keys: computed before the clock starts
  const uint64_t ops = operations(w, cfg);
  progress_meter progress(engine_name + " " + std::string(w.name), ops);
  benchmark_context ctx{cfg,      db,         values,       permutation(cfg.num, cfg.seed),
                        *records, {*records}, &latest_base, progress};

  std::vector<thread_state> states;
  for (int t = 0; t < cfg.threads; ++t) {
    uint64_t begin = ops * static_cast<uint64_t>(t) / static_cast<uint64_t>(cfg.threads);
    uint64_t end = ops * static_cast<uint64_t>(t + 1) / static_cast<uint64_t>(cfg.threads);
    uint64_t seed = mix64(mix64(cfg.seed) + position * 1024 + static_cast<uint64_t>(t));
    states.emplace_back(t, begin, end, seed);
  }

  reset_peak_rss();
  process_io io_before = read_process_io();

  // All threads start together; the clock runs until the last one finishes.
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  std::vector<std::thread> threads;
  std::vector<std::string> errors;
  for (thread_state& ts : states) {
    threads.emplace_back([&, &ts = ts] {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return go; });
      }
      try {
        w.run(ctx, ts);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        errors.push_back(e.what());
      }
    });
  }
  uint64_t start = now_ns();
  {
    std::lock_guard<std::mutex> lock(mu);
    go = true;
  }
  cv.notify_all();
  for (std::thread& t : threads) t.join();
  uint64_t elapsed_ns = std::max<uint64_t>(now_ns() - start, 1);
  if (!errors.empty()) throw std::runtime_error(errors.front());

  process_io io_after = read_process_io();
  result r;
  r.benchmark = std::string(w.name);
  r.threads = cfg.threads;
  histogram hist;
  for (const thread_state& ts : states) {
    hist.merge(ts.hist);
    r.ops += ts.ops;
    r.found += ts.found;
    r.user_bytes += ts.user_bytes;
    r.bytes_read += ts.bytes_read;
  }
  r.seconds = static_cast<double>(elapsed_ns) / 1e9;
  r.ops_per_sec = static_cast<double>(r.ops) / r.seconds;
  r.us_median = hist.percentile_us(50);
  r.us_p99 = hist.percentile_us(99);
  r.peak_rss_kb = peak_rss_kb();
  r.write_bytes = io_after.write_bytes - io_before.write_bytes;
  r.wchar = io_after.wchar - io_before.wchar;
  r.disk_bytes = disk_usage(dir);
  *records = ctx.next_insert.load();
  return r;
}

inline void print_result(const std::string& engine_name, const result& r) {
  char extra[128] = "";
  if (r.benchmark.rfind("read", 0) == 0 || r.benchmark == "seekrandom") {
    std::snprintf(extra, sizeof extra, " (%llu of %llu found)",
                  static_cast<unsigned long long>(r.found), static_cast<unsigned long long>(r.ops));
  }
  std::printf(
      "%-8s %-12s : %10.3f us/op %10.0f ops/s  p50 %8.2f  p99 %8.2f us"
      "  wa %5.2f  rss %7.1f MiB  disk %8.1f MiB%s\n",
      engine_name.c_str(), r.benchmark.c_str(), r.seconds * 1e6 / std::max<uint64_t>(r.ops, 1),
      r.ops_per_sec, r.us_median, r.us_p99, r.write_amp(), r.peak_rss_kb / 1024.0,
      static_cast<double>(r.disk_bytes) / (1 << 20), extra);
  std::fflush(stdout);
}

// The child: runs every benchmark on one engine, prints db_bench-style lines to stdout and
// sends "R <result>" lines, then "T <totals>", to the parent through report_fd.
inline int run_child(const config& cfg) {
  const std::string& name = cfg.child_engine;
  FILE* report = fdopen(cfg.report_fd, "w");
  if (report == nullptr) return 1;
  const fs::path dir = fs::path(cfg.db) / name;
  try {
    fs::remove_all(dir);
    fs::create_directories(dir);
    value_source values(cfg.value_size, cfg.seed);
    std::unique_ptr<engine> db = open_engine(name, dir.string(), cfg);
    uint64_t records = 0;  // keys [0, records) are loaded
    uint64_t user_bytes = 0;
    for (size_t position = 0; position < cfg.benchmarks.size(); ++position) {
      const std::string& benchmark = cfg.benchmarks[position];
      const workload* w = find_workload(benchmark);
      if (w == nullptr) throw std::runtime_error("unknown benchmark '" + benchmark + "'");
      if (w->fresh_db) {
        db.reset();
        fs::remove_all(dir);
        fs::create_directories(dir);
        db = open_engine(name, dir.string(), cfg);
        records = cfg.num;
      }
      result r = run_benchmark(*w, position, cfg, *db, values, &records, name, dir);
      user_bytes += r.user_bytes;
      print_result(name, r);
      std::fprintf(report, "R\t%s\n", r.serialize().c_str());
      std::fflush(report);
    }
    db.reset();  // close: include the engine's shutdown writes in the totals
    process_io io = read_process_io();
    std::fprintf(
        report, "T\t%llu\t%llu\t%llu\t%llu\n", static_cast<unsigned long long>(io.write_bytes),
        static_cast<unsigned long long>(io.wchar), static_cast<unsigned long long>(user_bytes),
        static_cast<unsigned long long>(disk_usage(dir)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), e.what());
    std::fprintf(report, "E\t%s\n", e.what());
    std::fclose(report);
    return 1;
  }
  std::fclose(report);
  return 0;
}

// ======================= parent: spawn one child per engine, then report =======================

struct engine_report {
  std::string name;
  bool ok = false;
  std::vector<result> results;  // in benchmark order
  uint64_t peak_rss_kb = 0, write_bytes = 0, wchar = 0, user_bytes = 0, disk_bytes = 0;
};

// Re-executes this program with --child=<engine> and collects its report from a pipe.
inline engine_report run_engine_process(const std::string& name, int argc, char** argv) {
  engine_report rep;
  rep.name = name;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    int write_fd = ::dup(fds[1]);  // dup drops O_CLOEXEC: the re-executed child keeps it
    std::vector<std::string> args(argv, argv + argc);
    args.push_back("--child=" + name);
    args.push_back("--report_fd=" + std::to_string(write_fd));
    std::vector<char*> cargs;
    for (std::string& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    ::execv("/proc/self/exe", cargs.data());
    std::perror("db_bench: execv /proc/self/exe");
    ::_exit(127);
  }
  ::close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  char* line = nullptr;
  size_t cap = 0;
  for (ssize_t n; (n = ::getline(&line, &cap, in)) > 0;) {
    std::string s(line, static_cast<size_t>(n));
    if (!s.empty() && s.back() == '\n') s.pop_back();
    if (s.rfind("R\t", 0) == 0) {
      rep.results.push_back(result::parse(s.substr(2)));
    } else if (s.rfind("T\t", 0) == 0) {
      std::istringstream t(s.substr(2));
      t >> rep.write_bytes >> rep.wchar >> rep.user_bytes >> rep.disk_bytes;
      rep.ok = static_cast<bool>(t);
    }
  }
  std::free(line);
  std::fclose(in);
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  // ru_maxrss only covers the time since the last VmHWM reset (the last benchmark), so the
  // whole run's peak is the largest of it and every benchmark's own peak.
  rep.peak_rss_kb = static_cast<uint64_t>(usage.ru_maxrss);  // KiB on Linux
  for (const result& r : rep.results) rep.peak_rss_kb = std::max(rep.peak_rss_kb, r.peak_rss_kb);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rep.ok = false;
  return rep;
}

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

inline void print_header(const config& cfg) {
  std::string engines;
  for (const std::string& e : cfg.engines) engines += (engines.empty() ? "" : ", ") + e;
  std::printf("lsmt db_bench: engines %s\n", engines.c_str());
  std::printf("CPU:        %u x %s\n", std::thread::hardware_concurrency(), cpu_model().c_str());
  std::printf("Keys:       %d bytes each (zero-padded decimal)\n", cfg.key_size);
  std::printf("Values:     %d bytes each (random, incompressible)\n", cfg.value_size);
  std::printf(
      "Entries:    %llu per benchmark (%llu for reads, seeks and YCSB), %d thread(s), "
      "seed %llu\n",
      static_cast<unsigned long long>(cfg.num),
      static_cast<unsigned long long>(cfg.reads != 0 ? cfg.reads : cfg.num), cfg.threads,
      static_cast<unsigned long long>(cfg.seed));
  std::printf("Fairness:   no compression; bloom %d bits/key; LRU block cache %s (every engine)\n",
              cfg.bloom_bits, mib(cfg.cache_size).c_str());
  for (const std::string& e : cfg.engines) {
    std::printf("  %-8s  defaults: %s\n", e.c_str(), describe_engine(e, cfg).c_str());
  }
  std::printf("Databases:  %s/<engine>\n", cfg.db.c_str());
  double load = 0;
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  if (getloadavg(&load, 1) == 1 && load > 0.5 * cpus) {
    std::printf("WARNING:    load average %.1f on %u CPUs: other work will skew the results\n",
                load, cpus);
  }
  std::printf("------------------------------------------------------------------------------\n");
  std::fflush(stdout);
}

inline std::string benchmark_label(const result& r) {
  return r.threads > 1 ? r.benchmark + "/t" + std::to_string(r.threads) : r.benchmark;
}

inline void print_summary(const config& cfg, const std::vector<engine_report>& reports) {
  const engine_report* lsmt = nullptr;
  for (const engine_report& r : reports) {
    if (r.name == "lsmt") lsmt = &r;
  }
  std::printf("\nThroughput, ops/s (higher is better)%s\n",
              lsmt && reports.size() > 1 ? "; ratio = lsmt / peer" : "");
  std::printf("%-14s", "benchmark");
  for (const engine_report& r : reports) std::printf(" %12s", r.name.c_str());
  if (lsmt) {
    for (const engine_report& r : reports) {
      if (&r != lsmt) std::printf(" %14s", ("lsmt/" + r.name).c_str());
    }
  }
  std::printf("\n");
  for (size_t i = 0; i < cfg.benchmarks.size(); ++i) {
    std::printf("%-14s", cfg.benchmarks[i].c_str());
    for (const engine_report& r : reports) {
      if (i < r.results.size())
        std::printf(" %12.0f", r.results[i].ops_per_sec);
      else
        std::printf(" %12s", "failed");
    }
    if (lsmt) {
      for (const engine_report& r : reports) {
        if (&r == lsmt) continue;
        if (i < r.results.size() && i < lsmt->results.size() && r.results[i].ops_per_sec > 0) {
          std::printf(" %13.2fx", lsmt->results[i].ops_per_sec / r.results[i].ops_per_sec);
        } else {
          std::printf(" %14s", "-");
        }
      }
    }
    std::printf("\n");
  }

  std::printf("\nLatency, us/op: median / p99 (lower is better)\n%-14s", "benchmark");
  for (const engine_report& r : reports) std::printf(" %20s", r.name.c_str());
  std::printf("\n");
  for (size_t i = 0; i < cfg.benchmarks.size(); ++i) {
    std::printf("%-14s", cfg.benchmarks[i].c_str());
    for (const engine_report& r : reports) {
      if (i < r.results.size()) {
        std::printf(" %9.2f / %8.2f", r.results[i].us_median, r.results[i].us_p99);
      } else {
        std::printf(" %20s", "-");
      }
    }
    std::printf("\n");
  }

  std::printf("\nResources, whole run (lower is better)\n");
  std::printf("%-8s %14s %16s %16s %10s %14s\n", "engine", "peak RSS MiB", "write_bytes MiB",
              "wchar MiB", "write amp", "disk MiB");
  for (const engine_report& r : reports) {
    double amp = r.user_bytes ? static_cast<double>(r.write_bytes) / r.user_bytes : 0;
    std::printf("%-8s %14.1f %16.1f %16.1f %10.2f %14.1f%s\n", r.name.c_str(),
                r.peak_rss_kb / 1024.0, r.write_bytes / 1048576.0, r.wchar / 1048576.0, amp,
                r.disk_bytes / 1048576.0, r.ok ? "" : "   (FAILED)");
  }
  std::fflush(stdout);
}

inline void append_csv(const config& cfg, const std::vector<engine_report>& reports) {
  if (cfg.csv.empty()) return;
  std::error_code ec;
  bool need_header = !fs::exists(cfg.csv, ec) || fs::file_size(cfg.csv, ec) == 0;
  std::ofstream out(cfg.csv, std::ios::app);
  if (!out) {
    std::fprintf(stderr, "db_bench: cannot write %s\n", cfg.csv.c_str());
    return;
  }
  if (need_header) {
    out << "engine,benchmark,num,threads,ops_per_sec,us_median,us_p99,peak_rss_kb,"
           "write_bytes,write_amp,disk_bytes\n";
  }
  for (const engine_report& rep : reports) {
    for (const result& r : rep.results) {
      char row[512];
      std::snprintf(row, sizeof row, "%s,%s,%llu,%d,%.1f,%.3f,%.3f,%llu,%llu,%.3f,%llu\n",
                    rep.name.c_str(), r.benchmark.c_str(), static_cast<unsigned long long>(r.ops),
                    r.threads, r.ops_per_sec, r.us_median, r.us_p99,
                    static_cast<unsigned long long>(r.peak_rss_kb),
                    static_cast<unsigned long long>(r.write_bytes), r.write_amp(),
                    static_cast<unsigned long long>(r.disk_bytes));
      out << row;
    }
  }
}

inline int run_parent(const config& cfg, int argc, char** argv) {
  if (cfg.engines.empty()) usage_error("no engines compiled in");
  for (const std::string& b : cfg.benchmarks) {
    if (!find_workload(b)) usage_error("unknown benchmark '" + b + "'");
  }
  fs::create_directories(cfg.db);
  print_header(cfg);
  std::vector<engine_report> reports;
  for (const std::string& name : cfg.engines) {
    reports.push_back(run_engine_process(name, argc, argv));
    const engine_report& r = reports.back();
    std::printf(
        "%-8s total: peak RSS %.1f MiB, write_bytes %.1f MiB (wchar %.1f MiB), "
        "write amp %.2f, disk %.1f MiB%s\n",
        name.c_str(), r.peak_rss_kb / 1024.0, r.write_bytes / 1048576.0, r.wchar / 1048576.0,
        r.user_bytes ? static_cast<double>(r.write_bytes) / r.user_bytes : 0.0,
        r.disk_bytes / 1048576.0, r.ok ? "" : "  FAILED");
    std::fflush(stdout);
  }
  print_summary(cfg, reports);
  append_csv(cfg, reports);
  bool all_ok = std::all_of(reports.begin(), reports.end(), [](auto& r) { return r.ok; });
  return all_ok ? 0 : 1;
}

}  // namespace bench

int main(int argc, char** argv) {
  bench::config cfg = bench::parse_flags(argc, argv);
  if (!cfg.child_engine.empty()) return bench::run_child(cfg);
  return bench::run_parent(cfg, argc, argv);
}
