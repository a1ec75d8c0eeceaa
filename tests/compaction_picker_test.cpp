// Tests for the choice of what to merge, without an engine, on versions built from table
// metadata alone: compaction_picker.hpp's leveled rule (dynamic level targets, level-0 trigger,
// the output level of a level-0 merge, trivial moves, the cheapest table of a level, compact()'s
// full merge and its file sizes), compact_range()'s steps (compaction_job.hpp, range_job), the
// picker's read_sampler (the read-triggered rule: threshold, take_due, reset, wake), and what a
// seek reports to it (read_path.hpp, seek_cost). A randomized test checks that every pick keeps
// the layout's invariant (LSMT_TEST_SEED overrides its fixed seed).
#include "lsmt/compaction_picker.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ikey.hpp"
#include "lsmt/compaction_job.hpp"
#include "lsmt/read_path.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace compaction_picker_test_cpp {

namespace {

using lsmt::detail::compaction_job;
using lsmt::detail::compaction_picker;
using lsmt::detail::compute_targets;
using lsmt::detail::level0_trigger;
using lsmt::detail::max_levels;
using lsmt::detail::range_job;
using lsmt::detail::read_sampler;
using lsmt::detail::seek_cost;
using lsmt::detail::table_handle;
using lsmt::detail::table_list;
using lsmt::detail::table_meta;
using lsmt::detail::version;
using lsmt_test::ikey;

constexpr uint64_t MiB = uint64_t{1} << 20;
constexpr size_t last = max_levels - 1;

// A table of `size` bytes over user keys [lo, hi]; the picker reads metadata only.
std::shared_ptr<table_handle> table(uint64_t number, const std::string& lo, const std::string& hi,
                                    uint64_t size) {
  table_meta m{number, size, 1, ikey(lo, 1), ikey(hi, 1)};
  return std::make_shared<table_handle>(m, nullptr);
}

compaction_picker make_picker(size_t trigger = 4, size_t minimum = 2,
                              std::shared_ptr<read_sampler> sampler = nullptr) {
  compaction_picker::settings s;
  s.level0_trigger = trigger;
  s.minimum_tables = minimum;
  s.target_file_size = 8 * MiB;
  s.base_level_bytes = 64 * MiB;
  s.level_size_ratio = 10;
  return compaction_picker(s, sampler ? sampler : std::make_shared<read_sampler>());
}

// Ten tables of `size` bytes, numbered 1 to 10, over the user keys "a"-"b", "c"-"d", ... "s"-"t".
table_list ten_tables(uint64_t size) {
  table_list out;
  for (uint64_t i = 0; i < 10; ++i) {
    const std::string lo(1, static_cast<char>('a' + 2 * i));
    const std::string hi(1, static_cast<char>('a' + 2 * i + 1));
    out.push_back(table(i + 1, lo, hi, size));
  }
  return out;
}

std::vector<uint64_t> numbers(const table_list& tables) {
  std::vector<uint64_t> out;
  for (const auto& t : tables) out.push_back(t->meta().number);
  return out;
}

}  // namespace

TEST_CASE("picker: targets are the bottom level divided by the ratio, up to the base level",
          "[compaction][picker]") {
  version v;
  CHECK(compute_targets(v, 64 * MiB, 10).base_level == last);
  v.levels[last].push_back(table(1, "a", "z", 50 * MiB));
  CHECK(compute_targets(v, 64 * MiB, 10).base_level == last);  // bottom fits in the base size
  v.levels[last].push_back(table(2, "za", "zz", 950 * MiB));   // 1000 MiB at the bottom
  const auto t = compute_targets(v, 64 * MiB, 10);
  CHECK(t.base_level == last - 2);  // 100 MiB > 64 MiB, 10 MiB <= 64 MiB
  CHECK(t.bytes[last - 1] == 100 * MiB);
  CHECK(t.bytes[last - 2] == 10 * MiB);
  CHECK(t.bytes[1] == 0);
}

