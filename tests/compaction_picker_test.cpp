// Tests for the choice of what to merge, without an engine: pick_compaction() in
// compaction_picker.hpp (size-tiered rule, smallest-pair fallback, compaction_interval,
// minimum_sstables, force) and its read_sampler (the read-triggered rule: threshold, take_due,
// reset, wake). A randomized test checks the picker's invariants against a direct reading of the
// rule (LSMT_TEST_SEED overrides its fixed seed).
#include "lsmt/compaction_picker.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "ikey.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace {

using lsmt::detail::compaction_pick;
using lsmt::detail::pick_compaction;
using lsmt::detail::read_sampler;
using sizes_t = std::vector<uint64_t>;

// first/count as one comparable value, so a failed REQUIRE prints both.
std::string pick(const sizes_t& sizes, size_t interval, size_t minimum, bool force = false) {
  const compaction_pick p = pick_compaction(sizes, interval, minimum, force);
  return p.count == 0 ? "none" : std::to_string(p.first) + "+" + std::to_string(p.count);
}

}  // namespace

TEST_CASE("picker: fewer than two tables never merge unless forced", "[compaction][picker]") {
  for (size_t interval : {0, 1, 2}) {
    for (size_t minimum : {0, 1, 2}) {
      CAPTURE(interval, minimum);
      CHECK(pick({}, interval, minimum) == "none");
      CHECK(pick({5}, interval, minimum) == "none");
    }
  }
}

TEST_CASE("picker: not due below compaction_interval", "[compaction][picker]") {
  const sizes_t four{1, 1, 1, 1};
  CHECK(pick(four, 5, 1) == "none");
  CHECK(pick(four, 4, 1) == "0+4");
  CHECK(pick(four, 0, 1) == "0+4");  // 0: no minimum count
  CHECK(pick({1, 1, 1, 1, 1}, 5, 1) == "0+5");
}

TEST_CASE("picker: a merge never leaves fewer than minimum_sstables tables",
          "[compaction][picker]") {
  const sizes_t ten(10, 1);  // all equal: the whole list qualifies, so width is the limit
  CHECK(pick(ten, 2, 1) == "0+10");
  CHECK(pick(ten, 2, 4) == "0+7");    // leaves 10 - 7 + 1 = 4
  CHECK(pick(ten, 2, 9) == "0+2");    // leaves 9
  CHECK(pick(ten, 2, 10) == "none");  // any merge would leave 9
  CHECK(pick(ten, 2, 11) == "none");
  CHECK(pick(ten, 2, 0) == "0+10");  // 0 counts as 1
  CHECK(pick({1, 1}, 0, 0) == "0+2");
  CHECK(pick({1, 1}, 0, 1) == "0+2");
  CHECK(pick({1, 1}, 0, 2) == "none");
  CHECK(pick({1, 1, 1}, 0, 2) == "0+2");
  // The width limit also cuts a run that starts later.
  CHECK(pick({1, 5, 5, 5, 5, 5}, 2, 3) == "1+4");
}

TEST_CASE("picker: merges the first run where each next table is no bigger than the run so far",
          "[compaction][picker]") {
  // Each next table is compared with the sum gathered so far, not with its neighbour:
  // 4, 4 (<= 4), 8 (<= 8), 16 (<= 16), then 100 > 32 ends the run.
  CHECK(pick({4, 4, 8, 16, 100}, 2, 1) == "0+4");
  // No run starts at 0 or 1 (each is smaller than the next); from 2: 100, 50, 10, then
  // 200 > 160.
  CHECK(pick({1, 2, 100, 50, 10, 200}, 2, 1) == "2+3");
  // The first run wins even when a later one is longer or bigger.
  CHECK(pick({1, 1, 50, 40, 30, 20}, 2, 1) == "0+2");
  // Empty tables are no bigger than anything.
  CHECK(pick({0, 0, 0}, 2, 1) == "0+3");
  CHECK(pick({7, 0, 9}, 2, 1) == "0+2");
}

