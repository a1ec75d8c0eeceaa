// tests/mapping_budget_test.cpp - options::max_mapped_bytes: the bytes of mapped tables never
// exceed it, tables past it are read with pread and give the same answers, and a table's bytes
// go back to the budget when its file closes (not before: an iterator may still read it), and a
// table read with pread is mapped by a later read once the budget has room for it (or, if the
// file system will not map it then, stays on pread without failing a read).
#include "lsmt/mapping_budget.hpp"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "forwarding_fs.hpp"
#include "lsmt.hpp"
#include "memory_file.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_util.hpp"

namespace mapping_budget_test_cpp {

using lsmt::detail::charged_file;
using lsmt::detail::mapping_budget;
using lsmt_test::dump;
using lsmt_test::key_of;
using lsmt_test::pattern_value;
using lsmt_test::str_db;
using lsmt_test::temp_dir;

TEST_CASE("mapping budget: takes only what fits, and a charged file gives it back", "[mmap]") {
  auto budget = std::make_shared<mapping_budget>(100);
  CHECK(budget->try_take(60));
  CHECK_FALSE(budget->try_take(41));  // 101 > 100: nothing taken
  CHECK(budget->used() == 60);
  CHECK(budget->try_take(40));
  CHECK_FALSE(budget->try_take(1));
  budget->give_back(40);
  CHECK_FALSE(budget->try_take(0));  // an empty file is never mapped
  CHECK_FALSE(budget->try_take(UINT64_MAX));
  CHECK(budget->used() == 60);
  CHECK(budget->has_room(40));
  CHECK_FALSE(budget->has_room(41));
  CHECK_FALSE(budget->has_room(0));
  CHECK_FALSE(budget->has_room(UINT64_MAX));
  {
    CHECK(budget->try_take(30));
    charged_file f(std::make_unique<lsmt_test::memory_readable_file>(std::string(30, 'x'), true),
                   budget, 30);
    CHECK(f.is_mapped());
    CHECK(f.size() == 30);
    CHECK(f.read(28, 10, nullptr) == "xx");
    CHECK(budget->used() == 90);
  }
  CHECK(budget->used() == 60);
}

namespace {

lsmt::options small_tables(uint64_t max_mapped) {
  lsmt::options o;
  o.memtable_max_bytes = 64 << 10;
  o.target_file_size = 32 << 10;
  o.base_level_bytes = 128 << 10;
  o.block_cache_bytes = 64 << 10;
  o.max_mapped_bytes = max_mapped;
  return o;
}

void fill(str_db& d, std::map<std::string, std::string>& model, int n, uint32_t seed) {
  for (int i = 0; i < n; ++i) {
    const int k = static_cast<int>((static_cast<uint32_t>(i) * 7919u + seed) % 6000u);
    std::string v = pattern_value(seed + static_cast<uint32_t>(i), 60 + k % 90);
    d.put(key_of(k), v);
    model[key_of(k)] = std::move(v);
  }
}

void check_reads(const str_db& d, const std::map<std::string, std::string>& model) {
  CHECK(dump(d) == model);
  for (int k = 0; k < 6000; k += 7) {
    const auto it = model.find(key_of(k));
    const auto got = d.get(key_of(k));
    if (it == model.end()) {
      CHECK_FALSE(got.has_value());
    } else {
      REQUIRE(got.has_value());
      CHECK(*got == it->second);
    }
  }
}

/// Writes a store at dir (through fs, if not null) and returns options for it whose cap has room
/// for the store, but not for it and its replacement at once.
lsmt::options with_pread_tables(const std::string& dir, std::map<std::string, std::string>& model,
                                std::shared_ptr<lsmt::file_system> fs) {
  lsmt::options o = small_tables(UINT64_MAX);
  o.fs = std::move(fs);
  str_db d(dir, o);
  fill(d, model, 4000, 1);
  d.compact();
  const uint64_t first_bytes = d.stats().table_bytes;
  o.max_mapped_bytes = first_bytes + first_bytes / 2;
  return o;
}

/// Replaces every table of d, opened with with_pread_tables()'s options (cap), while an
/// iterator holds the first ones and their charge: some of the new tables are opened for pread.
/// Returns the stats after.
lsmt::stats replace_while_held(str_db& d, std::map<std::string, std::string>& model, uint64_t cap) {
  REQUIRE(d.stats().mapped_bytes == d.stats().table_bytes);
  {
    auto it = d.new_iterator();
    it.seek_to_first();
    fill(d, model, 4000, 77);
    d.compact();
  }
  const lsmt::stats st = d.stats();
  CHECK(st.mapped_bytes <= cap);
  REQUIRE(st.table_bytes <= cap);
  REQUIRE(st.mapped_bytes < st.table_bytes);  // some tables are read with pread
  return st;
}

/// Reads keys first, first + step, ... of the model's range with get() (no iterator, so no
/// read-triggered merge); returns how many answers were wrong.
int wrong_gets(const str_db& d, const std::map<std::string, std::string>& model, int first = 0,
               int step = 1) {
  int wrong = 0;
  for (int k = first; k < 6000; k += step) {
    const auto want = model.find(key_of(k));
    const auto got = d.get(key_of(k));
    if (want == model.end() ? got.has_value() : (!got || *got != want->second)) ++wrong;
  }
  return wrong;
}

/// Forwards to POSIX until `refuse` is set; from then on it answers a request to map a file
/// with a file read with pread (mode pread) or an io_error (mode error), and counts them.
class refusing_fs final : public lsmt_test::forwarding_fs {
 public:
  enum class mode { pread, error };
  explicit refusing_fs(mode m) : mode_(m) {}

