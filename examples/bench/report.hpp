// report.hpp - db_bench's parent side: one child process per engine, medians over repeated
// runs, and the summary tables and CSV rows.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "config.hpp"
#include "runner.hpp"

namespace bench {

struct engine_report {
  std::string name;
  bool ok = false;
  std::vector<result> results;  // in benchmark order
  uint64_t peak_rss_kb = 0, write_bytes = 0, wchar = 0, user_bytes = 0, disk_bytes = 0;

  double write_amp() const {
    return user_bytes ? static_cast<double>(write_bytes) / static_cast<double>(user_bytes) : 0;
  }
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

// ------------------------------------ medians of repeats ------------------------------------

template <class T>
T median_of(std::vector<T> v) {  // the lower middle for an even count: a value that was seen
  if (v.empty()) return T{};
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 2];
}

// One engine's runs, combined field by field: each figure is its own median over the runs
// (so a row's figures may come from different runs). A benchmark is kept only if every run
// has it, and the report is ok only if every run was.
inline engine_report median_report(const std::vector<engine_report>& runs) {
  engine_report m;
  if (runs.empty()) return m;
  m.name = runs.front().name;
  m.ok = std::all_of(runs.begin(), runs.end(), [](const engine_report& r) { return r.ok; });
  size_t count = runs.front().results.size();
  for (const engine_report& r : runs) count = std::min(count, r.results.size());
  auto total = [&](uint64_t engine_report::*field) {
    std::vector<uint64_t> v;
    for (const engine_report& r : runs) v.push_back(r.*field);
    return median_of(v);
  };
  m.peak_rss_kb = total(&engine_report::peak_rss_kb);
  m.write_bytes = total(&engine_report::write_bytes);
  m.wchar = total(&engine_report::wchar);
  m.user_bytes = total(&engine_report::user_bytes);
  m.disk_bytes = total(&engine_report::disk_bytes);
  for (size_t i = 0; i < count; ++i) {
    result r = runs.front().results[i];
    auto med = [&](auto result::*field) {
      std::vector<std::decay_t<decltype(r.*field)>> v;
      for (const engine_report& run : runs) v.push_back(run.results[i].*field);
      r.*field = median_of(v);
    };
    med(&result::ops), med(&result::seconds), med(&result::ops_per_sec);
    med(&result::us_p50), med(&result::us_p99), med(&result::us_p999), med(&result::us_max);
    med(&result::found), med(&result::user_bytes), med(&result::bytes_read);
    med(&result::peak_rss_kb), med(&result::peak_anon_kb), med(&result::peak_file_kb);
    med(&result::write_bytes), med(&result::wchar), med(&result::disk_bytes);
    med(&result::cpu_seconds), med(&result::writer_ops_per_sec), med(&result::peak_disk_bytes);
    m.results.push_back(r);
  }
  return m;
}

// ------------------------------------------ printing ------------------------------------------

// The summary's throughput rows: each benchmark, plus readwhilewriting's writer as its own row.
struct throughput_row {
  std::string label;
  size_t index;
  bool writer;
};

inline std::vector<throughput_row> throughput_rows(const config& cfg) {
  std::vector<throughput_row> rows;
  for (size_t i = 0; i < cfg.benchmarks.size(); ++i) {
    rows.push_back({cfg.benchmarks[i].label(), i, false});
    const workload* w = find_workload(cfg.benchmarks[i].name);
    if (w != nullptr && w->with_writer) rows.push_back({cfg.benchmarks[i].label() + ":w", i, true});
  }
  return rows;
}

inline double row_value(const engine_report& r, const throughput_row& row) {
  if (row.index >= r.results.size()) return 0;
  const result& res = r.results[row.index];
  return row.writer ? res.writer_ops_per_sec : res.ops_per_sec;
}

inline void print_summary(const config& cfg, const std::vector<engine_report>& reports) {
  const engine_report* lsmt = nullptr;
  for (const engine_report& r : reports) {
    if (r.name == "lsmt") lsmt = &r;
  }
  const bool ratios = lsmt != nullptr && reports.size() > 1;
  std::printf("\nThroughput, ops/s (higher is better)%s%s\n",
              cfg.repeat > 1 ? ("; median of " + std::to_string(cfg.repeat) + " runs").c_str() : "",
              ratios ? "; ratio = lsmt / best peer" : "");
  std::printf("%-20s", "benchmark");
  for (const engine_report& r : reports) std::printf(" %11s", r.name.c_str());
  if (ratios) std::printf(" %11s %10s", "best peer", "lsmt/best");
  std::printf("\n");
  for (const throughput_row& row : throughput_rows(cfg)) {
    std::printf("%-20s", row.label.c_str());
    const engine_report* best = nullptr;
    for (const engine_report& r : reports) {
      double v = row_value(r, row);
      if (v > 0) {
        std::printf(" %11.0f", v);
      } else {
        std::printf(" %11s", "failed");
      }
      if (&r != lsmt && v > 0 && (best == nullptr || v > row_value(*best, row))) best = &r;
    }
    if (ratios && best != nullptr && row_value(*lsmt, row) > 0) {
      std::printf(" %11s %9.2fx", best->name.c_str(),
                  row_value(*lsmt, row) / row_value(*best, row));
    }
    std::printf("\n");
  }
  std::printf("(a \":w\" row is readwhilewriting's writer: puts/s while the readers ran)\n");

  std::printf(
      "\nPer benchmark: latency in us (lower is better), CPU us per operation (all threads), "
      "peak RSS in MiB; disk at the end and its peak (sampled every 100 ms)\n"
      "%-20s %-10s %8s %8s %8s %9s %8s %8s %8s %6s %9s %9s\n",
      "benchmark", "engine", "p50", "p99", "p99.9", "max", "cpu/op", "anon", "file", "wa",
      "disk MiB", "peak MiB");
  for (size_t i = 0; i < cfg.benchmarks.size(); ++i) {
    for (const engine_report& rep : reports) {
      if (i >= rep.results.size()) continue;
      const result& r = rep.results[i];
      std::printf("%-20s %-10s %8.2f %8.2f %8.2f %9.0f %8.2f %8.1f %8.1f %6.2f %9.1f %9.1f\n",
                  r.benchmark.c_str(), rep.name.c_str(), r.us_p50, r.us_p99, r.us_p999, r.us_max,
                  r.cpu_us_per_op(), r.peak_anon_kb / 1024.0, r.peak_file_kb / 1024.0,
                  r.write_amp(), static_cast<double>(r.disk_bytes) / (1 << 20),
                  static_cast<double>(r.peak_disk_bytes) / (1 << 20));
    }
  }

  std::printf("\nResources, whole run (lower is better)\n");
  std::printf("%-10s %10s %10s %10s %16s %10s %10s %10s\n", "engine", "peak RSS", "anon", "file",
              "write_bytes MiB", "wchar MiB", "write amp", "disk MiB");
  for (const engine_report& r : reports) {
    uint64_t anon = 0, file = 0;
    for (const result& res : r.results) {
      anon = std::max(anon, res.peak_anon_kb);
      file = std::max(file, res.peak_file_kb);
    }
    std::printf("%-10s %10.1f %10.1f %10.1f %16.1f %10.1f %10.2f %10.1f%s\n", r.name.c_str(),
                r.peak_rss_kb / 1024.0, anon / 1024.0, file / 1024.0, r.write_bytes / 1048576.0,
                r.wchar / 1048576.0, r.write_amp(), r.disk_bytes / 1048576.0,
                r.ok ? "" : "   (FAILED)");
  }
  std::fflush(stdout);
}

// One row per engine and benchmark (the medians when --repeat > 1). The first eleven columns
// are those of earlier versions, so plot_bench.gp reads either.
inline void append_csv(const config& cfg, const std::vector<engine_report>& reports) {
  if (cfg.csv.empty()) return;
  std::error_code ec;
  bool need_header =
      !std::filesystem::exists(cfg.csv, ec) || std::filesystem::file_size(cfg.csv, ec) == 0;
  std::ofstream out(cfg.csv, std::ios::app);
  if (!out) {
    std::fprintf(stderr, "db_bench: cannot write %s\n", cfg.csv.c_str());
    return;
  }
  if (need_header) {
    out << "engine,benchmark,num,threads,ops_per_sec,us_median,us_p99,peak_rss_kb,"
           "write_bytes,write_amp,disk_bytes,us_p999,us_max,peak_anon_kb,peak_file_kb,"
           "cpu_us_per_op,writer_ops_per_sec,repeat,peak_disk_bytes\n";
  }
  for (const engine_report& rep : reports) {
    for (const result& r : rep.results) {
      std::string name = r.benchmark.substr(0, r.benchmark.find("/t"));
      char row[640];
      std::snprintf(
          row, sizeof row,
          "%s,%s,%llu,%d,%.1f,%.3f,%.3f,%llu,%llu,%.3f,%llu,%.3f,%.3f,%llu,%llu,%.3f,"
          "%.1f,%d,%llu\n",
          rep.name.c_str(), name.c_str(), static_cast<unsigned long long>(r.ops), r.threads,
          r.ops_per_sec, r.us_p50, r.us_p99, static_cast<unsigned long long>(r.peak_rss_kb),
          static_cast<unsigned long long>(r.write_bytes), r.write_amp(),
          static_cast<unsigned long long>(r.disk_bytes), r.us_p999, r.us_max,
          static_cast<unsigned long long>(r.peak_anon_kb),
          static_cast<unsigned long long>(r.peak_file_kb), r.cpu_us_per_op(), r.writer_ops_per_sec,
          cfg.repeat, static_cast<unsigned long long>(r.peak_disk_bytes));
      out << row;
    }
  }
}

}  // namespace bench
