// Tests for write_tables() in table_writer.hpp: which versions a flush or merge may drop
// (smallest_snapshot, drop_tombstones), where the output is cut into files (target_size,
// max_files, never inside a user key), the metadata returned, and cancellation. Input is a
// memtable of hand-built entries; the tables are written to an in-memory fault_fs and read back
// with table_reader. A randomized test checks that every read at a snapshot >= the smallest one
// answers as before and that exactly the entries some such read can see are kept (LSMT_TEST_SEED
// overrides its fixed seed).
#include "lsmt/table_writer.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fault_fs.hpp"
#include "ikey.hpp"
#include "lsmt/memtable.hpp"
#include "lsmt/sstable_reader.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace table_writer_test_cpp {

namespace {

using lsmt::detail::extract_sequence;
using lsmt::detail::extract_type;
using lsmt::detail::extract_user_key;
using lsmt::detail::make_lookup_key;
using lsmt::detail::max_sequence;
using lsmt::detail::memtable;
using lsmt::detail::table_meta;
using lsmt::detail::table_options;
using lsmt::detail::table_reader;
using lsmt::detail::table_write_cancelled;
using lsmt::detail::table_write_plan;
using lsmt::detail::value_type;
using lsmt::detail::write_tables;

constexpr value_type del = value_type::deletion;
constexpr value_type val = value_type::value;

// "a@9=x" for a value, "a@8:del" for a deletion.
std::string show(std::string_view ikey, std::string_view value) {
  std::string s(extract_user_key(ikey));
  s += "@" + std::to_string(extract_sequence(ikey));
  if (extract_type(ikey) == del) return s + ":del";
  return s + "=" + std::string(value);
}

using model = std::map<std::string, std::string, lsmt_test::ikey_less>;  // ikey -> value

struct output {
  std::vector<table_meta> metas;
  std::vector<uint64_t> created;
  std::vector<std::vector<std::string>> files;  // the entries of each table, shown
  model entries;                                // the entries of every table
  std::vector<std::string> all() const {
    std::vector<std::string> out;
    for (const auto& f : files) out.insert(out.end(), f.begin(), f.end());
    return out;
  }
};

// Writes `mem` from `start` (a user key, or the first entry) with `plan` into an in-memory file
// system and reads every table back, checking its metadata against the file.
output write_back(const memtable& mem, const table_write_plan& plan,
                  const table_options& topts = {}, const std::string& start = {}) {
  lsmt_test::fault_fs fs;
  fs.create_directory("/db", std::filesystem::perms::owner_all);
  auto it = mem.new_iterator();
  if (start.empty()) {
    it->seek_to_first();
  } else {
    it->seek(make_lookup_key(start, max_sequence));
  }
  uint64_t next_number = 10;
  auto path_of = [](uint64_t n) { return "/db/" + std::to_string(n) + ".sst"; };
  auto new_file = [&] {
    const uint64_t n = next_number++;
    return std::make_pair(n, path_of(n));
  };
  output out;
  out.metas = write_tables(*it, plan, topts, 99, fs, new_file, out.created);
  REQUIRE(out.created.size() == out.metas.size());
  REQUIRE(fs.list_directory("/db").size() == out.metas.size());
  for (size_t i = 0; i < out.metas.size(); ++i) {
    const table_meta& m = out.metas[i];
    REQUIRE(m.number == out.created[i]);
    auto file = fs.new_readable_file(path_of(m.number), true);
    REQUIRE(m.size == file->size());
    auto table = table_reader::open(std::move(file), m.number, topts, nullptr);
    // The footer says which table this is (table_format.hpp, "Identity").
    CHECK(table->identity().number == m.number);
    CHECK(table->identity().store_id == 99);
    CHECK(table->identity().key_range_crc ==
          lsmt::detail::key_range_checksum(m.smallest, m.largest));
    auto ti = table->new_iterator();
    std::vector<std::string> entries;
    std::string first;
    std::string last;
    for (ti->seek_to_first(); ti->valid(); ti->next()) {
      if (entries.empty()) first.assign(ti->key());
      last.assign(ti->key());
      entries.push_back(show(ti->key(), ti->value()));
      REQUIRE(out.entries.emplace(ti->key(), ti->value()).second);
    }
    REQUIRE(!entries.empty());
    REQUIRE(m.entries == entries.size());
    REQUIRE(m.smallest == first);
    REQUIRE(m.largest == last);
    out.files.push_back(std::move(entries));
  }
  return out;
}

table_write_plan plan_of(uint64_t smallest_snapshot, bool drop_tombstones) {
  table_write_plan p;
  p.smallest_snapshot = smallest_snapshot;
  p.drop_tombstones = drop_tombstones;
  return p;
}

using strings = std::vector<std::string>;

// The newest entry of user_key with sequence <= t, or end().
model::const_iterator newest_at(const model& m, const std::string& user_key, uint64_t t) {
  auto it = m.lower_bound(make_lookup_key(user_key, t));
  return it != m.end() && extract_user_key(it->first) == user_key ? it : m.end();
}

// What a read of user_key at snapshot t returns: "-" when absent or deleted.
std::string read_at(const model& m, const std::string& user_key, uint64_t t) {
  auto it = newest_at(m, user_key, t);
  return it == m.end() || extract_type(it->first) == del ? "-" : it->second;
}

}  // namespace

