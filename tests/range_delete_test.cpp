// tests/range_delete_test.cpp - range deletions (db::delete_range): the fragmented set against a
// plain list of tombstones, the table format (version 3, bounds, damage), table_writer's cuts
// and drops, and the store against a model with snapshots, iterators, transactions, leveled
// merges and reopens.
//
// Environment: LSMT_TEST_SEED (printed on failure), LSMT_RANGE_DELETE_SECONDS (the time budget
// of the randomized store test, default 6). Floor: that test must apply at least 500
// operations, 25 of them range deletes, and see range deletions in tables cut at file
// boundaries, or it fails.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fault_fs.hpp"
#include "ikey.hpp"
#include "lsmt.hpp"
#include "lsmt/memtable.hpp"
#include "lsmt/range_tombstones.hpp"
#include "lsmt/sstable_builder.hpp"
#include "lsmt/sstable_reader.hpp"
#include "lsmt/table_writer.hpp"
#include "memory_file.hpp"
#include "store_util.hpp"
#include "test_catch.hpp"
#include "test_env.hpp"
#include "test_util.hpp"

namespace range_delete_test_cpp {

namespace {

namespace d = lsmt::detail;
using lsmt_test::ikey;
using lsmt_test::str_db;
using model_t = std::map<std::string, std::string>;

struct tombstone {
  std::string begin, end;
  uint64_t seq;
};

// The answer a plain list gives: the newest seq <= snapshot over key, or 0.
uint64_t naive_covering(const std::vector<tombstone>& ts, const std::string& key,
                        uint64_t snapshot) {
  uint64_t best = 0;
  for (const tombstone& t : ts) {
    if (t.begin <= key && key < t.end && t.seq <= snapshot) best = std::max(best, t.seq);
  }
  return best;
}

std::string small_key(lsmt_test::seeded_rng& rng) {
  static const char alphabet[] = {'\0', 'a', 'b', 'c', '\xff'};
  std::string k(rng.uniform(0, 3), '\0');
  for (char& c : k) c = alphabet[rng.uniform(0, sizeof alphabet - 1)];
  return k;
}

// The fragments are sorted, non-empty, non-overlapping, with ascending unique sequences.
void check_fragments(const d::range_tombstones& set) {
  std::string prev_end;
  bool first = true;
  set.for_each([&](std::string_view b, std::string_view e, const std::vector<uint64_t>& seqs) {
    REQUIRE(std::string(b) < std::string(e));
    if (!first) REQUIRE(prev_end <= std::string(b));
    REQUIRE(!seqs.empty());
    REQUIRE(std::adjacent_find(seqs.begin(), seqs.end(), std::greater_equal<>()) == seqs.end());
    prev_end.assign(e);
    first = false;
  });
}

TEST_CASE("range deletions: the set counts the memory of every sequence it stores",
          "[range_delete]") {
  d::range_tombstones set;
  for (int i = 0; i < 100; ++i) set.add(std::to_string(100 + i), std::to_string(100 + i) + "x", 1);
  const size_t before = set.memory_usage();
  // Each wide deletion adds its sequence to all 100 fragments: at least 8 bytes each.
  for (uint64_t s = 2; s < 12; ++s) set.add("0", "9", s);
  REQUIRE(set.memory_usage() >= before + 10 * 100 * sizeof(uint64_t));
}

TEST_CASE("range deletions: the fragmented set answers like a list of tombstones",
          "[range_delete]") {
  LSMT_TEST_RNG(rng);
  for (int round = 0; round < 300; ++round) {
    d::range_tombstones set;
    std::vector<tombstone> naive;
    const size_t n = rng.uniform(0, 24);
    for (size_t i = 0; i < n; ++i) {
      tombstone t{small_key(rng), small_key(rng), rng.uniform(1, 60)};
      set.add(t.begin, t.end, t.seq);
      if (t.begin < t.end) naive.push_back(t);
    }
    REQUIRE(set.count() == naive.size());
    check_fragments(set);
    d::range_tombstones copy;
    copy.add_all(set);  // re-adding the fragments covers the same keys
    for (int q = 0; q < 60; ++q) {
      const std::string k = small_key(rng);
      const uint64_t snap = rng.uniform(0, 70);
      const uint64_t want = naive_covering(naive, k, snap);
      REQUIRE(set.covering(k, snap) == want);
      REQUIRE(copy.covering(k, snap) == want);
    }
  }
}

// ---- the table format ---------------------------------------------------------------------

using lsmt_test::memory_readable_file;
using lsmt_test::memory_writable_file;

std::shared_ptr<d::table_reader> open_bytes(const std::string& bytes, bool mapped) {
  return d::table_reader::open(std::make_unique<memory_readable_file>(bytes, mapped), 7, {},
                               mapped ? nullptr : std::make_shared<d::block_cache>(1 << 16));
}

TEST_CASE("range deletions: a table keeps them in a version 3 block, inside its bounds",
          "[range_delete]") {
  std::string bytes;
  d::table_builder b({}, std::make_unique<memory_writable_file>(&bytes), 7, 1);
  b.add(ikey("m", 5), "v");
  b.add_range_deletion("a", "c", 9);
  b.add_range_deletion("a", "c", 4);
  b.add_range_deletion("x", std::string("y\0", 2), 3);
  // Out of order: refused.
  REQUIRE_THROWS_AS(b.add_range_deletion("b", "d", 2), lsmt::invalid_argument_error);
  REQUIRE_THROWS_AS(b.add_range_deletion("z", "z", 2), lsmt::invalid_argument_error);
  b.finish();
  REQUIRE(b.range_deletion_count() == 3);
  // Bounds: (a, max, value) .. (claim("y\0") = "y", 0, deletion).
  // The bound's type is `value`, as every lsmt writes it (internal_key.hpp,
  // value_type_for_bound), not the seek type.
  REQUIRE(b.smallest_key() == ikey("a", d::max_sequence, d::value_type::value));
  REQUIRE(b.largest_key() == ikey("y", 0, d::value_type::deletion));
  // A version 3 footer (84 bytes).
  REQUIRE(d::decode_fixed32(bytes.data() + bytes.size() - 16) == 3);
  for (const bool mapped : {true, false}) {
    auto t = open_bytes(bytes, mapped);
    REQUIRE(t->range_deletions() != nullptr);
    const d::range_tombstones& set = *t->range_deletions();
    CHECK(set.count() == 3);
    CHECK(set.covering("b", 100) == 9);
    CHECK(set.covering("b", 8) == 4);
    CHECK(set.covering("c", 100) == 0);
    CHECK(set.covering("y", 100) == 3);
    CHECK(set.covering(std::string("y\0", 2), 100) == 0);
    CHECK(t->identity().key_range_crc == d::key_range_checksum(b.smallest_key(), b.largest_key()));
    // The point entry reads as before.
    d::value_type type{};
    std::string value;
    uint64_t seq = 0;
    CHECK(t->get(d::make_lookup_key("m", 10), &type, &value, &seq));
    CHECK(value == "v");
  }
  // Every flipped byte of the range-deletion block or footer is refused at open (the block is
  // checksummed like the others); none opens with other deletions.
  const size_t footer_at = bytes.size() - d::footer_v3_size;
  d::table_footer f;
  REQUIRE(d::decode_footer(bytes.data() + footer_at, d::footer_v3_size, &f) == nullptr);
  REQUIRE(f.has_range_dels);
  for (uint64_t i = f.range_del.offset; i < f.range_del.offset + f.range_del.size + 5; ++i) {
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    CAPTURE(i);
    REQUIRE_THROWS_AS(open_bytes(bad, true), lsmt::corruption_error);
  }
}

TEST_CASE("range deletions: a table without them stays version 2 and has none", "[range_delete]") {
  std::string bytes;
  d::table_builder b({}, std::make_unique<memory_writable_file>(&bytes), 7, 1);
  b.add(ikey("k", 1), "v");
  b.finish();
  REQUIRE(d::decode_fixed32(bytes.data() + bytes.size() - 16) == 2);
  REQUIRE(open_bytes(bytes, true)->range_deletions() == nullptr);
}

// ---- table_writer ---------------------------------------------------------------------------

struct written {
  std::vector<d::table_meta> metas;
  std::vector<std::shared_ptr<d::table_reader>> tables;
};

// Writes mem's points and `dels` with plan into tables of about target bytes.
written write_all(const d::memtable& mem, const d::range_tombstones& dels, d::table_write_plan plan,
                  uint64_t target) {
  lsmt_test::fault_fs fs;
  fs.create_directory("/db", std::filesystem::perms::owner_all);
  auto it = mem.new_iterator();
  it->seek_to_first();
  plan.range_dels = &dels;
  plan.target_size = target;
  uint64_t next = 10;
  std::vector<uint64_t> created;
  written out;
  d::table_options topts;
  topts.block_size = 256;
  out.metas = d::write_tables(
      *it, plan, topts, 99, fs,
      [&] {
        const uint64_t n = next++;
        return std::make_pair(n, "/db/" + std::to_string(n) + ".sst");
      },
      created);
  for (const d::table_meta& m : out.metas) {
    auto t = d::table_reader::open(
        fs.new_readable_file("/db/" + std::to_string(m.number) + ".sst", true), m.number, topts,
        nullptr);
    REQUIRE(t->identity().key_range_crc == d::key_range_checksum(m.smallest, m.largest));
    out.tables.push_back(std::move(t));
  }
  return out;
}

std::string key3(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%03d", i);
  return buf;
}

TEST_CASE("range deletions: table_writer cuts them at file boundaries and drops what they cover",
          "[range_delete]") {
  d::memtable mem;
  for (int i = 0; i < 300; ++i)
    mem.add(10 + static_cast<uint64_t>(i), d::value_type::value, key3(i), std::string(40, 'v'));
  d::range_tombstones dels;
  dels.add("k050", "k250", 500);  // newer than every point: covers k050..k249
  dels.add("k100", "k120", 5);    // older than every point: covers nothing
  dels.add("a", "b", 600);        // before every point
  dels.add("z", "zz", 700);       // after every point

  SECTION("no snapshot below them: covered points go, deletions stay, cut at each file") {
    d::table_write_plan plan;
    plan.smallest_snapshot = 1000;
    const written w = write_all(mem, dels, plan, 1024);
    REQUIRE(w.metas.size() >= 3);
    uint64_t points = 0;
    for (size_t i = 0; i < w.metas.size(); ++i) {
      points += w.metas[i].entries;
      if (i > 0) {  // bounds never share a user key
        REQUIRE(d::compare_user_keys(d::extract_user_key(w.metas[i - 1].largest),
                                     d::extract_user_key(w.metas[i].smallest)) < 0);
      }
    }
    REQUIRE(points == 100);  // k000..k049 and k250..k299
    // Together the files' deletions cover what the input's did, above every snapshot's need:
    // the newest visible one over each key.
    for (const std::string k :
         {"a", "a1", "k050", "k100", "k101", "k199", "k249", "k250", "z", "z5", "zz", "k249\xff"}) {
      uint64_t got = 0;
      for (const auto& t : w.tables) {
        if (t->range_deletions()) got = std::max(got, t->range_deletions()->covering(k, 1000));
      }
      CAPTURE(k);
      REQUIRE(got == dels.covering(k, 1000));
    }
    // The first file holds "a".."b", the last "z".."zz".
    REQUIRE(d::extract_user_key(w.metas.front().smallest) == "a");
    REQUIRE(d::extract_user_key(w.metas.back().largest) == "zz");
  }
  SECTION("nothing older outside: the deletions covering nothing more go") {
    d::table_write_plan plan;
    plan.smallest_snapshot = 1000;
    plan.older_outside_range = [](std::string_view, std::string_view) { return false; };
    const written w = write_all(mem, dels, plan, 1024);
    for (const auto& t : w.tables) REQUIRE(t->range_deletions() == nullptr);
  }
  SECTION("a snapshot between: what it sees is kept") {
    d::table_write_plan plan;
    plan.smallest_snapshot = 200;  // sees k000..k189 (seq 10..199) and none of the deletions
    plan.older_outside_range = [](std::string_view, std::string_view) { return false; };
    const written w = write_all(mem, dels, plan, 1 << 20);
    REQUIRE(w.metas.size() == 1);
    REQUIRE(w.metas[0].entries == 300);  // nothing dropped: every point is visible to it
    const auto& kept = w.tables[0]->range_deletions();
    REQUIRE(kept != nullptr);
    // Above the snapshot: kept. The one at 5 covers nothing older outside: dropped.
    CHECK(kept->covering("k110", 1000) == 500);
    CHECK(kept->covering("k110", 499) == 0);
    CHECK(kept->covering("z", 1000) == 700);
  }
  SECTION("only deletions: a file of their own") {
    d::memtable empty;
    d::table_write_plan plan;
    const written w = write_all(empty, dels, plan, 1024);
    REQUIRE(w.metas.size() == 1);
    REQUIRE(w.metas[0].entries == 0);
    // One per fragment: of the two over k100..k120, the newest (no snapshot needs the other).
    REQUIRE(w.tables[0]->range_deletions()->count() == 5);
  }
}

// ---- the store ------------------------------------------------------------------------------

lsmt::options leveled_options() {
  lsmt::options o;
  o.memtable_max_entries = 24;
  o.compaction_interval = 2;
  o.minimum_sstables = 1;
  o.block_size = 1024;
  o.target_file_size = 1024;
  o.base_level_bytes = 2048;
  o.level_size_ratio = 2;
  return o;
}

TEST_CASE("range deletions: delete_range hides keys at once, keeps snapshots, survives reopen",
          "[range_delete]") {
  lsmt_test::temp_dir dir(lsmt_test::store_base_dir(), "lsmt-test-rangedel");
  {
    str_db db(dir.path(), leveled_options());
    for (int i = 0; i < 400; ++i) db.put(key3(i), "v" + std::to_string(i));
    db.flush();
    lsmt::snapshot before = db.get_snapshot();
    auto early = db.new_iterator();  // an iterator is a snapshot too
    db.delete_range(key3(100), key3(300));
    db.delete_range(key3(50), key3(50));  // empty: nothing
    db.delete_range(key3(60), key3(55));  // reversed: nothing
    CHECK_FALSE(db.get(key3(100)));
    CHECK_FALSE(db.get(key3(299)));
    CHECK(db.get(key3(99)) == std::optional<std::string>("v99"));
    CHECK(db.get(key3(300)) == std::optional<std::string>("v300"));
    CHECK(db.get(key3(50)));
    CHECK(db.scan().to_vector().size() == 200);
    lsmt::read_options ro;
    ro.snap = &before;
    CHECK(db.get(key3(150), ro) == std::optional<std::string>("v150"));
    CHECK(db.scan(ro).to_vector().size() == 400);
    size_t seen = 0;
    for (early.seek_to_first(); early.valid(); early.next()) ++seen;
    CHECK(seen == 400);
    // Backward and seeks skip the range too.
    auto it = db.new_iterator();
    it.seek(key3(100));
    REQUIRE(it.valid());
    CHECK(it.key() == key3(300));
    it.prev();
    REQUIRE(it.valid());
    CHECK(it.key() == key3(99));
    // A newer put inside the range shows.
    db.put(key3(200), "again");
    CHECK(db.get(key3(200)) == std::optional<std::string>("again"));
    CHECK(db.stats().memtable_range_deletions == 1);
    db.flush();
    CHECK(db.stats().table_range_deletions >= 1);
    CHECK(db.get(key3(200)) == std::optional<std::string>("again"));
    CHECK_FALSE(db.get(key3(201)));
    before.release();
  }
  str_db db(dir.path(), leveled_options());
  CHECK_FALSE(db.get(key3(201)));
  CHECK(db.get(key3(200)) == std::optional<std::string>("again"));
  CHECK(db.scan().to_vector().size() == 201);
  CHECK(db.verify().ok());
}

TEST_CASE("range deletions: a deletion only in the log is replayed at open", "[range_delete]") {
  lsmt_test::temp_dir dir(lsmt_test::store_base_dir(), "lsmt-test-rangedel-log");
  {
    str_db db(dir.path());
    for (int i = 0; i < 50; ++i) db.put(key3(i), "v");
    db.flush();
    db.delete_range(key3(10), key3(20));
    REQUIRE(db.stats().table_range_deletions == 0);
  }
  str_db db(dir.path());
  CHECK(db.scan().to_vector().size() == 40);
  CHECK_FALSE(db.get(key3(15)));
}

TEST_CASE("range deletions: compaction drops the covered keys, then the deletion",
          "[range_delete]") {
  lsmt_test::temp_dir dir(lsmt_test::store_base_dir(), "lsmt-test-rangedel-drop");
  str_db db(dir.path(), leveled_options());
  for (int i = 0; i < 600; ++i) db.put(key3(i), std::string(30, 'x'));
  db.compact();
  const uint64_t full = db.stats().table_bytes;
  db.delete_range(key3(0), key3(600));
  db.flush();
  CHECK(db.stats().table_range_deletions == 1);
  CHECK(db.scan().to_vector().empty());
  db.compact();  // a full merge: nothing older can remain anywhere
  const lsmt::stats st = db.stats();
  CHECK(st.tables == 0);
  CHECK(st.table_range_deletions == 0);
  CHECK(st.table_bytes < full);

  // A deletion over keys nothing older holds is dropped by the first merge that meets it, even
  // above the bottom.
  for (int i = 0; i < 300; ++i) db.put(key3(i), std::string(30, 'y'));
  db.compact();
  db.delete_range("m", "n");  // no key there
  db.flush();
  CHECK(db.stats().table_range_deletions == 1);
  db.compact_range(std::nullopt, std::nullopt);
  CHECK(db.stats().table_range_deletions == 0);
  CHECK(db.scan().to_vector().size() == 300);
}

TEST_CASE("range deletions: cut across tables and levels, held by a snapshot, read right",
          "[range_delete]") {
  lsmt_test::temp_dir dir(lsmt_test::store_base_dir(), "lsmt-test-rangedel-cut");
  model_t want;
  {
    str_db db(dir.path(), leveled_options());
    for (int i = 0; i < 800; ++i) db.put(key3(i), std::string(30, 'a'));
    db.compact();
    lsmt::snapshot hold = db.get_snapshot();  // keeps the deletion and what it covers
    db.delete_range(key3(100), key3(700));
    for (int i = 0; i < 800; i += 7) db.put(key3(i), "new");  // some come back
    db.compact_range(std::nullopt, std::nullopt);
    const lsmt::stats st = db.stats();
    CHECK(st.tables > 2);
    CHECK(st.table_range_deletions >= 2);  // cut at table boundaries
    for (int i = 0; i < 800; ++i) {
      if (i % 7 == 0) {
        want[key3(i)] = "new";
      } else if (i < 100 || i >= 700) {
        want[key3(i)] = std::string(30, 'a');
      }
    }
    CHECK(lsmt_test::dump(db) == want);
    lsmt::read_options ro;
    ro.snap = &hold;
    CHECK(db.scan(ro).to_vector().size() == 800);
    CHECK(db.verify().ok());
    hold.release();
    db.compact();
    CHECK(db.stats().table_range_deletions == 0);
    CHECK(lsmt_test::dump(db) == want);
  }
  str_db db(dir.path(), leveled_options());
  CHECK(lsmt_test::dump(db) == want);
}

TEST_CASE("range deletions: a transaction conflicts with one over a key it used",
          "[range_delete]") {
  lsmt_test::temp_dir dir(lsmt_test::store_base_dir(), "lsmt-test-rangedel-tx");
  str_db db(dir.path());
  db.put("b", "1");
  db.put("q", "2");
  {
    auto tx = db.begin_transaction();
    CHECK(tx.get("b") == std::optional<std::string>("1"));
    db.delete_range("a", "c");
    CHECK(tx.get("b") == std::optional<std::string>("1"));  // its snapshot
    tx.put("x", "y");
    REQUIRE_THROWS_AS(tx.commit(), lsmt::conflict_error);
  }
  {
    auto tx = db.begin_transaction();
    tx.put("absent", "v");  // written keys count too, even absent ones
    db.delete_range("a", "b");
    REQUIRE_THROWS_AS(tx.commit(), lsmt::conflict_error);
  }
  {
    auto tx = db.begin_transaction();
    CHECK(tx.get("q") == std::optional<std::string>("2"));
    db.delete_range("r", "z");  // elsewhere: no conflict
    tx.put("q", "3");
    tx.commit();
  }
  CHECK(db.get("q") == std::optional<std::string>("3"));
  CHECK_FALSE(db.get("x"));
}

// A random workload on a leveled store with tiny files against a model, with snapshots.
class range_model {
 public:
  explicit range_model(uint64_t seed)
      : rng_(seed), dir_(lsmt_test::store_base_dir(), "lsmt-test-rangedel-model") {
    open();
  }

