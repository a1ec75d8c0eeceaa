// lsmt/snapshot.hpp - a point-in-time view of a store, and read settings.
//
// A snapshot pins a sequence number: reads and iterators given it see the
// store as it was when the snapshot was taken, while writes, flushes and
// compactions go on (compactions keep every version a live snapshot needs).
// It is move-only and releases itself when destroyed. A snapshot that
// outlives its store is harmless: destroying it is safe, and using it with a
// closed store throws closed_error.
//
// Thread safety: a snapshot may be read from several threads; moving or
// destroying it needs exclusive access.
#ifndef LSMT_SNAPSHOT_HPP
#define LSMT_SNAPSHOT_HPP

#include <cstdint>
#include <memory>
#include <utility>

#include "engine.hpp"

namespace lsmt {

class snapshot {
 public:
  snapshot() = default;
  snapshot(snapshot&& other) noexcept
      : engine_(std::move(other.engine_)), sequence_(other.sequence_) {}
  snapshot& operator=(snapshot&& other) noexcept {
    if (this != &other) {
      release();
      engine_ = std::move(other.engine_);
      sequence_ = other.sequence_;
    }
    return *this;
  }
  snapshot(const snapshot&) = delete;
  snapshot& operator=(const snapshot&) = delete;
  ~snapshot() { release(); }

  /// False for a default-constructed or moved-from snapshot.
  bool valid() const noexcept { return engine_ != nullptr; }
  /// The last sequence number the snapshot sees.
  uint64_t sequence() const noexcept { return sequence_; }

  /// Lets go of the pinned versions now.
  void release() noexcept {
    if (engine_) engine_->release_snapshot(sequence_);
    engine_.reset();
  }

 private:
  template <class, class, class, class>
  friend class db;
  snapshot(std::shared_ptr<detail::engine> e, uint64_t seq)
      : engine_(std::move(e)), sequence_(seq) {}
  const detail::engine* owner() const noexcept { return engine_.get(); }

  std::shared_ptr<detail::engine> engine_;
  uint64_t sequence_ = 0;
};

/// Per-read settings.
struct read_options {
  /// Read as of this snapshot (of the same store) instead of the latest state.
  const snapshot* snap = nullptr;
};

}  // namespace lsmt

#endif  // LSMT_SNAPSHOT_HPP
