// fence_index: fences keep the keys' order, and its searches give exactly what a search over all
// the fences gives, for small and odd sizes, with runs of equal fences, and for targets below,
// between, equal to and above them (0 and UINT64_MAX included). A version's search of a sorted
// level through the fences of its tables (version.hpp, search_level) finds what a plain binary
// search over the tables finds. A table's table_index finds the block a search over all its index
// keys finds, keeping the keys only where fences tie.
#include "lsmt/fence_index.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ikey.hpp"
#include "lsmt/table_index.hpp"
#include "lsmt/version.hpp"
#include "test_catch.hpp"

using lsmt::detail::fence_index;
using lsmt::detail::table_handle;
using lsmt::detail::table_meta;
using lsmt::detail::version;

namespace {

// Sorted keys "key/" + 1 to 10 bytes, drawn from a small alphabet so that equal 8-byte windows
// repeat.
std::vector<std::string> sorted_keys(std::mt19937_64& rng, size_t n, int alphabet) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; ++i) {
    std::string k = "key/";
    const size_t len = 1 + rng() % 10;  // some end inside the 8-byte window, some run past it
    for (size_t j = 0; j < len; ++j) k.push_back(static_cast<char>('a' + rng() % alphabet));
    keys.push_back(std::move(k));
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace

TEST_CASE("fence_index: lower_bound and equal_range match a search over all fences",
          "[fence_index]") {
  std::mt19937_64 rng(5);
  size_t checked = 0;
  for (size_t n = 0; n <= 70; ++n) {
    for (int alphabet : {2, 26}) {
      const std::vector<std::string> keys = sorted_keys(rng, n, alphabet);
      const std::vector<std::string_view> views(keys.begin(), keys.end());
      fence_index index;
      index.build(views);
      REQUIRE(index.size() == n);
      std::vector<uint64_t> all;
      for (const std::string_view k : views) all.push_back(index.fence(k));
      REQUIRE(std::is_sorted(all.begin(), all.end()));
      for (uint32_t i = 0; i < n; ++i) REQUIRE(index[i] == all[i]);

      std::vector<uint64_t> targets = {0, 1, UINT64_MAX, UINT64_MAX - 1};
      for (const uint64_t f : all) {
        targets.push_back(f);
        targets.push_back(f - 1);  // wraps to UINT64_MAX for 0: still a valid target
        targets.push_back(f + 1);
      }
      for (int i = 0; i < 20; ++i) targets.push_back(rng());
      for (const uint64_t f : targets) {
        const auto lo =
            static_cast<uint32_t>(std::lower_bound(all.begin(), all.end(), f) - all.begin());
        REQUIRE(index.lower_bound(f) == lo);
        const auto hi =
            static_cast<uint32_t>(std::upper_bound(all.begin(), all.end(), f) - all.begin());
        for (const fence_index::range r : {index.equal_range(f), index.equal_range(f, lo)}) {
          REQUIRE(r.first == lo);
          REQUIRE(r.last == hi);
        }
        ++checked;
      }
    }
  }
  REQUIRE(checked > 10000);
}

TEST_CASE("fence_index: keys outside the shared prefix get 0 or UINT64_MAX", "[fence_index]") {
  const std::vector<std::string> keys = {"tenant7/a", "tenant7/b", "tenant7/c", "tenant8"};
  const std::vector<std::string_view> views(keys.begin(), keys.end());
  fence_index index;
  index.build(views);
  // The prefix is "tenant7/", shared by all but the last key.
  CHECK(index.fence("tenant7/") == 0);
  CHECK(index.fence("tenant6/zzz") == 0);
  CHECK(index.fence("tenant") == 0);  // ends inside the prefix
  CHECK(index.fence("tenant8") == UINT64_MAX);
  CHECK(index.fence("tenant7/a") == uint64_t{'a'} << 56);
  CHECK(index.lower_bound(index.fence("tenant7/b")) == 1);
  CHECK(index.lower_bound(index.fence("tenant9")) == 3);  // the last fence is UINT64_MAX too
  CHECK(index.bytes() >= 4 * sizeof(uint64_t));
}

// What table_index::find relies on: for any user key t, the first key >= t is the first whose
// fence is >= fence(t) when that fence differs from fence(t), and otherwise lies among the keys
// with fence(t) or is the one right after them.
TEST_CASE("fence_index: the first key >= a target lies where the fences say", "[fence_index]") {
  std::mt19937_64 rng(11);
  size_t exact = 0;
  size_t ties = 0;
  for (size_t n = 1; n <= 70; ++n) {
    for (int alphabet : {2, 3, 26}) {
      const std::vector<std::string> keys = sorted_keys(rng, n, alphabet);
      const std::vector<std::string_view> views(keys.begin(), keys.end());
      fence_index index;
      index.build(views);
      std::vector<std::string> targets = sorted_keys(rng, 40, alphabet);
      targets.insert(targets.end(), keys.begin(), keys.end());
      for (const std::string& k : keys) targets.push_back(k + '\0');  // just past a key
      targets.insert(targets.end(), {"", "key", "key/", "kez", "zzz"});
      for (const std::string& t : targets) {
        const auto first =
            static_cast<uint32_t>(std::lower_bound(keys.begin(), keys.end(), t) - keys.begin());
        const uint64_t f = index.fence(t);
        const auto [lo, hi] = index.equal_range(f);
        if (lo == hi) {
          REQUIRE(first == lo);
          ++exact;
        } else {
          REQUIRE(first >= lo);
          REQUIRE(first <= hi);
          ++ties;
        }
      }
    }
  }
  REQUIRE(exact > 1000);
  REQUIRE(ties > 1000);
}

// A sorted level of tables over distinct keys, searched with its fences and without (a version
// built by hand has none), by user key and by internal key, over the whole level and over
// sub-ranges [first, last), as level_iterator searches.
TEST_CASE("version: a level's fences find the table a plain search finds", "[fence_index]") {
  using lsmt::detail::compare_internal_keys;
  using lsmt_test::ikey;
  std::mt19937_64 rng(17);
  size_t checked = 0;
  size_t narrowed = 0;  // targets whose fence leaves at most one table's key to compare
  for (size_t n = 1; n <= 40; ++n) {
    for (int alphabet : {2, 3, 26}) {
      std::vector<std::string> keys = sorted_keys(rng, 2 * n, alphabet);
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      version plain;
      for (size_t i = 0; i + 1 < keys.size(); i += 2) {  // table i/2 holds [keys[i], keys[i+1]]
        table_meta m{i, 1, 1, ikey(keys[i], 9), ikey(keys[i + 1], 3)};
        plain.levels[1].push_back(std::make_shared<table_handle>(m, nullptr));
      }
      version indexed = plain;
      indexed.index_levels();
      const size_t tables = plain.levels[1].size();
      REQUIRE(indexed.fences[1].size() == tables);  // the fence path is the one tested
      std::vector<std::string> targets = sorted_keys(rng, 40, alphabet);
      targets.insert(targets.end(), keys.begin(), keys.end());
      for (const std::string& k : keys) targets.push_back(k + '\0');
      targets.insert(targets.end(), {"", "key", "key/", "kez", "zzz"});
      for (const std::string& t : targets) {
        REQUIRE(indexed.find_table(1, t) == plain.find_table(1, t));
        for (const uint64_t seq : {uint64_t{1}, uint64_t{5}, uint64_t{10}}) {
          const std::string target = ikey(t, seq);
          const auto below = [&](const table_handle& h) {
            return compare_internal_keys(h.meta().largest, target) < 0;
          };
          const size_t first = tables == 0 ? 0 : rng() % tables;
          const size_t last = first + rng() % (tables - first + 1);
          const size_t expect = plain.search_level(1, t, first, last, below);
          REQUIRE(indexed.search_level(1, t, first, last, below) == expect);
          REQUIRE(indexed.search_level(1, t, 0, tables, below) ==
                  plain.search_level(1, t, 0, tables, below));
          ++checked;
        }
        const fence_index& f = indexed.fences[1];
        const fence_index::range r = f.equal_range(f.fence(t));
        if (r.last - r.first <= 1) ++narrowed;  // one key compared at most
      }
    }
  }
  REQUIRE(checked > 10000);
  REQUIRE(narrowed > checked / 6);
}

// A table's table_index (table_index.hpp) keeps only the index keys whose fences tie. Its find()
// must give the first index key >= the target exactly, or, when it says or_next, that one or the
// next. Index keys here are internal keys: several versions of a user key (so equal user keys
// differ by sequence) over the small alphabets that make fences tie.
TEST_CASE("table_index: find gives the first index key >= a target, or says it may be the next",
          "[fence_index]") {
  using lsmt::detail::compare_internal_keys;
  using lsmt::detail::table_index;
  using lsmt_test::ikey;
  const auto less = [](const std::string& a, const std::string& b) {
    return compare_internal_keys(a, b) < 0;
  };
  std::mt19937_64 rng(23);
  size_t exact = 0;
  size_t next = 0;  // answers that were the block after the one find() named
  size_t tied = 0;  // answers the kept keys moved past the first candidate
  for (size_t n = 1; n <= 60; ++n) {
    for (int alphabet : {2, 3, 26}) {
      std::vector<std::string> keys;
      for (const std::string& u : sorted_keys(rng, n, alphabet)) {
        for (uint64_t s = 1 + rng() % 3; s > 0; --s) keys.push_back(ikey(u, 10 * s + rng() % 5));
      }
      std::sort(keys.begin(), keys.end(), less);
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      const std::vector<std::string_view> views(keys.begin(), keys.end());
      std::vector<uint64_t> offsets{0};
      for (size_t i = 0; i < keys.size(); ++i) offsets.push_back(offsets.back() + 1 + rng() % 9);
      table_index index;
      index.build(views, offsets);
      REQUIRE(index.size() == keys.size());
      for (uint32_t i = 0; i <= index.size(); ++i) REQUIRE(index.offset(i) == offsets[i]);
      std::vector<std::string> users = sorted_keys(rng, 30, alphabet);
      for (const std::string& k : keys) {
        const std::string u(lsmt::detail::extract_user_key(k));
        users.push_back(u);
        users.push_back(u + '\0');
      }
      users.insert(users.end(), {"", "key", "key/", "kez"});
      for (const std::string& u : users) {
        for (const uint64_t seq : {uint64_t{0}, uint64_t{12}, uint64_t{21}, uint64_t{99}}) {
          const std::string target = ikey(u, seq);
          const auto first = static_cast<uint32_t>(
              std::lower_bound(keys.begin(), keys.end(), target, less) - keys.begin());
          const table_index::found at = index.find(target);
          const table_index::found hinted = index.find(target, index.first_candidate(target));
          REQUIRE(hinted.ordinal == at.ordinal);
          REQUIRE(hinted.or_next == at.or_next);
          if (at.or_next) {
            REQUIRE((first == at.ordinal || first == at.ordinal + 1));
            if (first == at.ordinal + 1) ++next;
          } else {
            REQUIRE(first == at.ordinal);
            ++exact;
          }
          if (at.ordinal != index.first_candidate(target)) ++tied;
        }
      }
    }
  }
  REQUIRE(exact > 10000);
  REQUIRE(next > 100);
  REQUIRE(tied > 100);
}

// Offsets take 4 bytes while the data blocks end before 4 GiB and 8 past it; both come back
// whole, and a rebuild from one width to the other leaves nothing of the first.
TEST_CASE("table_index: block offsets below and past 4 GiB", "[fence_index]") {
  using lsmt::detail::table_index;
  using lsmt_test::ikey;
  const std::vector<std::string> keys = {ikey("a", 1), ikey("b", 1), ikey("c", 1)};
  const std::vector<std::string_view> views(keys.begin(), keys.end());
  table_index narrow;
  narrow.build(views, {0, 1, 2, 3});
  table_index wide;
  wide.build(views, {0, 1, 2, uint64_t{1} << 32});
  REQUIRE(wide.bytes() - narrow.bytes() == 4 * sizeof(uint32_t));
  const uint64_t max32 = UINT32_MAX;
  const std::vector<std::pair<std::vector<uint64_t>, bool>> cases = {
      {{0, 4096, 8192, max32}, false},
      {{0, 4096, max32, max32 + 1}, true},
      {{0, max32 + 7, uint64_t{5} << 32, (uint64_t{5} << 32) + 4096}, true},
      {{0, 4096, 8192, 12288}, false}};
  table_index index;  // rebuilt for each case, from wide to narrow at the end
  for (const auto& [offsets, is_wide] : cases) {
    CAPTURE(offsets.back(), is_wide);
    index.build(views, offsets);
    REQUIRE(index.size() == 3);
    for (uint32_t i = 0; i <= 3; ++i) REQUIRE(index.offset(i) == offsets[i]);
    REQUIRE(index.bytes() == (is_wide ? wide : narrow).bytes());
    REQUIRE(index.find(ikey("b", 1)).ordinal == 1);
  }
}
