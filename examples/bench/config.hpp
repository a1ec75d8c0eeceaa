// config.hpp - db_bench's flags (listed in db_bench.cpp's header comment) and their checks.
#pragma once

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

// One entry of --benchmarks: a workload name with an optional "/tN" thread count suffix
// (e.g. "readrandom/t2"); without it the benchmark runs on --threads threads.
struct benchmark_spec {
  std::string name;
  int threads = 0;  // 0: --threads

  std::string label() const { return threads > 0 ? name + "/t" + std::to_string(threads) : name; }
};

struct config {
  std::vector<benchmark_spec> benchmarks;
  uint64_t num = 1000000;
  uint64_t reads = 0;  // 0: num
  int key_size = 16;
  int value_size = 100;
  double compression_ratio = 1;      // of the values: 1 = random bytes, 0.5 = half repeats
  std::string compression = "none";  // lsmt's options.compressor: none, or zstd if built in
  int threads = 1;
  std::vector<int> cpus;  // --cpus: benchmark thread i runs on cpus[i % size]; empty: unpinned
  uint64_t cache_size = 8 << 20;
  int bloom_bits = 10;
  bool lsmt_mmap = true;                 // lsmt's use_mmap_reads
  uint64_t lsmt_memtable_mb = 0;         // lsmt's memtable_max_bytes in MiB (0: its default)
  uint64_t lsmt_blob_min = 0;            // lsmt's blob_min_size in bytes (0: none)
  uint64_t lsmt_file_mb = 0;             // lsmt's target_file_size in MiB (0: its default)
  uint64_t lsmt_base_mb = 0;             // lsmt's base_level_bytes in MiB (0: its default)
  uint64_t lsmt_ratio = 0;               // lsmt's level_size_ratio (0: its default)
  uint64_t lsmt_l0 = 0;                  // lsmt's compaction_interval (0: its default)
  uint64_t lsmt_l0_growth = 0;           // lsmt's compaction_interval_growth (0: its default)
  double lsmt_space_amp = -1;            // lsmt's slowdown_space_amplification (< 0: default)
  uint64_t lsmt_restart = 0;             // lsmt's block_restart_interval (0: its default)
  uint64_t lsmt_block = 0;               // lsmt's block_size in bytes (0: its default)
  uint64_t lsmt_mapped_mb = UINT64_MAX;  // lsmt's max_mapped_bytes in MiB (max: its default)
  bool lsmt_bottom_filters = true;       // lsmt's bottom_level_filters
  uint64_t lsmt_idle_ms = UINT64_MAX;    // lsmt's idle_settle_ms (UINT64_MAX: its default)
  uint64_t lsmt_log = 0;                 // 1: lsmt's warnings to stderr; 2: all its messages
  int repeat = 1;
  bool drop_caches = true;
  std::vector<std::string> engines;  // empty: all compiled in
  std::string db = "/tmp/lsmt_db_bench";
  std::string csv;
  uint64_t seed = 301;
  // Hidden, set by the parent when it re-executes itself for one engine.
  std::string child_engine;
  int report_fd = -1;

  int threads_of(const benchmark_spec& b) const { return b.threads > 0 ? b.threads : threads; }
};

