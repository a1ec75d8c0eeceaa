// engine.hpp - the interface every store under test implements for db_bench.
//
// An adapter (engine_<name>.hpp) translates these calls to one store's API, with the settings
// listed in its header comment. engines.hpp lists the adapters that are compiled in.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "config.hpp"

namespace bench {

// A positioned iterator. key()/value() views stay valid until the cursor moves or dies. A
// cursor is used by the thread that created it only.
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

// One key-value store under test. put/get/erase/new_cursor must be safe to call from several
// threads at once. Keys and values arrive as std::string so no adapter needs to convert or
// allocate. Every worker thread calls end_thread() once when it is done with the engine, so
// adapters that keep per-thread handles (LMDB's read transactions, WiredTiger's sessions) can
// release them before the engine closes. settle() is the "settle" benchmark's operation.
// memory_report() lets an engine that accounts for its memory show it beside the measured RSS.
class engine {
 public:
  virtual ~engine() = default;
  virtual void put(const std::string& key, const std::string& value, bool sync) = 0;
  virtual bool get(const std::string& key, std::string* value) = 0;
  virtual void erase(const std::string& key, bool sync) = 0;
  virtual std::unique_ptr<cursor> new_cursor() = 0;
  virtual void end_thread() {}
  /// Waits until the engine's background work (flushes and compactions) is done, where it can
  /// tell: the "settle" benchmark, after which the disk column shows the settled size.
  virtual void settle() {}
  /// What the engine says it holds in memory, printed after each benchmark ("" for nothing).
  virtual std::string memory_report() { return {}; }
};

// What the build knows about a peer's library (from bench.cmake): its path and whether it calls
// assert()'s failure handler, i.e. was compiled without -DNDEBUG.
struct library_info {
  const char* path;
  bool asserts;
};

inline std::string mib(unsigned long long bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

inline std::string fixed2(double x) {  // "1.20"
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  return buf;
}

}  // namespace bench