  void step() {
    const uint64_t r = rng_.uniform(0, 99);
    if (r < 40) {
      const std::string k = key();
      const std::string v =
          "v" + std::to_string(++counter_) + std::string(rng_.uniform(0, 40), 'p');
      db_->put(k, v);
      model_[k] = v;
    } else if (r < 48) {
      const std::string k = key();
      db_->erase(k);
      model_.erase(k);
    } else if (r < 58) {
      std::string a = key();
      std::string b =
          rng_.chance(0.2) ? key() : key3(index_of(a) + static_cast<int>(rng_.uniform(1, 60)));
      if (rng_.chance(0.3)) a += rng_.chance(0.5) ? "\x01" : "5";  // a bound no key equals
      if (rng_.chance(0.9) && b < a) std::swap(a, b);
      if (rng_.chance(0.3)) {
        str_db::batch batch;
        const std::string k = key();
        batch.put(k, "batch");
        batch.delete_range(a, b);
        db_->write(batch);
        model_[k] = "batch";
      } else {
        db_->delete_range(a, b);
      }
      if (a < b) model_.erase(model_.lower_bound(a), model_.lower_bound(b));
      ++range_deletes;
    } else if (r < 72) {
      check_get(key());
    } else if (r < 77) {
      snapshot_op();
    } else if (r < 82) {
      check_iterator();
    } else if (r < 86) {
      db_->flush();
    } else if (r < 89) {
      std::string a = key();
      std::string b = key();
      if (b < a) std::swap(a, b);
      db_->compact_range(a, b);
    } else if (r < 90) {
      db_->compact();
    } else if (r < 91) {
      reopen();
    } else {
      check_get(key());
    }
    const lsmt::stats st = db_->stats();
    if (st.table_range_deletions > 0 && st.tables > 2) saw_cut_tables = true;
    ++ops;
  }

