// db_bench.cpp - lsmt beside LevelDB, RocksDB, LMDB and WiredTiger, in one run.
//
// A db_bench-style benchmark: the same workloads, keys and values for every engine, each
// engine in its own child process, one after the other, with the page cache dropped between
// them. examples/bench/bench.cmake builds it with whichever peers it finds; with
// -DLSMT_BENCH_PEERS_PREFIX=DIR it links the Release builds that
// examples/build_release_peers.sh installs in DIR instead of the distribution's libraries.
//
// Usage:
//   db_bench --benchmarks=fillrandom,readrandom,readrandom/t2 --num=1000000 --repeat=3
//   gnuplot -e "csv='results.csv'; out='bench.png'" examples/plot_bench.gp
//
// Flags (defaults in brackets):
//   --benchmarks=a,b,c  run in this order in the same database [fillseq,fillrandom,overwrite,
//                       readrandom,readmissing,readseq,readreverse,seekrandom,deleterandom];
//                       "name/tN" runs one benchmark on N threads
//   --num=N             keys, and operations of the fills, overwrite, deletes and scans [1000000]
//   --reads=N           operations of the point reads, seeks, YCSB and readwhilewriting,
//                       still over the num keys (for large --num) [0: num]
//   --key_size=N        bytes per key: zero-padded decimal key index [16]
//   --value_size=N      bytes per value: random, incompressible [100]
//   --compression_ratio=R  values compress to about R (0 < R <= 1): each 100 bytes are R * 100
//                       random printable bytes repeated, as in LevelDB's db_bench [1]
//   --compression=none|zstd  lsmt's options.compressor; zstd (examples/compression/) only
//                       when built with libzstd. The other engines never compress [none]
//   --threads=N         a benchmark's operations are split over N threads [1]
//   --cpus=a,b          pins benchmark thread i to CPU list[i % length] (readwhilewriting's
//                       writer counts as the thread after the readers); the engines' own
//                       threads are not pinned [none: the scheduler places every thread]
//   --cache_size=N      block cache bytes, for the engines that have one [8388608]
//   --bloom_bits=N      bloom filter bits per key, for the engines that have one [10]
//   --lsmt_mmap=0|1     lsmt reads its tables through memory maps (1) or pread and its block
//                       cache (0) [1]
//   --lsmt_mapped_mb=N  lsmt's max_mapped_bytes in MiB: tables past it use pread [its default]
//   --lsmt_bottom_filters=0|1  lsmt's bottom_level_filters: 0 writes no bloom filters into the
//                       last level [1]
//   --lsmt_memtable_mb=N  lsmt's memtable_max_bytes in MiB [0: its default]
//   --lsmt_blob_min=N   lsmt's blob_min_size: values of N bytes or more go into blob files [0]
//   --lsmt_log=0|1|2    lsmt's warnings (write stalls, background failures) go to stderr (1),
//                       or all its messages (2: flushes and merges too), each with the
//                       seconds since the store opened [0]
//   --lsmt_space_amp=X  lsmt's slowdown_space_amplification (0 turns it off) [its default]
//   --lsmt_idle_ms=N    lsmt's idle_settle_ms (0 turns settling off) [its default]
//   --lsmt_file_mb=N, --lsmt_base_mb=N, --lsmt_ratio=N, --lsmt_l0=N, --lsmt_l0_growth=N,
//   --lsmt_restart=N, --lsmt_block=N
//                       lsmt's target_file_size and base_level_bytes in MiB, its
//                       level_size_ratio, compaction_interval, compaction_interval_growth,
//                       block_restart_interval and block_size (bytes) [0: lsmt's defaults]
//   --engines=a,b       any of lsmt,leveldb,rocksdb,lmdb,wiredtiger [all compiled in]
//   --repeat=N          run the whole list N times, rotating the engine order each time, and
//                       report each figure's median [1]
//   --drop_caches=0|1   sync and drop the page cache before each engine (needs root) [1]
//   --db=DIR            each engine works in DIR/<engine>, wiped before and after
//   [/tmp/lsmt_db_bench]
//   --csv=FILE          append one row per engine and benchmark (medians) to FILE
//   --seed=N            random seed; the same keys and values for every engine [301]
//
// Workloads ("key i" = key index i formatted as key_size digits; "fresh" = starts from an
// empty database, as db_bench's fills do; the others use the data left by the ones before):
//   fillseq          put keys 0..num-1 in order                                      (fresh)
//   fillrandom       put every key 0..num-1 once, in shuffled order                  (fresh)
//   fillsync         like fillrandom, but every write is synced; run it with few keys and
//                    /t1 and /t4 to see group commit                                 (fresh)
//   overwrite        num puts of uniformly random existing keys
//   readrandom       gets of uniformly random keys; prints how many were found
//   readmissing      gets of absent keys: key i with one byte appended, i < num-1, so every
//                    one sorts between two existing keys and only a filter or a search of
//                    the right block can reject it, never a table's key range
//   readseq          one forward scan over the database (each thread: its key range)
//   readreverse      one backward scan
//   seekrandom       new iterator, seek to a random key, read it and the next 10 entries
//   deleterandom     num deletes of uniformly random keys
//   readwhilewriting --threads readers do readrandom while one more thread puts random keys
//                    at full speed; reports the readers' gets/s and the writer's puts/s
//   ycsba..ycsbf     YCSB core workloads over the keys loaded so far: A 50% read/50% update,
//                    B 95/5, C 100% read, D 95% read/5% insert with the "latest"
//                    distribution, E 95% scan (1..100 entries, uniform)/5% insert, F 50%
//                    read/50% read-modify-write. Zipfian constant 0.99, YCSB's
//                    ScrambledZipfianGenerator (FNV-scrambled) and SkewedLatestGenerator.
//   fillbig8k        put 8 KiB values in shuffled order, as many keys as hold num *
//                    value_size bytes of values (12,207 for the defaults)            (fresh)
//   readbig8k        reads/10 gets of random keys among fillbig8k's
//   fillbig64k       the same with 64 KiB values (1,525 keys for the defaults)       (fresh)
//   readbig64k       reads/10 gets among fillbig64k's
//   settle           waits until the engine's flushes and compactions are done, where it can
//                    tell (lsmt, RocksDB; a no-op for the others): its disk column is then the
//                    settled size, e.g. the space amplification after overwrite
//   The scale run: --num=100000000 --reads=1000000 --benchmarks=fillrandom,readrandom,
//   seekrandom needs about 12 GB of disk per engine (one engine at a time) and no more
//   memory than the engines use: key choices come from a permutation that takes no memory.
//
// Fairness: no compression, and the same bloom filter bits and LRU block cache bytes for the
// engines that have them; durability as each LSM engine's default (a write survives a process
// crash, not a power loss), which the B-tree engines are configured to match. Every other
// setting is the engine's default; each adapter's header comment (engine_*.hpp) lists its
// settings, and the printed header the main ones. The header also names each peer library
// and warns if it was built with assertions on (Debian 12's libleveldb and librocksdb are).
//
// Isolation: before each engine the parent syncs and drops the page cache (if permitted, else
// it says so), and each child deletes its database when it ends, so no engine pays for
// another's write-back or finds another's pages cached. With --repeat, run r starts with the
// r-th engine of the list, so no engine always runs first.
//
// Measurement (process_stats.hpp): per benchmark, ops/s; latency p50, p99, p99.9 and max from
// one clock read per operation (a log-linear histogram, < 3.2% bucket error); peak RSS (VmHWM)
// and the peaks of its anonymous and file-backed parts; write amplification = write_bytes /
// user bytes (key + value of each put, key of each delete); disk usage after the benchmark
// and its peak while the benchmark ran (the engine's directory, sampled every 100 ms);
// CPU seconds (all threads) per operation. Background work started by one benchmark may run
// into the next and is charged to it, as in db_bench.
//
// CSV columns: engine, benchmark, num (operations done), threads, ops_per_sec, us_median,
// us_p99, peak_rss_kb, write_bytes, write_amp, disk_bytes, us_p999, us_max, peak_anon_kb,
// peak_file_kb, cpu_us_per_op, writer_ops_per_sec, repeat, peak_disk_bytes.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "engines.hpp"
#include "process_stats.hpp"
#include "report.hpp"
#include "runner.hpp"

