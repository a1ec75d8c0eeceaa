// lsmt/counters.hpp - counters that many reader threads bump on every lookup.
//
// A single atomic that every reader increments bounces its cache line between cores on each
// get. A striped_counter gives each thread one of 16 slots, each on its own cache line, picked
// once per thread; reading the total sums the slots. Counts are exact; the total read while
// threads add is a momentary sum.
//
// Thread safety: add() and load() may run on any thread at any time.
#ifndef LSMT_COUNTERS_HPP
#define LSMT_COUNTERS_HPP

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace lsmt::detail {

class striped_counter {
 public:
  void add(uint64_t n) { slots_[slot_index()].value.fetch_add(n, std::memory_order_relaxed); }
  uint64_t load() const {
    uint64_t total = 0;
    for (const auto& s : slots_) total += s.value.load(std::memory_order_relaxed);
    return total;
  }

 private:
  static constexpr size_t num_slots = 16;
  struct alignas(64) slot {
    std::atomic<uint64_t> value{0};
  };
  // Threads take slots round robin as they first count, so up to 16 threads never share one.
  static size_t slot_index() {
    static std::atomic<size_t> next{0};
    thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed) % num_slots;
    return index;
  }
  std::array<slot, num_slots> slots_;
};

/// What point lookups count: bloom filter checks of tables, and the checks that ruled a table
/// out (the reads the filter saved).
struct read_counters {
  striped_counter bloom_checks;
  striped_counter bloom_useful;
};

}  // namespace lsmt::detail

#endif  // LSMT_COUNTERS_HPP