  void finish() {
    check_all();
    reopen();
    check_all();
    REQUIRE(db_->verify().ok());
  }

  uint64_t seed() const { return rng_.seed(); }
  size_t ops = 0;
  size_t range_deletes = 0;
  bool saw_cut_tables = false;

 private:
  struct held {
    lsmt::snapshot snap;
    model_t model;
  };

  void open() {
    lsmt::options o = leveled_options();
    o.memtable_max_entries = rng_.uniform(8, 40);
    o.use_mmap_reads = rng_.chance(0.5);
    db_ = std::make_unique<str_db>(dir_.path(), o);
  }
  void reopen() {
    snaps_.clear();
    db_->close();
    open();
    check_all();
  }
  static int index_of(const std::string& k) { return std::stoi(k.substr(1, 3)); }
  std::string key() { return key3(static_cast<int>(rng_.uniform(0, 299))); }

  void check_get(const std::string& k) {
    auto it = model_.find(k);
    const std::optional<std::string> want =
        it == model_.end() ? std::nullopt : std::optional<std::string>(it->second);
    REQUIRE(db_->get(k) == want);
    if (!snaps_.empty()) {
      const held& h = snaps_[rng_.uniform(0, snaps_.size() - 1)];
      auto s = h.model.find(k);
      lsmt::read_options ro;
      ro.snap = &h.snap;
      REQUIRE(db_->get(k, ro) ==
              (s == h.model.end() ? std::nullopt : std::optional<std::string>(s->second)));
    }
  }
  void snapshot_op() {
    if (snaps_.size() < 3 && rng_.chance(0.6)) {
      snaps_.push_back({db_->get_snapshot(), model_});
    } else if (!snaps_.empty()) {
      snaps_.erase(snaps_.begin() +
                   static_cast<std::ptrdiff_t>(rng_.uniform(0, snaps_.size() - 1)));
    }
  }
  // Forward and backward walks, and seeks, at the latest state or a snapshot.
  void check_iterator() {
    const held* h = snaps_.empty() || rng_.chance(0.5) ? nullptr : &snaps_.front();
    const model_t& m = h != nullptr ? h->model : model_;
    lsmt::read_options ro;
    ro.snap = h != nullptr ? &h->snap : nullptr;
    auto it = db_->new_iterator(ro);
    model_t fwd;
    for (it.seek_to_first(); it.valid(); it.next()) fwd.emplace(it.key(), it.value());
    REQUIRE(fwd == m);
    std::vector<std::string> back;
    for (it.seek_to_last(); it.valid(); it.prev()) back.emplace_back(it.key());
    REQUIRE(back.size() == m.size());
    REQUIRE(std::equal(back.rbegin(), back.rend(), m.begin(), m.end(),
                       [](const std::string& a, const auto& kv) { return a == kv.first; }));
    for (int i = 0; i < 4; ++i) {
      const std::string k = key();
      it.seek(k);
      auto want = m.lower_bound(k);
      if (want == m.end()) {
        REQUIRE_FALSE(it.valid());
        continue;
      }
      REQUIRE(it.valid());
      REQUIRE(it.key() == want->first);
      it.prev();  // a turn
      if (want == m.begin()) {
        REQUIRE_FALSE(it.valid());
      } else {
        REQUIRE(it.valid());
        REQUIRE(it.key() == std::prev(want)->first);
      }
    }
  }
  void check_all() {
    REQUIRE(lsmt_test::dump(*db_) == model_);
    for (int i = 0; i < 300; i += 13) check_get(key3(i));
  }

  lsmt_test::seeded_rng rng_;
  lsmt_test::temp_dir dir_;
  std::unique_ptr<str_db> db_;
  model_t model_;
  std::vector<held> snaps_;
  uint64_t counter_ = 0;
};

TEST_CASE("range deletions: a random leveled workload matches a model", "[range_delete]") {
  const double budget = lsmt_test::env_seconds("LSMT_RANGE_DELETE_SECONDS", 6);
  const uint64_t seed = lsmt_test::test_seed();
  CAPTURE(seed);
  INFO("rerun with LSMT_TEST_SEED=" << seed);
  range_model m(seed);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(budget * 1000));
  while (std::chrono::steady_clock::now() < deadline) m.step();
  m.finish();
  WARN("range deletes: " << m.ops << " operations, " << m.range_deletes << " range deletes");
  // Floors: a run that checked too little fails.
  REQUIRE(m.ops >= 500);
  REQUIRE(m.range_deletes >= 25);
  REQUIRE(m.saw_cut_tables);
}

}  // namespace

}  // namespace range_delete_test_cpp