namespace bench {

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
  if (cfg.compression_ratio >= 1) {
    std::printf("Values:     %d bytes each (random, incompressible)\n", cfg.value_size);
  } else {
    std::printf("Values:     %d bytes each (random, compressible to %.2f)\n", cfg.value_size,
                cfg.compression_ratio);
  }
  std::printf(
      "Entries:    %llu keys (%llu operations for reads, seeks and YCSB), %d thread(s), seed "
      "%llu, %d run(s)\n",
      static_cast<unsigned long long>(cfg.num),
      static_cast<unsigned long long>(cfg.reads != 0 ? cfg.reads : cfg.num), cfg.threads,
      static_cast<unsigned long long>(cfg.seed), cfg.repeat);
  if (!cfg.cpus.empty()) {
    std::string list;
    for (int cpu : cfg.cpus) list += (list.empty() ? "" : ",") + std::to_string(cpu);
    std::printf("Pinning:    benchmark thread i on CPU %s[i %% %zu]; engine threads unpinned\n",
                list.c_str(), cfg.cpus.size());
  }
  std::printf("Fairness:   %s; bloom %d bits/key; LRU block cache %s (where they apply)\n",
              cfg.compression == "none"
                  ? "no compression"
                  : ("lsmt compresses with " + cfg.compression + ", the others do not").c_str(),
              cfg.bloom_bits, mib(cfg.cache_size).c_str());
  bool warned = false;
  for (const std::string& e : cfg.engines) {
    const engine_entry& entry = find_engine(e);
    std::printf("  %-10s %s\n", e.c_str(), entry.describe(cfg).c_str());
    if (entry.library.path != nullptr) {
      std::printf("  %-10s library %s%s\n", "", entry.library.path,
                  entry.library.asserts ? "  (assertions ON)" : "");
      warned = warned || entry.library.asserts;
    }
  }
  if (warned) {
    std::printf(
        "WARNING:    a peer library marked \"assertions ON\" was built without -DNDEBUG and runs "
        "slower than a release build; build release peers with examples/build_release_peers.sh "
        "and configure with -DLSMT_BENCH_PEERS_PREFIX\n");
  }
  std::printf("Databases:  %s/<engine>, deleted after each engine\n", cfg.db.c_str());
  double load = 0;
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  if (getloadavg(&load, 1) == 1 && load > 0.5 * cpus) {
    std::printf("WARNING:    load average %.1f on %u CPUs: other work will skew the results\n",
                load, cpus);
  }
  std::printf("------------------------------------------------------------------------------\n");
  std::fflush(stdout);
}

