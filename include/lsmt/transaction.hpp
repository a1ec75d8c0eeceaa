// lsmt/transaction.hpp - db::transaction: optimistic transactions with snapshot isolation.
//
// A transaction reads through a snapshot taken when it began, and buffers its writes in a batch
// and a map (so its own reads see them). commit() hands the batch to the write queue with a
// check that runs while no other write can interleave: a key the transaction read or wrote
// whose newest version (a range deletion over it counts) is newer than the snapshot is a
// conflict, and nothing is written.
//
// Thread safety: a transaction is used by one thread at a time.
#ifndef LSMT_TRANSACTION_HPP
#define LSMT_TRANSACTION_HPP

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "engine.hpp"
#include "error.hpp"
#include "options.hpp"
#include "snapshot.hpp"
#include "write_batch.hpp"

namespace lsmt {

template <class Key, class Value, class KeyCodec, class ValueCodec>
class db;

/// An optimistic transaction with snapshot isolation. Reads see the store as
/// of begin_transaction() plus the transaction's own writes. commit() applies
/// every write atomically, or throws conflict_error (and applies nothing) if
/// another writer changed a key this transaction read or wrote since it began.
/// rollback() (or destruction without commit) discards everything.
/// Thread safety: one thread at a time.
template <class Key, class Value, class KeyCodec, class ValueCodec>
class basic_transaction {
 public:
  basic_transaction(basic_transaction&&) noexcept = default;
  basic_transaction& operator=(basic_transaction&&) noexcept = default;
  ~basic_transaction() = default;

  void put(const Key& k, const Value& v) {
    ensure_active();
    std::string ek = encode_key(k);
    std::string ev;
    ValueCodec::encode(v, ev);
    batch_.put(ek, ev);
    writes_[std::move(ek)] = std::move(ev);
  }
  void erase(const Key& k) {
    ensure_active();
    std::string ek = encode_key(k);
    batch_.erase(ek);
    writes_[std::move(ek)] = std::nullopt;
  }
  /// The transaction's own write of k if any, else k as of begin_transaction().
  std::optional<Value> get(const Key& k) {
    ensure_active();
    std::string ek = encode_key(k);
    if (auto it = writes_.find(ek); it != writes_.end()) {
      if (!it->second) return std::nullopt;
      return ValueCodec::decode(*it->second);
    }
    auto v = engine_->get(ek, snap_.sequence());
    reads_.insert(std::move(ek));
    if (!v) return std::nullopt;
    return ValueCodec::decode(*v);
  }
  /// Applies every write atomically, or throws conflict_error and applies none.
  /// The transaction is finished either way.
  void commit(const write_options& wo = {}) {
    ensure_active();
    active_ = false;
    const uint64_t start = snap_.sequence();
    detail::engine* e = engine_.get();
    const std::function<void()> check = [&] {
      auto changed = [&](const std::string& key) { return e->newest_sequence(key) > start; };
      bool conflict = false;
      for (const auto& key : reads_) conflict = conflict || changed(key);
      for (const auto& kv : writes_) conflict = conflict || changed(kv.first);
      if (conflict) {
        throw conflict_error("lsmt: transaction conflict: a key it used changed after it began");
      }
    };
    try {
      e->write(batch_, wo.sync, &check);
    } catch (...) {
      snap_.release();
      throw;
    }
    snap_.release();
  }
  /// Discards every write. The transaction is finished.
  void rollback() noexcept {
    active_ = false;
    snap_.release();
  }
  bool active() const noexcept { return active_; }

 private:
  friend class db<Key, Value, KeyCodec, ValueCodec>;
  basic_transaction(std::shared_ptr<detail::engine> engine, snapshot snap)
      : engine_(std::move(engine)), snap_(std::move(snap)) {}
  static std::string encode_key(const Key& k) {
    std::string s;
    KeyCodec::encode(k, s);
    return s;
  }
  void ensure_active() const {
    if (!active_) {
      throw invalid_argument_error("lsmt: transaction already committed or rolled back");
    }
    engine_->ensure_open();
  }

  std::shared_ptr<detail::engine> engine_;
  snapshot snap_;
  detail::raw_batch batch_;
  std::map<std::string, std::optional<std::string>> writes_;
  std::set<std::string> reads_;
  bool active_ = true;
};

}  // namespace lsmt

#endif  // LSMT_TRANSACTION_HPP