inline const char* const kDefaultBenchmarks =
    "fillseq,fillrandom,overwrite,readrandom,readmissing,readseq,readreverse,seekrandom,"
    "deleterandom";

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
  std::fprintf(stderr,
               "db_bench: %s\n(see the comment at the top of examples/bench/db_bench.cpp for "
               "flags)\n",
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

inline std::vector<benchmark_spec> parse_benchmarks(std::string_view list) {
  std::vector<benchmark_spec> specs;
  for (const std::string& item : split(list, ',')) {
    benchmark_spec spec;
    size_t slash = item.find("/t");
    spec.name = item.substr(0, slash);
    if (slash != std::string::npos) {
      uint64_t t = parse_uint("benchmarks", item.substr(slash + 2));
      if (t < 1 || t > 1024) usage_error("thread count out of [1, 1024] in '" + item + "'");
      spec.threads = static_cast<int>(t);
    }
    specs.push_back(spec);
  }
  return specs;
}

// Parses argv; `compiled` names the engines built in (the default for --engines).
inline config parse_flags(int argc, char** argv, const std::vector<std::string>& compiled) {
  config cfg;
  cfg.benchmarks = parse_benchmarks(kDefaultBenchmarks);
  using setter_fn = std::function<void(std::string_view name, const std::string& value)>;
  auto int_flag = [](int* field) -> setter_fn {
    return [field](std::string_view n, const std::string& v) {
      *field = static_cast<int>(std::min<uint64_t>(parse_uint(n, v), INT32_MAX));
    };
  };
  auto uint_flag = [](uint64_t* field) -> setter_fn {
    return [field](std::string_view n, const std::string& v) { *field = parse_uint(n, v); };
  };
  auto bool_flag = [](bool* field) -> setter_fn {
    return [field](std::string_view n, const std::string& v) {
      if (v != "0" && v != "1")
        usage_error("--" + std::string(n) + " must be 0 or 1, got '" + v + "'");
      *field = v == "1";
    };
  };
  auto string_flag = [](std::string* field) -> setter_fn {
    return [field](std::string_view, const std::string& v) { *field = v; };
  };
  const std::map<std::string_view, setter_fn> setters = {
      {"benchmarks",
       [&cfg](std::string_view, const std::string& v) { cfg.benchmarks = parse_benchmarks(v); }},
      {"num", uint_flag(&cfg.num)},
      {"reads", uint_flag(&cfg.reads)},
      {"key_size", int_flag(&cfg.key_size)},
      {"value_size", int_flag(&cfg.value_size)},
      {"compression_ratio",
       [&cfg](std::string_view n, const std::string& v) {
         char* end = nullptr;
         cfg.compression_ratio = std::strtod(v.c_str(), &end);
         if (v.empty() || *end != '\0' || !(cfg.compression_ratio > 0) ||
             cfg.compression_ratio > 1) {
           usage_error("--" + std::string(n) + " must be in (0, 1], got '" + v + "'");
         }
       }},
      {"compression", string_flag(&cfg.compression)},
      {"threads", int_flag(&cfg.threads)},
      {"cpus",
       [&cfg](std::string_view n, const std::string& v) {
         cfg.cpus.clear();
         for (const std::string& item : split(v, ',')) {
           const uint64_t cpu = parse_uint(n, item);
           if (cpu >= CPU_SETSIZE) usage_error("--cpus: no CPU " + item);
           cfg.cpus.push_back(static_cast<int>(cpu));
         }
       }},
      {"cache_size", uint_flag(&cfg.cache_size)},
      {"bloom_bits", int_flag(&cfg.bloom_bits)},
      {"repeat", int_flag(&cfg.repeat)},
      {"lsmt_memtable_mb", uint_flag(&cfg.lsmt_memtable_mb)},
      {"lsmt_blob_min", uint_flag(&cfg.lsmt_blob_min)},
      {"lsmt_file_mb", uint_flag(&cfg.lsmt_file_mb)},
      {"lsmt_base_mb", uint_flag(&cfg.lsmt_base_mb)},
      {"lsmt_ratio", uint_flag(&cfg.lsmt_ratio)},
      {"lsmt_l0", uint_flag(&cfg.lsmt_l0)},
      {"lsmt_l0_growth", uint_flag(&cfg.lsmt_l0_growth)},
      {"lsmt_space_amp",
       [&cfg](std::string_view n, const std::string& v) {
         char* end = nullptr;
         cfg.lsmt_space_amp = std::strtod(v.c_str(), &end);
         if (v.empty() || *end != '\0' || !(cfg.lsmt_space_amp >= 0)) {
           usage_error("--" + std::string(n) + " must be a number >= 0, got '" + v + "'");
         }
       }},
      {"lsmt_restart", uint_flag(&cfg.lsmt_restart)},
      {"lsmt_block", uint_flag(&cfg.lsmt_block)},
      {"lsmt_mapped_mb", uint_flag(&cfg.lsmt_mapped_mb)},
      {"lsmt_bottom_filters", bool_flag(&cfg.lsmt_bottom_filters)},
      {"lsmt_log", uint_flag(&cfg.lsmt_log)},
      {"lsmt_idle_ms", uint_flag(&cfg.lsmt_idle_ms)},
      {"lsmt_mmap", bool_flag(&cfg.lsmt_mmap)},
      {"drop_caches", bool_flag(&cfg.drop_caches)},
      {"engines", [&cfg](std::string_view, const std::string& v) { cfg.engines = split(v, ','); }},
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
  if (cfg.repeat < 1 || cfg.repeat > 100) usage_error("--repeat must be in [1, 100]");
  if (cfg.num < 2) usage_error("--num must be at least 2");
  if (cfg.reads > 20 * cfg.num) usage_error("--reads is at most 20 * --num");
  if (cfg.value_size > (64 << 20)) usage_error("--value_size is at most 64 MiB");
#ifdef LSMT_BENCH_HAVE_ZSTD
  if (cfg.compression != "none" && cfg.compression != "zstd") {
    usage_error("--compression must be none or zstd");
  }
#else
  if (cfg.compression != "none") {
    usage_error("--compression must be none (db_bench was built without libzstd)");
  }
#endif
  // Keys up to 2*num must fit (YCSB D/E insert up to 5% of up to 20*num operations as new keys).
  if (cfg.key_size < decimal_digits(2 * cfg.num) || cfg.key_size > 1024) {
    usage_error("--key_size must be in [" + std::to_string(decimal_digits(2 * cfg.num)) +
                ", 1024] for --num=" + std::to_string(cfg.num));
  }
  if (cfg.engines.empty()) cfg.engines = compiled;
  for (const std::string& e : cfg.engines) {
    if (std::find(compiled.begin(), compiled.end(), e) == compiled.end()) {
      usage_error("engine '" + e + "' is not compiled in");
    }
  }
  return cfg;
}

}  // namespace bench