TEST_CASE("picker: level 0 is due at compaction_interval tables, into the base level",
          "[compaction][picker]") {
  compaction_picker p = make_picker(4);
  version v;
  for (uint64_t i = 1; i <= 3; ++i) v.levels[0].push_back(table(i, "a", "z", MiB));
  CHECK_FALSE(p.due(v));
  CHECK(p.idle(v));
  CHECK(p.pick(v, false).empty());
  v.levels[0].push_back(table(4, "b", "y", MiB));
  REQUIRE(p.due(v));
  CHECK_FALSE(p.idle(v));
  const compaction_job job = p.pick(v, false);
  CHECK(job.level == 0);
  CHECK(job.output_level == last);
  CHECK(numbers(job.inputs) == std::vector<uint64_t>{1, 2, 3, 4});
  CHECK(job.overlapped.empty());
  CHECK_FALSE(job.move);  // the level-0 tables overlap each other
}

TEST_CASE("picker: level 0's trigger rises with the bottom level, up to 4x compaction_interval",
          "[compaction][picker]") {
  compaction_picker p = make_picker(4);
  version v;
  auto fill_level0 = [&](uint64_t tables) {
    v.levels[0].clear();
    for (uint64_t i = 1; i <= tables; ++i) v.levels[0].push_back(table(100 + i, "a", "z", MiB));
  };
  // Half the bottom level in level-0 tables of 1 MiB: 3 below the interval, so it stays 4.
  v.levels[last].push_back(table(1, "a", "z", 6 * MiB));
  fill_level0(4);
  CHECK(level0_trigger(v, 4, 4) == 4);
  CHECK(p.due(v));
  // 10 tables' worth: level 0 waits for 10.
  v.levels[last][0] = table(1, "a", "z", 20 * MiB);
  fill_level0(9);
  CHECK(level0_trigger(v, 4, 4) == 10);
  CHECK_FALSE(p.due(v));
  CHECK(p.pick(v, false).empty());
  CHECK(p.pending_bytes(v) == 0);
  fill_level0(10);
  REQUIRE(p.due(v));
  const compaction_job job = p.pick(v, false);
  CHECK(job.level == 0);
  CHECK(job.inputs.size() == 10);
  CHECK(p.pending_bytes(v) == 10 * MiB);
  // Past the risen trigger each table adds a quarter, as past a fixed one: 18 tables score 3
  // (as 12 do with the trigger at 4), 17 score 2.75, against a level above the base level that
  // scores just below 3 (1 + 127 MiB / base_level_bytes).
  v.levels[3].push_back(table(50, "a", "z", 127 * MiB));
  fill_level0(17);
  CHECK(p.pick(v, false).level == 3);
  fill_level0(18);
  CHECK(p.pick(v, false).level == 0);
  v.levels[3].clear();
  // Far more: at most 4x the interval. Larger level-0 tables count as more of the batch.
  v.levels[last][0] = table(1, "a", "z", 1000 * MiB);
  fill_level0(15);
  CHECK(level0_trigger(v, 4, 4) == 16);
  CHECK_FALSE(p.due(v));
  fill_level0(16);
  CHECK(p.due(v));
  v.levels[0] = {table(101, "a", "z", 100 * MiB), table(102, "a", "z", 100 * MiB),
                 table(103, "a", "z", 100 * MiB), table(104, "a", "z", 100 * MiB)};
  CHECK(level0_trigger(v, 4, 4) == 5);
  CHECK_FALSE(p.due(v));
  // Below the interval the trigger is the interval, whatever lies below; and with growth 1.
  fill_level0(3);
  CHECK(level0_trigger(v, 4, 4) == 4);
  fill_level0(16);
  CHECK(level0_trigger(v, 4, 1) == 4);
  CHECK(level0_trigger(v, 4, 2) == 8);
}

TEST_CASE("picker: a level-0 merge takes the base level's overlapping tables only",
          "[compaction][picker]") {
  compaction_picker p = make_picker(2);
  version v;
  v.levels[0].push_back(table(10, "d", "f", MiB));
  v.levels[0].push_back(table(11, "e", "g", MiB));
  v.levels[last] = {table(1, "a", "b", MiB), table(2, "c", "d", MiB), table(3, "e", "e", MiB),
                    table(4, "g", "h", MiB), table(5, "i", "j", MiB)};
  const compaction_job job = p.pick(v, false);
  CHECK(job.output_level == last);
  CHECK(numbers(job.overlapped) == std::vector<uint64_t>{2, 3, 4});
}