inline void isolate(const config& cfg) {
  if (!cfg.drop_caches) return;
  static bool reported = false;
  std::string why = sync_and_drop_caches();
  if (!why.empty() && !reported) {
    std::printf("NOTE:       page cache not dropped between engines: %s\n", why.c_str());
    reported = true;
  }
}

inline int run_parent(const config& cfg, int argc, char** argv) {
  if (cfg.engines.empty()) usage_error("no engines compiled in");
  for (const benchmark_spec& b : cfg.benchmarks) {
    if (!find_workload(b.name)) usage_error("unknown benchmark '" + b.name + "'");
  }
  std::filesystem::create_directories(cfg.db);
  print_header(cfg);
  const size_t engines = cfg.engines.size();
  std::vector<std::vector<engine_report>> runs(engines);  // per engine, one report per run
  for (int round = 0; round < cfg.repeat; ++round) {
    if (cfg.repeat > 1) std::printf("== run %d of %d\n", round + 1, cfg.repeat);
    for (size_t k = 0; k < engines; ++k) {
      size_t e = (k + static_cast<size_t>(round)) % engines;
      const std::string& name = cfg.engines[e];
      isolate(cfg);
      runs[e].push_back(run_engine_process(name, argc, argv));
      const engine_report& r = runs[e].back();
      std::printf(
          "%-10s total: peak RSS %.1f MiB, write_bytes %.1f MiB (wchar %.1f MiB), "
          "write amp %.2f, disk %.1f MiB%s\n",
          name.c_str(), r.peak_rss_kb / 1024.0, r.write_bytes / 1048576.0, r.wchar / 1048576.0,
          r.write_amp(), r.disk_bytes / 1048576.0, r.ok ? "" : "  FAILED");
      std::fflush(stdout);
    }
  }
  std::vector<engine_report> reports;
  for (const std::vector<engine_report>& engine_runs : runs) {
    reports.push_back(median_report(engine_runs));
  }
  print_summary(cfg, reports);
  append_csv(cfg, reports);
  bool all_ok = std::all_of(reports.begin(), reports.end(), [](auto& r) { return r.ok; });
  return all_ok ? 0 : 1;
}

}  // namespace bench

int main(int argc, char** argv) {
  bench::config cfg = bench::parse_flags(argc, argv, bench::compiled_engines());
  if (!cfg.child_engine.empty()) return bench::run_child(cfg);
  return bench::run_parent(cfg, argc, argv);
}
