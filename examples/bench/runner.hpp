// runner.hpp - db_bench's child process: one engine runs every benchmark of the list, and each
// benchmark's figures go to the parent through a pipe, one tab-separated line each.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "engines.hpp"
#include "process_stats.hpp"
#include "workloads.hpp"

namespace bench {

namespace fs = std::filesystem;

// One benchmark's figures, as sent from child to parent.
struct result {
  std::string benchmark;  // the label: name, or name/tN
  uint64_t ops = 0;
  int threads = 1;
  double seconds = 0, ops_per_sec = 0;
  double us_p50 = 0, us_p99 = 0, us_p999 = 0, us_max = 0;
  uint64_t found = 0, user_bytes = 0, bytes_read = 0;
  uint64_t peak_rss_kb = 0, peak_anon_kb = 0, peak_file_kb = 0;
  uint64_t write_bytes = 0, wchar = 0, disk_bytes = 0;
  uint64_t peak_disk_bytes = 0;  // sampled every 100 ms while the benchmark ran
  double cpu_seconds = 0;
  double writer_ops_per_sec = 0;  // readwhilewriting: the writer's puts per second

  double write_amp() const {
    return user_bytes ? static_cast<double>(write_bytes) / static_cast<double>(user_bytes) : 0;
  }
  double cpu_us_per_op() const { return ops ? cpu_seconds * 1e6 / static_cast<double>(ops) : 0; }