TEST_CASE("picker: data above the base level moves down before level 0 merges past it",
          "[compaction][picker]") {
  compaction_picker p = make_picker(2);
  version v;
  v.levels[0] = {table(10, "a", "z", MiB), table(11, "a", "z", MiB)};
  v.levels[2].push_back(table(5, "m", "n", MiB));  // above the base level (the bottom)
  const compaction_job job = p.pick(v, false);
  CHECK(job.level == 2);
  CHECK(job.output_level == 3);
  CHECK(job.move);
}

TEST_CASE("picker: disjoint level-0 tables with nothing below move down unchanged",
          "[compaction][picker]") {
  compaction_picker p = make_picker(2);
  version v;
  v.levels[0] = {table(11, "c", "d", MiB), table(10, "a", "b", MiB)};
  v.levels[last].push_back(table(1, "x", "y", MiB));
  const compaction_job job = p.pick(v, false);
  CHECK(job.move);
  CHECK(job.overlapped.empty());
}

TEST_CASE("picker: an oversized level sends its cheapest table down", "[compaction][picker]") {
  compaction_picker p = make_picker(4);
  version v;
  // Bottom: 1000 MiB in ten tables over "a0".."a9"; level 5's target is then 100 MiB.
  for (int i = 0; i < 10; ++i) {
    const std::string k = "a" + std::to_string(i);
    v.levels[last].push_back(table(100 + static_cast<uint64_t>(i), k, k + "z", 100 * MiB));
  }
  // Level 5: 120 MiB. Table 20 overlaps two bottom tables, table 21 one.
  v.levels[last - 1] = {table(20, "a1", "a2z", 60 * MiB), table(21, "a5a", "a5b", 60 * MiB)};
  REQUIRE(p.due(v));
  const compaction_job job = p.pick(v, false);
  CHECK(job.level == last - 1);
  CHECK(job.output_level == last);
  CHECK(numbers(job.inputs) == std::vector<uint64_t>{21});
  CHECK(numbers(job.overlapped) == std::vector<uint64_t>{105});
  CHECK_FALSE(job.move);
}

TEST_CASE("picker: data above the base level moves down", "[compaction][picker]") {
  compaction_picker p = make_picker(4);
  version v;
  v.levels[last].push_back(table(1, "a", "m", 10 * MiB));
  v.levels[3].push_back(table(2, "n", "z", MiB));  // the bottom is the base level: 3 must empty
  REQUIRE(p.due(v));
  const compaction_job job = p.pick(v, false);
  CHECK(job.level == 3);
  CHECK(job.output_level == 4);
  CHECK(job.move);
}

TEST_CASE("picker: scans with only the bottom level left rewrite its tables in turn",
          "[compaction][picker]") {
  auto sampler = std::make_shared<read_sampler>();
  compaction_picker p = make_picker(4, 2, sampler);
  version v;
  v.levels[last] = {table(1, "a", "c", MiB), table(2, "d", "f", MiB), table(3, "g", "i", MiB)};
  CHECK(p.pick(v, false).empty());  // no score, no scans: nothing
  sampler->set_threshold(1);
  std::vector<uint64_t> order;
  for (int i = 0; i < 4; ++i) {
    sampler->add(1);
    REQUIRE(p.due(v));
    const compaction_job job = p.pick(v, false);
    REQUIRE(job.inputs.size() == 1);
    CHECK(job.level == last);
    CHECK(job.output_level == last);
    CHECK(job.read_triggered);
    CHECK_FALSE(job.move);
    order.push_back(job.inputs[0]->meta().number);
  }
  CHECK(order == std::vector<uint64_t>{1, 2, 3, 1});
}

TEST_CASE("picker: a level above the base level does not starve level 0", "[compaction][picker]") {
  compaction_picker p = make_picker(4);
  version v;
  v.levels[last].push_back(table(1, "a", "z", 8 * MiB));  // level 0's trigger stays 4
  v.levels[3].push_back(table(2, "a", "z", 32 * MiB));    // must move down: score 1.5
  for (uint64_t i = 10; i < 14; ++i) v.levels[0].push_back(table(i, "a", "z", MiB));
  CHECK(p.pick(v, false).level == 3);  // level 0 at its trigger: score 1
  for (uint64_t i = 14; i < 22; ++i) v.levels[0].push_back(table(i, "a", "z", MiB));
  const compaction_job job = p.pick(v, false);  // level 0 at 3x its trigger: score 3
  CHECK(job.level == 0);
  CHECK(job.output_level == 3);  // above the level that still holds data
}