TEST_CASE("table-writer: without snapshots only the newest version of each key is kept",
          "[table-writer]") {
  memtable mem;
  mem.add(9, val, "a", "a9");
  mem.add(7, val, "a", "a7");
  mem.add(5, val, "a", "a5");
  mem.add(8, del, "b", "");
  mem.add(4, val, "b", "b4");
  mem.add(6, val, "c", "c6");
  CHECK(write_back(mem, plan_of(max_sequence, false)).all() ==
        strings{"a@9=a9", "b@8:del", "c@6=c6"});
  // drop_tombstones: the deletion and everything under it go; so does the key.
  CHECK(write_back(mem, plan_of(max_sequence, true)).all() == strings{"a@9=a9", "c@6=c6"});
  // The default plan is "no snapshot, keep tombstones".
  CHECK(write_back(mem, table_write_plan{}).all() == strings{"a@9=a9", "b@8:del", "c@6=c6"});
}

TEST_CASE("table-writer: every version a live snapshot can see is kept", "[table-writer]") {
  memtable mem;
  for (uint64_t seq : {1, 3, 5, 7, 9}) mem.add(seq, val, "k", "v" + std::to_string(seq));
  // A reader at smallest_snapshot S (or later) sees the newest version <= S and everything newer.
  CHECK(write_back(mem, plan_of(0, false)).all() ==
        strings{"k@9=v9", "k@7=v7", "k@5=v5", "k@3=v3", "k@1=v1"});
  CHECK(write_back(mem, plan_of(1, false)).all() ==
        strings{"k@9=v9", "k@7=v7", "k@5=v5", "k@3=v3", "k@1=v1"});
  CHECK(write_back(mem, plan_of(3, false)).all() ==
        strings{"k@9=v9", "k@7=v7", "k@5=v5", "k@3=v3"});
  CHECK(write_back(mem, plan_of(6, false)).all() == strings{"k@9=v9", "k@7=v7", "k@5=v5"});
  CHECK(write_back(mem, plan_of(7, false)).all() == strings{"k@9=v9", "k@7=v7"});
  CHECK(write_back(mem, plan_of(9, false)).all() == strings{"k@9=v9"});
  CHECK(write_back(mem, plan_of(100, true)).all() == strings{"k@9=v9"});
}

TEST_CASE("table-writer: a deletion is dropped only if every reader sees it and drop_tombstones",
          "[table-writer]") {
  memtable mem;
  mem.add(9, val, "d", "d9");
  mem.add(5, del, "d", "");
  mem.add(2, val, "d", "d2");
  mem.add(6, del, "e", "");
  mem.add(3, val, "e", "e3");
  // S = 4: both deletions are newer than the oldest reader, which still sees d@2 and e@3.
  CHECK(write_back(mem, plan_of(4, true)).all() ==
        strings{"d@9=d9", "d@5:del", "d@2=d2", "e@6:del", "e@3=e3"});
  // S = 5: d@5 is seen by every reader: it goes with drop_tombstones, and d@2 under it either way.
  CHECK(write_back(mem, plan_of(5, true)).all() == strings{"d@9=d9", "e@6:del", "e@3=e3"});
  CHECK(write_back(mem, plan_of(5, false)).all() ==
        strings{"d@9=d9", "d@5:del", "e@6:del", "e@3=e3"});
  // S = 6: the same for e@6, exactly at the boundary.
  CHECK(write_back(mem, plan_of(6, true)).all() == strings{"d@9=d9"});
  CHECK(write_back(mem, plan_of(6, false)).all() == strings{"d@9=d9", "d@5:del", "e@6:del"});
}