TEST_CASE("picker: a table equal to the run so far joins it", "[compaction][picker]") {
  CHECK(pick({10, 10}, 2, 1) == "0+2");
  CHECK(pick({10, 10, 20, 40}, 2, 1) == "0+4");
  CHECK(pick({10, 10, 21}, 2, 1) == "0+2");
  CHECK(pick({3, 5, 8, 8}, 2, 1) == "2+2");
}

TEST_CASE("picker: without a qualifying run, the adjacent pair with the smallest sum",
          "[compaction][picker]") {
  // No qualifying run means every table is bigger than the one before it, so the smallest pair
  // is always the first two: the fallback can only ever pick {0, 2}.
  CHECK(pick({1, 2}, 2, 1) == "0+2");
  CHECK(pick({1, 2, 4, 8, 16}, 2, 1) == "0+2");
  CHECK(pick({3, 5, 9, 20}, 0, 3) == "0+2");
  CHECK(pick({100, 101, 102, 103}, 4, 3) == "0+2");
}

TEST_CASE("picker: force takes every table, whatever the other limits", "[compaction][picker]") {
  for (size_t n = 0; n <= 5; ++n) {
    const sizes_t sizes(n, 1);
    for (size_t minimum : {0, 1, 3, 9}) {
      CAPTURE(n, minimum);
      const compaction_pick p = pick_compaction(sizes, 100, minimum, true);
      CHECK(p.first == 0);
      CHECK(p.count == n);
    }
  }
  CHECK(pick({1, 2, 4, 8}, 100, 1, true) == "0+4");
}

TEST_CASE("picker: random size lists keep every rule", "[compaction][picker]") {
  lsmt_test::seeded_rng rng(lsmt_test::env_u64("LSMT_TEST_SEED", 20240611));
  INFO("LSMT_TEST_SEED=" << rng.seed());
  size_t picked_runs = 0;
  size_t picked_pairs = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    const size_t n = rng.uniform(0, 12);
    sizes_t sizes(n);
    // Shapes: small sizes (many ties and zeros), arbitrary sizes, strictly rising sizes (no run
    // qualifies), powers of two (tiers).
    const uint64_t shape = rng.uniform(0, 3);
    for (size_t i = 0; i < n; ++i) {
      if (shape == 0) {
        sizes[i] = rng.uniform(0, 4);
      } else if (shape == 1) {
        sizes[i] = rng.uniform(1, 1000000000);
      } else if (shape == 2) {
        sizes[i] = (i == 0 ? 0 : sizes[i - 1]) + rng.uniform(1, 50);
      } else {
        sizes[i] = uint64_t{1} << rng.uniform(0, 20);
      }
    }
    const size_t interval = rng.uniform(0, 8);
    const size_t minimum = rng.uniform(0, 6);
    const bool force = rng.chance(0.05);
    CAPTURE(iter, sizes, interval, minimum, force);
    const compaction_pick p = pick_compaction(sizes, interval, minimum, force);
    if (force) {
      REQUIRE(p.first == 0);
      REQUIRE(p.count == n);
      continue;
    }
    const size_t keep = minimum == 0 ? 1 : minimum;
    const bool may_merge = n >= 2 && n >= keep + 1 && n >= interval;
    REQUIRE((p.count != 0) == may_merge);
    if (p.count == 0) continue;
    REQUIRE(p.count >= 2);
    REQUIRE(p.first + p.count <= n);
    REQUIRE(n - p.count + 1 >= keep);
    // A run can start at i iff sizes[i + 1] <= sizes[i]; the pick is the first such start.
    size_t first_run = n;
    for (size_t i = 0; i + 1 < n && first_run == n; ++i) {
      if (sizes[i + 1] <= sizes[i]) first_run = i;
    }
    if (first_run < n) {
      ++picked_runs;
      REQUIRE(p.first == first_run);
      uint64_t total = sizes[p.first];
      for (size_t j = 1; j < p.count; ++j) {
        REQUIRE(sizes[p.first + j] <= total);
        total += sizes[p.first + j];
      }
      // Maximal: it stops at the end, at the width limit, or before a bigger table.
      const size_t end = p.first + p.count;
      REQUIRE((end == n || p.count == n - keep + 1 || sizes[end] > total));
    } else {
      ++picked_pairs;
      REQUIRE(p.count == 2);
      const uint64_t sum = sizes[p.first] + sizes[p.first + 1];
      for (size_t i = 0; i + 1 < n; ++i) {
        if (i < p.first) REQUIRE(sizes[i] + sizes[i + 1] > sum);  // ties go to the newest pair
        if (i > p.first) REQUIRE(sizes[i] + sizes[i + 1] >= sum);
      }
    }
  }
  // The generator reached both branches.
  CHECK(picked_runs > 1000);
  CHECK(picked_pairs > 100);
}