TEST_CASE("picker: force takes every table into the bottom level", "[compaction][picker]") {
  compaction_picker p = make_picker(4, 3);
  version v;
  v.levels[0].push_back(table(9, "a", "z", 3 * MiB));
  v.levels[last].push_back(table(1, "a", "z", 3 * MiB));
  const compaction_job job = p.pick(v, true);
  CHECK(job.full);
  CHECK(job.output_level == last);
  CHECK(job.inputs.size() == 2);
  CHECK(job.max_files == 3);  // a small store: minimum_sstables files of equal size
  CHECK(job.target_size == 2 * MiB);
  version big;
  big.levels[last].push_back(table(1, "a", "z", 100 * MiB));
  const compaction_job all = p.pick(big, true);
  CHECK(all.max_files == 0);  // a large one: files of target_file_size
  CHECK(all.target_size == 8 * MiB);
  CHECK(p.pick(version{}, true).empty());
}

TEST_CASE("picker: random versions: every pick keeps the layout's invariant",
          "[compaction][picker]") {
  const uint64_t seed = lsmt_test::fixed_test_seed(0x1e5e1ed);
  INFO("seed " << seed);
  std::mt19937_64 rng(seed);
  compaction_picker p = make_picker(3, 2);
  uint64_t picks = 0;
  for (int round = 0; round < 2000; ++round) {
    version v;
    uint64_t number = 1;
    const auto key = [](uint64_t k) {
      std::string s = std::to_string(k);
      return std::string(6 - s.size(), '0') + s;
    };
    for (size_t l = 0; l < max_levels; ++l) {
      const uint64_t n = rng() % (l == 0 ? 6 : 4);
      uint64_t at = rng() % 1000;
      for (uint64_t i = 0; i < n; ++i) {
        const uint64_t lo = l == 0 ? rng() % 100000 : at + 1 + rng() % 1000;
        const uint64_t hi = lo + rng() % 5000;
        v.levels[l].push_back(table(number++, key(lo), key(hi), (1 + rng() % 200) * MiB));
        at = hi;
      }
    }
    const compaction_job job = p.pick(v, rng() % 8 == 0);
    if (job.empty()) {
      CHECK(p.idle(v));
      continue;
    }
    ++picks;
    if (job.full) {
      CHECK(job.inputs.size() == v.table_count());
      continue;
    }
    // The output level is below the input level, and no level in between holds data.
    REQUIRE(job.output_level > job.level);
    for (size_t l = job.level + 1; l < job.output_level; ++l) CHECK(v.levels[l].empty());
    // Level 0 goes whole; a sorted level sends one table.
    if (job.level == 0) {
      CHECK(job.inputs.size() == v.levels[0].size());
    } else {
      CHECK(job.inputs.size() == 1);
    }
    // Every table of the output level that overlaps an input is in the merge.
    for (const auto& in : job.inputs) {
      for (const auto& o : v.levels[job.output_level]) {
        if (!lsmt::detail::overlaps(*o, in->smallest_user_key(), in->largest_user_key())) continue;
        bool taken = false;
        for (const auto& t : job.overlapped) taken = taken || t == o;
        CHECK(taken);
      }
    }
    if (job.move) CHECK(job.overlapped.empty());
  }
  CHECK(picks > 500);
}

// ---- read_sampler: the read-triggered rule ------------------------------------------------------

