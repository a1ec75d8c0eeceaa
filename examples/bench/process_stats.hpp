// process_stats.hpp - what db_bench measures about the process, the disk and the page cache.
//
// - Bytes written: /proc/self/io write_bytes (bytes this process caused to be sent towards
//   storage, including pages it dirtied through mmap) and wchar (bytes passed to write()-like
//   calls; blind to mmap writes). Engines are compared by write_bytes.
// - Peak RSS: VmHWM from /proc/self/status, reset before each benchmark through
//   /proc/self/clear_refs; and the peaks of RssAnon (heap, caches, memtables) and RssFile
//   (mapped files: memory-mapped tables, LMDB's map), sampled every 10 ms by a thread, since
//   the kernel keeps no high-water mark for either.
// - CPU time: getrusage(RUSAGE_SELF) user + system seconds of every thread, background work
//   included.
// - Disk usage: allocated blocks (like du) of the engine's directory.
// - Page cache: sync() then "3" to /proc/sys/vm/drop_caches, between engines; needs root.
#pragma once

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>

namespace bench {

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

// Memory figures from /proc/self/status, in KiB.
struct memory_kb {
  uint64_t hwm = 0, anon = 0, file = 0;
};

inline memory_kb read_memory() {
  memory_kb m;
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    auto value = [&](size_t prefix) { return std::strtoull(line.c_str() + prefix, nullptr, 10); };
    if (line.rfind("VmHWM:", 0) == 0) m.hwm = value(6);
    if (line.rfind("RssAnon:", 0) == 0) m.anon = value(8);
    if (line.rfind("RssFile:", 0) == 0) m.file = value(8);
  }
  return m;
}

// KiB of file pages this process maps with 2 MiB page-table entries now (FilePmdMapped in
// /proc/self/smaps_rollup, Linux >= 4.14): how much of lsmt's mapped tables got huge pages.
// -1 where the kernel does not say.
inline long long file_huge_mapped_kb() {
  std::ifstream in("/proc/self/smaps_rollup");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("FilePmdMapped:", 0) == 0) return std::strtoll(line.c_str() + 14, nullptr, 10);
  }
  return -1;
}

inline void reset_peak_rss() {  // "5" resets VmHWM to the current RSS (Linux >= 4.0)
  std::ofstream("/proc/self/clear_refs") << "5";
}

inline double cpu_seconds() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

inline uint64_t disk_usage(const std::filesystem::path& dir) {  // like du: allocated blocks
  uint64_t total = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

// Samples RssAnon and RssFile every 10 ms while it lives and keeps their maxima, and the disk
// space of `dir` (if given) every 100 ms: merges raise it for a moment and then lower it, so the
// size after a benchmark misses the peak that space amplification is judged by. Its thread's
// own CPU time (about 1% of a core at 100M keys, mostly the directory walks) is counted apart,
// so a benchmark can leave it out of the engine's CPU per operation.
class rss_sampler {
 public:
  explicit rss_sampler(std::filesystem::path dir = {})
      : dir_(std::move(dir)), thread_([this] { loop(); }) {}
  ~rss_sampler() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  rss_sampler(const rss_sampler&) = delete;
  rss_sampler& operator=(const rss_sampler&) = delete;

  // The memory peaks so far, including one last sample taken now.
  memory_kb peaks() {
    sample(false);
    std::lock_guard<std::mutex> lock(mu_);
    return peaks_;
  }

  // The peak disk space of dir among the samples so far; the caller adds its own last
  // measurement (one walk of the directory instead of two).
  uint64_t peak_disk_bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_disk_;
  }

  // CPU seconds the sampling thread has used.
  double cpu_seconds() const { return static_cast<double>(cpu_ns_.load()) / 1e9; }

 private:
  void sample(bool with_disk) {
    memory_kb now = read_memory();
    const uint64_t disk = with_disk && !dir_.empty() ? disk_usage(dir_) : 0;
    std::lock_guard<std::mutex> lock(mu_);
    peak_disk_ = std::max(peak_disk_, disk);
    peaks_.anon = std::max(peaks_.anon, now.anon);
    peaks_.file = std::max(peaks_.file, now.file);
    peaks_.hwm = std::max(peaks_.hwm, now.hwm);
  }
  void loop() {
    for (unsigned tick = 0;; ++tick) {
      sample(tick % 10 == 0);
      struct timespec ts {};
      ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      cpu_ns_ = static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(10), [this] { return stop_; })) return;
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  memory_kb peaks_;
  uint64_t peak_disk_ = 0;
  std::atomic<uint64_t> cpu_ns_{0};
  const std::filesystem::path dir_;
  std::thread thread_;  // last: starts after the fields it uses exist
};

// Writes back every dirty page, then drops the clean page cache, dentries and inodes, so the
// next engine starts cold and is not charged for an earlier engine's write-back. Returns an
// empty string, or why the cache could not be dropped.
inline std::string sync_and_drop_caches() {
  ::sync();
  std::ofstream out("/proc/sys/vm/drop_caches");
  if (!out) return std::string("cannot open /proc/sys/vm/drop_caches: ") + std::strerror(errno);
  out << "3" << std::flush;
  if (!out) return "writing /proc/sys/vm/drop_caches failed (not root?)";
  return {};
}

}  // namespace bench
