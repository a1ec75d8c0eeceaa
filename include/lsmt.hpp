// lsmt.hpp - an embedded, ordered, durable key-value store (a log-structured
// merge tree) in a header-only C++17 library. Include this one header. To compile the engine
// once instead of in every file that includes it, see lsmt/config.hpp (compiled mode).
//
//   lsmt::db<> store("/tmp/mydb", std::filesystem::perms(0755), 1000, 8, 2);
//   store.put("hello", "world");
//   std::optional<std::string> v = store.get("hello");
//   store.erase("hello");
//   store.compact();
//   store.close();
//
// Errors: every failure throws a subclass of lsmt::error (lsmt/error.hpp):
// io_error, corruption_error, invalid_argument_error, closed_error,
// locked_error, conflict_error. A missing key is not an error.
//
// Durability: a write that returned survives a crash of the process. With
// options::sync or write_options::sync it also survives a crash of the machine
// (concurrent synced writers share one fsync).
//
// Thread safety: a db may be used from any number of threads at once; reads
// run in parallel with each other and with writes. Iterators, range views,
// write batches and transactions are each used by one thread at a time.
#ifndef LSMT_HPP
#define LSMT_HPP

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "lsmt/codec.hpp"
#include "lsmt/config.hpp"
#include "lsmt/destroy.hpp"
#include "lsmt/engine.hpp"
#include "lsmt/error.hpp"
#include "lsmt/iterator.hpp"
#include "lsmt/key_ranges.hpp"
#include "lsmt/options.hpp"
#include "lsmt/recovery_report.hpp"
#include "lsmt/release.hpp"
#include "lsmt/repair.hpp"
#include "lsmt/single_op.hpp"
#include "lsmt/snapshot.hpp"
#include "lsmt/stats.hpp"
#include "lsmt/transaction.hpp"
#include "lsmt/verify_report.hpp"
#include "lsmt/write_batch.hpp"

namespace lsmt {

/// Puts and deletes applied together, all or nothing (one WAL record).
/// Thread safety: a plain value; one thread at a time.
template <class Key = std::string, class Value = std::string, class KeyCodec = codec<Key>,
          class ValueCodec = codec<Value>>
class write_batch {
 public:
  using key_arg = detail::arg_type<Key, KeyCodec>;
  using value_arg = detail::arg_type<Value, ValueCodec>;

  void put(key_arg k, value_arg v) {
    scratch_key_.clear();
    scratch_value_.clear();
    KeyCodec::encode(k, scratch_key_);
    ValueCodec::encode(v, scratch_value_);
    raw_.put(scratch_key_, scratch_value_);
  }
  void erase(key_arg k) {
    scratch_key_.clear();
    KeyCodec::encode(k, scratch_key_);
    raw_.erase(scratch_key_);
  }
  /// Deletes every key in [begin, end) (nothing if begin >= end), as db::delete_range does.
  void delete_range(key_arg begin, key_arg end) {
    scratch_key_.clear();
    scratch_value_.clear();
    KeyCodec::encode(begin, scratch_key_);
    KeyCodec::encode(end, scratch_value_);
    raw_.delete_range(scratch_key_, scratch_value_);
  }
  void clear() { raw_.clear(); }
  size_t size() const { return raw_.count(); }
  bool empty() const { return raw_.empty(); }
  detail::raw_batch& raw() { return raw_; }