TEST_CASE("picker: a settle merges level 0 once it is 1 / trigger of what it rewrites below",
          "[compaction][picker]") {
  compaction_picker p = make_picker(4);
  version v;
  CHECK(p.settle_job(v).empty());  // nothing to settle
  CHECK_FALSE(p.settle_pays(v, 0, {}));
  // 60 MiB in the bottom level, below the base size: level 0 merges into it.
  v.levels[last].push_back(table(1, "a", "f", 20 * MiB));
  v.levels[last].push_back(table(2, "g", "m", 20 * MiB));
  v.levels[last].push_back(table(3, "n", "z", 20 * MiB));
  // The memtable alone, over one bottom table: 5 MiB pays for 20 (a quarter), 4 does not.
  lsmt::detail::key_span keys{"h", "k", false};
  CHECK(p.settle_pays(v, 5 * MiB, keys));
  CHECK_FALSE(p.settle_pays(v, 4 * MiB, keys));
  keys.unbounded = true;  // a range deletion: every bottom table counts
  CHECK_FALSE(p.settle_pays(v, 5 * MiB, keys));
  CHECK(p.settle_pays(v, 15 * MiB, keys));
  // Level 0 over two bottom tables (40 MiB): 9 MiB does not pay, 10 does, and the merge is
  // level 0's at its trigger (add_overlapped's tables), marked as a settle.
  v.levels[0].push_back(table(4, "b", "h", 9 * MiB));
  CHECK(p.settle_job(v).empty());
  CHECK_FALSE(p.settle_pays(v, 0, {}));
  v.levels[0].front() = table(4, "b", "h", 10 * MiB);
  CHECK(p.settle_pays(v, 0, {}));
  const compaction_job job = p.settle_job(v);
  CHECK(job.idle_triggered);
  CHECK(job.level == 0);
  CHECK(job.output_level == last);
  CHECK(numbers(job.inputs) == std::vector<uint64_t>{4});
  CHECK(numbers(job.overlapped) == std::vector<uint64_t>{1, 2});
  // A memtable beyond level 0's range widens what the merge would rewrite: 11 MiB over all
  // three bottom tables (60 MiB) does not pay.
  CHECK_FALSE(p.settle_pays(v, 1 * MiB, lsmt::detail::key_span{"p", "q", false}));
  CHECK(p.settle_pays(v, 5 * MiB, lsmt::detail::key_span{"p", "q", false}));
}

TEST_CASE("picker: a settle whose data would move on down at once merges one level deeper",
          "[compaction][picker]") {
  compaction_picker p = make_picker(4);
  version v;
  // 100 MiB in the bottom level: the level above is the base level, with a 10 MiB target.
  v.levels[last] = ten_tables(10 * MiB);
  // 11 MiB in level 0 over the whole key space, more than the base level's target. Not into
  // the bottom level: rewriting its 100 MiB pays only for a quarter of that (trigger 4), 25 MiB.
  // So into the empty base level.
  v.levels[0].push_back(table(20, "a", "t", 11 * MiB));
  compaction_job job = p.settle_job(v);
  CHECK(job.output_level == last - 1);
  CHECK(job.overlapped.empty());
  // 26 MiB pays for the bottom level: one merge into it, not one into the base level and
  // another one down.
  v.levels[0].front() = table(20, "a", "t", 26 * MiB);
  job = p.settle_job(v);
  CHECK(job.idle_triggered);
  CHECK(job.output_level == last);
  CHECK(job.overlapped.size() == 10);
  // Over one bottom table only, 12 MiB pays for the 10 it rewrites there.
  v.levels[0].front() = table(20, "c", "d", 12 * MiB);
  job = p.settle_job(v);
  CHECK(job.output_level == last);
  CHECK(numbers(job.overlapped) == std::vector<uint64_t>{2});
  // Within the base level's target it stays there (nothing would push it further).
  v.levels[0].front() = table(20, "c", "d", 9 * MiB);
  CHECK(p.settle_job(v).output_level == last - 1);
  // Never past a base level that holds data: level 0 must stay above it.
  v.levels[0].front() = table(20, "a", "t", 26 * MiB);
  v.levels[last - 1].push_back(table(30, "x", "y", MiB));
  job = p.settle_job(v);
  CHECK(job.output_level == last - 1);
  CHECK(job.overlapped.empty());
}

TEST_CASE("picker: a settle never skips an empty level below the base level",
          "[compaction][picker]") {
  compaction_picker p = make_picker(4);
  version v;
  // 1,000 MiB in the bottom level and nothing above it (as compact() leaves a store): the base
  // level is two up (10 MiB target), and the level between is empty (100 MiB target).
  v.levels[last] = ten_tables(100 * MiB);
  // 30 MiB over one bottom table would pay for rewriting its 100 MiB, but it would not move on
  // from the empty level below the base level: it goes into the base level, rewriting nothing.
  v.levels[0].push_back(table(20, "c", "d", 30 * MiB));
  const compaction_job job = p.settle_job(v);
  CHECK(job.idle_triggered);
  CHECK(job.output_level == last - 2);
  CHECK(job.overlapped.empty());
}

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