TEST_CASE("table-writer: older deletions under a visible version are hidden like values",
          "[table-writer]") {
  memtable mem;
  mem.add(8, val, "f", "f8");
  mem.add(6, del, "f", "");
  mem.add(4, del, "f", "");
  mem.add(2, val, "f", "f2");
  CHECK(write_back(mem, plan_of(max_sequence, false)).all() == strings{"f@8=f8"});
  CHECK(write_back(mem, plan_of(7, false)).all() == strings{"f@8=f8", "f@6:del"});
  CHECK(write_back(mem, plan_of(5, false)).all() == strings{"f@8=f8", "f@6:del", "f@4:del"});
  CHECK(write_back(mem, plan_of(5, true)).all() == strings{"f@8=f8", "f@6:del"});
}

TEST_CASE("table-writer: writing starts at the iterator's position", "[table-writer]") {
  memtable mem;
  for (const char* k : {"a", "b", "c", "d"}) mem.add(1, val, k, k);
  CHECK(write_back(mem, plan_of(max_sequence, false), {}, "c").all() == strings{"c@1=c", "d@1=d"});
}

TEST_CASE("table-writer: nothing left to write creates no file", "[table-writer]") {
  memtable empty;
  output out = write_back(empty, plan_of(max_sequence, true));
  CHECK(out.metas.empty());
  CHECK(out.created.empty());

  memtable deleted;
  deleted.add(3, del, "x", "");
  deleted.add(2, val, "x", "x2");
  deleted.add(1, del, "y", "");
  out = write_back(deleted, plan_of(max_sequence, true));
  CHECK(out.metas.empty());
  CHECK(out.created.empty());
}

TEST_CASE("table-writer: output is cut at target_size, only between user keys", "[table-writer]") {
  memtable mem;
  for (uint64_t seq : {1, 2, 3}) mem.add(seq, val, "a", "a" + std::to_string(seq));
  mem.add(4, val, "b", "b4");
  mem.add(5, val, "c", "c5");
  mem.add(6, del, "c", "");
  table_options tiny;
  tiny.block_size = 1;  // every entry is a block, so the size grows with every entry
  table_write_plan plan = plan_of(0, false);  // keep everything
  plan.target_size = 1;                       // cut at every chance

  output out = write_back(mem, plan, tiny);
  REQUIRE(out.files.size() == 3);
  CHECK(out.files[0] == strings{"a@3=a3", "a@2=a2", "a@1=a1"});
  CHECK(out.files[1] == strings{"b@4=b4"});
  CHECK(out.files[2] == strings{"c@6:del", "c@5=c5"});
  CHECK(out.created == std::vector<uint64_t>{10, 11, 12});

  plan.max_files = 2;  // the last file takes the rest
  out = write_back(mem, plan, tiny);
  REQUIRE(out.files.size() == 2);
  CHECK(out.files[0] == strings{"a@3=a3", "a@2=a2", "a@1=a1"});
  CHECK(out.files[1] == strings{"b@4=b4", "c@6:del", "c@5=c5"});

  plan.max_files = 1;
  CHECK(write_back(mem, plan, tiny).files.size() == 1);
  plan.max_files = 0;
  plan.target_size = 0;  // a single file
  CHECK(write_back(mem, plan, tiny).files.size() == 1);
  // A file is cut only once it reached target_size.
  plan.target_size = 1 << 20;
  CHECK(write_back(mem, plan, tiny).files.size() == 1);
}

