// lsmt/engine.hpp - the untyped core of a store: bytes in, bytes out.
//
// lsmt::db, its snapshots and its transactions call these members; db turns keys and values
// into bytes and back (codec.hpp). The engine's parts, and how each member does its work, are in
// engine_impl.hpp, which this header includes only in header-only mode (config.hpp): in compiled
// mode a file that includes lsmt.hpp sees this declaration and no more.
//
// Thread safety: every member may be called from any thread at any time, including close()
// racing with other calls (they then throw closed_error).
#ifndef LSMT_ENGINE_HPP
#define LSMT_ENGINE_HPP

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "db_iterator.hpp"
#include "options.hpp"
#include "recovery_report.hpp"
#include "stats.hpp"
#include "verify_report.hpp"
#include "write_batch.hpp"

namespace lsmt::detail {

class engine_impl;

class engine {
 public:
  /// Opens (creating if options allow) the store in dir; recovers it and starts its threads.
  engine(const std::filesystem::path& dir, const options& opts);
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;
  /// Closes the store; errors are swallowed (call close() to see them).
  ~engine();

  /// Applies batch atomically. `check` runs while no other write can interleave, just before
  /// the batch is written; it may throw to refuse it.
  void write(raw_batch& batch, bool sync, const std::function<void()>* check = nullptr);

  /// Value of key as of snapshot (nullopt: the latest state); nullopt if absent or deleted.
  std::optional<std::string> get(std::string_view key, std::optional<uint64_t> snapshot) const;
  /// The same into value (reusing its memory): true if key has a value, which is then in value;
  /// false if it is absent or deleted, and value then holds nothing useful, or, given scratch
  /// (which it may overwrite), is left as it was.
  bool get(std::string_view key, std::optional<uint64_t> snapshot, std::string& value,
           std::string* scratch = nullptr) const;
  /// Sequence of the newest version (value or deletion) of key, 0 if none.
  uint64_t newest_sequence(std::string_view key) const;
  uint64_t latest_sequence() const;
  /// Iterators over [lower, upper) segments, all at one point in time: the snapshot, or
  /// (nullopt) the latest state.
  std::vector<std::unique_ptr<db_iterator>> new_iterators(std::optional<uint64_t> snapshot,
                                                          std::vector<key_bounds> segments) const;
  /// One iterator over [lower, upper) (nullopt: unbounded), as new_iterators makes each.
  std::unique_ptr<db_iterator> new_iterator(std::optional<uint64_t> snapshot,
                                            std::optional<std::string> lower,
                                            std::optional<std::string> upper) const;

  /// Registers a snapshot at the latest sequence; merges keep what it sees.
  uint64_t acquire_snapshot();
  void release_snapshot(uint64_t seq) noexcept;

  /// Writes the memtable to an SSTable and waits until it is live.
  void flush();
  /// Flushes, then merges every table (dropping all tombstones) and waits.
  void compact();
  /// Flushes, then merges the tables that hold user keys in [lo, hi] (nullopt: unbounded) down,
  /// level by level, until the range's data is in the deepest level that holds it, dropping
  /// the deletions and old versions no reader needs; waits until done.
  void compact_range(std::optional<std::string> lo, std::optional<std::string> hi);
  /// About how many bytes of tables the user keys [lo, hi) take (nullopt: unbounded), from the
  /// tables' indexes alone: whole tables inside the range, block offsets at its edges. The
  /// memtables are not counted.
  uint64_t approximate_size(const std::optional<std::string>& lo,
                            const std::optional<std::string>& hi) const;
  /// An openable copy of the store in dest, as of one moment (checkpoint.hpp).
  void checkpoint(const std::filesystem::path& dest);
  /// Reads every live table back from disk and checks it (verify.hpp).
  verify_report verify() const;
  /// The text of a property (properties.hpp), or nullopt if there is no such property.
  std::optional<std::string> property(std::string_view name) const;
  /// Waits until no memtable awaits its flush and no merge is due or running.
  void wait_for_compactions();
  /// Stops background work, closes the logs and releases the directory. Idempotent. Data
  /// already acknowledged is in the logs or in tables.
  void close();
  bool is_open() const;
  lsmt::stats stats() const;
  void ensure_open() const;
  /// Written by recovery before the constructor returns; constant after.
  const lsmt::recovery_report& recovery() const;

 private:
  std::unique_ptr<engine_impl> impl_;
};

}  // namespace lsmt::detail

#ifndef LSMT_SEPARATE_COMPILATION
#include "engine_impl.hpp"
#endif

#endif  // LSMT_ENGINE_HPP