// ---- read_sampler: the read-triggered rule ------------------------------------------------------

TEST_CASE("picker: read_sampler is never due with the default threshold",
          "[compaction][read-sampler]") {
  read_sampler s;
  int wakes = 0;
  s.set_wake([&] { ++wakes; });
  for (int i = 0; i < 100; ++i) s.add(uint64_t{1} << 40);
  CHECK_FALSE(s.due());
  CHECK_FALSE(s.take_due());
  CHECK(wakes == 0);
}

TEST_CASE("picker: read_sampler becomes due once the sum reaches the threshold, waking once",
          "[compaction][read-sampler]") {
  read_sampler s;
  int wakes = 0;
  s.set_wake([&] { ++wakes; });
  s.set_threshold(10);
  s.add(3);
  s.add(6);
  CHECK_FALSE(s.due());
  CHECK(wakes == 0);
  s.add(1);  // 10: reached exactly
  CHECK(s.due());
  CHECK(wakes == 1);
  s.add(50);  // already due: no second wake-up
  CHECK(s.due());
  CHECK(wakes == 1);

  CHECK(s.take_due());
  CHECK_FALSE(s.due());
  CHECK_FALSE(s.take_due());  // once
  // take_due restarted the count: the 60 counted before are gone.
  s.add(9);
  CHECK_FALSE(s.due());
  s.add(1);
  CHECK(s.due());
  CHECK(wakes == 2);
}

TEST_CASE("picker: read_sampler reset clears the count and the due flag",
          "[compaction][read-sampler]") {
  read_sampler s;
  s.set_threshold(10);
  s.add(9);
  s.reset();
  s.add(9);  // 9 again, not 18
  CHECK_FALSE(s.due());
  s.add(1);
  CHECK(s.due());
  s.reset();
  CHECK_FALSE(s.due());
  CHECK_FALSE(s.take_due());
}

TEST_CASE("picker: read_sampler without a wake-up function still marks the merge due",
          "[compaction][read-sampler]") {
  read_sampler s;
  s.set_threshold(1);
  s.add(0);
  CHECK_FALSE(s.due());
  s.add(1);
  CHECK(s.due());

  // A store that closes clears the function; a later trigger calls nothing.
  int wakes = 0;
  s.set_wake([&] { ++wakes; });
  CHECK(s.take_due());
  s.set_wake(nullptr);
  s.add(5);
  CHECK(s.due());
  CHECK(wakes == 0);
}

TEST_CASE("picker: read_sampler wakes exactly once under concurrent adds",
          "[compaction][read-sampler]") {
  read_sampler s;
  std::atomic<int> wakes{0};
  s.set_wake([&] { wakes.fetch_add(1); });
  s.set_threshold(5000);
  auto adder = [&] {
    for (int i = 0; i < 10000; ++i) s.add(1);
  };
  std::thread a(adder);
  std::thread b(adder);
  a.join();
  b.join();
  CHECK(s.due());
  CHECK(wakes.load() == 1);
}