TEST_CASE("table-writer: a file of half target_size or more is cut after a boundary key",
          "[table-writer]") {
  memtable mem;
  char key[16];  // room for any int, so -Wformat-truncation has nothing to say
  for (int i = 0; i < 40; ++i) {
    std::snprintf(key, sizeof key, "k%02d", i);
    mem.add(static_cast<uint64_t>(i + 1), val, key, std::string(100, 'v'));
  }
  mem.add(41, val, "k25", "newer");  // two versions of the boundary key stay in one file
  table_options tiny;
  tiny.block_size = 1;  // every entry is a block, so the size grows with every entry
  table_write_plan plan = plan_of(0, false);
  plan.target_size = 1 << 20;
  const uint64_t whole = write_back(mem, plan, tiny).metas.at(0).size;
  // Half the target is reached near k20. The boundaries before that are ignored; the first after
  // it ends the file, whether it is a key of the input (k25) or falls between two (k33a); the
  // last file takes the rest.
  plan.target_size = whole;
  plan.boundaries = {"k05", "k25", "k33a"};
  output out = write_back(mem, plan, tiny);
  REQUIRE(out.files.size() == 2);
  CHECK(out.files[0].front() == "k00@1=" + std::string(100, 'v'));
  CHECK(out.files[0].back() == "k25@26=" + std::string(100, 'v'));
  CHECK(out.files[0][out.files[0].size() - 2] == "k25@41=newer");
  CHECK(out.files[1].front() == "k26@27=" + std::string(100, 'v'));
  CHECK(out.files[1].size() == 14);
  plan.boundaries = {"k05", "k19a", "k20a", "k21a", "k22a", "k23a", "k24a", "k26a", "k33a"};
  out = write_back(mem, plan, tiny);
  // With a boundary after every key near the half, the first file ends at the first key that
  // brings it to half the target.
  REQUIRE(out.files.size() >= 2);
  CHECK(out.metas[0].size >= whole / 2);
  const std::string last = out.files[0].back().substr(0, 3);
  CHECK((last >= "k19" && last <= "k24"));
  // Without boundaries the file grows to the target: here, one file.
  plan.boundaries.clear();
  CHECK(write_back(mem, plan, tiny).files.size() == 1);
  // Boundaries never cut a file below half the target.
  plan.target_size = whole * 4;
  plan.boundaries = {"k05", "k25", "k33a"};
  CHECK(write_back(mem, plan, tiny).files.size() == 1);
}

TEST_CASE("table-writer: cancel stops the write and every created file is reported",
          "[table-writer]") {
  memtable mem;
  for (const char* k : {"a", "b", "c"}) mem.add(1, val, k, k);
  lsmt_test::fault_fs fs;
  std::atomic<bool> cancel{true};
  table_write_plan plan;
  plan.cancelled = [&] { return cancel.load(); };
  std::vector<uint64_t> created;
  uint64_t number = 1;
  auto new_file = [&] {
    ++number;
    return std::make_pair(number, "/" + std::to_string(number) + ".sst");
  };
  auto it = mem.new_iterator();
  it->seek_to_first();
  CHECK_THROWS_AS(write_tables(*it, plan, {}, 99, fs, new_file, created), table_write_cancelled);
  CHECK(created.empty());
  CHECK(fs.list_directory("/").empty());

  // Cancelled while the first file is open: the caller learns of it and deletes it.
  cancel = false;
  auto cancel_after_first = [&] {
    cancel = true;
    return new_file();
  };
  it->seek_to_first();
  CHECK_THROWS_AS(write_tables(*it, plan, {}, 99, fs, cancel_after_first, created),
                  table_write_cancelled);
  CHECK(created == std::vector<uint64_t>{2});
  CHECK(fs.list_directory("/") == strings{"2.sst"});
}