TEST_CASE("picker: seeks that pay for level 0 get it merged below its trigger",
          "[compaction][picker][read-sampler]") {
  auto sampler = std::make_shared<read_sampler>();
  compaction_picker p = make_picker(4, 2, sampler);
  const auto with_entries = [](uint64_t number, const std::string& lo, const std::string& hi,
                               uint64_t entries) {
    table_meta m{number, MiB, entries, ikey(lo, 1), ikey(hi, 1)};
    return std::make_shared<table_handle>(m, nullptr);
  };
  version v;
  v.levels[last] = {with_entries(1, "a", "h", 20000), with_entries(2, "i", "z", 10000)};
  p.set_threshold(v);
  sampler->add_upper_seeks(uint64_t{1} << 40);  // level 0 empty: never due
  CHECK_FALSE(sampler->due());

  v.levels[0] = {with_entries(10, "b", "c", 5000), with_entries(11, "j", "k", 15000)};
  p.set_threshold(v);  // (20000 in level 0 + 30000 in the bottom) / 8 = 6250 seeks
  CHECK(p.idle(v));    // 2 tables of 4: no score
  sampler->add_upper_seeks(6249);
  CHECK_FALSE(sampler->due());
  sampler->add(1000000);  // hidden entries count apart
  CHECK_FALSE(sampler->take_upper_due());
  CHECK(sampler->take_due());
  sampler->add_upper_seeks(1);
  REQUIRE(p.due(v));
  const compaction_job job = p.pick(v, false);
  CHECK(job.level == 0);
  CHECK(job.output_level == last);
  CHECK(job.seek_triggered);
  CHECK_FALSE(job.read_triggered);
  CHECK(numbers(job.inputs) == std::vector<uint64_t>{10, 11});
  CHECK(numbers(job.overlapped) == std::vector<uint64_t>{1, 2});
  CHECK_FALSE(sampler->due());  // pick took the flag
  CHECK(p.pick(v, false).empty());

  // A small floor: a level 0 of a few entries waits for min_upper_seeks.
  version small;
  small.levels[0] = {with_entries(20, "a", "b", 10)};
  p.set_threshold(small);
  sampler->add_upper_seeks(compaction_picker::min_upper_seeks - 1);
  CHECK_FALSE(sampler->due());
  sampler->add_upper_seeks(1);
  CHECK(sampler->due());
  const compaction_job moved = p.pick(small, false);
  CHECK(moved.seek_triggered);
  CHECK(moved.move);  // nothing below overlaps it
}

