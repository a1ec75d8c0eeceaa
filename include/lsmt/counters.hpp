// lsmt/counters.hpp - counters that many reader threads bump on every lookup, and the per-thread
// slot number that spreads them (and the read-view pins, store_core.hpp) over cache lines.
//
// A single atomic that every reader increments bounces its cache line between cores on each
// get. A striped_counter gives each thread one of 16 slots, each on its own cache line, picked
// once per thread; reading the total sums the slots. Counts are exact; the total read while
// threads add is a momentary sum.
//
// Thread safety: add() and load() may run on any thread at any time; so may thread_slot().
#ifndef LSMT_COUNTERS_HPP
#define LSMT_COUNTERS_HPP

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace lsmt::detail {

/// Per-thread slots: 16 of them, taken round robin by threads as they first ask, so up to 16
/// threads never share one.
inline constexpr size_t thread_slots = 16;
inline size_t thread_slot() {
  static std::atomic<size_t> next{0};
  thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed) % thread_slots;
  return index;
}

class striped_counter {
 public:
  void add(uint64_t n) { slots_[thread_slot()].value.fetch_add(n, std::memory_order_relaxed); }
  uint64_t load() const {
    uint64_t total = 0;
    for (const auto& s : slots_) total += s.value.load(std::memory_order_relaxed);
    return total;
  }

 private:
  struct alignas(64) slot {
    std::atomic<uint64_t> value{0};
  };
  std::array<slot, thread_slots> slots_;
};

/// What point lookups count: bloom filter checks of tables, and the checks that ruled a table
/// out (the reads the filter saved).
struct read_counters {
  striped_counter bloom_checks;
  striped_counter bloom_useful;
};

}  // namespace lsmt::detail

#endif  // LSMT_COUNTERS_HPP