TEST_CASE("table-writer: random merges keep what readers at or after the smallest snapshot see",
          "[table-writer]") {
  lsmt_test::seeded_rng rng(lsmt_test::env_u64("LSMT_TEST_SEED", 20240611));
  INFO("LSMT_TEST_SEED=" << rng.seed());
  for (int iter = 0; iter < 600; ++iter) {
    // Up to 40 entries over 5 keys: several versions each, deletions among them.
    memtable mem;
    model input;
    const uint64_t n = rng.uniform(0, 40);
    for (uint64_t seq = 1; seq <= n; ++seq) {
      const std::string key(1, static_cast<char>('a' + rng.uniform(0, 4)));
      const value_type t = rng.chance(0.3) ? del : val;
      const std::string v = t == del ? "" : "v" + std::to_string(seq);
      mem.add(seq, t, key, v);
      input.emplace(lsmt_test::ikey(key, seq, t), v);
    }
    table_write_plan plan = plan_of(rng.uniform(0, n + 1), rng.chance(0.5));
    table_options topts;
    topts.block_size = rng.uniform(1, 64);
    plan.target_size = rng.uniform(0, 200);
    plan.max_files = rng.uniform(0, 3);
    CAPTURE(iter, n, plan.smallest_snapshot, plan.drop_tombstones, plan.target_size, plan.max_files,
            topts.block_size);
    const output out = write_back(mem, plan, topts);
    const uint64_t smallest = plan.smallest_snapshot;

    // Kept: each entry that a read at some t >= S sees (is the newest of its key <= t), minus the
    // deletions every reader sees when drop_tombstones is set.
    model want;
    for (const auto& [k, v] : input) {
      const std::string user(extract_user_key(k));
      const uint64_t seq = extract_sequence(k);
      if (plan.drop_tombstones && extract_type(k) == del && seq <= smallest) continue;
      bool seen = false;
      for (uint64_t t = std::max(seq, smallest); t <= n + 1 && !seen; ++t) {
        seen = newest_at(input, user, t)->first == k;
      }
      if (seen) want.emplace(k, v);
    }
    REQUIRE(out.entries == want);
    // Every read at a snapshot >= S answers as it did before.
    for (char c = 'a'; c <= 'e'; ++c) {
      for (uint64_t t = smallest; t <= n + 1; ++t) {
        CAPTURE(c, t);
        REQUIRE(read_at(out.entries, std::string(1, c), t) == read_at(input, std::string(1, c), t));
      }
    }
    // No user key is split across files, files are in key order, max_files holds.
    if (plan.max_files != 0) REQUIRE(out.files.size() <= plan.max_files);
    for (size_t f = 1; f < out.metas.size(); ++f) {
      REQUIRE(extract_user_key(out.metas[f - 1].largest) < extract_user_key(out.metas[f].smallest));
    }
  }
}

// The shadowing sampler's hook (shadowing.hpp): the first user key written into each file and
// every sample_every-th after it, once per user key however many versions it keeps, and never a
// key whose versions were all dropped.
TEST_CASE("table-writer: samples the first key of each file and every n-th after it",
          "[table-writer]") {
  memtable mem;
  for (int i = 0; i < 200; ++i) {
    char key[16];  // room for any int (-Wformat-truncation)
    std::snprintf(key, sizeof key, "k%03d", i);
    const uint64_t seq = 1000 + static_cast<uint64_t>(i) * 4;
    mem.add(seq + 1, i % 7 == 0 ? del : val, key, i % 7 == 0 ? "" : std::string(40, 'n'));
    mem.add(seq, val, key, std::string(40, 'o'));
  }
  // Below key 100 every reader sees the newest version: the old one goes, and so do the keys
  // whose newest version is a deletion. From key 100 on, both versions stay.
  table_write_plan plan = plan_of(1000 + 100 * 4, true);
  plan.target_size = 2048;
  plan.sample_every = 3;
  std::vector<std::pair<size_t, std::string>> sampled;
  plan.sample = [&](size_t file, std::string_view user_key) {
    sampled.emplace_back(file, std::string(user_key));
  };
  const output out = write_back(mem, plan);
  REQUIRE(out.files.size() >= 3);
  std::vector<std::pair<size_t, std::string>> expected;
  for (size_t f = 0; f < out.files.size(); ++f) {
    std::vector<std::string> keys;  // the file's user keys, in order
    for (const std::string& e : out.files[f]) {
      const std::string user_key = e.substr(0, e.find('@'));
      if (keys.empty() || keys.back() != user_key) keys.push_back(user_key);
    }
    for (size_t i = 0; i < keys.size(); i += 3) expected.emplace_back(f, keys[i]);
  }
  CHECK(sampled == expected);
  for (const auto& [file, key] : sampled) {
    const int i = std::stoi(key.substr(1));
    CHECK((i >= 100 || i % 7 != 0));
  }
}

}  // namespace table_writer_test_cpp
