// workloads.hpp - db_bench's workloads: what each benchmark does to an engine, per thread.
// The list and what each workload means are in db_bench.cpp's header comment.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

#include "config.hpp"
#include "engine.hpp"
#include "generators.hpp"
#include "histogram.hpp"

namespace bench {

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
  uint64_t busy_ns = 0;  // write_while_reading: how long the writer ran
  std::string key, value;
  std::optional<zipfian> latest;  // YCSB D's "latest" generator, grown as keys are inserted
};

// What all threads of one benchmark share.
struct benchmark_context {
  const config& cfg;
  engine& db;
  const value_source& values;
  uint64_t keys;        // the key space: keys [0, keys) (--num, or fewer for the big-value runs)
  permutation shuffle;  // a bijection on [0, keys) for the random fills
  uint64_t records;     // keys [0, records) were loaded before this benchmark
  std::atomic<uint64_t> next_insert;  // YCSB D/E insert keys records, records+1, ...
  const zipfian* latest_base;         // zeta over `records`, computed once, copied per thread;
                                      // null unless the workload is YCSB D
  progress_meter& progress;
  std::atomic<bool> writer_started{false};  // readwhilewriting: the readers wait for it
  std::atomic<bool> readers_done{false};    // readwhilewriting: the writer stops when set

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
  timed_loop(c, ts, [&](uint64_t) { c.put(ts, ts.random.uniform(c.keys)); });
}

inline void read_random(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t) { c.get(ts, ts.random.uniform(c.keys)); });
}

inline void read_missing(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t) {
    format_missing_key(ts.random.uniform(c.keys - 1), c.cfg.key_size, &ts.key);
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
  bool last_slice = ts.end >= c.keys;
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
    format_key(ts.random.uniform(c.keys), c.cfg.key_size, &ts.key);
    std::unique_ptr<cursor> it = c.db.new_cursor();
    it->seek(ts.key);
    if (it->valid() && it->key() == ts.key) ++ts.found;
    for (int n = 0; n <= 10 && it->valid(); ++n, it->next()) c.read_entry(ts, *it);
  });
}

inline void delete_random(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t) {
    format_key(ts.random.uniform(c.keys), c.cfg.key_size, &ts.key);
    c.db.erase(ts.key, /*sync=*/false);
    ts.user_bytes += ts.key.size();
  });
}

// readwhilewriting's reader threads run read_random; this one extra thread writes random keys
// at full speed until they are done. Its puts are counted apart (writer_ops in the result).
// The readers start once it has made its first put.
inline void write_while_reading(benchmark_context& c, thread_state& ts) {
  uint64_t start = now_ns();
  do {
    c.put(ts, ts.random.uniform(c.keys));
    ++ts.ops;
    c.writer_started.store(true, std::memory_order_release);
  } while (!c.readers_done.load(std::memory_order_relaxed));
  ts.busy_ns = now_ns() - start;
}

// ---- YCSB core workloads ----

struct ycsb_mix {
  double read, update, insert, scan, read_modify_write;  // fractions, sum 1
  bool latest;                                           // "latest" instead of zipfian keys
};

inline void ycsb(benchmark_context& c, thread_state& ts, const ycsb_mix& mix) {
  scrambled_zipfian zipf;
  if (mix.latest) {
    if (c.latest_base == nullptr) throw std::logic_error("db_bench: no zeta for 'latest' keys");
    ts.latest = *c.latest_base;
  }
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

// How a workload's operation count is derived from the flags.
enum class op_count {
  num,        // --num: fills, overwrite, deletes, full scans
  reads,      // --reads (or --num): point reads, seeks, YCSB, readwhilewriting's readers
  big_fill,   // big_keys(): one put per key of the big-value key space
  big_reads,  // --reads / 10 gets of big values
  one,        // a single operation (settle)
};

struct workload {
  std::string_view name;
  bool fresh_db;  // starts from an empty database (the fills, as in db_bench)
  op_count ops;
  int big_value_size;  // 0: --value_size and --num keys; else values of this size (big_keys)
  bool with_writer;    // readwhilewriting: one extra thread runs write_while_reading
  void (*run)(benchmark_context&, thread_state&);
};

// The key space of the big-value runs: as many keys as carry the same bytes of values as the
// --num keys with --value_size values (at least 1), so the runs move comparable data volumes.
inline uint64_t big_keys(const config& cfg, int big_value_size) {
  uint64_t bytes = cfg.num * static_cast<uint64_t>(cfg.value_size);
  return std::max<uint64_t>(1, bytes / static_cast<uint64_t>(big_value_size));
}

inline uint64_t key_space(const workload& w, const config& cfg) {
  return w.big_value_size != 0 ? big_keys(cfg, w.big_value_size) : cfg.num;
}

inline uint64_t operations(const workload& w, const config& cfg) {
  const uint64_t reads = cfg.reads != 0 ? cfg.reads : cfg.num;
  switch (w.ops) {
    case op_count::num:
      return cfg.num;
    case op_count::reads:
      return reads;
    case op_count::big_fill:
      return key_space(w, cfg);
    case op_count::big_reads:
      return std::max<uint64_t>(1, reads / 10);
    case op_count::one:
      return 1;
  }
  return cfg.num;
}

// Waits for the engine's background work to finish (engine::settle); one timed operation.
inline void settle(benchmark_context& c, thread_state& ts) {
  timed_loop(c, ts, [&](uint64_t) { c.db.settle(); });
}

inline void ycsb_a(benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbA); }
inline void ycsb_b(benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbB); }
inline void ycsb_c(benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbC); }
inline void ycsb_d(benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbD); }
inline void ycsb_e(benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbE); }
inline void ycsb_f(benchmark_context& c, thread_state& t) { ycsb(c, t, kYcsbF); }

inline constexpr workload kWorkloads[] = {
    {"fillseq", true, op_count::num, 0, false, fill_seq},
    {"fillrandom", true, op_count::num, 0, false, fill_random},
    {"fillsync", true, op_count::num, 0, false, fill_sync},
    {"overwrite", false, op_count::num, 0, false, overwrite},
    {"readrandom", false, op_count::reads, 0, false, read_random},
    {"readmissing", false, op_count::reads, 0, false, read_missing},
    {"readseq", false, op_count::num, 0, false, read_seq},
    {"readreverse", false, op_count::num, 0, false, read_reverse},
    {"seekrandom", false, op_count::reads, 0, false, seek_random},
    {"deleterandom", false, op_count::num, 0, false, delete_random},
    {"readwhilewriting", false, op_count::reads, 0, true, read_random},
    {"ycsba", false, op_count::reads, 0, false, ycsb_a},
    {"ycsbb", false, op_count::reads, 0, false, ycsb_b},
    {"ycsbc", false, op_count::reads, 0, false, ycsb_c},
    {"ycsbd", false, op_count::reads, 0, false, ycsb_d},
    {"ycsbe", false, op_count::reads, 0, false, ycsb_e},
    {"ycsbf", false, op_count::reads, 0, false, ycsb_f},
    {"fillbig8k", true, op_count::big_fill, 8 << 10, false, fill_random},
    {"readbig8k", false, op_count::big_reads, 8 << 10, false, read_random},
    {"fillbig64k", true, op_count::big_fill, 64 << 10, false, fill_random},
    {"readbig64k", false, op_count::big_reads, 64 << 10, false, read_random},
    {"settle", false, op_count::one, 0, false, settle},
};

inline const workload* find_workload(std::string_view name) {
  for (const workload& w : kWorkloads) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

}  // namespace bench