 private:
  detail::raw_batch raw_;
  std::string scratch_key_;
  std::string scratch_value_;
};

/// The store. Key and Value are turned into bytes by their codecs
/// (lsmt/codec.hpp); keys are ordered by those bytes.
/// Thread safety: every member may be called from any number of threads at
/// once, close() included (calls racing with it throw closed_error). Moving or
/// destroying the db needs exclusive access.
template <class Key = std::string, class Value = std::string, class KeyCodec = codec<Key>,
          class ValueCodec = codec<Value>>
class db {
 public:
  using key_type = Key;
  using mapped_type = Value;
  using iterator = basic_iterator<Key, Value, KeyCodec, ValueCodec>;
  using view_type = range_view<Key, Value, KeyCodec, ValueCodec>;
  using batch = write_batch<Key, Value, KeyCodec, ValueCodec>;
  using transaction = basic_transaction<Key, Value, KeyCodec, ValueCodec>;
  /// How put, get, erase, contains and delete_range take keys and values: std::string_view for
  /// std::string (so a literal, a std::string or a view is read in place, and a lookup builds
  /// no std::string), const Key& / const Value& for every other type.
  using key_arg = detail::arg_type<Key, KeyCodec>;
  using value_arg = detail::arg_type<Value, ValueCodec>;

  /// Opens (creating if needed) the store in dir, with the seed's parameters:
  /// directory permissions, memtable flush size in entries, compaction
  /// interval in SSTables (compaction starts when that many exist, or once
  /// writes stop for options::idle_settle_ms) and the minimum number of SSTables
  /// left after a compaction.
  /// Throws invalid_argument_error (0 entries, minimum > interval, ...),
  /// locked_error (the directory is open elsewhere), io_error, corruption_error.
  db(const std::filesystem::path& dir, std::filesystem::perms perms, size_t memtable_flush_size,
     size_t compaction_interval, size_t minimum_sstables)
      : db(dir,
           lsmt::seed_options(perms, memtable_flush_size, compaction_interval, minimum_sstables)) {}

  /// Opens (creating if options allow) the store in dir.
  explicit db(const std::filesystem::path& dir, const options& opts = {})
      : engine_(std::make_shared<detail::engine>(dir, opts)) {}

  db(db&&) noexcept = default;
  /// Closes this store, as the destructor does (errors swallowed), then takes other's.
  db& operator=(db&& other) noexcept {
    if (this != &other) {
      close_quietly();
      engine_ = std::move(other.engine_);
    }
    return *this;
  }
  db(const db&) = delete;
  db& operator=(const db&) = delete;
  /// Closes the store (even if snapshots or iterators still exist); errors are
  /// swallowed: call close() to see them.
  ~db() { close_quietly(); }

  /// Inserts or overwrites k. Durable when it returns (see the file comment).
  void put(key_arg k, value_arg v, const write_options& wo = {}) {
    detail::single_op op;  // per-thread buffers: a put allocates nothing once they have grown
    KeyCodec::encode(k, op.b->key);
    ValueCodec::encode(v, op.b->value);
    op.b->batch.put(op.b->key, op.b->value);
    engine().write(op.b->batch, wo.sync);
  }
  /// Deletes k (a no-op if absent).
  void erase(key_arg k, const write_options& wo = {}) {
    detail::single_op op;
    KeyCodec::encode(k, op.b->key);
    op.b->batch.erase(op.b->key);
    engine().write(op.b->batch, wo.sync);
  }
  /// Deletes every key in [begin, end) (by their encoded bytes; nothing if begin >= end) with
  /// one write: one WAL record and one memtable entry, whatever the range holds. Reads,
  /// iterators and transactions that start later see the keys gone; snapshots taken before
  /// still see them. Compactions drop the covered versions, and the deletion itself once it
  /// covers nothing older (lsmt/range_tombstones.hpp).
  void delete_range(key_arg begin, key_arg end, const write_options& wo = {}) {
    detail::single_op op;
    KeyCodec::encode(begin, op.b->key);
    KeyCodec::encode(end, op.b->value);
    op.b->batch.delete_range(op.b->key, op.b->value);
    engine().write(op.b->batch, wo.sync);
  }
  /// Applies every operation of b atomically.
  void write(batch& b, const write_options& wo = {}) { engine().write(b.raw(), wo.sync); }