TEST_CASE("picker: seeks that pay for a level above the bottom get its tables merged down",
          "[compaction][picker][read-sampler]") {
  auto sampler = std::make_shared<read_sampler>();
  compaction_picker p = make_picker(4, 2, sampler);
  const auto with = [](uint64_t number, const std::string& lo, const std::string& hi, uint64_t size,
                       uint64_t entries) {
    table_meta m{number, size, entries, ikey(lo, 1), ikey(hi, 1)};
    return std::make_shared<table_handle>(m, nullptr);
  };
  // 120 MiB in the bottom level: level 5 is the base level, with a target of 12 MiB, so its
  // 2 MiB are within it and no merge is due by score.
  version v;
  v.levels[last] = {with(1, "a", "h", 40 * MiB, 40000), with(2, "i", "p", 50 * MiB, 50000),
                    with(3, "q", "z", 30 * MiB, 30000)};
  v.levels[last - 1] = {with(10, "b", "c", MiB, 3000), with(11, "j", "k", MiB, 7000)};
  p.set_threshold(v);  // (10000 in level 5 + 120000 in the bottom) / 8 = 16250 seeks
  REQUIRE(p.idle(v));
  sampler->add_upper_seeks(16249);
  CHECK_FALSE(sampler->due());
  sampler->add_upper_seeks(1);
  REQUIRE(p.due(v));
  const compaction_job job = p.pick(v, false);
  CHECK(job.seek_triggered);
  CHECK_FALSE(job.read_triggered);
  CHECK(job.level == last - 1);
  CHECK(job.output_level == last);
  CHECK(numbers(job.inputs) == std::vector<uint64_t>{10});  // 40 MiB below it, not 50
  CHECK(numbers(job.overlapped) == std::vector<uint64_t>{1});
  CHECK_FALSE(job.move);
  CHECK(p.pick(v, false).empty());  // pick took the flag

  // With level 0 holding tables, its merge comes first, at its own threshold.
  version with_level0 = v;
  with_level0.levels[0] = {with(20, "a", "z", MiB, 34000)};
  p.set_threshold(with_level0);  // (34000 + 10000 in level 5) / 8 = 5500
  sampler->add_upper_seeks(5499);
  CHECK_FALSE(sampler->due());
  sampler->add_upper_seeks(1);
  const compaction_job first = p.pick(with_level0, false);
  CHECK(first.seek_triggered);
  CHECK(first.level == 0);
  CHECK(first.output_level == last - 1);

  // What seeks counted for one level does not carry over to another. Level 0 to level 5: 5000
  // counted for level 0, then level 0 goes (a merge by score, say) and 16249 more are not
  // enough for level 5 (16250).
  p.set_threshold(with_level0);
  sampler->add_upper_seeks(5000);
  p.set_threshold(v);
  sampler->add_upper_seeks(16249);
  CHECK_FALSE(sampler->due());
  sampler->add_upper_seeks(1);
  CHECK(sampler->due());
  // Level 5 to level 0: the 16250 counted for level 5, and its due flag, do not make level 0's
  // merge (5500) due.
  p.set_threshold(with_level0);
  CHECK_FALSE(sampler->due());
  sampler->add_upper_seeks(1);
  CHECK_FALSE(sampler->due());
  sampler->add_upper_seeks(5499);
  CHECK(sampler->due());
  p.set_threshold(with_level0);  // the same level again keeps the count and the flag
  CHECK(sampler->due());
  CHECK(p.pick(with_level0, false).level == 0);

  // seeks position one level fewer. 1200 MiB in the bottom level: level 4 is the base level
  // (a target of 12 MiB), level 5's target is 120 MiB, and it is empty.
  version skip;
  skip.levels[last] = {with(1, "a", "h", 400 * MiB, 40000), with(2, "i", "p", 500 * MiB, 50000),
                       with(3, "q", "z", 300 * MiB, 30000)};
  skip.levels[last - 2] = {with(30, "r", "s", MiB, 100)};
  p.set_threshold(skip);  // (100 + 120000) / 8 = 15012
  REQUIRE(p.idle(skip));
  sampler->add_upper_seeks(15011);
  CHECK_FALSE(sampler->due());
  sampler->add_upper_seeks(1);
  const compaction_job down = p.pick(skip, false);
  CHECK(down.seek_triggered);
  CHECK(down.level == last - 2);
  CHECK(down.output_level == last);
  CHECK(numbers(down.overlapped) == std::vector<uint64_t>{3});

  // Only the bottom level holds data: seeks never ask for anything.
  version bottom_only;
  bottom_only.levels[last] = v.levels[last];
  p.set_threshold(bottom_only);
  sampler->add_upper_seeks(uint64_t{1} << 40);
  CHECK_FALSE(sampler->due());
  CHECK(p.idle(bottom_only));
}

TEST_CASE("seek cost: level-0 tables while there are any; then the first level above the bottom",
          "[compaction][read-sampler]") {
  std::array<bool, max_levels> positioned{};
  version v;
  v.levels[last] = {table(1, "a", "z", MiB)};
  CHECK(seek_cost(v, 0, positioned) == 0);  // only the bottom level
  positioned[last] = true;
  CHECK(seek_cost(v, 0, positioned) == 0);

  // Levels 4 and 5 hold data: a seek that positions both counts 1 (a merge moves tables of
  // level 4 only), and one that positions level 5 alone counts nothing.
  v.levels[last - 2] = {table(2, "c", "d", MiB)};
  v.levels[last - 1] = {table(3, "a", "z", MiB)};
  positioned[last - 1] = true;
  CHECK(seek_cost(v, 0, positioned) == 0);
  positioned[last - 2] = true;
  CHECK(seek_cost(v, 0, positioned) == 1);

  // Level 0 holds tables: what counts is how many of them the seeks position, even none.
  v.levels[0] = {table(4, "a", "z", MiB), table(5, "a", "z", MiB), table(6, "a", "z", MiB)};
  CHECK(seek_cost(v, 3, positioned) == 3);
  CHECK(seek_cost(v, 0, positioned) == 0);
}