  std::string serialize() const {
    std::ostringstream out;
    out.precision(17);
    out << benchmark << '\t' << ops << '\t' << threads << '\t' << seconds << '\t' << ops_per_sec
        << '\t' << us_p50 << '\t' << us_p99 << '\t' << us_p999 << '\t' << us_max << '\t' << found
        << '\t' << user_bytes << '\t' << bytes_read << '\t' << peak_rss_kb << '\t' << peak_anon_kb
        << '\t' << peak_file_kb << '\t' << write_bytes << '\t' << wchar << '\t' << disk_bytes
        << '\t' << cpu_seconds << '\t' << writer_ops_per_sec << '\t' << peak_disk_bytes;
    return out.str();
  }
  static result parse(const std::string& line) {
    std::istringstream in(line);
    result r;
    std::getline(in, r.benchmark, '\t');
    in >> r.ops >> r.threads >> r.seconds >> r.ops_per_sec >> r.us_p50 >> r.us_p99 >> r.us_p999 >>
        r.us_max >> r.found >> r.user_bytes >> r.bytes_read >> r.peak_rss_kb >> r.peak_anon_kb >>
        r.peak_file_kb >> r.write_bytes >> r.wchar >> r.disk_bytes >> r.cpu_seconds >>
        r.writer_ops_per_sec >> r.peak_disk_bytes;
    if (!in) throw std::runtime_error("bad result line from child: " + line);
    return r;
  }
};

// With --cpus, moves the calling benchmark thread to the CPU the list gives its index. The
// engine's own threads are left where the scheduler puts them.
inline void pin_benchmark_thread(const config& cfg, int index) {
  if (cfg.cpus.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  const int cpu = cfg.cpus[static_cast<size_t>(index) % cfg.cpus.size()];
  CPU_SET(cpu, &set);
  if (int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set); err != 0) {
    throw std::runtime_error("--cpus: cannot run on CPU " + std::to_string(cpu) + ": " +
                             std::strerror(err));
  }
}

// Runs `body(ts)` for every thread state, all threads released together; returns the elapsed
// nanoseconds until the last one finished. Each thread calls db.end_thread() when done.
template <class Body>
uint64_t run_threads(const config& cfg, std::vector<thread_state>& states, engine& db,
                     Body&& body) {
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (thread_state& ts : states) {
    threads.emplace_back([&, &ts = ts] {
      std::string pin_error;  // pinned before the clock starts, reported after it
      try {
        pin_benchmark_thread(cfg, ts.index);
      } catch (const std::exception& e) {
        pin_error = e.what();
      }
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return go; });
      }
      try {
        if (!pin_error.empty()) throw std::runtime_error(pin_error);
        body(ts);
        db.end_thread();
      } catch (const std::exception& e) {
        db.end_thread();
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
  if (!errors.empty()) throw std::runtime_error(errors.front());
  return std::max<uint64_t>(now_ns() - start, 1);
}

// Runs one benchmark and measures it. `position` (the benchmark's index in --benchmarks)
// seeds the threads, so that e.g. readrandom after deleterandom does not look up exactly the
// keys just deleted.
inline result run_benchmark(const benchmark_spec& spec, const workload& w, size_t position,
                            const config& cfg, engine& db, const value_source& values,
                            uint64_t* records, const std::string& engine_name,
                            const fs::path& dir) {
  // YCSB D's zeta over the loaded keys, computed before the clock starts (a pow per key), and
  // only for it: the other workloads draw no "latest" keys.
  std::optional<zipfian> latest_base;
  if (w.run == &ycsb_d) latest_base.emplace(*records);
  const zipfian* latest = latest_base ? &*latest_base : nullptr;
  const uint64_t ops = operations(w, cfg), keys = key_space(w, cfg);
  const int threads = cfg.threads_of(spec);
  progress_meter progress(engine_name + " " + spec.label(), ops);
  benchmark_context ctx{cfg,      db,         values, keys,    permutation(keys, cfg.seed),
                        *records, {*records}, latest, progress};

  std::vector<thread_state> states;
  for (int t = 0; t < threads; ++t) {
    uint64_t begin = ops * static_cast<uint64_t>(t) / static_cast<uint64_t>(threads);
    uint64_t end = ops * static_cast<uint64_t>(t + 1) / static_cast<uint64_t>(threads);
    uint64_t seed = mix64(mix64(cfg.seed) + position * 1024 + static_cast<uint64_t>(t));
    states.emplace_back(t, begin, end, seed);
  }
  std::vector<thread_state> writer;  // readwhilewriting's writer, started with the readers
  if (w.with_writer) writer.emplace_back(threads, 0, 0, mix64(cfg.seed + position * 1024 + 1023));

  rss_sampler rss(dir);
  reset_peak_rss();
  process_io io_before = read_process_io();
  double cpu_before = cpu_seconds();
  const double sampler_cpu_before = rss.cpu_seconds();

  std::string writer_error;  // read after writer_failed is set, or after the join
  std::atomic<bool> writer_failed{false};
  std::thread writer_thread;
  if (!writer.empty()) {
    writer_thread = std::thread([&] {
      try {
        pin_benchmark_thread(cfg, writer.front().index);
        write_while_reading(ctx, writer.front());
      } catch (const std::exception& e) {
        writer_error = e.what();
        writer_failed = true;
      }
      db.end_thread();
    });
  }
  while (!writer.empty() && !writer_failed.load() && !ctx.writer_started.load()) {
    std::this_thread::yield();
  }
  uint64_t elapsed_ns = 0;
  try {
    elapsed_ns = run_threads(cfg, states, db, [&](thread_state& ts) { w.run(ctx, ts); });
  } catch (...) {
    ctx.readers_done = true;
    if (writer_thread.joinable()) writer_thread.join();
    throw;
  }
  ctx.readers_done = true;
  if (writer_thread.joinable()) writer_thread.join();
  if (!writer_error.empty()) throw std::runtime_error(writer_error);

  process_io io_after = read_process_io();
  result r;
  // The engine's and the benchmark threads' CPU, not the sampler's.
  r.cpu_seconds = cpu_seconds() - cpu_before - (rss.cpu_seconds() - sampler_cpu_before);
  r.benchmark = spec.label();
  r.threads = threads;
  histogram hist;
  for (const thread_state& ts : states) {
    hist.merge(ts.hist);
    r.ops += ts.ops;
    r.found += ts.found;
    r.user_bytes += ts.user_bytes;
    r.bytes_read += ts.bytes_read;
  }
  for (const thread_state& ts : writer) {
    r.user_bytes += ts.user_bytes;
    r.writer_ops_per_sec = static_cast<double>(ts.ops) * 1e9 / std::max<double>(ts.busy_ns, 1);
  }
  r.seconds = static_cast<double>(elapsed_ns) / 1e9;
  r.ops_per_sec = static_cast<double>(r.ops) / r.seconds;
  r.us_p50 = hist.percentile_us(50);
  r.us_p99 = hist.percentile_us(99);
  r.us_p999 = hist.percentile_us(99.9);
  r.us_max = hist.max_us();
  memory_kb peaks = rss.peaks();
  r.peak_rss_kb = peaks.hwm;
  r.peak_anon_kb = peaks.anon;
  r.peak_file_kb = peaks.file;
  r.write_bytes = io_after.write_bytes - io_before.write_bytes;
  r.wchar = io_after.wchar - io_before.wchar;
  r.disk_bytes = disk_usage(dir);
  r.peak_disk_bytes = std::max(rss.peak_disk_bytes(), r.disk_bytes);
  *records = ctx.next_insert.load();
  return r;
}

inline void print_result(const std::string& engine_name, const result& r) {
  char extra[160] = "";
  if (r.writer_ops_per_sec > 0) {
    std::snprintf(extra, sizeof extra, " (writer %.0f puts/s)", r.writer_ops_per_sec);
  } else if (r.benchmark.rfind("read", 0) == 0 || r.benchmark.rfind("seekrandom", 0) == 0) {
    std::snprintf(extra, sizeof extra, " (%llu of %llu found)",
                  static_cast<unsigned long long>(r.found), static_cast<unsigned long long>(r.ops));
  }
  std::printf(
      "%-10s %-16s: %10.0f ops/s  p50 %7.2f  p99 %8.2f  p99.9 %8.2f  max %9.0f us  cpu %6.2f "
      "us/op  wa %5.2f  rss %6.1f (anon %6.1f file %6.1f) MiB  disk %7.1f MiB (peak %.1f)%s\n",
      engine_name.c_str(), r.benchmark.c_str(), r.ops_per_sec, r.us_p50, r.us_p99, r.us_p999,
      r.us_max, r.cpu_us_per_op(), r.write_amp(), r.peak_rss_kb / 1024.0, r.peak_anon_kb / 1024.0,
      r.peak_file_kb / 1024.0, static_cast<double>(r.disk_bytes) / (1 << 20),
      static_cast<double>(r.peak_disk_bytes) / (1 << 20), extra);
  std::fflush(stdout);
}

// The child: runs every benchmark on one engine, prints a line per benchmark to stdout and
// sends "R <result>" lines, then "T <totals>", to the parent through report_fd. The engine's
// directory is deleted at the end, so it takes no space or page cache from the next engine.
inline int run_child(const config& cfg) {
  const std::string& name = cfg.child_engine;
  FILE* report = fdopen(cfg.report_fd, "w");
  if (report == nullptr) return 1;
  const fs::path dir = fs::path(cfg.db) / name;
  int status = 0;
  try {
    const engine_entry& entry = find_engine(name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::map<int, value_source> values;  // by value size
    auto values_of = [&](int size) -> const value_source& {
      auto it = values.find(size);
      if (it == values.end())
        it = values.emplace(size, value_source(size, cfg.seed, cfg.compression_ratio)).first;
      return it->second;
    };
    std::unique_ptr<engine> db = entry.open(dir.string(), cfg);
    uint64_t records = 0;  // keys [0, records) are loaded
    uint64_t user_bytes = 0;
    for (size_t position = 0; position < cfg.benchmarks.size(); ++position) {
      const benchmark_spec& spec = cfg.benchmarks[position];
      const workload* w = find_workload(spec.name);
      if (w == nullptr) throw std::runtime_error("unknown benchmark '" + spec.name + "'");
      if (w->fresh_db) {
        db.reset();
        fs::remove_all(dir);
        fs::create_directories(dir);
        db = entry.open(dir.string(), cfg);
        records = key_space(*w, cfg);
      }
      int value_size = w->big_value_size != 0 ? w->big_value_size : cfg.value_size;
      result r =
          run_benchmark(spec, *w, position, cfg, *db, values_of(value_size), &records, name, dir);
      user_bytes += r.user_bytes;
      print_result(name, r);
      if (const std::string mem = db->memory_report(); !mem.empty()) {
        std::printf("%-10s %-16s: %s\n", name.c_str(), "  memory", mem.c_str());
      }
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
    status = 1;
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::fclose(report);
  return status;
}

}  // namespace bench