  /// The value of k, or nullopt if it is absent or deleted.
  std::optional<Value> get(key_arg k, const read_options& ro = {}) const {
    detail::single_op op;
    KeyCodec::encode(k, op.b->key);
    auto v = engine().get(op.b->key, sequence_for(ro));
    if (!v) return std::nullopt;
    if constexpr (detail::is_raw_string_v<Value, ValueCodec>) {
      return v;  // the stored bytes are the value: no second copy
    } else {
      return ValueCodec::decode(*v);
    }
  }
  /// If k has a value, stores it in out and returns true; if k is absent or deleted, returns
  /// false and leaves out as it was. Unlike get(k), it reuses out's memory: a std::string out
  /// needs no new allocation for a value that fits in what it already holds.
  bool get(key_arg k, Value& out, const read_options& ro = {}) const {
    detail::single_op op;
    KeyCodec::encode(k, op.b->key);
    if constexpr (detail::is_raw_string_v<Value, ValueCodec>) {
      return engine().get(op.b->key, sequence_for(ro), out, &op.b->value);  // one copy
    } else {
      if (!engine().get(op.b->key, sequence_for(ro), op.b->value)) return false;
      detail::decode_into<Value, ValueCodec>(op.b->value, out);
      return true;
    }
  }
  bool contains(key_arg k, const read_options& ro = {}) const {
    detail::single_op op;
    KeyCodec::encode(k, op.b->key);
    return engine().get(op.b->key, sequence_for(ro), op.b->value);
  }

  /// A consistent point-in-time view for later reads.
  snapshot get_snapshot() const { return snapshot(engine_ptr(), engine().acquire_snapshot()); }

  /// An iterator over the whole store, unpositioned: call seek_to_first() etc.
  iterator new_iterator(const read_options& ro = {}) const {
    // Not through make_segment: moving its empty optionals on made GCC 12 warn
    // (-Wmaybe-uninitialized, a false positive) in the sanitizer builds.
    return iterator(engine().new_iterator(sequence_for(ro), std::nullopt, std::nullopt));
  }
  /// An iterator over keys in [lower, upper) (either bound may be absent).
  iterator new_iterator(const std::optional<Key>& lower, const std::optional<Key>& upper,
                        const read_options& ro = {}) const {
    return iterator(make_segment(ranges::encode_opt(lower), ranges::encode_opt(upper), ro));
  }

  // The seed's range queries. Each returns a lazy view in key order, newest
  // value per key, deleted keys hidden; `.to_vector()` collects it.

  /// Keys in [start, end].
  view_type range(const Key& start, const Key& end, const read_options& ro = {}) const {
    return view(ranges::range(start, end), ro);
  }
  /// Keys outside [start, end].
  /// (With start > end, [start, end] is empty: every key, each once.)
  view_type not_in_range(const Key& start, const Key& end, const read_options& ro = {}) const {
    return view(ranges::not_in_range(start, end), ro);
  }
  view_type greater_than(const Key& k, const read_options& ro = {}) const {
    return view(ranges::greater_than(k), ro);
  }
  view_type greater_or_equal(const Key& k, const read_options& ro = {}) const {
    return view(ranges::greater_or_equal(k), ro);
  }
  view_type less_than(const Key& k, const read_options& ro = {}) const {
    return view(ranges::less_than(k), ro);
  }
  view_type less_or_equal(const Key& k, const read_options& ro = {}) const {
    return view(ranges::less_or_equal(k), ro);
  }
  /// Every key except k.
  view_type all_except(const Key& k, const read_options& ro = {}) const {
    return view(ranges::all_except(k), ro);
  }
  /// Every key.
  view_type scan(const read_options& ro = {}) const { return view(ranges::scan(), ro); }

  /// Starts an optimistic transaction (see transaction).
  transaction begin_transaction() { return transaction(engine_ptr(), get_snapshot()); }