  std::unique_ptr<lsmt::readable_file> new_readable_file(const std::string& path,
                                                         bool prefer_mmap) override {
    if (prefer_mmap && refuse.load()) {
      ++refused;
      if (mode_ == mode::error) throw lsmt::io_error("refusing_fs: will not map " + path, EMFILE);
      prefer_mmap = false;
    }
    return forwarding_fs::new_readable_file(path, prefer_mmap);
  }

  std::atomic<bool> refuse{false};
  std::atomic<int> refused{0};

 private:
  const mode mode_;
};

}  // namespace

TEST_CASE("mapping budget: a store maps at most max_mapped_bytes and preads the rest", "[mmap]") {
  temp_dir tmp;
  const uint64_t cap = GENERATE(uint64_t{0}, uint64_t{100} << 10, UINT64_MAX);
  CAPTURE(cap);
  std::map<std::string, std::string> model;
  {
    str_db d(tmp.sub("db"), small_tables(cap));
    for (uint32_t round = 0; round < 6; ++round) {
      fill(d, model, 3000, round * 1000);
      const lsmt::stats st = d.stats();
      CHECK(st.mapped_bytes <= cap);
      check_reads(d, model);
    }
    d.flush();
    d.wait_for_compactions();
    const lsmt::stats st = d.stats();
    REQUIRE(st.tables > 4);
    CHECK(st.mapped_bytes <= cap);
    CHECK(st.mapped_bytes <= st.table_bytes);  // deleted tables gave their bytes back
    if (cap == 0) CHECK(st.mapped_bytes == 0);
    if (cap == UINT64_MAX) CHECK(st.mapped_bytes == st.table_bytes);
    if (cap == uint64_t{100} << 10) {
      CHECK(st.table_bytes > cap);  // so some tables are read with pread...
      CHECK(st.mapped_bytes > 0);   // ...and some through maps
    }
    check_reads(d, model);
  }
  // Reopened: the MANIFEST's tables are opened within the same cap.
  str_db d(tmp.sub("db"), small_tables(cap));
  CHECK(d.stats().mapped_bytes <= cap);
  check_reads(d, model);
}

TEST_CASE("mapping budget: a retired table keeps its bytes while an iterator reads it", "[mmap]") {
  temp_dir tmp;
  std::map<std::string, std::string> model;
  str_db d(tmp.sub("db"), small_tables(UINT64_MAX));
  fill(d, model, 4000, 1);
  d.flush();
  d.wait_for_compactions();
  const uint64_t before = d.stats().mapped_bytes;
  REQUIRE(before == d.stats().table_bytes);
  {
    auto it = d.new_iterator();
    it.seek_to_first();
    REQUIRE(it.valid());
    const std::map<std::string, std::string> old = model;
    fill(d, model, 4000, 77);
    d.compact();  // replaces every table the iterator's version holds
    const lsmt::stats st = d.stats();
    // The iterator's tables are still mapped (it reads them), beside the new ones.
    CHECK(st.mapped_bytes > st.table_bytes);
    std::map<std::string, std::string> seen;
    for (; it.valid(); it.next()) seen.emplace(it.key(), it.value());
    CHECK(seen == old);
  }
  const lsmt::stats st = d.stats();
  CHECK(st.mapped_bytes == st.table_bytes);  // given back once the iterator let go
  check_reads(d, model);
}

TEST_CASE("mapping budget: a table opened for pread is mapped by a read once there is room",
          "[mmap]") {
  temp_dir tmp;
  std::map<std::string, std::string> model;
  const lsmt::options o = with_pread_tables(tmp.sub("db"), model, nullptr);
  str_db d(tmp.sub("db"), o);
  replace_while_held(d, model, o.max_mapped_bytes);
  // An iterator made before the mapping goes on across it (checked at the end).
  auto it = d.new_iterator();
  it.seek_to_first();
  REQUIRE(it.valid());
  // Two threads read every key: the first read of a table with room maps it, once.
  std::atomic<int> wrong{0};
  const auto reader = [&](int first) { wrong += wrong_gets(d, model, first, 2); };
  std::thread a(reader, 0);
  std::thread b(reader, 1);
  a.join();
  b.join();
  CHECK(wrong.load() == 0);
  const lsmt::stats after = d.stats();
  CHECK(after.mapped_bytes == after.table_bytes);
  std::map<std::string, std::string> seen;
  for (; it.valid(); it.next()) seen.emplace(it.key(), it.value());
  CHECK(seen == model);
  check_reads(d, model);
}

TEST_CASE("mapping budget: a table the file system will not map later stays on pread", "[mmap]") {
  using mode = refusing_fs::mode;
  const mode m = GENERATE(mode::pread, mode::error);
  CAPTURE(m == mode::error);
  temp_dir tmp;
  std::map<std::string, std::string> model;
  auto fs = std::make_shared<refusing_fs>(m);
  const lsmt::options o = with_pread_tables(tmp.sub("db"), model, fs);
  str_db d(tmp.sub("db"), o);
  const lsmt::stats before = replace_while_held(d, model, o.max_mapped_bytes);
  fs->refuse = true;
  CHECK(wrong_gets(d, model) == 0);  // a refusal or an error while mapping never fails a read
  const int refused = fs->refused.load();
  CHECK(refused >= 1);                                   // tables with room tried to map...
  CHECK(refused <= static_cast<int>(before.tables));     // ...each at most once
  CHECK(d.stats().mapped_bytes == before.mapped_bytes);  // and the refused ones hold no charge
  CHECK(wrong_gets(d, model) == 0);
  CHECK(fs->refused.load() == refused);  // the tries are over
  fs->refuse = false;
  CHECK(wrong_gets(d, model) == 0);
  CHECK(d.stats().mapped_bytes == before.mapped_bytes);  // for the table's life
  d.put(key_of(1), "after");                             // the store is still writable
  model[key_of(1)] = "after";
  d.flush();
  check_reads(d, model);
}

}  // namespace mapping_budget_test_cpp