TEST_CASE("picker: pending bytes are level 0 at its trigger and each level over its target",
          "[compaction][picker]") {
  compaction_picker p = make_picker(4);
  version v;
  for (uint64_t i = 1; i <= 3; ++i) v.levels[0].push_back(table(i, "a", "z", MiB));
  CHECK(p.pending_bytes(v) == 0);  // below the trigger
  v.levels[0].push_back(table(4, "a", "z", MiB));
  CHECK(p.pending_bytes(v) == 4 * MiB);
  v.levels[0].clear();
  // 1000 MiB at the bottom: targets 100 MiB (level 5) and 10 MiB (level 4, the base).
  v.levels[last].push_back(table(10, "a", "z", 1000 * MiB));
  v.levels[last - 1].push_back(table(11, "a", "m", 130 * MiB));
  v.levels[last - 2].push_back(table(12, "a", "m", 5 * MiB));  // under its target
  v.levels[2].push_back(table(13, "n", "o", 3 * MiB));         // above the base: all of it
  CHECK(p.pending_bytes(v) == 30 * MiB + 3 * MiB);
}

TEST_CASE("picker: range jobs walk the range's tables down, level by level",
          "[compaction][picker]") {
  constexpr uint64_t target = 4 * MiB;  // any target_file_size: the steps' output size
  version v;
  v.levels[0] = {table(20, "x", "y", MiB), table(21, "a", "b", MiB)};
  v.levels[2] = {table(10, "c", "d", MiB), table(11, "f", "g", MiB), table(12, "p", "q", MiB)};
  v.levels[last] = {table(1, "a", "e", MiB), table(2, "f", "k", MiB), table(3, "l", "z", MiB)};
  const std::optional<std::string> lo = "f";
  const std::optional<std::string> hi = "h";
  size_t level = 0;
  // Level 0 has no table in [f, h]: the first step is level 2's table 11, into the bottom
  // level (levels 3-5 are empty), with the bottom table it overlaps; never a move.
  compaction_job job = range_job(v, lo, hi, &level, target);
  CHECK(job.target_size == target);
  CHECK(job.level == 2);
  CHECK(job.output_level == last);
  CHECK(numbers(job.inputs) == std::vector<uint64_t>{11});
  CHECK(numbers(job.overlapped) == std::vector<uint64_t>{2});
  CHECK_FALSE(job.move);
  CHECK(level == max_levels);                           // a step into the bottom level is the last
  CHECK(range_job(v, lo, hi, &level, target).empty());  // the range is in the bottom level now

  // A level-0 table in the range brings every level-0 table, into the next level with data.
  level = 0;
  job = range_job(v, std::optional<std::string>("a"), std::optional<std::string>("a"), &level,
                  target);
  CHECK(job.level == 0);
  CHECK(numbers(job.inputs) == std::vector<uint64_t>{20, 21});
  CHECK(job.output_level == 2);
  CHECK(numbers(job.overlapped) == std::vector<uint64_t>{10, 11, 12});  // keys a .. y
  CHECK(level == 2);
  // Unbounded: level 0 first as well.
  level = 0;
  CHECK(range_job(v, std::nullopt, std::nullopt, &level, target).level == 0);

  // A range whose data is all in the bottom level: one step rewrites its tables in place.
  version bottom;
  bottom.levels[last] = v.levels[last];
  level = 0;
  job = range_job(bottom, std::optional<std::string>("g"), std::nullopt, &level, target);
  CHECK(job.level == last);
  CHECK(job.output_level == last);
  CHECK(numbers(job.inputs) == std::vector<uint64_t>{2, 3});
  CHECK(job.overlapped.empty());
  CHECK_FALSE(job.move);
  CHECK(job.target_size == target);
  CHECK(range_job(bottom, std::optional<std::string>("g"), std::nullopt, &level, target).empty());
  // A range that holds no table at all: nothing to do.
  level = 0;
  CHECK(range_job(v, std::optional<std::string>("zz"), std::nullopt, &level, target).empty());
}

}  // namespace compaction_picker_test_cpp