  /// Writes the memtable to an SSTable now and waits for it.
  void flush() { engine().flush(); }
  /// Merges every SSTable, dropping deleted keys, and waits for it.
  void compact() { engine().compact(); }
  /// Flushes, then merges the tables that hold keys in [begin, end] (nullopt: unbounded) down
  /// to the deepest level holding them, dropping the deleted and overwritten versions no
  /// snapshot needs, and waits for it. Writes and reads go on meanwhile.
  void compact_range(const std::optional<Key>& begin, const std::optional<Key>& end) {
    engine().compact_range(ranges::encode_opt(begin), ranges::encode_opt(end));
  }
  /// About how many bytes of SSTables hold keys in [begin, end) (nullopt: unbounded), from
  /// their indexes alone (no data is read). Writes still in the memtable are not counted.
  uint64_t approximate_size(const std::optional<Key>& begin, const std::optional<Key>& end) const {
    return engine().approximate_size(ranges::encode_opt(begin), ranges::encode_opt(end));
  }
  /// Writes an openable copy of the store to dest (which must not exist) without stopping
  /// writers: every write acknowledged before the call, and possibly some later ones (a
  /// prefix of the writes). Tables are hard-linked where possible (lsmt/checkpoint.hpp).
  void checkpoint(const std::filesystem::path& dest) { engine().checkpoint(dest); }
  /// Reads every live SSTable back from disk and checks its checksums, key order and identity,
  /// and the MANIFEST's checksum (lsmt/verify.hpp). Problems are reported, not thrown.
  verify_report verify() const { return engine().verify(); }
  /// Text about the store for people: "lsmt.stats", "lsmt.sstables", "lsmt.memory",
  /// "lsmt.num-files-at-levelN" (lsmt/properties.hpp); nullopt for an unknown name.
  std::optional<std::string> property(std::string_view name) const {
    return engine().property(name);
  }
  /// Closes the store. Idempotent. Later calls (other than close and
  /// is_open) throw closed_error. The directory stays locked until a
  /// verify(), or a checkpoint() already copying, on another thread is done;
  /// a checkpoint() that has not started copying throws closed_error.
  void close() {
    if (engine_) engine_->close();
  }
  bool is_open() const { return engine_ && engine_->is_open(); }
  /// The store's counters (lsmt/stats.hpp).
  lsmt::stats stats() const { return engine().stats(); }
  /// What opening the store replayed from its logs and what damage made it drop
  /// (lsmt/recovery_report.hpp; options::recovery_mode).
  const lsmt::recovery_report& recovery() const { return engine().recovery(); }
  /// Waits until background work is idle: no memtable awaits its flush and no
  /// merge of SSTables is due or running. Throws the background error, if any.
  void wait_for_compactions() { engine().wait_for_compactions(); }

 private:
  detail::engine& engine() const {
    if (!engine_) throw closed_error("lsmt: store was moved from");
    return *engine_;
  }
  // close() for the destructor and move-assignment, which must not throw.
  void close_quietly() noexcept {
    try {
      close();
    } catch (...) {  // NOLINT(bugprone-empty-catch): close() itself reports errors
    }
  }
  std::shared_ptr<detail::engine> engine_ptr() const {
    engine();
    return engine_;
  }

  using ranges = detail::key_ranges<Key, KeyCodec>;

  // The snapshot's sequence, or nullopt for the latest state.
  std::optional<uint64_t> sequence_for(const read_options& ro) const {
    if (ro.snap == nullptr) return std::nullopt;
    if (ro.snap->owner() != engine_.get()) {
      throw invalid_argument_error("lsmt: snapshot is empty or belongs to another store");
    }
    return ro.snap->sequence();
  }

  std::unique_ptr<detail::db_iterator> make_segment(std::optional<std::string> lower,
                                                    std::optional<std::string> upper,
                                                    const read_options& ro) const {
    return engine().new_iterator(sequence_for(ro), std::move(lower), std::move(upper));
  }
  view_type view(std::vector<detail::key_bounds> bounds, const read_options& ro) const {
    return view_type(engine().new_iterators(sequence_for(ro), std::move(bounds)));
  }

  std::shared_ptr<detail::engine> engine_;
};

}  // namespace lsmt

#ifndef LSMT_SEPARATE_COMPILATION
#include "lsmt/file_system_impl.hpp"  // posix_file_system(); the other headers include theirs
#endif

#endif  // LSMT_HPP
